import Topology

/// Many hosts' dumps joined: the networks they share, keyed by what identifies a network across hosts (its VNI,
/// its VLAN on a kind of traffic, or the bridge a traffic label names), and the VMs, routers and system VMs by the
/// host they run on. Pure and offline: dumps in, the zone out.
public struct Zone: Codable, Equatable, Sendable {
    public static let schemaVersion = 1

    public var hosts: [ZoneHost]
    public var networks: [ZoneNetwork]
    public var domains: [ZoneDomain]

    /// - Parameter snapshots: one per host, each with its CloudStack model inferred (`latestPerHost` picks them).
    public init(_ snapshots: [HostSnapshot]) {
        let snapshots = snapshots.sorted { $0.host.hostname < $1.host.hostname }
        hosts = snapshots.map(ZoneHost.init)
        var networks: [String: ZoneNetwork] = [:]
        var order: [String] = []
        for snapshot in snapshots {
            let host = snapshot.host.hostname
            let links = Dictionary(snapshot.links.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            for network in snapshot.networks {
                guard let key = ZoneNetwork.key(network) else { continue }
                if networks[key] == nil {
                    order.append(key)
                    networks[key] = ZoneNetwork(key: key, kind: network.kind, vlan: network.vlan, vni: network.vni)
                }
                // A host without the router sees an isolated network as a guest one: the host with it knows.
                if [.guest, .unknown].contains(networks[key]!.kind) { networks[key]!.kind = network.kind }
                networks[key]!.hosts.append(ZoneNetwork.OnHost(network, host: host, links: links))
            }
        }
        self.networks = order.map { networks[$0]! }.sorted {
            ($0.kind.listingOrder, $0.vni ?? $0.vlan ?? 0, $0.key) < (
                $1.kind.listingOrder, $1.vni ?? $1.vlan ?? 0, $1.key
            )
        }
        var domains: [String: ZoneDomain] = [:]
        var names: [String] = []
        for snapshot in snapshots {
            for domain in snapshot.domains {
                if domains[domain.name] == nil {
                    names.append(domain.name)
                    domains[domain.name] = ZoneDomain(name: domain.name, role: domain.role)
                }
                domains[domain.name]!.placements.append(
                    ZoneDomain.Placement(
                        host: snapshot.host.hostname, state: domain.state, collectedAt: snapshot.host.collectedAt,
                        nics: domain.nics.map { ZoneDomain.NICOnHost(index: $0.index, mac: $0.mac, bridge: $0.bridge) })
                )
            }
        }
        self.domains = names.map { domains[$0]! }
    }
}

extension Zone {
    /// One dump per host, the latest of each (a folder a cron job fills holds several); the others, to be named.
    /// Dumps carry ISO 8601 UTC times, which sort as strings.
    public static func latestPerHost(_ snapshots: [HostSnapshot]) -> (kept: [HostSnapshot], older: [HostSnapshot]) {
        var latest: [String: Int] = [:]
        for (index, snapshot) in snapshots.enumerated() {
            let name = snapshot.host.hostname
            if let kept = latest[name], snapshots[kept].host.collectedAt >= snapshot.host.collectedAt { continue }
            latest[name] = index
        }
        let kept = Set(latest.values)
        return (
            snapshots.indices.filter(kept.contains).map { snapshots[$0] },
            snapshots.indices.filter { !kept.contains($0) }.map { snapshots[$0] }
        )
    }
}

/// One host of the zone, as its dump says.
public struct ZoneHost: Codable, Equatable, Sendable {
    public var name: String
    public var collectedAt: String
    public var kvmtopoVersion: String
    public var bridgeRoles: BridgeRoles?
    /// A CloudStack host: an agent.properties file, or CloudStack-named domains.
    public var cloudstack: Bool
    public var qemuHook: Bool?
    /// The bridges it has, to tell which a VM placed here lacks.
    public var bridges: [String]

    init(_ snapshot: HostSnapshot) {
        name = snapshot.host.hostname
        collectedAt = snapshot.host.collectedAt
        kvmtopoVersion = snapshot.host.kvmtopoVersion
        bridgeRoles = snapshot.host.bridgeRoles
        cloudstack = snapshot.isCloudStackHost
        qemuHook = snapshot.host.qemuHook
        bridges = snapshot.bridges.map(\.name)
    }
}

/// A network as the zone sees it: on which hosts, with which bridge, MTU and uplink each, and where its router is.
public struct ZoneNetwork: Codable, Equatable, Sendable {
    /// "vni:1001", "guest vlan:100", "public cloudbr0".
    public var key: String
    public var kind: NetworkKind
    public var vlan: Int?
    public var vni: Int?
    public var hosts: [OnHost] = []

    /// The network on one host.
    public struct OnHost: Codable, Equatable, Sendable {
        public var host: String
        public var bridge: String
        public var mtu: Int?
        public var uplink: String?
        /// The device under a VXLAN uplink, or the parent of a VLAN one.
        public var underlay: String?
        public var underlayMTU: Int?
        public var vxlanGroup: String?
        public var vxlanPort: Int?
        /// The router of the network when it runs on this host.
        public var router: String?
        /// Its VMs here are guests of a router that runs elsewhere (the host's model found none here).
        public var routerElsewhere: Bool?
        /// The domains with a NIC on it here.
        public var members: [String]

        /// - Parameter links: the host's links by name.
        init(_ network: Network, host: String, links: [String: Link]) {
            self.host = host
            bridge = network.bridge
            mtu = network.mtu
            uplink = network.uplink
            let uplinkLink = network.uplink.flatMap { links[$0] }
            let underlay = uplinkLink?.vxlan?.device ?? uplinkLink?.vlan?.parent ?? network.physicalInterface
            self.underlay = underlay
            underlayMTU = underlay.flatMap { links[$0]?.mtu }
            vxlanGroup = uplinkLink?.vxlan?.group
            vxlanPort = uplinkLink?.vxlan?.port
            router = network.routerElsewhere == true ? nil : network.router
            routerElsewhere = network.routerElsewhere
            var seen = Set<String>()
            var members: [String] = []
            for member in network.members where seen.insert(member.domain).inserted { members.append(member.domain) }
            self.members = members
        }
    }

    /// What identifies a network on every host: its VNI; its VLAN with its kind of traffic (VLAN ids are unique
    /// per physical network, and a kind of traffic stands for it); the bridge a traffic label names. The control
    /// network (cloud0) is each host's own: none.
    static func key(_ network: Network) -> String? {
        if let vni = network.vni { return "vni:\(vni)" }
        if let vlan = network.vlan { return "\(network.kind) vlan:\(vlan)" }
        return network.kind == .control ? nil : "\(network.kind) \(network.bridge)"
    }

    /// "isolated vni:1001", "guest vlan:100", "public cloudbr0": the key with its kind when the key lacks it.
    public var title: String { vni == nil ? key : "\(kind) \(key)" }

    /// An isolated network or a VPC tier has a router, and so has a guest network whose VMs some host found
    /// without theirs; shared and infrastructure networks need none here.
    public var needsRouter: Bool {
        kind == .isolated || kind == .vpcTier || hosts.contains { $0.routerElsewhere == true }
    }

    /// The hosts its router runs on (two for a redundant pair).
    public var routerHosts: [String] { hosts.filter { $0.router != nil }.map(\.host) }
}

/// A domain across the zone: every host it was found on (more than one: a migration between the dumps, a VM
/// running twice, or the same name defined on two hosts).
public struct ZoneDomain: Codable, Equatable, Sendable {
    public var name: String
    public var role: DomainRole?
    public var placements: [Placement] = []

    public struct Placement: Codable, Equatable, Sendable {
        public var host: String
        public var state: DomainState
        /// When that host's dump was taken.
        public var collectedAt: String
        public var nics: [NICOnHost]

        /// A QEMU process runs it there (a paused one is how an incoming migration waits).
        public var isActive: Bool { state.isActive }
    }

    /// A NIC as its domain's XML on that host gives it.
    public struct NICOnHost: Codable, Equatable, Sendable {
        public var index: Int
        public var mac: String?
        public var bridge: String?
    }

    /// Where a QEMU process runs it.
    public var activePlacements: [Placement] { placements.filter(\.isActive) }
}
