import Foundation
import TestSupport
import Testing

/// `kvmtopo watch` on the live lab: each fault that the kernel announces, and its heal, a line within 2 s with the
/// right VM, NIC and bridge; a guest destroyed and started again, in libvirt's words; libvirtd restarted under it.
enum LabWatch {
    static func check() throws {
        let lab = "\(Lab.script)"
        let faults = ["router-tap-down", "tap-detached", "uplink-mtu", "stray-tap", "public-mtu"]
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
        try run.expect("router-tap-down", within: 2, change("r-4-VM eth0 (tap vnet0): went down"))
        try run.expect("router-tap-down-heal", within: 2, change("r-4-VM eth0 (tap vnet0): came up"))
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
        // Measured from the start of `lab exec virsh destroy`, which itself waits for QEMU to end.
        try run.expect("destroy", within: 3) { $0.kind == "event" && $0.text == "i-2-11-VM stopped (destroyed)" }
        try run.expect("start", within: 3) { $0.kind == "event" && $0.text == "i-2-11-VM started" }
        try run.expect("restart", within: 2) { $0.kind == "source" && $0.text.hasPrefix("libvirt lost: ") }
        try run.expect("restart", within: 4) { $0.kind == "source" && $0.text.hasPrefix("libvirt back") }
        #expect(
            !run.records.contains { $0.object == "domain" && $0.text.contains("i-2-11-VM") }, "said once, by libvirt")
    }
}
