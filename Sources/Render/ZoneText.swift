import Foundation
import Topology
import Zone

/// `kvmtopo zone show`: each network shared by the hosts, with per host its bridge, MTU, uplink and underlay, its
/// VXLAN group, its members and the router where it runs; then the domains found on more than one host.
public enum ZoneText {
    /// - Parameters:
    ///   - networks: the networks to draw (all, or a scope's); `domains` likewise.
    ///   - focus: the VM a scope names: where it runs, and per NIC its network and where that network's router is.
    public static func render(
        _ zone: Zone, networks: [ZoneNetwork]? = nil, domains: [ZoneDomain]? = nil, focus: ZoneDomain? = nil,
        style: DiagramStyle
    ) -> String {
        let shown = networks ?? zone.networks
        let hosts = zone.hosts.map { clean($0.name) }.joined(separator: ", ")
        let counts = "\(zone.networks.count) networks\(style.dot)\(zone.domains.count) domains"
        var lines: [Line] = [
            [
                Segment(text: "Zone", tone: .heading),
                Segment(text: "\(style.dot)\(zone.hosts.count) hosts (\(hosts))\(style.dot)\(counts)"),
            ]
        ]
        if let focus {
            lines += [[]] + self.focus(focus, in: zone, style: style)
        }
        for network in shown {
            lines += [[], [Segment(text: clean(network.title), tone: .heading)]]
            let width = network.hosts.map { $0.host.unicodeScalars.count }.max() ?? 0
            for (index, onHost) in network.hosts.enumerated() {
                let branch = index == network.hosts.count - 1 ? style.lastBranch : style.branch
                let pad = String(repeating: " ", count: width - onHost.host.unicodeScalars.count)
                var facts = [clean(onHost.bridge)]
                if let mtu = onHost.mtu { facts.append("mtu \(mtu)") }
                if let uplink = onHost.uplink {
                    let under = onHost.underlay.flatMap { underlay -> String? in
                        guard underlay != uplink else { return nil }
                        return " over \(clean(underlay))" + (onHost.underlayMTU.map { " (\($0))" } ?? "")
                    }
                    facts.append(clean(uplink) + (under ?? ""))
                }
                if let group = onHost.vxlanGroup {
                    facts.append("group \(group)" + (onHost.vxlanPort.map { ":\($0)" } ?? ""))
                }
                var line: Line = [
                    Segment(text: "  " + branch + clean(onHost.host) + pad + "  " + facts.joined(separator: style.dot))
                ]
                if let router = onHost.router {
                    line.append(Segment(text: "\(style.dot)\(style.routerMark) \(clean(router))", tone: .router))
                }
                lines.append(line)
                let others = onHost.members.filter { $0 != onHost.router }
                let indent =
                    (index == network.hosts.count - 1 ? "     " : "  " + style.pipe)
                    + String(repeating: " ", count: width + 2)
                // Wrapped rather than cut at the terminal's width: every member is named.
                for row in wrap(others.map(clean), width: style.width - indent.unicodeScalars.count) {
                    lines.append([Segment(text: indent + row, tone: .dim)])
                }
            }
            if network.needsRouter, network.routerHosts.isEmpty {
                lines.append([
                    Segment(text: "  \(style.warningMark) its router runs on none of these hosts", tone: .warning)
                ])
            }
        }
        let several = (domains ?? zone.domains).filter { Set($0.placements.map(\.host)).count > 1 }
        if !several.isEmpty {
            lines += [[], [Segment(text: "On more than one host", tone: .heading)]]
            for domain in several {
                let places = domain.placements.map { "\(clean($0.host)) (\($0.state))" }.joined(separator: ", ")
                lines.append([Segment(text: "  \(clean(domain.name)): \(places)", tone: .warning)])
            }
        }
        return lines.map(style.render).joined(separator: "\n") + "\n"
    }

    /// Names joined with ", " into rows of at most `width` characters (a longer name gets a row of its own).
    static func wrap(_ names: [String], width: Int) -> [String] {
        var rows: [String] = []
        for name in names {
            if let last = rows.last, last.unicodeScalars.count + 2 + name.unicodeScalars.count <= width - 1 {
                rows[rows.count - 1] = last + ", " + name
            } else {
                if !rows.isEmpty { rows[rows.count - 1] += "," }
                rows.append(name)
            }
        }
        return rows
    }

    /// "i-2-40-VM on kvm02 (running)", then a line per NIC: its bridge, network and the router's host.
    static func focus(_ domain: ZoneDomain, in zone: Zone, style: DiagramStyle) -> [Line] {
        var lines: [Line] = []
        for placement in domain.placements {
            lines.append([
                Segment(text: clean(domain.name), tone: .heading),
                Segment(text: " on \(clean(placement.host)) (\(placement.state))"),
            ])
            for nic in placement.nics {
                var facts = ["eth\(nic.index)"] + [nic.mac, nic.bridge].compactMap { $0.map(clean) }
                let network = zone.networks.first { network in
                    network.hosts.contains { $0.host == placement.host && $0.bridge == nic.bridge }
                }
                if let network {
                    facts.append(clean(network.title))
                    let routers = network.hosts.compactMap { onHost in
                        onHost.router.map { "\(style.routerMark) \(clean($0)) on \(clean(onHost.host))" }
                    }
                    if !routers.isEmpty {
                        facts.append("router " + routers.joined(separator: ", "))
                    } else if network.needsRouter {
                        facts.append("\(style.warningMark) its router on none of these hosts")
                    }
                }
                lines.append([Segment(text: "  " + facts.joined(separator: style.dot))])
            }
        }
        return lines
    }

    /// `kvmtopo zone dump --json`: the zone with its own schema version.
    public static func json(_ zone: Zone) -> Data {
        Versioned(schemaVersion: Zone.schemaVersion, body: zone).json
    }
}
