import Foundation
import TestSupport
import Testing

/// `kvmtopo watch` on the live lab: each fault, and its heal, a line within 2 s with the right VM, NIC and bridge
/// (the firewall's from nf_tables' announcements, br_netfilter's switch read twice a second); a guest live-migrated
/// to kvm02 and back, its MAC moving between its tap and the VXLAN device; a guest destroyed and started again, in
/// libvirt's words; libvirtd restarted under it.
enum LabWatch {
    static func check() throws {
        let lab = "\(Lab.script)"
        let faults = [
            "router-tap-down", "tap-detached", "uplink-mtu", "stray-tap", "public-mtu", "drop-rule", "sg-deny",
            "sg-stale", "brnf-off", "forward-drop", "stp-listening",
        ]
        var actions = faults.flatMap { fault in
            [(fault, "\(lab) fault \(fault) >/dev/null", 3), ("\(fault)-heal", "\(lab) heal >/dev/null", 3)]
        }
        let virsh = "\(lab) exec virsh -q -c qemu:///system"
        // A migration takes seconds of its own: its lines are timed from the mark after it.
        actions += [
            ("migrate-out", "\(lab) migrate i-2-10-VM kvm02 2>/dev/null", 0), ("migrated-out", "true", 3),
            ("migrate-in", "\(lab) migrate i-2-10-VM kvm01 2>/dev/null", 0), ("migrated-in", "true", 3),
            ("destroy", "\(virsh) destroy i-2-11-VM >/dev/null", 3),
            ("start", "\(virsh) start i-2-11-VM >/dev/null", 4),
            ("restart", "\(PackageRoot.path)/scripts/libvirtd-netns restart-daemon kvmtopo-lab", 4),
        ]
        let run = try WatchRun(
            in: TestNamespace(existing: "kvmtopo-lab"), libvirt: [],
            arguments: ["--duration", "\(actions.map(\.2).reduce(0, +) + 40)"],
            actions: actions)
        #expect(run.status == 0, "\(run.stderr)")
        let change = { (text: String) in
            { (record: WatchRun.Record) in record.kind == "change" && record.text.contains(text) }
        }
        let routerTap = { (change: String) in
            { (record: WatchRun.Record) in
                record.kind == "change" && record.text.hasPrefix("r-4-VM eth0 (tap ") && record.text.hasSuffix(change)
            }
        }
        try run.expect("router-tap-down", within: 2, routerTap("): went down"))
        try run.expect("router-tap-down-heal", within: 2, routerTap("): came up"))
        try run.expect("tap-detached", within: 2) {
            $0.text.hasPrefix("i-2-11-VM eth0 (tap ") && $0.text.hasSuffix("left brvx-1001 (now on no bridge)")
        }
        try run.expect("tap-detached", within: 2) {
            $0.kind == "finding" && $0.text.hasPrefix("new error [tap-no-master]")
        }
        try run.expect("tap-detached-heal", within: 2) {
            $0.text.hasPrefix("i-2-11-VM eth0 (tap ") && $0.text.hasSuffix("joined brvx-1001")
        }
        try run.expect("tap-detached-heal", within: 2) {
            $0.kind == "finding" && $0.text.hasPrefix("cleared [tap-no-master]")
        }
        let eth1 = { (change: String) in
            { (record: WatchRun.Record) in
                record.text.hasPrefix("eth1") && record.text.hasSuffix(change)
            }
        }
        try run.expect("uplink-mtu", within: 2, eth1("mtu 1550 → 1450"))
        try run.expect("uplink-mtu-heal", within: 2, eth1("mtu 1450 → 1550"))
        try run.expect("stray-tap", within: 2, change("link vnet-stray (tun) appeared, on brvx-1001"))
        try run.expect("stray-tap-heal", within: 2, change("link vnet-stray (tun) is gone"))
        try run.expect("public-mtu", within: 2) {
            $0.text.hasPrefix("r-4-VM eth2") && $0.text.contains("mtu 1500 → 1400")
        }
        try run.expect("public-mtu-heal", within: 2) {
            $0.text.hasPrefix("r-4-VM eth2") && $0.text.contains("mtu 1400 → 1500")
        }
        try firewall(run)
        try run.expect("stp-listening", within: 2, change("bridge brvx-1001: STP off → on"))
        try run.expect("stp-listening", within: 2) {
            $0.kind == "finding" && $0.text.hasPrefix("new warning [port-not-forwarding] bridge port ")
        }
        try run.expect("stp-listening-heal", within: 2, change("bridge brvx-1001: STP on → off"))
        try run.expect("stp-listening-heal", within: 2) {
            $0.kind == "finding" && $0.text.hasPrefix("cleared [port-not-forwarding]")
        }
        try migration(run)
        // Measured from the start of `lab exec virsh destroy`, which itself waits for QEMU to end.
        try run.expect("destroy", within: 3) { $0.kind == "event" && $0.text == "i-2-11-VM stopped (destroyed)" }
        try run.expect("start", within: 3) { $0.kind == "event" && $0.text == "i-2-11-VM started" }
        try run.expect("restart", within: 2) { $0.kind == "source" && $0.text.hasPrefix("libvirt lost: ") }
        try run.expect("restart", within: 4) { $0.kind == "source" && $0.text.hasPrefix("libvirt back") }
        // While libvirtd is away the VMs are as it last told, not gone: only libvirt's absence is said.
        let restarted = run.records(after: "restart")
        #expect(
            restarted.allSatisfy { $0.kind == "source" || $0.text.contains("[source-unavailable]") },
            "\(restarted.map(\.text))")
        #expect(
            !run.records.contains { $0.object == "domain" && $0.text.contains("i-2-11-VM") }, "said once, by libvirt")
    }

    /// i-2-10-VM to kvm02 and back: libvirt's words for each end, and the bridge learning its MAC on the VXLAN
    /// device from kvm02's underlay address, then on its new tap. A migration is no fault: no finding comes of it.
    private static func migration(_ run: WatchRun) throws {
        let mac = "02:00:4c:5e:00:0a (i-2-10-VM eth0) moved from "
        try run.expect("migrate-out", within: 2, of: "migrated-out") {
            $0.kind == "event" && $0.text == "i-2-10-VM stopped (migrated out)"
        }
        try run.expect("migrate-out", within: 2, of: "migrated-out") {
            $0.object == "fdb" && $0.text.hasPrefix(mac + "vnet")
                && $0.text.hasSuffix(" to vxlan1001 on brvx-1001 (now reached through 10.99.0.3)")
        }
        try run.expect("migrate-in", within: 2, of: "migrated-in") {
            $0.kind == "event" && $0.text == "i-2-10-VM migrated in"
        }
        try run.expect("migrate-in", within: 2, of: "migrated-in") {
            $0.object == "fdb" && $0.text.hasPrefix(mac + "vxlan1001 to vnet") && $0.text.hasSuffix(" on brvx-1001")
        }
        let migrating = run.records(after: "migrate-out", before: "destroy")
        #expect(!migrating.contains { $0.kind == "finding" }, "\(migrating.map(\.text))")
        #expect(!migrating.contains { $0.text.contains("fe80::") }, "\(migrating.map(\.text))")
    }

    private static func firewall(_ run: WatchRun) throws {
        let finding = { (text: String) in
            { (record: WatchRun.Record) in record.kind == "finding" && record.text.hasPrefix(text) }
        }
        try run.expect("drop-rule", within: 2) {
            $0.object == "firewall" && $0.text.hasPrefix("bridge kvmtopo_lab_fault forward: new rule: ")
                && $0.text.contains("(drops traffic from i-3-20-VM eth0 (tap ") && $0.text.hasSuffix(" on brvx-2001)")
        }
        try run.expect("drop-rule-heal", within: 2) { $0.text == "table bridge kvmtopo_lab_fault is gone" }
        let securityGroup = "ip filter i-5-31-VM (i-5-31-VM's security group): "
        try run.expect("sg-deny", within: 2) { $0.text.hasPrefix(securityGroup + "rule gone: ") }
        try run.expect("sg-deny-heal", within: 2) { $0.text.hasPrefix(securityGroup + "new rule: ") }
        try run.expect("sg-stale", within: 2, finding("new warning [sg-stale]"))
        try run.expect("sg-stale-heal", within: 2, finding("cleared [sg-stale]"))
        try run.expect("brnf-off", within: 2) { $0.text == "host: bridge-nf-call-iptables 1 → 0" }
        try run.expect("brnf-off", within: 2, finding("new error [sg-not-enforced]"))
        try run.expect("brnf-off-heal", within: 2) { $0.text == "host: bridge-nf-call-iptables 0 → 1" }
        try run.expect("brnf-off-heal", within: 2, finding("cleared [sg-not-enforced]"))
        try run.expect("forward-drop", within: 2) { $0.text == "ip filter FORWARD: policy accept → drop" }
        try run.expect("forward-drop", within: 2, finding("new error [forward-drop]"))
        try run.expect("forward-drop-heal", within: 2, finding("cleared [forward-drop]"))
    }
}
