import CNftnl
import Foundation
import Topology

extension NftablesSession {
    /// Every ipset with its members: one IPSET_CMD_LIST dump over nfnetlink (a large set comes in several
    /// messages, each with part of its members).
    public func ipsets() throws(NftablesError) -> [IPSet] {
        let parts = try dump("ipset dump", Self.ipsetPart) { sequence in
            // nlmsghdr, nfgenmsg, then IPSET_ATTR_PROTOCOL (u8) padded to four bytes.
            var message = [UInt8](repeating: 0, count: 16 + 4 + 8)
            message.put32(UInt32(message.count), at: 0)
            message.put16(UInt16(NFNL_SUBSYS_IPSET << 8 | Int32(IPSET_CMD_LIST.rawValue)), at: 4)
            message.put16(UInt16(NLM_F_REQUEST | NLM_F_DUMP), at: 6)
            message.put32(sequence, at: 8)
            message[16] = UInt8(NFPROTO_UNSPEC)
            message[17] = UInt8(NFNETLINK_V0)
            message.put16(5, at: 20)
            message.put16(UInt16(IPSET_ATTR_PROTOCOL), at: 22)
            message[24] = UInt8(IPSET_PROTOCOL)
            return message
        }
        var sets: [IPSet] = []
        var position: [String: Int] = [:]
        for part in parts {
            if let index = position[part.name] {
                sets[index].members += part.members
            } else {
                position[part.name] = sets.count
                sets.append(part)
            }
        }
        return sets
    }

    /// One message of the list: a set's header and some of its members.
    private static func ipsetPart(_ header: UnsafePointer<nlmsghdr>) -> IPSet? {
        let length = Int(header.pointee.nlmsg_len)
        let bytes = [UInt8](UnsafeRawBufferPointer(start: UnsafeRawPointer(header), count: length))
        let top = Attributes(bytes, from: 16 + 4, to: length)
        guard let name = top.string(Int(IPSET_ATTR_SETNAME)) else { return nil }
        let family = top.first(Int(IPSET_ATTR_FAMILY)).map {
            $0.first == UInt8(NFPROTO_IPV6) ? IPSetFamily.inet6 : .inet
        }
        var set = IPSet(
            name: name, type: top.string(Int(IPSET_ATTR_TYPENAME)) ?? "?", family: family ?? .inet, members: [])
        if let data = top.nested(Int(IPSET_ATTR_DATA)), let references = data.first(Int(IPSET_ATTR_REFERENCES)) {
            set.references = references.networkU32
        }
        for element in top.nested(Int(IPSET_ATTR_ADT))?.all(Int(IPSET_ATTR_DATA)) ?? [] {
            set.members.append(member(Attributes(element)))
        }
        return set
    }

    /// A member as `ipset list` prints it: address[/cidr][,proto:port][,address2[/cidr2]][,iface], or a MAC.
    private static func member(_ data: Attributes) -> String {
        let address = { (attribute: Int32, cidrAttribute: Int32) -> String? in
            guard let ip = data.nested(Int(attribute)) else { return nil }
            let text: String
            if let v4 = ip.first(Int(IPSET_ATTR_IPADDR_IPV4)) {
                text = v4.map(String.init).joined(separator: ".")
            } else if let v6 = ip.first(Int(IPSET_ATTR_IPADDR_IPV6)) {
                var address = in6_addr()
                withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: v6.prefix(16)) }
                var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
                inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count))
                text = String(cString: buffer)
            } else {
                return nil
            }
            let full = text.contains(":") ? 128 : 32
            let cidr = data.first(Int(cidrAttribute)).flatMap(\.first).map(Int.init)
            return text + (cidr.map { $0 == full ? "" : "/\($0)" } ?? "")
        }
        var parts: [String] = []
        if let first = address(Int32(IPSET_ATTR_IP), Int32(IPSET_ATTR_CIDR)) { parts.append(first) }
        if let mac = data.first(Int(IPSET_ATTR_ETHER)) {
            parts.append(mac.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":"))
        }
        if let port = data.first(Int(IPSET_ATTR_PORT)) {
            let proto = data.first(Int(IPSET_ATTR_PROTO)).flatMap(\.first).map(Int.init)
            let name = [6: "tcp", 17: "udp", 132: "sctp", 1: "icmp", 58: "icmpv6"][proto ?? 6] ?? "\(proto ?? 0)"
            parts.append("\(name):\(port.networkU16)")
        }
        if let second = address(Int32(IPSET_ATTR_IP2), Int32(IPSET_ATTR_CIDR2)) { parts.append(second) }
        if let interface = data.string(Int(IPSET_ATTR_IFACE)) { parts.append(interface) }
        return parts.joined(separator: ",")
    }
}

/// Netlink attributes (length u16, type u16 with the nested and byte-order flags, payload padded to four).
private struct Attributes {
    private var entries: [(type: Int, payload: [UInt8])] = []

    init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        let end = min(end ?? bytes.count, bytes.count)
        var offset = start
        while offset + 4 <= end {
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8
            guard length >= 4, offset + length <= end else { break }
            let type = (Int(bytes[offset + 2]) | Int(bytes[offset + 3]) << 8) & 0x3fff
            entries.append((type, Array(bytes[(offset + 4)..<(offset + length)])))
            offset += (length + 3) & ~3
        }
    }

    func first(_ type: Int) -> [UInt8]? { entries.first { $0.type == type }?.payload }
    func all(_ type: Int) -> [[UInt8]] { entries.filter { $0.type == type }.map(\.payload) }
    func nested(_ type: Int) -> Attributes? { first(type).map { Attributes($0) } }

    func string(_ type: Int) -> String? {
        first(type).map { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

extension [UInt8] {
    fileprivate mutating func put16(_ value: UInt16, at offset: Int) {
        self[offset] = UInt8(value & 0xff)
        self[offset + 1] = UInt8(value >> 8)
    }

    fileprivate mutating func put32(_ value: UInt32, at offset: Int) {
        for byte in 0..<4 { self[offset + byte] = UInt8((value >> (8 * UInt32(byte))) & 0xff) }
    }

    fileprivate var networkU16: Int { count >= 2 ? Int(self[0]) << 8 | Int(self[1]) : 0 }
    fileprivate var networkU32: Int { count >= 4 ? (0..<4).reduce(0) { $0 << 8 | Int(self[$1]) } : 0 }
}
