/// What the firewall dropped over a while, from two readings of its counters: every rule that drops or rejects,
/// and every chain whose policy drops, whose packet counter rose, with the VM whose security group it is.
public struct FirewallDrops: Codable, Equatable, Sendable {
    public var family: FirewallFamily
    public var backend: FirewallBackend
    public var table: String
    public var chain: String
    /// The rule's handle; absent when the chain's policy dropped.
    public var handle: Int?
    public var rule: String?
    /// The VM whose security-group or anti-spoofing chain it is.
    public var domain: String?
    public var packets: Int

    public init(
        family: FirewallFamily, backend: FirewallBackend, table: String, chain: String, handle: Int?, rule: String?,
        domain: String?, packets: Int
    ) {
        self.family = family
        self.backend = backend
        self.table = table
        self.chain = chain
        self.handle = handle
        self.rule = rule
        self.domain = domain
        self.packets = packets
    }

    /// The counters that rose between `before` and `after` (rules matched by table, chain and handle; a rule or
    /// chain that came or went meanwhile is left out), the most dropping first.
    public static func between(_ before: Firewall, _ after: Firewall, in snapshot: HostSnapshot) -> [FirewallDrops] {
        let owners = snapshot.securityGroupOwners
        let earlier = counters(before)
        return counters(after).compactMap { place, now -> FirewallDrops? in
            guard let then = earlier[place], now.packets > then.packets else { return nil }
            return FirewallDrops(
                family: place.family, backend: place.backend, table: place.table, chain: place.chain,
                handle: place.handle, rule: now.rule,
                domain: owners[place.chain], packets: now.packets - then.packets)
        }.sorted { ($0.packets, $1.chain, $1.handle ?? -1) > ($1.packets, $0.chain, $0.handle ?? -1) }
    }

    private struct Place: Hashable {
        var family: FirewallFamily
        var backend: FirewallBackend
        var table: String
        var chain: String
        var handle: Int?
    }

    /// The packet counters of what drops: DROP and REJECT rules, and DROP policies.
    private static func counters(_ firewall: Firewall) -> [Place: (packets: Int, rule: String?)] {
        var counters: [Place: (packets: Int, rule: String?)] = [:]
        for table in firewall.tables {
            for chain in table.chains {
                if chain.policy == .drop, let packets = chain.packets {
                    let place = Place(
                        family: table.family, backend: table.backend, table: table.name, chain: chain.name)
                    counters[place] = (packets, nil)
                }
                for rule in chain.rules where rule.drops {
                    guard let packets = rule.packets else { continue }
                    let place = Place(
                        family: table.family, backend: table.backend, table: table.name, chain: chain.name,
                        handle: rule.handle)
                    counters[place] = (packets, rule.text)
                }
            }
        }
        return counters
    }
}

extension HostSnapshot {
    /// The VM each security-group chain is for (its jump chain, ingress and egress rules, anti-spoofing chains).
    public var securityGroupOwners: [String: String] {
        var owners: [String: String] = [:]
        for domain in domains {
            for group in domain.nics.compactMap(\.securityGroup) {
                let chains =
                    [group.chain, group.ingress?.chain, group.egress?.chain].compactMap { $0 }
                    + (group.antiSpoofing?.chains ?? [])
                for chain in chains { owners[chain] = domain.name }
            }
        }
        return owners
    }
}
