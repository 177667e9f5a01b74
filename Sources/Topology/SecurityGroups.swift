/// What the firewall does on one bridge, as the CloudStack model reads it from `firewall`.
public struct BridgeFirewall: Codable, Equatable, Sendable {
    /// Whether bridged IPv4 on it meets iptables at all (br_netfilter loaded, bridge-nf-call-iptables on).
    public var filtered: Bool
    /// CloudStack's bridge framework, when the agent laid it down for this bridge.
    public var framework: BridgeFramework?
    /// Rules outside the framework that name the bridge (`-i`/`-o`, iifname/oifname).
    public var rules: [RuleReference]?

    public init(filtered: Bool, framework: BridgeFramework? = nil, rules: [RuleReference]? = nil) {
        self.filtered = filtered
        self.framework = framework
        self.rules = rules
    }

    /// Security groups take effect on the bridge: its traffic meets iptables, and FORWARD sends it both ways to
    /// the framework's `-IN` and `-OUT` chains.
    public var enforced: Bool {
        guard filtered, let framework else { return false }
        return framework.forward.contains(.in) && framework.forward.contains(.out) && framework.hasInChain
            && framework.hasOutChain
    }
}

/// security_group.py's chains for one bridge: FORWARD → `BF-<bridge>` → `-IN` (from a VM) and `-OUT` (to a VM),
/// and the rule that lets the uplink's traffic through.
public struct BridgeFramework: Codable, Equatable, Sendable {
    /// `BF-<bridge>`, in the table `table` names.
    public var chain: String
    /// "ip filter (nft)" or "filter (iptables-legacy)": where the chains are.
    public var table: String
    /// Which FORWARD jumps to it exist: `in` for `-i <bridge>`, `out` for `-o <bridge>`.
    public var forward: [JumpDirection]
    public var hasInChain: Bool
    public var hasOutChain: Bool
    /// The device the `--physdev-out DEVICE -j ACCEPT` rule names: it must be the bridge's uplink.
    public var uplinkAccept: String?

    public init(
        chain: String, table: String, forward: [JumpDirection], hasInChain: Bool, hasOutChain: Bool,
        uplinkAccept: String? = nil
    ) {
        self.chain = chain
        self.table = table
        self.forward = forward
        self.hasInChain = hasInChain
        self.hasOutChain = hasOutChain
        self.uplinkAccept = uplinkAccept
    }
}

/// One NIC's security group as the agent laid it out for its tap.
public struct SecurityGroup: Codable, Equatable, Sendable {
    /// The chain the bridge framework jumps to for the tap: `i-2-10-def` for a user VM, the VM's own name for a
    /// router or system VM.
    public var chain: String
    /// The chain named for this VM, when the tap jumps to another VM's (the rules of the wrong VM apply).
    public var expectedChain: String?
    /// Which jumps exist for the tap: `in` (its traffic, `BF-<bridge>-IN --physdev-in`), `out` (to it).
    public var directions: [JumpDirection]
    /// The rules for traffic to the VM (chain `i-2-10-VM`) and from it (`i-2-10-VM-eg`).
    public var ingress: SecurityGroupRules?
    public var egress: SecurityGroupRules?
    /// The ipsets the chain checks the VM's addresses against (anti IP spoofing), with their members.
    public var addressSets: [SecurityGroupAddressSet]?
    /// ebtables' anti-spoofing for the tap: what the VM may send as its MAC and in ARP.
    public var antiSpoofing: AntiSpoofing?
    /// Packets and bytes the jumps to the chain counted (what met the security group).
    public var packets: Int?
    public var bytes: Int?

    public init(chain: String, directions: [JumpDirection]) {
        self.chain = chain
        self.directions = directions
    }
}

/// An ingress or egress chain: the traffic it allows, and what happens to the rest.
public struct SecurityGroupRules: Codable, Equatable, Sendable {
    public var chain: String
    public var rules: [SecurityGroupRule]
    /// The chain's last rule when it matches everything (DROP, or RETURN when all is allowed); absent when the
    /// chain falls through.
    public var final: FirewallVerdict?
    public var finalPackets: Int?

    public init(chain: String, rules: [SecurityGroupRule], final: FirewallVerdict? = nil, finalPackets: Int? = nil) {
        self.chain = chain
        self.rules = rules
        self.final = final
        self.finalPackets = finalPackets
    }

    /// An egress chain whose only rule lets everything out.
    public var allowsAll: Bool { rules.isEmpty && (final == .return || final == .accept || final == nil) }
}

/// One rule of a security group: protocol, ports and the CIDR it allows from (ingress) or to (egress).
public struct SecurityGroupRule: Codable, Equatable, Sendable {
    public var handle: Int
    public var `protocol`: String?
    /// "22", "22:30", "80,443"
    public var ports: String?
    /// `--icmp-type`: "any", "8", "8/0".
    public var icmpType: String?
    /// The peer's address or network; absent for anywhere.
    public var cidr: String?
    /// An ipset of peers (`-m set --match-set NAME src`).
    public var set: String?
    public var verdict: FirewallVerdict?
    public var packets: Int?
    public var bytes: Int?

    public init(handle: Int, verdict: FirewallVerdict?) {
        self.handle = handle
        self.verdict = verdict
    }
}

/// An ipset a security group checks a VM's address against, and the NIC's known addresses it lacks.
public struct SecurityGroupAddressSet: Codable, Equatable, Sendable {
    public var name: String
    /// Absent when no ipset of that name exists.
    public var members: [String]?
    /// The NIC's known addresses (learned, or the agent's record) the set does not hold: their traffic is
    /// dropped as spoofed.
    public var missing: [String]?

    public init(name: String, members: [String]?, missing: [String]? = nil) {
        self.name = name
        self.members = members
        self.missing = missing
    }
}

/// ebtables' anti-spoofing chains for one tap (table `bridge nat`, chains `i-2-10-VM-in`, `-in-src`, `-in-ips`).
public struct AntiSpoofing: Codable, Equatable, Sendable {
    /// The chains PREROUTING jumps to for the tap, and those they jump to.
    public var chains: [String]
    /// The source MACs and ARP sender addresses allowed through.
    public var macs: [String]
    public var ips: [String]

    public init(chains: [String], macs: [String], ips: [String]) {
        self.chains = chains
        self.macs = macs
        self.ips = ips
    }
}

/// A rule of the firewall by where it is, with what it does: for rules that name a VM's tap or a bridge.
public struct RuleReference: Codable, Equatable, Sendable {
    /// "ip filter", "bridge nat", "inet firewalld", with the backend: "filter (iptables-legacy)".
    public var table: String
    public var chain: String
    public var handle: Int
    public var text: String
    public var verdict: FirewallVerdict?
    public var packets: Int?

    public init(table: String, chain: String, handle: Int, text: String, verdict: FirewallVerdict?, packets: Int?) {
        self.table = table
        self.chain = chain
        self.handle = handle
        self.text = text
        self.verdict = verdict
        self.packets = packets
    }
}

/// The agent's record of the rules it wrote for one VM (`/var/run/cloud/<vm>.log`:
/// name,vmid,ip,domid,signature,seqno).
public struct SecurityGroupRecord: Codable, Equatable, Sendable {
    public var vm: String
    public var vmID: Int?
    public var ip: String?
    /// The libvirt domain id the rules were written for: a running domain with another id was restarted
    /// without its rules being redone.
    public var domainID: Int?
    public var signature: String?
    public var sequence: Int?

    public init(
        vm: String, vmID: Int? = nil, ip: String? = nil, domainID: Int? = nil, signature: String? = nil,
        sequence: Int? = nil
    ) {
        self.vm = vm
        self.vmID = vmID
        self.ip = ip
        self.domainID = domainID
        self.signature = signature
        self.sequence = sequence
    }
}

extension FirewallTable {
    /// How the table is named to an operator: "ip filter" for nftables, "filter (iptables-legacy)" otherwise.
    public var displayName: String {
        backend == .nft ? "\(family) \(name)" : "\(name) (\(backend))"
    }

    /// Whether the table is the one iptables' (or ip6tables') filter commands write: `ip filter` in nftables, or a
    /// legacy `filter`.
    public var isIPFilter: Bool {
        name == "filter" && (family == .ip || family == .ip6) && backend != .ebtablesLegacy
    }
}

extension Matched<String> {
    /// Whether an interface match, not inverted, names the device (`vnet+` names every device starting `vnet`).
    public func names(_ device: String) -> Bool {
        guard !inverted else { return false }
        return value.hasSuffix("+") ? device.hasPrefix(value.dropLast()) : value == device
    }
}

extension FirewallRule {
    public func jumps(to chain: String) -> Bool { (verdict == .jump || verdict == .goto) && self.chain == chain }

    /// The devices the rule names, not inverted, as interface or bridge port (`vnet+` for a prefix).
    public var namedDevices: [String] {
        [matches.inInterface, matches.outInterface, matches.physdevIn, matches.physdevOut].compactMap { match in
            match.flatMap { $0.inverted ? nil : $0.value }
        }
    }

    /// Whether the rule names the device, not inverted, as interface or bridge port.
    public func mentions(_ device: String) -> Bool {
        namedDevices.contains { Matched($0).names(device) }
    }
}

/// Which way a jump to a security-group chain takes traffic: `in` to the chain for what comes in on the bridge or
/// tap (`-i`, `--physdev-in`: the VM's own traffic at its tap), `out` for what leaves by it.
public enum JumpDirection: String, Codable, Sendable {
    case `in`, out
}
