import Foundation
import KernelDrops
import Perf

/// The kernel's dropped packets (`skb:kfree_skb`) while a command runs: read from per-CPU perf rings on a thread
/// of its own, decoded by this kernel's format file, symbolised from /proc/kallsyms, and kept for `retention`
/// so that a packet judged lost can be matched with what the kernel freed about then. It only observes: a
/// tracepoint read through perf changes nothing on the host. Where it cannot run, `init` says why in one line.
public final class KernelDropWatch: @unchecked Sendable {
    public static let event = "skb/kfree_skb"
    /// The EtherTypes a trace follows: IPv4, ARP, IPv6 (the kernel filters on them: nothing else is copied).
    public static let tracedEtherTypes: [UInt16] = [0x0800, 0x0806, 0x86dd]

    private let rings: TracepointRings
    private let format: TracepointFormat
    /// Read when a drop is first named, not at the start: parsing 120,000 symbols would delay the capture.
    private lazy var symbols = KernelSymbols(kallsyms: KernelFile.read(Self.kallsyms) ?? "")
    private static let kallsyms = "/proc/kallsyms"
    private let retention: UInt64
    private let lock = NSLock()
    /// Drops kept for matching, in time order from `start`.
    private var recent: [Record] = []
    private var start = 0
    private static let capacity = 1 << 20
    /// Drops counted by kind (with `counting`).
    private var kinds: [Kind: Int] = [:]
    private var symbolised: [UInt64: KernelSymbols.Location?] = [:]
    private var stopped = false
    private var thread: Thread?
    /// What the user should know about what it reads (tracefs mounted privately, no reason field, hidden
    /// addresses).
    public let notes: [String]
    /// Whether drops are counted by kind for `counts()` (drops), rather than kept for matching (trace).
    private let counting: Bool

    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
    }

    /// - Parameters:
    ///   - etherTypes: only drops of these EtherTypes (nil: every drop).
    ///   - retention: how long, in nanoseconds, a drop is kept for matching.
    ///   - counting: count every drop by kind (for `counts()`) instead of keeping them for matching.
    public init(
        tracefs: String? = nil, etherTypes: [UInt16]? = nil, retention: UInt64 = 10_000_000_000, counting: Bool = false
    ) throws(Unavailable) {
        let files: TracepointFiles
        do { files = try TracepointFiles.read(event: Self.event, tracefs: tracefs) } catch {
            throw Unavailable(description: error.description)
        }
        format = TracepointFormat(text: files.format)
        guard format.fields["location"] != nil, format.fields["protocol"] != nil else {
            throw Unavailable(description: "this kernel's skb:kfree_skb has no location or protocol field")
        }
        var notes: [String] = []
        if files.mountedPrivately {
            notes.append("tracefs was not mounted: kvmtopo mounted it in a mount namespace of its own")
        }
        if format.fields["reason"] == nil {
            notes.append("this kernel's skb:kfree_skb gives no drop reason (before 5.17): locations only")
        }
        if KernelSymbols(kallsyms: KernelFile.firstLine(Self.kallsyms) ?? "").isEmpty {
            notes.append("/proc/kallsyms hides kernel addresses: drop locations are not named")
        }
        self.notes = notes
        self.retention = retention
        self.counting = counting
        // Only what could be a traced packet's is copied: a drop on delivery to the host itself never is.
        let filter = format.filter(etherTypes: etherTypes) { counting || !$0.isLocalDelivery }
        do { rings = try TracepointRings(id: files.id, filter: filter) } catch {
            throw Unavailable(description: error.description)
        }
        let thread = Thread { [unowned self] in
            while !isStopped {
                rings.wait(milliseconds: 100)
                drain()
            }
        }
        thread.name = "kfree_skb"
        self.thread = thread
        thread.start()
    }

    /// Stops reading (the rings close when the watch goes).
    public func stop() {
        lock.withLock { stopped = true }
        while thread?.isFinished == false { Thread.sleep(forTimeInterval: 0.01) }
    }

    private var isStopped: Bool { lock.withLock { stopped } }

    /// Records the kernel could not hand over (a ring was full), since the start.
    public var lostRecords: Int { lock.withLock { rings.lost } }

    /// The drops between `from` and `to` (nanoseconds since the epoch), read up to now first.
    public func drops(from: UInt64, to: UInt64) -> [KernelDrop] {
        drain()
        return lock.withLock {
            var low = start
            var high = recent.count
            while low < high {
                let middle = (low + high) / 2
                if recent[middle].time < from { low = middle + 1 } else { high = middle }
            }
            return recent[low...].prefix { $0.time <= to }.map(decoded)
        }
    }

    /// Every drop since the start, by kind (with `counting`).
    public func counts() -> [KernelDropCount] {
        drain()
        return lock.withLock {
            var tally = KernelDropTally()
            for (kind, packets) in kinds {
                let drop = decoded(Record(time: 0, address: kind.address, reason: kind.reason, etherType: 0, cpu: 0))
                tally.add(drop, packets: packets)
            }
            return tally.counts
        }
    }

    /// A drop as read, before it is named: what is kept of each (a flood of drops costs 24 bytes apiece).
    private struct Record {
        var time: UInt64
        var address: UInt64
        /// -1: this kernel's record has no reason.
        var reason: Int32
        var etherType: UInt16
        var cpu: UInt16
    }

    private struct Kind: Hashable {
        var address: UInt64
        var reason: Int32
    }

    private func decoded(_ record: Record) -> KernelDrop {
        let reason =
            record.reason < 0
            ? nil
            : DropReason(
                rawValue: format.symbols["reason"]?[Int(record.reason)] ?? "reason \(record.reason)")
        let location =
            symbolised[record.address]
            ?? {
                let found = symbols.location(of: record.address)
                symbolised[record.address] = found
                return found
            }()
        return KernelDrop(
            time: record.time, cpu: Int(record.cpu), etherType: record.etherType, reason: reason, location: location)
    }

    private func drain() {
        lock.withLock {
            var batch: [Record] = []
            rings.drain { sample in
                guard let address = format.integer("location", in: sample.raw),
                    let protocolNumber = format.integer("protocol", in: sample.raw)
                else { return }
                let record = Record(
                    time: sample.time, address: address,
                    reason: format.integer("reason", in: sample.raw).map { Int32(truncatingIfNeeded: $0) } ?? -1,
                    etherType: UInt16(truncatingIfNeeded: protocolNumber), cpu: UInt16(truncatingIfNeeded: sample.cpu))
                if counting {
                    kinds[Kind(address: record.address, reason: record.reason), default: 0] += 1
                } else {
                    batch.append(record)
                }
            }
            guard !batch.isEmpty else { return }
            keep(batch)
        }
    }

    /// Adds a drain's records in time order (each CPU's ring is in order; the rings are not, between them),
    /// and forgets those older than `retention` before the newest, or beyond `capacity`.
    private func keep(_ batch: [Record]) {
        let sorted = batch.sorted { $0.time < $1.time }
        var insertion = recent.count
        while insertion > start, recent[insertion - 1].time > sorted[0].time { insertion -= 1 }
        if insertion == recent.count {
            recent += sorted
        } else {
            let merged = (Array(recent[insertion...]) + sorted).sorted { $0.time < $1.time }
            recent.replaceSubrange(insertion..., with: merged)
        }
        let newest = recent[recent.count - 1].time
        while start < recent.count,
            recent.count - start > Self.capacity || recent[start].time + retention < newest
        {
            start += 1
        }
        // Forgotten records are let go of in one move once they are half the buffer.
        if start > recent.count / 2 {
            recent.removeFirst(start)
            start = 0
        }
    }
}
