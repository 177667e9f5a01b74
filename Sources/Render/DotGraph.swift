import Topology

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
