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

/// Frames from one libpcap handle on `any` (LINUX_SLL2: every frame names its interface and direction).
public struct LiveFrames: FrameSource {
    private let capture: LiveCapture
    private let clock: any SessionClock

    public init(filter: String, snapLength: Int32 = 256, clock: any SessionClock = SystemClock()) throws(PcapError) {
        capture = try LiveCapture(interface: "any", filter: filter, snapLength: snapLength)
        self.clock = clock
    }

    public var isLive: Bool { true }
    public var isFinished: Bool { false }

    public mutating func frames(until deadline: UInt64) -> [Frame] {
        let now = clock.now()
        let left = deadline > now ? deadline - now : 0
        return capture.packets(until: .now + .nanoseconds(Int64(min(left, UInt64(Int64.max))))).map { packet in
            Frame(
                bytes: packet.bytes, linkType: .linuxSLL2, timestamp: packet.timestamp,
                originalLength: packet.originalLength)
        }
    }

    public var counters: CaptureCounters? {
        let stats = capture.statistics
        return CaptureCounters(
            received: stats.received, dropped: stats.dropped,
            droppedByInterface: stats.droppedByInterface)
    }
}
