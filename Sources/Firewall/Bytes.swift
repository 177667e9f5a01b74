/// Reading the kernel's structs and nftables' register data from bytes. xtables option structs are in the
/// host's byte order (x86_64: little endian) except the fields the kernel keeps in network order (addresses,
/// ebtables' ports and EtherTypes); nftables compares packet bytes as they are on the wire.
extension Array where Element == UInt8 {
    func hostU16(_ offset: Int) -> Int {
        offset + 2 <= count ? Int(self[offset]) | Int(self[offset + 1]) << 8 : 0
    }

    func hostU32(_ offset: Int) -> Int {
        guard offset + 4 <= count else { return 0 }
        return (0..<4).reduce(0) { $0 | Int(self[offset + $1]) << (8 * $1) }
    }

    func networkU16(_ offset: Int) -> Int {
        offset + 2 <= count ? Int(self[offset]) << 8 | Int(self[offset + 1]) : 0
    }

    func slice(_ offset: Int, _ length: Int) -> [UInt8] {
        guard offset < count else { return [] }
        return Array(self[offset..<Swift.min(count, offset + length)])
    }

    /// A NUL-terminated C string in a fixed-size field.
    func cString(_ offset: Int, _ length: Int) -> String {
        String(decoding: slice(offset, length).prefix { $0 != 0 }, as: UTF8.self)
    }

    var isAllZero: Bool { allSatisfy { $0 == 0 } }
}

enum Format {
    static func mac(_ bytes: [UInt8]) -> String {
        bytes.map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
    }

    /// ebtables prints MACs without leading zeros ("2:0:a:1:1:a").
    static func shortMAC(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16) }.joined(separator: ":")
    }

    static func ipv4(_ bytes: [UInt8]) -> String {
        (0..<4).map { String($0 < bytes.count ? bytes[$0] : 0) }.joined(separator: ".")
    }

    /// RFC 5952 text: the longest run of two or more zero groups becomes `::`.
    static func ipv6(_ bytes: [UInt8]) -> String {
        let padded = bytes + [UInt8](repeating: 0, count: Swift.max(0, 16 - bytes.count))
        let groups = (0..<8).map { Int(padded[$0 * 2]) << 8 | Int(padded[$0 * 2 + 1]) }
        var best: (start: Int, length: Int) = (0, 0)
        var index = 0
        while index < 8 {
            guard groups[index] == 0 else {
                index += 1
                continue
            }
            var end = index
            while end < 8, groups[end] == 0 { end += 1 }
            if end - index > best.length { best = (index, end - index) }
            index = end
        }
        let text = { (part: ArraySlice<Int>) in part.map { String($0, radix: 16) }.joined(separator: ":") }
        guard best.length >= 2 else { return text(groups[...]) }
        return text(groups[..<best.start]) + "::" + text(groups[(best.start + best.length)...])
    }

    static func address(_ bytes: [UInt8], ipv6: Bool) -> String { ipv6 ? Self.ipv6(bytes) : ipv4(bytes) }

    /// The length of the leading run of one bits.
    static func prefixLength(_ mask: [UInt8]) -> Int {
        var bits = 0
        for byte in mask {
            guard byte == 0xff else { return bits + byte.leadingNonzeroBitCount }
            bits += 8
        }
        return bits
    }
}

extension UInt8 {
    fileprivate var leadingNonzeroBitCount: Int { (~self).leadingZeroBitCount }
}
