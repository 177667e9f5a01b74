/// Everything kvmtopo knows about one host at one moment. This is the `kvmtopo dump` JSON contract
/// (documented in kvmtopo-dump(1)): adding a field keeps `schemaVersion`, renaming or removing one bumps it.
public struct HostSnapshot: Codable, Equatable, Sendable {
    public static let currentSchemaVersion = 1

    public var schemaVersion: Int
    public var host: Host
    public var links: [Link]
    public var bridges: [Bridge]
    public var fdb: [FDBEntry]
    public var domains: [Domain]
    /// The CloudStack view: one network per bridge that carries VM traffic, and the VPCs whose router is here.
    public var networks: [Network]
    public var vpcs: [VPC]
    public var warnings: [Warning]
    /// Addresses heard on the wire by `--listen` that belong to no NIC here; absent when nobody listened.
    public var neighbours: [Neighbour]?
    /// The main routing table's unicast routes; absent in dumps made before kvmtopo collected them.
    public var routes: [Route]?
    /// The packet filter's tables, chains and rules; absent in dumps made before kvmtopo read it.
    public var firewall: Firewall?
    /// A CloudStack host: an agent.properties file, or CloudStack-named domains.
    public var isCloudStackHost: Bool { host.agentProperties != nil || domains.contains { $0.cloudstack == true } }

    /// The VM NIC that has this MAC (the guest's, as libvirt gives it), whatever its case.
    public func nic(withMAC mac: String) -> NICRef? {
        for domain in domains {
            if let nic = domain.nics.first(where: { $0.mac?.lowercased() == mac.lowercased() }) {
                return NICRef(domain: domain.name, index: nic.index)
            }
        }
        return nil
    }

    /// Whether the CloudStack model (networks, vpcs) was in what was read; a dump without it gets it inferred.
    public var hasCloudStackModel: Bool { modelRead }
    private var modelRead = true

    enum CodingKeys: String, CodingKey, CaseIterable {
        case schemaVersion, host, links, bridges, fdb, domains, networks, vpcs, warnings, neighbours, routes
        case firewall
    }

    public init(
        host: Host, links: [Link], bridges: [Bridge], fdb: [FDBEntry], domains: [Domain],
        networks: [Network] = [], vpcs: [VPC] = [], warnings: [Warning], neighbours: [Neighbour]? = nil,
        routes: [Route]? = nil, firewall: Firewall? = nil
    ) {
        self.schemaVersion = Self.currentSchemaVersion
        self.host = host
        self.links = links
        self.bridges = bridges
        self.fdb = fdb
        self.domains = domains
        self.networks = networks
        self.vpcs = vpcs
        self.warnings = warnings
        self.neighbours = neighbours
        self.routes = routes
        self.firewall = firewall
    }

    /// Fields added after schema version 1 first shipped are optional when reading, so older dumps still load.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        schemaVersion = try container.decode(Int.self, forKey: .schemaVersion)
        host = try container.decode(Host.self, forKey: .host)
        links = try container.decode([Link].self, forKey: .links)
        bridges = try container.decode([Bridge].self, forKey: .bridges)
        fdb = try container.decode([FDBEntry].self, forKey: .fdb)
        domains = try container.decode([Domain].self, forKey: .domains)
        let networks = try container.decodeIfPresent([Network].self, forKey: .networks)
        self.networks = networks ?? []
        vpcs = try container.decodeIfPresent([VPC].self, forKey: .vpcs) ?? []
        modelRead = networks != nil
        warnings = try container.decode([Warning].self, forKey: .warnings)
        neighbours = try container.decodeIfPresent([Neighbour].self, forKey: .neighbours)
        routes = try container.decodeIfPresent([Route].self, forKey: .routes)
        firewall = try container.decodeIfPresent(Firewall.self, forKey: .firewall)
    }
}

public struct Host: Codable, Equatable, Sendable {
    public var hostname: String
    /// ISO 8601, UTC.
    public var collectedAt: String
    public var kvmtopoVersion: String
    public var sources: Sources
    /// Which bridge carries which CloudStack traffic, as the model was inferred with.
    public var bridgeRoles: BridgeRoles?
    /// The CloudStack agent.properties the bridge roles came from; absent when they are CloudStack's defaults.
    public var agentProperties: String?
    /// br_netfilter's sysctls; absent when the module is not loaded (or in older dumps).
    public var bridgeNetfilter: BridgeNetfilter?
    /// Whether libvirt's qemu hook (/etc/libvirt/hooks/qemu) is there and executable: CloudStack's agent installs
    /// it to rename `br<pif>-<vlan>` bridges in a migrating domain's XML. Absent in dumps made before kvmtopo looked.
    public var qemuHook: Bool?
    /// net.ipv4.igmp_max_memberships: the multicast groups one socket may join, so the VXLAN groups one UDP port
    /// may carry. Absent in older dumps.
    public var igmpMaxMemberships: Int?

    public init(hostname: String, collectedAt: String, kvmtopoVersion: String = kvmtopoReleaseVersion, sources: Sources)
    {
        self.hostname = hostname
        self.collectedAt = collectedAt
        self.kvmtopoVersion = kvmtopoVersion
        self.sources = sources
    }
}

public let kvmtopoReleaseVersion = "0.1.0"

/// The bridges CloudStack's agent uses per traffic type (agent.properties, else the agent's defaults).
public struct BridgeRoles: Codable, Equatable, Sendable {
    /// private.bridge.name: the link-local control bridge.
    public var control = "cloud0"
    /// public.network.device
    public var `public` = "cloudbr0"
    /// private.network.device: management.
    public var `private` = "cloudbr1"
    /// guest.network.device: untagged guest traffic; the agent defaults it to the private bridge.
    public var guest: String?

    public init() {}
}

public struct Sources: Codable, Equatable, Sendable {
    public var netlink: SourceStatus
    public var libvirt: SourceStatus
    /// `--listen`: the passive capture of ARP, DHCP and neighbour discovery; absent when nobody listened.
    public var packets: SourceStatus?
    /// The firewall (nftables over netlink); absent in dumps made before kvmtopo read it.
    public var firewall: SourceStatus?

    public init(netlink: SourceStatus, libvirt: SourceStatus) {
        self.netlink = netlink
        self.libvirt = libvirt
    }
}

/// Whether a collector ran, and if not, why (in words an operator can act on).
public struct SourceStatus: Codable, Equatable, Sendable {
    public enum Status: String, Codable, Sendable { case ok, unavailable }
    public var status: Status
    public var uri: String?
    public var error: String?

    public init(status: Status, uri: String? = nil, error: String? = nil) {
        self.status = status
        self.uri = uri
        self.error = error
    }
}

public struct Link: Codable, Equatable, Sendable {
    public var name: String
    public var ifindex: Int
    /// The kernel's IFLA_INFO_KIND (bridge, tun, veth, vxlan, vlan, bond, …); "device" for a NIC, "loopback" for lo.
    public var kind: LinkKind
    public var mac: String?
    public var mtu: Int
    public var operState: OperState
    public var up: Bool
    public var master: String?
    public var addresses: [Address]
    public var vlan: VLAN?
    public var vxlan: VXLAN?
    /// A veth's other end, by name when it is in this namespace.
    public var peer: String?
    /// Set instead of `peer` when the other end lives in another network namespace.
    public var peerNetnsid: Int?
    public var bridgePort: BridgePort?

    public init(
        name: String, ifindex: Int, kind: LinkKind, mac: String? = nil, mtu: Int = 1500, operState: OperState = .up,
        up: Bool = true, master: String? = nil, addresses: [Address] = [], vlan: VLAN? = nil, vxlan: VXLAN? = nil,
        peer: String? = nil, peerNetnsid: Int? = nil, bridgePort: BridgePort? = nil
    ) {
        self.name = name
        self.ifindex = ifindex
        self.kind = kind
        self.mac = mac
        self.mtu = mtu
        self.operState = operState
        self.up = up
        self.master = master
        self.addresses = addresses
        self.vlan = vlan
        self.vxlan = vxlan
        self.peer = peer
        self.peerNetnsid = peerNetnsid
        self.bridgePort = bridgePort
    }
}

public struct Address: Codable, Equatable, Sendable {
    public var family: AddressFamily
    public var address: String
    public var prefixLength: Int
    public var scope: String

    public init(family: AddressFamily, address: String, prefixLength: Int, scope: String) {
        self.family = family
        self.address = address
        self.prefixLength = prefixLength
        self.scope = scope
    }
}

public struct VLAN: Codable, Equatable, Sendable {
    public var id: Int
    public var parent: String?
    public var `protocol`: String?

    public init(id: Int, parent: String?, protocol: String? = nil) {
        self.id = id
        self.parent = parent
        self.protocol = `protocol`
    }
}

public struct VXLAN: Codable, Equatable, Sendable {
    /// What VXLAN adds to each packet on the underlay: the inner Ethernet header (14), VXLAN (8), UDP (8) and the
    /// outer IP header (20 for IPv4, 40 for IPv6). The underlay's MTU must be the VXLAN device's plus this.
    public static let ipv4Overhead = 50, ipv6Overhead = 70

    /// This device's overhead, by the family of its underlay (its local or group address).
    public var overhead: Int {
        [local, group].contains { $0?.contains(":") == true } ? Self.ipv6Overhead : Self.ipv4Overhead
    }

    public var vni: Int
    public var group: String?
    public var local: String?
    public var port: Int?
    public var device: String?
    public var learning: Bool?

    public init(
        vni: Int, group: String? = nil, local: String? = nil, port: Int? = nil, device: String? = nil,
        learning: Bool? = nil
    ) {
        self.vni = vni
        self.group = group
        self.local = local
        self.port = port
        self.device = device
        self.learning = learning
    }
}

public struct BridgePort: Codable, Equatable, Sendable {
    public var state: PortState
    public var priority: Int?
    public var cost: Int?

    public init(state: PortState, priority: Int? = nil, cost: Int? = nil) {
        self.state = state
        self.priority = priority
        self.cost = cost
    }
}

public struct Bridge: Codable, Equatable, Sendable {
    public var name: String
    public var ports: [String]
    public var stp: Bool

    public init(name: String, ports: [String], stp: Bool) {
        self.name = name
        self.ports = ports
        self.stp = stp
    }
}

public struct FDBEntry: Codable, Equatable, Sendable {
    public var mac: String
    public var port: String
    public var bridge: String?
    public var vlan: Int?
    public var state: FDBState
    /// The entry belongs to the port device itself (a vxlan remote), not to the bridge.
    public var isSelf: Bool
    public var remote: String?

    enum CodingKeys: String, CodingKey {
        case mac, port, bridge, vlan, state
        case isSelf = "self"
        case remote
    }

    public init(mac: String, port: String, bridge: String?, vlan: Int?, state: FDBState, isSelf: Bool, remote: String?)
    {
        self.mac = mac
        self.port = port
        self.bridge = bridge
        self.vlan = vlan
        self.state = state
        self.isSelf = isSelf
        self.remote = remote
    }
}

public struct Domain: Codable, Equatable, Sendable {
    public var name: String
    public var uuid: String
    public var state: DomainState
    /// CloudStack's role for the domain. Filled by the CloudStack inference.
    public var role: DomainRole?
    /// For a router, from its NIC layout.
    public var routerKind: RouterKind?
    /// Named like a CloudStack instance or marked by CloudStack's SMBIOS product.
    public var cloudstack: Bool?
    public var id: Int?
    public var persistent: Bool
    public var smbios: SMBIOS?
    public var nics: [NIC]
    /// Set when libvirt could not give the domain's XML (its NICs are then unknown).
    public var xmlError: String?

    public init(
        name: String, uuid: String, state: DomainState, id: Int? = nil, persistent: Bool = true,
        smbios: SMBIOS? = nil, nics: [NIC] = [], xmlError: String? = nil
    ) {
        self.name = name
        self.uuid = uuid
        self.state = state
        self.id = id
        self.persistent = persistent
        self.smbios = smbios
        self.nics = nics
        self.xmlError = xmlError
    }

    public var isActive: Bool { state.isActive }

    public func nic(_ index: Int) -> NIC? { nics.first { $0.index == index } }
}

public struct SMBIOS: Codable, Equatable, Sendable {
    public var manufacturer: String?
    public var product: String?

    public init(manufacturer: String?, product: String?) {
        self.manufacturer = manufacturer
        self.product = product
    }
}

public struct NIC: Codable, Equatable, Sendable {
    /// Position among the domain's <interface> elements; ethN inside a CloudStack system VM.
    public var index: Int
    public var mac: String?
    /// libvirt's interface type.
    public var type: InterfaceType
    /// <source bridge>: the bridge libvirt was told to plug the tap into.
    public var bridge: String?
    public var network: String?
    public var sourceDevice: String?
    /// <target dev>: the host-side tap.
    public var tap: String?
    public var model: String?
    public var vlanTag: Int?
    public var virtualPort: String?
    /// <rom bar='off'/>: CloudStack sets it on every system VM NIC.
    public var romBarOff: Bool
    public var linkState: NICLinkState?
    /// The link as the guest has it: without a `<link>` element libvirt's is up (and after `domif-setlink` it
    /// writes one, so nil and up are one state).
    public var effectiveLinkState: NICLinkState { linkState ?? .up }
    /// Filled by the join: whether the tap exists in the kernel with the MAC libvirt gives it.
    public var tapFound: Bool?
    /// Filled by the join: the bridge the tap really is a port of.
    public var hostBridge: String?
    /// CloudStack traffic type.
    public var trafficType: TrafficType?
    /// An address, only when learned, with where it was learned (ipSource).
    public var ip: String?
    public var ipSource: AddressSource?
    /// Filled by the model from `firewall`: the NIC's CloudStack security group.
    public var securityGroup: SecurityGroup?
    /// Filled by the model: other rules that name the NIC's tap (a host firewall's, a plain libvirt host's).
    public var firewallRules: [RuleReference]?

    public init(
        index: Int, mac: String?, type: InterfaceType, bridge: String? = nil, network: String? = nil,
        sourceDevice: String? = nil, tap: String? = nil, model: String? = nil, vlanTag: Int? = nil,
        virtualPort: String? = nil, romBarOff: Bool = false, linkState: NICLinkState? = nil
    ) {
        self.index = index
        self.mac = mac
        self.type = type
        self.bridge = bridge
        self.network = network
        self.sourceDevice = sourceDevice
        self.tap = tap
        self.model = model
        self.vlanTag = vlanTag
        self.virtualPort = virtualPort
        self.romBarOff = romBarOff
        self.linkState = linkState
    }
}

public struct Warning: Codable, Hashable, Sendable, Comparable {
    public var code: WarningCode
    public var subject: Subject
    public var message: String

    public init(code: WarningCode, subject: Subject, message: String) {
        self.code = code
        self.subject = subject
        self.message = message
    }

    public static func < (a: Warning, b: Warning) -> Bool {
        (a.code, a.subject, a.message) < (b.code, b.subject, b.message)
    }
}

/// One bridge that carries VM traffic, as CloudStack sees it.
public struct Network: Codable, Equatable, Sendable {
    public var id: String
    /// `guest` when its router is not on this host.
    public var kind: NetworkKind
    public var bridge: String
    public var vlan: Int?
    public var vni: Int?
    /// The bridge port that leaves the host: a VLAN or VXLAN device, or a NIC or bond for an untagged bridge.
    public var uplink: String?
    public var physicalInterface: String?
    public var mtu: Int?
    /// The router domain, when it runs on this host.
    public var router: String?
    /// Whether this guest network's router is on another host (its guest NIC is not on this bridge).
    public var routerElsewhere: Bool?
    public var gateway: Gateway?
    /// The gateway of a network whose router is elsewhere, as heard by `--listen` (DHCP's router option).
    public var remoteGateway: Neighbour?
    public var members: [Member]
    /// What the firewall does on the bridge; absent when the firewall was not read.
    public var firewall: BridgeFirewall?

    public init(id: String, kind: NetworkKind, bridge: String, members: [Member] = []) {
        self.id = id
        self.kind = kind
        self.bridge = bridge
        self.members = members
    }

    public struct Member: Codable, Equatable, Sendable {
        public var domain: String
        public var nic: Int
        public var tap: String?
        public var mac: String?
        public var ip: String?
        public var ipSource: AddressSource?

        public init(
            domain: String, nic: Int, tap: String?, mac: String?, ip: String? = nil,
            ipSource: AddressSource? = nil
        ) {
            self.domain = domain
            self.nic = nic
            self.tap = tap
            self.mac = mac
            self.ip = ip
            self.ipSource = ipSource
        }

        public var ref: NICRef { NICRef(domain: domain, index: nic) }
    }

    /// The router NIC that is this network's gateway; its address only when learned.
    public struct Gateway: Codable, Equatable, Sendable {
        public var domain: String
        public var nic: Int
        public var mac: String?
        public var ip: String?
        public var ipSource: AddressSource?

        public init(domain: String, nic: Int, mac: String?, ip: String? = nil, ipSource: AddressSource? = nil) {
            self.domain = domain
            self.nic = nic
            self.mac = mac
            self.ip = ip
            self.ipSource = ipSource
        }

        public var ref: NICRef { NICRef(domain: domain, index: nic) }
    }
}

/// A VPC whose router runs on this host, with its tiers (network ids) in the router's NIC order.
public struct VPC: Codable, Equatable, Sendable {
    public var router: String
    public var tiers: [String]

    public init(router: String, tiers: [String]) {
        self.router = router
        self.tiers = tiers
    }
}

/// An address heard on the wire (ARP, DHCP, neighbour discovery) that is no NIC of a domain on this host: a VM
/// or router on another host, or a DHCP server.
public struct Neighbour: Codable, Equatable, Sendable {
    public var ip: String
    public var mac: String?
    public var bridge: String
    /// The bridge port it was heard on (an uplink: it is on another host).
    public var port: String
    public var source: AddressSource
    /// `gateway` when DHCP hands it out as the router.
    public var role: NeighbourRole?

    public init(
        ip: String, mac: String?, bridge: String, port: String, source: AddressSource,
        role: NeighbourRole? = nil
    ) {
        self.ip = ip
        self.mac = mac
        self.bridge = bridge
        self.port = port
        self.source = source
        self.role = role
    }
}

/// A route of the main table.
public struct Route: Codable, Equatable, Sendable {
    public var family: AddressFamily
    /// "169.254.0.0/16", or "default".
    public var destination: String
    public var device: String?
    public var gateway: String?
    /// The preferred source address.
    public var source: String?

    public init(
        family: AddressFamily, destination: String, device: String?, gateway: String? = nil, source: String? = nil
    ) {
        self.family = family
        self.destination = destination
        self.device = device
        self.gateway = gateway
        self.source = source
    }
}

/// br_netfilter's switches: whether bridged traffic goes through iptables, ip6tables and arptables.
public struct BridgeNetfilter: Codable, Equatable, Sendable {
    public var iptables: Bool
    public var ip6tables: Bool
    public var arptables: Bool

    public init(iptables: Bool, ip6tables: Bool, arptables: Bool) {
        self.iptables = iptables
        self.ip6tables = ip6tables
        self.arptables = arptables
    }
}
