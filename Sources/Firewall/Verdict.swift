import Packets
import Topology

/// What the host's firewall does with a frame a bridge forwards from one port to another, worked out from the
/// rules as dumped: the base chains the kernel runs for it, hook by hook and by priority (the bridge family's
/// prerouting and forward chains, where ebtables and nft bridge tables are; then, for IPv4 when br_netfilter
/// hands bridged traffic to iptables, the ip and inet forward chains, where CloudStack's security groups are;
/// then the bridge's postrouting), each rule's matches against the frame's headers, jumps, gotos and returns,
/// ipset membership. The result names the rule that decides, or the chain whose end or policy does: a missing
/// rule, which no counter shows.
public struct FirewallWalk: Sendable {
    let tables: [FirewallTable]
    let ipsets: [String: IPSet]
    /// Each table's chains by name, for jumps.
    let chainsByName: [[String: FirewallChain]]
    /// The base chains of each hook, in the order the kernel runs them: looked up once, not for every packet.
    private let baseChains: [Hook: [(table: Int, chain: FirewallChain)]]

    private struct Hook: Hashable {
        var family: FirewallFamily
        var hook: FirewallHook
    }

    public init(firewall: Firewall) {
        tables = firewall.tables
        ipsets = Dictionary(firewall.ipsets.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        chainsByName = firewall.tables.map { table in
            Dictionary(table.chains.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        }
        var baseChains: [Hook: [(table: Int, chain: FirewallChain)]] = [:]
        for (index, table) in firewall.tables.enumerated() {
            for chain in table.chains {
                guard let hook = chain.hook else { continue }
                baseChains[Hook(family: table.family, hook: hook), default: []].append((index, chain))
            }
        }
        self.baseChains = baseChains.mapValues { chains in
            chains.enumerated().sorted { ($0.1.chain.priority ?? 0, $0.0) < ($1.1.chain.priority ?? 0, $1.0) }.map(\.1)
        }
    }

    /// The bridge and its ports a frame crosses.
    public struct Crossing: Sendable {
        public var bridge: String
        public var inPort: String
        public var outPort: String
        /// Whether bridged IPv4 meets iptables (br_netfilter and bridge-nf-call-iptables).
        public var meetsIptables: Bool
        /// The frame's MACs when its capture has no Ethernet header (a cooked capture keeps the source only).
        public var sourceMAC: String?
        public var destinationMAC: String?

        public init(
            bridge: String, inPort: String, outPort: String, meetsIptables: Bool, sourceMAC: String? = nil,
            destinationMAC: String? = nil
        ) {
            self.bridge = bridge
            self.inPort = inPort
            self.outPort = outPort
            self.meetsIptables = meetsIptables
            self.sourceMAC = sourceMAC
            self.destinationMAC = destinationMAC
        }
    }

    /// The frame's first decisive verdict on its way across: a drop (with the rule, or the chain that ends in
    /// it), or an accept by every chain it met.
    public func decide(_ packet: Packet, crossing: Crossing) -> FirewallDecision {
        var walk = Walk(walk: self, packet: packet, crossing: crossing)
        var hooks: [(FirewallFamily, FirewallHook)] = [(.bridge, .prerouting), (.bridge, .forward)]
        if crossing.meetsIptables, packet.ipv4 != nil { hooks += [(.ip, .forward), (.inet, .forward)] }
        hooks.append((.bridge, .postrouting))
        for (family, hook) in hooks {
            for (table, chain) in baseChains[Hook(family: family, hook: hook)] ?? [] {
                if let decision = walk.base(chain, in: table) { return decision }
            }
        }
        return walk.decision(.accept, table: nil, chain: nil, rule: nil)
    }
}

/// A verdict the walk reached: what, where, and how sure.
public struct FirewallDecision: Codable, Equatable, Sendable {
    /// accept or drop (a REJECT target is a drop that answers).
    public var verdict: FirewallVerdict
    public var family: FirewallFamily?
    public var table: String?
    public var backend: FirewallBackend?
    /// The chain whose rule, end or policy decided.
    public var chain: String?
    /// The deciding rule as an operator reads it, with its handle; absent when the chain's policy decided.
    public var rule: String?
    public var handle: Int?
    /// Set when the rule is an extension target (REJECT).
    public var target: String?
    /// Whether the deciding rule matches every packet (a chain's final DROP): then no rule before it let the
    /// packet through.
    public var unconditional: Bool?
    /// The chains walked through, in order, down to the deciding one.
    public var path: [String]
    public var certainty: Certainty
    /// What the walk took for granted (the connection-tracking state), or could not evaluate.
    public var assumptions: [String]?
    /// The deciding rule's (or policy's) packet counter in the dump the walk read, and, live, when the packet was
    /// judged lost: a drop that moved it is confirmed (a public VM's DROP also counts scans: confirmation, not
    /// proof); one that did not is in doubt.
    public var packets: Int?
    public var packetsNow: Int?

    public enum Certainty: String, Codable, Sendable, CaseIterable {
        /// Every match on the way was evaluated from the frame's own headers.
        case certain
        /// It rests on `assumptions` (a connection-tracking state taken as NEW).
        case assumed
        /// A match on the way could not be evaluated (`assumptions` says which): the verdict may be another.
        case uncertain
    }
}

/// One walk: the frame, where it crosses, and what was assumed on the way.
private struct Walk {
    let walk: FirewallWalk
    let packet: Packet
    let crossing: FirewallWalk.Crossing
    var path: [String] = []
    var assumptions: [String] = []
    var uncertain = false

    init(walk: FirewallWalk, packet: Packet, crossing: FirewallWalk.Crossing) {
        self.walk = walk
        self.packet = packet
        self.crossing = crossing
    }

    private enum Outcome {
        case accept, `return`, end
        case drop(FirewallDecision)
    }

    /// A base chain of the table at `index`: nil when the frame goes on to the next one (accepted or run to an
    /// accepting policy).
    mutating func base(_ chain: FirewallChain, in index: Int) -> FirewallDecision? {
        path = []
        switch run(chain, in: index, depth: 0) {
        case .drop(let decision): return decision
        case .accept: return nil
        case .return, .end:
            guard chain.policy == .drop else { return nil }
            return decision(.drop, table: walk.tables[index], chain: chain, rule: nil)
        }
    }

    private mutating func run(_ chain: FirewallChain, in index: Int, depth: Int) -> Outcome {
        let table = walk.tables[index]
        path.append(chain.name)
        // A loop of jumps the kernel would refuse to load; a dump edited by hand must not recurse for ever.
        guard depth < 32 else { return .end }
        for rule in chain.rules where matches(rule.matches, family: table.family, rule: rule) {
            if rule.rejects {
                return .drop(decision(.drop, table: table, chain: chain, rule: rule))
            }
            switch rule.verdict?.known {
            case .accept?: return .accept
            case .drop?: return .drop(decision(.drop, table: table, chain: chain, rule: rule))
            case .return?: return .return
            case .jump?, .goto?:
                guard let name = rule.chain, let next = walk.chainsByName[index][name] else { continue }
                let outcome = run(next, in: index, depth: depth + 1)
                switch outcome {
                case .accept, .drop: return outcome
                case .return, .end:
                    path.removeLast()
                    if rule.verdict == .goto { return .return }
                }
            case .queue?:
                note("rule \(rule.handle) in \(chain.name) queues the packet to a program (\(rule.text))")
                return .accept
            case .continue?, nil: continue
            }
        }
        return .end
    }

    func decision(
        _ verdict: FirewallVerdict, table: FirewallTable?, chain: FirewallChain?, rule: FirewallRule?
    ) -> FirewallDecision {
        FirewallDecision(
            verdict: verdict, family: table?.family, table: table?.name, backend: table?.backend, chain: chain?.name,
            rule: rule?.text, handle: rule?.handle, target: rule?.target,
            unconditional: rule.map { $0.matches == RuleMatches() }, path: path,
            certainty: uncertain ? .uncertain : assumptions.isEmpty ? .certain : .assumed,
            assumptions: assumptions.isEmpty ? nil : assumptions, packets: rule.map(\.packets) ?? chain?.packets)
    }

    private mutating func note(_ assumption: String) {
        if !assumptions.contains(assumption) { assumptions.append(assumption) }
    }

    // MARK: matches

    /// Whether every match of the rule holds. One that cannot be evaluated is taken as not matching, and the
    /// verdict becomes uncertain, saying which.
    private mutating func matches(_ matches: RuleMatches, family: FirewallFamily, rule: FirewallRule) -> Bool {
        if let undecoded = matches.undecoded, !undecoded.isEmpty {
            uncertain = true
            note("rule \(rule.handle) (\(rule.text)) has a match kvmtopo does not read: taken as not matching")
            return false
        }
        let bridged = family == .bridge
        // br_netfilter gives iptables the bridge as the in and out device, and the ports as the physdevs.
        let checks: [(Matched<String>?, String?)] = [
            (matches.inInterface, bridged ? crossing.inPort : crossing.bridge),
            (matches.outInterface, bridged ? crossing.outPort : crossing.bridge),
            (matches.physdevIn, bridged ? nil : crossing.inPort),
            (matches.physdevOut, bridged ? nil : crossing.outPort),
        ]
        for (match, device) in checks {
            guard let match else { continue }
            guard let device, Self.interface(match.value, names: device) != match.inverted else { return false }
        }
        for flag in [matches.physdevIsIn, matches.physdevIsOut, matches.physdevIsBridged] {
            // Every one holds for a frame a bridge forwards from a port to a port.
            if let flag, flag.value == flag.inverted { return false }
        }
        if let match = matches.protocol, protocolMatches(match.value, bridged: bridged) == match.inverted {
            return false
        }
        let sourceMAC = packet.ethernet?.source ?? crossing.sourceMAC
        let destinationMAC = packet.ethernet?.destination ?? crossing.destinationMAC
        // ebtables' -s and -d are MACs, iptables' addresses.
        let macs: [(Matched<String>?, String?)] = [
            (matches.sourceMAC, sourceMAC), (matches.destinationMAC, destinationMAC),
        ]
        let sides: [(Matched<String>?, String?)] =
            bridged
            ? [(matches.source, sourceMAC), (matches.destination, destinationMAC)] + macs
            : [(matches.source, packet.ipv4?.source), (matches.destination, packet.ipv4?.destination)] + macs
        for (index, (match, address)) in sides.enumerated() {
            guard let match else { continue }
            guard let address else {
                // Not in the frame (an IPv4 match on ARP) fails; a MAC the capture did not keep is unknown.
                if bridged || index >= 2 {
                    uncertain = true
                    note("the frame's MAC was not captured: rule \(rule.handle) (\(rule.text)) taken as not matching")
                }
                return false
            }
            guard Self.address(address, in: match.value) != match.inverted else { return false }
        }
        let ports = transportPorts
        for (match, port) in [(matches.sourcePorts, ports?.source), (matches.destinationPorts, ports?.destination)] {
            guard let match else { continue }
            guard let port, Self.port(port, in: match.value) != match.inverted else { return false }
        }
        if let match = matches.icmpType {
            guard let icmp = packet.icmp, Self.icmpType(icmp, matches: match.value) != match.inverted else {
                return false
            }
        }
        for set in matches.sets ?? [] {
            guard let held = setHolds(set) else {
                uncertain = true
                note("ipset \(set.name) is not in the dump: rule \(rule.handle) taken as not matching")
                return false
            }
            if held == set.inverted { return false }
        }
        if let state = matches.state {
            // The capture cannot say what conntrack holds: a lost packet whose flow was never answered is NEW.
            note("connection tracking state NEW (no reply to this flow was seen)")
            if state.value.contains(.new) == state.inverted { return false }
        }
        let arpFields = [
            matches.arpOperation, matches.arpSourceIP, matches.arpDestinationIP, matches.arpSourceMAC,
            matches.arpDestinationMAC,
        ]
        if arpFields.contains(where: { $0 != nil }), packet.arp != nil {
            uncertain = true
            note("rule \(rule.handle) (\(rule.text)) matches ARP fields, not evaluated: taken as not matching")
            return false
        }
        return true
    }

    private var transportPorts: (source: Int, destination: Int)? {
        if let udp = packet.udp { return (Int(udp.sourcePort), Int(udp.destinationPort)) }
        if let tcp = packet.tcp { return (Int(tcp.sourcePort), Int(tcp.destinationPort)) }
        return nil
    }

    private func protocolMatches(_ name: String, bridged: Bool) -> Bool {
        if bridged {
            // A cooked capture has no Ethernet header: the network layer decoded says what it carried.
            let decoded: UInt16? =
                packet.ipv4 != nil ? 0x0800 : packet.ipv6 != nil ? 0x86dd : packet.arp != nil ? 0x0806 : nil
            guard let type = packet.ethernet?.etherType ?? decoded else { return false }
            // ebtables' names (IPv4) or nft's (ip).
            return Protocols.etherType(Int(type)).lowercased() == name.lowercased()
                || Protocols.nftEtherType(Int(type)) == name.lowercased()
        }
        guard let number = packet.ipv4?.protocolNumber ?? packet.ipv6?.nextHeader else { return false }
        return name == "all" || Protocols.name(Int(number)) == name || String(number) == name
    }

    /// An ipset's answer for the frame's addresses, by the set's directions; nil when the set is not dumped.
    private func setHolds(_ set: SetMatch) -> Bool? {
        guard let ipset = walk.ipsets[set.name] else { return nil }
        let addresses = set.directions.map { $0 == .source ? packet.ipv4?.source : packet.ipv4?.destination }
        guard let address = addresses.first ?? nil else { return false }
        return ipset.members.contains { $0 == address || AddressPrefix($0)?.contains(address) == true }
    }

    /// `-i vnet+` is a prefix.
    static func interface(_ pattern: String, names device: String) -> Bool {
        pattern.hasSuffix("+") ? device.hasPrefix(pattern.dropLast()) : device == pattern
    }

    /// "10.0.0.0/8", "10.1.1.23", "10.1.1.1-10.1.1.9", or a MAC.
    static func address(_ address: String, in pattern: String) -> Bool {
        if address.contains(":") { return address.lowercased() == pattern.lowercased() }
        let ends = pattern.split(separator: "-", maxSplits: 1).map(String.init)
        if ends.count == 2, let low = AddressPrefix.number(ends[0]), let high = AddressPrefix.number(ends[1]),
            let value = AddressPrefix.number(address)
        {
            return (low...high).contains(value)
        }
        return AddressPrefix(pattern)?.contains(address) ?? (pattern == address)
    }

    /// "22", "8000:8080", "22,80,443:445".
    static func port(_ port: Int, in pattern: String) -> Bool {
        pattern.split(separator: ",").contains { item in
            let ends = item.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
            switch ends.count {
            case 1: return ends[0] == port
            case 2: return (ends[0] ?? 0) <= port && port <= (ends[1] ?? 65535)
            default: return false
            }
        }
    }

    /// "any", a type ("8"), "type/code", or a name iptables prints ("echo-request").
    static func icmpType(_ icmp: ICMP, matches pattern: String) -> Bool {
        if pattern == "any" { return true }
        let parts = pattern.split(separator: "/").map(String.init)
        let type = parts.first.flatMap { Int($0) ?? icmpNames[$0] }
        guard let type, type == Int(icmp.type) else { return false }
        return parts.count < 2 || Int(parts[1]) == Int(icmp.code)
    }

    private static let icmpNames = [
        "echo-reply": 0, "destination-unreachable": 3, "redirect": 5, "echo-request": 8, "time-exceeded": 11,
    ]
}
