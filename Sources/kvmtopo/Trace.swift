import ArgumentParser
import Capture
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

    @Argument(
        help: ArgumentHelp("pcap-filter expression (as for tcpdump), compiled into the kernel.", valueName: "filter"))
    var filter: [String] = []

    @Option(help: ArgumentHelp("Only this NIC of the VM (eth0, eth1, … in the domain's NIC order).", valueName: "ethN"))
    var nic: String?

    @Option(
        help: ArgumentHelp("Only packets to or from this IP address, or to or through this VM.", valueName: "ip|vm"))
    var to: String?

    @Option(name: .short, help: ArgumentHelp("Stop after this many packets.", valueName: "count"))
    var count: Int?

    @Option(help: ArgumentHelp("Stop after this many seconds.", valueName: "seconds"))
    var duration: Double?

    @Option(
        help: ArgumentHelp(
            "How long a packet may take to reach its next hop before it is marked lost there.", valueName: "seconds"))
    var timeout = 1.0

    @Option(
        name: .customShort("s"),
        help: ArgumentHelp("Bytes kept per frame: the default keeps headers, not payloads.", valueName: "snaplen"))
    var snapLength: Int32 = 256

    @Option(
        help: ArgumentHelp(
            "MiB of captured frames that may wait for the correlation when it falls behind (a flood); they are still "
                + "traced after Ctrl-C. Beyond it frames are dropped, and counted.", valueName: "MiB"))
    var backlog = LiveFrames.defaultBacklogBytes >> 20

    @Option(
        name: .customShort("w"),
        help: ArgumentHelp("Also write everything captured to this pcapng file (mode 0600).", valueName: "file"),
        completion: .file(extensions: ["pcapng"]))
    var writeFile: String?

    @Option(
        help: ArgumentHelp(
            "Replay saved captures instead of capturing (with --from for its host's topology): pcap or pcapng, - for "
                + "standard input; NAME=FILE names the interface a file was captured on. Repeat it for captures "
                + "taken per interface; they are merged by time.",
            valueName: "file"),
        completion: .file(extensions: ["pcapng", "pcap"]))
    var read: [String] = []

    @Flag(help: "One JSON object per packet (JSON lines), then a summary object.")
    var json = false

    @OptionGroup var dropReasons: DropReasonOptions
    @OptionGroup var source: SourceOptions
    @OptionGroup var display: DisplayOptions

    func validate() throws {
        guard timeout > 0, duration.map({ $0 > 0 }) ?? true, count.map({ $0 > 0 }) ?? true else {
            throw ValidationError("--timeout, --duration and -c take positive numbers")
        }
        guard backlog > 0, backlog <= 1 << 20 else { throw ValidationError("--backlog takes 1 to 1048576 (MiB)") }
        guard snapLength >= 68 else { throw ValidationError("-s must be at least 68 bytes (the headers trace needs)") }
        if let nic, nic.wholeMatch(of: /eth\d+/) == nil, Int(nic) == nil {
            throw ValidationError("--nic takes ethN (the guest's NIC order), not '\(nic)'")
        }
        if let expression = filterExpression {
            do {
                _ = try OfflineFilter(expression: expression, linkType: Int32(LinkType.linuxSLL2.rawValue))
            } catch  where !error.libraryMissing {
                throw ValidationError("\(error)")
            } catch {
                // Not the user's input: run() reports it where it needs libpcap.
            }
        }
        if let to, IPAddress(to) == nil, to.wholeMatch(of: /[\w.-]+/) == nil {
            throw ValidationError("--to takes an IP address or a VM name, not '\(to)'")
        }
    }

    func run() throws {
        try reportingFailures {
            let snapshot = try source.snapshot(savedModel: .reinfer)
            var plan: TracePlan
            do {
                plan = try TracePlan(
                    snapshot: snapshot, vm: vm, nic: nic.flatMap { Int($0.trimmingPrefix("eth")) },
                    through: toVM.map { [$0] } ?? [])
            } catch let error as LookupError {
                throw CommandFailure(.notFound, error.description)
            } catch {
                throw CommandFailure(.failure, "\(error)")
            }
            let replay = read.isEmpty ? nil : try openReplay()
            // Keys hash what every capture point keeps of a packet: at -s live, at the files' own snap length.
            if let snap = replay.map({ $0.snapLength }) ?? Int(snapLength), let line = plan.fit(snapLength: snap) {
                Terminal.warn(line)
            }
            var session = TraceSession(
                plan: plan,
                options: .init(
                    timeout: nanoseconds(timeout), count: count,
                    duration: read.isEmpty ? duration.map(nanoseconds) : nil,
                    toVM: toVM))
            if let writeFile {
                do throws(TraceSession.Failure) { try session.write(to: writeFile, snapLength: Int(snapLength)) } catch
                {
                    throw CommandFailure(.cannotCreateOutput, error.description)
                }
            }
            let result: TraceSession.Result
            // Set when the kernel's drop tracepoint was read: the records it could not hand over.
            var kernelRecordsLost: Int?
            if var frames = replay {
                result = try run(session: &session, source: &frames, presence: nil)
                // A replay that finds little says why: what in the files kvmtopo could not place, and where.
                for line in frames.problems(plan: plan) { Terminal.warn(line) }
                if result.frames.read > 0, result.frames.onCapturePoints == 0 {
                    Terminal.warn(
                        "none of the \(result.frames.read) frames read was on a capture point of \(plan.vm)'s path "
                            + "(captured on another host, or before this dump?)")
                }
            } else {
                // Reading the kernel's drops from before the first frame, so that a first packet lost is matched.
                let timeout = nanoseconds(timeout)
                let (watch, unavailable) = dropReasons.watch(
                    etherTypes: KernelDropWatch.tracedEtherTypes, retention: timeout + 5_000_000_000, counting: false)
                var frames: LiveFrames
                do throws(PcapError) {
                    frames = try LiveFrames(
                        filter: plan.kernelFilter(user: filterExpression), snapLength: snapLength,
                        backlogBytes: backlog << 20)
                } catch  where error.libraryMissing {
                    throw CommandFailure(.unavailable, "cannot capture: \(error)")
                } catch {
                    let hint =
                        geteuid() == 0
                        ? "" : "; capturing needs root (or CAP_NET_RAW); --read replays a saved capture without"
                    throw CommandFailure(.failure, "cannot capture: \(error)\(hint)")
                }
                // Said once capturing works: without root, that it does not is the one line to read.
                if let unavailable { Terminal.warn("no kernel drop reasons: \(unavailable); the firewall walk only") }
                watch?.notes.forEach(Terminal.warn)
                StopSignals.install()
                if !json {
                    Terminal.warn("tracing \(plan.vm) at \(plan.points.count) capture points; Ctrl-C for the summary")
                }
                let counters = FirewallCounters()
                result = try run(session: &session, source: &frames, presence: LinkPresence.current) { packet in
                    let explained = watch.map { packet.explainingKernelDrops(timeout: timeout, $0.drops) } ?? packet
                    return explained.confirmingFirewall(counters.packets(of:))
                }
                watch?.stop()
                kernelRecordsLost = watch?.lostRecords
            }
            let summary =
                json
                ? TraceJSON.summary(
                    result.statistics, capture: result.capture, evicted: result.evicted, frames: result.frames,
                    kernelRecordsLost: kernelRecordsLost)
                : text.summary(
                    result.statistics, capture: result.capture, evicted: result.evicted, frames: result.frames,
                    kernelRecordsLost: kernelRecordsLost)
            FileHandle.standardOutput.write(Data(summary.utf8))
        }
    }

    /// The --read files, opened (each one's first packet read, so that their snap lengths are known).
    private func openReplay() throws -> ReplayFrames {
        do throws(ReplayFrames.Failure) {
            return try ReplayFrames(inputs: read.map(ReplayFrames.Input.init(argument:)), filter: filterExpression)
        } catch {
            let status: CommandFailure.Status =
                switch error {
                case .unreadable: .cannotOpenInput
                case .invalid: .badInput
                case .libpcapMissing: .unavailable
                }
            throw CommandFailure(status, error.description)
        }
    }

    /// How packets and the summary are drawn as text.
    private var text: TraceText { TraceText(style: display.style) }

    /// The session on a source, each batch of packets written in one go (one write per packet would cost more
    /// than the packet).
    /// - Parameter explain: what a live trace adds to each packet (the kernel's drop reasons, the firewall
    ///   counters read again).
    private func run<Source: FrameSource>(
        session: inout TraceSession, source: inout Source,
        presence: (() -> Set<Int>?)?, explain: @escaping (TracedPacket) -> TracedPacket = { $0 }
    ) throws -> TraceSession.Result {
        let text = text
        do {
            return try session.run(
                &source, clock: SystemClock(), stopRequests: StopSignals.requests,
                presentInterfaces: presence, notice: Terminal.warn, explain: explain
            ) { packets in
                guard !packets.isEmpty else { return }
                let output = packets.map { json ? TraceJSON.line($0) : text.packet($0) }.joined()
                FileHandle.standardOutput.write(Data(output.utf8))
            }
        } catch {
            throw CommandFailure(.cannotCreateOutput, error.description)
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

extension String {
    fileprivate var nilIfEmpty: String? { isEmpty ? nil : self }
}
