/// An IPv4 address or network in CIDR notation ("10.1.1.23", "10.0.0.0/8"), as ipset members and firewall rules
/// write them: whether an address is inside. IPv6 is compared as text by the callers.
public struct AddressPrefix: Sendable, Equatable {
    let address: [UInt8]
    let prefix: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let first = parts.first, let bytes = Self.bytes(String(first)) else { return nil }
        address = bytes
        // A prefix out of range (a dump edited by hand) is the whole address, never an index past its bytes.
        let bits = bytes.count * 8
        let length = parts.count == 2 ? Int(parts[1]) ?? bits : bits
        prefix = (0...bits).contains(length) ? length : bits
    }

    public func contains(_ text: String) -> Bool {
        guard let other = Self.bytes(text), other.count == address.count else { return false }
        for bit in 0..<prefix where (address[bit / 8] ^ other[bit / 8]) & (0x80 >> UInt8(bit % 8)) != 0 {
            return false
        }
        return true
    }

    /// An IPv4 address as one number, for ranges ("10.1.1.1-10.1.1.9").
    public static func number(_ text: String) -> UInt32? {
        bytes(text).map { $0.reduce(0) { $0 << 8 | UInt32($1) } }
    }

    /// IPv4 dotted quads only.
    private static func bytes(_ text: String) -> [UInt8]? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
        return octets.count == 4 ? octets : nil
    }
}

extension AddressPrefix {
    /// fe80::/10, an address (or its fe80::/64 route) the kernel derives for every link from its MAC: it comes and
    /// goes with the link, and says nothing an operator set.
    public static func isIPv6LinkLocal(_ text: String) -> Bool {
        guard text.contains(":"), let first = text.split(separator: ":", omittingEmptySubsequences: false).first,
            let value = UInt16(first, radix: 16)
        else { return false }
        return value & 0xffc0 == 0xfe80
    }
}
