import Firewall
import Testing
import Topology

/// The reader on rules as libnftnl hands them over, built here expression by expression: the idioms nft and the
/// xtables tools write that the kernel on the test machine does not show (native rule sets, masks, ranges as two
/// compares, unknown expressions), and xtables options whose layout the kernel defines.
@Suite("nftables rules read back into the rules an operator wrote")
struct RuleReaderTests {
    func read(
        _ family: FirewallFamily, _ table: String, _ expressions: [NftExpression], userdata: [UInt8] = []
    )
        -> FirewallRule
    {
        let rule = NftRule(
            family: family, table: table, chain: "c", handle: 7, expressions: expressions, userdata: userdata)
        return RuleReader(ipsetNames: [3: "i-2-10-VM"])
            .chain(NftChain(family: family, table: table, name: "c"), rules: [rule]).rules[0]
    }

    @Test("a native inet rule in nft's terms: protocol, port, ct state through a mask, counter, verdict")
    func native() {
        let rule = read(
            .inet, "firewalld",
            [
                .meta(.l4proto, register: 1), .compare(register: 1, .equal, data: [6]),
                .payload(.transport, offset: 2, length: 2, register: 1), .compare(register: 1, .equal, data: [0, 22]),
                .conntrack(.state, register: 1),
                .bitwise(source: 1, destination: 1, mask: [6, 0, 0, 0], xor: [0, 0, 0, 0]),
                .compare(register: 1, .notEqual, data: [0, 0, 0, 0]), .counter(packets: 4, bytes: 240),
                .verdict(.accept, chain: nil),
            ])
        #expect(rule.text == "meta l4proto tcp tcp dport 22 ct state related,established counter accept")
        #expect(rule.matches.state == Matched([.related, .established]))
        #expect(rule.matches.destinationPorts == Matched("22") && rule.packets == 4 && rule.bytes == 240)
        #expect(rule.handle == 7 && rule.verdict == .accept)
    }

    @Test("a set lookup, an inverted interface prefix and an expression kvmtopo does not know, kept and shown")
    func lookupAndUnknown() {
        let rule = read(
            .ip, "mine",
            [
                .meta(.iifname, register: 1), .compare(register: 1, .notEqual, data: Array("vnet".utf8)),
                .payload(.network, offset: 12, length: 4, register: 1),
                .lookup(set: "blocked", register: 1, inverted: false),
                .other("fib"), .verdict(.drop, chain: nil),
            ])
        #expect(rule.text == "iifname != \"vnet*\" ip saddr @blocked [expr fib] drop")
        #expect(rule.matches.inInterface == Matched("vnet+", inverted: true))
        #expect(rule.matches.sets == [SetMatch(name: "blocked", directions: [.source])])
        #expect(rule.matches.undecoded == ["expr fib"])
    }

    @Test("iptables' style: an IPv6 prefix through a mask, a port range as two compares, a comment in userdata")
    func iptablesIdioms() {
        var mask = [UInt8](repeating: 0, count: 16)
        mask[0] = 0xff
        mask[1] = 0xc0
        let rule = read(
            .ip6, "filter",
            [
                .meta(.l4proto, register: 1), .compare(register: 1, .equal, data: [6]),
                .payload(.network, offset: 8, length: 16, register: 1),
                .bitwise(source: 1, destination: 1, mask: mask, xor: [UInt8](repeating: 0, count: 16)),
                .compare(register: 1, .equal, data: [0xfe, 0x80] + [UInt8](repeating: 0, count: 14)),
                .payload(.transport, offset: 2, length: 2, register: 1),
                .compare(register: 1, .greaterOrEqual, data: [0x03, 0xe8]),
                .compare(register: 1, .lessOrEqual, data: [0x07, 0xd0]), .verdict(.jump, chain: "i-2-10-VM"),
            ], userdata: [0, 6] + Array("hello".utf8) + [0])
        #expect(rule.text == "-s fe80::/10 -p tcp -m tcp --dport 1000:2000 -m comment --comment hello -j i-2-10-VM")
        #expect(rule.comment == "hello" && rule.chain == "i-2-10-VM" && rule.verdict == .jump)
    }

    @Test("xtables options from their kernel structs: a two-dimension set, an extension not decoded")
    func xtables() {
        // xt_set_info_match_v1: index 3, two dimensions, the first one the source.
        let set = read(
            .ip, "filter", [.match(name: "set", revision: 1, info: [3, 0, 2, 0b010]), .verdict(.accept, chain: nil)])
        #expect(set.text == "-m set --match-set i-2-10-VM src,dst -j ACCEPT")
        #expect(set.matches.sets == [SetMatch(name: "i-2-10-VM", directions: [.source, .destination])])
        let unknown = read(
            .ip, "filter",
            [.match(name: "quota", revision: 0, info: [1, 2]), .target(name: "TEE", revision: 1, info: [])])
        #expect(unknown.text == "-m quota [options not decoded] -j TEE [options not decoded]")
        #expect(unknown.matches.undecoded == ["match quota revision 0", "target TEE revision 1"])
    }

    @Test("ebtables-nft's user chain policy is the chain's policy, not a rule")
    func ebtablesPolicy() {
        let rules = [
            NftRule(
                family: .bridge, table: "nat", chain: "i-2-10-VM-in", handle: 5,
                expressions: [
                    .payload(.link, offset: 6, length: 6, register: 1),
                    .compare(register: 1, .notEqual, data: [2, 0, 0x0a, 1, 1, 0x0a]), .verdict(.drop, chain: nil),
                ]),
            NftRule(
                family: .bridge, table: "nat", chain: "i-2-10-VM-in", handle: 6,
                expressions: [.counter(packets: 9, bytes: 900), .verdict(.drop, chain: nil)],
                userdata: [1, 4, 0, 0, 0, 0]),
        ]
        let chain = RuleReader().chain(NftChain(family: .bridge, table: "nat", name: "i-2-10-VM-in"), rules: rules)
        #expect(chain.rules.map(\.text) == ["-s ! 02:00:0a:01:01:0a -j DROP"])
        #expect(chain.policy == .drop && chain.packets == 9 && chain.bytes == 900)
    }
}
