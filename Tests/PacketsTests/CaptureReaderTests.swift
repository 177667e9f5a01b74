import Packets
import TestSupport
import Testing

/// Classic pcap as other writers lay it out (either byte order, µs or ns stamps), pcapng timestamp units, and
/// what a stream does at damage; files from the real tools are in TraceTests' OtherToolsTests.
@Suite("capture reader")
struct CaptureReaderTests {
    /// A classic pcap file: its header, then each frame (seconds, fraction, bytes), in the given byte order.
    func classic(bigEndian: Bool, nanoseconds: Bool, linkType: UInt32, frames: [(UInt32, UInt32, [UInt8])]) -> [UInt8] {
        func word(_ value: UInt32) -> [UInt8] {
            let bytes = (0..<4).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
            return bigEndian ? bytes.reversed() : bytes
        }
        func half(_ value: UInt16) -> [UInt8] {
            bigEndian ? [UInt8(value >> 8), UInt8(value & 0xff)] : [UInt8(value & 0xff), UInt8(value >> 8)]
        }
        var file = word(nanoseconds ? 0xA1B2_3C4D : 0xA1B2_C3D4) + half(2) + half(4) + word(0) + word(0)
        file += word(262_144) + word(linkType)
        for (seconds, fraction, bytes) in frames {
            file += word(seconds) + word(fraction) + word(UInt32(bytes.count)) + word(UInt32(bytes.count + 10)) + bytes
        }
        return file
    }

    @Test("classic pcap in both byte orders, µs and ns: the same records, stamps in nanoseconds")
    func classicPcap() throws {
        let frame = Frames.ethernet(0x0800, Frames.ipv4(proto: 1, Frames.icmpEcho(id: 7, sequence: 1)))
        for bigEndian in [false, true] {
            for nanoseconds in [false, true] {
                let fraction: UInt32 = nanoseconds ? 123_456_789 : 123_456
                let bytes = classic(
                    bigEndian: bigEndian, nanoseconds: nanoseconds, linkType: 1,
                    frames: [(1_764_000_000, fraction, frame), (1_764_000_001, 0, frame)])
                var reader = try CaptureReader(InMemoryBytes(bytes))
                #expect(reader.format == .pcap)
                let records = [reader.next(), reader.next(), reader.next()]
                let first = try #require(records[0])
                #expect(first.timestamp == 1_764_000_000_000_000_000 + (nanoseconds ? 123_456_789 : 123_456_000))
                #expect(first.bytes == frame && first.originalLength == frame.count + 10)
                #expect(records[1]?.timestamp == 1_764_000_001_000_000_000)
                #expect(records[2] == nil && reader.damage == nil)
                #expect(
                    reader.interfaces == [
                        PcapNG.Interface(
                            linkType: 1, snapLength: 262_144, name: nil, comment: nil,
                            resolution: .decimal(nanoseconds ? 9 : 6))
                    ])
            }
        }
    }

    @Test("a stream cut inside a packet keeps the packets before it and says where it stopped")
    func cutShort() throws {
        let frame = Frames.ethernet(0x0800, Frames.ipv4(proto: 1, Frames.icmpEcho(id: 7, sequence: 1)))
        let whole = classic(
            bigEndian: false, nanoseconds: false, linkType: 1, frames: [(1, 0, frame), (2, 0, frame)])
        var reader = try CaptureReader(InMemoryBytes(Array(whole.dropLast(5))))
        let records = [reader.next(), reader.next()]
        #expect(records[0] != nil && records[1] == nil)
        let damage = try #require(reader.damage)
        #expect(damage.offset == 24 + 16 + frame.count && damage.reason.contains("truncated packet"))
        // Cut between packets, the file simply ends.
        var clean = try CaptureReader(InMemoryBytes(Array(whole.dropLast(16 + frame.count))))
        let cleanRecords = [clean.next(), clean.next()]
        #expect(cleanRecords[0] != nil && cleanRecords[1] == nil && clean.damage == nil)
        #expect(throws: PcapNG.FormatError.self) { try CaptureReader(InMemoryBytes([])) }
        #expect(throws: PcapNG.FormatError.self) { try CaptureReader(InMemoryBytes([0, 0, 0, 0, 0])) }
    }

    @Test("pcapng timestamp units in integers, and nil past the 64-bit range, never a trap")
    func units() {
        #expect(PcapNG.Resolution.decimal(6).nanoseconds(1_764_000_000_123_456) == 1_764_000_000_123_456_000)
        #expect(PcapNG.Resolution.decimal(9).nanoseconds(.max) == .max)
        #expect(PcapNG.Resolution.decimal(6).nanoseconds(.max) == nil)
        #expect(PcapNG.Resolution.decimal(12).nanoseconds(1_000_000) == 1000)
        #expect(PcapNG.Resolution.decimal(127).nanoseconds(.max) == 0)
        #expect(PcapNG.Resolution.binary(10).nanoseconds(1024) == 1_000_000_000)
        #expect(PcapNG.Resolution.binary(0).nanoseconds(.max) == nil)
        #expect(PcapNG.Resolution.binary(64).nanoseconds(.max) == 999_999_999)
        #expect(PcapNG.Resolution.binary(127).nanoseconds(.max) == 0)
    }
}
