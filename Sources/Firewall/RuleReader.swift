import Packets
import Topology

/// Reads nftables' rules back into the rules an operator wrote. iptables-nft and ebtables-nft write most of a
/// rule as native expressions in a few idioms (a meta or payload load into a register, a bitwise mask, a compare)
/// and the rest as xtables compat expressions; the reader follows the registers and prints the rule as
/// iptables-save or ebtables-save would for their tables, and in nft's terms for native ones.
public struct RuleReader: Sendable {
    /// ipset names by index, for `-m set` (whose options name the set by index only).
    let ipsetNames: [Int: String]

    public init(ipsetNames: [Int: String] = [:]) { self.ipsetNames = ipsetNames }

    /// Tables in the kernel's order, each with its chains in the order of `chains` (each beside what `chain(_:rules:)`
    /// read of it) and its sets.
    public static func firewall(
        tables: [NftTable], chains: [(NftChain, FirewallChain)], sets: [NftSet], conntrack: ConntrackUsage? = nil
    ) -> Firewall {
        let read = tables.map { table in
            FirewallTable(
                family: table.family, name: table.name, backend: .nft,
                chains: chains.filter { $0.0.family == table.family && $0.0.table == table.name }.map(\.1),
                sets: sets.filter { $0.family == table.family && $0.table == table.name }.map { set in
                    FirewallSet(name: set.name, elements: set.elements.map { Self.element($0, keyType: set.keyType) })
                })
        }
        return Firewall(backends: read.isEmpty ? [] : [.nft], tables: read, conntrack: conntrack)
    }

    /// One chain with its rules (as one rule dump of that chain gave them) read.
    public func chain(_ chain: NftChain, rules: [NftRule]) -> FirewallChain {
        let style = Style(family: chain.family, table: chain.table)
        var read = FirewallChain(
            name: chain.name, hook: chain.hook, priority: chain.priority, type: chain.type, policy: chain.policy,
            packets: chain.packets, bytes: chain.bytes)
        read.rules.reserveCapacity(rules.count)
        for rule in rules {
            // ebtables-nft gives a user chain its policy as a last rule marked in its userdata.
            if style == .ebtables, let policy = Self.ebtablesPolicy(rule) {
                read.policy = policy.verdict
                read.packets = policy.packets
                read.bytes = policy.bytes
                continue
            }
            read.rules.append(self.rule(rule, style: style))
        }
        return read
    }

    /// How a table's rules are written: by the tool that owns such tables.
    enum Style {
        case iptables, ebtables, nft

        init(family: FirewallFamily, table: String) {
            switch family.known {
            case .ip?, .ip6?: self = ["filter", "nat", "mangle", "raw", "security"].contains(table) ? .iptables : .nft
            case .bridge?: self = ["filter", "nat", "broute"].contains(table) ? .ebtables : .nft
            case .arp?, .inet?, .netdev?, nil: self = .nft
            }
        }
    }

    /// One rule read: its text in the table's style, its matches, what it does and its counters.
    func rule(_ rule: NftRule, style: Style) -> FirewallRule {
        var reading = Reading(
            style: style, family: rule.family,
            extensions: ExtensionReader(ipsetNames: ipsetNames, ipv6: rule.family == .ip6))
        for expression in rule.expressions { reading.read(expression) }
        reading.finishPortBound()
        if let comment = Self.userdataComment(rule.userdata) { reading.comment(comment) }
        return reading.result(handle: rule.handle)
    }

    /// NFTNL_UDATA_RULE_COMMENT: type 0, length, the comment with its NUL.
    static func userdataComment(_ userdata: [UInt8]) -> String? {
        tlv(userdata)[0].map { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// ebtables-nft's UDATA_TYPE_EBTABLES_POLICY (type 1): a user chain's policy, NF_ACCEPT or NF_DROP.
    static func ebtablesPolicy(_ rule: NftRule) -> (verdict: FirewallVerdict, packets: Int?, bytes: Int?)? {
        guard let value = tlv(rule.userdata)[1], value.count >= 4 else { return nil }
        var counters: (Int, Int)?
        for case .counter(let packets, let bytes) in rule.expressions { counters = (packets, bytes) }
        return (value.hostU32(0) == 1 ? .accept : .drop, counters?.0, counters?.1)
    }

    /// Userdata's type-length-value records by type.
    private static func tlv(_ bytes: [UInt8]) -> [Int: [UInt8]] {
        var records: [Int: [UInt8]] = [:]
        var offset = 0
        while offset + 2 <= bytes.count {
            let length = Int(bytes[offset + 1])
            records[Int(bytes[offset])] = bytes.slice(offset + 2, length)
            offset += 2 + length
        }
        return records
    }

    /// A set element as nft shows it: an address for the address types, else its bytes in hex.
    static func element(_ key: [UInt8], keyType: Int) -> String {
        switch keyType {
        case 7: AddressText.address(key, ipv6: false)  // ipv4_addr
        case 8: AddressText.address(key, ipv6: true)  // ipv6_addr
        case 9: Format.mac(key)  // ether_addr
        case 13: "\(key.networkU16(0))"  // inet_service
        default: "0x" + key.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        }
    }
}

/// What a register holds after a load (and an optional mask).
private struct Loaded {
    enum Source {
        case meta(NftMetaKey)
        case payload(NftPayloadBase, offset: Int, length: Int)
        case conntrack(NftConntrackKey)
    }
    var source: Source
    var mask: [UInt8]?
}

/// What each register holds: a rule loads two or three, so a short list beats a dictionary's hashing.
private struct Registers {
    private var loaded: [(register: Int, value: Loaded)] = []

    subscript(register: Int) -> Loaded? {
        get { loaded.last { $0.register == register }?.value }
        set {
            loaded.removeAll { $0.register == register }
            if let newValue { loaded.append((register, newValue)) }
        }
    }
}

/// iptables' and ebtables' fixed options as the reader meets them, one slot each.
private struct Header {
    enum Option { case source, destination, inInterface, outInterface, `protocol`, logicalIn, logicalOut }
    static let iptablesOrder: [Option] = [.source, .destination, .inInterface, .outInterface, .protocol]
    static let ebtablesOrder: [Option] = [
        .protocol, .source, .destination, .inInterface, .logicalIn, .outInterface, .logicalOut,
    ]
    // Stored one by one, not in an array: a rule's reading allocates nothing for its header.
    private var source, destination, inInterface, outInterface, `protocol`, logicalIn, logicalOut: String?

    subscript(option: Option) -> String? {
        get {
            switch option {
            case .source: source
            case .destination: destination
            case .inInterface: inInterface
            case .outInterface: outInterface
            case .protocol: `protocol`
            case .logicalIn: logicalIn
            case .logicalOut: logicalOut
            }
        }
        set {
            switch option {
            case .source: source = newValue
            case .destination: destination = newValue
            case .inInterface: inInterface = newValue
            case .outInterface: outInterface = newValue
            case .protocol: `protocol` = newValue
            case .logicalIn: logicalIn = newValue
            case .logicalOut: logicalOut = newValue
            }
        }
    }
}

/// The state of reading one rule, expression by expression.
private struct Reading {
    let style: RuleReader.Style
    let family: FirewallFamily
    let extensions: ExtensionReader
    var registers = Registers()
    var matches = RuleMatches()
    /// iptables' and ebtables' fixed options (-s, -d, -i, -o, -p …), printed first in their tool's order.
    var header = Header()
    /// Everything else in rule order, in the table's style.
    var clauses: [String] = []
    /// Where the last port clause is, so that `--sport` and `--dport` share one `-m tcp`.
    var portClause: Int?
    /// A `>=` compare on a port, waiting for its `<=`.
    var lowPort: (offset: Int, port: Int)?
    var action: String?
    var verdict: FirewallVerdict?
    var chain: String?
    var target: String?
    var ruleComment: String?
    var counters: (packets: Int, bytes: Int)?
    /// The transport protocol and EtherType compared so far, which say how later payload loads read.
    var transport: Int?
    var etherType: Int?
    var undecoded: [String] = []

    init(style: RuleReader.Style, family: FirewallFamily, extensions: ExtensionReader) {
        self.style = style
        self.family = family
        self.extensions = extensions
    }

    mutating func read(_ expression: NftExpression) {
        switch expression {
        case .meta(let key, let register): registers[register] = Loaded(source: .meta(key))
        case .payload(let base, let offset, let length, let register):
            registers[register] = Loaded(source: .payload(base, offset: offset, length: length))
        case .conntrack(let key, let register): registers[register] = Loaded(source: .conntrack(key))
        case .bitwise(let source, let destination, let mask, let xor):
            guard var loaded = registers[source], xor.isAllZero else { return unknown("bitwise") }
            loaded.mask = mask
            registers[destination] = loaded
        case .compare(let register, let comparison, let data): compare(register, comparison, data)
        case .range(let register, let inverted, let from, let to): range(register, inverted: inverted, from, to)
        case .lookup(let set, let register, let inverted): lookup(set, register: register, inverted: inverted)
        case .counter(let packets, let bytes): counters = (packets, bytes)
        case .verdict(let verdict, let chain): self.verdict(verdict, chain: chain)
        case .match(let name, let revision, let info): match(name, revision: revision, info: info)
        case .target(let name, let revision, let info): xtTarget(name, revision: revision, info: info)
        case .limit(let rate, let unit, let burst, let bytes, let inverted):
            limit(rate: rate, unit: unit, burst: burst, bytes: bytes, inverted: inverted)
        case .log(let prefix, let group):
            let options = prefix.map { " --log-prefix" + ExtensionReader.quoted($0) } ?? ""
            target = group.map { "NFLOG --nflog-group \($0)" + options } ?? "LOG" + options
            action = style == .nft ? "log" + (prefix.map { " prefix \"\($0)\"" } ?? "") : "-j " + target!
        case .reject:
            target = "REJECT"
            action = style == .nft ? "reject" : "-j REJECT"
        case .other("masq"):
            target = "MASQUERADE"
            action = style == .nft ? "masquerade" : "-j MASQUERADE"
        case .other(let name): unknown("expr \(name)")
        }
    }

    private mutating func unknown(_ what: String) {
        undecoded.append(what)
        clauses.append("[\(what)]")
    }

    // MARK: compares

    private mutating func compare(_ register: Int, _ comparison: NftComparison, _ data: [UInt8]) {
        guard let loaded = registers[register] else { return unknown("cmp") }
        let inverted = comparison == .notEqual
        guard comparison == .equal || inverted else {
            return portBound(loaded, comparison, data)
        }
        switch loaded.source {
        case .meta(let key): meta(key, data, inverted: inverted)
        case .payload(.link, let offset, let length): link(offset: offset, length: length, data, inverted: inverted)
        case .payload(.network, let offset, let length):
            network(offset: offset, length: length, mask: loaded.mask, data, inverted: inverted)
        case .payload(.transport, let offset, let length):
            transportField(offset: offset, length: length, data, inverted: inverted)
        case .payload(.inner, _, _): unknown("payload inner")
        case .conntrack(.state):
            // `ct state X`: the mask holds the states, compared with zero (not equal: any of them).
            let mask = loaded.mask.map { $0.hostU32(0) } ?? data.hostU32(0)
            let none = loaded.mask != nil && data.isAllZero
            states(ExtensionReader.states(mask, conntrack: false), inverted: none ? !inverted : inverted)
        case .conntrack: unknown("ct")
        }
    }

    private mutating func meta(_ key: NftMetaKey, _ data: [UInt8], inverted: Bool) {
        switch key {
        case .iifname, .oifname, .bridgeIifname, .bridgeOifname:
            let exact = data.contains(0)
            let name = String(decoding: data.prefix { $0 != 0 }, as: UTF8.self) + (exact ? "" : "+")
            let incoming = key == .iifname || key == .bridgeIifname
            let logical = key == .bridgeIifname || key == .bridgeOifname
            let value = Matched(name, inverted: inverted)
            if incoming, !logical { matches.inInterface = value } else if !logical { matches.outInterface = value }
            switch style {
            case .iptables:
                header[incoming ? .inInterface : .outInterface] =
                    (inverted ? "! " : "") + (incoming ? "-i " : "-o ") + name
            case .ebtables:
                let option = logical ? (incoming ? "--logical-in" : "--logical-out") : (incoming ? "-i" : "-o")
                header[logical ? (incoming ? .logicalIn : .logicalOut) : (incoming ? .inInterface : .outInterface)] =
                    option + (inverted ? " ! " : " ") + name
            case .nft:
                let word = logical ? (incoming ? "meta ibrname" : "meta obrname") : (incoming ? "iifname" : "oifname")
                let shown = exact ? name : String(name.dropLast()) + "*"
                clauses.append("\(word) \(inverted ? "!= " : "")\"\(shown)\"")
            }
        case .l4proto:
            let number = Int(data.first ?? 0)
            transport = number
            let name = Protocols.name(number)
            matches.protocol = Matched(name, inverted: inverted)
            if style == .nft {
                clauses.append("meta l4proto \(inverted ? "!= " : "")\(name)")
            } else {
                header[.protocol] = (inverted ? "! " : "") + "-p " + name
            }
        case .protocol, .nfproto:
            clauses.append("meta \(key == .protocol ? "protocol" : "nfproto") \(inverted ? "!= " : "")0x\(hex(data))")
        case .length, .mark, .iif, .oif, .pkttype, .other: unknown("meta")
        }
    }

    /// The Ethernet header (bridge family): destination @0, source @6, EtherType @12.
    private mutating func link(offset: Int, length: Int, _ data: [UInt8], inverted: Bool) {
        switch (offset, length) {
        case (0, 6), (6, 6):
            let mac = Format.mac(data)
            let source = offset == 6
            if source {
                matches.sourceMAC = Matched(mac, inverted: inverted)
            } else {
                matches.destinationMAC = Matched(mac, inverted: inverted)
            }
            if style == .nft {
                clauses.append("ether \(source ? "saddr" : "daddr") \(inverted ? "!= " : "")\(mac)")
            } else {
                header[source ? .source : .destination] = (source ? "-s" : "-d") + (inverted ? " ! " : " ") + mac
            }
        case (12, 2):
            let type = data.networkU16(0)
            etherType = type
            let name = Protocols.etherType(type)
            matches.protocol = Matched(name, inverted: inverted)
            if style == .nft {
                clauses.append("ether type \(inverted ? "!= " : "")\(Protocols.nftEtherType(type))")
            } else {
                header[.protocol] = "-p" + (inverted ? " ! " : " ") + name
            }
        default: unknown("payload link +\(offset)")
        }
    }

    /// IPv4 source @12 and destination @16, protocol @9; IPv6 source @8 and destination @24, next header @6.
    private mutating func network(offset: Int, length: Int, mask: [UInt8]?, _ data: [UInt8], inverted: Bool) {
        let ipv6 = family == .ip6
        let (sourceAt, destinationAt, protocolAt) = ipv6 ? (8, 24, 6) : (12, 16, 9)
        guard family == .ip || ipv6 else { return unknown("payload network +\(offset)") }
        if offset == protocolAt, length == 1 {
            return meta(.l4proto, data, inverted: inverted)
        }
        guard offset == sourceAt || offset == destinationAt else { return unknown("payload network +\(offset)") }
        let bits = mask.map(AddressText.prefixLength) ?? length * 8
        let address = AddressText.address(data, ipv6: ipv6) + "/\(bits)"
        let source = offset == sourceAt
        if source {
            matches.source = Matched(address, inverted: inverted)
        } else {
            matches.destination = Matched(address, inverted: inverted)
        }
        switch style {
        case .iptables, .ebtables:
            header[source ? .source : .destination] = (inverted ? "! " : "") + (source ? "-s " : "-d ") + address
        case .nft:
            let shown = bits == (ipv6 ? 128 : 32) ? String(address.prefix { $0 != "/" }) : address
            clauses.append("\(ipv6 ? "ip6" : "ip") \(source ? "saddr" : "daddr") \(inverted ? "!= " : "")\(shown)")
        }
    }

    /// TCP, UDP, SCTP and UDP-Lite ports: source @0, destination @2, both in one 4-byte load.
    private mutating func transportField(offset: Int, length: Int, _ data: [UInt8], inverted: Bool) {
        guard let transport, Protocols.hasPorts(transport) else { return unknown("payload transport +\(offset)") }
        switch (offset, length) {
        case (0, 2): port(source: true, "\(data.networkU16(0))", inverted: inverted)
        case (2, 2): port(source: false, "\(data.networkU16(0))", inverted: inverted)
        case (0, 4) where !inverted:
            port(source: true, "\(data.networkU16(0))", inverted: false)
            port(source: false, "\(data.networkU16(2))", inverted: false)
        default: unknown("payload transport +\(offset)")
        }
    }

    private mutating func range(_ register: Int, inverted: Bool, _ from: [UInt8], _ to: [UInt8]) {
        guard case .payload(.transport, let offset, 2)? = registers[register]?.source, offset == 0 || offset == 2
        else { return unknown("range") }
        port(source: offset == 0, "\(from.networkU16(0)):\(to.networkU16(0))", inverted: inverted)
    }

    /// A port range written as two compares on the same load: at least the low port, then at most the high.
    private mutating func portBound(_ loaded: Loaded, _ comparison: NftComparison, _ data: [UInt8]) {
        guard case .payload(.transport, let offset, 2) = loaded.source, offset == 0 || offset == 2 else {
            return unknown("cmp")
        }
        let value = data.networkU16(0)
        switch comparison {
        case .greaterOrEqual:
            finishPortBound()
            lowPort = (offset, value)
        case .lessOrEqual:
            let low = lowPort?.offset == offset ? lowPort!.port : 0
            lowPort = nil
            port(source: offset == 0, "\(low):\(value)", inverted: false)
        case .equal, .notEqual, .less, .greater: unknown("cmp")
        }
    }

    /// A lower bound with no upper one: up to 65535.
    mutating func finishPortBound() {
        guard let (offset, low) = lowPort else { return }
        lowPort = nil
        port(source: offset == 0, "\(low):65535", inverted: false)
    }

    private mutating func port(source: Bool, _ value: String, inverted: Bool) {
        if source {
            matches.sourcePorts = Matched(value, inverted: inverted)
        } else {
            matches.destinationPorts = Matched(value, inverted: inverted)
        }
        let name = Protocols.name(transport ?? 0)
        if style == .nft {
            clauses.append(
                "\(name) \(source ? "sport" : "dport") \(inverted ? "!= " : "")"
                    + value.replacingColon())
            return
        }
        let option = (inverted ? "! " : "") + (source ? "--sport " : "--dport ") + value
        if let index = portClause, index == clauses.count - 1 {
            clauses[index] += " " + option
        } else {
            portClause = clauses.count
            clauses.append("-m \(name) " + option)
        }
    }

    private mutating func states(_ states: [ConntrackState], inverted: Bool) {
        matches.state = Matched(states, inverted: inverted)
        if style == .nft {
            clauses.append(
                "ct state \(inverted ? "!= " : "")" + states.map { $0.rawValue.lowercased() }.joined(separator: ","))
        } else {
            clauses.append(
                "-m conntrack \(inverted ? "! " : "")--ctstate " + states.map(\.rawValue).joined(separator: ","))
        }
    }

    private mutating func lookup(_ set: String, register: Int, inverted: Bool) {
        var direction = SetMatch.Direction.destination
        var field = "?"
        switch registers[register]?.source {
        case .payload(.network, let offset, _)?:
            let source = offset == (family == .ip6 ? 8 : 12)
            direction = source ? .source : .destination
            field = "\(family == .ip6 ? "ip6" : "ip") \(source ? "saddr" : "daddr")"
        case .payload(.transport, let offset, _)?:
            direction = offset == 0 ? .source : .destination
            field = "\(Protocols.name(transport ?? 0)) \(offset == 0 ? "sport" : "dport")"
        case .payload(.link, let offset, _)?:
            direction = offset == 6 ? .source : .destination
            field = "ether \(offset == 6 ? "saddr" : "daddr")"
        case .meta(let key)?: field = "meta \(key)"
        case .payload(.inner, _, _)?, .conntrack?, nil: break
        }
        matches.sets = (matches.sets ?? []) + [SetMatch(name: set, directions: [direction], inverted: inverted)]
        clauses.append("\(field) \(inverted ? "!= " : "")@\(set)")
    }

    // MARK: statements

    private mutating func verdict(_ verdict: FirewallVerdict, chain: String?) {
        self.verdict = verdict
        self.chain = chain
        switch style {
        case .nft:
            action = verdict.rawValue + (chain.map { " \($0)" } ?? "")
        case .iptables, .ebtables:
            switch verdict.known {
            case .jump?: action = "-j " + (chain ?? "?")
            case .goto?: action = "-g " + (chain ?? "?")
            case .queue?: action = "-j NFQUEUE"
            case .continue?: action = style == .ebtables ? "-j CONTINUE" : nil
            case .accept?, .drop?, .return?, nil: action = "-j " + verdict.rawValue.uppercased()
            }
        }
    }

    private mutating func match(_ name: String, revision: Int, info: [UInt8]) {
        let options = extensions.match(name, revision: revision, info: info, into: &matches)
        if name == "comment" { ruleComment = info.cString(0, 256) }
        if options == nil { undecoded.append("match \(name) revision \(revision)") }
        let text = options ?? " [options not decoded]"
        switch style {
        case .iptables: clauses.append("-m " + extensions.moduleName(name, revision: revision, info: info) + text)
        case .ebtables: clauses.append(String(text.dropFirst()))
        case .nft: clauses.append("xt match \(name)" + text)
        }
    }

    private mutating func xtTarget(_ name: String, revision: Int, info: [UInt8]) {
        let options = extensions.target(name, revision: revision, info: info)
        if options == nil { undecoded.append("target \(name) revision \(revision)") }
        target = name + (options ?? " [options not decoded]")
        action = style == .nft ? "xt target " + target! : "-j " + target!
    }

    private mutating func limit(rate: Int, unit: Int, burst: Int, bytes: Bool, inverted: Bool) {
        let units = [1: "sec", 60: "min", 3600: "hour", 86400: "day"]
        let per = units[unit] ?? "\(unit)s"
        if style == .nft {
            let long = ["sec": "second", "min": "minute", "hour": "hour", "day": "day"][per] ?? per
            clauses.append(
                "limit rate \(inverted ? "over " : "")\(rate)\(bytes ? " bytes" : "")/\(long) burst \(burst)"
                    + (bytes ? " bytes" : " packets"))
        } else {
            clauses.append("-m limit --limit \(rate)/\(per)" + (burst == 5 ? "" : " --limit-burst \(burst)"))
        }
    }

    mutating func comment(_ text: String) {
        ruleComment = text
        clauses.append(style == .nft ? "comment \"\(text)\"" : "-m comment --comment" + ExtensionReader.quoted(text))
    }

    // MARK: the result

    func result(handle: Int) -> FirewallRule {
        let order: [Header.Option] =
            switch style {
            case .iptables: Header.iptablesOrder
            case .ebtables: Header.ebtablesOrder
            case .nft: []
            }
        var parts = order.compactMap { header[$0] }
        parts += clauses
        if style == .nft, counters != nil { parts.append("counter") }
        if let action { parts.append(action) }
        var read = matches
        read.undecoded = undecoded.isEmpty ? nil : undecoded
        return FirewallRule(
            handle: handle, text: parts.joined(separator: " "), matches: read, verdict: verdict, chain: chain,
            target: target, comment: ruleComment, packets: counters?.packets, bytes: counters?.bytes)
    }

    private func hex(_ data: [UInt8]) -> String {
        data.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}

extension String {
    /// nft writes port ranges with a dash, iptables with a colon.
    fileprivate func replacingColon() -> String { split(separator: ":").joined(separator: "-") }
}

/// Protocol and EtherType names as iptables and ebtables print them.
enum Protocols {
    static func name(_ number: Int) -> String {
        names[number] ?? "\(number)"
    }

    static func hasPorts(_ number: Int) -> Bool { [6, 17, 132, 136].contains(number) }

    private static let names = [
        1: "icmp", 2: "igmp", 4: "ipencap", 6: "tcp", 17: "udp", 41: "ipv6", 47: "gre", 50: "esp", 51: "ah",
        58: "ipv6-icmp", 89: "ospf", 103: "pim", 112: "vrrp", 132: "sctp", 136: "udplite",
    ]

    static func etherType(_ type: Int) -> String {
        etherTypes[type] ?? "0x" + String(type, radix: 16)
    }

    /// nft's own names differ from ebtables' (`ether type ip`, not IPv4).
    static func nftEtherType(_ type: Int) -> String {
        nftEtherTypes[type] ?? etherType(type).lowercased()
    }

    private static let nftEtherTypes = [0x0800: "ip", 0x86dd: "ip6", 0x8100: "vlan", 0x88a8: "8021ad"]

    private static let etherTypes = [
        0x0800: "IPv4", 0x0806: "ARP", 0x8035: "RARP", 0x8100: "802_1Q", 0x86dd: "IPv6", 0x88a8: "802_1AD",
        0x8863: "PPP_DISC", 0x8864: "PPP_SES", 0x88cc: "LLDP",
    ]
}
