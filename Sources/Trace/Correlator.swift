import Packets

/// Lines up the sightings of one packet at every capture point, whatever order they arrive in: sightings join
/// by what stays the same along the way (the packet key: bridges and routers; the translated key: NAT on a
/// public side), replies join their request, and a packet is written out once it has reached the end of its
/// path and gone quiet, or once `timeout` has passed without it reaching the next hop (which is then lost).
/// Nothing is kept longer than that, so memory follows the packet rate, not the length of the trace.
public final class Correlator {
    public let plan: TracePlan
    let timeout: UInt64
    /// How long a finished-looking packet waits for late sightings (a router stamps its side later).
    let grace: UInt64
    /// Open packets beyond this are written out early (their missing hops marked lost).
    let capacity: Int

    private var clusters: [Int: Cluster] = [:]
    private var byPacket: [UInt64: Int] = [:]
    private var byTranslated: [UInt64: Int] = [:]
    private var awaitingReply: [UInt64: Int] = [:]
    /// When to look at a cluster again; appended in time order, so a queue.
    private var due: [(id: Int, time: UInt64)] = []
    private var dueHead = 0
    private var nextID = 0
    private var emitted = 0
    var addresses: AddressBook
    private var walker: PathWalker

    /// Packets seen only where the traced VM's traffic could pass, never at the VM: not its traffic.
    public private(set) var unrelated = 0
    /// Packets written out early because `capacity` open packets were reached.
    public private(set) var evicted = 0

    public init(plan: TracePlan, timeoutNanoseconds: UInt64, capacity: Int = 50_000) {
        self.plan = plan
        timeout = timeoutNanoseconds
        grace = min(timeoutNanoseconds, 50_000_000)
        self.capacity = capacity
        walker = PathWalker(plan: plan)
        addresses = AddressBook(owners: plan.knownAddresses)
    }

    public var openPackets: Int { clusters.count }

    /// The domain whose NIC an address was seen behind during this trace.
    public func domain(owning address: String?) -> String? {
        addresses.owner(of: address.flatMap(IPAddress.init)).flatMap { plan.points[$0].domain }
    }

    public func add(_ sighting: Sighting) {
        addresses.learn(from: sighting, plan: plan)
        let point = plan.points[sighting.point]
        var id = byPacket[sighting.keys.packet]
        if id == nil, let translated = sighting.keys.translated, let candidate = byTranslated[translated],
            point.networkKind == .public || clusters[candidate]?.publicSide == true
        {
            id = candidate
        }
        // The same bytes at the same place again are a new packet (ARP asked every second, a retransmission).
        if let existing = id, let cluster = clusters[existing],
            cluster.sightings.contains(where: { $0.point == sighting.point && $0.outgoing == sighting.outgoing })
        {
            id = nil
        }
        let cluster: Cluster
        if let id, let existing = clusters[id] {
            cluster = existing
        } else {
            cluster = Cluster(id: nextID, first: sighting.timestamp)
            nextID += 1
            clusters[cluster.id] = cluster
            if let answers = sighting.keys.answers, let requestID = awaitingReply[answers],
                let request = clusters[requestID], request.replyID == nil
            {
                request.replyID = cluster.id
                cluster.requestID = requestID
                cluster.isError = sighting.keys.answersWithError
                awaitingReply[answers] = nil
            }
        }
        cluster.sightings.append(sighting)
        cluster.last = max(cluster.last, sighting.timestamp)
        cluster.publicSide = cluster.publicSide || point.networkKind == .public
        byPacket[sighting.keys.packet] = cluster.id
        // NAT happens in routers: only what goes into or comes out of one needs finding by its translated key.
        if let translated = sighting.keys.translated, point.isRouterNIC || point.networkKind == .public {
            byTranslated[translated] = cluster.id
        }
        // The traced VM's traffic: seen at its taps, or coming into the host for one of its addresses (and perhaps
        // lost on the way to it).
        let fromOutside = !sighting.outgoing && (point.role == .uplink || point.isPhysical)
        let toOrigin =
            fromOutside && (addresses.owner(of: sighting.keys.destination).map(plan.origins.contains) ?? false)
        if plan.origins.contains(sighting.point) || toOrigin, !cluster.touchesOrigin {
            cluster.touchesOrigin = true
            if cluster.requestID == nil, let expects = sighting.keys.expectsReply {
                cluster.expectsReply = expects
                awaitingReply[expects] = cluster.id
            }
        }
        due.append((cluster.id, cluster.last.saturatingAdd(grace)))
    }

    /// Where and when a replay captured: hops expected elsewhere are not captured, not lost.
    public func judge(by coverage: CaptureCoverage) { walker.coverage = coverage }

    /// The packets that are done by `now` (nanoseconds since the epoch, the capture's clock).
    public func advance(to now: UInt64) -> [TracedPacket] {
        var done: [TracedPacket] = []
        while dueHead < due.count, due[dueHead].time <= now || clusters.count > capacity {
            let (id, time) = due[dueHead]
            dueHead += 1
            let forced = time > now
            guard let cluster = clusters[id], forced || time >= cluster.last.saturatingAdd(grace) else { continue }
            if forced { evicted += 1 }
            if let packet = settle(cluster, now: forced ? UInt64.max : now) { done.append(packet) }
        }
        if dueHead > 4096, dueHead * 2 > due.count {
            due.removeFirst(dueHead)
            dueHead = 0
        }
        return done
    }

    /// Everything still open, written out as it stands (end of a capture file, Ctrl-C).
    public func finish() -> [TracedPacket] {
        let open = clusters.values.sorted { $0.first < $1.first }
        return open.compactMap { clusters[$0.id] == nil ? nil : settle($0, now: UInt64.max) }
    }

    /// Writes a cluster out, drops it, or schedules another look.
    private func settle(_ cluster: Cluster, now: UInt64) -> TracedPacket? {
        if let requestID = cluster.requestID, let request = clusters[requestID] {
            // A reply is written with its request; let the request look again now.
            due.append((request.id, now == UInt64.max ? request.last : max(request.last.saturatingAdd(grace), now)))
            if now == UInt64.max { return settle(request, now: now) }
            return nil
        }
        let expired = now >= cluster.last.saturatingAdd(timeout)
        guard cluster.touchesOrigin || cluster.requestID != nil else {
            if expired {
                remove(cluster)
                unrelated += 1
            } else {
                due.append((cluster.id, cluster.last.saturatingAdd(timeout)))
            }
            return nil
        }
        let reply = cluster.replyID.flatMap { clusters[$0] }
        // Still waiting for a reply, and there is time: no need to walk the path yet.
        if cluster.expectsReply != nil, reply == nil, !expired {
            due.append((cluster.id, cluster.last.saturatingAdd(timeout)))
            return nil
        }
        let walked = walker.walk(cluster.sightings, addresses: addresses, answered: reply.map { !$0.isError } ?? false)
        let replyWalked = reply.map { walker.walk($0.sightings, addresses: addresses, answered: false) }
        let waitingForReply = cluster.expectsReply != nil && reply == nil
        let replyDone =
            reply.map {
                now >= $0.last.saturatingAdd(grace) && (!replyWalked!.lost || now >= $0.last.saturatingAdd(timeout))
            } ?? true
        let finished = !walked.lost && !waitingForReply && replyDone
        guard finished || (expired && (reply.map { now >= $0.last.saturatingAdd(timeout) } ?? true)) else {
            let next =
                [
                    cluster.last.saturatingAdd(timeout), reply.map { $0.last.saturatingAdd(grace) } ?? UInt64.max,
                    reply.map { $0.last.saturatingAdd(timeout) } ?? UInt64.max,
                ]
                .filter { $0 > now }.min() ?? now
            due.append((cluster.id, next))
            return nil
        }
        emitted += 1
        var packet = walked.packet(number: emitted, sightings: cluster.sightings)
        if let reply, let replyWalked {
            packet.reply = [replyWalked.packet(number: emitted, sightings: reply.sightings)]
            if reply.isError, let lost = packet.hops.firstIndex(where: { $0.state == .lost }) {
                packet.hops[lost].addNote(errorNote(reply))
            }
            remove(reply)
        }
        packet.replyMissing = waitingForReply
        remove(cluster)
        return packet
    }

    /// What the ICMP error that came back instead of a reply says, and where it was first seen (a VXLAN device
    /// answers "fragmentation needed" itself, in the destination's name).
    private func errorNote(_ reply: Cluster) -> String {
        let head = reply.sightings.min { $0.timestamp < $1.timestamp }!
        let icmp = PacketDecoder.decode(head.bytes, linkType: head.linkType).packet.icmp
        let said = icmp.map { [$0.name, $0.detail.map { "(\($0))" }].compactMap { $0 }.joined(separator: " ") }
        return "an ICMP error came back instead: \(said ?? "?"), first seen at \(plan.points[head.point].interface)"
    }

    private func remove(_ cluster: Cluster) {
        clusters[cluster.id] = nil
        for sighting in cluster.sightings {
            if byPacket[sighting.keys.packet] == cluster.id { byPacket[sighting.keys.packet] = nil }
            if let translated = sighting.keys.translated, byTranslated[translated] == cluster.id {
                byTranslated[translated] = nil
            }
        }
        if let expects = cluster.expectsReply, awaitingReply[expects] == cluster.id { awaitingReply[expects] = nil }
    }
}

/// The sightings of one packet so far.
final class Cluster {
    let id: Int
    var sightings: [Sighting] = []
    let first: UInt64
    var last: UInt64
    var touchesOrigin = false
    var publicSide = false
    var expectsReply: UInt64?
    var replyID: Int?
    var requestID: Int?
    /// This cluster answers its request with an ICMP error.
    var isError = false

    init(id: Int, first: UInt64) {
        self.id = id
        self.first = first
        last = first
    }
}

/// Which capture point an IP address lives behind, learned as the trace runs: from ARP, and from the source
/// address of what a guest (not a router: it forwards others' packets) sends. Bounded: forgets all at a limit.
struct AddressBook {
    private(set) var owners: [IPAddress: Int]
    static let limit = 65_536

    mutating func learn(from sighting: Sighting, plan: TracePlan) {
        guard !sighting.outgoing, case .nic(_, _, let isRouter) = plan.points[sighting.point].role else { return }
        if owners.count >= Self.limit { owners.removeAll(keepingCapacity: true) }
        if let sender = sighting.keys.arpSender, sender.ip.low != 0 {
            owners[sender.ip] = sighting.point
        } else if !isRouter, let source = sighting.keys.source, !sighting.keys.isFlooded,
            source.low != 0 || source.high != 0
        {
            owners[source] = sighting.point
        }
    }

    func owner(of address: IPAddress?) -> Int? { address.flatMap { owners[$0] } }
}

extension UInt64 {
    /// A capture's timestamps are input: near the top of the range a deadline saturates, never wraps or traps.
    public func saturatingAdd(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}
