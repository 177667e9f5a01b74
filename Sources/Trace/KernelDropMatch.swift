import KernelDrops

/// A packet lost at a hop, matched with what the kernel freed as dropped about then (`skb:kfree_skb`). The record
/// names no interface and carries no bytes: the match is by time (after the packet's last sighting, within the
/// timeout), EtherType and the part of the kernel that freed it (a bridge hop is lost in the bridge, the firewall,
/// a tap or a VXLAN device, never in a socket). When the drops in that time are not all of one kind, the nearest
/// is given and the match is uncertain.
public enum KernelDropMatch {
    public enum Certainty: String, Codable, Sendable, CaseIterable {
        /// Every kernel drop that could be it, in that time, is of this one kind.
        case certain
        /// Drops of several kinds could be it: the one nearest in time is given.
        case uncertain
    }

    /// When the packet was last seen before the hop it was lost at, the EtherTypes the kernel would hold it as
    /// there (nil: any), and the parts of the kernel that could have dropped it there (none: the kernel frees
    /// nothing, as for a tap that is down).
    public struct Moment: Sendable, Equatable {
        var time: UInt64
        var etherTypes: [UInt16]?
        var sites: Set<KernelDrop.Site>
    }

    /// Sightings and the tracepoint are stamped by different code paths: a drop may be recorded just before the
    /// capture's timestamp of the last sighting.
    static let slack: UInt64 = 1_000_000
    /// How close to the last sighting a drop on the way through the host is: the same softirq (measured: 40 to
    /// 110 microseconds).
    static let near: UInt64 = 1_000_000

    /// On the way across a bridge.
    static let bridgeSites: Set<KernelDrop.Site> = [.bridge, .firewall, .tap, .vxlan, .queue]
    /// Below an uplink: the underlay's routing and neighbours too.
    static let underlaySites: Set<KernelDrop.Site> = [.vxlan, .routing, .neighbour, .queue, .firewall, .other]
    /// Sites that hold a packet before freeing it (a neighbour that never answers, a queue): their drops come
    /// late, and are given (as uncertain) when nothing came at once.
    static let holdingSites: Set<KernelDrop.Site> = [.neighbour, .queue]
}

extension TracedPacket {
    /// The packet (and its reply) with each lost hop matched with the kernel's drops: `drops(from, to)` gives
    /// those the kernel recorded between two times; `timeout` is how long the packet was waited for.
    public func explainingKernelDrops(timeout: UInt64, _ drops: (UInt64, UInt64) -> [KernelDrop]) -> TracedPacket {
        var packet = self
        for index in packet.hops.indices where packet.hops[index].state == .lost {
            guard let moment = packet.hops[index].lostAfter else { continue }
            guard !moment.sites.isEmpty else { continue }
            let candidates = drops(moment.time &- KernelDropMatch.slack, moment.time &+ timeout).filter { drop in
                (moment.etherTypes?.contains(drop.etherType) ?? true) && moment.sites.contains(drop.site)
            }
            packet.hops[index].explain(by: candidates, after: moment.time)
        }
        packet.reply = packet.reply.map { $0.explainingKernelDrops(timeout: timeout, drops) }
        return packet
    }
}

extension TracedPacket.Hop {
    fileprivate mutating func explain(by candidates: [KernelDrop], after time: UInt64) {
        let distance = { (drop: KernelDrop) in drop.time > time ? drop.time - time : time - drop.time }
        // A drop on the way through the host comes within microseconds of the last sighting; only a site that
        // holds packets (a neighbour that never answered, a queue) frees one later.
        let near = candidates.filter { distance($0) <= KernelDropMatch.near }
        let rivals = near.isEmpty ? candidates.filter { KernelDropMatch.holdingSites.contains($0.site) } : near
        guard let nearest = rivals.min(by: { distance($0) < distance($1) }) else {
            addNote("the kernel recorded no drop of it (skb:kfree_skb)")
            return
        }
        let kinds = Set(rivals.map(\.kind))
        dropReason = nearest.reason
        dropLocation = nearest.location?.description
        dropFunction = nearest.location?.function
        dropMeaning = nearest.meaning
        dropCertainty = kinds.count == 1 && !near.isEmpty ? .certain : .uncertain
        let what = (nearest.reason?.rawValue ?? "dropped") + (nearest.location.map { " in \($0.function)" } ?? "")
        let doubt =
            dropCertainty == .certain
            ? ""
            : kinds.count > 1
                ? " (uncertain: \(rivals.count) drops of \(kinds.count) kinds then)"
                : " (uncertain: \(formatNanoseconds(Int64(distance(nearest)))) after it was last seen)"
        addNote("the kernel: \(what)" + (nearest.meaning.map { ", \($0)" } ?? "") + doubt)
    }
}
