import Packets
import Topology
import Trace

/// One run of `trace`: frames from a source become sightings at the plan's capture points, the correlator lines
/// them up, and each finished packet goes to `emit` (numbered, the --to and -c limits applied); everything
/// captured can also be written to a pcapng file. The source, the clock, the stop signal and the look at which
/// interfaces still exist are parameters, so the whole session runs on made-up frames and time in a test.
public struct TraceSession {
    public struct Options {
        /// How long a packet may take to its next hop before it is lost there, in nanoseconds.
        public var timeout: UInt64
        /// Stop after this many packets.
        public var count: Int?
        /// Stop this long after the start, in nanoseconds.
        public var duration: UInt64?
        /// Only packets to, from or through this VM.
        public var toVM: String?

        public init(timeout: UInt64, count: Int? = nil, duration: UInt64? = nil, toVM: String? = nil) {
            self.timeout = timeout
            self.count = count
            self.duration = duration
            self.toVM = toVM
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// What the summary shows.
    public struct Result {
        public var statistics: TraceStatistics
        public var capture: CaptureCounters?
        public var evicted: Int
        public var frames: FrameCounts
    }

    /// Live frames wait up to the kernel's block timeout (20 ms) in the ring: the correlator looks this far behind.
    static let liveSlack: UInt64 = 100_000_000
    /// How often to look whether capture points still exist.
    static let presenceInterval: UInt64 = 2_000_000_000

    public let plan: TracePlan
    let options: Options
    let correlator: Correlator
    private var statistics = TraceStatistics()
    private var frameCounts = FrameCounts()
    private var shown = 0
    private var explain: (TracedPacket) -> TracedPacket = { $0 }
    private var writer: (file: PcapNG.Writer, path: String, interfaces: [Int: Int])?

    public init(plan: TracePlan, options: Options) {
        self.plan = plan
        self.options = options
        correlator = Correlator(plan: plan, timeoutNanoseconds: options.timeout)
    }

    /// Also writes every sighting to `path` as pcapng: one interface per capture point, named for it.
    public mutating func write(to path: String, snapLength: Int) throws(Failure) {
        do {
            let file = try PcapNG.Writer(path: path)
            var interfaces: [Int: Int] = [:]
            for (index, point) in plan.points.enumerated() {
                interfaces[index] = try file.addInterface(
                    linkType: LinkType.linuxSLL2.rawValue, snapLength: snapLength,
                    name: point.interface, comment: point.meaning)
            }
            writer = (file, path, interfaces)
        } catch {
            throw Failure(description: "\(path): cannot write (\(describe(error)))")
        }
    }

    /// Runs until a stop is asked for (`stopRequests`: see CaptureLoop), the duration, the count or the end of a
    /// replay, then writes out what is still open. `emit` gets the packets of each batch at once; `notice` a line
    /// for the user (an interface gone, frames still to line up at a stop).
    /// - Parameter explain: what a live trace adds to each finished packet before it is counted and shown (the
    ///   kernel's drop reasons, the firewall counters read again).
    public mutating func run<Source: FrameSource>(
        _ source: inout Source, clock: any SessionClock, stopRequests: @escaping () -> Int,
        presentInterfaces: (() -> Set<Int>?)? = nil, notice: @escaping (String) -> Void = { _ in },
        explain: @escaping (TracedPacket) -> TracedPacket = { $0 }, emit: ([TracedPacket]) -> Void
    ) throws(Failure) -> Result {
        self.explain = explain
        if let coverage = source.coverage { correlator.judge(by: coverage) }
        let start = clock.now()
        let loop = CaptureLoop(
            clock: clock, end: options.duration.map { start.saturatingAdd($0) }, stopRequests: stopRequests,
            stopping: { waiting in
                if waiting > 0 {
                    notice("lining up the \(waiting) frames already read; Ctrl-C again to stop now")
                }
            })
        var nextPresenceCheck = start + Self.presenceInterval
        var gone: Set<Int> = []
        var failure: Failure?
        let live = source.isLive
        let plan = plan
        loop.run(
            &source,
            frames: { frames in
                for frame in frames {
                    frameCounts.read += 1
                    guard let sighting = Self.sighting(frame, plan: plan) else { continue }
                    frameCounts.onCapturePoints += 1
                    do throws(Failure) { try take(sighting) } catch {
                        failure = error
                        return false
                    }
                    if !live { emit(show(correlator.advance(to: sighting.timestamp))) }
                    if countReached { return false }
                }
                return !countReached
            },
            tick: { now, oldestWaiting in
                // Frames still waiting to be taken are older than the clock: nothing after them is judged yet.
                if live {
                    let judged = min(now &- Self.liveSlack, oldestWaiting.map { $0 &- 1 } ?? .max)
                    emit(show(correlator.advance(to: judged)))
                }
                if let presentInterfaces, now >= nextPresenceCheck {
                    nextPresenceCheck = now + Self.presenceInterval
                    gone = noticeVanished(presentInterfaces(), alreadyGone: gone, notice: notice)
                }
                return !countReached
            })
        if let failure { throw failure }
        emit(show(correlator.finish()))
        if let writer {
            do { try writer.file.close() } catch {
                throw Failure(description: "\(writer.path): cannot write (\(describe(error)))")
            }
        }
        frameCounts.otherTraffic = correlator.unrelated
        return Result(
            statistics: statistics, capture: source.counters, evicted: correlator.evicted, frames: frameCounts)
    }

    private var countReached: Bool { options.count.map { shown >= $0 } ?? false }

    private static func sighting(_ frame: Frame, plan: TracePlan) -> Sighting? {
        plan.sighting(
            frame.bytes, linkType: frame.linkType, timestamp: frame.timestamp,
            originalLength: frame.originalLength, point: frame.interface.flatMap(plan.point(named:)))
    }

    private mutating func take(_ sighting: Sighting) throws(Failure) {
        if let writer, let interface = writer.interfaces[sighting.point], sighting.linkType == .linuxSLL2 {
            do {
                try writer.file.write(
                    PcapNG.Record(
                        interface: interface, timestamp: sighting.timestamp,
                        originalLength: sighting.originalLength, bytes: sighting.bytes))
            } catch {
                throw Failure(description: "\(writer.path): cannot write (\(describe(error)))")
            }
        }
        correlator.add(sighting)
    }

    /// The packets that pass --to, numbered, up to -c.
    private mutating func show(_ packets: [TracedPacket]) -> [TracedPacket] {
        var shownNow: [TracedPacket] = []
        for packet in packets where wanted(packet) && !countReached {
            shown += 1
            var numbered = explain(packet)
            numbered.number = shown
            statistics.record(numbered)
            shownNow.append(numbered)
        }
        return shownNow
    }

    /// --to: the packet's path (or where it was expected) touches that VM, or it goes to or from its address.
    private func wanted(_ packet: TracedPacket) -> Bool {
        guard let toVM = options.toVM else { return true }
        let involved = { (candidate: TracedPacket) in
            candidate.hops.contains { $0.domain == toVM } || correlator.domain(owning: candidate.destination) == toVM
        }
        return involved(packet) || packet.reply.contains(where: involved)
    }

    /// Capture points whose interface went away since the last look (a VM destroyed, a tap deleted): one line
    /// each, and the trace goes on with the others. Returns every point gone so far.
    private func noticeVanished(_ present: Set<Int>?, alreadyGone: Set<Int>, notice: (String) -> Void) -> Set<Int> {
        guard let present else { return alreadyGone }
        let missing = Set(plan.points.indices.filter { !present.contains(plan.points[$0].ifindex) })
        for index in missing.subtracting(alreadyGone).sorted() {
            let point = plan.points[index]
            let whose = plan.origins.contains(index) ? "the traced VM's tap" : "capture point"
            notice("\(whose) \(point.interface) (\(point.meaning)) is gone; tracing the rest")
        }
        return missing
    }
}
