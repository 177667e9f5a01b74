import Foundation
import Pcap
import TestSupport
import Testing

/// An Ethernet/IPv4/UDP frame, or an ARP request, as a NIC would capture it.
private func udpFrame(port: UInt16) -> [UInt8] {
    let ethernet: [UInt8] = [0xfe, 0, 0x4c, 0x5e, 0, 0x0a, 0x02, 0, 0x4c, 0x5e, 0, 0x0b, 0x08, 0x00]
    let ipv4: [UInt8] = [0x45, 0, 0, 32, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 1, 1, 23, 10, 1, 1, 1]
    let udp: [UInt8] = [0x30, 0x39, UInt8(port >> 8), UInt8(port & 0xff), 0, 12, 0, 0, 1, 2, 3, 4]
    return ethernet + ipv4 + udp
}

private let arpRequest: [UInt8] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0x4c, 0x5e, 0, 0x0a, 0x08, 0x06,
    0, 1, 8, 0, 6, 4, 0, 1, 0x02, 0, 0x4c, 0x5e, 0, 0x0a, 10, 1, 1, 23,
    0, 0, 0, 0, 0, 0, 10, 1, 1, 1,
]

@Suite("libpcap files")
struct PcapFileTests {
    private let path = FileManager.default.temporaryDirectory.appendingPathComponent(
        "kvmtopo-\(UUID().uuidString).pcap"
    ).path

    @Test("frames written with nanosecond stamps read back; a pcap-filter expression selects them")
    func writeAndFilter() throws {
        let packets =
            (0..<5).map {
                CapturedPacket(
                    timestamp: 1_700_000_000_123_456_789 + UInt64($0), originalLength: 46,
                    bytes: udpFrame(port: $0 % 2 == 0 ? 9999 : 53))
            }
            + [CapturedPacket(timestamp: 1_700_000_001_000_000_000, originalLength: 42, bytes: arpRequest)]
        try Pcap.writeEthernet(path: path, packets: packets)
        defer { try? FileManager.default.removeItem(atPath: path) }

        let all = try Pcap.read(path: path)
        #expect(all.linkType == 1)
        #expect(all.packets == packets)
        #expect(try Pcap.read(path: path, filter: "udp port 9999").packets.count == 3)
        #expect(try Pcap.read(path: path, filter: "arp").packets.map(\.bytes) == [arpRequest])
        #expect(try Pcap.read(path: path, filter: "ether src 02:00:4c:5e:00:0b").packets.count == 5)
    }

    @Test(
        "tcpdump reads what kvmtopo writes",
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tcpdump")
                || FileManager.default.isExecutableFile(atPath: "/usr/sbin/tcpdump"),
            "tcpdump is not installed"))
    func tcpdumpReads() throws {
        try Pcap.writeEthernet(
            path: path, packets: [CapturedPacket(timestamp: 1, originalLength: 42, bytes: arpRequest)])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let text = try Shell.run(["tcpdump", "-nr", path]).output
        #expect(text.contains("ARP, Request who-has 10.1.1.1 tell 10.1.1.23"), "\(text)")
    }

    @Test("a bad filter and a file that is not a capture are clear errors")
    func errors() throws {
        try Pcap.writeEthernet(path: path, packets: [])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect { try Pcap.read(path: path, filter: "udp port banana") } throws: {
            "\($0)".contains("invalid filter 'udp port banana'")
        }
        #expect(throws: PcapError.self) { try Pcap.read(path: "/etc/hostname") }
        #expect(throws: PcapError.self) { try Pcap.read(path: "/nonexistent.pcap") }
    }
}
