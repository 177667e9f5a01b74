import Capture
import Foundation
import Packets
import TestSupport
import Testing
import Trace

/// The captures operators have, written by the real tools from a capture recorded on the lab: classic pcap in
/// microseconds and nanoseconds (editcap), one file per interface (tshark) given with NAME=FILE, files merged
/// with mergecap -w and concatenated with mergecap -a, a file cut short. Each must trace as the original does;
/// and the reader must agree with tshark on every frame.
@Suite(
    "trace --read on captures written by other tools",
    .enabled(if: OtherTools.missing.isEmpty, "needs \(OtherTools.missing.joined(separator: ", ")) (tshark's tools)"))
struct OtherToolsTests {
    let fixtures = "\(PackageRoot.path)/Tests/TraceTests/Fixtures"
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvmtopo-tools-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// The packets a replay of these inputs gives, and its session's result.
    func trace(_ inputs: [ReplayFrames.Input]) throws -> (packets: [TracedPacket], frames: ReplayFrames) {
        var frames = try ReplayFrames(inputs: inputs, filter: nil)
        var session = TraceSession(plan: try loadPlan(vm: "i-3-20-VM"), options: .init(timeout: 1_000_000_000))
        var packets: [TracedPacket] = []
        _ = try session.run(&frames, clock: SystemClock(), stopRequests: { 0 }) { packets += $0 }
        return (packets, frames)
    }

    func summary(_ packets: [TracedPacket]) -> [String] {
        packets.map { "\($0.summary) \($0.outcome) \($0.hops.map { $0.interface ?? $0.meaning })" }
    }

    @Test("classic pcap (µs, ns), per-interface files, mergecap -w and -a: the same packets as the pcapng")
    func sameTrace() throws {
        let original = "\(fixtures)/vpc-tiers.pcapng"
        let expected = summary(try trace([.init(path: original)]).packets)
        #expect(expected.count == 5)

        for format in ["pcap", "nsecpcap"] {
            let converted = "\(directory)/\(format).pcap"
            try Shell.must(["editcap", "-F", format, original, converted])
            #expect(summary(try trace([.init(path: converted)]).packets) == expected, "editcap -F \(format)")
        }

        // One file per interface, as tcpdump -i vnetN -w writes them: no interface name inside.
        let names = try Shell.must(["tshark", "-r", original, "-T", "fields", "-e", "frame.interface_name"]).output
            .split(separator: "\n").map(String.init)
        var perInterface: [ReplayFrames.Input] = []
        for name in Set(names).sorted() {
            let split = "\(directory)/\(name).pcapng"
            let classic = "\(directory)/\(name).pcap"
            try Shell.must(["tshark", "-r", original, "-Y", "frame.interface_name == \"\(name)\"", "-w", split])
            try Shell.must(["editcap", "-F", "pcap", split, classic])
            perInterface.append(.init(path: classic, interface: name))
        }
        #expect(summary(try trace(perInterface).packets) == expected, "per interface, merged by time")
        // These are SLL2: the interface index in each frame places them without a name too.
        let unnamed = perInterface.map { ReplayFrames.Input(path: $0.path) }
        #expect(summary(try trace(unnamed).packets) == expected, "per interface, placed by SLL2's ifindex")

        let splits = Set(names).sorted().map { "\(directory)/\($0).pcapng" }
        let merged = "\(directory)/merged.pcapng"
        let concatenated = "\(directory)/concatenated.pcapng"
        try Shell.must(["mergecap", "-w", merged] + splits)
        try Shell.must(["mergecap", "-a", "-w", concatenated] + splits)
        #expect(summary(try trace([.init(path: merged)]).packets) == expected, "mergecap -w")
        let concatenatedTrace = try trace([.init(path: concatenated)])
        #expect(summary(concatenatedTrace.packets) == expected, "mergecap -a: out of order, put back in order")
        #expect(concatenatedTrace.frames.outOfOrder == 0)

        // Cut after capture: the file still declares the snap length it was captured with.
        let short = "\(directory)/short.pcap"
        try Shell.must(["editcap", "-F", "pcap", "-s", "90", original, short])
        let cut = try ReplayFrames(inputs: [.init(path: short)], filter: nil)
        #expect(cut.snapLength == 90, "what the frames kept, not the 262144 the header says")
        #expect(summary(try trace([.init(path: short)]).packets) == expected, "editcap -s 90")
    }

    @Test("raw IP frames of one interface: placed there, taken as received, and the problem line says so")
    func rawIP() throws {
        let saved = try PcapNG.read([UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(fixtures)/vpc-tiers.pcapng"))))
        let raw = "\(directory)/raw.pcapng"
        let writer = try PcapNG.Writer(path: raw)
        let interface = try writer.addInterface(
            linkType: LinkType.raw.rawValue, snapLength: 262_144, name: "vnet9", comment: nil)
        // vnet9 is i-3-20-VM's tap; SLL2's 20-byte header comes off each of its frames.
        let tap = try #require(saved.interfaces.firstIndex { $0.name == "vnet9" })
        for record in saved.records where record.interface == tap {
            try writer.write(
                .init(
                    interface: interface, timestamp: record.timestamp, originalLength: record.originalLength - 20,
                    bytes: Array(record.bytes.dropFirst(20))))
        }
        try writer.close()
        let replay = try trace([.init(path: raw)])
        #expect(!replay.packets.isEmpty)
        #expect(replay.packets.allSatisfy { $0.hops.first?.interface == "vnet9" && $0.hops.first?.direction == .in })
        let problems = replay.frames.problems(plan: try loadPlan(vm: "i-3-20-VM"))
        #expect(
            problems == [
                "\(raw): raw IP frames carry no direction: each is taken as received at vnet9 (capture the tap "
                    + "itself, or -i any -y LINUX_SLL2, for directions)"
            ])
    }

    @Test("a file cut short: the packets before the damage, and where it stopped")
    func cutShort() throws {
        let classic = "\(directory)/whole.pcap"
        try Shell.must(["editcap", "-F", "pcap", "\(fixtures)/vpc-tiers.pcapng", classic])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: classic))
        for (name, file) in [("pcap", classic), ("pcapng", "\(fixtures)/vpc-tiers.pcapng")] {
            let whole = try Data(contentsOf: URL(fileURLWithPath: file))
            let cut = "\(directory)/cut.\(name)"
            try whole.prefix(whole.count - 30).write(to: URL(fileURLWithPath: cut))
            let replay = try trace([.init(path: cut)])
            #expect(replay.frames.framesRead >= 50, "\(name): the frames before the cut are read")
            #expect(!replay.packets.isEmpty)
            let problems = replay.frames.problems(plan: try loadPlan(vm: "i-3-20-VM"))
            #expect(problems.contains { $0.contains("read up to byte") }, "\(name): \(problems)")
        }
        #expect(bytes.count > 30)
    }

    @Test("the reader agrees with tshark on every frame: count, nanosecond timestamp, interface, length")
    func differential() throws {
        let classic = "\(directory)/ns.pcap"
        try Shell.must(["editcap", "-F", "nsecpcap", "\(fixtures)/isolated-outside.pcapng", classic])
        for file in ["\(fixtures)/vpc-tiers.pcapng", "\(fixtures)/isolated-outside.pcapng", classic] {
            let fields = try Shell.must([
                "tshark", "-r", file, "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.interface_id",
                "-e", "frame.cap_len", "-e", "frame.len",
            ]).output.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
            var reader = try CaptureReader(InMemoryBytes([UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))))
            var records: [PcapNG.Record] = []
            while let record = reader.next() { records.append(record) }
            #expect(reader.damage == nil)
            #expect(records.count == fields.count, "\(file)")
            for (record, row) in zip(records, fields) {
                let seconds = row[0].split(separator: ".")
                let nanoseconds = UInt64(seconds[0])! * 1_000_000_000 + UInt64(seconds[1].prefix(9))!
                #expect(record.timestamp == nanoseconds, "\(file): \(row)")
                #expect(row[1].isEmpty || Int(row[1]) == record.interface, "\(file): \(row)")
                #expect(Int(row[2]) == record.bytes.count && Int(row[3]) == record.originalLength, "\(file): \(row)")
            }
        }
    }
}

enum OtherTools {
    static let missing = Host.missing("tshark", "editcap", "mergecap")
}
