/// Frames laid out byte for byte as on the wire, for the decoder and trace tests.
public enum Frames {
    public static let vmMAC: [UInt8] = [0x02, 0x00, 0x4c, 0x5e, 0x00, 0x0a]
    public static let routerMAC: [UInt8] = [0x02, 0x00, 0x4c, 0x5f, 0x00, 0x01]

    public static func ethernet(_ type: UInt16, vlan: UInt16? = nil, _ payload: [UInt8]) -> [UInt8] {
        routerMAC + vmMAC + (vlan.map { [0x81, 0x00, UInt8($0 >> 8), UInt8($0 & 0xff)] } ?? []) + be16(type) + payload
    }

    public static func ipv4(
        proto: UInt8, source: [UInt8] = [10, 1, 1, 23], destination: [UInt8] = [198, 51, 100, 1],
        id: UInt16 = 0, ttl: UInt8 = 64, _ payload: [UInt8]
    ) -> [UInt8] {
        [0x45, 0] + be16(UInt16(20 + payload.count)) + be16(id) + [0x40, 0, ttl, proto, 0, 0] + source + destination
            + payload
    }

    public static func icmpEcho(id: UInt16, sequence: UInt16, request: Bool = true, v6: Bool = false) -> [UInt8] {
        [v6 ? (request ? 128 : 129) : (request ? 8 : 0), 0, 0, 0] + be16(id) + be16(sequence) + Array("kvmtopo!".utf8)
    }

    /// An ICMP error (IPv4) about `packet`: its IP header and the first 8 bytes after it, as a router quotes them.
    public static func icmpError(type: UInt8, code: UInt8, mtu: UInt16 = 0, quoting packet: [UInt8]) -> [UInt8] {
        [type, code, 0, 0, 0, 0] + be16(mtu) + packet.prefix(Int(packet[0] & 0x0f) * 4 + 8)
    }

    public static let vmIPv6: [UInt8] =
        [0xfe, 0x80] + [UInt8](repeating: 0, count: 6) + [0, 0x4c, 0x5e, 0xff, 0xfe, 0, 0, 0x0a]
    public static let solicited: [UInt8] = [0xff, 0x02] + [UInt8](repeating: 0, count: 9) + [1, 0xff, 0, 0, 1]

    public static func ipv6(next: UInt8, _ payload: [UInt8]) -> [UInt8] {
        [0x60, 0, 0, 0] + be16(UInt16(payload.count)) + [next, 255] + vmIPv6 + solicited + payload
    }

    public static func neighbourSolicitation(target: [UInt8]) -> [UInt8] {
        [135, 0, 0, 0, 0, 0, 0, 0] + target + [1, 1] + vmMAC
    }

    public static func udp(source: UInt16, destination: UInt16, _ payload: [UInt8]) -> [UInt8] {
        be16(source) + be16(destination) + be16(UInt16(8 + payload.count)) + [0, 0] + payload
    }

    public static func dhcp(operation: UInt8, type: UInt8, server: [UInt8]?, router: [UInt8]? = nil) -> [UInt8] {
        var body: [UInt8] = [operation, 1, 6, 0] + be32(0xdead_beef) + [UInt8](repeating: 0, count: 8)
        body += [10, 1, 1, 23] + [UInt8](repeating: 0, count: 8) + vmMAC + [UInt8](repeating: 0, count: 10 + 192)
        body +=
            be32(0x6382_5363) + [53, 1, type] + (server.map { [54, 4] + $0 } ?? [])
            + (router.map { [3, 4] + $0 } ?? [])
        return body + [0, 255]
    }

    public static func tcp(
        seq: UInt32, flags: UInt8, source: UInt16 = 43210, destination: UInt16 = 443
    ) -> [UInt8] {
        be16(source) + be16(destination) + be32(seq) + be32(0) + [0x50, flags, 0xff, 0xff, 0, 0, 0, 0]
            + Array("GET".utf8)
    }

    public static let arpRequest = ethernet(
        0x0806,
        [0, 1, 8, 0, 6, 4, 0, 1] + vmMAC + [10, 1, 1, 23]
            + [0, 0, 0, 0, 0, 0] + [10, 1, 1, 1])

    public static func vxlan(vni: UInt32, inner: [UInt8]) -> [UInt8] {
        ethernet(
            0x0800,
            ipv4(
                proto: 17, source: [10, 99, 0, 1], destination: [10, 99, 0, 2],
                udp(source: 51000, destination: 8472, [0x08, 0, 0, 0] + be32(vni << 8) + inner)))
    }

    public static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }
    public static func be32(_ value: UInt32) -> [UInt8] {
        (0..<4).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }

    /// A Linux cooked v2 header as the `any` capture writes it: the frame's network layer seen on an interface.
    public static func sll2(
        ifindex: UInt32, outgoing: Bool, _ etherType: UInt16, _ payload: [UInt8], mac: [UInt8] = vmMAC
    ) -> [UInt8] {
        be16(etherType) + [0, 0] + be32(ifindex) + [0, 1, outgoing ? 4 : 0, 6] + mac + [0, 0] + payload
    }
}
