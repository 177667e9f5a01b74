import Topology
import Zone

/// The host's graph for Graphviz: one cluster per network (inside one per VPC), domains as components, and
/// the chain domain ─ tap ─ bridge ─ uplink ─ physical NIC as edges. `dot -Tsvg` draws it.
public enum DotGraph {
    public static func render(_ snapshot: HostSnapshot) -> String {
        var out = [
            "graph kvmtopo {", "  graph [rankdir=LR, fontname=\"monospace\", label=\(quote(snapshot.host.hostname))];",
            "  node [fontname=\"monospace\", shape=box];",
        ]
        let links = Dictionary(snapshot.links.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var clustered: Set<String> = []

        func cluster(_ network: Network, indent: String) -> [String] {
            let label = [network.kind.rawValue, network.vlan.map { "VLAN \($0)" }, network.vni.map { "VXLAN \($0)" }]
                .compactMap { $0 }.joined(separator: " ")
            var lines = [
                "\(indent)subgraph \(quote("cluster_" + network.id)) {", "\(indent)  label=\(quote(label));",
                "\(indent)  \(quote(network.bridge)) [shape=ellipse\(down(links[network.bridge]))];",
            ]
            for member in network.members {
                if let tap = member.tap, clustered.insert(tap).inserted {
                    lines.append("\(indent)  \(quote(tap)) [shape=cds\(down(links[tap]))];")
                }
            }
            lines.append("\(indent)}")
            return lines
        }

        var vpcTiers: Set<String> = []
        for vpc in snapshot.vpcs {
            out.append("  subgraph \(quote("cluster_vpc_" + vpc.router)) {")
            out.append("    label=\(quote("VPC " + vpc.router));")
            for tier in snapshot.networks where vpc.tiers.contains(tier.id) {
                out += cluster(tier, indent: "    ")
                vpcTiers.insert(tier.id)
            }
            out.append("  }")
        }
        for network in snapshot.networks where !vpcTiers.contains(network.id) {
            out += cluster(network, indent: "  ")
        }
        for domain in snapshot.domains {
            let shape = domain.role == .router ? "component, style=bold" : "component"
            out.append("  \(quote("domain:" + domain.name)) [label=\(quote(domain.name)), shape=\(shape)];")
            for nic in domain.nics {
                guard let tap = nic.tap else { continue }
                if clustered.insert(tap).inserted { out.append("  \(quote(tap)) [shape=cds\(down(links[tap]))];") }
                out.append("  \(quote("domain:" + domain.name)) -- \(quote(tap)) [label=\(quote("eth\(nic.index)"))];")
            }
        }
        var edges: Set<String> = []
        for link in snapshot.links {
            if let master = link.master, link.kind == .tun || links[master]?.kind == .bridge {
                edges.insert("  \(quote(link.name)) -- \(quote(master));")
            }
            if let parent = link.vlan?.parent ?? link.vxlan?.device {
                edges.insert("  \(quote(link.name)) -- \(quote(parent)) [style=dashed];")
            }
        }
        out += edges.sorted()
        out.append("}")
        return out.joined(separator: "\n") + "\n"
    }

    private static func down(_ link: Link?) -> String {
        link?.up == false ? ", color=red, fontcolor=red" : ""
    }

    /// A DOT string literal: quotes and backslashes escaped, control characters dropped.
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars where scalar.properties.generalCategory != .control {
            if scalar == "\"" || scalar == "\\" { out += "\\" }
            out.unicodeScalars.append(scalar)
        }
        return out + "\""
    }
}

/// The zone's graph for Graphviz: a cluster per host holding its bridges and domains, and each network shared
/// across hosts as one node its hosts' bridges join (through their uplinks).
public enum ZoneDotGraph {
    public static func render(_ zone: Zone) -> String {
        var out = [
            "graph kvmtopo_zone {", "  graph [rankdir=LR, fontname=\"monospace\", label=\"zone\"];",
            "  node [fontname=\"monospace\", shape=box];",
        ]
        let quote = DotGraph.quote
        for host in zone.hosts {
            out.append("  subgraph \(quote("cluster_host_" + host.name)) {")
            out.append("    label=\(quote(host.name));")
            for network in zone.networks {
                for onHost in network.hosts where onHost.host == host.name {
                    out.append(
                        "    \(quote(host.name + ":" + onHost.bridge)) [label=\(quote(onHost.bridge)), shape=ellipse];")
                }
            }
            for domain in zone.domains {
                for placement in domain.placements where placement.host == host.name {
                    // Bold: a router; dashed: defined here but not running.
                    let style = placement.isActive ? (domain.role == .router ? ", style=bold" : "") : ", style=dashed"
                    let id = quote(host.name + ":domain:" + domain.name)
                    out.append("    \(id) [label=\(quote(domain.name)), shape=component\(style)];")
                }
            }
            out.append("  }")
        }
        for network in zone.networks {
            out.append("  \(quote("network:" + network.key)) [label=\(quote(network.title)), shape=doubleoctagon];")
            for onHost in network.hosts {
                let label = onHost.uplink.map { " [label=\(quote($0))]" } ?? ""
                out.append(
                    "  \(quote(onHost.host + ":" + onHost.bridge)) -- \(quote("network:" + network.key))\(label);")
            }
        }
        for domain in zone.domains {
            for placement in domain.placements {
                for nic in placement.nics {
                    guard let bridge = nic.bridge else { continue }
                    let ends =
                        "\(quote(placement.host + ":domain:" + domain.name)) -- \(quote(placement.host + ":" + bridge))"
                    out.append("  \(ends) [label=\(quote("eth\(nic.index)"))];")
                }
            }
        }
        out.append("}")
        return out.joined(separator: "\n") + "\n"
    }
}
