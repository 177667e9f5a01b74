import Foundation
import TestSupport
import Testing
import Topology

/// kvmtopo diff over dumps of the live lab taken before and with each fault: the fault in the model's terms; and
/// once every fault is healed, nothing changed.
enum LabDiff {
    static func check(_ snapshot: HostSnapshot) throws {
        let tap = LabTrace.taps(snapshot).mapValues { "(tap \($0))" }
        let isolated = try #require(snapshot.domains.first { $0.name == "r-4-VM" }?.nics.first?.bridge)
        let group = "ip filter i-5-31-VM (i-5-31-VM's security group)"
        let faults: [(String, [String])] = [
            ("router-tap-down", ["r-4-VM eth0 \(tap["r-4-VM eth0"]!): went down"]),
            ("uplink-mtu", ["eth1: mtu 1550 → 1450"]),
            ("tap-detached", ["i-2-11-VM eth0 \(tap["i-2-11-VM eth0"]!): left \(isolated) (now on no bridge)"]),
            ("stray-tap", ["link vnet-stray (tun) appeared, on \(isolated)"]),
            ("drop-rule", ["table bridge kvmtopo_lab_fault (nft) appeared"]),
            ("sg-deny", ["\(group): rule gone: -s 10.3.0.0/24 -p icmp -m icmp --icmp-type any -j ACCEPT"]),
            ("sg-stale", ["chain ip filter i-5-99-VM appeared", "ipset i-5-99-VM appeared"]),
            ("brnf-off", ["host: bridge-nf-call-iptables 1 → 0"]),
            ("forward-drop", ["ip filter FORWARD: policy accept → drop"]),
            ("public-mtu", ["r-4-VM eth2 \(tap["r-4-VM eth2"]!): mtu 1500 → 1400"]),
            ("nic-link-down", ["i-2-11-VM eth0: link state up → down"]),
            (
                "stp-listening",
                [
                    "bridge \(isolated): STP off → on",
                    "i-2-10-VM eth0 \(tap["i-2-10-VM eth0"]!): STP state forwarding → listening",
                ]
            ),
        ]
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kvmtopo-lab-diff-\(getpid())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let clean = try dump(to: "\(folder)/clean.json")
        for (fault, lines) in faults {
            #expect(try Lab.run("fault", fault).status == 0)
            let faulty = try dump(to: "\(folder)/\(fault).json")
            #expect(try Lab.run("heal").status == 0)
            let diff = try KVMTopoBinary.run(["diff", clean, faulty])
            #expect(diff.status == 1, "\(fault): \(diff.stderr)")
            for line in lines { #expect(diff.output.contains(line), "\(fault): \(line)\n\(diff.output)") }
        }
        let healed = try KVMTopoBinary.run(["diff", clean, try dump(to: "\(folder)/healed.json")])
        #expect(healed.status == 0, "every fault healed: \(healed.output)")
        // What the kernel cannot show, diagnose finds in libvirt's live XML.
        let linkDown = try KVMTopoBinary.run(["diagnose", "--json", "--from", "\(folder)/nic-link-down.json"])
        let report = try JSONDecoder().decode(FindingsReport.self, from: linkDown.stdout)
        let finding = report.findings.first { $0.code == "nic-link-down" }
        #expect(
            finding?.subject == "i-2-11-VM eth0" && finding?.severity == "warning"
                && finding?.action.contains(
                    "virsh domif-setlink i-2-11-VM \(LabTrace.taps(snapshot)["i-2-11-VM eth0"]!) up")
                    == true,
            "\(report.findings)")
    }

    private static func dump(to path: String) throws -> String {
        let result = try Lab.run("exec", KVMTopoBinary.path, "dump", "-o", path)
        #expect(result.status == 0, "\(result.stderr)")
        return path
    }
}
