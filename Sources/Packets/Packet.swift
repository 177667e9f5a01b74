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
