import Topology

/// nftables objects as the kernel dumps them (through libnftnl, in the Nftables module), before they are read
/// back into the rules an operator wrote. Recorded ones make the reader testable anywhere.
public struct NftTable: Sendable, Equatable {
    public var family: FirewallFamily
    public var name: String

    public init(family: FirewallFamily, name: String) {
        self.family = family
        self.name = name
    }
}

public struct NftChain: Sendable, Equatable {
    public var family: FirewallFamily
    public var table: String
    public var name: String
    public var hook: FirewallHook?
    public var priority: Int?
    public var type: String?
    public var policy: FirewallVerdict?
    public var packets: Int?
    public var bytes: Int?

    public init(
        family: FirewallFamily, table: String, name: String, hook: FirewallHook? = nil, priority: Int? = nil,
        type: String? = nil, policy: FirewallVerdict? = nil, packets: Int? = nil, bytes: Int? = nil
    ) {
        self.family = family
        self.table = table
        self.name = name
        self.hook = hook
        self.priority = priority
        self.type = type
        self.policy = policy
        self.packets = packets
        self.bytes = bytes
    }
}

public struct NftRule: Sendable, Equatable {
    public var family: FirewallFamily
    public var table: String
    public var chain: String
    public var handle: Int
    public var expressions: [NftExpression]
    /// NFTA_RULE_USERDATA: nft's comment, ebtables-nft's marker of a user chain's policy.
    public var userdata: [UInt8]

    public init(
        family: FirewallFamily, table: String, chain: String, handle: Int, expressions: [NftExpression],
        userdata: [UInt8] = []
    ) {
        self.family = family
        self.table = table
        self.chain = chain
        self.handle = handle
        self.expressions = expressions
        self.userdata = userdata
    }
}

public struct NftSet: Sendable, Equatable {
    public var family: FirewallFamily
    public var table: String
    public var name: String
    /// nft's key type (datatype id) and key length in bytes.
    public var keyType: Int
    public var keyLength: Int
    /// Keys as the kernel holds them (interval sets: the start of each interval, flagged ends left out).
    public var elements: [[UInt8]]

    public init(family: FirewallFamily, table: String, name: String, keyType: Int, keyLength: Int, elements: [[UInt8]])
    {
        self.family = family
        self.table = table
        self.name = name
        self.keyType = keyType
        self.keyLength = keyLength
        self.elements = elements
    }
}

/// One expression of a rule, with the attributes kvmtopo reads; registers are nftables' data registers.
public enum NftExpression: Sendable, Equatable {
    case meta(NftMetaKey, register: Int)
    case payload(NftPayloadBase, offset: Int, length: Int, register: Int)
    case compare(register: Int, NftComparison, data: [UInt8])
    case range(register: Int, inverted: Bool, from: [UInt8], to: [UInt8])
    case bitwise(source: Int, destination: Int, mask: [UInt8], xor: [UInt8])
    case verdict(FirewallVerdict, chain: String?)
    case counter(packets: Int, bytes: Int)
    case conntrack(NftConntrackKey, register: Int)
    case lookup(set: String, register: Int, inverted: Bool)
    /// An xtables match or target (iptables-nft's compat expressions): its option bytes are the kernel's
    /// `xt_*_info` struct for that extension and revision.
    case match(name: String, revision: Int, info: [UInt8])
    case target(name: String, revision: Int, info: [UInt8])
    /// `limit`: rate per `unitSeconds`, burst; in bytes rather than packets when `bytes`.
    case limit(rate: Int, unitSeconds: Int, burst: Int, bytes: Bool, inverted: Bool)
    case log(prefix: String?, group: Int?)
    case reject(type: Int, code: Int)
    /// Anything else, by its expression name: kept and shown, never dropped.
    case other(String)
}

public enum NftMetaKey: Sendable, Equatable {
    case length, `protocol`, nfproto, l4proto, mark, iif, oif, iifname, oifname, bridgeIifname, bridgeOifname
    case pkttype
    case other(Int)
}

public enum NftPayloadBase: Sendable, Equatable {
    case link, network, transport, inner
}

public enum NftComparison: Sendable, Equatable {
    case equal, notEqual, less, lessOrEqual, greater, greaterOrEqual
}

public enum NftConntrackKey: Sendable, Equatable {
    case state, direction, status, mark
    case other(Int)
}
