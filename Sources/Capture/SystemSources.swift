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

/// The frames of a saved pcapng capture, each with its file interface's name and link type, those a pcap-filter
/// (run in user space, per interface's link type) lets through.
public struct ReplayFrames: FrameSource {
    private let frames: [Frame]
    private var next = 0

    public enum Failure: Error, CustomStringConvertible {
        /// The file cannot be read at all.
        case unreadable(String)
        /// It is not a capture kvmtopo reads, or the filter does not compile for it.
        case invalid(String)
        /// A filter needs libpcap, which this host lacks.
        case libpcapMissing(String)

        public var description: String {
            switch self {
            case .unreadable(let reason), .invalid(let reason), .libpcapMissing(let reason): reason
            }
        }

    }

    public init(path: String, filter: String?) throws(Failure) {
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw .unreadable("\(path): cannot read (\(describe(error)))")
        }
        let saved: PcapNG.Capture
        do {
            saved = try PcapNG.read(bytes)
        } catch {
            throw .invalid("\(path): \(error)")
        }
        let filters: [OfflineFilter?]
        do {
            filters = try saved.interfaces.map { interface in
                try filter.map { try OfflineFilter(expression: $0, linkType: Int32(interface.linkType)) }
            }
        } catch let error as PcapError where error.libraryMissing {
            throw .libpcapMissing(error.message)
        } catch {
            throw .invalid("\(error)")
        }
        let linkTypes = saved.interfaces.map { LinkType(rawValue: $0.linkType) }
        frames = saved.records.compactMap { record in
            guard let linkType = linkTypes[record.interface],
                filters[record.interface]?.matches(record.bytes, originalLength: record.originalLength) ?? true
            else { return nil }
            return Frame(
                bytes: record.bytes, linkType: linkType, timestamp: record.timestamp,
                originalLength: record.originalLength, interface: saved.interfaces[record.interface].name)
        }
    }

    public var isLive: Bool { false }
    public var isFinished: Bool { next == frames.count }
    public var counters: CaptureCounters? { nil }

    /// A replay is not paced: everything that is left, in chunks so a stop is noticed.
    public mutating func frames(until deadline: UInt64) -> [Frame] {
        let end = min(next + 4096, frames.count)
        defer { next = end }
        return Array(frames[next..<end])
    }
}
