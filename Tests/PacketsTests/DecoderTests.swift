import Packets
import TestSupport
import Testing

@Suite("packet decoders")
struct DecoderTests {
    @Test("Ethernet with an 802.1Q tag, IPv4 and an ICMP echo: ids, sequence, TTL, payload")
    func icmpOverVLAN() throws {
        let frame = Frames.ethernet(
            0x0800, vlan: 100, Frames.ipv4(proto: 1, id: 0, ttl: 63, Frames.icmpEcho(id: 313, sequence: 7)))
        let packet = PacketDecoder.decode(frame).packet
        #expect(packet.ethernet?.vlans == [100])
        #expect(packet.ethernet?.source == "02:00:4c:5e:00:0a")
        #expect(packet.ipv4?.destination == "198.51.100.1")
        #expect(packet.ipv4?.ttl == 63)
        #expect(packet.ipv4?.dontFragment == true)
        #expect(packet.icmp?.identifier == 313)
        #expect(packet.icmp?.sequence == 7)
        #expect(packet.payloadLength == 8)
    }

    @Test("ARP request")
    func arp() {
        let arp = PacketDecoder.decode(Frames.arpRequest).packet.arp
        #expect(arp?.operation == 1)
        #expect(arp?.senderMAC == "02:00:4c:5e:00:0a")
        #expect(arp?.senderIP == "10.1.1.23")
        #expect(arp?.targetMAC == "00:00:00:00:00:00")
        #expect(arp?.targetIP == "10.1.1.1")
    }

    @Test("IPv6 neighbour solicitation with its source link-layer option")
    func neighbourDiscovery() {
        let target: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]
        let packet = PacketDecoder.decode(
            Frames.ethernet(0x86dd, Frames.ipv6(next: 58, Frames.neighbourSolicitation(target: target)))
        ).packet
        #expect(packet.ipv6?.source == "fe80::4c:5eff:fe00:a")
        #expect(packet.ipv6?.destination == "ff02::1:ff00:1")
        #expect(packet.ipv6?.hopLimit == 255)
        #expect(packet.icmp?.type == 135)
        #expect(packet.icmp?.ndTarget == "2001:db8::1")
        #expect(packet.icmp?.ndLinkLayerAddress == "02:00:4c:5e:00:0a")
    }

    @Test("DHCP ACK from a server: message type, server identifier, your address, client MAC")
    func dhcp() {
        let frame = Frames.ethernet(
            0x0800,
            Frames.ipv4(
                proto: 17, source: [10, 1, 1, 1], destination: [10, 1, 1, 23],
                Frames.udp(source: 67, destination: 68, Frames.dhcp(operation: 2, type: 5, server: [10, 1, 1, 1]))))
        let dhcp = PacketDecoder.decode(frame).packet.dhcp
        #expect(dhcp?.messageType == 5)
        #expect(dhcp?.serverIdentifier == "10.1.1.1")
        #expect(dhcp?.yourIP == "10.1.1.23")
        #expect(dhcp?.clientMAC == "02:00:4c:5e:00:0a")
        #expect(dhcp?.transactionID == 0xdead_beef)
    }

    @Test("TCP sequence and flags")
    func tcp() {
        let packet = PacketDecoder.decode(
            Frames.ethernet(0x0800, Frames.ipv4(proto: 6, Frames.tcp(seq: 123_456, flags: 0x18)))
        ).packet
        #expect(packet.tcp?.sequence == 123_456)
        #expect(packet.tcp?.flags == 0x18)
        #expect(packet.tcp?.destinationPort == 443)
        #expect(packet.payloadLength == 3)
    }

    @Test("VXLAN on the kernel's default port carries the inner frame")
    func vxlan() {
        let packet = PacketDecoder.decode(Frames.vxlan(vni: 1001, inner: Frames.arpRequest)).packet
        #expect(packet.udp?.destinationPort == 8472)
        #expect(packet.vxlan?.vni == 1001)
        #expect(packet.inner?.packet.arp?.targetIP == "10.1.1.1")
    }

    @Test("Linux cooked capture v2 (the any device): interface index and direction")
    func sll2() {
        let ip = Frames.ipv4(proto: 1, Frames.icmpEcho(id: 1, sequence: 2))
        let header: [UInt8] =
            Frames.be16(0x0800) + [0, 0] + Frames.be32(17) + Frames.be16(1) + [4, 6] + Frames.vmMAC + [0, 0]
        let (cooked, packet) = PacketDecoder.decode(header + ip, linkType: .linuxSLL2)
        #expect(cooked?.interfaceIndex == 17)
        #expect(cooked?.packetType == 4, "4: sent by this host")
        #expect(packet.icmp?.sequence == 2)
    }

    @Test("every prefix of every frame decodes without trapping, and what it decodes is right")
    func truncations() {
        let frames = [
            Frames.arpRequest, Frames.vxlan(vni: 7, inner: Frames.arpRequest),
            Frames.ethernet(0x0800, vlan: 5, Frames.ipv4(proto: 1, Frames.icmpEcho(id: 1, sequence: 1))),
            Frames.ethernet(0x86dd, Frames.ipv6(next: 58, Frames.neighbourSolicitation(target: Frames.vmIPv6))),
            Frames.ethernet(
                0x0800,
                Frames.ipv4(
                    proto: 17,
                    Frames.udp(
                        source: 68, destination: 67,
                        Frames.dhcp(operation: 1, type: 1, server: nil)))),
        ]
        for frame in frames {
            let whole = PacketDecoder.decode(frame).packet
            for length in 0...frame.count {
                let part = PacketDecoder.decode(Array(frame.prefix(length))).packet
                if let arp = part.arp { #expect(arp == whole.arp) }
                if let icmp = part.icmp, icmp.identifier != nil { #expect(icmp.identifier == whole.icmp?.identifier) }
                if let vxlan = part.vxlan { #expect(vxlan == whole.vxlan) }
            }
        }
    }

    @Test("ten thousand random frames in every link type decode without trapping")
    func randomInput() {
        var generator = SplitMix64(seed: 0x6b76_6d74_6f70_6f)
        for _ in 0..<10_000 {
            let count = Int(generator.next() % 200)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            // Steer some towards the interesting paths: IPv4/IPv6/VXLAN ethertypes and protocol numbers.
            if count > 14 {
                bytes[12] = [0x08, 0x86, 0x81][Int(generator.next() % 3)]
                bytes[13] = [0x00, 0xdd, 0x06][Int(generator.next() % 3)]
            }
            for linkType in [LinkType.ethernet, .raw, .linuxSLL, .linuxSLL2] {
                _ = PacketDecoder.decode(bytes, linkType: linkType)
            }
        }
    }
}

/// A small seeded generator so the random test is the same on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
