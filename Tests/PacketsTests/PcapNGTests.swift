import Foundation
import Packets
import TestSupport
import Testing

@Suite("pcapng")
struct PcapNGTests {
    private let path = FileManager.default.temporaryDirectory.appendingPathComponent(
        "kvmtopo-\(UUID().uuidString).pcapng"
    ).path

    private func writeSample() throws -> [PcapNG.Record] {
        let writer = try PcapNG.Writer(path: path)
        let tap = try writer.addInterface(
            linkType: 1, snapLength: 256, name: "vnet13", comment: "i-2-10-VM eth0 (isolated network, VXLAN 1001)")
        let router = try writer.addInterface(
            linkType: 1, snapLength: 256, name: "vnet10", comment: "r-4-VM eth0 (gateway)")
        let records = [
            PcapNG.Record(
                interface: tap, timestamp: 1_795_000_000_123_456_789, originalLength: Frames.arpRequest.count,
                bytes: Frames.arpRequest),
            PcapNG.Record(
                interface: router, timestamp: 1_795_000_000_123_460_001, originalLength: 1500,
                bytes: Array(Frames.arpRequest.prefix(41))),
        ]
        for record in records { try writer.write(record) }
        try writer.close()
        return records
    }

    @Test("written, read back with names, comments and nanosecond timestamps; mode 0600")
    func roundTrip() throws {
        let records = try writeSample()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let capture = try PcapNG.read(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        #expect(capture.records == records)
        #expect(capture.interfaces.map(\.name) == ["vnet13", "vnet10"])
        #expect(capture.interfaces[0].comment == "i-2-10-VM eth0 (isolated network, VXLAN 1001)")
        #expect(capture.interfaces.allSatisfy { $0.resolution == .decimal(9) && $0.linkType == 1 })
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test(
        "tcpdump (libpcap) reads the file",
        .enabled(if: Host.missing("tcpdump").isEmpty, "tcpdump is not installed"))
    func libpcapReads() throws {
        _ = try writeSample()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try Shell.run(["tcpdump", "-nr", path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output.split(separator: "\n").count == 2)
        #expect(result.output.contains("ARP, Request who-has 10.1.1.1 tell 10.1.1.23"))
    }

    @Test("a file cut anywhere, or with a lying block length, is an error naming the offset, never a trap")
    func damaged() throws {
        _ = try writeSample()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        var errors = 0
        for length in 0..<bytes.count {
            do { _ = try PcapNG.read(Array(bytes.prefix(length))) } catch {
                errors += 1
                #expect(error.description.contains("at byte"))
            }
        }
        #expect(errors > bytes.count / 2)
        // The first interface block follows the section header; make its length no longer fit the file.
        let interfaceBlock = Int(bytes[4]) | Int(bytes[5]) << 8
        var lying = bytes
        lying[interfaceBlock + 7] = 0x7f
        #expect { try PcapNG.read(lying) } throws: { "\($0)".contains("at byte \(interfaceBlock)") }
        var generator = SplitMix64(seed: 42)
        for _ in 0..<2_000 {
            var damaged = bytes
            damaged[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next())
            _ = try? PcapNG.read(damaged)
        }
        #expect(throws: PcapNG.FormatError.self) { try PcapNG.read(Array("not a capture at all".utf8)) }
    }
}
