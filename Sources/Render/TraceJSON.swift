import Foundation
import Trace

/// `kvmtopo trace --json`: JSON lines, one `"type":"packet"` object per traced packet as it is done and one
/// `"type":"summary"` object at the end. The fields are described in kvmtopo-trace(1).
public enum TraceJSON {
    public static func line(_ packet: TracedPacket) -> String {
        typed("packet", packet)
    }

    public static func summary(
        _ statistics: TraceStatistics, capture: CaptureCounters?, evicted: Int, frames: FrameCounts? = nil,
        kernelRecordsLost: Int? = nil
    ) -> String {
        typed(
            "summary",
            Summary(
                packets: statistics.packets, replies: statistics.replies, lost: statistics.lostPackets,
                repliesMissing: statistics.repliesMissing,
                evicted: evicted,
                frames: frames.map {
                    .init(read: $0.read, onCapturePoints: $0.onCapturePoints, otherTraffic: $0.otherTraffic)
                },
                capture: capture.map {
                    .init(
                        received: $0.received, dropped: $0.dropped, droppedByInterface: $0.droppedByInterface,
                        droppedWaiting: $0.droppedWaiting)
                },
                firewallDrops: statistics.firewallDrops.map {
                    .init(
                        family: $0.family?.rawValue, table: $0.table, chain: $0.chain, handle: $0.handle, rule: $0.rule,
                        packets: $0.packets)
                },
                kernelDrops: statistics.kernelDrops.map {
                    .init(reason: $0.reason?.rawValue, function: $0.function, meaning: $0.meaning, packets: $0.packets)
                },
                kernelDropRecordsLost: kernelRecordsLost,
                hops: statistics.hops.map { hop in
                    .init(
                        interface: hop.interface, meaning: hop.meaning, direction: hop.direction, seen: hop.seen,
                        lost: hop.lost,
                        p50Nanoseconds: hop.percentile(0.5), p99Nanoseconds: hop.percentile(0.99))
                }))
    }

    private struct Summary: Encodable {
        struct Capture: Encodable { var received, dropped, droppedByInterface, droppedWaiting: Int }
        struct Frames: Encodable { var read, onCapturePoints, otherTraffic: Int }
        struct Hop: Encodable {
            var interface: String?
            var meaning: String
            var direction: TracedPacket.Hop.Direction?
            var seen, lost: Int
            var p50Nanoseconds, p99Nanoseconds: Int64?
        }
        var packets, replies, lost, repliesMissing, evicted: Int
        struct FirewallDrops: Encodable {
            var family, table, chain: String?
            var handle: Int?
            var rule: String?
            var packets: Int
        }
        var frames: Frames?
        var capture: Capture?
        var firewallDrops: [FirewallDrops]
        struct KernelDrops: Encodable {
            var reason, function, meaning: String?
            var packets: Int
        }
        var kernelDrops: [KernelDrops]
        var kernelDropRecordsLost: Int?
        var hops: [Hop]
    }

    /// The object with `"type"` first, then its own fields in sorted order.
    private static func typed(_ type: String, _ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return "{\"type\":\"\(type)\"" + (body == "{}" ? "}" : "," + body.dropFirst()) + "\n"
    }
}
