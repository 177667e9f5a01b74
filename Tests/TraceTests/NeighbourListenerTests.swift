import CloudStack
import Foundation
import Packets
import TestSupport
import Testing
import Topology
import Trace

/// --listen's learning, from frames: the lab's recorded ARP, and made-up DHCP, ND and conflicts (the lab's
/// guests use static addresses).
@Suite("what --listen learns from ARP, DHCP and neighbour discovery")
struct NeighbourListenerTests {
    let snapshot: HostSnapshot

    init() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(PackageRoot.path)/Tests/TraceTests/Fixtures/lab.json"))
        snapshot = CloudStackModel.infer(try SnapshotCodec.decode(data, source: "lab"))
    }

    func ifindex(_ name: String) -> UInt32 { UInt32(snapshot.links.first { $0.name == name }!.ifindex) }

    func nic(_ result: HostSnapshot, _ domain: String, _ index: Int = 0) -> NIC? {
        result.domains.first { $0.name == domain }?.nics[index]
    }

    @Test("guests' addresses from the ARP recorded on the lab; the control address stays the MAC's")
    func recordedARP() throws {
        var listener = NeighbourListener(snapshot: snapshot)
        let saved = try PcapNG.read(
            [UInt8](
                try Data(
                    contentsOf: URL(fileURLWithPath: "\(PackageRoot.path)/Tests/TraceTests/Fixtures/vpc-tiers.pcapng")))
        )
        for record in saved.records {
            listener.hear(record.bytes, linkType: .linuxSLL2, interface: saved.interfaces[record.interface].name)
        }
        let result = CloudStackModel.infer(listener.apply(to: snapshot))
        #expect(nic(result, "i-3-21-VM")?.ip == "10.0.2.10" && nic(result, "i-3-21-VM")?.ipSource == .arp)
        #expect(nic(result, "r-7-VM", 3)?.ip == "10.0.2.1" && nic(result, "r-7-VM", 3)?.ipSource == .arp)
        #expect(nic(result, "r-7-VM", 0)?.ipSource == .controlMAC)
        let tier = try #require(result.networks.first { $0.bridge == "brvx-2002" })
        #expect(tier.gateway?.ip == "10.0.2.1", "the gateway takes its router NIC's address")
        #expect(tier.members.first { $0.domain == "i-3-21-VM" }?.ip == "10.0.2.10")
        #expect(result.host.sources.packets?.status == .ok)
        #expect(!result.warnings.contains { $0.code == .ipConflict })
    }

    @Test("a second MAC claiming an address is a conflict")
    func conflict() {
        var listener = NeighbourListener(snapshot: snapshot)
        let arp = { (mac: [UInt8], ip: [UInt8]) in
            Frames.sll2(
                ifindex: 0, outgoing: false, 0x0806,
                [0, 1, 8, 0, 6, 4, 0, 2] + mac + ip + Frames.vmMAC + [10, 1, 1, 9])
        }
        let tap10 = ifindex("vnet3")
        let stray = ifindex("vnet4")
        listener.hear(
            patch(arp([0x02, 0x00, 0x4c, 0x5e, 0x00, 0x0a], [10, 1, 1, 23]), ifindex: tap10), linkType: .linuxSLL2)
        listener.hear(patch(arp([0x02, 0xde, 0xad, 0, 0, 1], [10, 1, 1, 23]), ifindex: stray), linkType: .linuxSLL2)
        let result = listener.apply(to: snapshot)
        let warning = result.warnings.first { $0.code == .ipConflict }
        #expect(warning?.subject == .named("10.1.1.23"))
        #expect(warning?.message == "claimed by 02:00:4c:5e:00:0a (on vnet3) and 02:de:ad:00:00:01 (on vnet4)")
        #expect(result.neighbours?.contains { $0.mac == "02:de:ad:00:00:01" && $0.port == "vnet4" } == true)
    }

    @Test("DHCP: the client's address, a server other than the router is a warning, the router option is the gateway")
    func dhcp() throws {
        var listener = NeighbourListener(snapshot: snapshot)
        // An offer to i-2-10-VM (MAC 02:00:4c:5e:00:0a) from a guest's tap, not from the VR r-4-VM.
        let offer = Frames.ipv4(
            proto: 17, source: [10, 1, 1, 24], destination: [255, 255, 255, 255],
            Frames.udp(
                source: 67, destination: 68,
                Frames.dhcp(operation: 2, type: 2, server: [10, 1, 1, 24], router: [10, 1, 1, 254])))
        listener.hear(Frames.sll2(ifindex: ifindex("vnet4"), outgoing: false, 0x0800, offer), linkType: .linuxSLL2)
        let result = listener.apply(to: snapshot)
        #expect(nic(result, "i-2-10-VM")?.ip == "10.1.1.23" && nic(result, "i-2-10-VM")?.ipSource == .dhcp)
        let warning = try #require(result.warnings.first { $0.code == .dhcpServerUnexpected })
        #expect(warning.subject == .named("brvx-1001"))
        #expect(warning.message.contains("on vnet4, not from the network's router r-4-VM"), "\(warning.message)")
        #expect(result.neighbours?.contains { $0.ip == "10.1.1.254" && $0.role == .gateway } == true)
    }

    @Test("ND: a global IPv6 address from an advertisement; link-local ones are not news")
    func neighbourDiscovery() {
        var listener = NeighbourListener(snapshot: snapshot)
        let global: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [0x23]
        let advert = [136, 0, 0, 0, 0x60, 0, 0, 0] + global + [2, 1, 0x02, 0x00, 0x4c, 0x5e, 0x00, 0x14]
        listener.hear(
            Frames.sll2(ifindex: ifindex("vnet9"), outgoing: false, 0x86dd, Frames.ipv6(next: 58, advert)),
            linkType: .linuxSLL2)
        let result = listener.apply(to: snapshot)
        #expect(nic(result, "i-3-20-VM")?.ip == "2001:db8::23" && nic(result, "i-3-20-VM")?.ipSource == .nd)
    }

    private func patch(_ frame: [UInt8], ifindex: UInt32) -> [UInt8] {
        var frame = frame
        frame.replaceSubrange(4..<8, with: Frames.be32(ifindex))
        return frame
    }
}
