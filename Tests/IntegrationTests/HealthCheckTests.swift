import Foundation
import TestSupport
import Testing

/// `kvmtopo diagnose --health-check` as the CloudStack agent runs it, through the wrapper the packages install:
/// its verdicts, its memory of the last runs, its deadline against a libvirt that never answers.
@Suite("the CloudStack agent's health check")
struct HealthCheckTests {
    static let wrapper = PackageRoot.path + "/packaging/cloudstack-health-check"
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvmtopo-health-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// The wrapper with its settings file, as the agent runs it (no arguments); `libvirt` goes in LIBVIRT_URI.
    static func runWrapper(settings: String, libvirt: String? = nil) throws -> CommandResult {
        let conf = try writeSettings(in: settings, ["DEADLINE=5"] + (libvirt.map { ["LIBVIRT_URI='\($0)'"] } ?? []))
        return try Shell.run(["/bin/bash", wrapper], environment: ["KVMTOPO_HEALTH_CHECK_CONF": conf])
    }

    /// The wrapper's settings file in `folder`: the test build's binary, a state file of the folder's, `more`.
    /// Returns its path.
    static func writeSettings(in folder: String, _ more: [String] = []) throws -> String {
        let conf = folder + "/settings.conf"
        try (["KVMTOPO=\(KVMTopoBinary.path)", "STATE=\(folder)/state"] + more).joined(separator: "\n")
            .write(toFile: conf, atomically: true, encoding: .utf8)
        return conf
    }

    @Test("an error fails the check only on the second run in a row; warnings never; a clean run clears it")
    func consecutiveRuns() throws {
        let dumps = PackageRoot.path + "/examples/dumps"
        let state = directory.appendingPathComponent("state").path
        func check(_ dump: String) throws -> CommandResult {
            try KVMTopoBinary.run(["diagnose", "--health-check", "--from", "\(dumps)/\(dump)", "--state", state])
        }
        let first = try check("lab-faults.json")
        #expect(first.status == 0, "one bad moment does not disable the host: \(first.output)")
        #expect(first.output.contains("not yet unhealthy: i-2-11-VM eth0"), "\(first.output)")
        #expect(first.output.contains("seen on 1 of the 2 runs needed"))
        let second = try check("lab-faults.json")
        #expect(second.status == 1, "\(second.output)")
        let lines = second.output.split(separator: "\n")
        #expect(lines.allSatisfy { $0.hasPrefix("unhealthy: ") }, "one line per error: \(second.output)")
        #expect(second.output.contains("unhealthy: i-2-11-VM eth0"), "the VM cut off is named: \(second.output)")
        #expect(!second.output.contains("tap-unclaimed"), "warnings never count")

        let healed = try check("lab-vxlan.json")
        #expect(healed.status == 0, "\(healed.output)")
        #expect(healed.output.contains("healthy again"))
        #expect(try check("lab-faults.json").status == 0, "the count starts again after a clean run")

        try "not json".write(toFile: state, atomically: true, encoding: .utf8)
        #expect(try check("lab-faults.json").status == 0, "an unreadable state file starts the count again")
        #expect(
            try KVMTopoBinary.run(["diagnose", "--runs", "3"]).status == 64, "--runs without --health-check is usage")
    }

    @Test(
        "each error goes to the system log too (facility daemon, tag kvmtopo-health-check), where operators look",
        .enabled(if: Host.isRoot, "needs root for a private /dev with a /dev/log of its own"))
    func systemLog() throws {
        let received = directory.appendingPathComponent("syslog").path
        let state = directory.appendingPathComponent("state").path
        // A private mount namespace whose /dev holds only null and a /dev/log socket that writes what it gets.
        let script = """
            set -eu
            mount -t tmpfs none /dev
            mknod -m 666 /dev/null c 1 3
            python3 -c '
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind("/dev/log"); s.settimeout(3)
            with open(sys.argv[1], "w") as out:
                try:
                    while True: out.write(s.recv(4096).decode() + "\\n")
                except socket.timeout: pass
            ' \(received) &
            while [ ! -S /dev/log ]; do sleep 0.05; done
            for run in 1 2; do
                \(KVMTopoBinary.path) diagnose --health-check --state \(state) \\
                    --from \(PackageRoot.path)/examples/dumps/lab-faults.json || true
            done
            wait
            """
        let result = try Shell.run(["unshare", "--mount", "--propagation", "private", "bash", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        let logged = try String(contentsOfFile: received, encoding: .utf8)
        // <27> is daemon.err, <28> daemon.warning.
        #expect(logged.contains("kvmtopo-health-check["), "\(logged)")
        #expect(
            logged.contains(#/<28>.*kvmtopo-health-check\[\d+\]: not yet unhealthy: i-2-11-VM eth0: /#), "\(logged)")
        #expect(logged.contains(#/<27>.*kvmtopo-health-check\[\d+\]: unhealthy: i-2-11-VM eth0: /#), "\(logged)")
    }

    @Test("a libvirt that accepts the connection and never answers: no verdict within the deadline")
    func libvirtHangs() throws {
        let socketPath = directory.appendingPathComponent("libvirt-sock").path
        let listener = try SilentListener(path: socketPath)
        defer { listener.close() }
        let started = ContinuousClock.now
        let result = try Self.runWrapper(
            settings: directory.path, libvirt: "qemu+unix:///system?socket=\(socketPath)")
        let took = ContinuousClock.now - started
        #expect(result.status == 2, "no verdict, which the agent ignores: \(result.output) \(result.stderr)")
        #expect(result.output.contains("no verdict: not done within 5 s"), "\(result.output)")
        #expect(took < .seconds(15), "the deadline ends it: \(took)")
        print("health check against a silent libvirt: ended after \(took) (deadline 5 s)")
    }

    @Test(
        "1,000 running domains in libvirt's test driver: a verdict well within the deadline",
        .enabled(if: Host.isRoot, "needs root for a network namespace of its own"))
    func thousandDomains() throws {
        var xml = "<node>"
        for index in 1...1000 {
            let mac = String(format: "02:00:00:00:%02x:%02x", index / 256, index % 256)
            xml += """
                <domain type='test'><name>i-2-\(index)-VM</name><memory>131072</memory><os><type>hvm</type></os>\
                <devices><interface type='bridge'><mac address='\(mac)'/><source bridge='brvx-1001'/>\
                <model type='virtio'/></interface></devices></domain>
                """
        }
        let node = directory.appendingPathComponent("node.xml").path
        try (xml + "</node>").write(toFile: node, atomically: true, encoding: .utf8)
        let namespace = try TestNamespace("health")
        let state = directory.appendingPathComponent("state").path
        let started = ContinuousClock.now
        let result = try KVMTopoBinary.run(
            ["diagnose", "--health-check", "--libvirt", "test://\(node)", "--state", state], in: namespace)
        let took = ContinuousClock.now - started
        #expect(result.status == 0 || result.status == 1, "a verdict: \(result.output) \(result.stderr)")
        print("health check on 1,000 test-driver domains: \(took), exit \(result.status)")
    }
}

/// A Unix socket that accepts connections (the kernel's backlog does) and never says a word.
struct SilentListener {
    let descriptor: Int32

    init(path: String) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: Array(path.utf8.prefix(buffer.count - 1)) + [0])
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard descriptor >= 0, bound == 0, listen(descriptor, 16) == 0 else {
            throw FixtureError("cannot listen on \(path): \(String(cString: strerror(errno)))")
        }
    }

    func close() { _ = Glibc.close(descriptor) }
}

/// The health check on the live lab, through the wrapper, as the agent would run it there.
struct LabHealthCheck {
    let settings: URL
    let conf: String

    init() throws {
        settings = FileManager.default.temporaryDirectory.appendingPathComponent("kvmtopo-lab-health-\(UUID())")
        try FileManager.default.createDirectory(at: settings, withIntermediateDirectories: true)
        conf = try HealthCheckTests.writeSettings(in: settings.path)
    }

    func run() throws -> CommandResult {
        try Lab.run(
            "exec", "env", "KVMTOPO_HEALTH_CHECK_CONF=\(conf)", "/bin/bash",
            HealthCheckTests.wrapper)
    }

    /// The clean lab: healthy.
    func healthy() throws {
        let result = try run()
        #expect(result.status == 0 && result.output.hasPrefix("healthy"), "\(result.output) \(result.stderr)")
    }

    /// With i-2-11-VM's tap off its bridge (and the other faults): healthy once, unhealthy on the second run.
    func cutOff() throws {
        let first = try run()
        #expect(first.status == 0, "one run is not enough: \(first.output) \(first.stderr)")
        #expect(first.output.contains("not yet unhealthy: i-2-11-VM eth0"), "\(first.output)")
        let second = try run()
        #expect(second.status == 1, "\(second.output) \(second.stderr)")
        #expect(second.output.contains("unhealthy: i-2-11-VM eth0: tap "), "the VM is named: \(second.output)")
    }

    /// Healed: healthy again, at once.
    func healed() throws {
        let result = try run()
        #expect(result.status == 0 && result.output.contains("healthy again"), "\(result.output) \(result.stderr)")
        try? FileManager.default.removeItem(at: settings)
    }
}
