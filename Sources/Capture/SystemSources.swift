import Foundation
import Packets
import Pcap
import Topology
import Trace

/// The real clock: CLOCK_REALTIME, the clock libpcap stamps frames with.
public struct SystemClock: SessionClock {
    public init() {}

    public func now() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}

/// Frames from one libpcap handle on `any` (LINUX_SLL2: every frame names its interface and direction). A thread
/// of its own drains the kernel's ring as fast as frames come, as tcpdump does, so that when the correlation falls
/// behind (a flood), frames wait in memory instead of overflowing the ring, and are still lined up after a stop;
/// past `backlogBytes` of waiting frames, newer ones are dropped here, and counted as such.
public struct LiveFrames: FrameSource {
    private let reader: CaptureThread
    private let clock: any SessionClock

    /// What waiting frames may take by default: at the 150 bytes a small frame takes, about 1.8 million
    /// frames, several seconds of a flood on a host that forwards 100,000 packets a second.
    public static let defaultBacklogBytes = 256 << 20

    public init(
        filter: String, snapLength: Int32 = 256, backlogBytes: Int = defaultBacklogBytes,
        clock: any SessionClock = SystemClock()
    ) throws(PcapError) {
        reader = CaptureThread(
            try LiveCapture(interface: "any", filter: filter, snapLength: snapLength), backlogBytes: backlogBytes)
        self.clock = clock
    }

    public var isLive: Bool { true }
    public var isFinished: Bool { reader.isFinished }
    public var backlog: (frames: Int, oldest: UInt64)? { reader.backlog }
    public mutating func stopReading() { reader.stopReading(at: clock.now()) }

    public mutating func frames(until deadline: UInt64) -> [Frame] {
        let now = clock.now()
        return reader.take(waiting: .nanoseconds(Int64(min(deadline > now ? deadline - now : 0, 1 << 62)))).map {
            Frame(bytes: $0.bytes, linkType: .linuxSLL2, timestamp: $0.timestamp, originalLength: $0.originalLength)
        }
    }

    public var counters: CaptureCounters? { reader.counters }
}

/// The capture's own thread and the frames it has read that the session has not taken yet. The thread holds it
/// weakly between batches: when the session lets go of its LiveFrames, or stops the reading, the thread ends and
/// the handle closes.
private final class CaptureThread: @unchecked Sendable {
    private let capture: LiveCapture
    private let backlogBytes: Int
    private let condition = NSCondition()
    /// Read and not taken yet: `waiting[taken...]` (taking moves an index, not the frames behind it).
    private var waiting: [CapturedPacket] = []
    private var taken = 0
    private var waitingBytes = 0
    private var droppedWaiting = 0
    private var kernel: (received: Int, dropped: Int, droppedByInterface: Int) = (0, 0, 0)
    /// When the stop was asked for (the capture's clock): frames captured before it are still read.
    private var stopAt: UInt64?
    /// The thread has read its last batch: nothing more will come.
    private var ended = false
    /// Most frames one take gives: the session expires packets between batches.
    private static let batch = 65_536

    init(_ capture: LiveCapture, backlogBytes: Int) {
        self.capture = capture
        self.backlogBytes = backlogBytes
        Thread.detachNewThread { [weak self] in
            while let reader = self, reader.drain() {}
        }
    }

    /// What a waiting frame costs in memory: its bytes and the array's header, and its place in the queue.
    private static func cost(_ packet: CapturedPacket) -> Int { packet.bytes.count + 64 }

    /// Reads one batch from the kernel; false once everything captured before the stop has been read. The kernel
    /// hands frames over in blocks it closes every 20 ms, so the last frames before a stop come a batch later.
    private func drain() -> Bool {
        let packets = capture.packets(until: .now + .milliseconds(50))
        let statistics = capture.statistics
        condition.lock()
        defer { condition.unlock() }
        let captured = stopAt.map { stop in packets.filter { $0.timestamp <= stop } } ?? packets
        for packet in captured {
            let cost = Self.cost(packet)
            if waitingBytes + cost > backlogBytes {
                droppedWaiting += 1
            } else {
                waiting.append(packet)
                waitingBytes += cost
            }
        }
        kernel = statistics
        ended = stopAt != nil && (packets.isEmpty || captured.count < packets.count)
        condition.signal()
        return !ended
    }

    func stopReading(at moment: UInt64) {
        condition.lock()
        stopAt = stopAt ?? moment
        condition.unlock()
    }

    var isFinished: Bool {
        condition.lock()
        defer { condition.unlock() }
        return ended && taken == waiting.count
    }

    var backlog: (frames: Int, oldest: UInt64)? {
        condition.lock()
        defer { condition.unlock() }
        return taken < waiting.count ? (waiting.count - taken, waiting[taken].timestamp) : nil
    }

    /// What has been read, waiting up to `wait` for something when nothing is there yet (and more can come).
    func take(waiting wait: Duration) -> [CapturedPacket] {
        let until = Date().addingTimeInterval(
            Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18)
        condition.lock()
        defer { condition.unlock() }
        while taken == waiting.count, !ended, condition.wait(until: until) {}
        let end = min(waiting.count, taken + Self.batch)
        let batch = Array(waiting[taken..<end])
        waitingBytes -= batch.reduce(0) { $0 + Self.cost($1) }
        taken = end
        if taken == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            taken = 0
        } else if taken * 2 > waiting.count {
            waiting.removeFirst(taken)
            taken = 0
        }
        return batch
    }

    var counters: CaptureCounters {
        condition.lock()
        defer { condition.unlock() }
        // Frames still waiting when the session asks (at its end) were read and never correlated too.
        return CaptureCounters(
            received: kernel.received, dropped: kernel.dropped, droppedByInterface: kernel.droppedByInterface,
            droppedWaiting: droppedWaiting + waiting.count - taken)
    }
}
