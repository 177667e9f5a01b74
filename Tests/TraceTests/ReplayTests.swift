import Capture
import CloudStack
import Foundation
import Packets
import Render
import TestSupport
import Testing
import Topology
import Trace

/// Captures recorded on the lab with `kvmtopo trace -w` (Fixtures/), replayed through the correlation with the
/// dump of the lab at that moment, and compared with the committed text in Golden/ (KVMTOPO_RECORD_GOLDEN=1
/// writes it anew). The assertions before each comparison say what must hold whatever the golden file says.
private let fixtures = "\(PackageRoot.path)/Tests/TraceTests/Fixtures"

func loadPlan(vm: String, dump: String = "lab") throws -> TracePlan {
    try TracePlan(snapshot: try recordedDump(dump, in: "Tests/TraceTests/Fixtures"), vm: vm)
}

/// The capture replayed as `trace --read` replays it: its frames through a trace session.
func replay(_ capture: String, vm: String, dump: String = "lab") throws -> [TracedPacket] {
    var frames = try ReplayFrames(inputs: [.init(path: "\(fixtures)/\(capture).pcapng")], filter: nil)
    var session = TraceSession(plan: try loadPlan(vm: vm, dump: dump), options: .init(timeout: 1_000_000_000))
    var packets: [TracedPacket] = []
    _ = try session.run(&frames, clock: SystemClock(), stopRequests: { 0 }) { packets += $0 }
    return packets
}

private func checkGolden(_ packets: [TracedPacket], name: String) throws {
    let text = TraceText(style: DiagramStyle(unicode: true, color: false, width: 400))
    var statistics = TraceStatistics()
    packets.forEach { statistics.record($0) }
    let output =
        packets.map(text.packet).joined() + text.summary(statistics, capture: nil)
        + packets.map(TraceJSON.line).joined()
    try expectGolden(output, file: "Tests/TraceTests/Golden/\(name).txt")
}

/// The packets whose summary starts so; the capture must have some.
private func matching(_ packets: [TracedPacket], _ prefix: String) throws -> [TracedPacket] {
    let found = packets.filter { $0.summary.hasPrefix(prefix) }
    try #require(!found.isEmpty, "no \(prefix) in the capture")
    return found
}

private func hops(_ packet: TracedPacket) -> [String] {
    packet.hops.map {
        "\($0.state == .lost ? "lost " : "")\($0.interface ?? $0.meaning) \($0.direction?.rawValue ?? "")"
    }
}

@Suite("trace replays of captures recorded on the lab")
struct ReplayTests {
    @Test("across two VPC tiers through the VPC router, with replies")
    func vpcTiers() throws {
        let packets = try replay("vpc-tiers", vm: "i-3-20-VM")
        let pings = try matching(packets, "ICMP echo request 10.0.1.10 > 10.0.2.10")
        for ping in pings {
            #expect(hops(ping) == ["vnet9 in", "vnet7 out", "routed by r-7-VM ", "vnet8 in", "vnet10 out"])
            #expect(ping.outcome == "delivered to i-3-21-VM eth0" && !ping.lost)
            #expect(ping.hops.first { $0.kind == .router }?.note?.contains("ttl 64→63") == true)
            #expect(
                hops(try #require(ping.reply.first)) == [
                    "vnet10 in", "vnet8 out", "routed by r-7-VM ", "vnet7 in", "vnet9 out",
                ])
            // Path order, not time order; offsets grow along this path.
            let offsets = ping.hops.compactMap(\.offset)
            #expect(offsets == offsets.sorted() && offsets.first == 0)
        }
        #expect(packets.allSatisfy { !$0.lost })
        try checkGolden(packets, name: "vpc-tiers")
    }

    @Test("to the outside through the isolated VR and its NAT, and to the VR itself")
    func isolatedOutside() throws {
        let packets = try replay("isolated-outside", vm: "i-2-10-VM")
        let outside = try matching(packets, "ICMP echo request 10.1.1.23 > 198.51.100.1")
        for ping in outside {
            #expect(hops(ping) == ["vnet3 in", "vnet0 out", "routed by r-4-VM ", "vnet2 in", "eth2 out"])
            #expect(ping.outcome == "left the host on eth2")
            // The VR translates its guests' addresses to its public one, as CloudStack's does.
            #expect(
                ping.hops.first { $0.kind == .router }?.note?.hasSuffix("NAT source 10.1.1.23→203.0.113.10") == true)
            #expect(
                ping.reply.first?.hops.first { $0.kind == .router }?.note?.hasSuffix(
                    "NAT destination 203.0.113.10→10.1.1.23") == true)
            #expect(
                hops(try #require(ping.reply.first)) == [
                    "eth2 in", "vnet2 out", "routed by r-4-VM ", "vnet0 in", "vnet3 out",
                ])
        }
        let toRouter = try matching(packets, "ICMP echo request 10.1.1.23 > 10.1.1.1")
        #expect(toRouter.allSatisfy { $0.outcome == "delivered to r-4-VM" && $0.reply.count == 1 })
        try checkGolden(packets, name: "isolated-outside")
    }

    @Test("a bridge filter rule: lost between the VM's tap and the router")
    func dropRule() throws {
        let packets = try replay("drop-rule", vm: "i-3-20-VM")
        let pings = try matching(packets, "ICMP echo request 10.0.1.10")
        for ping in pings {
            #expect(hops(ping) == ["vnet9 in", "lost vnet7 out"])
            #expect(ping.lost && ping.replyMissing && ping.outcome.hasPrefix("lost at vnet7"))
            #expect(ping.hops.last?.note?.contains("not forwarded by brvx-2001") == true)
        }
        try checkGolden(packets, name: "drop-rule")
    }

    @Test("the router's tap down: lost there, with the reason, and the flooded copies marked")
    func routerTapDown() throws {
        let packets = try replay("router-tap-down", vm: "i-2-10-VM", dump: "router-tap-down")
        let pings = try matching(packets, "ICMP echo request 10.1.1.23")
        for ping in pings {
            let lost = try #require(ping.hops.first { $0.state == .lost })
            #expect(lost.interface == "vnet0" && lost.note == "vnet0 is down")
            #expect(ping.hops.filter { $0.note?.hasPrefix("flooded") == true }.count >= 1)
            #expect(ping.lost && ping.replyMissing)
        }
        try checkGolden(packets, name: "router-tap-down")
    }

    @Test("a VPC router's exit tap down on the host: the lost hop is that tap, with its reason, not the router")
    func routerExitDown() throws {
        let packets = try replay("router-exit-down", vm: "i-3-20-VM", dump: "router-exit-down")
        let pings = try matching(packets, "ICMP echo request 10.0.1.10 > 10.0.2.10")
        for ping in pings {
            #expect(hops(ping) == ["vnet21 in", "vnet19 out", "lost vnet20 in"])
            let lost = try #require(ping.hops.last)
            #expect(lost.note == "not seen leaving r-7-VM by eth3: vnet20 is down")
            #expect(ping.outcome == "lost at vnet20 (r-7-VM eth3 (vpc-tier brvx-2002))")
            #expect(!ping.hops.contains { $0.kind == .router }, "the router's inside is not blamed")
        }
        try checkGolden(packets, name: "router-exit-down")
    }
}
