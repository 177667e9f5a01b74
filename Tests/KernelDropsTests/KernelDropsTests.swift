import Foundation
import KernelDrops
import TestSupport
import Testing
import Topology

@testable import Trace

/// The drop tracepoint's format and the kernel's symbols as recorded on 6.18, and matching its drops with a lost
/// hop. The live reading is tested on the lab (LabKernelDropChecks).
@Suite struct KernelDropsTests {
    static func fixture(_ name: String) throws -> String {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/" + name, withExtension: nil))
        return try String(contentsOf: url, encoding: .utf8)
    }

    @Test("the format file gives the fields' places and the reasons' names (numbers differ between kernels)")
    func format() throws {
        let format = TracepointFormat(text: try Self.fixture("kfree_skb-6.18.format"))
        let place = { (field: String) in format.fields[field].map { [$0.offset, $0.size] } }
        #expect(place("location") == [16, 8] && place("protocol") == [32, 2] && place("reason") == [36, 4])
        let reasons = try #require(format.symbols["reason"])
        #expect(reasons[2] == "NOT_SPECIFIED" && reasons[12] == "NETFILTER_DROP")
        #expect(reasons[119] == "BRIDGE_INGRESS_STP_STATE" && reasons.count == 128)

        // A record as the kernel writes it: common fields, skbaddr, location, rx_sk, protocol, reason.
        var record = [UInt8](repeating: 0, count: 40)
        let location: UInt64 = 0xffff_ffff_821d_fe40 + 0x1a4
        withUnsafeBytes(of: location.littleEndian) { record.replaceSubrange(16..<24, with: $0) }
        withUnsafeBytes(of: UInt16(0x0800).littleEndian) { record.replaceSubrange(32..<34, with: $0) }
        withUnsafeBytes(of: UInt32(2).littleEndian) { record.replaceSubrange(36..<40, with: $0) }
        #expect(format.integer("location", in: record) == location)
        #expect(format.integer("protocol", in: record) == 0x0800)
        #expect(format.integer("reason", in: record) == 2)
        #expect(format.integer("reason", in: Array(record.prefix(38))) == nil, "a short record is not read past")
        #expect(format.integer("missing", in: record) == nil)

        // What trace asks the kernel to copy: its EtherTypes, and no drop on delivery to the host itself.
        let filter = try #require(format.filter(etherTypes: [0x0800, 0x0806]) { !$0.isLocalDelivery })
        #expect(
            filter == "(protocol == 2048 || protocol == 2054) && (reason < 3 || reason > 8) && "
                + "(reason < 10 || reason > 11) && (reason < 20 || reason > 53) && reason != 97",
            "sockets, checksums, TCP's reasons: runs of 6.18's numbers")
        #expect(!filter.contains("reason != 12"), "NETFILTER_DROP is kept")
        #expect(format.filter(etherTypes: nil) { _ in true } == nil)
    }

    @Test("an address is named by the function it is in, not by the padding before it")
    func symbols() throws {
        let symbols = KernelSymbols(kallsyms: try Self.fixture("kallsyms-6.18.excerpt"))
        let inBridge: UInt64 = 0xffff_ffff_821d_fe40 + 0x1a4
        #expect(symbols.location(of: inBridge)?.description == "br_nf_dev_queue_xmit+0x1a4")
        let padding: UInt64 = 0xffff_ffff_821c_40b8
        #expect(symbols.location(of: padding)?.function != "__pfx_br_handle_frame")
        #expect(symbols.location(of: 0x1000) == nil, "below every symbol")
        let module = KernelSymbols(kallsyms: "ffffffffc0a81234 t vxlan_rcv\t[vxlan]\n")
        let inModule: UInt64 = 0xffff_ffff_c0a8_1240
        #expect(module.location(of: inModule)?.description == "vxlan_rcv+0xc [vxlan]")
        #expect(KernelSymbols(kallsyms: "0000000000000000 T nf_hook_slow\n").isEmpty, "kptr_restrict hides them")
    }

    @Test("a kind of drop is placed where the topology narrows it: STP, a port too small, the firewall, a tap")
    func places() throws {
        var snapshot = try recordedDump("lab-vxlan")
        let router = try #require(snapshot.domains.first { $0.name == "r-4-VM" }?.nics.first?.tap)
        let guest = try #require(snapshot.domains.first { $0.name == "i-2-10-VM" }?.nics.first?.tap)
        let bridge = try #require(snapshot.domains.first { $0.name == "i-2-10-VM" }?.nics.first?.bridge)
        for index in snapshot.links.indices {
            if snapshot.links[index].name == guest { snapshot.links[index].bridgePort?.state = .listening }
            if snapshot.links[index].name == router { snapshot.links[index].mtu = 1400 }
        }
        let kinds = { (function: String, reason: DropReason?) in
            var tally = KernelDropTally()
            tally.add(
                KernelDrop(
                    time: 0, cpu: 0, etherType: 0x0800, reason: reason,
                    location: .init(function: function, offset: 0x10, module: nil)))
            return tally.counts
        }
        let counters = InterfaceCounters(
            rxPackets: 5, txPackets: 9, rxDropped: 0, txDropped: 3, rxErrors: 0, txErrors: 0)
        let interfaces = [
            InterfaceDrops(
                interface: guest, meaning: "i-2-10-VM eth0 (tap \(guest))", domain: "i-2-10-VM", counters: counters)
        ]
        let firewall = [
            FirewallDrops(
                family: .ip, backend: .nft, table: "filter", chain: "i-5-31-VM", handle: 49, rule: "-j DROP",
                domain: "i-5-31-VM", packets: 2)
        ]
        let places = { (function: String, reason: DropReason?) in
            kinds(function, reason).first?.placed(in: snapshot, interfaces: interfaces, firewall: firewall).places
        }
        #expect(
            places("br_handle_frame", .bridgeIngressSTPState)
                == [
                    KernelDropPlace(
                        interface: guest, domain: "i-2-10-VM", meaning: "i-2-10-VM eth0 (tap \(guest)), listening")
                ])
        #expect(
            places("br_nf_dev_queue_xmit", .notSpecified)?.map(\.meaning)
                == ["r-4-VM eth0 (tap \(router)), MTU 1400, others on \(bridge) 1500"])
        #expect(
            places("nft_do_chain", .netfilterDrop)?.map(\.meaning)
                == ["i-5-31-VM's security group (ip filter i-5-31-VM rule 49)"])
        #expect(places("tun_net_xmit", DropReason(rawValue: "FULL_RING"))?.map(\.interface) == [guest])
        #expect(places("ip_forward", DropReason(rawValue: "IP_OUTNOROUTES")) == [], "anywhere on the host")
    }

    @Test("a drop's meaning comes from its location where the reason says nothing")
    func meaning() {
        let at = { (function: String, reason: DropReason?) in
            KernelDrop(
                time: 0, cpu: 0, etherType: 0x0800, reason: reason,
                location: .init(function: function, offset: 0x10, module: nil))
        }
        #expect(
            at("br_nf_dev_queue_xmit", .notSpecified).meaning
                == "larger than the MTU of the bridge port it was leaving by")
        #expect(at("br_dev_queue_push_xmit", nil).site == .bridge)
        #expect(at("nf_hook_slow", .notSpecified).meaning == "a firewall rule dropped it")
        #expect(at("nft_do_chain", .netfilterDrop).site == .firewall)
        #expect(at("__udp4_lib_rcv", DropReason(rawValue: "NO_SOCKET")).site == .localDelivery)
        #expect(at("ip_rcv_finish_core", .notSpecified).meaning == nil)
        #expect(DropReason(rawValue: "SOMETHING_NEW").meaning == nil, "a newer kernel's reason keeps its name")
    }

    @Test("a lost hop is matched with the drop just after its last sighting, of its EtherType, on its way")
    func matching() {
        let seen: UInt64 = 1_000_000_000_000
        let packet = { (sites: Set<KernelDrop.Site>) in
            var lost = TracedPacket.Hop(
                interface: "vnet2", meaning: "r-4-VM eth2", direction: .out, state: .lost, offset: nil)
            lost.lostAfter = .init(time: seen, etherTypes: [0x0800], sites: sites)
            return TracedPacket(
                number: 1, summary: "ICMP echo request", source: nil, destination: nil, length: 1500, firstSeen: seen,
                hops: [lost], outcome: "lost at vnet2", lost: true, reply: [], replyMissing: true)
        }
        let drop = { (after: UInt64, etherType: UInt16, function: String, reason: DropReason) in
            KernelDrop(
                time: seen + after, cpu: 0, etherType: etherType, reason: reason,
                location: .init(function: function, offset: 0x1a4, module: nil))
        }
        let mtu = drop(40_000, 0x0800, "br_nf_dev_queue_xmit", .notSpecified)
        let explained = { (drops: [KernelDrop], sites: Set<KernelDrop.Site>) in
            packet(sites).explainingKernelDrops(timeout: 1_000_000_000) { from, to in
                drops.filter { $0.time >= from && $0.time <= to }
            }.hops[0]
        }
        let acrossBridge = { (drops: [KernelDrop]) in explained(drops, KernelDropMatch.bridgeSites) }

        let alone = acrossBridge([mtu, drop(30_000, 0x86dd, "nf_hook_slow", .netfilterDrop)])
        #expect(alone.dropReason == .notSpecified && alone.dropLocation == "br_nf_dev_queue_xmit+0x1a4")
        #expect(alone.dropCertainty == .certain, "an IPv6 drop is not this IPv4 packet's")
        let mtuNote = "larger than the MTU of the bridge port it was leaving by"
        #expect(alone.note == "the kernel: NOT_SPECIFIED in br_nf_dev_queue_xmit, " + mtuNote)

        // A socket's drop at the same time is not on a bridge's way; a firewall drop is, and makes it uncertain.
        #expect(
            acrossBridge([mtu, drop(41_000, 0x0800, "__udp4_lib_rcv", .init(rawValue: "NO_SOCKET"))]).dropCertainty
                == .certain)
        let rival = acrossBridge([mtu, drop(45_000, 0x0800, "nft_do_chain", .netfilterDrop)])
        #expect(rival.dropCertainty == .uncertain && rival.dropReason == .notSpecified, "the nearest is given")
        #expect(rival.note?.hasSuffix("(uncertain: 2 drops of 2 kinds then)") == true)

        // Only a later drop: another packet's, unless its site holds packets (a neighbour that never answered).
        let late = acrossBridge([drop(400_000_000, 0x0800, "nft_do_chain", .netfilterDrop)])
        #expect(late.dropReason == nil, "a firewall drop 400 ms later is another packet's")
        let failed = drop(400_000_000, 0x0800, "neigh_invalidate", .init(rawValue: "NEIGH_FAILED"))
        let held = explained([failed], KernelDropMatch.underlaySites)
        #expect(held.dropCertainty == .uncertain && held.note?.contains("400 ms after it was last seen") == true)
        // None: the hop says the kernel recorded none (consumed, not dropped: elsewhere than thought).
        let none = acrossBridge([])
        #expect(none.note == "the kernel recorded no drop of it (skb:kfree_skb)" && none.dropReason == nil)
        // A tap that is down: the kernel frees nothing for it, and nothing is said.
        #expect(explained([mtu], []).note == nil)
    }
}
