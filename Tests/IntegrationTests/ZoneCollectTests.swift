import Foundation
import TestSupport
import Testing
import Topology

/// Real sshd daemons in a namespace of their own, a throwaway key: hosts that answer, one that is down, one
/// without kvmtopo. zone collect runs inside the namespace, as it would on an operator's machine.
@Suite(
    "kvmtopo zone collect over real ssh",
    .enabled(if: Host.isRoot, "needs root for a network namespace and sshd"),
    .enabled(if: Host.missing("sshd", "ssh", "ssh-keygen").isEmpty, "needs openssh-server and openssh-client"))
struct ZoneCollectTests {
    /// The keys, configs and logs of one test's sshd daemons.
    final class Daemons {
        let folder: String
        private var pidFiles: [String] = []

        init(_ label: String) throws {
            folder =
                FileManager.default.temporaryDirectory.appendingPathComponent("kvmtopo-ssh-\(label)-\(getpid())").path
            try? FileManager.default.removeItem(atPath: folder)
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
            for key in ["client", "host"] {
                try Shell.must(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", "\(folder)/\(key)"])
            }
            try FileManager.default.copyItem(atPath: "\(folder)/client.pub", toPath: "\(folder)/authorized_keys")
        }

        /// An sshd on these loopback addresses; `command` forced on every login when given.
        func start(_ name: String, addresses: [String], forcing command: String? = nil, in ns: TestNamespace) throws {
            let config = "\(folder)/\(name).conf"
            let lines =
                addresses.map { "ListenAddress \($0)" } + [
                    "HostKey \(folder)/host", "AuthorizedKeysFile \(folder)/authorized_keys", "UsePAM no",
                    "PermitRootLogin prohibit-password", "StrictModes no", "PidFile \(folder)/\(name).pid",
                ] + (command.map { ["ForceCommand \($0)"] } ?? [])
            try (lines.joined(separator: "\n") + "\n").write(toFile: config, atomically: true, encoding: .utf8)
            let started = try ns.exec(["/usr/sbin/sshd", "-f", config, "-E", "\(folder)/\(name).log"])
            try #require(started.status == 0, "sshd: \(started.stderr)")
            pidFiles.append("\(folder)/\(name).pid")
            // sshd writes its pid file once it listens.
            for _ in 0..<50 where !FileManager.default.fileExists(atPath: "\(folder)/\(name).pid") { usleep(100_000) }
        }

        var sshOptions: [String] {
            [
                "IdentityFile=\(folder)/client", "StrictHostKeyChecking=no", "UserKnownHostsFile=/dev/null",
                "LogLevel=ERROR",
            ].flatMap { ["--ssh-option", $0] }
        }

        deinit {
            for file in pidFiles {
                if let pid = (try? String(contentsOfFile: file, encoding: .utf8)).flatMap({
                    Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
                }) {
                    kill(pid, SIGTERM)
                }
            }
            try? FileManager.default.removeItem(atPath: folder)
        }
    }

    @Test("two hosts answer, one is down, one has no kvmtopo: their dumps written, the others named, exit 1")
    func collect() throws {
        let ns = try TestNamespace("collect")
        let daemons = try Daemons("collect")
        try daemons.start("answering", addresses: ["127.0.0.1", "127.0.0.2"], in: ns)
        try daemons.start("bare", addresses: ["127.0.0.4"], forcing: "/nonexistent/kvmtopo dump", in: ns)
        let out = "\(daemons.folder)/dumps"
        let result = try KVMTopoBinary.run(
            ["zone", "collect", "-o", out, "--parallel", "2", "--kvmtopo", KVMTopoBinary.path]
                + daemons.sshOptions + ["root@127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"], in: ns)
        #expect(result.status == 1, "\(result.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(files == ["127.0.0.1.json", "127.0.0.2.json"], "only the hosts that answered, user@ dropped")
        let hostname = try ns.exec(["cat", "/proc/sys/kernel/hostname"]).output.trimmingCharacters(in: .newlines)
        for file in files {
            let dump = try SnapshotCodec.decode(
                try Data(contentsOf: URL(fileURLWithPath: "\(out)/\(file)")), source: file)
            #expect(dump.host.hostname == hostname && dump.links.contains { $0.name == "lo" })
        }
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(
            lines.contains("kvmtopo: 127.0.0.3: ssh: connect to host 127.0.0.3 port 22: Connection refused"),
            "ssh's own reason for the host that is down: \(lines)")
        #expect(
            lines.contains {
                $0.hasPrefix("kvmtopo: 127.0.0.4: no kvmtopo there (") && $0.contains("/nonexistent/kvmtopo")
            },
            "\(lines)")
        #expect(lines.last == "kvmtopo: 2 of 4 hosts answered; their dumps are in \(out); 2 failed")

        let all = try KVMTopoBinary.run(
            ["zone", "collect", "-o", out, "--kvmtopo", KVMTopoBinary.path] + daemons.sshOptions + ["127.0.0.1"], in: ns
        )
        #expect(all.status == 0, "every host answered: \(all.stderr)")
        #expect(try KVMTopoBinary.run(["zone", "collect", "--parallel", "0", "127.0.0.1"]).status == 64)
    }
}

extension ZoneCollectTests {
    @Test(
        "examples/ansible/collect.yml fetches each answering host's dump; an unreachable one is Ansible's to report",
        .enabled(if: Host.missing("ansible-playbook").isEmpty, "needs ansible-core"))
    func ansible() throws {
        let ns = try TestNamespace("ansible")
        let daemons = try Daemons("ansible")
        try daemons.start("answering", addresses: ["127.0.0.1", "127.0.0.2"], in: ns)
        let inventory = "\(daemons.folder)/inventory.ini"
        try """
        [kvm_hosts]
        127.0.0.1
        127.0.0.2
        127.0.0.3

        [kvm_hosts:vars]
        ansible_user=root
        ansible_ssh_private_key_file=\(daemons.folder)/client
        ansible_ssh_common_args=-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
        ansible_python_interpreter=/usr/bin/python3

        """.write(toFile: inventory, atomically: true, encoding: .utf8)
        let out = "\(daemons.folder)/dumps"
        let result = try Shell.run([
            // No ssh master left running after the play (Ansible's default keeps one for 60 s).
            "ip", "netns", "exec", ns.name, "env", "ANSIBLE_NOCOLOR=1", "ANSIBLE_SSH_ARGS=-o ControlMaster=no",
            "ANSIBLE_LOCAL_TEMP=\(daemons.folder)/ansible",
            "ansible-playbook", "-i", inventory, "\(PackageRoot.path)/examples/ansible/collect.yml",
            "-e", "dumps=\(out)", "-e", "kvmtopo=\(KVMTopoBinary.path)",
        ])
        #expect(result.status == 4, "unreachable hosts: \(result.output) \(result.stderr)")
        #expect(result.output.contains("127.0.0.3") && result.output.contains("UNREACHABLE"), "\(result.output)")
        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(files == ["127.0.0.1.json", "127.0.0.2.json"])
        for file in files {
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(out)/\(file)"))
            #expect(try SnapshotCodec.decode(data, source: file).links.contains { $0.name == "lo" })
        }
        let leftOver = try ns.exec(["sh", "-c", "ls /tmp/ansible.*kvmtopo.json 2>/dev/null | wc -l"]).output
        #expect(leftOver.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "the temporary dumps are removed")
    }
}
