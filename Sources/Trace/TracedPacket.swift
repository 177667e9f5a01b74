import Firewall
import KernelDrops
import Packets

/// One frame seen at one capture point.
public struct Sighting: Sendable {
    public var point: Int
    public var outgoing: Bool
    /// Nanoseconds since the epoch.
    public var timestamp: UInt64
    public var bytes: [UInt8]
    public var originalLength: Int
    public var linkType: LinkType
    public var keys: FrameKeys

    public init(point: Int, timestamp: UInt64, bytes: [UInt8], originalLength: Int, linkType: LinkType, keys: FrameKeys)
    {
        self.point = point
        outgoing = keys.outgoing
        self.timestamp = timestamp
        self.bytes = bytes
        self.originalLength = originalLength
        self.linkType = linkType
        self.keys = keys
    }
}

/// One packet followed through the host: where it was seen, in path order, and where it was expected but not.
public struct TracedPacket: Codable, Sendable, Equatable {
    public var number: Int
    /// "ICMP echo request 10.0.1.10 > 10.0.2.10 id 245 seq 3".
    public var summary: String
    public var source: String?
    public var destination: String?
    /// Bytes of the network layer as sent.
    public var length: Int
    /// Nanoseconds since the epoch of the first sighting; hop offsets count from here.
    public var firstSeen: UInt64
    public var hops: [Hop]
    /// Where it ended: "delivered to i-3-21-VM eth0", "left the host on eth2", "lost at vnet0 (r-4-VM eth0)".
    public var outcome: String
    public var lost: Bool
    /// The answer to this packet (echo reply, ARP reply, the other direction of the flow), followed the same way.
    public var reply: [TracedPacket]
    /// For a request that expects an answer: whether one came within the timeout.
    public var replyMissing: Bool

    public init(
        number: Int, summary: String, source: String?, destination: String?, length: Int, firstSeen: UInt64,
        hops: [Hop], outcome: String, lost: Bool, reply: [TracedPacket], replyMissing: Bool
    ) {
        self.number = number
        self.summary = summary
        self.source = source
        self.destination = destination
        self.length = length
        self.firstSeen = firstSeen
        self.hops = hops
        self.outcome = outcome
        self.lost = lost
        self.reply = reply
        self.replyMissing = replyMissing
    }

    enum CodingKeys: String, CodingKey {
        case number, summary, source, destination, length, hops, outcome, lost, reply, replyMissing
        case firstSeen = "firstSeenNanoseconds"
    }

    public struct Hop: Codable, Sendable, Equatable {
        /// `uncaptured`: expected where a replay had no capture at the time, so neither seen nor lost.
        public enum State: String, Codable, Sendable { case seen, lost, uncaptured }
        public enum Kind: String, Codable, Sendable { case interface, router }
        /// `in`: received from the device (from the guest, from the wire); `out`: sent to it.
        public enum Direction: String, Codable, Sendable { case `in`, out }

        enum CodingKeys: String, CodingKey {
            case kind, interface, meaning, direction, state, note, count, firewallVerdict
            case dropReason, dropLocation, dropMeaning, dropCertainty
            case offset = "offsetNanoseconds"
        }

        public var kind: Kind
        /// The interface as in the dump (nil inside a router).
        public var interface: String?
        public var meaning: String
        public var direction: Direction?
        public var state: State
        /// Nanoseconds since the packet's first sighting (it can be negative: a bridge stamps its egress port
        /// before its own local delivery).
        public var offset: Int64?
        /// TTL change, NAT translation, why it was lost, what else happened there.
        public var note: String?
        /// How often it was seen there (more than once: a loop, or the same bytes sent again).
        public var count: Int
        /// At a hop where a bridge did not forward it: what the host's firewall rules do with it, worked out.
        public var firewallVerdict: FirewallDecision?
        /// At a lost hop, live: why the kernel says it freed the packet (skb:kfree_skb), where, what that means,
        /// and how sure the match is.
        public var dropReason: DropReason?
        /// "br_nf_dev_queue_xmit+0x1a4" (with " [module]" for a module's code).
        public var dropLocation: String?
        public var dropMeaning: String?
        public var dropCertainty: KernelDropMatch.Certainty?
        /// The function of `dropLocation` (not in the JSON: what the summary counts drops by).
        var dropFunction: String? = nil
        /// The domain whose NIC this is, or the router a router hop is in (not in the JSON: `meaning` says it).
        public var domain: String? = nil
        /// At a lost hop the host could have dropped it at: when it was last seen before, and the EtherTypes the
        /// kernel would have held it as there (not in the JSON: what a kernel drop is matched by).
        var lostAfter: KernelDropMatch.Moment? = nil
        /// Seen where the walk did not lead (a flooded copy, a second way out): "also seen".
        public var offPath = false

        public init(
            kind: Kind = .interface, interface: String?, meaning: String, direction: Direction?,
            state: State, offset: Int64?, note: String? = nil, count: Int = 1
        ) {
            self.kind = kind
            self.interface = interface
            self.meaning = meaning
            self.direction = direction
            self.state = state
            self.offset = offset
            self.note = note
            self.count = count
        }
    }
}

extension Packet {
    /// A tcpdump-like one-line description.
    public var summary: String {
        let addresses = { (source: String?, destination: String?) in "\(source ?? "?") > \(destination ?? "?")" }
        if let inner = inner?.packet, let vxlan {
            return "VXLAN vni \(vxlan.vni): " + inner.summary
        }
        if let arp {
            return arp.operation == 1
                ? "ARP who-has \(arp.targetIP) tell \(arp.senderIP)"
                : "ARP \(arp.senderIP) is-at \(arp.senderMAC)"
        }
        let ends = addresses(source, destination)
        if let icmp {
            let echo = icmp.identifier.map { " id \($0) seq \(icmp.sequence ?? 0)" } ?? ""
            let target = icmp.ndTarget.map { icmp.type == 135 ? " who-has \($0)" : " \($0)" } ?? ""
            let detail = icmp.detail.map { " (\($0))" } ?? ""
            return "\(icmp.version == 4 ? "ICMP" : "ICMP6") \(icmp.name)\(target) \(ends)\(echo)\(detail)"
        }
        if let dhcp {
            let names: [UInt8: String] = [
                1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 4: "DECLINE", 5: "ACK", 6: "NAK", 7: "RELEASE", 8: "INFORM",
            ]
            return
                "DHCP \(dhcp.messageType.flatMap { names[$0] } ?? "BOOTP") \(ends) xid "
                + "0x\(String(dhcp.transactionID, radix: 16))"
        }
        if let tcp {
            let flagNames: [(UInt8, String)] = [(0x02, "S"), (0x01, "F"), (0x04, "R"), (0x08, "P"), (0x10, ".")]
            let flags = flagNames.filter { tcp.flags & $0.0 != 0 }.map(\.1).joined()
            return
                "TCP \(source ?? "?"):\(tcp.sourcePort) > \(destination ?? "?"):\(tcp.destinationPort) "
                + "[\(flags)] seq \(tcp.sequence)"
        }
        if let udp {
            return
                "UDP \(source ?? "?"):\(udp.sourcePort) > \(destination ?? "?"):\(udp.destinationPort) length "
                + "\(udp.length)"
        }
        if let ipv4 { return "IP proto \(ipv4.protocolNumber) \(ends)" }
        if let ipv6 { return "IP6 next header \(ipv6.nextHeader) \(ends)" }
        if let ethernet { return "ethertype 0x\(String(ethernet.etherType, radix: 16))" }
        return "frame"
    }
}

extension TracedPacket.Hop {
    /// What a later look adds to the hop's note (the firewall's counter, the kernel's drop), after what it said.
    mutating func addNote(_ text: String) { note = (note.map { $0 + "; " } ?? "") + text }
}

extension TracedPacket {
    /// The packet with the counters of the firewall rules its lost hops name read again (`now`): whether each
    /// moved since the dump, in the hop's note and in its `firewallVerdict`.
    public func confirmingFirewall(_ now: (FirewallDecision) -> Int?) -> TracedPacket {
        var packet = self
        for index in packet.hops.indices {
            guard var verdict = packet.hops[index].firewallVerdict, let before = verdict.packets,
                let after = now(verdict)
            else { continue }
            verdict.packetsNow = after
            packet.hops[index].firewallVerdict = verdict
            let note =
                after > before
                ? "its counter rose by \(after - before) while tracing"
                : "its counter did not move while tracing: the kernel may have dropped it elsewhere"
            packet.hops[index].addNote(note)
        }
        packet.reply = packet.reply.map { $0.confirmingFirewall(now) }
        return packet
    }
}
