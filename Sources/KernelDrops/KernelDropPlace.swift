import Topology

/// Where on the topology a kind of kernel drop can have happened. The tracepoint's record names no interface, but
/// some kinds can only happen at a few places: what a bridge holds in a non-forwarding STP state is dropped at
/// such a port, a frame too big for a bridge port at a port smaller than others on its bridge, a firewall drop in
/// the chains whose counters rose, a tap's drop at a tap whose counters say it dropped.
public struct KernelDropPlace: Codable, Sendable, Equatable {
    public var interface: String?
    /// The VM whose NIC or security group it is.
    public var domain: String?
    /// "i-2-10-VM eth0 (tap vnet3), listening", "i-5-31-VM's security group".
    public var meaning: String

    public init(interface: String? = nil, domain: String? = nil, meaning: String) {
        self.interface = interface
        self.domain = domain
        self.meaning = meaning
    }
}

extension KernelDropCount {
    /// This kind with its places on `snapshot`, from the interfaces' and the firewall's drops over the same time.
    public func placed(in snapshot: HostSnapshot, interfaces: [InterfaceDrops], firewall: [FirewallDrops]) -> Self {
        var placed = self
        let meanings = InterfaceMeanings(snapshot)
        let port = { (link: Link, detail: String) in
            let (meaning, domain) = meanings.meaning(of: link.name)
            return KernelDropPlace(interface: link.name, domain: domain, meaning: "\(meaning), \(detail)")
        }
        let ports = { (bridge: Bridge) in snapshot.links.filter { bridge.ports.contains($0.name) } }
        if reason == .bridgeIngressSTPState {
            placed.places = snapshot.links.compactMap { link in
                link.bridgePort.flatMap { $0.state.withholdsFrames ? port(link, "\($0.state)") : nil }
            }
        } else if KernelDrop.tooBigForBridgePort(reason: reason, function: function) {
            placed.places = snapshot.bridges.flatMap { bridge in
                let links = ports(bridge)
                let largest = links.map(\.mtu).max() ?? 0
                return links.filter { $0.mtu < largest }.map {
                    port($0, "MTU \($0.mtu), others on \(bridge.name) \(largest)")
                }
            }
        } else if site == .firewall {
            placed.places = firewall.map { drop in
                let rule =
                    "\(drop.family) \(drop.table) \(drop.chain)" + (drop.handle.map { " rule \($0)" } ?? "'s policy")
                return KernelDropPlace(
                    domain: drop.domain, meaning: drop.domain.map { "\($0)'s security group (\(rule))" } ?? rule)
            }
        } else if site == .tap {
            placed.places = interfaces.filter { $0.domain != nil && $0.counters.txDropped + $0.counters.rxDropped > 0 }
                .map { KernelDropPlace(interface: $0.interface, domain: $0.domain, meaning: $0.meaning) }
        }
        return placed
    }
}
