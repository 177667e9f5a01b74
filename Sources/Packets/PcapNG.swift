import Foundation

/// pcapng (draft-ietf-opsawg-pcapng): what `kvmtopo trace -w` writes, one interface block per capture point
/// with its topology meaning as the comment, and what `--read` reads back. Wireshark and tshark read it.
public enum PcapNG {
    public struct Interface: Sendable, Equatable {
        public var linkType: Int
        public var snapLength: Int
        public var name: String?
        public var comment: String?
        /// The timestamp unit (if_tsresol): 10^-n or 2^-n seconds; pcapng's default is microseconds.
        public var resolution: Resolution

        public init(
            linkType: Int, snapLength: Int, name: String?, comment: String?, resolution: Resolution = .decimal(9)
        ) {
            self.linkType = linkType
            self.snapLength = snapLength
            self.name = name
            self.comment = comment
            self.resolution = resolution
        }
    }

    public enum Resolution: Sendable, Equatable {
        case decimal(UInt8)
        case binary(UInt8)

        /// Ticks in nanoseconds, in integers (a Double would put microsecond stamps off by tens of nanoseconds);
        /// nil past the top of the range.
        public func nanoseconds(_ ticks: UInt64) -> UInt64? {
            switch self {
            case .decimal(let exponent) where exponent <= 9:
                let (value, overflow) = ticks.multipliedReportingOverflow(by: Self.powerOfTen(9 - Int(exponent)))
                return overflow ? nil : value
            case .decimal(let exponent):
                return exponent - 9 >= 20 ? 0 : ticks / Self.powerOfTen(Int(exponent) - 9)
            case .binary(let exponent):
                let (high, low) = ticks.multipliedFullWidth(by: 1_000_000_000)
                guard exponent < 64 else { return exponent >= 128 ? 0 : high >> (UInt64(exponent) - 64) }
                guard exponent > 0 else { return high == 0 ? low : nil }
                let shifted = high >> UInt64(exponent)
                guard shifted == 0 else { return nil }
                return high << (64 - UInt64(exponent)) | low >> UInt64(exponent)
            }
        }

        private static func powerOfTen(_ exponent: Int) -> UInt64 {
            (0..<exponent).reduce(1) { value, _ in value * 10 }
        }
    }

    public struct Record: Sendable, Equatable {
        public var interface: Int
        /// Nanoseconds since the epoch.
        public var timestamp: UInt64
        public var originalLength: Int
        public var bytes: [UInt8]

        public init(interface: Int, timestamp: UInt64, originalLength: Int, bytes: [UInt8]) {
            self.interface = interface
            self.timestamp = timestamp
            self.originalLength = originalLength
            self.bytes = bytes
        }
    }

    public struct Capture: Sendable, Equatable {
        public var interfaces: [Interface]
        public var records: [Record]
    }

    public struct FormatError: Error, CustomStringConvertible, Sendable {
        public var offset: Int
        public var reason: String
        public var description: String { "not a pcap or pcapng capture kvmtopo reads (at byte \(offset): \(reason))" }
    }

    // MARK: reading

    /// Reads a whole pcapng file in memory, strictly: damage anywhere is an error naming its offset. Blocks of
    /// unknown types are skipped, as the format asks. (`trace --read` streams with CaptureReader instead.)
    public static func read(_ bytes: [UInt8]) throws(FormatError) -> Capture {
        var reader = try CaptureReader(InMemoryBytes(bytes))
        guard reader.format == .pcapng else {
            throw FormatError(offset: 0, reason: "does not start with a section header block")
        }
        var records: [Record] = []
        while let record = reader.next() { records.append(record) }
        if let damage = reader.damage { throw damage }
        return Capture(interfaces: reader.interfaces, records: records)
    }

    /// What one block was.
    enum Block {
        case record(Record)
        /// An obsolete packet block (type 2), which kvmtopo does not place.
        case obsolete
        case other
    }

    /// Parses pcapng blocks one at a time, keeping what the blocks before declared: the byte order of the
    /// section, its interfaces.
    struct BlockParser {
        private(set) var interfaces: [Interface] = []
        private var bigEndian = false
        private var started = false
        /// Interface ids restart in each section; records keep one list across sections.
        private var sectionBase = 0

        mutating func beginSection(magic: UInt32, at offset: Int) throws(FormatError) {
            guard magic == 0x1A2B_3C4D || magic == 0x4D3C_2B1A else {
                throw FormatError(offset: offset, reason: "bad byte-order magic")
            }
            bigEndian = magic == 0x4D3C_2B1A
            sectionBase = interfaces.count
            started = true
        }

        func read32(_ bytes: [UInt8], _ position: Int) -> UInt32 {
            let value = UInt32(littleEndianAt: position, in: bytes)
            return bigEndian ? value.byteSwapped : value
        }

        func read16(_ bytes: [UInt8], _ position: Int) -> UInt16 {
            let value = UInt16(bytes[position]) | UInt16(bytes[position + 1]) << 8
            return bigEndian ? value.byteSwapped : value
        }

        /// One whole block (its length already checked against what is there), at file offset `offset`.
        mutating func parse(_ bytes: [UInt8], block: Range<Int>, at offset: Int) throws(FormatError) -> Block {
            guard started else { throw FormatError(offset: 0, reason: "does not start with a section header block") }
            let type = read32(bytes, block.lowerBound)
            let length = block.count
            guard read32(bytes, block.upperBound - 4) == UInt32(length) else {
                throw FormatError(offset: offset, reason: "trailing block length differs")
            }
            let body = block.lowerBound + 8..<block.upperBound - 4
            switch type {
            case 0x0A0D_0D0A:
                guard body.count >= 16 else { throw FormatError(offset: offset, reason: "truncated section header") }
                let major = read16(bytes, body.lowerBound + 4)
                guard major == 1 else {
                    throw FormatError(offset: offset, reason: "section version \(major) is not 1")
                }
                return .other
            case 1:
                guard body.count >= 8 else { throw FormatError(offset: offset, reason: "short interface block") }
                var interface = Interface(
                    linkType: Int(read16(bytes, body.lowerBound)), snapLength: Int(read32(bytes, body.lowerBound + 4)),
                    name: nil, comment: nil, resolution: .decimal(6))
                for (code, value) in PcapNG.options(bytes, body.lowerBound + 8..<body.upperBound, { read16(bytes, $0) })
                {
                    switch code {
                    case 1: interface.comment = String(decoding: value, as: UTF8.self)
                    case 2: interface.name = String(decoding: value, as: UTF8.self)
                    case 9 where value.count == 1:
                        let resolution = value[value.startIndex]
                        interface.resolution =
                            resolution & 0x80 == 0 ? .decimal(resolution) : .binary(resolution & 0x7f)
                    default: break
                    }
                }
                interfaces.append(interface)
                return .other
            case 6:
                guard body.count >= 20 else { throw FormatError(offset: offset, reason: "short packet block") }
                let id = sectionBase + Int(read32(bytes, body.lowerBound))
                guard id < interfaces.count else {
                    throw FormatError(offset: offset, reason: "packet for undeclared interface \(id)")
                }
                let ticks =
                    UInt64(read32(bytes, body.lowerBound + 4)) << 32 | UInt64(read32(bytes, body.lowerBound + 8))
                let captured = Int(read32(bytes, body.lowerBound + 12))
                let original = Int(read32(bytes, body.lowerBound + 16))
                guard captured <= body.count - 20 else {
                    throw FormatError(offset: offset, reason: "captured length \(captured) does not fit")
                }
                // A damaged timestamp resolution can put the time past any clock: an error, not a trap.
                guard let nanoseconds = interfaces[id].resolution.nanoseconds(ticks) else {
                    throw FormatError(offset: offset, reason: "timestamp out of range")
                }
                let data = body.lowerBound + 20
                return .record(
                    Record(
                        interface: id, timestamp: nanoseconds, originalLength: max(original, captured),
                        bytes: Array(bytes[data..<data + captured])))
            case 3:
                guard body.count >= 4, sectionBase < interfaces.count else {
                    throw FormatError(offset: offset, reason: "bad simple packet block")
                }
                let original = Int(read32(bytes, body.lowerBound))
                let snap = interfaces[sectionBase].snapLength
                let captured = min(original, body.count - 4, snap > 0 ? snap : Int.max)
                return .record(
                    Record(
                        interface: sectionBase, timestamp: 0, originalLength: original,
                        bytes: Array(bytes[body.lowerBound + 4..<body.lowerBound + 4 + captured])))
            case 2:
                return .obsolete
            default:
                return .other
            }
        }
    }

    private static func options(
        _ bytes: [UInt8], _ range: Range<Int>, _ read16: (Int) -> UInt16
    ) -> [(UInt16, ArraySlice<UInt8>)] {
        var result: [(UInt16, ArraySlice<UInt8>)] = []
        var position = range.lowerBound
        while range.upperBound - position >= 4 {
            let code = read16(position)
            let length = Int(read16(position + 2))
            if code == 0 { break }
            guard length <= range.upperBound - position - 4 else { break }
            result.append((code, bytes[position + 4..<position + 4 + length]))
            position += 4 + (length + 3) / 4 * 4
        }
        return result
    }

    // MARK: writing

    /// Writes blocks as they come, each whole, so a capture stopped at any moment is a complete file.
    public final class Writer {
        private let handle: FileHandle
        private var interfaceCount = 0

        /// Creates the file with mode 0600: captures can hold other tenants' traffic.
        public init(path: String) throws {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
            else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
            }
            handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try write(
                block: 0x0A0D_0D0A,
                body: le32(0x1A2B_3C4D) + le16(1) + le16(0) + [UInt8](repeating: 0xff, count: 8)
                    + option(4, Array("kvmtopo \(ProcessInfo.processInfo.operatingSystemVersionString)".utf8)) + le32(0)
            )
        }

        deinit { try? handle.close() }

        /// Declares a capture point; records refer to it by the returned id. Timestamps are in nanoseconds.
        @discardableResult
        public func addInterface(linkType: Int, snapLength: Int, name: String, comment: String?) throws -> Int {
            var body = le16(UInt16(linkType)) + le16(0) + le32(UInt32(snapLength))
            body += option(2, Array(name.utf8))
            if let comment { body += option(1, Array(comment.utf8)) }
            body += option(9, [9]) + le32(0)
            try write(block: 1, body: body)
            interfaceCount += 1
            return interfaceCount - 1
        }

        public func write(_ record: Record) throws {
            precondition(record.interface < interfaceCount, "record for an undeclared interface")
            let data = record.bytes + [UInt8](repeating: 0, count: (4 - record.bytes.count % 4) % 4)
            try write(
                block: 6,
                body: le32(UInt32(record.interface)) + le32(UInt32(record.timestamp >> 32))
                    + le32(UInt32(truncatingIfNeeded: record.timestamp)) + le32(UInt32(record.bytes.count))
                    + le32(UInt32(record.originalLength)) + data)
        }

        public func close() throws { try handle.close() }

        private func write(block type: UInt32, body: [UInt8]) throws {
            let length = UInt32(12 + body.count)
            try handle.write(contentsOf: le32(type) + le32(length) + body + le32(length))
        }

        private func option(_ code: UInt16, _ value: [UInt8]) -> [UInt8] {
            le16(code) + le16(UInt16(value.count)) + value + [UInt8](repeating: 0, count: (4 - value.count % 4) % 4)
        }

        private func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xff), UInt8(value >> 8)] }
        private func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) } }
    }
}

extension UInt32 {
    init(littleEndianAt position: Int, in bytes: [UInt8]) {
        self =
            UInt32(bytes[position]) | UInt32(bytes[position + 1]) << 8 | UInt32(bytes[position + 2]) << 16
            | UInt32(bytes[position + 3]) << 24
    }
}
