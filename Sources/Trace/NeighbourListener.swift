import Packets
import Topology

/// What `--listen` hears on the bridge ports (ARP, DHCP, neighbour discovery), turned into facts for the
/// snapshot: the addresses of guest NICs (which the host alone does not know), addresses of other hosts' VMs
/// and routers heard through an uplink, the gateway DHCP hands out, two MACs claiming one address, and a DHCP
/// server answering from somewhere other than the network's router.
public struct NeighbourListener {
    /// Kept in the kernel: what carries addresses and nothing else.
    public static let kernelFilter =
        "arp or (udp and (port 67 or port 68)) or (icmp6 and (ip6[40] == 135 or ip6[40] == 136))"

    private struct Port {
        var name: String
        var bridge: String
    }
    private struct Claim {
        var mac: String
        var port: Port
        var source: AddressSource
    }
    private struct DHCPServer {
        var mac: String
        var ip: String?
        var port: Port
        var router: String?
    }

    private let ports: [Int: Port]
    private let portsByName: [String: Port]
    /// Guest NIC MACs on this host: (domain index, NIC index).
    private let nics: [String: (domain: Int, nic: Int)]
    /// Every address and the MACs that claimed it, in the order heard.
    private var claims: [String: [Claim]] = [:]
    private var servers: [DHCPServer] = []

    public init(snapshot: HostSnapshot) {
        let links = snapshot.links.filter { $0.master != nil }
        ports = Dictionary(
            links.map { ($0.ifindex, Port(name: $0.name, bridge: $0.master!)) }, uniquingKeysWith: { first, _ in first }
        )
        portsByName = Dictionary(
            links.map { ($0.name, Port(name: $0.name, bridge: $0.master!)) }, uniquingKeysWith: { first, _ in first })
        var nics: [String: (Int, Int)] = [:]
        for (domainIndex, domain) in snapshot.domains.enumerated() {
            for (nicIndex, nic) in domain.nics.enumerated() {
                if let mac = nic.mac { nics[mac] = (domainIndex, nicIndex) }
            }
        }
        self.nics = nics
    }

    /// One captured frame: with `interface` when the capture says by name (a saved capture), else by the SLL2
    /// interface index. Only what came in at a port counts (its copies going out of other ports do not).
    public mutating func hear(_ bytes: [UInt8], linkType: LinkType, interface: String? = nil) {
        let (cooked, packet) = PacketDecoder.decode(bytes, linkType: linkType)
        guard cooked?.packetType != 4,
            let port = interface.flatMap({ portsByName[$0] }) ?? cooked?.interfaceIndex.flatMap({ ports[$0] })
        else { return }
        if let arp = packet.arp, arp.senderIP != "0.0.0.0" {
            claim(arp.senderIP, mac: arp.senderMAC, port: port, source: .arp)
        }
        if let dhcp = packet.dhcp, dhcp.operation == 2, [2, 5].contains(dhcp.messageType) {
            if dhcp.yourIP != "0.0.0.0" { claim(dhcp.yourIP, mac: dhcp.clientMAC, port: port, source: .dhcp) }
            if let mac = cooked?.sourceMAC ?? packet.ethernet?.source {
                let server = DHCPServer(
                    mac: mac, ip: dhcp.serverIdentifier ?? packet.source, port: port, router: dhcp.router)
                if !servers.contains(where: { $0.mac == server.mac && $0.port.name == server.port.name }) {
                    servers.append(server)
                }
            }
        }
        if let icmp = packet.icmp, icmp.version == 6, let mac = icmp.ndLinkLayerAddress {
            // A solicitation carries its sender's address; an advertisement, the target's. Link-local
            // addresses follow from the MAC and say nothing new.
            let address = icmp.type == 136 ? icmp.ndTarget : packet.source
            if let address, !AddressPrefix.isIPv6LinkLocal(address), address != "::" {
                claim(address, mac: mac, port: port, source: .nd)
            }
        }
    }

    private mutating func claim(_ ip: String, mac: String, port: Port, source: AddressSource) {
        var list = claims[ip, default: []]
        if let index = list.firstIndex(where: { $0.mac == mac }) {
            if source.rank > list[index].source.rank { list[index].source = source }
        } else {
            list.append(Claim(mac: mac, port: port, source: source))
        }
        claims[ip] = list
    }

    /// The snapshot with what was heard: NIC addresses, neighbours, gateways and the warnings. The CloudStack
    /// model is to be inferred again afterwards (members and gateways take the NICs' addresses).
    public func apply(to snapshot: HostSnapshot) -> HostSnapshot {
        var result = snapshot
        var neighbours: [Neighbour] = []
        var warnings: [Warning] = []
        for (ip, list) in claims.sorted(by: { $0.key < $1.key }) {
            for claim in list {
                if let (domain, nic) = nics[claim.mac] {
                    let current = result.domains[domain].nics[nic]
                    // Only a better word replaces an address (the control address from the MAC never is).
                    guard current.ip == nil || claim.source.rank > (current.ipSource?.rank ?? 0) else { continue }
                    result.domains[domain].nics[nic].ip = ip
                    result.domains[domain].nics[nic].ipSource = claim.source
                } else {
                    neighbours.append(
                        Neighbour(
                            ip: ip, mac: claim.mac, bridge: claim.port.bridge, port: claim.port.name,
                            source: claim.source))
                }
            }
            if list.count > 1 {
                let who = list.map { "\($0.mac) (on \($0.port.name))" }.joined(separator: " and ")
                warnings.append(Warning(code: .ipConflict, subject: .named(ip), message: "claimed by \(who)"))
            }
        }
        // A neighbour heard as a DHCP server or handed out as the gateway gets that role (gateway says more).
        let mark = { (ip: String, mac: String?, port: Port, role: NeighbourRole) in
            if let index = neighbours.firstIndex(where: { $0.ip == ip && $0.bridge == port.bridge }) {
                if neighbours[index].role != .gateway { neighbours[index].role = role }
            } else {
                neighbours.append(
                    Neighbour(ip: ip, mac: mac, bridge: port.bridge, port: port.name, source: .dhcp, role: role))
            }
        }
        for server in servers {
            if let ip = server.ip, nics[server.mac] == nil { mark(ip, server.mac, server.port, .dhcpServer) }
            if let router = server.router {
                let mac = claims[router]?.first?.mac
                if mac.flatMap({ nics[$0] }) == nil { mark(router, mac, server.port, .gateway) }
            }
            if let problem = unexpected(server, in: snapshot) {
                warnings.append(
                    Warning(code: .dhcpServerUnexpected, subject: .named(server.port.bridge), message: problem))
            }
        }
        result.neighbours = neighbours.sorted { ($0.bridge, $0.ip) < ($1.bridge, $1.ip) }
        result.warnings = Array(Set(result.warnings + warnings)).sorted()
        result.host.sources.packets = SourceStatus(status: .ok)
        return result
    }

    /// A DHCP server should be the network's router: its NIC on this bridge when it runs here, else (its
    /// router elsewhere) something beyond the uplink, never a guest's tap.
    private func unexpected(_ server: DHCPServer, in snapshot: HostSnapshot) -> String? {
        guard let network = snapshot.networks.first(where: { $0.bridge == server.port.bridge }),
            network.kind.carriesGuests
        else { return nil }
        let who = "\(server.mac)\(server.ip.map { " (\($0))" } ?? "")"
        if let gateway = network.gateway, let router = network.router {
            guard server.mac != gateway.mac else { return nil }
            return "DHCP answers from \(who) on \(server.port.name), not from the network's router \(router)"
        }
        guard server.port.name != network.uplink else { return nil }
        let owner = nics[server.mac].map { snapshot.domains[$0.domain].name }
        return
            "DHCP answers from \(who) on \(server.port.name)\(owner.map { " (\($0))" } ?? ""), not from beyond "
                + "the uplink where the network's router is"
    }
}
