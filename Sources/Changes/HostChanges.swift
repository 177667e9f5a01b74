import Topology

/// One thing that differs between two dumps of a host, in the model's terms.
public struct Change: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case added, removed, changed }
    /// What changed: a VM, one of its NICs, a link, a bridge, a CloudStack network, a route, where a MAC is
    /// learned, a warning, a firewall table, chain or rule, an ipset, or the host's own settings.
    public enum Object: String, Codable, Sendable {
        case host, domain, nic, link, bridge, network, route, fdb, warning, firewall, ipset
    }

    public var kind: Kind
    public var object: Object
    /// "i-2-10-VM eth0", "eth1", "brvx-1001", "ip filter i-5-31-VM".
    public var subject: String
    /// The field that changed ("mtu", "master", "state"); nil when the object came or went.
    public var field: String?
    public var before: String?
    public var after: String?
    /// The change in one line: "i-2-11-VM eth0 (tap vnet4): left brvx-1001 (now on no bridge)".
    public var text: String

    /// The fields that say an object's state: a domain's libvirt state, a link's up or down and its carrier.
    static let stateField = "state", operStateField = "oper state"

    /// A domain's or a link's state changed (not what it is or where it is).
    public var isStateChange: Bool { field == Self.stateField || field == Self.operStateField }
}

/// What changed on one host between two dumps: VMs, NICs, links, bridges, networks, routes, FDB moves, warnings
/// and the firewall, leaving out what always changes (timers, ifindexes, dynamic FDB entries coming and going,
/// counters unless asked for). Pure: two dumps in, changes out.
public struct HostChanges: Codable, Equatable, Sendable {
    public var host: String
    /// The dumps' `collectedAt`.
    public var from: String
    public var to: String
    /// What could not be compared, and why (a source unread in one of the dumps, two different hosts).
    public var notes: [String]
    public var changes: [Change]

    /// - Parameter counters: also the firewall rules (and DROP policies) whose packet counters rose.
    public static func between(_ old: HostSnapshot, _ new: HostSnapshot, counters: Bool = false) -> HostChanges {
        var compare = Comparison(old: old, new: new)
        compare.host()
        if compare.bothRead(\.libvirt, "libvirt", what: "VMs and their NICs") { compare.domains() }
        if compare.bothRead(\.netlink, "netlink", what: "links, bridges and the FDB") {
            compare.links()
            compare.bridges()
            compare.forwarding()
        }
        compare.networks()
        compare.routes()
        compare.warnings()
        compare.firewall(counters: counters)
        return HostChanges(
            host: new.host.hostname, from: old.host.collectedAt, to: new.host.collectedAt, notes: compare.notes,
            changes: compare.changes)
    }
}

/// The walk over two snapshots, object kind by object kind.
struct Comparison {
    let old: HostSnapshot
    let new: HostSnapshot
    var notes: [String] = []
    var changes: [Change] = []

    init(old: HostSnapshot, new: HostSnapshot) {
        self.old = old
        self.new = new
        if old.host.hostname != new.host.hostname {
            notes.append(
                "the dumps are of two hosts (\(old.host.hostname), \(new.host.hostname)): compared as if one")
        }
    }

    mutating func add(
        _ kind: Change.Kind, _ object: Change.Object, _ subject: String, field: String? = nil,
        before: String? = nil, after: String? = nil, _ text: String
    ) {
        changes.append(
            Change(kind: kind, object: object, subject: subject, field: field, before: before, after: after, text: text)
        )
    }

    /// A field that differs: "subject: name before → after".
    mutating func field<Value: Equatable>(
        _ object: Change.Object, _ subject: String, _ name: String, _ before: Value?, _ after: Value?,
        _ show: (Value) -> String = { "\($0)" }
    ) {
        guard before != after else { return }
        let (was, now) = (before.map(show) ?? "none", after.map(show) ?? "none")
        add(.changed, object, subject, field: name, before: was, after: now, "\(subject): \(name) \(was) → \(now)")
    }

    /// What a list of names (addresses, members) lost and gained, each one line: `lost` and `gained` word it.
    mutating func names(
        _ object: Change.Object, _ subject: String, _ field: String, _ before: [String], _ after: [String],
        lost: (String) -> String, gained: (String) -> String
    ) {
        let (gone, came, _) = pair(before, after, by: { $0 })
        for name in gone { add(.removed, object, subject, field: field, before: name, lost(name)) }
        for name in came { add(.added, object, subject, field: field, after: name, gained(name)) }
    }

    /// Whether a source was read in both dumps; if not, a note says what is left uncompared.
    mutating func bothRead(_ source: KeyPath<Sources, SourceStatus>, _ name: String, what: String) -> Bool {
        let unread = [("older", old), ("newer", new)].filter { $0.1.host.sources[keyPath: source].status != .ok }
        guard unread.isEmpty else {
            notes.append(
                "\(name) was not read in the \(unread.map(\.0).joined(separator: " and ")) dump: \(what) "
                    + "not compared")
            return false
        }
        return true
    }

    mutating func host() {
        let (before, after) = (old.host, new.host)
        field(.host, "host", "kvmtopo", before.kvmtopoVersion, after.kvmtopoVersion)
        let switches = { (netfilter: BridgeNetfilter) in
            [("iptables", netfilter.iptables), ("ip6tables", netfilter.ip6tables), ("arptables", netfilter.arptables)]
        }
        if let was = before.bridgeNetfilter, let now = after.bridgeNetfilter {
            for ((name, on), (_, nowOn)) in zip(switches(was), switches(now)) {
                field(.host, "host", "bridge-nf-call-\(name)", on, nowOn) { $0 ? "1" : "0" }
            }
        }
        if let was = before.bridgeRoles, let now = after.bridgeRoles {
            field(.host, "host", "control bridge", was.control, now.control)
            field(.host, "host", "public bridge", was.public, now.public)
            field(.host, "host", "private bridge", was.private, now.private)
            field(.host, "host", "guest bridge", was.guest, now.guest)
        }
    }
}

/// Pairs two lists by a key: what is only in the first, only in the second, and in both (in the second's order).
func pair<Element, Key: Hashable>(
    _ old: [Element], _ new: [Element], by key: (Element) -> Key
)
    -> (removed: [Element], added: [Element], both: [(Element, Element)])
{
    let before = Dictionary(old.map { (key($0), $0) }, uniquingKeysWith: { first, _ in first })
    let after = Dictionary(new.map { (key($0), $0) }, uniquingKeysWith: { first, _ in first })
    return (
        old.filter { after[key($0)] == nil }, new.filter { before[key($0)] == nil },
        new.compactMap { element in before[key(element)].map { ($0, element) } }
    )
}
