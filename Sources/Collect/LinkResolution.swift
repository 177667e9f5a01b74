import Netlink
import Topology

/// The relation pass: once every link of a dump is known, kernel ifindexes become names (masters, vlan
/// parents, vxlan devices, veth peers). Run on live dumps and recorded ones.
public enum LinkResolution {
    public static func resolve(_ dump: NetlinkSnapshot) -> (links: [Link], bridges: [Bridge], fdb: [FDBEntry]) {
        let names = Dictionary(dump.links.map { ($0.ifindex, $0.name) }, uniquingKeysWith: { first, _ in first })
        let addresses = Dictionary(grouping: dump.addresses, by: \.ifindex)

        let links = dump.links.sorted { $0.ifindex < $1.ifindex }.map { raw in
            link(raw, names: names, addresses: addresses[raw.ifindex] ?? [])
        }
        let portsByBridge = Dictionary(grouping: links.filter { $0.master != nil }, by: { $0.master! })
        let bridges = dump.links.filter { kind(of: $0) == .bridge }.map { raw in
            Bridge(
                name: raw.name, ports: (portsByBridge[raw.name] ?? []).map(\.name).sorted(),
                stp: (raw.bridgeSTPState ?? 0) != 0)
        }.sorted { $0.name < $1.name }
        return (links, bridges, fdbEntries(dump.fdb, names: names))
    }

    /// The routes with their devices named, in the kernel's order.
    public static func routes(_ dump: NetlinkSnapshot) -> [Route] {
        let names = Dictionary(dump.links.map { ($0.ifindex, $0.name) }, uniquingKeysWith: { first, _ in first })
        return dump.routes.map { raw in
            Route(
                family: raw.family,
                destination: raw.destination.map { "\($0)/\(raw.prefixLength)" } ?? "default",
                device: raw.ifindex.flatMap { names[$0] }, gateway: raw.gateway, source: raw.source)
        }
    }

    /// Sorted by bridge, port, MAC and VLAN. A big host has tens of thousands of entries, so the sort runs
    /// on integer ranks of the (unique) link names, and compares MACs only between entries of one port.
    private static func fdbEntries(_ raw: [NetlinkFDBEntry], names: [Int: String]) -> [FDBEntry] {
        let rank = Dictionary(
            uniqueKeysWithValues: names.sorted { $0.value < $1.value }.enumerated().map { ($1.key, $0) })
        let order = raw.indices.sorted { a, b in
            let (x, y) = (raw[a], raw[b])
            let keyX = (x.masterIndex.flatMap { rank[$0] } ?? -1, rank[x.ifindex] ?? Int.max)
            let keyY = (y.masterIndex.flatMap { rank[$0] } ?? -1, rank[y.ifindex] ?? Int.max)
            if keyX != keyY { return keyX < keyY }
            return (x.mac, x.vlan ?? 0) < (y.mac, y.vlan ?? 0)
        }
        return order.map { index in
            let entry = raw[index]
            return FDBEntry(
                mac: entry.mac, port: names[entry.ifindex] ?? "ifindex \(entry.ifindex)",
                bridge: entry.masterIndex.flatMap { names[$0] }, vlan: entry.vlan,
                state: entry.state,
                isSelf: entry.isSelf, remote: entry.remote)
        }
    }

    private static func link(_ raw: NetlinkLink, names: [Int: String], addresses: [NetlinkAddress]) -> Link {
        // A link whose IFLA_LINK is in another namespace cannot be named from here.
        let sameNamespaceLink = raw.linkNetnsid == nil ? raw.linkIndex.flatMap { names[$0] } : nil
        var link = Link(
            name: raw.name, ifindex: raw.ifindex, kind: kind(of: raw), mac: raw.mac, mtu: raw.mtu,
            operState: raw.operState, up: raw.isUp, master: raw.masterIndex.flatMap { names[$0] },
            addresses: addresses.map {
                Address(
                    family: $0.family, address: $0.address, prefixLength: $0.prefixLength,
                    scope: $0.scope)
            })
        if let vlan = raw.vlan {
            link.vlan = VLAN(id: vlan.id, parent: sameNamespaceLink, protocol: vlan.protocol_)
        }
        if let vxlan = raw.vxlan {
            link.vxlan = VXLAN(
                vni: vxlan.vni, group: vxlan.group, local: vxlan.local, port: vxlan.port,
                device: vxlan.deviceIndex.flatMap { names[$0] }, learning: vxlan.learning)
        }
        if link.kind == .veth {
            link.peer = sameNamespaceLink
            link.peerNetnsid = raw.linkNetnsid
        }
        if let port = raw.bridgePort {
            link.bridgePort = BridgePort(
                state: port.state, priority: port.priority, cost: port.cost)
        }
        return link
    }

    private static func kind(of raw: NetlinkLink) -> LinkKind {
        if let kind = raw.kind { return LinkKind(rawValue: kind) }
        return raw.isLoopback ? .loopback : .device
    }
}
