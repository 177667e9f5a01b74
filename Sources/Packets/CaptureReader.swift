/// Where a saved capture's bytes come from: a file, a FIFO or a pipe read in chunks, or bytes already in memory.
public protocol ByteSource {
    /// Up to `count` more bytes; empty at the end.
    mutating func read(upTo count: Int) -> [UInt8]
}

public struct InMemoryBytes: ByteSource {
    private let bytes: [UInt8]
    private var position = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public mutating func read(upTo count: Int) -> [UInt8] {
        let end = min(bytes.count, position + count)
        defer { position = end }
        return Array(bytes[position..<end])
    }
}

/// A saved capture as a stream of records, classic pcap (either byte order, microsecond or nanosecond stamps) or
/// pcapng, told apart by their first four bytes. Memory is bounded by the largest block, whatever the file's size.
/// Damage after a valid start ends the stream there, keeping what came before: `damage` says where and why, as
/// tshark reads a file cut short up to its last whole packet.
public struct CaptureReader<Source: ByteSource> {
    public enum Format: String, Sendable { case pcap, pcapng }

    public private(set) var format: Format = .pcapng
    /// Classic pcap has one interface, with no name; pcapng declares them as it goes.
    public private(set) var interfaces: [PcapNG.Interface] = []
    /// Where and why reading stopped before the end of the file.
    public private(set) var damage: PcapNG.FormatError?
    /// Blocks pcapng defines that carry no packet kvmtopo can place (obsolete packet blocks), skipped.
    public private(set) var skippedBlocks = 0

    /// What the bytes come from (a file source says whether a read failed).
    public private(set) var source: Source
    private var buffer: [UInt8] = []
    /// The unread part of `buffer` starts here; `consumed` is the file offset of that position.
    private var position = 0
    private var consumed = 0
    private var atEnd = false
    private var classicSwapped = false
    private var classicNanoseconds = false
    private var pcapng = PcapNG.BlockParser()
    /// The first packet, read in `init` so that pcapng's interfaces (their snap lengths) are known before any is
    /// asked for, and how much a file cut after capture kept.
    private var ahead: PcapNG.Record?
    private var aheadWaiting = false

    /// Fails only when the start is not a capture at all (empty, or neither format's magic).
    public init(_ source: Source) throws(PcapNG.FormatError) {
        self.source = source
        guard fill(4) else {
            throw PcapNG.FormatError(offset: 0, reason: buffer.isEmpty ? "the file is empty" : "too short")
        }
        let magic = UInt32(littleEndianAt: 0, in: buffer)
        switch magic {
        case 0xA1B2_C3D4, 0xD4C3_B2A1, 0xA1B2_3C4D, 0x4D3C_B2A1:
            format = .pcap
            classicSwapped = magic == 0xD4C3_B2A1 || magic == 0x4D3C_B2A1
            classicNanoseconds = magic == 0xA1B2_3C4D || magic == 0x4D3C_B2A1
            try readClassicHeader()
        case 0x0A0D_0D0A:
            format = .pcapng
        default:
            throw PcapNG.FormatError(
                offset: 0, reason: "neither pcap nor pcapng (it starts with 0x\(String(magic, radix: 16)))")
        }
        ahead = next()
        aheadWaiting = true
    }

    /// The first packet's captured length when it was cut short: a file cut after capture (`editcap -s`) keeps
    /// the snap length it declared, and this says how much its frames kept.
    public var firstPacketCut: Int? {
        ahead.flatMap { $0.bytes.count < $0.originalLength ? $0.bytes.count : nil }
    }

    /// The next packet, or nil at the end of the file or at the first damage.
    public mutating func next() -> PcapNG.Record? {
        if aheadWaiting {
            aheadWaiting = false
            return ahead
        }
        guard damage == nil else { return nil }
        do throws(PcapNG.FormatError) {
            return format == .pcap ? try nextClassic() : try nextBlockRecord()
        } catch {
            damage = error
            return nil
        }
    }

    // MARK: classic pcap

    private mutating func readClassicHeader() throws(PcapNG.FormatError) {
        guard fill(24) else { throw PcapNG.FormatError(offset: 0, reason: "truncated pcap file header") }
        let major = read16(position + 4)
        guard major == 2 else { throw PcapNG.FormatError(offset: 4, reason: "pcap version \(major) is not 2") }
        let snapLength = Int(read32(position + 16))
        // The upper bits of the link type word say whether frames carry an FCS; the type is the low 16.
        let linkType = Int(read32(position + 20) & 0xFFFF)
        interfaces = [
            PcapNG.Interface(
                linkType: linkType, snapLength: snapLength, name: nil, comment: nil,
                resolution: classicNanoseconds ? .decimal(9) : .decimal(6))
        ]
        advance(24)
    }

    private mutating func nextClassic() throws(PcapNG.FormatError) -> PcapNG.Record? {
        guard fill(16) else { return try endOfFile("truncated packet header") }
        let seconds = UInt64(read32(position))
        let fraction = UInt64(read32(position + 4))
        let captured = Int(read32(position + 8))
        let original = Int(read32(position + 12))
        guard captured <= 0x1000_0000 else {
            throw PcapNG.FormatError(offset: consumed, reason: "captured length \(captured) does not fit")
        }
        guard fill(16 + captured) else { return try endOfFile("truncated packet (\(captured) bytes announced)") }
        let timestamp = seconds * 1_000_000_000 + fraction * (classicNanoseconds ? 1 : 1000)
        let record = PcapNG.Record(
            interface: 0, timestamp: timestamp, originalLength: max(original, captured),
            bytes: Array(buffer[position + 16..<position + 16 + captured]))
        advance(16 + captured)
        return record
    }

    // MARK: pcapng

    private mutating func nextBlockRecord() throws(PcapNG.FormatError) -> PcapNG.Record? {
        while true {
            guard fill(8) else { return try endOfFile("truncated block header") }
            let start = consumed
            // A section header sets the byte order its own length is read in.
            if UInt32(littleEndianAt: position, in: buffer) == 0x0A0D_0D0A {
                guard fill(12) else { return try endOfFile("truncated section header") }
                try pcapng.beginSection(magic: UInt32(littleEndianAt: position + 8, in: buffer), at: start)
            }
            let length = Int(pcapng.read32(buffer, position + 4))
            guard length >= 12, length % 4 == 0, length <= 0x1000_0000 else {
                throw PcapNG.FormatError(offset: start, reason: "block length \(length) does not fit")
            }
            guard fill(length) else { return try endOfFile("truncated block (\(length) bytes announced)") }
            let outcome = try pcapng.parse(buffer, block: position..<position + length, at: start)
            advance(length)
            interfaces = pcapng.interfaces
            switch outcome {
            case .record(let record): return record
            case .obsolete: skippedBlocks += 1
            case .other: continue
            }
        }
    }

    // MARK: the buffer

    /// Makes `count` unread bytes available; false at the end of the file.
    private mutating func fill(_ count: Int) -> Bool {
        while buffer.count - position < count {
            if atEnd { return false }
            if position > 1 << 20 {
                buffer.removeFirst(position)
                position = 0
            }
            let more = source.read(upTo: max(1 << 16, count - (buffer.count - position)))
            if more.isEmpty { atEnd = true } else { buffer += more }
        }
        return true
    }

    private mutating func advance(_ count: Int) {
        position += count
        consumed += count
    }

    /// The end of the file: clean between packets, damage inside one.
    private mutating func endOfFile(_ reason: String) throws(PcapNG.FormatError) -> PcapNG.Record? {
        guard buffer.count == position else { throw PcapNG.FormatError(offset: consumed, reason: reason) }
        return nil
    }

    private func read32(_ at: Int) -> UInt32 {
        let value = UInt32(littleEndianAt: at, in: buffer)
        return classicSwapped ? value.byteSwapped : value
    }

    private func read16(_ at: Int) -> UInt16 {
        let value = UInt16(buffer[at]) | UInt16(buffer[at + 1]) << 8
        return classicSwapped ? value.byteSwapped : value
    }
}
