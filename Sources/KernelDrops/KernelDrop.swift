/// One packet the kernel freed as dropped (`skb:kfree_skb`): when, what it carried, why and where.
public struct KernelDrop: Sendable, Equatable {
    /// Nanoseconds since the epoch (CLOCK_REALTIME: the capture's clock).
    public var time: UInt64
    public var cpu: Int
    /// The frame's EtherType as the kernel held it (0x0800 IPv4, 0x86dd IPv6, 0x0806 ARP).
    public var etherType: UInt16
    /// nil on a kernel whose tracepoint has no reason (before 5.17, unless backported).
    public var reason: DropReason?
    /// The code that freed it, symbolised; nil when /proc/kallsyms hides addresses.
    public var location: KernelSymbols.Location?

    public init(time: UInt64, cpu: Int, etherType: UInt16, reason: DropReason?, location: KernelSymbols.Location?) {
        self.time = time
        self.cpu = cpu
        self.etherType = etherType
        self.reason = reason
        self.location = location
    }

    /// A kind of drop: its reason and the function that freed it (what drops and trace's summary count by).
    public struct Kind: Hashable, Sendable {
        public var reason: DropReason?
        public var function: String?
    }

    public var kind: Kind { Kind(reason: reason, function: location?.function) }

    /// The part of the kernel that dropped it, from the location: what a lost hop's context can be compared with.
    public enum Site: String, Sendable, CaseIterable {
        case bridge, firewall, tap, vxlan, routing, neighbour, queue, localDelivery, other
    }

    public var site: Site {
        guard let location else { return .other }
        let function = location.function
        let starts = { (prefixes: [String]) in prefixes.contains { function.hasPrefix($0) } }
        if function == "nf_hook_slow" || starts(["nft_", "ipt_", "ebt_", "nf_", "ip6t_"]) { return .firewall }
        if location.module == "bridge" || location.module == "br_netfilter" || starts(["br_"]) { return .bridge }
        if location.module == "tun" || starts(["tun_"]) { return .tap }
        if location.module == "vxlan" || starts(["vxlan_"]) { return .vxlan }
        if starts(["neigh_", "arp_", "ndisc_"]) { return .neighbour }
        if starts(["ip_", "ip6_", "ipv6_", "fib_", "icmp_"]) && !starts(["ip_local_deliver"]) { return .routing }
        if starts(["sch_", "__dev_queue_xmit", "dev_qdisc", "qdisc_", "pfifo", "fq_", "__qdisc"]) { return .queue }
        let local = ["tcp_", "__tcp", "udp", "__udp", "unix_", "sk_", "sock_", "__sk_", "raw", "packet_", "netlink_"]
        if starts(local + ["ip_local_deliver"]) {
            return .localDelivery
        }
        return .other
    }

    /// What the drop means, in an operator's words. The location says it where the reason does not: a frame too
    /// large for the bridge port it leaves by is freed with NOT_SPECIFIED, in br_nf_dev_queue_xmit (br_netfilter
    /// on) or br_dev_queue_push_xmit (off), as measured on 6.18.
    public var meaning: String? { Self.meaning(reason: reason, function: location?.function) }

    static func meaning(reason: DropReason?, function: String?) -> String? {
        if tooBigForBridgePort(reason: reason, function: function) {
            return "larger than the MTU of the bridge port it was leaving by"
        }
        if function == "nf_hook_slow", reason == nil || reason == .notSpecified {
            return DropReason.netfilterDrop.meaning
        }
        return reason?.meaning
    }

    /// A bridge that frees a frame on its way out of a port, for no other reason, found it too big for that port.
    static func tooBigForBridgePort(reason: DropReason?, function: String?) -> Bool {
        (function == "br_nf_dev_queue_xmit" || function == "br_dev_queue_push_xmit")
            && (reason == nil || reason == .notSpecified || reason == .pktTooBig)
    }
}

/// Drops of one kind (reason and function) over a while: what `drops` and trace's summary count.
public struct KernelDropCount: Sendable, Equatable {
    public var reason: DropReason?
    /// The function it was freed in ("br_nf_dev_queue_xmit"), nil when addresses are hidden.
    public var function: String?
    public var module: String?
    public var meaning: String?
    public var site: KernelDrop.Site
    public var packets: Int
    /// Where on the topology it can have happened, when that narrows it (see `placed(in:)`); empty: anywhere.
    public var places: [KernelDropPlace] = []

    init(_ drop: KernelDrop) {
        reason = drop.reason
        function = drop.location?.function
        module = drop.location?.module
        meaning = drop.meaning
        site = drop.site
        packets = 0
    }
}

/// Drops counted by kind as they come: a flood of them costs a count, not memory.
public struct KernelDropTally: Sendable {
    private var byKind: [KernelDrop.Kind: KernelDropCount] = [:]

    public init() {}

    public mutating func add(_ drop: KernelDrop, packets: Int = 1) {
        byKind[drop.kind, default: KernelDropCount(drop)].packets += packets
    }

    /// The kinds, the most frequent first.
    public var counts: [KernelDropCount] {
        byKind.values.sorted {
            ($0.packets, $1.reason?.rawValue ?? "", $1.function ?? "")
                > ($1.packets, $0.reason?.rawValue ?? "", $0.function ?? "")
        }
    }
}

/// What the kernel's drop tracepoint gave over a run, or why it gave nothing.
public struct KernelDropSummary: Sendable, Equatable {
    /// Why the tracepoint could not be read (no root, no tracefs, no tracepoint); nil when it was.
    public var unavailable: String?
    public var notes: [String]
    public var drops: [KernelDropCount]
    /// Records the kernel could not hand over because a ring was full.
    public var lostRecords: Int

    public init(unavailable: String? = nil, notes: [String] = [], drops: [KernelDropCount] = [], lostRecords: Int = 0) {
        self.unavailable = unavailable
        self.notes = notes
        self.drops = drops
        self.lostRecords = lostRecords
    }
}
