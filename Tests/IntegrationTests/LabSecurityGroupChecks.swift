import Foundation
import TestSupport
import Testing
import Topology

/// The lab's shared network with security groups (i-5-30-VM and i-5-31-VM, written as security_group.py writes
/// them) read live, and its four faults: each found by the model or diagnose, and healed.
enum LabSecurityGroups {
    static func diagnose() throws -> (status: Int32, codes: [String: String]) {
        let result = try Lab.run(["exec", KVMTopoBinary.path, "diagnose", "--json"])
        let report = try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any]
        var codes: [String: String] = [:]
        for finding in report?["findings"] as? [[String: Any]] ?? [] {
            codes[finding["code"] as? String ?? ""] = finding["message"] as? String ?? ""
        }
        return (result.status, codes)
    }

    static func ingress(_ snapshot: HostSnapshot, _ vm: String) throws -> SecurityGroupRules {
        let nic = try #require(snapshot.domains.first { $0.name == vm }?.nics.first)
        return try #require(nic.securityGroup?.ingress, "\(vm): \(String(describing: nic.securityGroup))")
    }

    static func check() throws {
        // The pings between the two VMs are let in by their icmp rule: its counter moves.
        let before = try ingress(try Lab.dump(), "i-5-31-VM")
        Thread.sleep(forTimeInterval: 2.5)
        let after = try ingress(try Lab.dump(), "i-5-31-VM")
        #expect(after.rules.first?.protocol == "icmp" && after.rules.first?.cidr == "10.3.0.0/24")
        #expect((after.rules.first?.packets ?? 0) > (before.rules.first?.packets ?? 0), "\(before) \(after)")
        let shown = try Lab.run("exec", KVMTopoBinary.path, "show", "vm", "i-5-31-VM", "--ascii").output
        #expect(shown.contains("firewall  security group i-5-31-def"), "\(shown)")
        #expect(shown.contains("in   icmp from 10.3.0.0/24 ("), "\(shown)")
        #expect(shown.contains("anti-spoofing 02:00:4c:5e:00:1f / 10.3.0.31"), "\(shown)")
        let network = try Lab.run("exec", KVMTopoBinary.path, "show", "network", "vni:3001", "--ascii").output
        #expect(network.contains("- security groups\n") || network.contains("- security groups -"), "\(network)")

        // sg-deny: the icmp rule is gone, so i-5-30-VM's pings meet i-5-31-VM's final DROP.
        #expect(try Lab.run("fault", "sg-deny").status == 0)
        let denied = try ingress(try Lab.dump(), "i-5-31-VM")
        Thread.sleep(forTimeInterval: 2.5)
        let dropped = try ingress(try Lab.dump(), "i-5-31-VM")
        #expect(denied.rules.map(\.protocol) == ["tcp"] && dropped.final == .drop)
        #expect((dropped.finalPackets ?? 0) > (denied.finalPackets ?? 0), "the DROP counts the pings: \(dropped)")
        // trace loses the pings at i-5-31-VM's tap and names the rule of its security group that drops them.
        let pcapng = "/tmp/kvmtopo-lab-sg-\(getpid()).pcapng"
        let dumpFile = "/tmp/kvmtopo-lab-sg-\(getpid()).json"
        defer { for file in [pcapng, dumpFile] { try? FileManager.default.removeItem(atPath: file) } }
        let traced = try Lab.run([
            "exec", KVMTopoBinary.path, "trace", "i-5-30-VM", "icmp", "--duration", "5", "-w", pcapng,
        ])
        #expect(
            traced.output.contains(
                "dropped by i-5-31-VM's security group: no rule in chain i-5-31-VM lets it through (its final -j DROP"),
            "\(traced.output) \(traced.stderr)")
        // Live, the DROP's counter read again when each ping is judged lost confirms it.
        #expect(traced.output.contains("its counter rose by "), "\(traced.output)")
        #expect(traced.output.contains("dropped by the firewall: "), "the summary counts them: \(traced.output)")
        // The kernel's drop reason agrees: netfilter freed it.
        #expect(traced.output.contains("the kernel: NETFILTER_DROP in "), "\(traced.output)")
        // drops, scoped to the VM: its security group's final DROP counted the pings.
        let rules = try LabKernelDrops.dropsReport(["vm", "i-5-31-VM"])["firewall"]?["rules"] as? [[String: Any]] ?? []
        #expect(
            rules.contains { $0["domain"] as? String == "i-5-31-VM" && $0["chain"] as? String == "i-5-31-VM" },
            "\(rules)")
        // Replayed anywhere with a dump of the host: the same verdict, worked out from the dump's rules.
        #expect(try Lab.run(["exec", KVMTopoBinary.path, "dump", "-o", dumpFile]).status == 0)
        let replayed = try Shell.run([KVMTopoBinary.path, "trace", "i-5-30-VM", "--read", pcapng, "--from", dumpFile])
        #expect(
            replayed.output.contains("dropped by i-5-31-VM's security group: no rule in chain i-5-31-VM lets it"),
            "\(replayed.output) \(replayed.stderr)")
        #expect(!replayed.output.contains("its counter"), "a replay reads no live counter")

        // sg-stale: chains, an ipset and an ebtables chain of i-5-99-VM, which is not here.
        #expect(try Lab.run("fault", "sg-stale").status == 0)
        let stale = try Lab.dump().warnings.filter { $0.code == .sgStale }
        #expect(stale.map(\.subject) == [.named("i-5-99")], "\(stale)")
        #expect(stale.first?.message.contains("ebtables i-5-99-VM-in") == true)

        // brnf-off: the groups are there, and no bridged packet meets them.
        #expect(try Lab.run("fault", "brnf-off").status == 0)
        var found = try diagnose()
        #expect(found.status == 2)
        #expect(
            found.codes["sg-not-enforced"]?.contains("brvx-3001") == true
                || found.codes["sg-not-enforced"]?
                    .contains("breth1-300") == true,
            "\(found.codes)")
        #expect(try Lab.run("heal").status == 0)

        // forward-drop: FORWARD's policy cuts every bridge without security groups off.
        #expect(try Lab.run("fault", "forward-drop").status == 0)
        found = try diagnose()
        #expect(found.codes["forward-drop"]?.contains("cloudbr0") == true, "\(found.codes)")
        #expect(try Lab.run("heal").status == 0)
        found = try diagnose()
        #expect(found.status == 0, "healed: \(found.codes)")
        #expect(try ingress(try Lab.dump(), "i-5-31-VM").rules.first?.protocol == "icmp", "sg-deny healed")
    }
}
