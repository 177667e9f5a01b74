import Foundation
import TestSupport
import Testing

extension RealLibvirtTests {
    /// A live trace that falls behind a flood, in throwaway namespaces: a guest end (va) whose host side vb is a
    /// port of br0, and a far end (vd) behind the port vc. One at a time with the lab, whose guests need the cores.
    @Suite(
        "trace behind a flood",
        .enabled(if: Host.isRoot, "needs root to create network namespaces and capture"),
        .enabled(if: Host.missing("python3").isEmpty, "benchmarks/udp-flood needs python3"))
    struct TraceFloodTests {
        @Test("Ctrl-C lines up every frame already captured; a smaller --backlog drops frames and says how many")
        func linesUpTheBacklog() throws {
            let flood = try Flood()
            // The test build correlates some 80,000 frames a second: 60,000 datagrams a second, seen twice each,
            // leave it well behind (at 40,000 it was from 2,000 to 15,000 frames behind, and once, in CI, not).
            let traced = try flood.trace(datagramsPerSecond: 60_000)
            #expect(traced.status == 0, "\(traced.stderr)")
            #expect(
                traced.stderr.contains(/lining up the \d+ frames already read; Ctrl-C again to stop now/),
                "the correlation was behind at Ctrl-C: \(traced.stderr)")
            let summary = try #require(traced.summary, "\(traced.stdout)")
            #expect(summary.notCorrelated == nil, "no frame read is left out: \(traced.stdout.suffix(600))")
            #expect(summary.kernelDropped == 0, "the capture thread keeps the kernel's ring empty")
            #expect(summary.udp == traced.sent, "every datagram sent is a packet of the trace, delivered")
            #expect(summary.lost == 0)

            let bounded = try flood.trace(datagramsPerSecond: 60_000, arguments: ["--backlog", "1"])
            #expect(bounded.status == 0, "\(bounded.stderr)")
            let dropped = try #require(bounded.summary?.notCorrelated, "\(bounded.stdout.suffix(600))")
            #expect(dropped > 0 && bounded.summary!.udp < bounded.sent, "1 MiB holds some 7,000 frames")
        }
    }
}

/// benchmarks/trace's live topology: va → vb → br0 → vc → vd, with a dump in which va is the NIC of i-9-1-VM.
private final class Flood {
    let host: TestNamespace, guest: TestNamespace, far: TestNamespace
    let dump: String

    init() throws {
        host = try TestNamespace("flood-host")
        guest = try TestNamespace("flood-a")
        far = try TestNamespace("flood-d")
        try host.ip("link add br0 type bridge")
        try host.ip("link add vb type veth peer name va netns \(guest.name)")
        try host.ip("link add vc type veth peer name vd netns \(far.name)")
        for port in ["vb", "vc"] { try host.ip("link set \(port) master br0 up") }
        try host.ip("link set br0 up")
        try guest.ip("addr add 10.99.0.1/24 dev va")
        try guest.ip("link set va up")
        try far.ip("addr add 10.99.0.2/24 dev vd")
        try far.ip("link set vd up")
        let farMAC = try Self.mac(far, "vd")
        try guest.ip("neigh add 10.99.0.2 lladdr \(farMAC) dev va")
        // Port 9 is closed at vd: its ICMP answers are rate limited; they are not counted below.
        dump = FileManager.default.temporaryDirectory.appendingPathComponent("flood-\(getpid()).json").path
        let dumped = try KVMTopoBinary.run(
            ["dump", "--libvirt", "qemu+unix:///system?socket=/nonexistent/libvirt-sock"], in: host)
        var document = try #require(try JSONSerialization.jsonObject(with: dumped.stdout) as? [String: Any])
        document["domains"] = [
            [
                "name": "i-9-1-VM", "uuid": "flood", "state": "running", "persistent": true,
                "nics": [
                    [
                        "index": 0, "mac": try Self.mac(guest, "va"), "type": "bridge", "bridge": "br0", "tap": "vb",
                        "romBarOff": false, "tapFound": true, "hostBridge": "br0",
                    ]
                ],
            ]
        ]
        try JSONSerialization.data(withJSONObject: document).write(to: URL(fileURLWithPath: dump))
    }

    deinit { try? FileManager.default.removeItem(atPath: dump) }

    static func mac(_ ns: TestNamespace, _ link: String) throws -> String {
        let text = try ns.exec(["cat", "/sys/class/net/\(link)/address"]).output
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    struct Traced {
        var status: Int32
        var stdout: String
        var stderr: String
        var sent: Int
        var summary: Summary?
    }

    struct Summary {
        var udp: Int
        var lost: Int
        var kernelDropped: Int
        var notCorrelated: Int?
    }

    /// `kvmtopo trace` while benchmarks/udp-flood sends for 1.5 s, with one SIGINT the moment the flood ends.
    func trace(datagramsPerSecond: Int, arguments: [String] = []) throws -> Traced {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("flood-\(getpid())").path
        defer {
            for file in [".out", ".err"] { try? FileManager.default.removeItem(atPath: output + file) }
        }
        let trace =
            (["ip", "netns", "exec", host.name, KVMTopoBinary.path, "trace", "i-9-1-VM", "--from", dump, "udp"]
            + arguments).joined(separator: " ")
        let script = """
            \(trace) > \(output).out 2> \(output).err &
            pid=$!
            # The flood starts once the trace captures (it says so on standard error).
            for _ in $(seq 100); do grep -q 'capture points' \(output).err 2>/dev/null && break; sleep 0.1; done
            sleep 0.2
            ip netns exec \(guest.name) \(PackageRoot.path)/benchmarks/udp-flood 1.5 \(datagramsPerSecond)
            kill -INT $pid
            wait $pid
            """
        let run = try Shell.run(["bash", "-c", script])
        let stdout = (try? String(contentsOfFile: output + ".out", encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: output + ".err", encoding: .utf8)) ?? ""
        let number = { (pattern: Regex<(Substring, Substring)>) in
            stdout.firstMatch(of: pattern).flatMap { Int($0.1) }
        }
        let summary = number(/Summary · (\d+) packets/).map { _ in
            Summary(
                udp: stdout.matches(of: #/#\d+  UDP 10\.99\.0\.1:\d+ > 10\.99\.0\.2:9 /#).count,
                lost: number(/(\d+) lost,/) ?? -1, kernelDropped: number(/(\d+) dropped by the kernel/) ?? -1,
                notCorrelated: number(/(\d+) read and not correlated/))
        }
        return Traced(
            status: run.status, stdout: stdout, stderr: stderr + run.stderr,
            sent: Int(run.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1, summary: summary)
    }
}
