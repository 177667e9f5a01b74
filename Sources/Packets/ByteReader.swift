/// Reads big-endian fields from a captured frame. Every read is bounds-checked and returns nil past the end,
/// so a truncated or hostile frame decodes as far as it is whole and never traps.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset: Int

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { max(0, bytes.count - offset) }

    func peek(_ count: Int, at position: Int? = nil) -> ArraySlice<UInt8>? {
        let start = position ?? offset
        guard start >= 0, count >= 0, start <= bytes.count - count else { return nil }
        return bytes[start..<start + count]
    }

    mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, count <= remaining else { return false }
        offset += count
        return true
    }

    mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard let slice = peek(count) else { return nil }
        offset += count
        return slice
    }

    mutating func u8() -> UInt8? { take(1).map { $0[$0.startIndex] } }

    mutating func u16() -> UInt16? {
        take(2).map { UInt16($0[$0.startIndex]) << 8 | UInt16($0[$0.startIndex + 1]) }
    }

    mutating func u32() -> UInt32? {
        take(4).map { $0.reduce(0) { $0 << 8 | UInt32($1) } }
    }
}

/// Addresses as text, for every module that shows them.
public enum Format {
    public static func mac<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        bytes.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined(separator: ":")
    }

    public static func ipv4<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        bytes.map(String.init).joined(separator: ".")
    }

    /// RFC 5952 text: lower case, leading zeros dropped, the longest run of zero groups (two or more) as ::.
    public static func ipv6<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let raw = Array(bytes)
        guard raw.count == 16 else { return "?" }
        let groups = (0..<8).map { UInt16(raw[$0 * 2]) << 8 | UInt16(raw[$0 * 2 + 1]) }
        var best = (start: -1, length: 0)
        var index = 0
        while index < 8 {
            guard groups[index] == 0 else {
                index += 1
                continue
            }
            var end = index
            while end < 8 && groups[end] == 0 { end += 1 }
            if end - index > best.length { best = (index, end - index) }
            index = end
        }
        let text = { (range: Range<Int>) in range.map { String(groups[$0], radix: 16) }.joined(separator: ":") }
        guard best.length >= 2 else { return text(0..<8) }
        return text(0..<best.start) + "::" + text(best.start + best.length..<8)
    }

    /// The 16 bytes of an IPv6 address in text form (with at most one ::), or nil.
    static func parseIPv6(_ text: String) -> [UInt8]? {
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        let groups = { (part: String) -> [UInt16]? in
            part.isEmpty
                ? []
                : part.split(separator: ":", omittingEmptySubsequences: false).map { UInt16($0, radix: 16) }
                    .reduce(into: [UInt16]?([])) { result, group in
                        guard let group else {
                            result = nil
                            return
                        }
                        result?.append(group)
                    }
        }
        guard let head = groups(halves[0]), let tail = halves.count == 2 ? groups(halves[1]) : [] else { return nil }
        let missing = 8 - head.count - tail.count
        guard halves.count == 2 ? missing >= 1 : missing == 0 else { return nil }
        let all = head + [UInt16](repeating: 0, count: missing) + tail
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }
}
