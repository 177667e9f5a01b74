import Topology

/// Infers the CloudStack layer from a collected snapshot: each domain's role, each NIC's traffic type, one
/// network per bridge that carries VM traffic, and the VPCs whose router runs here. It reads only the snapshot
/// (live or loaded from a dump), so it runs the same on a customer's dump as on the host.
public enum CloudStackModel {
    /// Infers with the bridge roles the snapshot records (CloudStack's defaults when it records none).
    public static func infer(_ snapshot: HostSnapshot) -> HostSnapshot {
        var result = snapshot
        let settings = snapshot.host.bridgeRoles ?? BridgeRoles()
        // A model inferred earlier is replaced whole, warnings included.
        result.warnings.removeAll { $0.code.origin == .model }
        let links = Dictionary(snapshot.links.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var warnings: [Warning] = []

        result.domains = snapshot.domains.map { classify($0, settings: settings) }
        // Looked up per network and per member: built once, so a host with thousands of domains stays linear.
        let attached = Dictionary(
            grouping: result.domains.flatMap { domain in
                domain.nics.compactMap { nic in
                    nic.effectiveBridge.map { Attachment(bridge: $0, domain: domain, nic: nic) }
                }
            }, by: \.bridge)
        let context = Context(
            links: links,
            ports: Dictionary(snapshot.bridges.map { ($0.name, $0.ports) }, uniquingKeysWith: { a, _ in a }),
            roles: Dictionary(result.domains.map { ($0.name, $0.role) }, uniquingKeysWith: { a, _ in a }),
            settings: settings,
            gateways: Dictionary(
                (snapshot.neighbours ?? []).filter { $0.role == .gateway }.map { ($0.bridge, $0) },
                uniquingKeysWith: { first, _ in first }))
        result.networks = snapshot.bridges.filter { attached[$0.name] != nil || Naming.guestBridge($0.name) != nil }.map
        { bridge in
            network(bridge, attached: attached[bridge.name] ?? [], context: context, warnings: &warnings)
        }.sorted { ($0.kind.listingOrder, $0.bridge) < ($1.kind.listingOrder, $1.bridge) }
        result.vpcs = result.domains.filter { $0.routerKind == .vpc }.map { router in
            VPC(
                router: router.name,
                tiers: router.nics.filter { $0.trafficType == .guest }.compactMap(\.effectiveBridge))
        }
        SecurityGroupModel.apply(to: &result, warnings: &warnings)
        result.warnings = (result.warnings + warnings).sorted()
        return result
    }

    // MARK: domains and NICs

    static func classify(_ domain: Domain, settings: BridgeRoles) -> Domain {
        var domain = domain
        let role = Naming.role(ofDomain: domain.name)
        domain.cloudstack = role != nil || domain.smbios?.product == Naming.cloudStackProduct
        domain.role = role ?? .other
        for index in domain.nics.indices {
            var nic = domain.nics[index]
            nic.trafficType = trafficType(of: nic, in: domain, settings: settings)
            if nic.trafficType == .control, let mac = nic.mac, let address = Naming.controlAddress(fromMAC: mac) {
                nic.ip = address
                nic.ipSource = .controlMAC
            }
            domain.nics[index] = nic
        }
        if domain.role == .router { domain.routerKind = routerKind(domain.nics) }
        return domain
    }

    private static func trafficType(of nic: NIC, in domain: Domain, settings: BridgeRoles) -> TrafficType? {
        if let mac = nic.mac, Naming.controlAddress(fromMAC: mac) != nil { return .control }
        guard let bridge = nic.effectiveBridge else { return nic.vlanTag != nil ? .guest : nil }
        switch bridge {
        case settings.control: return .control
        case settings.public: return .public
        case settings.guest where settings.guest != settings.private: return .guest
        case settings.private: return nic.vlanTag != nil || domain.role == .user ? .guest : .management
        default: break
        }
        if Naming.guestBridge(bridge) != nil || nic.vlanTag != nil || domain.role == .user { return .guest }
        return nil
    }

    /// CloudStack's router layouts, by position: isolated (eth0 guest, eth1 control, eth2 public), DHCP-only
    /// (eth0 guest, eth1 control), VPC (eth0 control, eth1 public, eth2+ a NIC per tier).
    private static func routerKind(_ nics: [NIC]) -> RouterKind? {
        let types = nics.map(\.trafficType)
        if types.first == .control { return .vpc }
        guard types.count >= 2, types[1] == .control else { return nil }
        return types.dropFirst(2).contains(.public) ? .isolated : .dhcpOnly
    }

    // MARK: networks

    private struct Attachment {
        var bridge: String
        var domain: Domain
        var nic: NIC
    }

    private struct Context {
        var links: [String: Link]
        var ports: [String: [String]]
        var roles: [String: DomainRole?]
        var settings: BridgeRoles
        /// Gateways heard by --listen, by bridge.
        var gateways: [String: Neighbour]
    }

    private static func network(
        _ bridge: Bridge, attached: [Attachment], context: Context,
        warnings: inout [Warning]
    ) -> Network {
        let settings = context.settings
        var network = Network(id: bridge.name, kind: .unknown, bridge: bridge.name)
        network.mtu = context.links[bridge.name]?.mtu
        let attached = attached.map { ($0.domain, $0.nic) }
        network.members = attached.map { domain, nic in
            Network.Member(
                domain: domain.name, nic: nic.index, tap: nic.tap, mac: nic.mac, ip: nic.ip, ipSource: nic.ipSource)
        }.sorted {
            (memberOrder($0, context.roles), $0.domain, $0.nic) < (memberOrder($1, context.roles), $1.domain, $1.nic)
        }

        resolveUplink(&network, ports: bridge.ports, context: context, warnings: &warnings)

        switch bridge.name {
        case settings.control: network.kind = .control
        case settings.public: network.kind = .public
        case settings.private where attached.allSatisfy({ $0.1.trafficType != .guest }): network.kind = .management
        default:
            let routers = attached.filter { $0.0.role == .router && $0.1.trafficType == .guest }
            if let (router, nic) = routers.first {
                network.router = router.name
                network.gateway = Network.Gateway(
                    domain: router.name, nic: nic.index, mac: nic.mac, ip: nic.ip, ipSource: nic.ipSource)
                network.kind =
                    switch router.routerKind?.known {
                    case .vpc?: .vpcTier
                    case .dhcpOnly?: .shared
                    case .isolated?: .isolated
                    case nil: .unknown
                    }
            } else if attached.contains(where: { $0.1.trafficType == .guest }) || Naming.guestBridge(bridge.name) != nil
            {
                network.kind = .guest
                network.routerElsewhere = attached.contains { $0.0.role == .user } ? true : nil
                network.remoteGateway = context.gateways[bridge.name]
            }
        }
        return network
    }

    /// The uplink is the port that leaves the host; the kernel's facts (VLAN id, VNI, parent) win over the
    /// bridge's name, and a name that disagrees is a warning.
    private static func resolveUplink(
        _ network: inout Network, ports: [String], context: Context,
        warnings: inout [Warning]
    ) {
        let links = context.links
        let candidates = ports.compactMap { links[$0] }.filter { $0.kind != .tun }
        let uplink =
            candidates.first { $0.vlan != nil || $0.vxlan != nil }
            ?? candidates.first { $0.kind.canBeUntaggedUplink }
        network.uplink = uplink?.name
        network.vlan = uplink?.vlan?.id
        network.vni = uplink?.vxlan?.vni
        let underlay =
            uplink?.vlan?.parent ?? uplink?.vxlan?.device
            ?? (uplink?.vlan == nil && uplink?.vxlan == nil ? uplink?.name : nil)
        network.physicalInterface = underlay.flatMap { physical($0, context: context) }

        // What the name claims: (VLAN or VNI, id, what the kernel says), checked the same way for both.
        let claim: (label: String, device: String, id: Int, kernel: Int?)? =
            switch Naming.guestBridge(network.bridge) {
            case .vlan(_, let id)?, .legacyVLAN(let id)?: ("VLAN", "VLAN", id, uplink?.vlan?.id)
            case .vxlan(let vni)?: ("VNI", "VXLAN", vni, uplink?.vxlan?.vni)
            case nil: nil
            }
        guard let claim else { return }
        let subject = network.bridge
        if let uplink {
            if let kernel = claim.kernel, kernel != claim.id {
                warnings.append(
                    Warning(
                        code: .bridgeNameMismatch, subject: .named(subject),
                        message:
                            "\(subject) is named for \(claim.label) \(claim.id) but its uplink \(uplink.name) "
                                + "is \(claim.label) \(kernel)"
                    ))
            }
        } else {
            if claim.label == "VLAN" { network.vlan = claim.id } else { network.vni = claim.id }
            warnings.append(
                Warning(
                    code: .guestBridgeNoUplink, subject: .named(subject),
                    message:
                        "no \(claim.device) device on \(subject); \(claim.label) \(claim.id) is taken from its name"))
        }
    }

    /// The NIC under a device: CloudStack's VXLAN devices sit on the traffic label's bridge (cloudbr1), whose
    /// own uplink is the NIC.
    private static func physical(_ name: String, context: Context) -> String {
        guard context.links[name]?.kind == .bridge else { return name }
        let port = (context.ports[name] ?? []).compactMap { context.links[$0] }.filter { $0.kind != .tun }
            .min { $0.ifindex < $1.ifindex }
        return port?.name ?? name
    }

    /// Routers first, then system VMs and the rest, then users' VMs.
    private static func memberOrder(_ member: Network.Member, _ roles: [String: DomainRole?]) -> Int {
        switch (roles[member.domain] ?? nil)?.known {
        case .router?: 0
        case .user?: 2
        case .secondaryStorage?, .consoleProxy?, .internalLB?, .elasticLB?, .other?, nil: 1
        }
    }
}

extension NIC {
    /// The bridge the NIC is really on: the tap's master when joined; what libvirt was told when the tap is
    /// missing or on no bridge (it is shown there, with its warning).
    public var effectiveBridge: String? { tapFound == true ? hostBridge ?? bridge : bridge }
}
