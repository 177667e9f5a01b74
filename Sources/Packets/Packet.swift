/// A frame decoded as far as it is whole: Ethernet (with 802.1Q tags), ARP, IPv4/IPv6, ICMP/ICMPv6 (with
/// neighbour discovery), UDP, TCP, DHCP and VXLAN (with the inner frame). Layers missing from the frame, or cut
/// off by the snap length, are nil; nothing here traps on truncated or hostile input.
public struct Packet: Sendable, Equatable {
    public var ethernet: Ethernet?
    public var arp: ARP?
    public var ipv4: IPv4?
    public var ipv6: IPv6?
    public var icmp: ICMP?
    public var udp: UDP?
    public var tcp: TCP?
    public var dhcp: DHCP?
    public var vxlan: VXLANHeader?
    /// The frame a VXLAN packet carries.
    public var inner: Box?
    /// Where the transport payload starts in the captured bytes, and how much of it was captured.
    public var payloadOffset: Int?
    public var payloadLength: Int = 0

    public init() {}

    /// The inner frame, boxed so a Packet can hold one.
    public final class Box: Sendable, Equatable {
        public let packet: Packet
        init(_ packet: Packet) { self.packet = packet }
        public static func == (a: Box, b: Box) -> Bool { a.packet == b.packet }
    }

    public var source: String? { ipv4?.source ?? ipv6?.source }
    public var destination: String? { ipv4?.destination ?? ipv6?.destination }
}

public struct Ethernet: Sendable, Equatable {
    public var destination: String
    public var source: String
    /// 802.1Q/802.1ad VLAN ids, outermost first.
    public var vlans: [Int]
    public var etherType: UInt16
}

public struct ARP: Sendable, Equatable {
    /// 1 request, 2 reply.
    public var operation: UInt16
    public var senderMAC: String
    public var senderIP: String
    public var targetMAC: String
    public var targetIP: String
}

public struct IPv4: Sendable, Equatable {
    public var source: String
    public var destination: String
    public var protocolNumber: UInt8
    public var ttl: UInt8
    public var identification: UInt16
    public var totalLength: Int
    public var dontFragment: Bool
    /// Later fragments carry no transport header.
    public var fragmentOffset: Int
    public var moreFragments: Bool
}

public struct IPv6: Sendable, Equatable {
    public var source: String
    public var destination: String
    /// The upper-layer protocol after any extension headers.
    public var nextHeader: UInt8
    public var hopLimit: UInt8
    public var payloadLength: Int
}

public struct ICMP: Sendable, Equatable {
    public var version: Int
    public var type: UInt8
    public var code: UInt8
    /// Echo request/reply identifier and sequence.
    public var identifier: UInt16?
    public var sequence: UInt16?
    /// Neighbour solicitation/advertisement: the target address and the link-layer address option.
    public var ndTarget: String?
    public var ndLinkLayerAddress: String?
    /// The MTU that IPv4's "fragmentation needed" or IPv6's "packet too big" names.
    public var mtu: Int?

    /// An error about another packet, whose headers it quotes: destination unreachable, packet too big, time
    /// exceeded, parameter problem.
    public var isError: Bool { Self.isError(version: version, type: type) }

    static func isError(version: Int, type: UInt8) -> Bool {
        version == 4 ? [3, 11, 12].contains(type) : (1...4).contains(type)
    }

    /// "echo request", "destination unreachable", as tcpdump names the type.
    public var name: String {
        switch (version, type) {
        case (4, 8), (6, 128): "echo request"
        case (4, 0), (6, 129): "echo reply"
        case (4, 3), (6, 1): "destination unreachable"
        case (4, 11), (6, 3): "time exceeded"
        case (4, 12), (6, 4): "parameter problem"
        case (6, 2): "packet too big"
        case (6, 135): "neighbor solicitation"
        case (6, 136): "neighbor advertisement"
        case (6, 133): "router solicitation"
        case (6, 134): "router advertisement"
        default: "type \(type) code \(code)"
        }
    }

    /// What an error's code says: "fragmentation needed, mtu 1400", "port unreachable"; nil for other messages.
    public var detail: String? {
        let mtuText = mtu.map { "mtu \($0)" }
        switch (version, type, code) {
        case (4, 3, 4): return ["fragmentation needed", mtuText].compactMap { $0 }.joined(separator: ", ")
        case (6, 2, _): return mtuText
        case (4, 3, 9), (4, 3, 10), (4, 3, 13), (6, 1, 1): return "administratively prohibited"
        case (4, 11, 0), (6, 3, 0): return "\(version == 4 ? "TTL" : "hop limit") exceeded in transit"
        default: break
        }
        let unreachable: [UInt8: String] =
            version == 4
            ? [0: "network unreachable", 1: "host unreachable", 2: "protocol unreachable", 3: "port unreachable"]
            : [0: "no route", 3: "address unreachable", 4: "port unreachable", 6: "reject route"]
        return (version == 4 ? type == 3 : type == 1) ? unreachable[code] ?? "code \(code)" : nil
    }
}

public struct UDP: Sendable, Equatable {
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var length: Int
}

public struct TCP: Sendable, Equatable {
    public var sourcePort: UInt16
    public var destinationPort: UInt16
    public var sequence: UInt32
    public var acknowledgment: UInt32
    public var flags: UInt8
}

public struct DHCP: Sendable, Equatable {
    /// 1 request (client to server), 2 reply.
    public var operation: UInt8
    public var transactionID: UInt32
    public var clientMAC: String
    public var yourIP: String
    /// Option 53: 1 DISCOVER, 2 OFFER, 3 REQUEST, 5 ACK, …
    public var messageType: UInt8?
    /// Option 54.
    public var serverIdentifier: String?
    /// Option 50.
    public var requestedIP: String?
    /// Option 3: the first router (gateway) the server hands out.
    public var router: String?
}

public struct VXLANHeader: Sendable, Equatable {
    public var vni: Int
}
