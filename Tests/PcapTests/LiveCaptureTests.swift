import Foundation
import Packets
import Pcap
import TestSupport
import Testing

@Suite("live capture", .enabled(if: getuid() == 0, "capturing needs root (CAP_NET_RAW)"))
struct LiveCaptureTests {
    @Test("one `any` handle sees datagrams on lo with SLL2 headers, nanosecond stamps and a kernel filter")
    func anyDevice() throws {
        let port = Int.random(in: 40_000..<60_000)
        let capture = try LiveCapture(interface: "any", filter: "udp dst port \(port)")
        #expect(capture.linkType == 276, "LINKTYPE_LINUX_SLL2")
        try Shell.must([
            "python3", "-c",
            """
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for i in range(5): s.sendto(b'kvmtopo %d' % i, ('127.0.0.1', \(port)))
            s.sendto(b'other port', ('127.0.0.1', \(port + 1)))
            """,
        ])
        var packets: [CapturedPacket] = []
        let deadline = ContinuousClock.now + .seconds(3)
        while packets.count < 5 && ContinuousClock.now < deadline {
            packets += capture.packets(until: min(deadline, ContinuousClock.now + .milliseconds(200)))
        }
        #expect(packets.count == 5, "the filter keeps exactly the five datagrams to the port")
        for packet in packets {
            let (cooked, decoded) = PacketDecoder.decode(packet.bytes, linkType: .linuxSLL2)
            #expect(cooked?.interfaceIndex == 1, "lo")
            #expect(decoded.udp?.destinationPort == UInt16(port))
            #expect(decoded.ipv4?.source == "127.0.0.1")
        }
        let stamps = packets.map(\.timestamp)
        #expect(stamps == stamps.sorted())
        #expect(stamps.contains { $0 % 1000 != 0 }, "nanosecond resolution")
        #expect(capture.statistics.dropped == 0)
    }

    @Test("nothing matching: returns at the deadline, never blocks")
    func deadline() throws {
        let capture = try LiveCapture(interface: "lo", filter: "udp dst port 9 and host 192.0.2.77")
        let start = ContinuousClock.now
        let packets = capture.packets(until: start + .milliseconds(300))
        let elapsed = start.duration(to: .now)
        #expect(packets.isEmpty)
        #expect(elapsed >= .milliseconds(250) && elapsed < .seconds(2), "\(elapsed)")
    }

    @Test("a bad interface or filter is a clear error")
    func errors() {
        #expect { try LiveCapture(interface: "nosuchif0", filter: nil) } throws: { "\($0)".hasPrefix("nosuchif0: ") }
        #expect { try LiveCapture(interface: "lo", filter: "udp port banana") } throws: {
            "\($0)".contains("invalid filter")
        }
    }
}
