import Topology

/// Reads CloudStack's security groups back out of the firewall, as security_group.py lays them down: per bridge
/// its framework (FORWARD → `BF-<bridge>` → `-IN`/`-OUT`), per VM NIC the chain jumped to for its tap, the
/// ingress and egress chains that chain jumps to, the ipsets it checks and ebtables' anti-spoofing chains; on any
/// host, the other rules that name a tap or a bridge. It follows the jumps the rules make, not rule positions or
/// chain names alone, so it survives the script's changes between releases.
enum SecurityGroupModel {
    static func apply(to snapshot: inout HostSnapshot, warnings: inout [Warning]) {
        guard let firewall = snapshot.firewall else { return }
        let domains = snapshot.domains
        // The leftovers of VMs not here are found beside the lookups' building: both read every chain.
        let (view, stale) = Concurrently.both(
            { FirewallView(firewall) }, { staleWarnings(firewall, domains: domains) })
        let filtered = snapshot.host.bridgeNetfilter?.iptables == true
        var owned: Set<ChainKey> = []
        var frameworks: [String: (BridgeFramework, FirewallTable)] = [:]
        for index in snapshot.networks.indices {
            let bridge = snapshot.networks[index].bridge
            let found = view.framework(for: bridge)
            if let found { frameworks[bridge] = found }
            owned.formUnion(found.map { view.frameworkChains(bridge, in: $0.1) } ?? [])
            snapshot.networks[index].firewall = BridgeFirewall(filtered: filtered, framework: found?.0)
        }
        let records = Dictionary(
            (firewall.agentRecords ?? []).map { ($0.vm, $0) }, uniquingKeysWith: { first, _ in first })
        // Each NIC on its own, on every core: a host with a thousand VMs has a thousand security groups to read.
        let places = domains.indices.filter { domains[$0].isActive }.flatMap { d in
            domains[d].nics.indices.map { NICPlace(domain: d, nic: $0) }
        }
        let frameworksFound = frameworks
        let read = Concurrently.map(places) { place in
            let domain = domains[place.domain]
            let nic = domain.nics[place.nic]
            var owned: Set<ChainKey> = []
            guard let tap = nic.tap else { return (SecurityGroup?.none, owned) }
            var expected = [nic.ip].compactMap { $0 }
            if nic.index == domain.nics.first?.index, let ip = records[domain.name]?.ip, !expected.contains(ip) {
                expected.append(ip)
            }
            var group = nic.effectiveBridge.flatMap { frameworksFound[$0] }.flatMap { framework, table in
                view.securityGroup(
                    tap: tap, bridge: framework.chain, table: table, domain: domain, addresses: expected,
                    owned: &owned)
            }
            if let antiSpoofing = view.antiSpoofing(tap: tap, owned: &owned) {
                group = group ?? SecurityGroup(chain: antiSpoofing.chains[0], directions: [])
                group?.antiSpoofing = antiSpoofing
            }
            return (group, owned)
        }
        for (place, (group, chains)) in zip(places, read) {
            snapshot.domains[place.domain].nics[place.nic].securityGroup = group
            owned.formUnion(chains)
            // An address not otherwise known: the one the agent's anti-spoofing rules let the NIC use.
            if snapshot.domains[place.domain].nics[place.nic].ip == nil,
                let ip = group?.antiSpoofing?.ips.first(where: { AddressPrefix.number($0) != nil })
            {
                snapshot.domains[place.domain].nics[place.nic].ip = ip
                snapshot.domains[place.domain].nics[place.nic].ipSource = .securityGroup
            }
        }
        // What else names a tap or a bridge: read after every security group, so their own chains are left out.
        let naming = view.rulesNaming(excluding: owned)
        for d in snapshot.domains.indices where snapshot.domains[d].isActive {
            for n in snapshot.domains[d].nics.indices {
                guard let tap = snapshot.domains[d].nics[n].tap else { continue }
                let rules = naming(tap)
                snapshot.domains[d].nics[n].firewallRules = rules.isEmpty ? nil : rules
            }
        }
        for index in snapshot.networks.indices {
            let rules = naming(snapshot.networks[index].bridge)
            snapshot.networks[index].firewall?.rules = rules.isEmpty ? nil : rules
        }
        warnings += stale
    }

    // MARK: rules of VMs that are not running here

    /// Chains, ipsets and ebtables chains named for a VM with no running domain on this host, one warning per
    /// VM; and agent records of such VMs.
    static func staleWarnings(_ firewall: Firewall, domains: [Domain]) -> [Warning] {
        let running = Set(domains.filter(\.isActive).compactMap { Naming.securityGroupKey($0.name) })
        var leftovers: [String: [String]] = [:]
        let note = { (name: String, what: String) in
            guard let key = Naming.securityGroupKey(name), !running.contains(key) else { return }
            leftovers[key, default: []].append(what)
        }
        for table in firewall.tables {
            for chain in table.chains where chain.hook == nil {
                note(chain.name, "\(table.family == .bridge ? "ebtables" : "chain") \(chain.name)")
            }
        }
        for set in firewall.ipsets { note(set.name, "ipset \(set.name)") }
        for record in firewall.agentRecords ?? [] { note(record.vm, "/var/run/cloud/\(record.vm).log") }
        return leftovers.map { key, things in
            Warning(
                code: .sgStale, subject: .named(key),
                message: "\(things.sorted().joined(separator: ", ")): no running VM \(key)-… is on this host")
        }
    }
}

/// Where a NIC is in the snapshot: its domain's index and its own.
private struct NICPlace: Sendable {
    var domain: Int
    var nic: Int
}

/// A chain by table and name.
struct ChainKey: Hashable, Sendable {
    var table: String
    var chain: String
}

/// Things by the device they name, as an interface match names it: exact names by dictionary, prefixes (`vnet+`)
/// checked one by one. A host with a thousand VMs has a thousand jumps in BF-<bridge>-IN, and each NIC looks up its
/// own.
private struct DeviceIndex<Element: Sendable>: Sendable {
    private var exact: [String: [Element]] = [:]
    private var prefixes: [(prefix: Substring, element: Element)] = []

    mutating func insert(_ element: Element, naming pattern: String) {
        if pattern.hasSuffix("+") {
            prefixes.append((pattern.dropLast(), element))
        } else {
            exact[pattern, default: []].append(element)
        }
    }

    func elements(naming device: String) -> [Element] {
        (exact[device] ?? []) + prefixes.filter { device.hasPrefix($0.prefix) }.map(\.element)
    }
}

/// Lookups over the firewall, built once.
private struct FirewallView: Sendable {
    let firewall: Firewall
    /// IPv4 filter tables (nftables' `ip filter`, legacy `filter`), where security groups live.
    let filters: [FirewallTable]
    /// ebtables' nat tables, where the anti-spoofing chains live.
    let bridgeNAT: [FirewallTable]
    let ipsets: [String: IPSet]
    private let chains: [ChainKey: FirewallChain]
    /// BF-<bridge>-IN's rules by --physdev-in, -OUT's by --physdev-out; PREROUTING's by -i, POSTROUTING's by -o.
    private let ports: [ChainKey: DeviceIndex<FirewallRule>]

    init(_ firewall: Firewall) {
        self.firewall = firewall
        filters = firewall.tables.filter { $0.isIPFilter && $0.family == .ip }
        bridgeNAT = firewall.tables.filter { $0.family == .bridge && $0.name == "nat" }
        ipsets = Dictionary(firewall.ipsets.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var chains: [ChainKey: FirewallChain] = [:]
        var ports: [ChainKey: DeviceIndex<FirewallRule>] = [:]
        for table in firewall.tables {
            let name = table.displayName
            let bridgeNAT = table.family == .bridge && table.name == "nat"
            for chain in table.chains {
                let key = ChainKey(table: name, chain: chain.name)
                chains[key] = chains[key] ?? chain
                let port: ((RuleMatches) -> Matched<String>?)? =
                    switch chain.name {
                    case _ where !table.isIPFilter && !bridgeNAT: nil
                    case "PREROUTING" where bridgeNAT: { $0.inInterface }
                    case "POSTROUTING" where bridgeNAT: { $0.outInterface }
                    case let name where name.hasPrefix("BF-") && name.hasSuffix("-IN"): { $0.physdevIn }
                    case let name where name.hasPrefix("BF-") && name.hasSuffix("-OUT"): { $0.physdevOut }
                    default: nil
                    }
                guard let port else { continue }
                var index = DeviceIndex<FirewallRule>()
                for rule in chain.rules {
                    if let match = port(rule.matches), !match.inverted { index.insert(rule, naming: match.value) }
                }
                ports[key] = index
            }
        }
        self.chains = chains
        self.ports = ports
    }

    func lookup(_ table: FirewallTable, _ name: String) -> FirewallChain? {
        chains[ChainKey(table: table.displayName, chain: name)]
    }

    /// The rules of a chain indexed by port that name the device.
    func rules(_ table: FirewallTable, _ chain: String, port device: String) -> [FirewallRule] {
        ports[ChainKey(table: table.displayName, chain: chain)]?.elements(naming: device) ?? []
    }

    // MARK: the bridge framework

    func framework(for bridge: String) -> (BridgeFramework, FirewallTable)? {
        let name = "BF-\(bridge)"
        for table in filters {
            guard let chain = lookup(table, name) else { continue }
            let jumps = (lookup(table, "FORWARD")?.rules ?? []).filter { $0.jumps(to: name) }
            let forward =
                (jumps.contains { $0.matches.inInterface?.names(bridge) == true } ? [JumpDirection.in] : [])
                + (jumps.contains { $0.matches.outInterface?.names(bridge) == true } ? [JumpDirection.out] : [])
            let uplink = chain.rules.first {
                $0.verdict == .accept && $0.matches.physdevOut?.inverted == false
            }?.matches.physdevOut?.value
            return (
                BridgeFramework(
                    chain: name, table: table.displayName, forward: forward,
                    hasInChain: lookup(table, name + "-IN") != nil, hasOutChain: lookup(table, name + "-OUT") != nil,
                    uplinkAccept: uplink),
                table
            )
        }
        return nil
    }

    /// The framework's own chains, and FORWARD's rules for the bridge are the framework's too.
    func frameworkChains(_ bridge: String, in table: FirewallTable) -> Set<ChainKey> {
        let name = "BF-\(bridge)"
        return Set([name, name + "-IN", name + "-OUT"].map { ChainKey(table: table.displayName, chain: $0) })
    }

    // MARK: one NIC

    func securityGroup(
        tap: String, bridge framework: String, table: FirewallTable, domain: Domain, addresses: [String],
        owned: inout Set<ChainKey>
    ) -> SecurityGroup? {
        let fromVM = rules(table, framework + "-IN", port: tap).filter { $0.chain != nil }
        let toVM = rules(table, framework + "-OUT", port: tap).filter { $0.chain != nil }
        guard let target = (fromVM + toVM).first?.chain else { return nil }
        var group = SecurityGroup(
            chain: target, directions: (fromVM.isEmpty ? [] : [.in]) + (toVM.isEmpty ? [] : [.out]))
        let expected = Naming.securityGroupChain(domain.name, role: domain.role)
        if target != expected { group.expectedChain = expected }
        let counted = (fromVM + toVM).compactMap(\.packets)
        group.packets = counted.isEmpty ? nil : counted.reduce(0, +)
        let bytes = (fromVM + toVM).compactMap(\.bytes)
        group.bytes = bytes.isEmpty ? nil : bytes.reduce(0, +)
        let key = { (chain: String) in ChainKey(table: table.displayName, chain: chain) }
        owned.insert(key(target))
        guard let chain = lookup(table, target) else { return group }
        // The -def chain's jumps for this tap: to the VM is ingress, from it is egress.
        let jumps = chain.rules.filter { $0.verdict == .jump || $0.verdict == .goto }
        let ingress = jumps.first { $0.matches.physdevOut?.names(tap) == true }?.chain
        let egress = jumps.first { $0.matches.physdevIn?.names(tap) == true }?.chain
        group.ingress = ingress.flatMap { lookup(table, $0) }.map { rules($0, peer: \.source) }
        group.egress = egress.flatMap { lookup(table, $0) }.map { rules($0, peer: \.destination) }
        for name in [ingress, egress].compactMap({ $0 }) { owned.insert(key(name)) }
        let sets = chain.rules.filter { $0.mentions(tap) }.flatMap { $0.matches.sets ?? [] }.map(\.name)
        let unique = sets.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        group.addressSets =
            unique.isEmpty
            ? nil
            : unique.map { name in
                let members = ipsets[name]?.members
                let missing = addresses.filter { address in
                    address.contains(":") == (ipsets[name]?.family == .inet6)
                        && !(members ?? []).contains {
                            $0 == address || $0.hasPrefix(address + "/")
                                || AddressPrefix($0)?.contains(address) == true
                        }
                }
                return SecurityGroupAddressSet(name: name, members: members, missing: missing.isEmpty ? nil : missing)
            }
        return group
    }

    /// An ingress or egress chain's rules; its last rule is the final verdict when it matches everything.
    private func rules(_ chain: FirewallChain, peer: KeyPath<RuleMatches, Matched<String>?>) -> SecurityGroupRules {
        var rules = chain.rules
        var result = SecurityGroupRules(chain: chain.name, rules: [])
        if let last = rules.last, last.matches == RuleMatches(), last.target == nil {
            result.final = last.verdict
            result.finalPackets = last.packets
            rules.removeLast()
        }
        result.rules = rules.map { rule in
            var entry = SecurityGroupRule(handle: rule.handle, verdict: rule.verdict)
            entry.protocol = rule.matches.protocol?.value
            entry.ports = rule.matches.destinationPorts?.value
            entry.icmpType = rule.matches.icmpType?.value
            entry.cidr = rule.matches[keyPath: peer]?.value
            entry.set = rule.matches.sets?.first?.name
            entry.packets = rule.packets
            entry.bytes = rule.bytes
            return entry
        }
        return result
    }

    /// ebtables' chains PREROUTING sends the tap's frames to (and POSTROUTING those for it), with everything they
    /// jump to; what the VM may send is read from the first.
    func antiSpoofing(tap: String, owned: inout Set<ChainKey>) -> AntiSpoofing? {
        for table in bridgeNAT {
            let fromVM = reachable(table, from: rules(table, "PREROUTING", port: tap))
            let toVM = reachable(table, from: rules(table, "POSTROUTING", port: tap))
            guard !fromVM.isEmpty || !toVM.isEmpty else { continue }
            var macs: [String] = []
            var ips: [String] = []
            for rule in fromVM.compactMap({ lookup(table, $0) }).flatMap(\.rules) {
                for mac in [rule.matches.sourceMAC, rule.matches.arpSourceMAC].compactMap({ $0?.value })
                where !macs.contains(mac) {
                    macs.append(mac)
                }
                if let ip = rule.matches.arpSourceIP?.value, !ips.contains(ip) { ips.append(ip) }
            }
            let chains = fromVM + toVM.filter { !fromVM.contains($0) }
            for name in chains { owned.insert(ChainKey(table: table.displayName, chain: name)) }
            return AntiSpoofing(chains: chains, macs: macs, ips: ips)
        }
        return nil
    }

    /// The chains the rules jump to, and all those jump to in turn, in order.
    private func reachable(_ table: FirewallTable, from rules: [FirewallRule]) -> [String] {
        var pending = rules.compactMap(\.chain)
        var chains: [String] = []
        while !pending.isEmpty {
            let name = pending.removeFirst()
            guard !chains.contains(name), let chain = lookup(table, name) else { continue }
            chains.append(name)
            pending += chain.rules.compactMap(\.chain)
        }
        return chains
    }

    // MARK: any host

    /// Every rule outside the chains already read that names a device (a tap or a bridge) as its in or out
    /// interface or bridge port, and that does not only jump to such a chain: one pass over the rules for all
    /// devices.
    func rulesNaming(excluding owned: Set<ChainKey>) -> (String) -> [RuleReference] {
        var index = DeviceIndex<RuleReference>()
        for table in firewall.tables {
            let name = table.displayName
            for chain in table.chains where !owned.contains(ChainKey(table: name, chain: chain.name)) {
                for rule in chain.rules {
                    if let target = rule.chain, owned.contains(ChainKey(table: name, chain: target)) { continue }
                    let named = Set(rule.namedDevices)
                    guard !named.isEmpty else { continue }
                    let reference = RuleReference(
                        table: name, chain: chain.name, handle: rule.handle, text: rule.text, verdict: rule.verdict,
                        packets: rule.packets)
                    for device in named { index.insert(reference, naming: device) }
                }
            }
        }
        return { device in
            // FORWARD's catch-all drop for a bridge with the framework is the framework's own.
            index.elements(naming: device).filter {
                $0.chain != "FORWARD" || !owned.contains(ChainKey(table: $0.table, chain: "BF-\(device)"))
            }
        }
    }
}
