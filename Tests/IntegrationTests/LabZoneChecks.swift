import Foundation
import TestSupport
import Testing
import Topology

/// The zone on the live lab's two hosts: dumps collected over ssh from the management network (zone collect and
/// the Ansible playbook, a host that is down among them), the isolated network across both with its router on
/// kvm01, and each zone fault made real on kvm02 found by zone diagnose.
enum LabZone {
    static let key = "/var/lib/kvmtopo-lab/ssh/client"
    static let sshOptions = [
        "IdentityFile=\(key)", "StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null", "LogLevel=ERROR",
    ].flatMap { ["--ssh-option", $0] }

    /// `kvmtopo zone ARGUMENTS` from the management server's side of the lab (its upstream namespace).
    static func zone(_ arguments: [String]) throws -> CommandResult {
        try Shell.run(["ip", "netns", "exec", "kvmtopo-lab-upstream", KVMTopoBinary.path, "zone"] + arguments)
    }

    static func collect(
        _ folder: String, _ hosts: [String] = ["root@192.0.2.11", "root@192.0.2.13"]
    ) throws
        -> CommandResult
    {
        try? FileManager.default.removeItem(atPath: folder)
        return try zone(["collect", "-o", folder, "--kvmtopo", KVMTopoBinary.path] + sshOptions + hosts)
    }

    static func diagnose(_ folder: String) throws -> FindingsReport {
        let result = try zone(["diagnose", "--json", folder])
        return try JSONDecoder().decode(FindingsReport.self, from: result.stdout)
    }

    static func check() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kvmtopo-lab-zone-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // 192.0.2.12 is s-1-VM's management address: up, and no sshd there.
        let collected = try collect(folder, ["root@192.0.2.11", "root@192.0.2.13", "root@192.0.2.12"])
        #expect(collected.status == 1, "\(collected.stderr)")
        #expect(
            collected.stderr.contains(
                "kvmtopo: root@192.0.2.12: ssh: connect to host 192.0.2.12 port 22: Connection refused"),
            "\(collected.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(files == ["192.0.2.11.json", "192.0.2.13.json"])

        let shown = try zone(["show", "--ascii", folder]).output
        #expect(shown.hasPrefix("Zone - 2 hosts (kvm01, kvm02) - "), "\(shown)")
        #expect(
            shown.contains("isolated vni:1001\n  +- kvm01  brvx-1001 - mtu 1500 - vxlan1001 over cloudbr2 (1550)")
                || shown.contains("isolated guest vlan:100"), "\(shown)")
        #expect(shown.contains("<> r-4-VM") || shown.contains("* r-4-VM"), "\(shown)")
        let vm = try zone(["show", "--ascii", "vm", "i-2-12-VM", folder]).output
        #expect(vm.contains("i-2-12-VM on kvm02 (running)") && vm.contains("router * r-4-VM on kvm01"), "\(vm)")

        let clean = try diagnose(folder)
        #expect(clean.hosts == ["kvm01", "kvm02"])
        #expect(!clean.findings.contains { $0.severity == "error" }, "\(clean.findings)")
        let expected: Set<String> = ["zone-router-missing", "zone-qemu-hook-missing"]
        #expect(Set(clean.findings.map(\.code)).isSubset(of: expected), "the shared network's router is elsewhere")

        // i-2-12-VM on kvm02 reaches r-4-VM on kvm01: kvm01 learned its MAC behind kvm02's underlay address.
        let kvm01 = try SnapshotCodec.decode(
            try Data(contentsOf: URL(fileURLWithPath: "\(folder)/192.0.2.11.json")), source: "kvm01")
        #expect(
            kvm01.fdb.contains { $0.mac == "02:00:4c:5e:00:0c" && $0.remote == "10.99.0.3" }
                || !kvm01.links.contains { $0.name == "vxlan1001" }, "\(kvm01.fdb.filter { $0.remote != nil })")

        let faults: [(fault: String, code: String, subject: String, severity: String)] = [
            ("zone-mtu", "zone-mtu-differs", "isolated", "error"),
            ("zone-group", "zone-vxlan-differs", "vpc-tier", "error"),
            ("zone-mac", "zone-mac-duplicate", "02:00:4c:5e:00:0a", "error"),
            ("zone-vm-twice", "zone-vm-on-two-hosts", "i-2-11-VM", "error"),
            ("zone-bridge-missing", "zone-bridge-missing", "i-3-22-VM eth0", "error"),
            ("zone-label", "zone-label-bridge-differs", "public traffic", "warning"),
        ]
        let vxlan = kvm01.links.contains { $0.name == "vxlan1001" }
        for (fault, code, subject, severity) in faults where vxlan || fault != "zone-group" {
            #expect(try Lab.run("fault", fault).status == 0, "\(fault)")
            let result = try collect(folder)
            #expect(try Lab.run("heal").status == 0)
            #expect(result.status == 0, "\(fault): \(result.stderr)")
            let report = try diagnose(folder)
            let found = report.findings.filter { $0.code == code && $0.subject.hasPrefix(subject) }
            #expect(found.count == 1 && found.first?.severity == severity, "\(fault): \(report.findings)")
        }
        // kvm02's agent.properties was in its own /etc (an overlay), never in the machine's.
        let machines = try? String(contentsOfFile: "/etc/cloudstack/agent/agent.properties", encoding: .utf8)
        #expect(machines?.contains("cloudbr5") != true)
        #expect(try collect(folder).status == 0)
        #expect(!(try diagnose(folder)).findings.contains { $0.severity == "error" }, "every zone fault healed")
        try ansible()
    }

    /// examples/ansible/collect.yml against both lab hosts and one that is down.
    static func ansible() throws {
        guard Host.missing("ansible-playbook").isEmpty else {
            print("skipped: examples/ansible on the lab needs ansible-core")
            return
        }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("kvmtopo-lab-ansible-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: work) }
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try """
        [kvm_hosts]
        kvm01 ansible_host=192.0.2.11
        kvm02 ansible_host=192.0.2.13
        s-1-VM ansible_host=192.0.2.12

        [kvm_hosts:vars]
        ansible_user=root
        ansible_ssh_private_key_file=\(key)
        ansible_ssh_common_args=-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
        ansible_python_interpreter=/usr/bin/python3

        """.write(toFile: "\(work)/inventory.ini", atomically: true, encoding: .utf8)
        let result = try Shell.run([
            "ip", "netns", "exec", "kvmtopo-lab-upstream", "env", "ANSIBLE_NOCOLOR=1",
            "ANSIBLE_SSH_ARGS=-o ControlMaster=no", "ANSIBLE_LOCAL_TEMP=\(work)/tmp", "ansible-playbook", "-i",
            "\(work)/inventory.ini", "\(PackageRoot.path)/examples/ansible/collect.yml", "-e", "dumps=\(work)/dumps",
            "-e", "kvmtopo=\(KVMTopoBinary.path)",
        ])
        #expect(result.status == 4 && result.output.contains("UNREACHABLE"), "\(result.output) \(result.stderr)")
        let hosts = try FileManager.default.contentsOfDirectory(atPath: "\(work)/dumps").sorted().map { file in
            try SnapshotCodec.decode(
                try Data(contentsOf: URL(fileURLWithPath: "\(work)/dumps/\(file)")), source: file
            ).host.hostname
        }
        #expect(hosts == ["kvm01", "kvm02"], "each dump with its host's own hostname")
    }
}
