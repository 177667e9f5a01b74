import ArgumentParser
import Collect
import Foundation
import Packets
import Pcap
import Render
import Topology
import Trace

struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Follow a VM's packets hop by hop through bridges, routers and uplinks, and say where they vanish.",
        discussion: """
            kvmtopo works out from the topology where the VM's traffic can go (its taps, the ports of its \
            bridges, its routers' NICs and the bridges behind them, the uplinks and the NICs under them), captures \
            at all of those points at once with one libpcap handle, and lines up the sightings of each packet: \
            within a bridge by its bytes, across a router by what routing leaves intact, across NAT on a router's \
            public side by what NAT leaves intact. A packet expected at a hop and not seen there within --timeout \
            is marked lost at that hop. FILTER is pcap-filter syntax, as for tcpdump. Capturing live needs root; \
            --read replays a capture saved with -w.
            """)

    @Argument(help: ArgumentHelp("The VM (libvirt domain name) whose traffic to follow.", valueName: "vm"))
    var vm: String

    @Argument(help: ArgumentHelp("pcap-filter expression (as for tcpdump), compiled into the kernel.", valueName: "filter"))
    var filter: [String] = []

    @Option(help: ArgumentHelp("Only this NIC of the VM (eth0, eth1, … in the domain's NIC order).", valueName: "ethN"))
    var nic: String?

    @Option(help: ArgumentHelp("Only packets to or from this IP address, or to or through this VM.", valueName: "ip|vm"))
    var to: String?

    @Option(name: .short, help: ArgumentHelp("Stop after this many packets.", valueName: "count"))
    var count: Int?

    @Option(help: ArgumentHelp("Stop after this many seconds.", valueName: "seconds"))
    var duration: Double?

    @Option(help: ArgumentHelp("How long a packet may take to reach its next hop before it is marked lost there.", valueName: "seconds"))
    var timeout = 1.0

    @Option(name: .customShort("s"), help: ArgumentHelp("Bytes kept per frame: the default keeps headers, not payloads.", valueName: "snaplen"))
    var snapLength: Int32 = 256

    @Option(name: .customShort("w"), help: ArgumentHelp("Also write everything captured to this pcapng file (mode 0600).", valueName: "file"),
            completion: .file(extensions: ["pcapng"]))
    var writeFile: String?

    @Option(help: ArgumentHelp("Replay a capture saved with -w instead of capturing (with --from for its host's topology).", valueName: "file"),
            completion: .file(extensions: ["pcapng"]))
    var read: String?

    @Flag(help: "One JSON object per packet (JSON lines), then a summary object.")
    var json = false

    @OptionGroup var source: SourceOptions
    @OptionGroup var display: DisplayOptions

    func validate() throws {
        guard timeout > 0, duration.map({ $0 > 0 }) ?? true, count.map({ $0 > 0 }) ?? true else {
            throw ValidationError("--timeout, --duration and -c take positive numbers")
        }
        guard snapLength >= 68 else { throw ValidationError("-s must be at least 68 bytes (the headers trace needs)") }
        if let nic, nic.wholeMatch(of: /eth\d+/) == nil, Int(nic) == nil {
            throw ValidationError("--nic takes ethN (the guest's NIC order), not '\(nic)'")
        }
        if let expression = filterExpression {
            do {
                _ = try OfflineFilter(expression: expression, linkType: Int32(LinkType.linuxSLL2.rawValue))
            } catch {
                throw ValidationError("\(error)")
            }
        }
        if let to, IPAddress(to) == nil, to.wholeMatch(of: /[\w.-]+/) == nil {
            throw ValidationError("--to takes an IP address or a VM name, not '\(to)'")
        }
    }

    func run() throws {
        try reportingFailures {
            let snapshot = try source.snapshot(savedModel: .reinfer)
            let plan: TracePlan
            do {
                plan = try TracePlan(snapshot: snapshot, vm: vm, nic: nic.flatMap { Int($0.trimmingPrefix("eth")) },
                                     through: toVM.map { [$0] } ?? [])
            } catch let error as LookupError {
                throw CommandFailure(.notFound, error.description)
            } catch {
                throw CommandFailure(.failure, "\(error)")
            }
            var session = TraceSession(plan: plan, timeout: timeout, count: count, json: json, toVM: toVM, style: display.style)
            if let writeFile { try session.startWriting(to: writeFile, snapLength: snapLength) }
            if let read {
                try session.replay(read, filter: filterExpression)
            } else {
                try session.capture(filter: plan.kernelFilter(user: filterExpression), snapLength: snapLength, duration: duration)
            }
        }
    }

    /// The user's filter words as one expression, narrowed to --to's address.
    var filterExpression: String? {
        let words = filter.joined(separator: " ")
        let address = to.flatMap { IPAddress($0) != nil ? "host \($0)" : nil }
        return [words.isEmpty ? nil : "(\(words))", address].compactMap { $0 }.joined(separator: " and ").nilIfEmpty
    }

    /// --to naming a VM (an address goes into the kernel filter instead).
    var toVM: String? {
        guard let to, IPAddress(to) == nil else { return nil }
        return to
    }
}

private extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}

/// Set by SIGINT/SIGTERM; the capture loop looks at it at least ten times a second.
nonisolated(unsafe) private var stopRequested: sig_atomic_t = 0

/// One run of `trace`: the correlator, where its packets go, and the pcapng being written.
struct TraceSession {
    let plan: TracePlan
    let correlator: Correlator
    let count: Int?
    let json: Bool
    let toVM: String?
    let text: TraceText
    var statistics = TraceStatistics()
    var shown = 0
    var writer: PcapNG.Writer?
    var writerPath: String?
    var interfaceIDs: [Int: Int] = [:]
    var output = ""

    init(plan: TracePlan, timeout: Double, count: Int?, json: Bool, toVM: String?, style: DiagramStyle) {
        self.plan = plan
        correlator = Correlator(plan: plan, timeoutNanoseconds: UInt64(timeout * 1e9))
        self.count = count
        self.json = json
        self.toVM = toVM
        text = TraceText(style: style)
    }

    mutating func startWriting(to path: String, snapLength: Int32) throws {
        do {
            let writer = try PcapNG.Writer(path: path)
            for (index, point) in plan.points.enumerated() {
                interfaceIDs[index] = try writer.addInterface(linkType: LinkType.linuxSLL2.rawValue, snapLength: Int(snapLength),
                                                              name: point.interface, comment: point.meaning)
            }
            self.writer = writer
            writerPath = path
        } catch {
            throw CommandFailure(.cannotCreateOutput, "\(path): cannot write (\(describe(error)))")
        }
    }

    // MARK: live

    mutating func capture(filter: String, snapLength: Int32, duration: Double?) throws {
        let capture: LiveCapture
        do {
            capture = try LiveCapture(interface: "any", filter: filter, snapLength: snapLength)
        } catch {
            let hint = geteuid() == 0 ? "" : "; capturing needs root (or CAP_NET_RAW); --read replays a saved capture without"
            throw CommandFailure(.failure, "cannot capture: \(error)\(hint)")
        }
        signal(SIGINT) { stopRequested = $0 }
        signal(SIGTERM) { stopRequested = $0 }
        // Whoever started us may have left them blocked (a parent's thread mask is inherited): Ctrl-C must work.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGINT)
        sigaddset(&stopSignals, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
        if !json {
            Terminal.warn("tracing \(plan.vm) at \(plan.points.count) capture points; Ctrl-C for the summary")
        }
        let end = duration.map { ContinuousClock.now + .milliseconds(Int($0 * 1000)) }
        var nextPresenceCheck = ContinuousClock.now + .seconds(2)
        var gone: Set<Int> = []
        // Frames can wait up to the kernel's block timeout (20 ms) in the ring: look at packets a little behind.
        let slack: UInt64 = 100_000_000
        while stopRequested == 0, !countReached {
            let now = ContinuousClock.now
            if let end, now >= end { break }
            let deadline = min(now + .milliseconds(100), end ?? now + .milliseconds(100))
            for frame in capture.packets(until: deadline) {
                if let sighting = plan.sighting(frame.bytes, linkType: .linuxSLL2, timestamp: frame.timestamp,
                                                originalLength: frame.originalLength) {
                    try take(sighting)
                }
            }
            try show(correlator.advance(to: Self.wallClock() - slack))
            if ContinuousClock.now >= nextPresenceCheck {
                nextPresenceCheck = ContinuousClock.now + .seconds(2)
                gone = noticeVanished(alreadyGone: gone)
            }
        }
        let stats = capture.statistics
        try finish(capture: CaptureCounters(received: stats.received, dropped: stats.dropped, droppedByInterface: stats.droppedByInterface))
    }

    /// Capture points whose interface went away since the last look (a VM destroyed, a tap deleted): one line
    /// each, and the trace goes on with the others. Returns every point gone so far.
    private func noticeVanished(alreadyGone: Set<Int>) -> Set<Int> {
        guard let present = LinkPresence.current() else { return alreadyGone }
        let missing = Set(plan.points.indices.filter { !present.contains(plan.points[$0].ifindex) })
        for index in missing.subtracting(alreadyGone).sorted() {
            let point = plan.points[index]
            let whose = plan.origins.contains(index) ? "the traced VM's tap" : "capture point"
            Terminal.warn("\(whose) \(point.interface) (\(point.meaning)) is gone; tracing the rest")
        }
        return missing
    }

    static func wallClock() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    // MARK: replay

    mutating func replay(_ path: String, filter: String?) throws {
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw CommandFailure(.cannotOpenInput, "\(path): cannot read (\(describe(error)))")
        }
        let saved: PcapNG.Capture
        do {
            saved = try PcapNG.read(bytes)
        } catch {
            throw CommandFailure(.badInput, "\(path): \(error)")
        }
        var filters: [OfflineFilter?] = []
        do {
            filters = try saved.interfaces.map { interface in
                try filter.map { try OfflineFilter(expression: $0, linkType: Int32(interface.linkType)) }
            }
        } catch {
            throw CommandFailure(.badInput, "\(error)")
        }
        let wanted = { (record: PcapNG.Record) in
            filters[record.interface]?.matches(record.bytes, originalLength: record.originalLength) ?? true
        }
        for sighting in plan.sightings(in: saved, include: wanted) where stopRequested == 0 && !countReached {
            try take(sighting)
            try show(correlator.advance(to: sighting.timestamp))
        }
        try finish(capture: nil)
    }

    // MARK: common

    private mutating func take(_ sighting: Sighting) throws {
        if let writer, let interface = interfaceIDs[sighting.point], sighting.linkType == .linuxSLL2 {
            do {
                try writer.write(PcapNG.Record(interface: interface, timestamp: sighting.timestamp,
                                               originalLength: sighting.originalLength,
                                               bytes: sighting.bytes))
            } catch {
                throw CommandFailure(.cannotCreateOutput, "\(writerPath ?? "-w"): cannot write (\(describe(error)))")
            }
        }
        correlator.add(sighting)
    }

    private var countReached: Bool { count.map { shown >= $0 } ?? false }

    private mutating func show(_ packets: [TracedPacket]) throws {
        for packet in packets where wanted(packet) && !countReached {
            shown += 1
            var numbered = packet
            numbered.number = shown
            statistics.record(numbered)
            output += json ? TraceJSON.line(numbered) : text.packet(numbered)
        }
        flushOutput()
    }

    /// Packets are written in one go per batch: one write per packet would cost more than the packet.
    private mutating func flushOutput() {
        guard !output.isEmpty else { return }
        FileHandle.standardOutput.write(Data(output.utf8))
        output = ""
    }

    /// --to: the packet's path (or where it was expected) touches that VM, or it goes to or from that address.
    private func wanted(_ packet: TracedPacket) -> Bool {
        if let toVM {
            let involved = { (candidate: TracedPacket) in
                candidate.hops.contains { $0.meaning.hasPrefix(toVM + " ") || $0.meaning == "routed by \(toVM)" }
                    || correlator.domain(owning: candidate.destination) == toVM
            }
            return involved(packet) || packet.reply.contains(where: involved)
        }
        return true
    }

    private mutating func finish(capture: CaptureCounters?) throws {
        try show(correlator.finish())
        do { try writer?.close() } catch {
            throw CommandFailure(.cannotCreateOutput, "\(writerPath ?? "-w"): cannot write (\(describe(error)))")
        }
        let summary = json ? TraceJSON.summary(statistics, capture: capture, evicted: correlator.evicted)
                           : text.summary(statistics, capture: capture, evicted: correlator.evicted)
        FileHandle.standardOutput.write(Data(summary.utf8))
    }
}
