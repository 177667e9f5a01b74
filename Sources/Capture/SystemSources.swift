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
/// behind (a flood), frames wait in memory instead of overflowing the ring; past `queueLimit` waiting frames, newer
/// ones are dropped here, and counted as such.
public struct LiveFrames: FrameSource {
    private let reader: CaptureThread
    private let clock: any SessionClock

    public init(
        filter: String, snapLength: Int32 = 256, queueLimit: Int = 500_000, clock: any SessionClock = SystemClock()
    ) throws(PcapError) {
        reader = CaptureThread(
            try LiveCapture(interface: "any", filter: filter, snapLength: snapLength), limit: queueLimit)
        self.clock = clock
    }

    public var isLive: Bool { true }
    public var isFinished: Bool { false }

    public mutating func frames(until deadline: UInt64) -> [Frame] {
        let now = clock.now()
        return reader.take(waiting: .nanoseconds(Int64(min(deadline > now ? deadline - now : 0, 1 << 62)))).map {
            Frame(bytes: $0.bytes, linkType: .linuxSLL2, timestamp: $0.timestamp, originalLength: $0.originalLength)
        }
    }

    public var counters: CaptureCounters? { reader.counters }
}

/// The capture's own thread and the frames it has read that the session has not taken yet. The thread holds it
/// weakly between batches: when the session lets go of its LiveFrames, the thread ends and the handle closes.
private final class CaptureThread: @unchecked Sendable {
    private let capture: LiveCapture
    private let limit: Int
    private let condition = NSCondition()
    /// Read and not taken yet: `waiting[taken...]` (taking moves an index, not the frames behind it).
    private var waiting: [CapturedPacket] = []
    private var taken = 0
    private var droppedWaiting = 0
    private var kernel: (received: Int, dropped: Int, droppedByInterface: Int) = (0, 0, 0)
    /// Most frames one take gives: the session expires packets between batches.
    private static let batch = 65_536

    init(_ capture: LiveCapture, limit: Int) {
        self.capture = capture
        self.limit = limit
        Thread.detachNewThread { [weak self] in
            while let reader = self { reader.drain() }
        }
    }

    private func drain() {
        let packets = capture.packets(until: .now + .milliseconds(50))
        let statistics = capture.statistics
        condition.lock()
        let room = max(0, limit - (waiting.count - taken))
        waiting += packets.prefix(room)
        droppedWaiting += max(0, packets.count - room)
        kernel = statistics
        condition.signal()
        condition.unlock()
    }

    /// What has been read, waiting up to `wait` for something when nothing is there yet.
    func take(waiting wait: Duration) -> [CapturedPacket] {
        let until = Date().addingTimeInterval(
            Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18)
        condition.lock()
        defer { condition.unlock() }
        while taken == waiting.count, condition.wait(until: until) {}
        let end = min(waiting.count, taken + Self.batch)
        let batch = Array(waiting[taken..<end])
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
