import Firewall
import KernelDrops
import Packets

/// Puts one packet's sightings in path order (segment by segment: in at a port, out at the ports the bridge
/// forwards to, through a router to its other side, down an uplink to the NIC below), and marks where the
/// packet was expected next and never seen.
struct PathWalker {
    let plan: TracePlan
    var coverage = CaptureCoverage()

    struct Walked {
        var hops: [TracedPacket.Hop]
        var lost: Bool
        var outcome: String
        var first: UInt64

        func packet(number: Int, sightings: [Sighting]) -> TracedPacket {
            let head = sightings.min { $0.timestamp < $1.timestamp }!
            let decoded = PacketDecoder.decode(head.bytes, linkType: head.linkType).packet
            let shown = decoded.inner?.packet ?? decoded
            return TracedPacket(
                number: number, summary: shown.summary, source: shown.source,
                destination: shown.destination, length: head.keys.networkLength, firstSeen: first,
                hops: hops, outcome: outcome, lost: lost, reply: [], replyMissing: false)
        }
    }

    /// The first sighting at each (point, direction), with how many times it was seen there.
    private struct Seen {
        var sighting: Sighting
        var count: Int
        var key: Int { sighting.point * 2 + (sighting.outgoing ? 1 : 0) }
    }

    func walk(_ sightings: [Sighting], addresses: AddressBook, answered: Bool) -> Walked {
        var seen: [Int: Seen] = [:]
        for sighting in sightings {
            let key = sighting.point * 2 + (sighting.outgoing ? 1 : 0)
            if let earlier = seen[key] {
                seen[key]?.count += 1
                if sighting.timestamp < earlier.sighting.timestamp { seen[key]?.sighting = sighting }
            } else {
                seen[key] = Seen(sighting: sighting, count: 1)
            }
        }
        let all = seen.values.sorted { ($0.sighting.timestamp, $0.key) < ($1.sighting.timestamp, $1.key) }
        let first = all[0].sighting.timestamp
        var state = WalkState(
            plan: plan, coverage: coverage, first: first, addresses: addresses, answered: answered,
            head: all[0].sighting)

        let entries = all.filter { isEntry($0.sighting) }
        // What came into the host starts where it came in, even when it then passes through the traced router.
        let fromOutside = entries.first.flatMap { first in
            switch plan.points[first.sighting.point].role {
            case .physical, .uplink: first
            default: nil
            }
        }
        let entry =
            fromOutside
            ?? entries.first { plan.origins.contains($0.sighting.point) }
            ?? entries.first { if case .physical = plan.points[$0.sighting.point].role { true } else { false } }
            ?? entries.first ?? all[0]
        if entries.isEmpty {
            // Only seen leaving toward a device: the host itself sent it there (a tap's own neighbour discovery).
            all.forEach { state.append($0) }
            state.outcome = "sent by the host on \(plan.points[all[0].sighting.point].interface)"
        } else {
            state.start(entry: entry, seen: seen)
        }
        // Whatever the walk did not reach (flooded copies, a second way out) still shows, in time order.
        for other in all where !state.placed.contains(other.key) {
            state.append(other, note: "also seen", offPath: true)
        }
        return Walked(hops: state.hops, lost: state.lost, outcome: state.outcome ?? "seen", first: first)
    }

    private func isEntry(_ sighting: Sighting) -> Bool {
        switch plan.points[sighting.point].role {
        case .bridge: sighting.outgoing
        default: !sighting.outgoing
        }
    }

    /// The walk through the segments, hop by hop.
    private struct WalkState {
        let plan: TracePlan
        let coverage: CaptureCoverage
        let first: UInt64
        let addresses: AddressBook
        let answered: Bool
        let keys: FrameKeys
        /// The packet's first sighting, decoded when a firewall verdict is worked out.
        let head: Sighting
        var hops: [TracedPacket.Hop] = []
        var placed: Set<Int> = []
        var lost = false
        var outcome: String?
        var segments: Set<String> = []

        init(
            plan: TracePlan, coverage: CaptureCoverage, first: UInt64, addresses: AddressBook, answered: Bool,
            head: Sighting
        ) {
            self.plan = plan
            self.coverage = coverage
            self.first = first
            self.addresses = addresses
            self.answered = answered
            self.head = head
            keys = head.keys
        }

        mutating func start(entry: Seen, seen: [Int: Seen]) {
            let point = plan.points[entry.sighting.point]
            guard case .physical(let carries, _) = point.role else {
                segment(point.bridge, entry: entry, seen: seen)
                return
            }
            append(entry)
            let uplinks = seen.values.filter { value in
                !value.sighting.outgoing && carries.contains(plan.points[value.sighting.point].interface)
            }
            guard let uplink = uplinks.min(by: { $0.sighting.timestamp < $1.sighting.timestamp }) else {
                markLost(
                    at: nil, meaning: "uplink on \(point.interface)", note: "not decapsulated into any traced segment")
                return
            }
            segment(plan.points[uplink.sighting.point].bridge, entry: uplink, seen: seen)
        }

        /// One bridge: the port the packet came in at, then where the bridge sent it.
        mutating func segment(_ bridge: String?, entry: Seen, seen: [Int: Seen]) {
            append(entry)
            guard let bridge, segments.insert(bridge).inserted else { return }
            let exits = seen.values.filter { value in
                let point = plan.points[value.sighting.point]
                guard point.bridge == bridge, !placed.contains(value.key) else { return false }
                return point.role == .bridge ? !value.sighting.outgoing : value.sighting.outgoing
            }.sorted { $0.sighting.timestamp < $1.sighting.timestamp }
            let expected = expectedExit(bridge: bridge, entry: entry.sighting.point)
            // A unicast packet sent out of several ports was flooded: the bridge did not know where its
            // destination MAC lives, so where it did go says little; where it should have gone says more.
            let floodedUnicast = !keys.isFlooded && exits.count > 1
            let expectedSeen =
                expected.map { expected in exits.contains { $0.sighting.point == expected.point } } ?? false
            // A guess at where it should have gone is only reported when nothing else explains the path, or when
            // the topology says what is wrong there (a router tap that is down, a port not forwarding).
            if !keys.isFlooded, let expected, !expectedSeen,
                exits.isEmpty || expected.certain || floodedUnicast || problem(at: expected.point) != nil
            {
                let verdict =
                    problem(at: expected.point) == nil && notTaken(at: entry.sighting.point) == nil
                    ? firewallVerdict(entry: entry.sighting.point, exit: expected.point) : nil
                markLost(
                    at: expected.point,
                    note: verdict.map { dropped($0, entry: entry.sighting.point, exit: expected.point) }
                        ?? reason(expected.point, bridge: bridge, entry: entry.sighting.point),
                    firewallVerdict: verdict,
                    kernelSites: kernelSites(at: expected.point, entry: entry.sighting.point))
            } else if exits.isEmpty {
                markLost(
                    at: nil, meaning: bridge, interface: bridge,
                    note: notTaken(at: entry.sighting.point)
                        ?? "not forwarded by \(bridge) within the timeout" + filterHint(entry.sighting.point, nil))
            }
            for exit in exits {
                let stray = floodedUnicast && (expectedSeen ? exit.sighting.point != expected?.point : true)
                follow(exit, seen: seen, note: stray ? "flooded: \(bridge) does not know the destination MAC" : nil)
            }
        }

        /// After a bridge sent the packet to a port: the router behind it, the NIC under an uplink, or the end.
        /// A flooded copy (`note`) is shown as far as it went but is not where the packet was going.
        mutating func follow(_ exit: Seen, seen: [Int: Seen], note: String?) {
            append(exit, note: note)
            let stray = note != nil
            let point = plan.points[exit.sighting.point]
            let end = { (self: inout WalkState, text: String) in if !stray { self.outcome = self.outcome ?? text } }
            switch point.role {
            case .nic(let router, _, true)
            where !keys.isFlooded && keys.source != nil && keys.arpSender == nil && !stray:
                let leaving = seen.values.filter { value in
                    plan.points[value.sighting.point].domain == router && value.sighting.point != exit.sighting.point
                        && !value.sighting.outgoing && !placed.contains(value.key)
                }.min { $0.sighting.timestamp < $1.sighting.timestamp }
                if let leaving {
                    let inside = Int64(bitPattern: leaving.sighting.timestamp &- exit.sighting.timestamp)
                    var routed = TracedPacket.Hop(
                        kind: .router, interface: nil, meaning: "routed by \(router)",
                        direction: nil, state: .seen, offset: offset(leaving.sighting),
                        note: "\(formatNanoseconds(inside)) inside"
                            + changes(exit.sighting, leaving.sighting))
                    routed.domain = router
                    hops.append(routed)
                    segment(plan.points[leaving.sighting.point].bridge, entry: leaving, seen: seen)
                } else if addresses.owner(of: keys.destination).map({ plan.points[$0].domain == router }) == true {
                    end(&self, "delivered to \(router)")
                } else if let (exit, problem) = brokenExit(of: router, entry: exit.sighting.point) {
                    // The cause is on the host: the router's way out toward the destination is not working.
                    let nic = if case .nic(_, let index, _) = plan.points[exit].role { " by eth\(index)" } else { "" }
                    markLost(
                        at: exit, direction: .in, note: "not seen leaving \(router)\(nic): \(problem)",
                        kernelSites: kernelSites(at: exit, entry: nil))
                } else if !exitsCaptured(of: router, entry: exit.sighting.point, at: exit.sighting.timestamp) {
                    var unseen = TracedPacket.Hop(
                        kind: .router, interface: nil, meaning: "routed by \(router)", direction: nil,
                        state: .uncaptured, offset: nil,
                        note: "none of \(router)'s other NICs was captured at the time")
                    unseen.domain = router
                    hops.append(unseen)
                    end(&self, "not captured beyond \(router)")
                } else if answered {
                    end(&self, "delivered to \(router)")
                } else {
                    var lostInside = TracedPacket.Hop(
                        kind: .router, interface: nil, meaning: "routed by \(router)",
                        direction: nil, state: .lost, offset: nil,
                        note: "not seen leaving \(router) within the timeout (its routes, firewall or NAT)")
                    lostInside.domain = router
                    hops.append(lostInside)
                    lost = true
                    end(&self, "lost in \(router)")
                }
            case .uplink:
                guard
                    let physical = plan.points.firstIndex(where: { candidate in
                        if case .physical(let carries, _) = candidate.role {
                            carries.contains(point.interface)
                        } else {
                            false
                        }
                    })
                else {
                    end(&self, "left the host on \(point.interface)")
                    return
                }
                if let below = seen[physical * 2 + 1] {
                    append(below, note: note)
                    end(&self, "left the host on \(plan.points[physical].interface)")
                } else if !stray {
                    markLost(
                        at: physical, note: reason(physical, bridge: nil),
                        kernelSites: kernelSites(at: physical, entry: nil))
                }
            case .nic(let domain, let index, _):
                end(&self, "delivered to \(domain) eth\(index)")
            case .bridge:
                end(&self, "delivered to the host (\(point.interface))")
            case .port, .physical:
                end(&self, "sent on \(point.interface)")
            }
        }

        /// Where a bridge should send the packet: to the NIC that owns the destination when known, else to the
        /// network's router, else out of the uplink. `certain` when the destination's owner is known.
        func expectedExit(bridge: String, entry: Int) -> (point: Int, certain: Bool)? {
            if let owner = addresses.owner(of: keys.destination), owner != entry, plan.points[owner].bridge == bridge {
                return (owner, true)
            }
            let entryDomain = plan.points[entry].domain
            if let router = plan.points.indices.first(where: {
                plan.points[$0].bridge == bridge && plan.points[$0].isRouterNIC && plan.points[$0].domain != entryDomain
            }) {
                return (router, false)
            }
            return plan.points.indices.first { plan.points[$0].bridge == bridge && plan.points[$0].role == .uplink }
                .map { ($0, false) }
        }

        /// Whether any other NIC of the router was being captured at `time` (a replay of per-interface captures
        /// may not have had one).
        func exitsCaptured(of router: String, entry: Int, at time: UInt64) -> Bool {
            exits(of: router, entry: entry).contains { coverage.covers(plan.points[$0].interface, at: time) }
        }

        /// The router's NICs other than the one the packet came in by.
        func exits(of router: String, entry: Int) -> [Int] {
            plan.points.indices.filter { plan.points[$0].domain == router && $0 != entry }
        }

        /// The router NIC a packet should have left by, when the host side of it is what is wrong (tap down, not
        /// forwarding, MTU): the NIC on the destination's segment (by its address, learned from the traffic), else
        /// the router's only other NIC with such a problem.
        func brokenExit(of router: String, entry: Int) -> (Int, String)? {
            let exits = exits(of: router, entry: entry)
            if let owner = addresses.owner(of: keys.destination), let bridge = plan.points[owner].bridge {
                return exits.first { plan.points[$0].bridge == bridge }.flatMap { exit in
                    problem(at: exit).map { (exit, $0) }
                }
            }
            let broken = exits.compactMap { exit in problem(at: exit).map { (exit, $0) } }
            return broken.count == 1 ? broken[0] : nil
        }

        /// What the topology says about a point where a packet vanished.
        func reason(_ index: Int, bridge: String?, entry: Int? = nil) -> String {
            problem(at: index) ?? entry.flatMap(notTaken(at:))
                ?? bridge.map { "not forwarded by \($0) within the timeout" + filterHint(entry, index) }
                ?? "not seen within the timeout"
        }

        /// Where a bridge may have dropped it: the security group of the VM it was going to, or of the one it
        /// came from, when their bridge enforces them; else a filter rule of the host's.
        func filterHint(_ entry: Int?, _ exit: Int?) -> String {
            for index in [exit, entry].compactMap({ $0 }) {
                let point = plan.points[index]
                guard let chain = point.securityGroup, let domain = point.domain else { continue }
                return " (dropped by \(domain)'s security group? its chain \(chain): kvmtopo show vm \(domain))"
            }
            return Self.filterHint
        }

        /// What is wrong at a point for this packet, as far as the topology tells: down, not forwarding, MTU.
        func problem(at index: Int) -> String? {
            let point = plan.points[index]
            if !point.up { return "\(point.interface) is down" }
            if let state = point.portState { return "bridge port \(point.interface) is \(state), not forwarding" }
            if case .physical(_, let overhead?) = point.role, keys.networkLength + overhead > point.mtu {
                return "\(keys.networkLength)-byte packet needs MTU \(keys.networkLength + overhead) on the underlay; "
                    + "\(point.interface) has \(point.mtu)"
            }
            if keys.networkLength > point.mtu {
                return "\(keys.networkLength)-byte packet is larger than \(point.interface)'s MTU \(point.mtu)"
            }
            return nil
        }

        /// Where the kernel drops the packet when the topology says what is wrong: nowhere for a device that is
        /// down (a frame for it is flooded or never made), in the bridge for a port STP holds or an MTU too small,
        /// in the VXLAN device or the underlay when the underlay's MTU is; nil when the topology says nothing.
        func kernelSites(at index: Int, entry: Int?) -> Set<KernelDrop.Site>? {
            let point = plan.points[index]
            if !point.up { return [] }
            if point.portState != nil || entry.flatMap(notTaken(at:)) != nil { return [.bridge] }
            if case .physical(_, let overhead?) = point.role, keys.networkLength + overhead > point.mtu {
                return [.vxlan, .routing]
            }
            return keys.networkLength > point.mtu ? [.bridge, .tap] : nil
        }

        /// Why the bridge would not take in what arrived at a port: STP holds the port (listening, learning,
        /// blocking), so the bridge drops on ingress whatever the port brings.
        func notTaken(at entry: Int) -> String? {
            let point = plan.points[entry]
            guard let state = point.portState, state.withholdsFrames, let bridge = point.bridge else { return nil }
            return "bridge port \(point.interface) is \(state), not forwarding: \(bridge) drops what comes in on it"
        }

        static let filterHint = " (a bridge filter rule? see nft list ruleset, ebtables -L)"

        /// What the host's firewall does with this packet on its way from `entry` to `exit` across their
        /// bridge, when it drops it; nil when it lets it through, or when there is no firewall to ask.
        func firewallVerdict(entry: Int, exit: Int) -> FirewallDecision? {
            let from = plan.points[entry]
            let to = plan.points[exit]
            // Sent or received by the host itself, it does not cross the bridge's forward path.
            guard let walk = plan.firewall, let bridge = from.bridge, from.role != .bridge, to.role != .bridge else {
                return nil
            }
            let (cooked, packet) = PacketDecoder.decode(head.bytes, linkType: head.linkType)
            let crossing = FirewallWalk.Crossing(
                bridge: bridge, inPort: from.interface, outPort: to.interface,
                meetsIptables: plan.iptablesBridges.contains(bridge), sourceMAC: cooked?.sourceMAC,
                destinationMAC: plan.guestMACs[exit].map { mac in
                    Format.mac((0..<6).map { UInt8(truncatingIfNeeded: mac >> (40 - 8 * $0)) })
                })
            let decision = walk.decide(packet, crossing: crossing)
            return decision.verdict == .drop ? decision : nil
        }

        /// A firewall drop in the operator's words: whose rules, which chain and rule, and how sure.
        func dropped(_ decision: FirewallDecision, entry: Int, exit: Int) -> String {
            let chain = decision.chain ?? "?"
            let place = [decision.family?.rawValue, decision.table].compactMap { $0 }.joined(separator: " ")
            // The VM whose chains decided, as CloudStack's model found them: its security group's, or its
            // anti-spoofing chains in ebtables.
            let owner = [exit, entry].lazy.compactMap { index -> String? in
                let point = plan.points[index]
                guard let domain = point.domain else { return nil }
                if decision.path.contains(where: point.antiSpoofingChains.contains) {
                    return "\(domain)'s anti-spoofing rules (ebtables)"
                }
                return decision.path.contains(where: point.securityGroupChains.contains)
                    ? "\(domain)'s security group" : nil
            }.first
            let who = owner ?? "the firewall (\(place))"
            let what: String
            if let rule = decision.rule, let handle = decision.handle {
                what =
                    decision.unconditional == true
                    ? "no rule in chain \(chain) lets it through (its final \(rule), rule \(handle))"
                    : "chain \(chain) rule \(handle): \(rule)"
            } else {
                what = "chain \(chain)'s policy DROP"
            }
            let sure =
                switch decision.certainty {
                case .certain: ""
                case .assumed: "; assuming " + (decision.assumptions ?? []).joined(separator: ", ")
                case .uncertain: "; uncertain: " + (decision.assumptions ?? []).joined(separator: "; ")
                }
            return "dropped by \(who): \(what)\(sure)"
        }

        /// - Parameters:
        ///   - direction: how it was expected there; by default out of a port toward a device, into a bridge device.
        ///   - kernelSites: where the kernel could have dropped it, when the topology tells (by default, where its
        ///     hop is: across a bridge, or in the underlay).
        mutating func markLost(
            at index: Int?, meaning: String? = nil, interface: String? = nil,
            direction: TracedPacket.Hop.Direction? = nil, note: String, firewallVerdict: FirewallDecision? = nil,
            kernelSites: Set<KernelDrop.Site>? = nil
        ) {
            let point = index.map { plan.points[$0] }
            // Expected about when it was last seen: a replay that was not capturing there then cannot tell.
            let expected = first.saturatingAdd(UInt64(max(0, hops.compactMap(\.offset).max() ?? 0)))
            let blind = index.map { plan.tooShortToSee.contains($0) } ?? false
            let captured = !blind && (point.map { coverage.covers($0.interface, at: expected) } ?? true)
            var hop = TracedPacket.Hop(
                interface: point?.interface ?? interface, meaning: point?.meaning ?? meaning ?? "?",
                direction: direction ?? point.map { $0.role == .bridge ? .in : .out },
                state: captured ? .lost : .uncaptured, offset: nil,
                note: captured
                    ? note
                    : blind
                        ? "not judged: the snap length keeps too little of the packet here"
                        : "not captured there at the time (no capture of it covers that moment)")
            hop.domain = point?.domain
            if captured {
                hop.firewallVerdict = firewallVerdict
                hop.lostAfter = KernelDropMatch.Moment(
                    time: expected, etherTypes: etherTypes(at: point),
                    sites: firewallVerdict != nil
                        ? [.firewall]
                        : kernelSites
                            ?? (point?.isPhysical == true
                                ? KernelDropMatch.underlaySites : KernelDropMatch.bridgeSites))
            }
            hops.append(hop)
            let place = point.map { "\($0.interface) (\($0.meaning))" } ?? meaning ?? "?"
            if captured {
                lost = true
                outcome = outcome ?? "lost at \(place)"
            } else {
                outcome = outcome ?? "not captured beyond \(place)"
            }
        }

        /// The EtherTypes the kernel holds this packet as at `point`; below an uplink, any (encapsulated or
        /// tagged).
        func etherTypes(at point: CapturePoint?) -> [UInt16]? {
            if point?.isPhysical == true { return nil }
            if keys.arpSender != nil { return [0x0806] }
            return keys.source.map { $0.isIPv6 ? [0x86dd] : [0x0800] }
        }

        mutating func append(_ seen: Seen, note: String? = nil, offPath: Bool = false) {
            guard placed.insert(seen.key).inserted else { return }
            let point = plan.points[seen.sighting.point]
            var hop = TracedPacket.Hop(
                interface: point.interface, meaning: point.meaning,
                direction: seen.sighting.outgoing ? .out : .in, state: .seen,
                offset: offset(seen.sighting), note: note, count: seen.count)
            hop.domain = point.domain
            hop.offPath = offPath
            hops.append(hop)
        }

        func offset(_ sighting: Sighting) -> Int64 { Int64(bitPattern: sighting.timestamp &- first) }

        /// What a router changed: the TTL always, the addresses (and ports) when it translates (NAT).
        func changes(_ before: Sighting, _ after: Sighting) -> String {
            let (old, new) = (before.keys, after.keys)
            var notes: [String] = []
            if let from = old.hopLimit, let to = new.hopLimit { notes.append("ttl \(from)→\(to)") }
            let text = { (address: IPAddress?) in address?.description ?? "?" }
            if old.source != new.source { notes.append("NAT source \(text(old.source))→\(text(new.source))") }
            if old.destination != new.destination {
                notes.append("NAT destination \(text(old.destination))→\(text(new.destination))")
            }
            if let from = old.ports, let to = new.ports, from != to {
                notes.append("ports \(from.source):\(from.destination)→\(to.source):\(to.destination)")
            }
            return notes.isEmpty ? "" : ", " + notes.joined(separator: ", ")
        }
    }
}

/// A delay as people read it: 850 ns, 14.2 µs, 3.10 ms, 1.20 s (three significant digits).
public func formatNanoseconds(_ nanoseconds: Int64) -> String {
    let sign = nanoseconds < 0 ? "-" : ""
    let value = Double(nanoseconds.magnitude)
    let (scaled, unit): (Double, String) =
        switch value {
        case ..<1_000: (value, "ns")
        case ..<1_000_000: (value / 1_000, "µs")
        case ..<1_000_000_000: (value / 1_000_000, "ms")
        default: (value / 1_000_000_000, "s")
        }
    guard unit != "ns" else { return "\(sign)\(Int(value)) ns" }
    let digits = scaled < 10 ? 2 : scaled < 100 ? 1 : 0
    let factor = digits == 2 ? 100 : digits == 1 ? 10 : 1
    let rounded = Int((scaled * Double(factor)).rounded())
    let fraction = String(rounded % factor)
    let number =
        digits == 0
        ? "\(rounded)" : "\(rounded / factor)." + String(repeating: "0", count: digits - fraction.count) + fraction
    return "\(sign)\(number) \(unit)"
}
