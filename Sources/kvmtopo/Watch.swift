import ArgumentParser
import Capture
import Collect
import Foundation
import Topology
import Watch

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Follow the host's network as it changes, one line per change, in the model's terms.",
        discussion: """
            Starts from a dump, then follows the kernel's notifications (links, addresses, the bridges' FDB, \
            routes) and libvirt's domain events, and prints each change with what it means ("i-2-10-VM eth0 \
            (tap vnet4): left brvx-1001", "r-4-VM stopped (destroyed)") and the diagnose findings that appear or \
            clear. A burst of notifications is one re-read of the host. A link that flaps is summarised every \
            10 s. Scoped by vm NAME or network BRIDGE|vlan:N|vni:N. Only subscribes and reads. Runs until \
            Ctrl-C or --duration. Exit status: 0; 1 when the kernel's notifications cannot be followed; 64 \
            usage; 73 --output cannot be written. kvmtopo-watch(1).
            """)

    @Argument(help: Scope.help)
    var scope: [String] = []

    @Flag(help: "Write JSON lines (one object per change) instead of text.")
    var json = false

    @Option(help: ArgumentHelp("Stop after this many seconds.", valueName: "seconds"))
    var duration: Double?

    @Option(
        name: .customLong("output"), help: ArgumentHelp("Also append the JSON lines to FILE.", valueName: "file"),
        completion: .file(extensions: ["jsonl"]))
    var outputFile: String?

    @Option(
        help: ArgumentHelp(
            "The netlink socket's receive buffer, in KiB: a burst larger than it is an overrun (reported, and "
                + "the host is read again).", valueName: "KiB"))
    var receiveBuffer = HostEvents.defaultReceiveBuffer >> 10

    @OptionGroup var source: SourceOptions

    func validate() throws {
        try Scope.validate(scope)
        if let duration, duration <= 0 { throw ValidationError("--duration takes a positive number of seconds") }
        guard receiveBuffer > 0 else { throw ValidationError("--receive-buffer takes a positive number of KiB") }
        guard source.dumpFile == nil, source.listen == nil else {
            throw ValidationError("watch follows the live host; --from and --listen do not apply")
        }
    }

    func run() throws {
        try reportingFailures {
            let output = try outputFile.map(WatchOutput.appending)
            // Subscribed before the first dump, so nothing between the dump and the first notification is missed.
            let events: HostEvents
            do {
                events = try HostEvents(libvirtURI: source.libvirtURI, receiveBuffer: receiveBuffer << 10)
            } catch {
                throw CommandFailure(.failure, "cannot follow the kernel's notifications: \(error)")
            }
            let collector = HostCollector(libvirtURI: source.libvirtURI, agentProperties: source.agentProperties)
            let first = collector.collect()
            let scoped = Scope(words: scope)
            // An unknown VM or network is a usage error now; later, a VM that went keeps the names it had.
            _ = try scoped.names(in: first)
            var watcher = Watcher(snapshot: first, scope: scope.isEmpty ? nil : { (try? scoped.names(in: $0)) ?? nil })
            watcher.libvirtFollowed = events.libvirtUnavailable == nil
            StopSignals.install()
            Terminal.warn(
                "watching \(first.host.hostname): \(first.domains.count) VMs, \(first.links.count) links, "
                    + "\(watcher.currentFindings.count) findings; Ctrl-C to stop")
            if let reason = events.libvirtUnavailable {
                Terminal.warn("libvirt unavailable: \(reason); following links only until it answers")
            }
            if let reason = events.firewallUnavailable {
                Terminal.warn("firewall announcements unavailable: \(reason); the firewall is read every 30 s")
            }
            // Each line is written whole as it comes (unbuffered), for a pipe or the journal.
            let emit = { (records: [WatchRecord]) in
                for record in records {
                    FileHandle.standardOutput.write(Data(((json ? WatchOutput.line(record) : record.line) + "\n").utf8))
                    output?.append(record)
                }
            }
            var loop = WatchLoop(start: .now, duration: duration.map { .seconds($0) })
            while StopSignals.requests() == 0, !loop.isOver {
                for (event, time) in events.take(waiting: 0.1) {
                    emit(loop.handle(event, at: time, watcher: &watcher))
                }
                if loop.readAgainIsDue {
                    let since = loop.takeBurst()
                    emit(watcher.resynced(collector.collect(lastKnownDomains: watcher.snapshot.domains), at: since))
                }
                emit(watcher.tick(at: Date()))
            }
        }
    }
}

/// When to read the host again: 200 ms after a burst went quiet, at most a second after it began, and every
/// 30 s regardless (for what sends no notification: ipsets, legacy xtables tables, a NIC's link state set through
/// libvirt).
struct WatchLoop {
    static let quiet: Duration = .milliseconds(200)
    static let longest: Duration = .seconds(1)
    static let regardless: Duration = .seconds(30)

    let start: ContinuousClock.Instant
    let duration: Duration?
    private var burst: (first: ContinuousClock.Instant, last: ContinuousClock.Instant, at: Date)?
    private var lastRead: ContinuousClock.Instant

    init(start: ContinuousClock.Instant, duration: Duration?) {
        self.start = start
        self.duration = duration
        lastRead = start
    }

    var isOver: Bool { duration.map { ContinuousClock.now - start >= $0 } ?? false }

    var readAgainIsDue: Bool {
        let now = ContinuousClock.now
        guard let burst else { return now - lastRead >= Self.regardless }
        return now - burst.last >= Self.quiet || now - burst.first >= Self.longest
    }

    /// Ends the burst; when it began (the time its changes are stamped with).
    mutating func takeBurst() -> Date {
        lastRead = .now
        defer { burst = nil }
        return burst?.at ?? Date()
    }

    mutating func changed(at time: Date) {
        let now = ContinuousClock.now
        burst = (burst?.first ?? now, now, burst?.at ?? time)
    }

    /// One notification or event: its own line when it has one (libvirt's, an overrun), and a re-read to come.
    mutating func handle(_ event: HostEvent, at time: Date, watcher: inout Watcher) -> [WatchRecord] {
        changed(at: time)
        switch event {
        case .link(let name, let up):
            watcher.linkState(name, up: up, at: time)
            return []
        case .changed:
            return []
        case .overrun(let missed):
            let count = missed.map { "\($0) notifications missed" } ?? "notifications missed"
            return [
                watcher.source("netlink", "netlink overrun: \(count); reading the host again", missed: missed, at: time)
            ]
        case .domain(let name, let what):
            return watcher.domainEvent(name, what, at: time)
        case .device(let domain, let alias, let added):
            return watcher.device(alias, of: domain, added: added, at: time)
        case .libvirtBack:
            watcher.libvirtFollowed = true
            return [watcher.source("libvirt", "libvirt back: reading the host again", at: time)]
        case .libvirtLost(let reason):
            watcher.libvirtFollowed = false
            return [watcher.source("libvirt", "libvirt lost: \(reason); trying again every second", at: time)]
        }
    }
}

/// `--output FILE`: JSON lines appended, each written whole as it happens.
final class WatchOutput {
    private let handle: FileHandle

    private init(handle: FileHandle) { self.handle = handle }

    /// Opened in append mode, so a log rotation's copytruncate leaves no hole.
    static func appending(_ path: String) throws -> WatchOutput {
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw CommandFailure(.cannotCreateOutput, "\(path): cannot append (\(String(cString: strerror(errno))))")
        }
        return WatchOutput(handle: FileHandle(fileDescriptor: descriptor, closeOnDealloc: true))
    }

    func append(_ record: WatchRecord) { handle.write(Data((Self.line(record) + "\n").utf8)) }

    static func line(_ record: WatchRecord) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(record)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
