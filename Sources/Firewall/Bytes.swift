import Packets

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

/// Addresses kept in fewer bytes than their family has (nftables compares only a prefix's bytes), as text.
enum AddressText {
    static func address(_ bytes: [UInt8], ipv6: Bool) -> String {
        let padded = bytes + [UInt8](repeating: 0, count: max(0, (ipv6 ? 16 : 4) - bytes.count))
        return ipv6 ? Format.ipv6(padded.prefix(16)) : Format.ipv4(padded.prefix(4))
    }

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
