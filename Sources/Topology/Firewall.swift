/// The host's packet filter as the kernel holds it, read without changing it: nftables' tables (where
/// iptables-nft and ebtables-nft write too) and the legacy xtables ones, each chain with its rules read back into
/// the rule an operator wrote.
/// Absent in dumps made before kvmtopo read the firewall, or when it could not (`host.sources.firewall` says why).
public struct Firewall: Codable, Equatable, Sendable {
    /// The backends holding rules on this host.
    public var backends: [FirewallBackend]
    public var tables: [FirewallTable]
    /// The kernel's ipsets (what `-m set` matches look up), with their members.
    public var ipsets: [IPSet]
    /// Connection tracking's fill level: when the table is full, new flows are dropped.
    public var conntrack: ConntrackUsage?
    /// The CloudStack agent's records of the security groups it wrote (`/var/run/cloud/*.log`).
    public var agentRecords: [SecurityGroupRecord]?

    public init(
        backends: [FirewallBackend], tables: [FirewallTable], ipsets: [IPSet] = [], conntrack: ConntrackUsage? = nil
    ) {
        self.backends = backends
        self.tables = tables
        self.ipsets = ipsets
        self.conntrack = conntrack
    }
}

/// One ipset: its type (hash:ip, hash:net, …), family (inet, inet6) and members as `ipset list` prints them.
public struct IPSet: Codable, Equatable, Sendable {
    public var name: String
    public var type: String
    public var family: IPSetFamily
    public var members: [String]
    /// How many rules refer to it.
    public var references: Int?

    public init(name: String, type: String, family: IPSetFamily, members: [String], references: Int? = nil) {
        self.name = name
        self.type = type
        self.family = family
        self.members = members
        self.references = references
    }
}

/// An ipset's address family, as `ipset list` names it.
public struct IPSetFamily: Vocabulary {
    public enum Known: String, CaseIterable, Sendable { case inet, inet6 }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let inet = Self(.inet), inet6 = Self(.inet6)
}

/// Where rules live: nftables, or the legacy xtables tables of the kernel's older interface.
public struct FirewallBackend: Vocabulary {
    public enum Known: String, CaseIterable, Sendable {
        case nft
        case iptablesLegacy = "iptables-legacy"
        case ip6tablesLegacy = "ip6tables-legacy"
        case ebtablesLegacy = "ebtables-legacy"
    }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let nft = Self(.nft), iptablesLegacy = Self(.iptablesLegacy)
    public static let ip6tablesLegacy = Self(.ip6tablesLegacy), ebtablesLegacy = Self(.ebtablesLegacy)
}

/// nftables' address families (the `ip`, `ip6`, `inet`, `bridge`, `arp` and `netdev` of `nft list tables`).
public struct FirewallFamily: Vocabulary {
    public enum Known: String, CaseIterable, Sendable { case ip, ip6, inet, bridge, arp, netdev }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let ip = Self(.ip), ip6 = Self(.ip6), inet = Self(.inet), bridge = Self(.bridge)
    public static let arp = Self(.arp), netdev = Self(.netdev)
}

/// The netfilter hook a base chain is attached to.
public struct FirewallHook: Vocabulary {
    public enum Known: String, CaseIterable, Sendable { case prerouting, input, forward, output, postrouting, ingress }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let prerouting = Self(.prerouting), input = Self(.input), forward = Self(.forward)
    public static let output = Self(.output), postrouting = Self(.postrouting), ingress = Self(.ingress)
}

/// What a rule or a chain's policy does with a packet.
public struct FirewallVerdict: Vocabulary {
    public enum Known: String, CaseIterable, Sendable {
        case accept, drop, queue, `continue`, `return`, jump, goto
    }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let accept = Self(.accept), drop = Self(.drop), queue = Self(.queue)
    public static let `continue` = Self(.continue), `return` = Self(.return), jump = Self(.jump), goto = Self(.goto)
}

public struct FirewallTable: Codable, Equatable, Sendable {
    public var family: FirewallFamily
    public var name: String
    public var backend: FirewallBackend
    public var chains: [FirewallChain]
    /// Named nftables sets (ipsets are not these: see the ipset matches of the rules).
    public var sets: [FirewallSet]

    public init(
        family: FirewallFamily, name: String, backend: FirewallBackend, chains: [FirewallChain],
        sets: [FirewallSet] = []
    ) {
        self.family = family
        self.name = name
        self.backend = backend
        self.chains = chains
        self.sets = sets
    }
}

public struct FirewallChain: Codable, Equatable, Sendable {
    public var name: String
    /// Set for a base chain (one the kernel calls): its hook, priority and policy.
    public var hook: FirewallHook?
    public var priority: Int?
    /// nftables' chain type: filter, nat or route.
    public var type: String?
    public var policy: FirewallVerdict?
    /// The policy's counters (packets that reached the end of a base chain).
    public var packets: Int?
    public var bytes: Int?
    public var rules: [FirewallRule]

    public init(
        name: String, hook: FirewallHook? = nil, priority: Int? = nil, type: String? = nil,
        policy: FirewallVerdict? = nil, packets: Int? = nil, bytes: Int? = nil, rules: [FirewallRule] = []
    ) {
        self.name = name
        self.hook = hook
        self.priority = priority
        self.type = type
        self.policy = policy
        self.packets = packets
        self.bytes = bytes
        self.rules = rules
    }
}

public struct FirewallRule: Codable, Equatable, Sendable {
    /// nftables' rule handle (stable while the rule exists); in a legacy table, the rule's position from 1.
    public var handle: Int
    /// The rule as an operator reads it: iptables-save or ebtables-save style (without `-A CHAIN`) for tables of
    /// iptables-nft and ebtables-nft, nft syntax for native ones. What kvmtopo cannot read is shown in brackets
    /// (`[expr fib]`, `-m NAME [options not decoded]`) and listed in `matches.undecoded`.
    public var text: String
    public var matches: RuleMatches
    /// accept, drop, return, jump or goto; absent when the rule only logs, counts or calls a target.
    public var verdict: FirewallVerdict?
    /// The chain a jump or goto goes to.
    public var chain: String?
    /// An extension target other than a plain verdict (`REJECT --reject-with tcp-reset`, `LOG --log-prefix x`).
    public var target: String?
    public var comment: String?
    public var packets: Int?
    public var bytes: Int?

    /// A REJECT target: the packet is dropped (and answered).
    public var rejects: Bool { target?.hasPrefix("REJECT") == true }
    /// What the rule does ends the packet: DROP, or REJECT.
    public var drops: Bool { verdict == .drop || rejects }

    public init(
        handle: Int, text: String, matches: RuleMatches = RuleMatches(), verdict: FirewallVerdict? = nil,
        chain: String? = nil, target: String? = nil, comment: String? = nil, packets: Int? = nil, bytes: Int? = nil
    ) {
        self.handle = handle
        self.text = text
        self.matches = matches
        self.verdict = verdict
        self.chain = chain
        self.target = target
        self.comment = comment
        self.packets = packets
        self.bytes = bytes
    }
}

/// What a rule matches, field by field (each absent when the rule does not look at it). In the dump each field
/// is its plain value, and `inverted` lists the fields whose match is negated: a rule's matches take a line each,
/// so a host with 60,000 rules writes a third less than with an object per field.
public struct RuleMatches: Codable, Equatable, Sendable {
    /// `-i` / `-o` (a trailing `+` is a prefix).
    public var inInterface: Matched<String>? {
        get { self[.inInterface] }
        set { self[.inInterface] = newValue }
    }
    public var outInterface: Matched<String>? {
        get { self[.outInterface] }
        set { self[.outInterface] = newValue }
    }
    /// `-m physdev`: the bridge port a bridged packet came in by or leaves by.
    public var physdevIn: Matched<String>? {
        get { self[.physdevIn] }
        set { self[.physdevIn] = newValue }
    }
    public var physdevOut: Matched<String>? {
        get { self[.physdevOut] }
        set { self[.physdevOut] = newValue }
    }
    public var physdevIsIn: Matched<Bool>?
    public var physdevIsOut: Matched<Bool>?
    public var physdevIsBridged: Matched<Bool>?
    /// `-p`: a protocol name (tcp, udp, icmp, ipv6-icmp, …) or number; for ebtables the EtherType (ARP, IPv4).
    public var `protocol`: Matched<String>? {
        get { self[.`protocol`] }
        set { self[.`protocol`] = newValue }
    }
    /// Addresses with their prefix length ("10.0.0.0/8"), or a range ("10.1.1.1-10.1.1.9").
    public var source: Matched<String>? {
        get { self[.source] }
        set { self[.source] = newValue }
    }
    public var destination: Matched<String>? {
        get { self[.destination] }
        set { self[.destination] = newValue }
    }
    /// Port lists and ranges ("22", "22:30", "80,443").
    public var sourcePorts: Matched<String>? {
        get { self[.sourcePorts] }
        set { self[.sourcePorts] = newValue }
    }
    public var destinationPorts: Matched<String>? {
        get { self[.destinationPorts] }
        set { self[.destinationPorts] = newValue }
    }
    public var sourceMAC: Matched<String>? {
        get { self[.sourceMAC] }
        set { self[.sourceMAC] = newValue }
    }
    public var destinationMAC: Matched<String>? {
        get { self[.destinationMAC] }
        set { self[.destinationMAC] = newValue }
    }
    /// `--icmp-type` / `--icmpv6-type`: "any", a type, or "type/code".
    public var icmpType: Matched<String>? {
        get { self[.icmpType] }
        set { self[.icmpType] = newValue }
    }
    /// ipsets (`-m set --match-set NAME src`) and nftables sets (`ip saddr @NAME`).
    public var sets: [SetMatch]?
    /// Connection tracking states (NEW, ESTABLISHED, RELATED, INVALID, UNTRACKED).
    public var state: Matched<[ConntrackState]>?
    /// ARP fields (ebtables --arp-*).
    public var arpOperation: Matched<String>? {
        get { self[.arpOperation] }
        set { self[.arpOperation] = newValue }
    }
    public var arpSourceIP: Matched<String>? {
        get { self[.arpSourceIP] }
        set { self[.arpSourceIP] = newValue }
    }
    public var arpDestinationIP: Matched<String>? {
        get { self[.arpDestinationIP] }
        set { self[.arpDestinationIP] = newValue }
    }
    public var arpSourceMAC: Matched<String>? {
        get { self[.arpSourceMAC] }
        set { self[.arpSourceMAC] = newValue }
    }
    public var arpDestinationMAC: Matched<String>? {
        get { self[.arpDestinationMAC] }
        set { self[.arpDestinationMAC] = newValue }
    }
    /// Expressions or extension options kvmtopo kept without reading them ("expr fib", "match quota").
    public var undecoded: [String]?

    /// The string matches a rule has, ordered by field: a rule matches on two or three of seventeen, and a host has
    /// tens of thousands of rules (a slot for every field made each rule 560 bytes, its pages a tenth of reading
    /// them). Kept in the keys' order, so that equal matches are equal arrays and the dump writes them as they are.
    private(set) var texts: [Text] = []

    struct Text: Equatable, Sendable {
        var field: TextField
        var match: Matched<String>
    }

    /// The string fields, in the order of their keys.
    enum TextField: Int, CaseIterable {
        case arpDestinationIP, arpDestinationMAC, arpOperation, arpSourceIP, arpSourceMAC, destination
        case destinationMAC, destinationPorts, icmpType, inInterface, outInterface, physdevIn, physdevOut
        case `protocol`, source, sourceMAC, sourcePorts

        /// A switch, not a table: a shared array is retained and released on every call, from every thread
        /// writing the dump.
        var key: CodingKeys {
            switch self {
            case .arpDestinationIP: .arpDestinationIP
            case .arpDestinationMAC: .arpDestinationMAC
            case .arpOperation: .arpOperation
            case .arpSourceIP: .arpSourceIP
            case .arpSourceMAC: .arpSourceMAC
            case .destination: .destination
            case .destinationMAC: .destinationMAC
            case .destinationPorts: .destinationPorts
            case .icmpType: .icmpType
            case .inInterface: .inInterface
            case .outInterface: .outInterface
            case .physdevIn: .physdevIn
            case .physdevOut: .physdevOut
            case .protocol: .protocol
            case .source: .source
            case .sourceMAC: .sourceMAC
            case .sourcePorts: .sourcePorts
            }
        }
    }

    private subscript(field: TextField) -> Matched<String>? {
        get { texts.first { $0.field == field }?.match }
        set {
            let position = texts.firstIndex { $0.field.rawValue >= field.rawValue } ?? texts.endIndex
            if position < texts.endIndex, texts[position].field == field {
                if let newValue { texts[position].match = newValue } else { texts.remove(at: position) }
            } else if let newValue {
                texts.insert(Text(field: field, match: newValue), at: position)
            }
        }
    }

    public init() {}

    enum CodingKeys: String, CodingKey {
        case arpDestinationIP, arpDestinationMAC, arpOperation, arpSourceIP, arpSourceMAC, destination
        case destinationMAC, destinationPorts, icmpType, inInterface, inverted, outInterface, physdevIn
        case physdevIsBridged, physdevIsIn, physdevIsOut, physdevOut, `protocol`, sets, source, sourceMAC
        case sourcePorts, state, undecoded
    }

    /// The fields that hold a flag (those that hold a string are `TextField`'s), read through a switch rather than
    /// a table of key paths: the dump asks it of every rule, on every thread, and each use of a shared table
    /// retained and released it.
    enum FlagField: CaseIterable {
        case physdevIsBridged, physdevIsIn, physdevIsOut

        var key: CodingKeys {
            switch self {
            case .physdevIsBridged: .physdevIsBridged
            case .physdevIsIn: .physdevIsIn
            case .physdevIsOut: .physdevIsOut
            }
        }
    }

    private subscript(flag: FlagField) -> Matched<Bool>? {
        get {
            switch flag {
            case .physdevIsBridged: physdevIsBridged
            case .physdevIsIn: physdevIsIn
            case .physdevIsOut: physdevIsOut
            }
        }
        set {
            switch flag {
            case .physdevIsBridged: physdevIsBridged = newValue
            case .physdevIsIn: physdevIsIn = newValue
            case .physdevIsOut: physdevIsOut = newValue
            }
        }
    }

    /// The keys of the negated fields, sorted; nil when none is. The dump asks it of every rule: a rule that
    /// negates nothing (most) is answered without building anything.
    var invertedKeys: [String]? {
        var keys: [String]?
        for text in texts where text.match.inverted { keys = (keys ?? []) + [text.field.key.rawValue] }
        for flag in FlagField.allCases where self[flag]?.inverted == true {
            keys = (keys ?? []) + [flag.key.rawValue]
        }
        if state?.inverted == true { keys = (keys ?? []) + [CodingKeys.state.rawValue] }
        return keys?.sorted()
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let inverted = Set(try container.decodeIfPresent([String].self, forKey: .inverted) ?? [])
        for field in TextField.allCases {
            self[field] = try container.decodeIfPresent(String.self, forKey: field.key).map {
                Matched($0, inverted: inverted.contains(field.key.rawValue))
            }
        }
        for flag in FlagField.allCases {
            self[flag] = try container.decodeIfPresent(Bool.self, forKey: flag.key).map {
                Matched($0, inverted: inverted.contains(flag.key.rawValue))
            }
        }
        state = try container.decodeIfPresent([ConntrackState].self, forKey: .state).map {
            Matched($0, inverted: inverted.contains(CodingKeys.state.rawValue))
        }
        sets = try container.decodeIfPresent([SetMatch].self, forKey: .sets)
        undecoded = try container.decodeIfPresent([String].self, forKey: .undecoded)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        for text in texts { try container.encode(text.match.value, forKey: text.field.key) }
        for flag in FlagField.allCases { try container.encodeIfPresent(self[flag]?.value, forKey: flag.key) }
        try container.encodeIfPresent(state?.value, forKey: .state)
        try container.encodeIfPresent(invertedKeys, forKey: .inverted)
        try container.encodeIfPresent(sets, forKey: .sets)
        try container.encodeIfPresent(undecoded, forKey: .undecoded)
    }
}

/// A matched value and whether the match is negated (`!`).
public struct Matched<Value: Equatable & Sendable>: Equatable, Sendable {
    public var value: Value
    public var inverted: Bool

    public init(_ value: Value, inverted: Bool = false) {
        self.value = value
        self.inverted = inverted
    }
}

/// A connection tracking state a rule matches (`-m conntrack --ctstate`, `ct state`), as iptables-save names it.
public struct ConntrackState: Vocabulary {
    public enum Known: String, CaseIterable, Sendable {
        case new = "NEW"
        case established = "ESTABLISHED"
        case related = "RELATED"
        case invalid = "INVALID"
        case untracked = "UNTRACKED"
        case snat = "SNAT"
        case dnat = "DNAT"
    }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let new = Self(.new), established = Self(.established), related = Self(.related)
    public static let invalid = Self(.invalid), untracked = Self(.untracked), snat = Self(.snat), dnat = Self(.dnat)
}

public struct SetMatch: Codable, Equatable, Sendable {
    /// Which of the packet's addresses (or ports, MACs) a dimension of the set is looked up by.
    public enum Direction: String, Codable, Sendable {
        case source = "src"
        case destination = "dst"
    }

    public var name: String
    /// Per dimension of the set, as `--match-set NAME src,dst` says.
    public var directions: [Direction]
    public var inverted: Bool

    public init(name: String, directions: [Direction], inverted: Bool = false) {
        self.name = name
        self.directions = directions
        self.inverted = inverted
    }
}

/// A named nftables set and its elements as text.
public struct FirewallSet: Codable, Equatable, Sendable {
    public var name: String
    public var elements: [String]

    public init(name: String, elements: [String]) {
        self.name = name
        self.elements = elements
    }
}

public struct ConntrackUsage: Codable, Equatable, Sendable {
    public var count: Int
    public var max: Int

    public init(count: Int, max: Int) {
        self.count = count
        self.max = max
    }
}
