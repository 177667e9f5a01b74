import Foundation
import KernelDrops
import Perf

/// The kernel's dropped packets (`skb:kfree_skb`) while a command runs: read from per-CPU perf rings on a thread
/// of its own, decoded by this kernel's format file, symbolised from /proc/kallsyms, and kept for `retention`
/// so that a packet judged lost can be matched with what the kernel freed about then. It only observes: a
/// tracepoint read through perf changes nothing on the host. Where it cannot run, `start` says why in one line.
public final class KernelDropWatch: @unchecked Sendable {
    public static let event = "skb/kfree_skb"
    /// The EtherTypes a trace follows: IPv4, ARP, IPv6 (the kernel filters on them: nothing else is copied).
    public static let tracedEtherTypes: [UInt16] = [0x0800, 0x0806, 0x86dd]

    private let rings: TracepointRings
    private let format: TracepointFormat
    private let symbols: KernelSymbols
    private let retention: UInt64
    private let lock = NSLock()
    private var recent: [KernelDrop] = []
    private var tally = KernelDropTally()
    private var symbolised: [UInt64: KernelSymbols.Location?] = [:]
    private var stopped = false
    private var thread: Thread?
    /// What the user should know about what it reads (tracefs mounted privately, no reason field, hidden
    /// addresses).
    public let notes: [String]
    /// Whether drops are kept for `counts()` (drops counts every one; trace keeps only the recent ones).
    private let counting: Bool

    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
    }

    /// - Parameters:
    ///   - etherTypes: only drops of these EtherTypes (nil: every drop).
    ///   - retention: how long, in nanoseconds, a drop is kept for matching.
    ///   - counting: also keep a count of every drop since the start.
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
        let kallsyms = KernelFile.read("/proc/kallsyms") ?? ""
        symbols = KernelSymbols(kallsyms: kallsyms)
        if symbols.isEmpty { notes.append("/proc/kallsyms hides kernel addresses: drop locations are not named") }
        self.notes = notes
        self.retention = retention
        self.counting = counting
        let filter = etherTypes.map { $0.map { "protocol == \($0)" }.joined(separator: " || ") }
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
        return lock.withLock { recent.filter { $0.time >= from && $0.time <= to } }
    }

    /// Every drop since the start, by kind (with `counting`).
    public func counts() -> [KernelDropCount] {
        drain()
        return lock.withLock { tally.counts }
    }

    private func drain() {
        lock.withLock {
            var newest: UInt64 = 0
            rings.drain { sample in
                guard let address = format.integer("location", in: sample.raw),
                    let protocolNumber = format.integer("protocol", in: sample.raw)
                else { return }
                let reason = format.integer("reason", in: sample.raw).map { number in
                    DropReason(rawValue: format.symbols["reason"]?[Int(number)] ?? "reason \(number)")
                }
                let location =
                    symbolised[address]
                    ?? {
                        let found = symbols.location(of: address)
                        symbolised[address] = found
                        return found
                    }()
                let drop = KernelDrop(
                    time: sample.time, cpu: sample.cpu, etherType: UInt16(truncatingIfNeeded: protocolNumber),
                    reason: reason, location: location)
                recent.append(drop)
                if counting { tally.add(drop) }
                newest = max(newest, sample.time)
            }
            if newest > retention, let first = recent.first, first.time < newest - retention {
                recent.removeAll { $0.time < newest - retention }
            }
        }
    }
}
