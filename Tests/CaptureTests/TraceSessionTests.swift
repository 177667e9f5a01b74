import Capture
import Foundation
import Packets
import TestSupport
import Testing
import Topology
import Trace

/// Time that only moves when the source says it does.
final class MadeUpClock: SessionClock, @unchecked Sendable {
    var time: UInt64
    init(_ time: UInt64) { self.time = time }
    func now() -> UInt64 { time }
}

/// A live source whose frames arrive at set times: asking for frames up to a deadline moves the clock there.
/// Frames that have arrived and were not given yet (more than `perCall`) wait, as behind a flood; after a stop only
/// those are given.
struct ScriptedFrames: FrameSource {
    var frames: [Frame]
    let clock: MadeUpClock
    var isLive = true
    var perCall = Int.max
    var stopped = false
    var isFinished: Bool { stopped ? backlog == nil : !isLive && frames.isEmpty }
    var counters: CaptureCounters? { isLive ? CaptureCounters(received: 7, dropped: 1, droppedByInterface: 0) : nil }

    var backlog: (frames: Int, oldest: UInt64)? {
        let arrived = frames.prefix { $0.timestamp <= clock.time }.count
        return arrived > 0 ? (arrived, frames[0].timestamp) : nil
    }

    mutating func stopReading() { stopped = true }

    mutating func frames(until deadline: UInt64) -> [Frame] {
        let due = frames.prefix { $0.timestamp <= (stopped ? clock.time : deadline) }.prefix(perCall)
        frames.removeFirst(due.count)
        if !stopped { clock.time = max(clock.time, isLive ? deadline : due.last?.timestamp ?? clock.time) }
        return Array(due)
    }
}

@Suite("trace sessions on a made-up frame source and clock")
struct TraceSessionTests {
    let snapshot: HostSnapshot
    let plan: TracePlan
    let start: UInt64 = 1_800_000_000_000_000_000
    let vm10: [UInt8] = [10, 1, 1, 23], vm11: [UInt8] = [10, 1, 1, 24]

    init() throws {
        snapshot = try recordedDump("lab", in: "Tests/TraceTests/Fixtures")
        plan = try TracePlan(snapshot: snapshot, vm: "i-2-10-VM")
    }

    /// An echo between the two VMs of brvx-1001, seen as the `any` capture sees it: in at one tap, out at the other.
    func echo(request: Bool, at microseconds: UInt64, sequence: UInt16) throws -> [Frame] {
        let (from, to) = request ? ("vnet3", "vnet4") : ("vnet4", "vnet3")
        let packet = Frames.ipv4(
            proto: 1, source: request ? vm10 : vm11, destination: request ? vm11 : vm10,
            Frames.icmpEcho(id: 9, sequence: sequence, request: request))
        return try [(from, false, UInt64(0)), (to, true, UInt64(20))].map { name, out, delay in
            let point = try #require(plan.point(named: name))
            return Frame(
                bytes: Frames.sll2(ifindex: UInt32(plan.points[point].ifindex), outgoing: out, 0x0800, packet),
                linkType: .linuxSLL2, timestamp: start + (microseconds + delay) * 1000, originalLength: 0)
        }
    }

    func pings(_ count: Int) throws -> [Frame] {
        try (0..<count).flatMap { index in
            let at = UInt64(index) * 1_000_000
            return try echo(request: true, at: at, sequence: UInt16(index))
                + echo(
                    request: false, at: at + 300,
                    sequence: UInt16(index))
        }
    }

    func run(
        _ frames: [Frame], _ options: TraceSession.Options, live: Bool = true,
        present: (() -> Set<Int>?)? = nil
    ) throws -> (
        packets: [TracedPacket], result: TraceSession.Result,
        notices: [String], clock: MadeUpClock
    ) {
        let clock = MadeUpClock(start)
        var source = ScriptedFrames(frames: frames, clock: clock, isLive: live)
        var session = TraceSession(plan: plan, options: options)
        var packets: [TracedPacket] = []
        var notices: [String] = []
        let result = try session.run(
            &source, clock: clock, stopRequests: { 0 }, presentInterfaces: present,
            notice: { notices.append($0) }
        ) { packets += $0 }
        return (packets, result, notices, clock)
    }

    @Test("live: each request with its reply, numbered, for as long as asked, in made-up time")
    func live() throws {
        let (packets, result, _, clock) = try run(try pings(3), .init(timeout: 1_000_000_000, duration: 5_000_000_000))
        #expect(packets.map(\.number) == [1, 2, 3])
        #expect(packets.allSatisfy { $0.summary.hasPrefix("ICMP echo request 10.1.1.23 > 10.1.1.24") && !$0.lost })
        #expect(packets.allSatisfy { $0.reply.first?.hops.map(\.interface) == ["vnet4", "vnet3"] })
        #expect(result.statistics.packets == 3 && result.statistics.replies == 3)
        #expect(result.capture == CaptureCounters(received: 7, dropped: 1, droppedByInterface: 0))
        #expect(clock.time >= start + 5_000_000_000 && clock.time < start + 5_200_000_000, "ends at --duration")
    }

    @Test("-c stops the session as soon as that many packets are out")
    func count() throws {
        let (packets, _, _, clock) = try run(try pings(5), .init(timeout: 1_000_000_000, count: 2))
        #expect(packets.map(\.number) == [1, 2])
        #expect(clock.time < start + 4_000_000_000, "it did not wait for the rest")
    }

    @Test("a hop never reached is lost once the clock passes the timeout, and not before")
    func lostAfterTimeout() throws {
        let request = try echo(request: true, at: 0, sequence: 0)
        var firstBatchAt: UInt64?
        let clock = MadeUpClock(start)
        var source = ScriptedFrames(frames: [request[0]], clock: clock)
        var session = TraceSession(plan: plan, options: .init(timeout: 500_000_000, duration: 2_000_000_000))
        _ = try session.run(&source, clock: clock, stopRequests: { 0 }) { packets in
            if !packets.isEmpty, firstBatchAt == nil { firstBatchAt = clock.time }
            #expect(packets.allSatisfy { $0.lost })
        }
        let emitted = try #require(firstBatchAt)
        #expect(emitted >= start + 500_000_000 && emitted <= start + 1_000_000_000, "\(emitted - start) ns")
    }

    @Test("--to a VM keeps only packets whose path touches it")
    func toVM() throws {
        let (to11, _, _, _) = try run(
            try pings(2),
            .init(
                timeout: 1_000_000_000, duration: 3_000_000_000,
                toVM: "i-2-11-VM"))
        #expect(to11.count == 2)
        let (toRouter, _, _, _) = try run(
            try pings(2),
            .init(
                timeout: 1_000_000_000, duration: 3_000_000_000,
                toVM: "r-4-VM"))
        #expect(toRouter.isEmpty)
    }

    @Test("a capture point that vanishes is said once, and the trace goes on")
    func vanished() throws {
        let tap = try #require(plan.point(named: "vnet4"))
        let all = Set(plan.points.map(\.ifindex))
        let (packets, _, notices, _) = try run(
            try pings(3), .init(timeout: 1_000_000_000, duration: 6_000_000_000),
            present: { all.subtracting([plan.points[tap].ifindex]) })
        #expect(notices == ["capture point vnet4 (i-2-11-VM eth0 (isolated brvx-1001)) is gone; tracing the rest"])
        #expect(packets.count == 3)
    }

    @Test("a replay follows the frames' own time, and -w writes what a replay reads back")
    func replayAndWrite() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("session-\(UUID()).pcapng").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let clock = MadeUpClock(start)
        var source = ScriptedFrames(frames: try pings(2), clock: clock)
        var session = TraceSession(plan: plan, options: .init(timeout: 1_000_000_000, duration: 3_000_000_000))
        try session.write(to: path, snapLength: 256)
        var live: [TracedPacket] = []
        _ = try session.run(&source, clock: clock, stopRequests: { 0 }) { live += $0 }

        var saved = try ReplayFrames(inputs: [.init(path: path)], filter: nil)
        #expect(!saved.isLive && saved.counters == nil)
        var replayed = TraceSession(plan: plan, options: .init(timeout: 1_000_000_000))
        var packets: [TracedPacket] = []
        let wallClock = MadeUpClock(0)
        _ = try replayed.run(&saved, clock: wallClock, stopRequests: { 0 }) { packets += $0 }
        #expect(saved.isFinished)
        #expect(packets == live, "the same packets from the file as from the frames")
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    /// A session ten seconds behind its source (every frame arrived long ago), given one frame at a time.
    func behind(
        _ frames: [Frame], stops: Int
    ) throws -> (packets: [TracedPacket], notices: [String]) {
        let clock = MadeUpClock(start + 10_000_000_000)
        var source = ScriptedFrames(frames: frames, clock: clock, perCall: 1)
        var session = TraceSession(plan: plan, options: .init(timeout: 500_000_000, duration: 5_000_000_000))
        var packets: [TracedPacket] = []
        var notices: [String] = []
        _ = try session.run(&source, clock: clock, stopRequests: { stops }, notice: { notices.append($0) }) {
            packets += $0
        }
        return (packets, notices)
    }

    @Test("a session behind its source judges no packet before the frames read before it are in")
    func behindTheClock() throws {
        let (packets, _) = try behind(try pings(3), stops: 0)
        #expect(packets.count == 3)
        #expect(packets.allSatisfy { !$0.lost && $0.reply.first?.lost == false }, "the clock is far past the timeout")
    }

    @Test("a stop lines up the frames already read and says so; a second stop ends at once")
    func stopLinesUpWhatWasRead() throws {
        let (packets, notices) = try behind(try pings(4), stops: 1)
        #expect(packets.count == 4 && packets.allSatisfy { !$0.lost && !$0.reply.isEmpty })
        #expect(notices == ["lining up the 16 frames already read; Ctrl-C again to stop now"])
        let (abandoned, quiet) = try behind(try pings(4), stops: 2)
        #expect(abandoned.isEmpty && quiet.isEmpty)
    }

    @Test("a stop asked for ends the session with what was open written out")
    func stop() throws {
        let clock = MadeUpClock(start)
        var source = ScriptedFrames(frames: try pings(4), clock: clock)
        var session = TraceSession(plan: plan, options: .init(timeout: 1_000_000_000))
        var packets: [TracedPacket] = []
        let stopAt = start + 1_500_000_000
        _ = try session.run(&source, clock: clock, stopRequests: { clock.time >= stopAt ? 1 : 0 }) { packets += $0 }
        #expect(packets.count == 2, "the pings before the stop, each with its reply")
        #expect(clock.time < start + 1_700_000_000)
    }
}

@Suite("--listen on a made-up frame source")
struct NeighbourListeningTests {
    @Test("an ARP from a guest's MAC gives that NIC its address; the capture is recorded as ok")
    func arp() throws {
        let snapshot = try recordedDump("lab", in: "Tests/TraceTests/Fixtures")
        let tap = try #require(snapshot.links.first { $0.name == "vnet3" })
        let arp = Array(Frames.arpRequest.dropFirst(14))
        let clock = MadeUpClock(1_000)
        var source = ScriptedFrames(
            frames: [
                Frame(
                    bytes: Frames.sll2(
                        ifindex: UInt32(tap.ifindex), outgoing: false,
                        0x0806, arp),
                    linkType: .linuxSLL2, timestamp: 2_000, originalLength: 0)
            ],
            clock: clock)
        let heard = NeighbourListening.listen(snapshot, source: &source, clock: clock, nanoseconds: 1_000_000_000)
        let nic = try #require(heard.domains.first { $0.name == "i-2-10-VM" }?.nic(0))
        #expect(nic.ip == "10.1.1.23" && nic.ipSource == .arp)
        #expect(heard.host.sources.packets?.status == .ok)
        #expect(clock.time >= 1_000_000_000, "it listened for the whole second, in made-up time")
    }
}
