/// An interface's packet counters as the kernel keeps them (what `ip -s link` prints).
public struct InterfaceCounters: Codable, Equatable, Sendable {
    public var rxPackets, txPackets, rxDropped, txDropped, rxErrors, txErrors: Int

    public init(rxPackets: Int, txPackets: Int, rxDropped: Int, txDropped: Int, rxErrors: Int, txErrors: Int) {
        self.rxPackets = rxPackets
        self.txPackets = txPackets
        self.rxDropped = rxDropped
        self.txDropped = txDropped
        self.rxErrors = rxErrors
        self.txErrors = txErrors
    }

    /// What happened between two readings (a counter that went back, its link recreated, counts from zero).
    public func since(_ earlier: InterfaceCounters) -> InterfaceCounters {
        let delta = { (now: Int, then: Int) in now >= then ? now - then : now }
        return InterfaceCounters(
            rxPackets: delta(rxPackets, earlier.rxPackets), txPackets: delta(txPackets, earlier.txPackets),
            rxDropped: delta(rxDropped, earlier.rxDropped), txDropped: delta(txDropped, earlier.txDropped),
            rxErrors: delta(rxErrors, earlier.rxErrors), txErrors: delta(txErrors, earlier.txErrors))
    }

    public var dropsOrErrors: Int { rxDropped + txDropped + rxErrors + txErrors }
}

/// What a host's interfaces dropped over a while, placed on the topology: per VM or router NIC (its tap), bridge
/// and uplink, from two readings of every link's counters.
public struct InterfaceDrops: Codable, Equatable, Sendable {
    public var interface: String
    /// What it is: "i-2-10-VM eth0 (tap vnet3)", "bridge brvx-1001", "uplink vxlan1001 of brvx-1001".
    public var meaning: String
    public var domain: String?
    public var counters: InterfaceCounters
    /// What the counters mean, when they say something an operator acts on.
    public var reading: String?

    public init(
        interface: String, meaning: String, domain: String?, counters: InterfaceCounters, reading: String? = nil
    ) {
        self.interface = interface
        self.meaning = meaning
        self.domain = domain
        self.counters = counters
        self.reading = reading
    }

    /// Every interface of the topology whose drop or error counters moved between `before` and `after` (by link
    /// name), the most dropping first; `names`, when given, keeps only those interfaces (a VM's, a network's).
    public static func between(
        _ before: [String: InterfaceCounters], _ after: [String: InterfaceCounters], in snapshot: HostSnapshot,
        names: Set<String>? = nil
    ) -> [InterfaceDrops] {
        let interfaces = InterfaceMeanings(snapshot)
        return after.compactMap { name, now -> InterfaceDrops? in
            guard names?.contains(name) ?? true, let then = before[name] else { return nil }
            let moved = now.since(then)
            guard moved.dropsOrErrors > 0 else { return nil }
            let (meaning, domain) = interfaces.meaning(of: name)
            // A tap transmits to its guest: packets it could not hand over are the guest's queue left full.
            let reading =
                domain != nil && moved.txDropped > 0
                ? "\(domain!) does not take its packets as fast as they come (its queue is full: a guest "
                    + "busy or stuck, or its virtio driver not draining)" : nil
            return InterfaceDrops(interface: name, meaning: meaning, domain: domain, counters: moved, reading: reading)
        }.sorted { ($0.counters.dropsOrErrors, $1.interface) > ($1.counters.dropsOrErrors, $0.interface) }
    }
}

/// What an interface is in the topology's terms: "i-2-10-VM eth0 (tap vnet3)", "bridge brvx-1001", "uplink
/// vxlan1001 of brvx-1001", with the domain whose NIC it is.
public struct InterfaceMeanings: Sendable {
    private var taps: [String: (domain: String, index: Int)] = [:]
    private let bridges: Set<String>
    private let uplinks: [String: String]

    public init(_ snapshot: HostSnapshot) {
        for domain in snapshot.domains {
            for nic in domain.nics { if let tap = nic.tap { taps[tap] = (domain.name, nic.index) } }
        }
        bridges = Set(snapshot.bridges.map(\.name))
        uplinks = Dictionary(
            snapshot.networks.compactMap { network in network.uplink.map { ($0, network.bridge) } },
            uniquingKeysWith: { first, _ in first })
    }

    public func meaning(of name: String) -> (meaning: String, domain: String?) {
        if let (domain, index) = taps[name] { return ("\(domain) eth\(index) (tap \(name))", domain) }
        if bridges.contains(name) { return ("bridge \(name)", nil) }
        return (uplinks[name].map { "uplink \(name) of \($0)" } ?? name, nil)
    }
}
