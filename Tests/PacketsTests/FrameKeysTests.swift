import Packets
import TestSupport
import Testing

@Suite("packet keys for trace correlation")
struct FrameKeysTests {
    private func keys(_ frame: [UInt8]) -> FrameKeys { FrameKeys(frame, linkType: .ethernet) }

    @Test("routing changes TTL and the header checksum, never the packet key")
    func routedKey() {
        let echo = Frames.icmpEcho(id: 7, sequence: 1)
        var routed = Frames.ethernet(0x0800, Frames.ipv4(proto: 1, ttl: 63, echo))
        routed[14 + 10] = 0xab  // another header checksum
        let original = keys(Frames.ethernet(0x0800, Frames.ipv4(proto: 1, ttl: 64, echo)))
        #expect(original.packet == keys(routed).packet)
        #expect(
            original.packet
                != keys(Frames.ethernet(0x0800, Frames.ipv4(proto: 1, Frames.icmpEcho(id: 7, sequence: 2)))).packet)
        #expect(original.packet != keys(Frames.ethernet(0x0800, Frames.ipv4(proto: 1, id: 9, echo))).packet)
        #expect(original.networkLength == 20 + echo.count)
    }

    @Test(
        "NAT changes addresses and ports; the translated key stays",
        arguments: [
            (Frames.icmpEcho(id: 7, sequence: 1), UInt8(1)),
            (Frames.tcp(seq: 1234, flags: 0x18), UInt8(6)),
            (Frames.udp(source: 40000, destination: 53, Array("query".utf8)), UInt8(17)),
        ])
    func translatedKey(transport: [UInt8], proto: UInt8) {
        let inside = keys(Frames.ethernet(0x0800, Frames.ipv4(proto: proto, source: [10, 1, 1, 23], transport)))
        var rewritten = transport
        if proto != 1 {
            rewritten[0] = 0x9c
            rewritten[1] = 0x40
        }  // NAT picked another source port
        let outside = keys(
            Frames.ethernet(0x0800, Frames.ipv4(proto: proto, source: [203, 0, 113, 10], ttl: 63, rewritten)))
        #expect(inside.translated != nil)
        #expect(inside.translated == outside.translated)
        #expect(inside.packet != outside.packet)
    }

    @Test("a reply answers its request: ICMP echo, ARP, the reverse direction of a flow")
    func replies() {
        let request = keys(Frames.ethernet(0x0800, Frames.ipv4(proto: 1, Frames.icmpEcho(id: 7, sequence: 1))))
        let reply = { (sequence: UInt16) in
            keys(
                Frames.ethernet(
                    0x0800,
                    Frames.ipv4(
                        proto: 1, source: [198, 51, 100, 1], destination: [10, 1, 1, 23],
                        Frames.icmpEcho(id: 7, sequence: sequence, request: false))))
        }
        #expect(request.expectsReply != nil && request.expectsReply == reply(1).answers)
        #expect(request.expectsReply != reply(2).answers)

        let arpRequest = keys(Frames.arpRequest)
        let arpReply = keys(
            Frames.ethernet(
                0x0806,
                [0, 1, 8, 0, 6, 4, 0, 2] + Frames.routerMAC + [10, 1, 1, 1]
                    + Frames.vmMAC + [10, 1, 1, 23]))
        #expect(arpRequest.isFlooded && !arpReply.isFlooded)
        #expect(arpRequest.expectsReply == arpReply.answers)
        #expect(arpReply.arpSender?.ip == IPAddress("10.1.1.1"))
        #expect(arpReply.arpSender?.mac == 0x02_00_4c_5f_00_01)

        let query = keys(
            Frames.ethernet(0x0800, Frames.ipv4(proto: 17, Frames.udp(source: 40000, destination: 53, []))))
        let answer = keys(
            Frames.ethernet(
                0x0800,
                Frames.ipv4(
                    proto: 17, source: [198, 51, 100, 1], destination: [10, 1, 1, 23],
                    Frames.udp(source: 53, destination: 40000, [1]))))
        #expect(query.expectsReply == answer.answers)
    }

    @Test("an ICMP error answers the packet it quotes, with an error: an echo request, a UDP datagram")
    func errors() {
        let echo = Frames.ipv4(proto: 1, Frames.icmpEcho(id: 7, sequence: 1))
        let datagram = Frames.ipv4(proto: 17, Frames.udp(source: 40000, destination: 53, [1, 2, 3]))
        let error = { (type: UInt8, code: UInt8, quoted: [UInt8]) in
            keys(
                Frames.ethernet(
                    0x0800,
                    Frames.ipv4(
                        proto: 1, source: [198, 51, 100, 1], destination: [10, 1, 1, 23],
                        Frames.icmpError(type: type, code: code, mtu: 1400, quoting: quoted))))
        }
        for (quoted, type, code) in [(echo, UInt8(3), UInt8(4)), (datagram, 3, 3), (echo, 11, 0)] {
            let request = keys(Frames.ethernet(0x0800, quoted))
            #expect(request.expectsReply != nil && error(type, code, quoted).answers == request.expectsReply)
            #expect(error(type, code, quoted).answersWithError)
        }
        // Quoting too little to know the packet, or a packet that expects no reply: it answers nothing.
        #expect(error(3, 1, Array(echo.prefix(24))).answers == nil)
        #expect(error(3, 1, Frames.ipv4(proto: 47, [0, 0, 0x65, 0x58, 0, 0, 0, 0])).answers == nil)
        #expect(
            !keys(Frames.ethernet(0x0800, Frames.ipv4(proto: 1, Frames.icmpEcho(id: 7, sequence: 1, request: false))))
                .answersWithError)
    }

    @Test("a VXLAN frame on the underlay has the keys of the frame it carries, in any link type")
    func vxlan() {
        let inner = Frames.ethernet(0x0800, Frames.ipv4(proto: 1, Frames.icmpEcho(id: 7, sequence: 1)))
        let onBridge = FrameKeys(
            Frames.sll2(ifindex: 5, outgoing: true, 0x0800, Array(inner.dropFirst(14))), linkType: .linuxSLL2)
        let onUnderlay = keys(Frames.vxlan(vni: 1001, inner: inner))
        #expect(onUnderlay.vni == 1001)
        #expect(onUnderlay.packet == onBridge.packet)
        #expect(onBridge.interfaceIndex == 5 && onBridge.outgoing)
        #expect(onUnderlay.destination == IPAddress("198.51.100.1"))
    }

    @Test("a Linux cooked frame that still carries its 802.1Q or 802.1ad tags keys as the untagged frame does")
    func taggedCookedFrames() {
        let ip = Frames.ipv4(proto: 1, Frames.icmpEcho(id: 7, sequence: 1))
        let untagged = FrameKeys(Frames.sll2(ifindex: 5, outgoing: false, 0x0800, ip), linkType: .linuxSLL2)
        let tagged = FrameKeys(
            Frames.sll2(ifindex: 5, outgoing: false, 0x8100, [0, 100, 0x08, 0x00] + ip), linkType: .linuxSLL2)
        let doubleTagged = FrameKeys(
            Frames.sll2(ifindex: 5, outgoing: false, 0x88a8, [0, 10, 0x81, 0x00, 0, 100, 0x08, 0x00] + ip),
            linkType: .linuxSLL2)
        #expect(untagged.packet != 0 && tagged.packet == untagged.packet && doubleTagged.packet == untagged.packet)
        #expect(tagged.destination == untagged.destination && tagged.interfaceIndex == 5)
    }

    @Test("a short snap length: keys that hash only what every copy kept match across tap and underlay")
    func shortSnapLength() {
        let ip = Frames.ipv4(proto: 1, Frames.icmpEcho(id: 7, sequence: 1) + [UInt8](repeating: 0xab, count: 200))
        let inner = Frames.ethernet(0x0800, ip)
        // -s 120: a tap keeps 100 bytes of the packet (after SLL2's 20), the underlay 50 (after 70 of headers).
        let onTap = Array(Frames.sll2(ifindex: 5, outgoing: true, 0x0800, ip).prefix(120))
        let onUnderlay = Array(Frames.vxlan(vni: 1001, inner: inner).prefix(120 - 20 + 14))
        let keyed = 120 - 20 - 50
        #expect(
            FrameKeys(onTap, linkType: .linuxSLL2, keyedBytes: keyed).packet
                == FrameKeys(onUnderlay, linkType: .ethernet, keyedBytes: keyed).packet)
        #expect(
            FrameKeys(onTap, linkType: .linuxSLL2).packet != FrameKeys(onUnderlay, linkType: .ethernet).packet,
            "with the default key length they differ: that was the false loss")
    }

    @Test("addresses as text and back")
    func addresses() {
        for text in ["10.1.1.23", "0.0.0.0", "fe80::4c:5eff:fe00:a", "2001:db8::1", "::1", "ff02::1:ff00:1"] {
            #expect(IPAddress(text)?.description == text)
        }
        for bad in ["10.1.1", "10.1.1.256", "fe80:::1", "1::2::3", "", "host"] { #expect(IPAddress(bad) == nil) }
        #expect(IPAddress("fe80::1")!.isIPv6 && !IPAddress("10.0.0.1")!.isIPv6)
    }

    @Test("every prefix of every frame keys without trapping")
    func truncated() {
        let frames = [
            Frames.arpRequest, Frames.vxlan(vni: 7, inner: Frames.arpRequest),
            Frames.ethernet(0x86dd, Frames.ipv6(next: 58, Frames.neighbourSolicitation(target: Frames.vmIPv6))),
            Frames.ethernet(0x0800, vlan: 100, Frames.ipv4(proto: 6, Frames.tcp(seq: 1, flags: 2))),
        ]
        for frame in frames {
            for length in 0...frame.count {
                for linkType in [LinkType.ethernet, .linuxSLL2, .linuxSLL, .raw] {
                    _ = FrameKeys(Array(frame.prefix(length)), linkType: linkType)
                }
            }
        }
        // A header that claims more than was captured keys what is there.
        var lying = Frames.ethernet(
            0x0800, Frames.ipv4(proto: 17, Frames.udp(source: 1, destination: 4789, [8, 0, 0, 0])))
        lying[16] = 0xff
        _ = keys(lying)
    }
}
