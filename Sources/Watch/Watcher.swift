import Changes
import Diagnose
import Foundation
import Topology

/// What `kvmtopo watch` knows between events: the host as last read, its findings, the links that flap and the
/// domains libvirt already spoke about. Pure: events and fresh snapshots in, lines out. The caller reads the host
/// again after a burst of kernel notifications (once per burst), and this says what changed in the model's terms.
public struct Watcher {
    public private(set) var snapshot: HostSnapshot
    private var findings: [Finding]
    private let scope: ((HostSnapshot) -> Set<String>?)?
    private var scopeNames: Set<String>?
    private var flaps = FlapCounter()
    /// Domains libvirt announced an event for since the last read: their state change is said once, by libvirt.
    private var announced: Set<String> = []
    /// While libvirt's events are followed, they say every state change (a read can come before the event).
    public var libvirtFollowed = false

    /// - Parameter scope: the names a line must mention to be shown (a VM, its taps and bridges); nil: all.
    public init(snapshot: HostSnapshot, scope: ((HostSnapshot) -> Set<String>?)? = nil) {
        self.snapshot = snapshot
        self.scope = scope
        findings = Diagnose.run(snapshot)
        scopeNames = scope?(snapshot)
    }

    /// The findings as they stand (the first line of a watch says how many).
    public var currentFindings: [Finding] { findings }

    public mutating func domainEvent(_ domain: String, _ event: DomainEvent, at time: Date) -> [WatchRecord] {
        announced.insert(domain)
        var record = WatchRecord(time: time, kind: .event, subject: domain, text: "\(domain) \(event.phrase)")
        record.domain = domain
        record.event = event
        return inScope(record, names: [domain]) ? [record] : []
    }

    /// A device libvirt added to or removed from a running domain (a NIC plugged or unplugged).
    public mutating func device(_ alias: String, of domain: String, added: Bool, at time: Date) -> [WatchRecord] {
        var record = WatchRecord(
            time: time, kind: .event, subject: "\(domain) \(alias)",
            text: "\(domain): device \(alias) \(added ? "added" : "removed")")
        record.domain = domain
        return inScope(record, names: [domain]) ? [record] : []
    }

    /// A link's state as a notification gave it (up: up and with carrier); a link that flaps gets a line of its
    /// own every 10 s instead of one per change.
    public mutating func linkState(_ name: String, up: Bool, at time: Date) {
        flaps.record(name, up: up, at: time)
    }

    /// News about a source: "libvirt lost", "netlink overrun".
    public func source(_ subject: String, _ text: String, missed: Int? = nil, at time: Date) -> WatchRecord {
        var record = WatchRecord(time: time, kind: .source, subject: subject, text: text)
        record.missed = missed
        return record
    }

    /// What a flapping link did over the last 10 s, when that is due.
    public mutating func tick(at time: Date) -> [WatchRecord] {
        flaps.due(at: time).compactMap { summary in
            var record = WatchRecord(time: time, kind: .flapping, subject: summary.link, text: summary.text)
            record.count = summary.count
            record.seconds = summary.seconds
            return inScope(record, names: [summary.link]) ? record : nil
        }
    }

    /// The host read again: what changed since the last read, and the findings that appeared or cleared.
    /// - Parameter time: when the burst that led to this read began.
    public mutating func resynced(_ new: HostSnapshot, at time: Date) -> [WatchRecord] {
        let changes = HostChanges.between(snapshot, new).changes.filter { change in
            switch change.object {
            // The findings below say it with why and what to do.
            case .warning: false
            // A state libvirt already announced (with its reason), or a link that flaps (summarised).
            case .domain: !announced.contains(change.subject) && !(libvirtFollowed && change.isStateChange)
            case .link:
                !(change.isStateChange && flaps.anyFlapping(Self.words(of: change.subject)))
            case .host, .nic, .bridge, .network, .route, .fdb, .firewall, .ipset: true
            }
        }
        let newFindings = Diagnose.run(new)
        // A VM that went keeps its names: the lines about it going are in scope too.
        if let names = scope?(new) { scopeNames = names.union(scopeNames ?? []) }
        var records = changes.map { change in
            var record = WatchRecord(time: time, kind: .change, subject: change.subject, text: change.text)
            record.object = change.object
            record.change = change.kind
            record.field = change.field
            record.before = change.before
            record.after = change.after
            return record
        }
        .filter { inScope($0, names: Self.words(of: $0.text + " " + $0.subject)) }
        let key = { (finding: Finding) in "\(finding.code) \(finding.subject)" }
        let before = Set(findings.map(key))
        let after = Set(newFindings.map(key))
        let cleared = findings.filter { !after.contains(key($0)) }.map { (finding: $0, appeared: false) }
        let appeared = newFindings.filter { !before.contains(key($0)) }.map { (finding: $0, appeared: true) }
        for (finding, appearedNow) in appeared + cleared {
            let text =
                appearedNow
                ? "new \(finding.severity) [\(finding.code)] \(finding.message)"
                : "cleared [\(finding.code)] \(finding.message)"
            var record = WatchRecord(time: time, kind: .finding, subject: "\(finding.subject)", text: text)
            record.code = finding.code
            record.severity = finding.severity
            record.change = appearedNow ? .added : .removed
            if inScope(record, names: Set(finding.related)) { records.append(record) }
        }
        snapshot = new
        findings = newFindings
        announced = []
        return records
    }

    /// A record is shown when there is no scope, or when it mentions one of the scope's names.
    private func inScope(_ record: WatchRecord, names mentioned: Set<String>) -> Bool {
        guard let scopeNames else { return true }
        return !scopeNames.isDisjoint(with: mentioned)
    }

    /// The names a line mentions: its words, without the punctuation around them.
    static func words(of text: String) -> Set<String> {
        Set(text.split(whereSeparator: { " (),:;".contains($0) }).map(String.init))
    }
}

/// Counts each link's state changes. Four or more within 10 s is flapping: from then on one line every 10 s says
/// how many times it flapped, until a quiet 10 s ends it.
struct FlapCounter {
    static let window: TimeInterval = 10
    static let flapping = 4

    private var last: [String: Bool] = [:]
    private var recent: [String: [Date]] = [:]
    private var flappingSince: [String: (since: Date, count: Int)] = [:]

    struct Summary {
        var link: String
        var count: Int
        var seconds: Int
        var text: String
    }

    func anyFlapping(_ links: Set<String>) -> Bool { links.contains { flappingSince[$0] != nil } }

    mutating func record(_ link: String, up: Bool, at time: Date) {
        // A notification that repeats the state (a new address, a counter) is no change of state.
        guard let was = last.updateValue(up, forKey: link), was != up else { return }
        if var flap = flappingSince[link] {
            flap.count += 1
            flappingSince[link] = flap
            return
        }
        var times = (recent[link] ?? []).filter { time.timeIntervalSince($0) < Self.window }
        times.append(time)
        if times.count >= Self.flapping {
            flappingSince[link] = (times[0], times.count)
            recent[link] = nil
        } else {
            recent[link] = times
        }
    }

    mutating func due(at time: Date) -> [Summary] {
        var summaries: [Summary] = []
        for (link, flap) in flappingSince.sorted(by: { $0.key < $1.key })
        where time.timeIntervalSince(flap.since) >= Self.window {
            let seconds = Int(time.timeIntervalSince(flap.since).rounded())
            let state = last[link] == true ? "up" : "down"
            if flap.count == 0 {
                flappingSince[link] = nil
                summaries.append(
                    Summary(link: link, count: 0, seconds: seconds, text: "\(link) is steady again (\(state))"))
            } else {
                flappingSince[link] = (time, 0)
                summaries.append(
                    Summary(
                        link: link, count: flap.count, seconds: seconds,
                        text: "\(link) flapped \(flap.count) times in \(seconds) s (now \(state))"))
            }
        }
        return summaries
    }
}
