import Packets
import Render
import TestSupport
import Testing
import Topology
import Trace

/// A ping lost on the lab's security-group network as recorded (i-5-30-VM to i-5-31-VM on brvx-3001): the lost
/// hop says which rules dropped it, worked out from the dump's firewall.
@Suite("trace names the firewall rule that drops a packet")
struct FirewallVerdictTraceTests {
    let start: UInt64 = 1_800_000_000_000_000_000

    /// The lab's dump, with i-5-31-VM's ingress rule for icmp taken away (the lab's sg-deny fault) when asked.
    func plan(denying: Bool, spoofing: Bool = false) throws -> (TracePlan, [Sighting]) {
        var snapshot = try recordedDump("lab-security-groups")
        if denying, var firewall = snapshot.firewall {
            for table in firewall.tables.indices {
                for chain in firewall.tables[table].chains.indices
                where firewall.tables[table].chains[chain].name == "i-5-31-VM" {
                    firewall.tables[table].chains[chain].rules.removeFirst()
                }
            }
            snapshot.firewall = firewall
        }
        let plan = try TracePlan(snapshot: snapshot, vm: "i-5-30-VM")
        let frame = { (tap: String, source: UInt8, mac: UInt8) throws -> [UInt8] in
            let point = try #require(plan.point(named: tap))
            let ping = Frames.ipv4(
                proto: 1, source: [10, 3, 0, source], destination: [10, 3, 0, 61 - source],
                Frames.icmpEcho(id: UInt16(source), sequence: 1))
            return Frames.sll2(
                ifindex: UInt32(plan.points[point].ifindex), outgoing: false, 0x0800, ping,
                mac: [0x02, 0x00, 0x4c, 0x5e, 0x00, mac])
        }
        // Only i-5-30-VM's ping: where 10.3.0.31 is comes from the dump (i-5-31-VM's anti-spoofing rules).
        let sightings = [
            try #require(
                plan.sighting(try frame("vnet14", 30, spoofing ? 0x99 : 0x1e), linkType: .linuxSLL2, timestamp: start))
        ]
        return (plan, sightings)
    }

    func lost(_ plan: TracePlan, _ sightings: [Sighting]) throws -> TracedPacket.Hop {
        let correlator = Correlator(plan: plan, timeoutNanoseconds: 1_000_000_000)
        sightings.forEach(correlator.add)
        let packet = try #require(correlator.finish().first { $0.source == "10.3.0.30" })
        return try #require(packet.hops.first { $0.state == .lost }, "\(packet.hops)")
    }

    @Test("without its icmp rule: i-5-31-VM's security group, its final DROP, assuming a new flow")
    func securityGroup() throws {
        let (plan, ping) = try plan(denying: true)
        let hop = try lost(plan, ping)
        #expect(hop.interface == "vnet15")
        #expect(
            hop.note
                == "dropped by i-5-31-VM's security group: no rule in chain i-5-31-VM lets it through (its final "
                + "-j DROP, rule \(hop.firewallVerdict?.handle ?? -1)); assuming connection tracking state NEW (no "
                + "reply to this flow was seen)", "\(hop)")
        let verdict = try #require(hop.firewallVerdict)
        #expect(verdict.table == "filter" && verdict.family == .ip && verdict.backend == .nft)
        #expect(verdict.certainty == .assumed)
    }

    @Test("live, the deciding rule's counter read again: moved, it confirms; still, it casts doubt")
    func counters() throws {
        let (plan, ping) = try plan(denying: true)
        let correlator = Correlator(plan: plan, timeoutNanoseconds: 1_000_000_000)
        ping.forEach(correlator.add)
        let packet = try #require(correlator.finish().first)
        let before = try #require(packet.hops.first { $0.state == .lost }?.firewallVerdict?.packets)
        let moved = packet.confirmingFirewall { _ in before + 2 }.hops.first { $0.state == .lost }
        #expect(moved?.note?.hasSuffix("; its counter rose by 2 while tracing") == true, "\(String(describing: moved))")
        #expect(moved?.firewallVerdict?.packetsNow == before + 2)
        let still = packet.confirmingFirewall { _ in before }.hops.first { $0.state == .lost }
        #expect(
            still?.note?.hasSuffix("its counter did not move while tracing: the kernel may have dropped it elsewhere")
                == true)
        let unread = packet.confirmingFirewall { _ in nil }
        #expect(unread == packet, "without a counter to read, nothing is added")
    }

    @Test("the summary counts lost packets by the rule that drops them")
    func summary() throws {
        let (plan, ping) = try plan(denying: true)
        let correlator = Correlator(plan: plan, timeoutNanoseconds: 1_000_000_000)
        ping.forEach(correlator.add)
        var statistics = TraceStatistics()
        correlator.finish().forEach { statistics.record($0) }
        let drops = try #require(statistics.firewallDrops.first)
        #expect(statistics.firewallDrops.count == 1 && drops.packets == 1 && drops.chain == "i-5-31-VM")
        let text = TraceText(style: DiagramStyle(unicode: false, color: false)).summary(statistics, capture: nil)
        #expect(
            text.contains("dropped by the firewall: 1 by ip filter i-5-31-VM rule \(drops.handle ?? -1) (-j DROP)"),
            "\(text)")
        #expect(TraceJSON.summary(statistics, capture: nil, evicted: 0).contains("\"firewallDrops\":[{\"chain\""))
    }

    @Test("from a MAC not the NIC's: i-5-30-VM's anti-spoofing chain, certain")
    func antiSpoofing() throws {
        let (plan, ping) = try plan(denying: false, spoofing: true)
        let hop = try lost(plan, ping)
        #expect(
            hop.note?.hasPrefix(
                "dropped by i-5-30-VM's anti-spoofing rules (ebtables): no rule in chain i-5-30-VM-in-src lets")
                == true, "\(hop)")
        #expect(hop.firewallVerdict?.certainty == .certain && hop.firewallVerdict?.family == .bridge)
    }

    @Test("with its rule: no verdict, and the guess at a filter rule as before")
    func allowed() throws {
        let (plan, ping) = try plan(denying: false)
        let hop = try lost(plan, ping)
        #expect(hop.firewallVerdict == nil)
        #expect(hop.note?.contains("dropped by i-5-31-VM's security group? its chain i-5-31-def") == true, "\(hop)")
    }
}
