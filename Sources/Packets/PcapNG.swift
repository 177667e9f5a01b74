import Foundation

/// pcapng (draft-ietf-opsawg-pcapng): what `kvmtopo trace -w` writes, one interface block per capture point
/// with its topology meaning as the comment, and what `--read` reads back. Wireshark and tshark read it.
public enum PcapNG {
    public struct Interface: Sendable, Equatable {
        public var linkType: Int
        public var snapLength: Int
        public var name: String?
        public var comment: String?
        /// Nanoseconds per timestamp unit.
        public var nanosecondsPerTick: Double

        public init(linkType: Int, snapLength: Int, name: String?, comment: String?, nanosecondsPerTick: Double = 1) {
            self.linkType = linkType
            self.snapLength = snapLength
            self.name = name
            self.comment = comment
            self.nanosecondsPerTick = nanosecondsPerTick
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
        public var description: String { "not a valid pcapng file at byte \(offset): \(reason)" }
    }

    // MARK: reading

    /// Reads every block; a block that lies about its length, or one that cannot be in a pcapng file, is an error
    /// naming its offset. Blocks of unknown types are skipped, as the format asks.
    public static func read(_ bytes: [UInt8]) throws(FormatError) -> Capture {
        var interfaces: [Interface] = []
        var records: [Record] = []
        var offset = 0
        var bigEndian = false
        // Interface ids restart in each section; records keep one list across sections.
        var sectionBase = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 12 else {
                throw FormatError(offset: offset, reason: "truncated block header")
            }
            let rawType = UInt32(littleEndianAt: offset, in: bytes)
            if rawType == 0x0A0D_0D0A {
                guard bytes.count - offset >= 28 else {
                    throw FormatError(offset: offset, reason: "truncated section header")
                }
                let magic = UInt32(littleEndianAt: offset + 8, in: bytes)
                guard magic == 0x1A2B_3C4D || magic == 0x4D3C_2B1A else {
                    throw FormatError(offset: offset, reason: "bad byte-order magic")
                }
                bigEndian = magic == 0x4D3C_2B1A
                sectionBase = interfaces.count
            } else if offset == 0 {
                throw FormatError(offset: 0, reason: "does not start with a section header block")
            }
            let read32 = { (position: Int) -> UInt32 in
                let value = UInt32(littleEndianAt: position, in: bytes)
                return bigEndian ? value.byteSwapped : value
            }
            let read16 = { (position: Int) -> UInt16 in
                let value = UInt16(bytes[position]) | UInt16(bytes[position + 1]) << 8
                return bigEndian ? value.byteSwapped : value
            }
            let type = read32(offset)
            let length = Int(read32(offset + 4))
            guard length >= 12, length % 4 == 0, length <= bytes.count - offset else {
                throw FormatError(offset: offset, reason: "block length \(length) does not fit")
            }
            guard read32(offset + length - 4) == UInt32(length) else {
                throw FormatError(offset: offset, reason: "trailing block length differs")
            }
            let body = offset + 8..<offset + length - 4
            switch type {
            case 1:
                guard body.count >= 8 else { throw FormatError(offset: offset, reason: "short interface block") }
                var interface = Interface(
                    linkType: Int(read16(body.lowerBound)), snapLength: Int(read32(body.lowerBound + 4)),
                    name: nil, comment: nil, nanosecondsPerTick: 1000)
                for (code, value) in options(bytes, body.lowerBound + 8..<body.upperBound, read16) {
                    switch code {
                    case 1: interface.comment = String(decoding: value, as: UTF8.self)
                    case 2: interface.name = String(decoding: value, as: UTF8.self)
                    case 9 where value.count == 1:
                        let resolution = value[value.startIndex]
                        let exponent = Double(resolution & 0x7f)
                        interface.nanosecondsPerTick =
                            resolution & 0x80 == 0
                            ? 1e9 / pow(10, exponent) : 1e9 / pow(2, exponent)
                    default: break
                    }
                }
                interfaces.append(interface)
            case 6:
                guard body.count >= 20 else { throw FormatError(offset: offset, reason: "short packet block") }
                let id = sectionBase + Int(read32(body.lowerBound))
                guard id < interfaces.count else {
                    throw FormatError(offset: offset, reason: "packet for undeclared interface \(id)")
                }
                let ticks = UInt64(read32(body.lowerBound + 4)) << 32 | UInt64(read32(body.lowerBound + 8))
                let captured = Int(read32(body.lowerBound + 12))
                let original = Int(read32(body.lowerBound + 16))
                guard captured <= body.count - 20 else {
                    throw FormatError(offset: offset, reason: "captured length \(captured) does not fit")
                }
                let data = body.lowerBound + 20
                let scaled = Double(ticks) * interfaces[id].nanosecondsPerTick
                // A damaged timestamp resolution can put the time past any clock: an error, not a trap.
                guard interfaces[id].nanosecondsPerTick == 1 || (scaled.isFinite && scaled >= 0 && scaled < 1.8e19)
                else {
                    throw FormatError(offset: offset, reason: "timestamp out of range")
                }
                let nanoseconds = interfaces[id].nanosecondsPerTick == 1 ? ticks : UInt64(scaled)
                records.append(
                    Record(
                        interface: id, timestamp: nanoseconds, originalLength: original,
                        bytes: Array(bytes[data..<data + captured])))
            case 3:
                guard body.count >= 4, sectionBase < interfaces.count else {
                    throw FormatError(offset: offset, reason: "bad simple packet block")
                }
                let original = Int(read32(body.lowerBound))
                let snap = interfaces[sectionBase].snapLength
                let captured = min(original, body.count - 4, snap > 0 ? snap : Int.max)
                records.append(
                    Record(
                        interface: sectionBase, timestamp: 0, originalLength: original,
                        bytes: Array(bytes[body.lowerBound + 4..<body.lowerBound + 4 + captured])))
            default:
                break
            }
            offset += length
        }
        return Capture(interfaces: interfaces, records: records)
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
    fileprivate init(littleEndianAt position: Int, in bytes: [UInt8]) {
        self =
            UInt32(bytes[position]) | UInt32(bytes[position + 1]) << 8 | UInt32(bytes[position + 2]) << 16
            | UInt32(bytes[position + 3]) << 24
    }
}
