import Foundation
import TestSupport
import Testing
import Topology

/// `kvmtopo drops` on a real kernel, in a throwaway namespace: a bridge whose tap is held open by a process that
/// never reads it (a guest that does not drain its queue), and a far end flooding frames the bridge sends to
/// every port.
@Suite(
    "kvmtopo drops",
    .enabled(if: Host.isRoot, "needs root to create network namespaces"),
    .enabled(if: Host.missing("python3").isEmpty, "holding a tap open and flooding need python3"))
struct DropsTests {
    static let noLibvirt = ["--libvirt", "qemu+unix:///system?socket=/nonexistent/libvirt-sock"]

    @Test("a tap whose reader does not drain it: its tx dropped rises, placed on the tap, in text and JSON")
    func undrainedTap() throws {
        let host = try TestNamespace("drops-host")
        let far = try TestNamespace("drops-far")
        try host.ip("link add br0 type bridge")
        try host.ip("link add vb type veth peer name vd netns \(far.name)")
        try host.ip("link set vb master br0 up")
        try host.ip("link set br0 up")
        try far.ip("addr add 10.99.0.2/24 dev vd")
        try far.ip("link set vd up")
        // A MAC the bridge has never seen: every frame to it is flooded, to the tap too.
        try far.ip("neigh add 10.99.0.77 lladdr 02:00:00:00:00:77 dev vd")
        let holder = """
            import fcntl, os, struct, sys, time
            fd = os.open("/dev/net/tun", os.O_RDWR)
            fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", b"tdrop0", 0x0002 | 0x1000))
            print("held", flush=True)
            time.sleep(60)
            """
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("drops-\(getpid())").path
        defer { for file in [".json", ".txt", ".prom"] { try? FileManager.default.removeItem(atPath: output + file) } }
        let drops = ["ip", "netns", "exec", host.name, KVMTopoBinary.path, "drops"] + Self.noLibvirt
        let script = """
            ip netns exec \(host.name) python3 -c '\(holder)' > \(output).held &
            holder=$!
            for _ in $(seq 50); do grep -q held \(output).held 2>/dev/null && break; sleep 0.1; done
            ip -n \(host.name) link set tdrop0 master br0 up
            \(drops.joined(separator: " ")) --duration 3 --json --prometheus \(output).prom > \(output).json &
            json=$!
            \(drops.joined(separator: " ")) --duration 3 --ascii > \(output).txt &
            text=$!
            sleep 0.5
            ip netns exec \(far.name) \(PackageRoot.path)/benchmarks/udp-flood 1.5 20000 10.99.0.77 > /dev/null
            wait $json $text
            kill $holder
            rm -f \(output).held
            """
        let run = try Shell.run(["bash", "-c", script])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output + ".json")))
        let object = try #require(report as? [String: Any])
        #expect(object["schemaVersion"] as? Int == 1)
        let interfaces = object["interfaces"] as? [[String: Any]] ?? []
        let tap = try #require(interfaces.first { $0["interface"] as? String == "tdrop0" }, "\(object)")
        let counters = tap["counters"] as? [String: Int] ?? [:]
        #expect((counters["txDropped"] ?? 0) > 0, "\(tap)")
        #expect(interfaces.allSatisfy { $0["interface"] as? String != "vb" }, "the far end's port dropped nothing")
        let metrics = try String(contentsOfFile: output + ".prom", encoding: .utf8)
        #expect(
            metrics.contains(#"kvmtopo_drops_packets{interface="tdrop0",counter="tx_dropped"} "#)
                && metrics.contains("kvmtopo_drops_window_seconds 3."), "\(metrics)")
        let text = try String(contentsOfFile: output + ".txt", encoding: .utf8)
        #expect(text.contains("Drops on ") && text.contains("tdrop0") && text.contains("tx dropped "), "\(text)")
    }

    @Test("bad input: --from, a zero duration, an unknown VM: usage (64) with the reason, no crash")
    func badInput() throws {
        let ns = try TestNamespace("drops-bad")
        for arguments in [["--from", "/nonexistent.json"], ["--duration", "0"], ["vm", "nope", "--duration", "0.2"]] {
            let result = try KVMTopoBinary.run(["drops"] + Self.noLibvirt + arguments, in: ns)
            #expect(result.status == 64, "\(arguments): \(result.stderr)")
            let said = result.stderr.split(separator: "\n").last { !$0.hasPrefix("kvmtopo: libvirt unavailable") }
            #expect(
                said.map { $0.contains("drops") || $0.contains("nope") || $0.contains("seconds") } == true,
                "\(result.stderr)")
        }
        let quiet = try KVMTopoBinary.run(["drops", "--duration", "0.2"] + Self.noLibvirt, in: ns)
        #expect(quiet.status == 0 && quiet.output.hasPrefix("Nothing dropped by the interfaces of "), "\(quiet.output)")
    }
}
