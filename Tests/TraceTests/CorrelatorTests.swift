import Packets
import Render
import TestSupport
import Testing
import Trace

/// Sightings made by hand on the lab's topology (Fixtures/lab.json), for what the lab cannot show: NAT on the
/// isolated VR's public side, stamps out of path order, and memory under a long trace.
@Suite("correlation of sightings into packets")
struct CorrelatorTests {
    let plan: TracePlan
    let start: UInt64 = 1_800_000_000_000_000_000

    init() throws { plan = try loadPlan(vm: "i-2-10-VM") }

    func sighting(
        _ interface: String, out: Bool, at microseconds: UInt64, from base: UInt64? = nil, _ packet: [UInt8]
    ) throws -> Sighting {
        let point = try #require(plan.point(named: interface))
        let frame = Frames.sll2(ifindex: UInt32(plan.points[point].ifindex), outgoing: out, 0x0800, packet)
        return try #require(
            plan.sighting(frame, linkType: .linuxSLL2, timestamp: (base ?? start) + microseconds * 1000))
    }

    func echo(
        _ source: [UInt8], _ destination: [UInt8], ttl: UInt8 = 64, request: Bool = true, id: UInt16 = 0
    ) -> [UInt8] {
        Frames.ipv4(
            proto: 1, source: source, destination: destination, id: id, ttl: ttl,
            Frames.icmpEcho(id: 7, sequence: 1, request: request))
    }

    func run(_ sightings: [Sighting], correlator: Correlator? = nil) -> [TracedPacket] {
        let correlator = correlator ?? Correlator(plan: plan, timeoutNanoseconds: 1_000_000_000)
        var packets: [TracedPacket] = []
        for sighting in sightings {
            correlator.add(sighting)
            packets += correlator.advance(to: sighting.timestamp)
        }
        return packets + correlator.finish()
    }

    @Test("through NAT on the VR's public side, with the translation shown, and the reply back through it")
    func nat() throws {
        let guest: [UInt8] = [10, 1, 1, 23]
        let outside: [UInt8] = [198, 51, 100, 1]
        let translated: [UInt8] = [203, 0, 113, 10]
        let packets = run([
            try sighting("vnet3", out: false, at: 0, echo(guest, outside)),
            try sighting("vnet0", out: true, at: 20, echo(guest, outside)),
            try sighting("vnet2", out: false, at: 400, echo(translated, outside, ttl: 63, id: 4321)),
            try sighting("eth2", out: true, at: 410, echo(translated, outside, ttl: 63, id: 4321)),
            try sighting("eth2", out: false, at: 1000, echo(outside, translated, request: false, id: 99)),
            try sighting("vnet2", out: true, at: 1004, echo(outside, translated, request: false, id: 99)),
            try sighting("vnet0", out: false, at: 1300, echo(outside, guest, ttl: 63, request: false, id: 99)),
            try sighting("vnet3", out: true, at: 1310, echo(outside, guest, ttl: 63, request: false, id: 99)),
        ])
        #expect(packets.count == 1)
        let packet = try #require(packets.first)
        #expect(
            packet.hops.map { $0.interface ?? $0.meaning } == ["vnet3", "vnet0", "routed by r-4-VM", "vnet2", "eth2"])
        let router = try #require(packet.hops.first { $0.kind == .router })
        #expect(router.note == "380 µs inside, ttl 64→63, NAT source 10.1.1.23→203.0.113.10")
        #expect(packet.outcome == "left the host on eth2" && !packet.lost)
        let reply = try #require(packet.reply.first)
        #expect(
            reply.hops.map { $0.interface ?? $0.meaning } == ["eth2", "vnet2", "routed by r-4-VM", "vnet0", "vnet3"])
        #expect(
            reply.hops.first { $0.kind == .router }?.note?.contains("NAT destination 203.0.113.10→10.1.1.23") == true)
    }

    @Test("an ICMP error instead of a reply: joined to its request, named on the lost hop, where it came from")
    func errorInsteadOfReply() throws {
        let guest: [UInt8] = [10, 1, 1, 23]
        let remote: [UInt8] = [10, 1, 1, 250]
        // Too big for the underlay: the VXLAN device answers "fragmentation needed" in the destination's name.
        let big = echo(guest, remote)
        let tooBig = Frames.ipv4(
            proto: 1, source: remote, destination: guest, Frames.icmpError(type: 3, code: 4, mtu: 1400, quoting: big))
        let packets = run([
            try sighting("vnet3", out: false, at: 0, big),
            try sighting("vxlan1001", out: true, at: 10, big),
            try sighting("vxlan1001", out: false, at: 12, tooBig),
            try sighting("vnet3", out: true, at: 20, tooBig),
        ])
        #expect(packets.count == 1)
        let packet = try #require(packets.first)
        let lost = try #require(packet.hops.first { $0.state == .lost })
        #expect(lost.interface == "eth1" && packet.lost)
        #expect(
            lost.note?.hasSuffix(
                "an ICMP error came back instead: destination unreachable (fragmentation needed, mtu 1400), "
                    + "first seen at vxlan1001") == true, "\(lost)")
        #expect(
            packet.reply.first?.summary
                == "ICMP destination unreachable 10.1.1.250 > 10.1.1.23 (fragmentation needed, mtu 1400)")
        #expect(!packet.replyMissing)

        // The router says the destination is unreachable: lost in the router, not delivered to it.
        let outside: [UInt8] = [198, 51, 100, 1]
        let unreachable = Frames.ipv4(
            proto: 1, source: [10, 1, 1, 1], destination: guest,
            Frames.icmpError(type: 3, code: 1, quoting: echo(guest, outside)))
        let routed = run([
            try sighting("vnet3", out: false, at: 0, echo(guest, outside)),
            try sighting("vnet0", out: true, at: 20, echo(guest, outside)),
            try sighting("vnet0", out: false, at: 300, unreachable),
            try sighting("vnet3", out: true, at: 310, unreachable),
        ])
        let inRouter = try #require(routed.first?.hops.first { $0.state == .lost })
        #expect(inRouter.kind == .router && routed.first?.outcome == "lost in r-4-VM", "\(routed)")
        #expect(
            inRouter.note?.hasSuffix(
                "an ICMP error came back instead: destination unreachable (host unreachable), first seen at vnet0")
                == true)
    }

    @Test("NAT is only believed on a public side: the same payload elsewhere is another packet")
    func natOnlyOnPublicSide() throws {
        let packets = run([
            try sighting("vnet3", out: false, at: 0, echo([10, 1, 1, 23], [10, 1, 1, 24])),
            try sighting("vnet4", out: true, at: 20, echo([10, 9, 9, 9], [10, 1, 1, 24])),
        ])
        #expect(packets.first?.hops.contains { $0.interface == "vnet4" } == false)
    }

    @Test("hops in path order even when a later hop carries the earlier stamp")
    func pathOrder() throws {
        let packets = run([
            try sighting("vnet0", out: true, at: 5, echo([10, 1, 1, 23], [10, 1, 1, 1])),
            try sighting("vnet3", out: false, at: 10, echo([10, 1, 1, 23], [10, 1, 1, 1])),
        ])
        let packet = try #require(packets.first)
        #expect(packet.hops.prefix(2).map(\.interface) == ["vnet3", "vnet0"])
        #expect(packet.hops.prefix(2).map(\.offset) == [5_000, 0])
    }

    @Test("a packet that never reaches its next hop is lost there once the timeout has passed, not before")
    func timeout() throws {
        let correlator = Correlator(plan: plan, timeoutNanoseconds: 500_000_000)
        correlator.add(try sighting("vnet3", out: false, at: 0, echo([10, 1, 1, 23], [198, 51, 100, 1])))
        correlator.add(try sighting("vnet0", out: true, at: 20, echo([10, 1, 1, 23], [198, 51, 100, 1])))
        #expect(correlator.advance(to: start + 400_000_000).isEmpty)
        let packets = correlator.advance(to: start + 600_000_000)
        let packet = try #require(packets.first)
        #expect(packet.lost && packet.outcome == "lost in r-4-VM" && packet.replyMissing)
        #expect(packet.hops.last?.note?.hasPrefix("not seen leaving r-4-VM") == true)
    }

    @Test("timestamps at the top of the 64-bit range: deadlines saturate, nothing traps, the packets come out")
    func timestampsAtTheLimit() throws {
        let top = UInt64.max - 5_000
        let packets = run([
            try sighting("vnet3", out: false, at: 0, from: top, echo([10, 1, 1, 23], [198, 51, 100, 1])),
            try sighting("vnet0", out: true, at: 2, from: top, echo([10, 1, 1, 23], [198, 51, 100, 1])),
        ])
        #expect(packets.count == 1)
        #expect(packets.first?.hops.first?.interface == "vnet3")
    }

    @Test("the snap length fits the keys: what every point keeps, and a line where the underlay keeps too little")
    func snapLength() throws {
        var plan = self.plan
        let wide = plan.fit(snapLength: 256)
        #expect(wide == nil && plan.keyedBytes == 128)
        let narrower = plan.fit(snapLength: 120)
        #expect(narrower == nil && plan.keyedBytes == 50)
        let fitted = plan.fit(snapLength: 68)
        let line = try #require(fitted)
        #expect(line.contains("-s 68 keeps too little of the packets inside eth1") && line.contains("-s 98"), "\(line)")
        #expect(plan.tooShortToSee.map { plan.points[$0].interface } == ["eth1"])
    }

    @Test("memory follows the packet rate, not the length of the trace")
    func bounded() throws {
        let correlator = Correlator(plan: plan, timeoutNanoseconds: 100_000_000)
        var largest = 0
        // 100,000 packets at 10,000 per second that are not the traced VM's (another VM's tap).
        for index in 0..<100_000 {
            let packet = Frames.ipv4(
                proto: 17, source: [10, 1, 1, 24], destination: [10, 1, 1, 1],
                Frames.udp(source: 1000, destination: 53, Frames.be32(UInt32(index))))
            correlator.add(try sighting("vnet4", out: false, at: UInt64(index) * 100, packet))
            _ = correlator.advance(to: start + UInt64(index) * 100_000)
            largest = max(largest, correlator.openPackets)
        }
        #expect(largest < 1_200)  // 0.1 s timeout at 10,000 per second, plus the grace
        #expect(correlator.unrelated > 98_000)

        let small = Correlator(plan: plan, timeoutNanoseconds: 10_000_000_000, capacity: 100)
        var written = 0
        for index in 0..<1_000 {
            let packet = Frames.ipv4(
                proto: 17, source: [10, 1, 1, 23], destination: [10, 1, 1, 1],
                Frames.udp(source: 1000, destination: 53, Frames.be32(UInt32(index))))
            small.add(try sighting("vnet3", out: false, at: UInt64(index), packet))
            written += small.advance(to: start).count
        }
        #expect(small.openPackets <= 101 && small.evicted > 800 && written == small.evicted)
    }

    @Test("p50 and p99 from the bounded histogram are within its 1.6 % buckets")
    func percentiles() {
        var statistics = TraceStatistics()
        for microseconds in 1...1000 {
            statistics.record(
                TracedPacket(
                    number: microseconds, summary: "", source: nil, destination: nil, length: 0,
                    firstSeen: 0,
                    hops: [
                        .init(
                            interface: "vnet0", meaning: "", direction: .out,
                            state: .seen, offset: Int64(microseconds * 1000))
                    ],
                    outcome: "", lost: false, reply: [], replyMissing: false))
        }
        let hop = statistics.hops[0]
        let p50 = Double(hop.percentile(0.5)!)
        let p99 = Double(hop.percentile(0.99)!)
        #expect(abs(p50 - 500_000) / 500_000 < 0.016)
        #expect(abs(p99 - 990_000) / 990_000 < 0.016)
        #expect(formatNanoseconds(850) == "850 ns" && formatNanoseconds(14_230) == "14.2 µs")
        #expect(formatNanoseconds(3_100_000) == "3.10 ms" && formatNanoseconds(-1_200_000_000) == "-1.20 s")
    }
}

@Suite("capture coverage")
struct CaptureCoverageTests {
    @Test("each file's spans start and end on their own; a live trace (nothing recorded) covers everything")
    func spans() {
        let coverage = CaptureCoverage()
        #expect(coverage.covers("vnet3", at: 5), "live: nothing recorded")
        // An `any` capture from 10 to 20, and one of vnet9 alone from 15 on.
        coverage.saw(.everywhere, file: 0, at: 10)
        coverage.saw(.everywhere, file: 0, at: 20)
        coverage.saw(.interface("vnet9"), file: 1, at: 15)
        coverage.ended(file: 0)
        #expect(
            coverage.covers("vnet3", at: 12) && !coverage.covers("vnet3", at: 25) && !coverage.covers("vnet3", at: 5))
        #expect(coverage.covers("vnet9", at: 25), "its own file is still being read")
        coverage.ended(file: 1)
        #expect(!coverage.covers("vnet9", at: 25))
        // A second `any` file still open keeps every point covered after the first ended.
        coverage.saw(.everywhere, file: 2, at: 30)
        #expect(coverage.covers("vnet3", at: 40))
    }
}
