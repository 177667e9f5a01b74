import Firewall
import Packets
import Topology

/// One interface `kvmtopo trace` captures on, with what it is in the topology.
public struct CapturePoint: Sendable, Equatable {
    public enum Role: Sendable, Equatable {
        /// The tap of a VM's (or router's) NIC: `in` comes from the guest, `out` goes to it.
        case nic(domain: String, index: Int, isRouter: Bool)
        /// The bridge port that leaves the host (VLAN/VXLAN device, or a NIC on an untagged bridge).
        case uplink
        /// The NIC under VLAN/VXLAN uplinks: frames here are tagged, or encapsulated with `vxlanOverhead` bytes.
        case physical(carries: [String], vxlanOverhead: Int?)
        /// The bridge device itself: `in` is delivered to the host, `out` is sent by it.
        case bridge
        /// Any other bridge port (a tap no domain claims, a veth).
        case port
    }

    public var interface: String
    public var ifindex: Int
    public var role: Role
    /// The NIC under uplinks (what the `physical` role is, without its payload).
    public var isPhysical: Bool { if case .physical = role { true } else { false } }
    /// The bridge (L2 segment) the point is on; nil for a physical NIC under an uplink.
    public var bridge: String?
    /// Human words for the point: "i-3-20-VM eth0 (vpc-tier brvx-2001)", "uplink vxlan2001 (vni 2001)".
    public var meaning: String
    public var networkKind: NetworkKind?
    public var mtu: Int
    public var up: Bool
    /// The bridge port's STP state when it is not forwarding.
    public var portState: PortState?
    /// For a VM's tap on a bridge that enforces security groups: the chain the framework sends its traffic
    /// through (`i-2-10-def`), where a packet to or from it may be dropped.
    public var securityGroup: String?
    /// The chains CloudStack's model found for the NIC (its security group's; its ebtables anti-spoofing
    /// chains): whose rules a firewall verdict names.
    var securityGroupChains: Set<String> = []
    var antiSpoofingChains: Set<String> = []

    var domain: String? { if case .nic(let domain, _, _) = role { domain } else { nil } }
    var isRouterNIC: Bool { if case .nic(_, _, true) = role { true } else { false } }
}

/// Where a VM's traffic can go on this host, as capture points: the VM's taps, every port of the bridges they
/// are on, the NICs of the routers of those networks and every port of the bridges those NICs are on, the
/// bridges themselves, and the physical NICs under their uplinks.
public struct TracePlan: Sendable {
    public var vm: String
    public var points: [CapturePoint]
    /// Indexes into `points` of the traced VM's taps.
    public var origins: Set<Int>
    let indexByIfindex: [Int: Int]
    let indexByName: [String: Int]
    /// What tells the direction of an Ethernet frame captured on one interface (`tcpdump -i vnet3`), which has no
    /// SLL2 header to say it: the guest's MAC at a tap, the interface's own MAC at a bridge device, and every
    /// MAC of this host (guests' and devices') elsewhere.
    /// How much of the network layer a packet key hashes: what every copy keeps at the session's snap length
    /// (`fit(snapLength:)`).
    public private(set) var keyedBytes = FrameKeys.keyedBytes
    /// Points where the snap length keeps nothing of the packet (inside VXLAN on the underlay): not judged.
    public private(set) var tooShortToSee: Set<Int> = []
    let guestMACs: [Int: UInt64]
    /// The NICs' addresses the dump knows (the control MAC's, a DHCP lease, the security group's): where a
    /// packet to one goes before the trace has seen the NIC send.
    let knownAddresses: [IPAddress: Int]
    /// The host's firewall as dumped, to work out what it does with a packet a bridge did not forward.
    let firewall: FirewallWalk?
    /// The bridges whose bridged IPv4 meets iptables (br_netfilter, bridge-nf-call-iptables).
    let iptablesBridges: Set<String>
    let ownMACs: [Int: UInt64]
    let hostMACs: Set<UInt64>

    public struct PlanError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// - Parameter through: other domains whose bridges to capture on too (`trace --to VM`).
    public init(snapshot: HostSnapshot, vm: String, nic: Int? = nil, through: [String] = []) throws {
        guard let domain = snapshot.domains.first(where: { $0.name == vm }) else {
            throw LookupError(kind: "VM", name: vm, candidates: snapshot.domains.map(\.name))
        }
        let traced = domain.nics.filter { nic == nil || $0.index == nic }
        if let nic, traced.isEmpty {
            throw PlanError(
                description:
                    "\(vm) has no NIC eth\(nic); it has \(domain.nics.map { "eth\($0.index)" }.joined(separator: ", "))"
            )
        }
        let links = Dictionary(snapshot.links.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let tapped = traced.filter { $0.tap.map { links[$0] != nil } ?? false }
        guard !tapped.isEmpty else {
            throw PlanError(description: "\(vm) has no tap on this host to capture on (is it running?)")
        }
        let networks = Dictionary(snapshot.networks.map { ($0.bridge, $0) }, uniquingKeysWith: { first, _ in first })
        let domains = Dictionary(snapshot.domains.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })

        // The segments: the VM's bridges, then the bridges of the routers serving them (one router deep).
        var bridges: [String] = []
        let addBridge = { (name: String?) in if let name, !bridges.contains(name) { bridges.append(name) } }
        // The bridge a tap really is on (the kernel's word), not what libvirt was told.
        let master = { (nic: NIC) in nic.tap.flatMap { links[$0]?.master } }
        tapped.forEach { addBridge(master($0)) }
        for name in through {
            guard let other = domains[name] else {
                throw LookupError(kind: "VM", name: name, candidates: snapshot.domains.map(\.name))
            }
            other.nics.forEach { addBridge(master($0)) }
        }
        for bridge in bridges {
            let routers = [networks[bridge]?.router, domain.role == .router ? vm : nil].compactMap { $0 }
            for router in routers { domains[router]?.nics.forEach { addBridge(master($0)) } }
        }

        var taps: [String: (domain: Domain, nic: NIC)] = [:]
        for owner in snapshot.domains where owner.isActive {
            for nic in owner.nics { if let tap = nic.tap { taps[tap] = (owner, nic) } }
        }
        var points: [CapturePoint] = []
        let add = {
            (link: Link, role: CapturePoint.Role, bridge: String?, meaning: String, kind: NetworkKind?) in
            guard !points.contains(where: { $0.ifindex == link.ifindex }) else { return }
            let state = link.bridgePort?.state
            var point = CapturePoint(
                interface: link.name, ifindex: link.ifindex, role: role, bridge: bridge,
                meaning: meaning, networkKind: kind, mtu: link.mtu, up: link.up && link.operState != .down,
                portState: state == .forwarding ? nil : state)
            let group = taps[link.name]?.nic.securityGroup
            if let bridge, networks[bridge]?.firewall?.enforced == true { point.securityGroup = group?.chain }
            point.securityGroupChains = Set(
                [group?.chain, group?.ingress?.chain, group?.egress?.chain].compactMap { $0 })
            point.antiSpoofingChains = Set(group?.antiSpoofing?.chains ?? [])
            points.append(point)
        }
        for bridge in bridges {
            let network = networks[bridge]
            let label = "\(network?.kind.rawValue ?? "bridge") \(bridge)"
            if let link = links[bridge] { add(link, .bridge, bridge, "\(bridge) (host)", network?.kind) }
            for port in snapshot.links where port.master == bridge {
                if let (owner, nic) = taps[port.name] {
                    add(
                        port, .nic(domain: owner.name, index: nic.index, isRouter: owner.role == .router), bridge,
                        "\(owner.name) eth\(nic.index) (\(label))", network?.kind)
                } else if port.name == network?.uplink || port.vxlan != nil || port.vlan != nil {
                    let id =
                        port.vxlan.map { " (vni \($0.vni))" } ?? port.vlan.map { " (vlan \($0.id))" } ?? " (\(label))"
                    add(port, .uplink, bridge, "uplink \(port.name)\(id)", network?.kind)
                } else {
                    add(port, .port, bridge, "\(port.name) port of \(bridge)", network?.kind)
                }
            }
        }
        // The NICs under VLAN/VXLAN uplinks, each once with every uplink it carries: a VXLAN device bound to a
        // label bridge (as the agent binds it) leaves the host through the bridge's NIC, the model's physical one.
        var carried: [String: (uplinks: [String], vxlanOverhead: Int?)] = [:]
        let physical = Dictionary(
            snapshot.networks.compactMap { network in network.uplink.map { ($0, network.physicalInterface) } },
            uniquingKeysWith: { first, _ in first })
        for point in points where point.role == .uplink {
            let link = links[point.interface]
            if let device = link?.vxlan?.device ?? link?.vlan?.parent {
                let parent = links[device]?.kind == .bridge ? (physical[point.interface] ?? nil) ?? device : device
                carried[parent, default: ([], nil)].uplinks.append(point.interface)
                if let vxlan = link?.vxlan {
                    let most = max(carried[parent]?.vxlanOverhead ?? 0, vxlan.overhead)
                    carried[parent]?.vxlanOverhead = most
                }
            }
        }
        for (parent, carrying) in carried.sorted(by: { $0.key < $1.key }) {
            guard let link = links[parent] else { continue }
            add(
                link, .physical(carries: carrying.uplinks, vxlanOverhead: carrying.vxlanOverhead), nil,
                "\(parent) underlay of \(carrying.uplinks.joined(separator: ", "))", nil)
        }

        self.vm = vm
        self.points = points
        origins = Set(
            points.indices.filter { index in
                tapped.contains { $0.tap == points[index].interface }
            })
        indexByIfindex = Dictionary(
            points.enumerated().map { ($1.ifindex, $0) }, uniquingKeysWith: { first, _ in first })
        indexByName = Dictionary(
            points.enumerated().map { ($1.interface, $0) }, uniquingKeysWith: { first, _ in first })
        var guestMACs: [Int: UInt64] = [:]
        var ownMACs: [Int: UInt64] = [:]
        var knownAddresses: [IPAddress: Int] = [:]
        for (index, point) in points.enumerated() {
            ownMACs[index] = links[point.interface]?.mac.flatMap(Self.macNumber)
            guestMACs[index] = taps[point.interface]?.nic.mac.flatMap(Self.macNumber)
            if let ip = taps[point.interface]?.nic.ip.flatMap(IPAddress.init) { knownAddresses[ip] = index }
        }
        self.guestMACs = guestMACs
        self.knownAddresses = knownAddresses
        firewall = snapshot.firewall.map(FirewallWalk.init(firewall:))
        iptablesBridges = Set(snapshot.networks.filter { $0.firewall?.filtered == true }.map(\.bridge))
        self.ownMACs = ownMACs
        hostMACs = Set(
            snapshot.links.compactMap { $0.mac.flatMap(Self.macNumber) }
                + snapshot.domains.flatMap { $0.nics.compactMap { $0.mac.flatMap(Self.macNumber) } })
    }

    /// Fits packet keys to a snap length: keys hash only what every capture point keeps (a VXLAN frame on the
    /// underlay keeps 20 + 50 or 70 bytes less of its packet than its copy on a tap). Returns a line for the
    /// user when some points keep too little to be judged at all.
    public mutating func fit(snapLength: Int) -> String? {
        let cooked = 20
        var outer: [Int: Int] = [:]
        for (index, point) in points.enumerated() {
            if case .physical(_, let overhead) = point.role { outer[index] = overhead ?? 4 }
        }
        let kept = snapLength - cooked - (outer.values.max() ?? 0)
        // An IPv4 header and the first bytes after it (ICMP's identifier, ports) tell packets apart.
        let needed = 28
        if kept >= needed {
            keyedBytes = min(FrameKeys.keyedBytes, kept)
            return nil
        }
        keyedBytes = min(FrameKeys.keyedBytes, snapLength - cooked)
        tooShortToSee = Set(outer.filter { snapLength - cooked - $0.value < needed }.keys)
        let names = tooShortToSee.sorted().map { points[$0].interface }.joined(separator: ", ")
        let least = cooked + (outer.values.max() ?? 0) + needed
        return "-s \(snapLength) keeps too little of the packets inside \(names) to follow them there; "
            + "those hops are not judged (-s \(least) or more keeps enough)"
    }

    static func macNumber(_ text: String) -> UInt64? {
        let parts = text.split(separator: ":")
        guard parts.count == 6 else { return nil }
        var value: UInt64 = 0
        for part in parts {
            guard let byte = UInt8(part, radix: 16) else { return nil }
            value = value << 8 | UInt64(byte)
        }
        return value
    }

    /// An Ethernet frame's direction at a point, from its source MAC: at a tap, from the guest is in (the host
    /// receives it); at a bridge device, from the bridge itself is out; elsewhere, from this host is out.
    func outgoing(ethernetSource source: UInt64, at point: Int) -> Bool {
        switch points[point].role {
        case .nic: guestMACs[point].map { source != $0 } ?? false
        case .bridge: ownMACs[point] == source
        case .uplink, .physical, .port: hostMACs.contains(source)
        }
    }

    public func point(ifindex: Int) -> Int? { indexByIfindex[ifindex] }
    public func point(named name: String) -> Int? { indexByName[name] }

    /// The kernel filter for one `any` capture: the user's filter on the bridge-side points, and on the
    /// physical NICs only what carries these segments (VXLAN by UDP port, VLAN by tag), as the user's filter
    /// cannot see inside the encapsulation. `vlan` comes last: pcap-filter shifts every later offset after it.
    public func kernelFilter(user: String?) -> String {
        let sides = points.filter { if case .physical = $0.role { false } else { true } }
        var parts = ["(" + sides.map { "ifindex \($0.ifindex)" }.joined(separator: " or ") + ")"]
        if let user, !user.isEmpty { parts = ["(\(parts[0]) and (\(user)))"] }
        var tagged: [Int] = []
        for point in points {
            guard case .physical(_, let vxlanOverhead) = point.role else { continue }
            if vxlanOverhead != nil {
                let ports = PacketDecoder.vxlanPorts.sorted().map { "dst port \($0)" }.joined(separator: " or ")
                parts.append("(ifindex \(point.ifindex) and udp and (\(ports)))")
            } else {
                tagged.append(point.ifindex)
            }
        }
        if !tagged.isEmpty {
            parts.append("((" + tagged.map { "ifindex \($0)" }.joined(separator: " or ") + ") and vlan)")
        }
        return parts.joined(separator: " or ")
    }
}

extension TracePlan {
    /// A captured frame as a sighting at its capture point (given, or the SLL2 interface index's); nil when it
    /// was not captured at one of the plan's points.
    public func sighting(
        _ bytes: [UInt8], linkType: LinkType, timestamp: UInt64, originalLength: Int? = nil,
        point: Int? = nil
    ) -> Sighting? {
        var keys = FrameKeys(bytes, linkType: linkType, keyedBytes: keyedBytes)
        guard let point = point ?? keys.interfaceIndex.flatMap(self.point(ifindex:)) else { return nil }
        if linkType == .ethernet, bytes.count >= 12 {
            keys.outgoing = outgoing(ethernetSource: FrameKeys.mac(bytes, 6), at: point)
        }
        return Sighting(
            point: point, timestamp: timestamp, bytes: bytes, originalLength: originalLength ?? bytes.count,
            linkType: linkType, keys: keys)
    }
}
