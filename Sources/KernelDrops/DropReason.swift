import Topology

/// The kernel's `enum skb_drop_reason`, by the name the `skb:kfree_skb` tracepoint prints (the numbers differ
/// between kernels: they are read from the tracepoint's format file, see `TracepointFormat`). Open: a newer kernel
/// has reasons this build has never heard of, shown by their names. `Known` lists the ones that explain a packet
/// lost on a KVM host.
public struct DropReason: Vocabulary {
    public enum Known: String, CaseIterable, Sendable {
        case notSpecified = "NOT_SPECIFIED"
        case netfilterDrop = "NETFILTER_DROP"
        case bridgeIngressSTPState = "BRIDGE_INGRESS_STP_STATE"
        case pktTooBig = "PKT_TOO_BIG"
        case vxlanVNINotFound = "VXLAN_VNI_NOT_FOUND"
        case vxlanInvalidHeader = "VXLAN_INVALID_HDR"
        case noTXTarget = "NO_TX_TARGET"
        case macInvalidSource = "MAC_INVALID_SOURCE"
        case otherHost = "OTHERHOST"
        case ipRPFilter = "IP_RPFILTER"
        case ipInNoRoutes = "IP_INNOROUTES"
        case ipOutNoRoutes = "IP_OUTNOROUTES"
        case neighbourFailed = "NEIGH_FAILED"
        case qdiscDrop = "QDISC_DROP"
        case fullRing = "FULL_RING"
        case tapFilter = "TAP_FILTER"
        case tapTXFilter = "TAP_TXFILTER"
        case deviceNotReady = "DEV_READY"
        case noSocket = "NO_SOCKET"
        case protocolMemory = "PROTO_MEM"
    }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let notSpecified = Self(.notSpecified), netfilterDrop = Self(.netfilterDrop)
    public static let bridgeIngressSTPState = Self(.bridgeIngressSTPState), pktTooBig = Self(.pktTooBig)
    public static let vxlanVNINotFound = Self(.vxlanVNINotFound), fullRing = Self(.fullRing)

    /// A reason only a packet delivered to the host itself is dropped for (a socket's, TCP's, UDP's checks):
    /// never one crossing a bridge or routed through, so never a traced packet's.
    public var isLocalDelivery: Bool {
        known == .noSocket || known == .protocolMemory
            || ["SOCKET_", "TCP_", "UDP_", "UNIX_"].contains { rawValue.hasPrefix($0) }
    }

    /// What the reason says, in an operator's words; nil for a reason that says nothing more than its name.
    public var meaning: String? {
        switch known {
        case .netfilterDrop?: "a firewall rule dropped it"
        case .bridgeIngressSTPState?: "the bridge port it came in on is not forwarding, by its STP state"
        case .pktTooBig?: "larger than the MTU of the way out"
        case .vxlanVNINotFound?: "no VXLAN device has its VNI on this host"
        case .vxlanInvalidHeader?: "its VXLAN header is not valid"
        case .noTXTarget?: "the VXLAN device knows no remote to send it to (no FDB entry, no group)"
        case .macInvalidSource?: "its source MAC is not valid (multicast or zero)"
        case .otherHost?: "addressed to another host's MAC"
        case .ipRPFilter?:
            "reverse-path filtering: its source is not reachable back through the interface it came in on"
        case .ipInNoRoutes?, .ipOutNoRoutes?: "no route to its destination"
        case .neighbourFailed?: "the next hop did not answer ARP or neighbour discovery"
        case .qdiscDrop?: "the interface's queue discipline dropped it (queue full or policed)"
        case .fullRing?: "the tap's queue to its guest is full (the guest does not drain it)"
        case .tapFilter?, .tapTXFilter?: "the tap's filter (set by QEMU) does not take it"
        case .deviceNotReady?: "the device was not ready (a tap with no QEMU reading it, or down)"
        case .noSocket?: "no socket on the host takes it"
        case .protocolMemory?: "the receiving socket's protocol is out of memory"
        case .notSpecified?, nil: nil
        }
    }
}
