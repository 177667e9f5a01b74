import Foundation
import TestSupport
import Testing
import Topology

private let noLibvirt = ["--libvirt", "qemu+unix:///system?socket=/nonexistent/libvirt-sock"]

/// CloudStack's security-group shape (security_group.py's chains for one bridge and one VM NIC, its ipset and
/// ebtables anti-spoofing), written with the real tools: iptables and ebtables (their nft variants, Debian's
/// default) and ipset, plus an IPv6 rule and a few extensions host firewalls use.
private func writeCloudStackRules(_ ns: TestNamespace) throws {
    let run = { (words: String) in
        _ = try Shell.must(["ip", "netns", "exec", ns.name] + words.split(separator: " ").map(String.init))
    }
    try run("ipset create i-2-10-VM hash:ip family inet")
    try run("ipset add i-2-10-VM 10.1.1.10")
    for chain in ["BF-cloudbr0", "BF-cloudbr0-IN", "BF-cloudbr0-OUT", "i-2-10-def", "i-2-10-VM", "i-2-10-VM-eg"] {
        try run("iptables -N \(chain)")
    }
    for rule in [
        "FORWARD -o cloudbr0 -m physdev --physdev-is-bridged -j BF-cloudbr0",
        "FORWARD -i cloudbr0 -m physdev --physdev-is-bridged -j BF-cloudbr0",
        "FORWARD -o cloudbr0 -j DROP",
        "BF-cloudbr0 -m state --state RELATED,ESTABLISHED -j ACCEPT",
        "BF-cloudbr0 -m physdev --physdev-is-bridged --physdev-is-in -j BF-cloudbr0-IN",
        "BF-cloudbr0 -m physdev --physdev-is-bridged --physdev-is-out -j BF-cloudbr0-OUT",
        "BF-cloudbr0 -m physdev --physdev-is-bridged --physdev-out eth1 -j ACCEPT",
        "BF-cloudbr0-OUT -m physdev --physdev-is-bridged --physdev-out vnet0 -j i-2-10-def",
        "BF-cloudbr0-IN -m physdev --physdev-is-bridged --physdev-in vnet0 -j i-2-10-def",
        "i-2-10-def -m state --state RELATED,ESTABLISHED -j ACCEPT",
        "i-2-10-def -p udp -m physdev --physdev-in vnet0 --physdev-is-bridged -m udp --sport 68 --dport 67 -j ACCEPT",
        "i-2-10-def -m physdev --physdev-in vnet0 --physdev-is-bridged -m set ! --match-set i-2-10-VM src -j DROP",
        "i-2-10-def -m physdev --physdev-out vnet0 --physdev-is-bridged -m set ! --match-set i-2-10-VM dst -j DROP",
        "i-2-10-def -m physdev --physdev-in vnet0 --physdev-is-bridged -j i-2-10-VM-eg",
        "i-2-10-def -m physdev --physdev-out vnet0 --physdev-is-bridged -j i-2-10-VM",
        "i-2-10-VM -p tcp -m tcp --dport 22:30 -m state --state NEW -s 10.0.0.0/8 -j ACCEPT",
        "i-2-10-VM -p icmp -m icmp --icmp-type any -s 0.0.0.0/0 -j ACCEPT",
        "i-2-10-VM -m multiport -p tcp --dports 80,443,8000:8080 -m comment --comment web-ports -j ACCEPT",
        "i-2-10-VM -i vnet+ -m conntrack --ctstate NEW -j LOG --log-prefix sg:",
        "i-2-10-VM -m mac --mac-source 02:00:0a:01:01:0a -m iprange --src-range 10.1.1.1-10.1.1.9 "
            + "-m limit --limit 5/min -j REJECT --reject-with icmp-host-prohibited",
        "i-2-10-VM -j DROP",
        "i-2-10-VM-eg -j RETURN",
        "OUTPUT -o lo -p udp -j ACCEPT",
    ] {
        try run("iptables -A \(rule)")
    }
    try run("iptables -P FORWARD DROP")
    try run("ip6tables -A INPUT -s fe80::/10 -p ipv6-icmp -j ACCEPT")
    try run("ebtables -t nat -N i-2-10-VM-in")
    try run("ebtables -t nat -A PREROUTING -i vnet0 -j i-2-10-VM-in")
    try run("ebtables -t nat -A i-2-10-VM-in -s ! 02:00:0a:01:01:0a -j DROP")
    try run("ebtables -t nat -A i-2-10-VM-in -p ARP --arp-mac-src 02:00:0a:01:01:0a --arp-ip-src 10.1.1.10 -j RETURN")
    try run("ebtables -t nat -A i-2-10-VM-in -p ARP --arp-op Request -j ACCEPT")
    try run("ebtables -t nat -A i-2-10-VM-in -p ARP -j DROP")
}

/// What the tools themselves print: the `-A CHAIN RULE` lines of `iptables-save` and its kin.
private func saved(_ ns: TestNamespace, _ tool: String, table: String) throws -> Set<String> {
    let output = try Shell.must(["ip", "netns", "exec", ns.name, tool, "-t", table]).output
    return Set(output.split(separator: "\n").filter { $0.hasPrefix("-A ") }.map(String.init))
}

/// Everything that says what the firewall is, counters aside: the ruleset without its state, the ipsets, and
/// which legacy tables exist.
private func firewallState(_ ns: TestNamespace) throws -> [String] {
    let exec = { (words: [String]) in try Shell.must(["ip", "netns", "exec", ns.name] + words).output }
    return [
        try exec(["nft", "-s", "list", "ruleset"]), try exec(["ipset", "list"]),
        try exec(["cat", "/proc/net/ip_tables_names"]), try exec(["cat", "/proc/net/ip6_tables_names"]),
    ]
}

private let firewallTools = Host.missing("iptables", "ebtables", "ipset", "nft")

@Suite(
    "the firewall read from a real kernel (nftables, iptables-nft, ebtables-nft, ipset)",
    .enabled(if: Host.isRoot, "needs root to create network namespaces and rules"),
    .enabled(if: firewallTools.isEmpty, "needs \(firewallTools.joined(separator: ", ")) (scripts/bootstrap --test)"))
struct KernelFirewallTests {
    @Test("every rule reads back as iptables-save and ebtables-save print it, with its matches, policies and counters")
    func cloudStackRules() throws {
        let ns = try TestNamespace("fw")
        try writeCloudStackRules(ns)
        // Five datagrams out over lo: the OUTPUT rule's counter must show them.
        _ = try Shell.must([
            "ip", "netns", "exec", ns.name, "python3", "-c",
            "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                + "for i in range(5): s.sendto(b'kvmtopo', ('127.0.0.1', 9))",
        ])
        let before = try firewallState(ns)
        let result = try KVMTopoBinary.run(["dump"] + noLibvirt, in: ns)
        #expect(result.status == 0, "\(result.stderr)")
        let snapshot = try SnapshotCodec.decode(result.stdout, source: "dump")
        #expect(try firewallState(ns) == before, "kvmtopo dump changed the firewall")
        #expect(snapshot.host.sources.firewall?.status == .ok)
        let firewall = try #require(snapshot.firewall)
        #expect(firewall.backends == [.nft])

        let table = { (family: FirewallFamily, name: String) throws -> FirewallTable in
            try #require(firewall.tables.first { $0.family == family && $0.name == name }, "\(family) \(name)")
        }
        let lines = { (table: FirewallTable) in
            Set(table.chains.flatMap { chain in chain.rules.map { "-A \(chain.name) \($0.text)" } })
        }
        let filter = try table(.ip, "filter")
        for (read, family, tool, name) in [
            (filter, "ip", "iptables-save", "filter"), (try table(.ip6, "filter"), "ip6", "ip6tables-save", "filter"),
            (try table(.bridge, "nat"), "bridge", "ebtables-save", "nat"),
        ] {
            let expected = try saved(ns, tool, table: name)
            #expect(lines(read) == expected, "\(family) \(name): \(lines(read).symmetricDifference(expected).sorted())")
        }
        let nat = try table(.bridge, "nat")

        let chain = { (table: FirewallTable, name: String) throws -> FirewallChain in
            try #require(table.chains.first { $0.name == name }, "\(name)")
        }
        let forward = try chain(filter, "FORWARD")
        #expect(forward.hook == .forward && forward.policy == .drop && forward.type == "filter")
        #expect(try chain(nat, "i-2-10-VM-in").policy == .accept, "ebtables-nft keeps a user chain's policy in a rule")

        let def = try chain(filter, "i-2-10-def")
        let spoofing = try #require(def.rules.first { $0.matches.sets?.first?.directions == [.source] })
        #expect(spoofing.matches.sets == [SetMatch(name: "i-2-10-VM", directions: [.source], inverted: true)])
        #expect(spoofing.matches.physdevIn == Matched("vnet0") && spoofing.matches.physdevIsBridged == Matched(true))
        #expect(spoofing.verdict == .drop)
        let jump = try #require(def.rules.last)
        #expect(jump.verdict == .jump && jump.chain == "i-2-10-VM" && jump.matches.physdevOut == Matched("vnet0"))

        let ingress = try chain(filter, "i-2-10-VM")
        let ssh = ingress.rules[0]
        #expect(ssh.matches.source == Matched("10.0.0.0/8") && ssh.matches.protocol == Matched("tcp"))
        #expect(ssh.matches.destinationPorts == Matched("22:30") && ssh.matches.state == Matched([.new]))
        #expect(
            ingress.rules[2].comment == "web-ports"
                && ingress.rules[2].matches.destinationPorts?.value == "80,443,8000:8080")
        #expect(
            ingress.rules[3].target == "LOG --log-prefix \"sg:\""
                && ingress.rules[3].matches.inInterface == Matched("vnet+"))
        #expect(ingress.rules[4].target == "REJECT --reject-with icmp-host-prohibited")
        #expect(
            ingress.rules.allSatisfy { $0.matches.undecoded == nil }, "\(ingress.rules.compactMap(\.matches.undecoded))"
        )

        let output = try chain(filter, "OUTPUT")
        let icmp = try #require(output.rules.first)
        #expect(icmp.packets == 5 && icmp.bytes == 5 * 35, "five 35-byte datagrams")
        let arp = try chain(nat, "i-2-10-VM-in").rules[1]
        #expect(
            arp.matches.arpSourceIP == Matched("10.1.1.10") && arp.matches.arpSourceMAC == Matched("02:00:0a:01:01:0a"))
        #expect(firewall.conntrack.map { $0.max > 0 } == true, "conntrack's limit is read")
        #expect(
            firewall.ipsets == [
                IPSet(name: "i-2-10-VM", type: "hash:ip", family: .inet, members: ["10.1.1.10"], references: 2)
            ])
    }

    @Test("ipsets with every member, as ipset list shows them, a large one over several netlink messages")
    func ipsets() throws {
        let ns = try TestNamespace("fw-sets")
        let commands =
            [
                "create big hash:ip family inet", "create nets6 hash:net family inet6", "add nets6 fe80::/64",
                "create services hash:ip,port", "add services 10.1.1.1,tcp:80", "add services 10.1.1.2,udp:53",
            ]
            + (0..<4000).map { "add big 10.\($0 / 250).\($0 % 250).1" }
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("ipsets-\(getpid())").path
        try commands.joined(separator: "\n").appending("\n").write(toFile: input, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: input) }
        _ = try Shell.must(["ip", "netns", "exec", ns.name, "ipset", "restore", "-file", input])
        let result = try KVMTopoBinary.run(["dump"] + noLibvirt, in: ns)
        let ipsets = try #require(try SnapshotCodec.decode(result.stdout, source: "dump").firewall?.ipsets)
        #expect(ipsets.map(\.name) == ["big", "nets6", "services"])
        for set in ipsets {
            let listed = try Shell.must(["ip", "netns", "exec", ns.name, "ipset", "list", set.name]).output
            let members = listed.split(separator: "\n").drop { $0 != "Members:" }.dropFirst().map(String.init)
            #expect(Set(set.members) == Set(members) && set.members.count == members.count, "\(set.name)")
        }
        #expect(ipsets[0].members.count == 4000 && ipsets[1].family == .inet6 && ipsets[2].type == "hash:ip,port")
    }

    @Test("legacy tables read back as iptables-legacy-save prints them, only those listed, and reading creates none")
    func legacy() throws {
        let ns = try TestNamespace("fw-legacy")
        #expect(try KVMTopoBinary.run(["dump"] + noLibvirt, in: ns).status == 0)
        let listed = { try ns.exec(["cat", "/proc/net/ip_tables_names", "/proc/net/ip6_tables_names"]).output }
        #expect(try listed().isEmpty, "kvmtopo created a legacy table")
        try #require(Host.missing("iptables-legacy", "ip6tables-legacy").isEmpty, "Debian's iptables has them")
        let run = { (words: String) in
            _ = try Shell.must(["ip", "netns", "exec", ns.name] + words.split(separator: " ").map(String.init))
        }
        try run("ipset create i-2-10-VM hash:ip")
        for chain in ["BF-cloudbr0", "i-2-10-def", "i-2-10-VM"] { try run("iptables-legacy -N \(chain)") }
        for rule in [
            "FORWARD -o cloudbr0 -m physdev --physdev-is-bridged -j BF-cloudbr0", "FORWARD -o cloudbr0 -j DROP",
            "BF-cloudbr0 -m state --state RELATED,ESTABLISHED -j ACCEPT",
            "BF-cloudbr0 -m physdev --physdev-is-bridged --physdev-out vnet0 -g i-2-10-def",
            "i-2-10-def -m physdev --physdev-in vnet0 --physdev-is-bridged -m set ! --match-set i-2-10-VM src -j DROP",
            "i-2-10-def -m physdev --physdev-out vnet0 --physdev-is-bridged -j i-2-10-VM",
            "i-2-10-VM -s 10.0.0.0/8 -p tcp -m tcp --dport 22:30 -m state --state NEW -j ACCEPT",
            "i-2-10-VM ! -s 192.168.0.0/16 -i vnet+ -p icmp -m icmp --icmp-type 8 -j LOG --log-prefix legacy",
            "i-2-10-VM -p tcp -m multiport --dports 80,443 -j REJECT --reject-with tcp-reset", "i-2-10-VM -j DROP",
            "OUTPUT -o lo -p udp -j ACCEPT",
        ] {
            try run("iptables-legacy -A \(rule)")
        }
        try run("iptables-legacy -P FORWARD DROP")
        try run("iptables-legacy -t nat -A POSTROUTING -s 10.1.1.0/24 -o eth0 -j MASQUERADE")
        try run("ip6tables-legacy -A INPUT -s fe80::/10 -p ipv6-icmp -j ACCEPT")
        _ = try Shell.must([
            "ip", "netns", "exec", ns.name, "python3", "-c",
            "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                + "for i in range(3): s.sendto(b'kvmtopo', ('127.0.0.1', 9))",
        ])
        let tablesBefore = try listed()
        let result = try KVMTopoBinary.run(["dump"] + noLibvirt, in: ns)
        #expect(try listed() == tablesBefore, "only the listed tables were asked for")
        let firewall = try #require(try SnapshotCodec.decode(result.stdout, source: "dump").firewall)
        #expect(Set(firewall.backends) == [.iptablesLegacy, .ip6tablesLegacy])
        for (tool, family, name) in [
            ("iptables-legacy-save", FirewallFamily.ip, "filter"), ("iptables-legacy-save", .ip, "nat"),
            ("ip6tables-legacy-save", .ip6, "filter"),
        ] {
            let table = try #require(
                firewall.tables.first { $0.family == family && $0.name == name && $0.backend != .nft },
                "\(family) \(name)")
            let read = Set(table.chains.flatMap { chain in chain.rules.map { "-A \(chain.name) \($0.text)" } })
            let expected = try saved(ns, tool, table: name)
            #expect(read == expected, "\(family) \(name): \(read.symmetricDifference(expected).sorted())")
        }
        let filter = try #require(firewall.tables.first { $0.backend == .iptablesLegacy && $0.name == "filter" })
        let forward = try #require(filter.chains.first { $0.name == "FORWARD" })
        #expect(forward.hook == .forward && forward.policy == .drop)
        let output = try #require(filter.chains.first { $0.name == "OUTPUT" }?.rules.first)
        #expect(output.packets == 3 && output.handle == 1, "legacy counters, and rule positions for handles")
        let spoofing = try #require(filter.chains.first { $0.name == "i-2-10-def" }?.rules.first)
        #expect(spoofing.matches.sets == [SetMatch(name: "i-2-10-VM", directions: [.source], inverted: true)])
        let goto = try #require(filter.chains.first { $0.name == "BF-cloudbr0" }?.rules.last)
        #expect(goto.verdict == .goto && goto.chain == "i-2-10-def")
    }

    @Test("a ruleset changing while it is read: every dump succeeds, keeps the rules that stay, and says when it mixed")
    func changingRuleset() throws {
        let ns = try TestNamespace("fw-churn")
        try writeCloudStackRules(ns)
        let dump = { () throws -> HostSnapshot in
            let result = try Shell.run(["ip", "netns", "exec", ns.name, KVMTopoBinary.path, "dump"] + noLibvirt)
            #expect(result.status == 0, "\(result.stderr)")
            return try SnapshotCodec.decode(result.stdout, source: "dump")
        }
        let notes = { (snapshot: HostSnapshot) in
            snapshot.warnings.filter { $0.subject == .source(.firewall) }.map(\.message)
        }
        #expect(notes(try dump()).isEmpty, "a quiet ruleset is one ruleset")
        // A VM's chains come and go meanwhile, a transaction (a new generation) at a time, as the agent's do.
        let churn = Process()
        churn.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        churn.arguments = [
            "netns", "exec", ns.name, "sh", "-c",
            "while :; do iptables -N i-9-99-VM; iptables -A i-9-99-VM -j ACCEPT; iptables -F i-9-99-VM; "
                + "iptables -X i-9-99-VM; done",
        ]
        try churn.run()
        defer {
            churn.terminate()
            churn.waitUntilExit()
        }
        for _ in 0..<5 {
            let snapshot = try dump()
            let filter = snapshot.firewall?.tables.first { $0.family == .ip && $0.name == "filter" }
            #expect(filter?.chains.first { $0.name == "i-2-10-def" }?.rules.isEmpty == false)
            #expect(notes(snapshot).allSatisfy { $0.contains("one nftables ruleset") }, "\(notes(snapshot))")
        }
    }

    @Test("without privilege the firewall is one line of why, and the rest of the host is still shown")
    func unprivileged() throws {
        let ns = try TestNamespace("fw-user")
        try writeCloudStackRules(ns)
        let result = try Shell.run(
            [
                "ip", "netns", "exec", ns.name, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                KVMTopoBinary.path, "dump",
            ] + noLibvirt)
        #expect(result.status == 0, "\(result.stderr)")
        let snapshot = try SnapshotCodec.decode(result.stdout, source: "dump")
        #expect(snapshot.firewall == nil)
        let status = try #require(snapshot.host.sources.firewall)
        #expect(
            status.status == .unavailable && status.error?.contains("needs root or CAP_NET_ADMIN") == true, "\(status)")
        #expect(snapshot.links.contains { $0.name == "lo" })
    }

    @Test("the agent's per-VM records are read from /var/run/cloud, other files there are left alone")
    func agentRecords() throws {
        let ns = try TestNamespace("fw-records")
        // A /run of the test's own (a private mount namespace), so the machine's is neither read nor written.
        let script = """
            mount -t tmpfs tmpfs /run && mkdir /run/cloud
            printf 'i-2-10-VM,10,10.1.1.10,4,5d41402abc4b2a76,3\\n' > /run/cloud/i-2-10-VM.log
            printf 'not,a,record\\n' > /run/cloud/i-2-11-VM.log
            echo 1 > /run/cloud/agent.pid
            exec \(KVMTopoBinary.path) dump \(noLibvirt.joined(separator: " "))
            """
        let result = try Shell.run([
            "ip", "netns", "exec", ns.name, "unshare", "--mount", "--propagation", "private", "sh", "-c", script,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let snapshot = try SnapshotCodec.decode(result.stdout, source: "dump")
        #expect(
            snapshot.firewall?.agentRecords == [
                SecurityGroupRecord(
                    vm: "i-2-10-VM", vmID: 10, ip: "10.1.1.10", domainID: 4, signature: "5d41402abc4b2a76", sequence: 3)
            ])
        #expect(
            snapshot.warnings.contains { $0.code == .sgStale && $0.subject == .named("i-2-10") },
            "a record of a VM that is not here is left behind: \(snapshot.warnings)")
    }
}
