import Foundation
import TestSupport
import Testing
import Topology

private func temporaryFile(_ name: String, _ contents: String? = nil) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvmtopo-cli-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let path = directory.appendingPathComponent(name).path
    if let contents { try contents.write(toFile: path, atomically: true, encoding: .utf8) }
    return path
}

private let unreachableLibvirt = ["--libvirt", "qemu+unix:///system?socket=/nonexistent/libvirt-sock"]

@Suite("the kvmtopo command line")
struct CommandLineTests {
    @Test("dump --from FILE writes FILE again byte for byte")
    func roundTrip() throws {
        let first = try KVMTopoBinary.run(["dump"] + unreachableLibvirt)
        #expect(first.status == 0)
        let path = try temporaryFile("dump.json")
        try first.stdout.write(to: URL(fileURLWithPath: path))
        let again = try KVMTopoBinary.run(["dump", "--from", path])
        #expect(again.status == 0)
        #expect(again.stdout == first.stdout)
        #expect(again.stderr.isEmpty, "a saved dump is read without touching the live host")

        let output = try temporaryFile("copy.json")
        #expect(try KVMTopoBinary.run(["dump", "--from", path, "--output", output]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == first.stdout)
    }

    @Test("unreachable libvirt: the dump still succeeds from netlink, says why on one stderr line, exits 0")
    func libvirtDown() throws {
        let result = try KVMTopoBinary.run(["dump"] + unreachableLibvirt)
        #expect(result.status == 0)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.contains("libvirt unavailable") == true)
        let snapshot = try SnapshotCodec.decode(result.stdout, source: "stdout")
        #expect(snapshot.host.sources.libvirt.status == .unavailable)
        #expect(snapshot.host.sources.libvirt.uri == "qemu+unix:///system?socket=/nonexistent/libvirt-sock")
        #expect(snapshot.host.sources.libvirt.error?.contains("is libvirtd running?") == true)
        #expect(snapshot.links.contains { $0.name == "lo" })
    }

    @Test(
        "bad input files: one line on stderr, a documented exit status, no crash",
        arguments: [
            ("garbage.json", "\u{7f}ELF\u{2}\u{1}", Int32(65), "not a kvmtopo dump"),
            ("future.json", #"{"schemaVersion": 99}"#, 65, "schemaVersion 99 is not supported"),
            ("truncated.json", #"{"schemaVersion": 1, "host": {"hostname": "a""#, 65, "kvmtopo dump"),
            ("wrongtype.json", #"{"schemaVersion": 1, "host": [], "links": 3}"#, 65, "invalid kvmtopo dump"),
        ])
    func badInput(name: String, contents: String, status: Int32, message: String) throws {
        let path = try temporaryFile(name, contents)
        let result = try KVMTopoBinary.run(["dump", "--from", path])
        #expect(result.status == status)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("kvmtopo: \(path): "))
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test("a missing input file exits 66, an unwritable output 73")
    func files() throws {
        let missing = try KVMTopoBinary.run(["dump", "--from", "/nonexistent/dump.json"])
        #expect(missing.status == 66)
        #expect(missing.stderr == "kvmtopo: /nonexistent/dump.json: cannot read (no such file)\n")
        let unwritable = try KVMTopoBinary.run(["dump", "--output", "/nonexistent/dir/out.json"] + unreachableLibvirt)
        #expect(unwritable.status == 73)
        #expect(unwritable.stderr.contains("/nonexistent/dir/out.json: cannot write"))
    }

    @Test("diff: 0 when nothing changed, 1 with the changes, 65 and 66 for a bad or missing dump, 64 for one file")
    func diff() throws {
        let dumps = "\(PackageRoot.path)/examples/dumps"
        let same = try KVMTopoBinary.run(["diff", "\(dumps)/lab-vxlan.json", "\(dumps)/lab-vxlan.json"])
        #expect(same.status == 0 && same.output.hasSuffix("No changes.\n"), "\(same.output)")
        let faults = try KVMTopoBinary.run(["diff", "\(dumps)/lab-vxlan.json", "\(dumps)/lab-faults.json", "--json"])
        #expect(faults.status == 1, "\(faults.stderr)")
        let report = try JSONSerialization.jsonObject(with: faults.stdout) as? [String: Any]
        #expect(report?["schemaVersion"] as? Int == 1 && (report?["changes"] as? [Any])?.count == 5)
        let text = try KVMTopoBinary.run(["diff", "\(dumps)/lab-vxlan.json", "\(dumps)/lab-faults.json"])
        #expect(text.output.contains("  ~ i-2-11-VM eth0 (tap vnet4): left brvx-1001 (now on no bridge)\n"))
        let missing = try KVMTopoBinary.run(["diff", "/nonexistent/old.json", "\(dumps)/lab-vxlan.json"])
        #expect(
            missing.status == 66 && missing.stderr == "kvmtopo: /nonexistent/old.json: cannot read (no such file)\n")
        let notDump = try KVMTopoBinary.run(["diff", "\(dumps)/lab-vxlan.json", "\(PackageRoot.path)/Package.swift"])
        #expect(notDump.status == 65 && notDump.stderr.split(separator: "\n").count == 1, "\(notDump.stderr)")
        #expect(try KVMTopoBinary.run(["diff", "\(dumps)/lab-vxlan.json"]).status == 64)
    }

    @Test("zone: dumps and folders joined; a bad dump among them is one line; scopes; JSON, DOT and diagnose's exits")
    func zone() throws {
        let dumps = "\(PackageRoot.path)/examples/dumps"
        let folder = try temporaryFile("zone")
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var second = try String(contentsOfFile: "\(dumps)/vr-elsewhere.json", encoding: .utf8)
        second = second.replacingOccurrences(of: "\"hostname\" : \"vm\"", with: "\"hostname\" : \"kvm02\"")
        try second.write(toFile: "\(folder)/kvm02.json", atomically: true, encoding: .utf8)
        try "not a dump".write(toFile: "\(folder)/broken.json", atomically: true, encoding: .utf8)

        let show = try KVMTopoBinary.run(["zone", "show", "\(dumps)/lab-vxlan.json", folder, "--ascii"])
        #expect(show.status == 0 && show.output.hasPrefix("Zone - 2 hosts (kvm02, vm) - "), "\(show.output)")
        #expect(show.stderr.split(separator: "\n").count == 1 && show.stderr.contains("broken.json"), "\(show.stderr)")
        let vm = try KVMTopoBinary.run(["zone", "show", "vm", "i-2-10-VM", "\(dumps)/lab-vxlan.json", folder])
        #expect(vm.output.contains("vni:1001") && !vm.output.contains("vni:2001"), "\(vm.output)")
        #expect(try KVMTopoBinary.run(["zone", "show", "vm", "i-9-99-VM", folder]).status == 2)

        let json = try KVMTopoBinary.run(["zone", "dump", "\(dumps)/lab-vxlan.json", folder])
        let zone = try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any]
        #expect(zone?["schemaVersion"] as? Int == 1 && (zone?["hosts"] as? [Any])?.count == 2)
        let dot = try KVMTopoBinary.run(["zone", "dump", "--format", "dot", folder])
        #expect(dot.output.hasPrefix("graph kvmtopo_zone {") && dot.output.contains("subgraph \"cluster_host_kvm02\""))

        // The same VPC router and VMs on both: run twice, errors.
        let diagnose = try KVMTopoBinary.run(["zone", "diagnose", "--json", "\(dumps)/lab-vxlan.json", folder])
        let report = try JSONSerialization.jsonObject(with: diagnose.stdout) as? [String: Any]
        #expect(diagnose.status == 2 && report?["hosts"] as? [String] == ["kvm02", "vm"], "\(diagnose.output)")
        #expect(try KVMTopoBinary.run(["zone", "diagnose", "vm", "i-9-99-VM", folder]).status == 64)
        #expect(try KVMTopoBinary.run(["zone", "diagnose", "\(dumps)/lab-vxlan.json"]).status == 0)
        let none = try KVMTopoBinary.run(["zone", "show", "\(folder)/broken.json"])
        #expect(none.status == 65 && none.stderr.split(separator: "\n").count == 1, "\(none.stderr)")
        #expect(try KVMTopoBinary.run(["zone", "show"]).status == 64)
    }

    @Test("usage errors exit 64")
    func usage() throws {
        let result = try KVMTopoBinary.run(["dump", "--no-such-flag"])
        #expect(result.status == 64)
    }

    @Test("help, version and shell completion")
    func conventions() throws {
        #expect(try KVMTopoBinary.run(["--version"]).output == kvmtopoReleaseVersion + "\n")
        #expect(try KVMTopoBinary.run(["dump", "--help"]).output.contains("--from <file>"))
        for shell in ["bash", "zsh", "fish"] {
            let completion = try KVMTopoBinary.run(["--generate-completion-script", shell])
            #expect(completion.status == 0)
            #expect(completion.output.contains("dump"))
        }
    }

    @Test(
        "libvirt refused for lack of privilege names what is missing",
        .enabled(if: Host.isRoot, "needs root to switch to an unprivileged user"))
    func permissionDenied() throws {
        // A socket only root may connect to, as libvirtd's read-write socket is.
        let socket = try temporaryFile("libvirt-sock")
        try? FileManager.default.removeItem(atPath: socket)
        try Shell.must([
            "python3", "-c",
            "import socket, os, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o600)",
            socket,
        ])
        try Shell.must(["chmod", "0755", URL(fileURLWithPath: socket).deletingLastPathComponent().path])
        let result = try Shell.run([
            "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", KVMTopoBinary.path,
            "dump", "--libvirt", "qemu+unix:///system?socket=\(socket)",
        ])
        #expect(result.status == 0)
        #expect(result.stderr.contains("permission denied connecting to"), "\(result.stderr)")
        #expect(result.stderr.contains("run as root or as a member of the libvirt group"))
        let snapshot = try SnapshotCodec.decode(result.stdout, source: "stdout")
        #expect(snapshot.host.sources.libvirt.status == .unavailable)
    }
}

@Suite("output files")
struct OutputFileTests {
    @Test("--output to a device writes into it and leaves the device a device")
    func device() throws {
        let result = try KVMTopoBinary.run(["dump", "--output", "/dev/null"] + unreachableLibvirt)
        #expect(result.status == 0)
        let attributes = try FileManager.default.attributesOfItem(atPath: "/dev/null")
        #expect(attributes[.type] as? FileAttributeType == .typeCharacterSpecial)
    }

    @Test("--output /dev/stdout reaches standard output")
    func stdout() throws {
        let result = try KVMTopoBinary.run(["dump", "--output", "/dev/stdout"] + unreachableLibvirt)
        #expect(result.status == 0)
        #expect(try SnapshotCodec.decode(result.stdout, source: "stdout").schemaVersion == 1)
    }
}

@Suite("kvmtopo show on the command line")
struct ShowCommandTests {
    private let dump = "\(PackageRoot.path)/examples/dumps/lab-faults.json"

    @Test("an unknown VM is one line naming the closest, exit status 2")
    func unknownVM() throws {
        let result = try KVMTopoBinary.run(["show", "vm", "i-2-1-VM", "--from", dump])
        #expect(result.status == 2)
        #expect(result.stderr == "kvmtopo: no VM named 'i-2-1-VM'; did you mean i-2-10-VM, i-2-11-VM, i-3-21-VM?\n")
    }

    @Test("COLUMNS cuts lines; piped output has no colour; --ascii is ASCII")
    func layout() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["COLUMNS"] = "50"
        environment.removeValue(forKey: "NO_COLOR")
        let result = try KVMTopoBinary.run(["show", "--from", dump, "--ascii"], environment: environment)
        #expect(result.status == 0)
        #expect(result.output.split(separator: "\n").allSatisfy { $0.count <= 50 })
        #expect(!result.output.contains("\u{1b}["))
        #expect(result.output.unicodeScalars.allSatisfy { $0.isASCII })
        #expect(result.output.contains("VPC  router r-7-VM"))
    }

    @Test(
        "every scope works on a saved dump",
        arguments: [["vm", "r-7-VM"], ["network", "vni:1001"], ["vpc", "r-7-VM"], ["host"], []])
    func scopes(arguments: [String]) throws {
        let result = try KVMTopoBinary.run(["show"] + arguments + ["--from", dump])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output.hasPrefix("vm · libvirt qemu:///system") || result.output.hasPrefix("r-7-VM  running"))
    }
}

@Suite("kvmtopo trace on the command line")
struct TraceCommandTests {
    let dump = "\(PackageRoot.path)/Tests/TraceTests/Fixtures/lab.json"
    let capture = "\(PackageRoot.path)/Tests/TraceTests/Fixtures/vpc-tiers.pcapng"

    @Test(
        "without root a live trace says capturing needs root, in one line, exit 1; --read needs nothing",
        .enabled(if: Host.isRoot, "needs root to become another user"))
    func unprivileged() throws {
        let nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", KVMTopoBinary.path, "trace"]
        let live = try Shell.run(nobody + ["i-3-20-VM", "--from", dump, "--duration", "1"])
        #expect(live.status == 1)
        #expect(
            live.stderr.split(separator: "\n").count == 1 && live.stderr.contains("capturing needs root"),
            "\(live.stderr)")
        let replay = try Shell.run(nobody + ["i-3-20-VM", "--from", dump, "--read", capture, "-c", "2"])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.output.components(separatedBy: "\n#").count == 2, "two packets: \(replay.output)")
    }

    @Test(
        "bad input: one line, the documented status",
        arguments: [
            (["nosuch-VM"], Int32(2), "no VM named 'nosuch-VM'"),
            (["i-3-20-VM", "--read", "/etc/hostname"], Int32(65), "not a pcap or pcapng capture"),
            (["i-3-20-VM", "--read", "/nonexistent.pcapng"], Int32(66), "cannot read"),
            (["i-3-20-VM", "--nic", "eth7"], Int32(1), "has no NIC eth7"),
            (["i-3-20-VM", "icmp", "and", "("], Int32(64), "invalid filter"),
            (["i-3-20-VM", "--listen", "1"], Int32(64), "cannot be used with --from"),
            (["i-3-20-VM", "--read", PackageRoot.path], Int32(66), "is a directory, not a capture file"),
            (["i-3-20-VM", "--read", "/dev/zero"], Int32(65), "neither pcap nor pcapng (it starts with 0x0)"),
            (["i-3-20-VM", "--read", "/dev/null"], Int32(65), "the file is empty"),
        ])
    func badInput(arguments: [String], status: Int32, message: String) throws {
        let result = try KVMTopoBinary.run(["trace"] + arguments + ["--from", dump])
        #expect(result.status == status, "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Backtrace"))
    }

    @Test(
        "a full disk under -w: one line naming the file and why, exit 73",
        .enabled(if: Host.isRoot, "needs root to mount a tmpfs"))
    func fullDisk() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvmtopo-full-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Shell.must(["mount", "-t", "tmpfs", "-o", "size=32k", "tmpfs", directory])
        defer {
            _ = try? Shell.run(["umount", directory])
            try? FileManager.default.removeItem(atPath: directory)
        }
        let big = "\(directory).pcapng"
        defer { try? FileManager.default.removeItem(atPath: big) }
        try Shell.must(["\(PackageRoot.path)/benchmarks/make-capture", capture, big, "3000"])
        let result = try KVMTopoBinary.run([
            "trace", "i-3-20-VM", "--from", dump, "--read", big, "-w", "\(directory)/trace.pcapng",
        ])
        #expect(result.status == 73)
        #expect(
            result.stderr == "kvmtopo: \(directory)/trace.pcapng: cannot write (No space left on device)\n",
            "\(result.stderr)")
    }

    @Test("--read from a pipe (-) and a FIFO; --timeout inf and 1e11 saturate instead of trapping")
    func pipesAndLimits() throws {
        let fifo = FileManager.default.temporaryDirectory.appendingPathComponent("kvmtopo-fifo-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: fifo) }
        let trace = "\(KVMTopoBinary.path) trace i-3-20-VM --from \(dump)"
        let script = """
            cat \(capture) | \(trace) --read - | grep -c '^#'
            mkfifo \(fifo) && (cat \(capture) > \(fifo) &) && \(trace) --read \(fifo) | grep -c '^#'
            \(trace) --read \(capture) --timeout inf | grep -c '^#'
            \(trace) --read \(capture) --timeout 1e11 | grep -c '^#'
            """
        let result = try Shell.run(["bash", "-c", script])
        #expect(result.output.split(separator: "\n") == ["5", "5", "5", "5"], "\(result.output) \(result.stderr)")
        #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Backtrace"), "\(result.stderr)")
    }

    @Test("--read with a filter and --json: JSON lines, packets then one summary")
    func replayJSON() throws {
        let result = try KVMTopoBinary.run(["trace", "i-3-20-VM", "--from", dump, "--read", capture, "--json", "icmp"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.output.split(separator: "\n")
        let types = try lines.map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])["type"] as? String
        }
        #expect(types.last == "summary" && types.dropLast().allSatisfy { $0 == "packet" } && types.count > 5)
        #expect(!result.output.contains("ARP"), "the filter keeps only ICMP")
    }
}

@Suite("kvmtopo diagnose on the command line")
struct DiagnoseCommandTests {
    let dumps = "\(PackageRoot.path)/examples/dumps"

    @Test(
        "a saved dump: errors found exit 2, text grouped by severity; a clean one exits 0; bad scopes are usage errors")
    func fromDump() throws {
        let faulty = try KVMTopoBinary.run(["diagnose", "--from", "\(dumps)/lab-faults.json", "--ascii"])
        #expect(faulty.status == 2, "\(faulty.stderr)")
        let text = faulty.output
        #expect(
            text.contains("Errors") && text.contains("x tap-no-master  i-2-11-VM eth0") && text.contains("Warnings"))
        #expect(text.range(of: "Errors")!.lowerBound < text.range(of: "Warnings")!.lowerBound)
        let clean = try KVMTopoBinary.run(["diagnose", "--from", "\(dumps)/lab-vxlan.json"])
        #expect(clean.status == 0, "\(clean.output)")
        let scoped = try KVMTopoBinary.run(["diagnose", "vm", "i-3-20-VM", "--from", "\(dumps)/lab-faults.json"])
        #expect(scoped.status == 0 && scoped.output.contains("Nothing to report"), "\(scoped.output)")
        for (arguments, message) in [
            (["vm"], "the scope is"), (["vm", "nosuch"], "no VM named 'nosuch'"), (["host", "x"], "the scope is"),
        ] {
            let result = try KVMTopoBinary.run(["diagnose"] + arguments + ["--from", "\(dumps)/lab-faults.json"])
            #expect(result.status == 64 && result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
        let unwritable = try KVMTopoBinary.run([
            "diagnose", "--prometheus", "/nonexistent/dir/kvmtopo.prom", "--from", "\(dumps)/lab-faults.json",
        ])
        #expect(unwritable.status == 73, "\(unwritable.stderr)")
    }
}
