import Changes
import Render
import TestSupport
import Testing
import Topology

/// diff on recorded dumps: the lab before and with its faults, and dumps edited where the lab cannot go. The
/// same on the live lab, fault by fault: LabTests.
@Suite struct ChangesTests {
    @Test("the lab's faults, one second apart: each fault in the model's terms, and nothing else")
    func labFaults() throws {
        let clean = try recordedDump("lab-vxlan")
        let report = HostChanges.between(clean, try recordedDump("lab-faults"))
        #expect(
            report.changes.map(\.text) == [
                "link vnet-stray (tun) appeared, on brvx-1001",
                "r-4-VM eth0 (tap vnet0): went down",
                "i-2-11-VM eth0 (tap vnet4): left brvx-1001 (now on no bridge)",
                "new [tap-no-master] tap vnet4 is on no bridge, libvirt says brvx-1001",
                "new [tap-unclaimed] tap vnet-stray on brvx-1001 belongs to no libvirt domain",
            ])
        let detached = try #require(report.changes.first { $0.field == "master" })
        #expect(detached.kind == .changed && detached.object == .link && detached.before == "brvx-1001")
        #expect(detached.after == "none" && detached.subject == "i-2-11-VM eth0 (tap vnet4)")
        #expect(report.from == "2026-11-22T01:44:53Z" && report.to == "2026-11-22T01:44:54Z" && report.notes.isEmpty)
        #expect(HostChanges.between(clean, clean).changes.isEmpty, "a dump against itself")
    }

    @Test("a router gone to another host, a VM stopped, an MTU, a MAC learned elsewhere, a route")
    func edited() throws {
        let clean = try recordedDump("lab-vxlan")
        var later = clean
        later.domains.removeAll { $0.name == "r-4-VM" }
        let stopped = try #require(later.domains.firstIndex { $0.name == "i-2-10-VM" })
        later.domains[stopped].state = .shutoff
        let eth1 = try #require(later.links.firstIndex { $0.name == "eth1" })
        later.links[eth1].mtu = 1450
        let vm = try #require(clean.domains.first { $0.name == "i-2-11-VM" }?.nics.first?.mac)
        let learned = try #require(later.fdb.firstIndex { $0.mac == vm && !$0.isSelf })
        // As the kernel has it: the bridge learned the MAC on the VXLAN device, the device learned its host.
        later.fdb[learned].port = "vxlan1001"
        later.fdb.append(
            FDBEntry(
                mac: vm, port: "vxlan1001", bridge: nil, vlan: nil, state: .dynamic, isSelf: true, remote: "10.99.0.2")
        )
        var routed = clean
        routed.routes = [
            Route(family: .inet, destination: "default", device: "eth2", gateway: "203.0.113.254"),
            Route(family: .inet6, destination: "fe80::/64", device: "vnet3"),
        ]
        later.routes = []
        // libvirt writes <link state='up'/> once domif-setlink has touched a NIC: the same link as none at all.
        let user21 = try #require(later.domains.firstIndex { $0.name == "i-3-21-VM" })
        later.domains[user21].nics[0].linkState = .up
        let texts = HostChanges.between(routed, later).changes.map(\.text)
        #expect(texts.contains("r-4-VM is gone (it was running)"), "\(texts)")
        #expect(texts.contains("i-2-10-VM stopped (running → shutoff)"))
        #expect(texts.contains("eth1: mtu 1550 → 1450"))
        #expect(!texts.contains { $0.contains("link state") }, "\(texts)")
        #expect(
            texts.contains(
                "\(vm) (i-2-11-VM eth0) moved from \(clean.fdb[learned].port) to vxlan1001 on brvx-1001 (now reached "
                    + "through 10.99.0.2)")
        )
        #expect(texts.contains("route default via 203.0.113.254 dev eth2 is gone"))
        #expect(!texts.contains { $0.contains("fe80::/64") }, "the kernel's link-local route goes with its link")
        #expect(!texts.contains { $0.hasPrefix("link vnet") }, "taps go with their VM: \(texts)")
    }

    @Test("a firewall rule removed, a policy changed, an ipset's member, counters only when asked")
    func firewall() throws {
        let clean = try recordedDump("lab-security-groups")
        var later = clean
        var firewall = try #require(later.firewall)
        let table = try #require(firewall.tables.firstIndex { $0.chains.contains { $0.name == "i-5-31-VM" } })
        let chain = try #require(firewall.tables[table].chains.firstIndex { $0.name == "i-5-31-VM" })
        let removed = firewall.tables[table].chains[chain].rules.removeFirst()
        let forward = try #require(firewall.tables[table].chains.firstIndex { $0.name == "FORWARD" })
        firewall.tables[table].chains[forward].policy = .drop
        let dropping = try #require(firewall.tables[table].chains[chain].rules.firstIndex { $0.drops })
        firewall.tables[table].chains[chain].rules[dropping].packets! += 37
        let set = try #require(firewall.ipsets.firstIndex { !$0.members.isEmpty })
        let member = firewall.ipsets[set].members.removeFirst()
        later.firewall = firewall
        let changes = HostChanges.between(clean, later).changes
        let family = "\(firewall.tables[table].family) \(firewall.tables[table].name)"
        let group = "\(family) i-5-31-VM (i-5-31-VM's security group)"
        #expect(
            changes.map(\.text) == [
                "\(family) FORWARD: policy accept → drop", "\(group): rule gone: \(removed.text)",
                "ipset \(firewall.ipsets[set].name): lost \(member)",
            ], "\(changes)")
        let rule = firewall.tables[table].chains[chain].rules[dropping]
        #expect(
            HostChanges.between(clean, later, counters: true).changes.map(\.text).contains(
                "\(group): rule \(rule.handle) (\(rule.text)) dropped 37 packets"))
    }

    @Test("a table of its own that appears: its dropping rules, with the VM NIC and bridge they drop the traffic of")
    func droppingTable() throws {
        let clean = try recordedDump("lab-security-groups")
        let domain = try #require(clean.domains.first { $0.nics.first?.tap != nil && $0.nics.first?.bridge != nil })
        let nic = try #require(domain.nics.first)
        let tap = try #require(nic.tap)
        var matches = RuleMatches()
        matches.inInterface = Matched(tap)
        let drop = FirewallRule(
            handle: 2, text: "iifname \"\(tap)\" drop", matches: matches, verdict: .drop)
        let counted = FirewallRule(handle: 3, text: "counter", matches: RuleMatches())
        var later = clean
        later.firewall?.tables.append(
            FirewallTable(
                family: .bridge, name: "mine", backend: .nft,
                chains: [FirewallChain(name: "forward", rules: [counted, drop])]))
        #expect(
            HostChanges.between(clean, later).changes.map(\.text) == [
                "table bridge mine (nft) appeared",
                "bridge mine forward: new rule: iifname \"\(tap)\" drop (drops traffic from \(domain.name) "
                    + "eth\(nic.index) (tap \(tap)) on \(nic.bridge!))",
            ])
    }
}
