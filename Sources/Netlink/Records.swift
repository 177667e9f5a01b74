import Topology

/// What one rtnetlink dump says, as Swift values. Relations are still kernel ifindexes here; the
/// collector resolves them to names once every link is known.
public struct NetlinkLink: Sendable, Equatable {
    public var ifindex: Int
    public var name: String
    /// IFLA_INFO_KIND ("bridge", "tun", "veth", "vxlan", "vlan", "bond", …); nil for plain devices.
    public var kind: String?
    public var mac: String?
    public var mtu: Int
    public var operState: OperState
    public var isUp: Bool
    public var isLoopback: Bool
    public var masterIndex: Int?
    /// IFLA_LINK: a vlan's parent, a veth's peer.
    public var linkIndex: Int?
    /// Set when `linkIndex` lives in another network namespace.
    public var linkNetnsid: Int?
    public var vlan: VLAN?
    public var vxlan: VXLAN?
    /// IFLA_BR_STP_STATE of a bridge (0 off, 1 kernel STP, 2 user-space STP).
    public var bridgeSTPState: Int?
    /// Set on a port of a bridge.
    public var bridgePort: BridgePort?

    /// A bridge port's STP state and cost, from the port's own link message.
    public struct BridgePort: Sendable, Equatable {
        public var state: PortState
        public var priority: Int?
        public var cost: Int?
    }

    public struct VLAN: Sendable, Equatable {
        public var id: Int
        public var protocol_: String?
    }

    public struct VXLAN: Sendable, Equatable {
        public var vni: Int
        public var group: String?
        public var local: String?
        public var port: Int?
        public var deviceIndex: Int?
        public var learning: Bool?
    }
}

public struct NetlinkAddress: Sendable, Equatable {
    public var ifindex: Int
    public var family: AddressFamily
    public var address: String
    public var prefixLength: Int
    public var scope: String
}

/// One bridge forwarding-database entry, from the AF_BRIDGE neighbour dump.
public struct NetlinkFDBEntry: Sendable, Equatable {
    public var mac: String
    public var ifindex: Int
    public var masterIndex: Int?
    public var vlan: Int?
    /// "permanent" (the port's own address), "static" (added by hand or by libvirt/CloudStack) or "dynamic" (learned).
    public var state: FDBState
    /// NTF_SELF: the entry belongs to the device itself (vxlan remotes, NIC filters), not to a bridge.
    public var isSelf: Bool
    /// NDA_DST: the remote VTEP of a vxlan entry.
    public var remote: String?
}

/// One route of the main table (unicast), from the route dump.
public struct NetlinkRoute: Sendable, Equatable {
    public var family: AddressFamily
    /// The destination network's address; nil for a default route.
    public var destination: String?
    public var prefixLength: Int
    /// The first next hop's device and gateway.
    public var ifindex: Int?
    public var gateway: String?
    /// The preferred source address (RTA_PREFSRC).
    public var source: String?
}

public struct NetlinkSnapshot: Sendable, Equatable {
    public var links: [NetlinkLink]
    public var addresses: [NetlinkAddress]
    public var fdb: [NetlinkFDBEntry]
    public var routes: [NetlinkRoute] = []
}

public struct NetlinkError: Error, CustomStringConvertible, Sendable {
    public var operation: String
    public var code: Int32
    public var message: String
    public var description: String { "\(operation): \(message)" }
}

/// A link's packet counters (IFLA_STATS64): what `kvmtopo drops` compares between two readings.
public struct NetlinkLinkCounters: Sendable, Equatable {
    public var ifindex: Int
    public var name: String
    public var counters: InterfaceCounters
}
