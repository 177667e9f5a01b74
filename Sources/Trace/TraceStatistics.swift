import Firewall
import KernelDrops
import Topology

/// Per hop over a whole trace: how often a packet was seen or lost there, and its delay since the packet's first
/// sighting as p50/p99 from a fixed log-scale histogram (about 1.5 % wide buckets), so an hour-long trace
/// takes no more memory than a short one.
public struct TraceStatistics: Sendable {
    public struct HopStatistics: Sendable {
        public var kind: TracedPacket.Hop.Kind
        public var interface: String?
        public var meaning: String
        public var direction: TracedPacket.Hop.Direction?
        public var seen = 0
        public var lost = 0
        var histogram: [Int: Int] = [:]

        public func percentile(_ fraction: Double) -> Int64? {
            let total = histogram.values.reduce(0, +)
            guard total > 0 else { return nil }
            let wanted = max(1, Int((Double(total) * fraction).rounded(.up)))
            var count = 0
            for bucket in histogram.keys.sorted() {
                count += histogram[bucket]!
                if count >= wanted { return Self.value(of: bucket) }
            }
            return nil
        }

        /// Bucket: the position of the leading bit and the next six bits.
        static func bucket(_ value: UInt64) -> Int {
            guard value >= 64 else { return Int(value) }
            let top = 63 - value.leadingZeroBitCount
            return top << 6 | Int(value >> (top - 6) & 63)
        }

        static func value(of bucket: Int) -> Int64 {
            guard bucket >= 64 else { return Int64(bucket) }
            let top = bucket >> 6
            // The middle of the bucket.
            return Int64((UInt64(64 | bucket & 63) << (top - 6)) + (UInt64(1) << (top - 6)) / 2)
        }
    }

    public private(set) var packets = 0
    public private(set) var replies = 0
    public private(set) var lostPackets = 0
    public private(set) var repliesMissing = 0
    public private(set) var hops: [HopStatistics] = []
    private var hopIndex: [String: Int] = [:]
    /// Lost packets by the firewall rule (or chain policy) that drops them, in the order first met.
    public private(set) var firewallDrops: [FirewallDrops] = []

    /// One deciding rule or policy, and how many lost packets it accounts for.
    public struct FirewallDrops: Sendable, Equatable {
        public var family: FirewallFamily?
        public var table: String?
        public var chain: String?
        public var handle: Int?
        public var rule: String?
        public var packets: Int
    }

    /// Lost packets by what the kernel says it freed them for (reason and function), in the order first met.
    public private(set) var kernelDrops: [KernelDrops] = []

    public struct KernelDrops: Sendable, Equatable {
        public var reason: DropReason?
        public var function: String?
        public var meaning: String?
        public var packets: Int
    }

    public init() {}

    private mutating func countKernelDrop(_ hop: TracedPacket.Hop) {
        let function = hop.dropFunction
        if let index = kernelDrops.firstIndex(where: { ($0.reason, $0.function) == (hop.dropReason, function) }) {
            kernelDrops[index].packets += 1
        } else {
            kernelDrops.append(
                KernelDrops(reason: hop.dropReason, function: function, meaning: hop.dropMeaning, packets: 1))
        }
    }

    public mutating func record(_ packet: TracedPacket) {
        packets += 1
        packet.reply.forEach {
            replies += 1
            recordHops($0)
        }
        recordHops(packet)
    }

    private mutating func countDrop(_ verdict: FirewallDecision) {
        if let index = firewallDrops.firstIndex(where: {
            ($0.family, $0.table, $0.chain, $0.handle) == (verdict.family, verdict.table, verdict.chain, verdict.handle)
        }) {
            firewallDrops[index].packets += 1
        } else {
            firewallDrops.append(
                FirewallDrops(
                    family: verdict.family, table: verdict.table, chain: verdict.chain, handle: verdict.handle,
                    rule: verdict.rule, packets: 1))
        }
    }

    private mutating func recordHops(_ packet: TracedPacket) {
        if packet.lost { lostPackets += 1 }
        if packet.replyMissing { repliesMissing += 1 }
        for hop in packet.hops where !hop.offPath {
            let key = "\(hop.interface ?? hop.meaning) \(hop.direction?.rawValue ?? "")"
            let index =
                hopIndex[key]
                ?? {
                    hops.append(
                        HopStatistics(
                            kind: hop.kind, interface: hop.interface, meaning: hop.meaning, direction: hop.direction))
                    hopIndex[key] = hops.count - 1
                    return hops.count - 1
                }()
            switch hop.state {
            case .seen:
                hops[index].seen += 1
                hops[index].histogram[HopStatistics.bucket(UInt64(max(0, hop.offset ?? 0))), default: 0] += 1
            case .lost:
                hops[index].lost += 1
                if let verdict = hop.firewallVerdict { countDrop(verdict) }
                if hop.dropCertainty != nil { countKernelDrop(hop) }
            case .uncaptured:
                break
            }
        }
    }
}

/// What libpcap says about the capture as a whole (pcap_stats): drops are never hidden.
/// What a session did with the frames it got: how many it read, how many were on a capture point, and how many
/// packets on the capture points were other traffic than the traced VM's.
public struct FrameCounts: Sendable, Equatable {
    public var read = 0
    public var onCapturePoints = 0
    public var otherTraffic = 0

    public init(read: Int = 0, onCapturePoints: Int = 0, otherTraffic: Int = 0) {
        self.read = read
        self.onCapturePoints = onCapturePoints
        self.otherTraffic = otherTraffic
    }
}

public struct CaptureCounters: Sendable, Equatable {
    public var received: Int
    public var dropped: Int
    public var droppedByInterface: Int
    /// Read from the kernel and never correlated: more were waiting for the correlation than it keeps, or they
    /// were still waiting when the trace ended.
    public var droppedWaiting: Int

    public init(received: Int, dropped: Int, droppedByInterface: Int, droppedWaiting: Int = 0) {
        self.received = received
        self.dropped = dropped
        self.droppedByInterface = droppedByInterface
        self.droppedWaiting = droppedWaiting
    }
}
