import Foundation
import TestSupport
import Testing

/// `kvmtopo watch` on the live lab: each fault, and its heal, a line within 2 s with the right VM, NIC and bridge
/// (the firewall's from nf_tables' announcements, br_netfilter's switch read twice a second); a guest destroyed and started again, in libvirt's words; libvirtd restarted under it.
enum LabWatch {
    static func check() throws {
        let lab = "\(Lab.script)"
        let faults = [
            "router-tap-down", "tap-detached", "uplink-mtu", "stray-tap", "public-mtu", "drop-rule", "sg-deny",
            "sg-stale", "brnf-off", "forward-drop",
        ]
        var actions = faults.flatMap { fault in
            [(fault, "\(lab) fault \(fault) >/dev/null", 3), ("\(fault)-heal", "\(lab) heal >/dev/null", 3)]
        }
        let virsh = "\(lab) exec virsh -q -c qemu:///system"
        actions += [
            ("destroy", "\(virsh) destroy i-2-11-VM >/dev/null", 3),
            ("start", "\(virsh) start i-2-11-VM >/dev/null", 4),
            ("restart", "\(PackageRoot.path)/scripts/libvirtd-netns restart-daemon kvmtopo-lab", 4),
        ]
        let run = try WatchRun(
            in: TestNamespace(existing: "kvmtopo-lab"), libvirt: [],
            arguments: ["--duration", "\(actions.count * 3 + 8)"],
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
