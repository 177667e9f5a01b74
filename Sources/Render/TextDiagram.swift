import Diagnose
import Topology

/// The text diagrams of `kvmtopo show`: networks, routers and VMs first, with the devices (taps, bridges,
/// uplinks) as the way there, and every problem diagnose finds shown where it is (so the two never disagree).
/// Reads only the finished snapshot.
public struct TextDiagram {
    let snapshot: HostSnapshot
    let style: DiagramStyle
    let links: [String: Link]
    let domains: [String: Domain]
    let networksByID: [String: Network]
    /// Built once: each network block and member looks here instead of scanning every link and warning.
    let tapsByBridge: [String: [Link]]
    /// diagnose's errors and warnings (its information is for diagnose alone), by what they are about.
    let problems: [Finding]
    let problemsBySubject: [Subject: [Finding]]

    public init(_ snapshot: HostSnapshot, style: DiagramStyle) {
        self.snapshot = snapshot
        self.style = style
        links = Dictionary(snapshot.links.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        domains = Dictionary(snapshot.domains.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        networksByID = Dictionary(snapshot.networks.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        tapsByBridge = Dictionary(
            grouping: snapshot.links.filter { $0.kind == .tun && $0.master != nil }, by: { $0.master! })
        problems = Diagnose.run(snapshot).filter { $0.severity > .info }
        problemsBySubject = Dictionary(grouping: problems, by: \.subject)
    }

    // MARK: views

    /// The whole host: header, then control, management, public and storage networks, then each isolated
    /// network and each VPC with its tiers, then anything else, then the problems not shown in place.
    public func host() -> String {
        var lines: [Line] = [header()]
        var shown: Set<Finding> = []
        var vpcsDrawn: Set<String> = []
        for network in snapshot.networks {
            if network.kind == .vpcTier, let vpc = snapshot.vpcs.first(where: { $0.tiers.contains(network.id) }) {
                guard vpcsDrawn.insert(vpc.router).inserted else { continue }
                lines += [[]] + vpcBlock(vpc, shown: &shown)
            } else {
                lines += [[]] + networkBlock(network, indent: "", inVPC: false, shown: &shown)
            }
        }
        let rest = problems.filter { !shown.contains($0) }
        if !rest.isEmpty {
            lines += [[], [Segment(text: "Problems", tone: .heading)]]
            lines += rest.map { [mark($0, text: "\(clean($0.subject.description)): \(clean($0.message))")] }
        }
        return text(lines)
    }

    public func network(_ selector: String) throws(LookupError) -> String {
        let network = try snapshot.network(selectedBy: selector)
        var shown: Set<Finding> = []
        return text([header(), []] + networkBlock(network, indent: "", inVPC: false, shown: &shown))
    }

    public func vpc(_ router: String) throws(LookupError) -> String {
        guard let vpc = snapshot.vpcs.first(where: { $0.router == router }) else {
            throw LookupError(kind: "VPC router", name: router, candidates: snapshot.vpcs.map(\.router))
        }
        var shown: Set<Finding> = []
        return text([header(), []] + vpcBlock(vpc, shown: &shown))
    }

    /// One VM: each NIC's path from the guest's ethN to the wire, and who else is on that bridge.
    public func vm(_ name: String) throws(LookupError) -> String {
        guard let domain = domains[name] else {
            throw LookupError(kind: "VM", name: name, candidates: snapshot.domains.map(\.name))
        }
        let nicCount = domain.nics.count == 1 ? "1 NIC" : "\(domain.nics.count) NICs"
        var lines: [Line] = [
            [
                Segment(text: clean(domain.name), tone: .heading),
                Segment(text: "  \(domain.state)\(style.dot)\(roleName(domain))\(style.dot)\(nicCount)"),
            ]
        ]
        if let error = domain.xmlError {
            lines.append([Segment(text: "\(style.errorMark) \(clean(error))", tone: .error)])
        }
        for nic in domain.nics {
            lines.append([])
            lines.append(pathLine(nic))
            let network = snapshot.networks.first { $0.members.contains { $0.domain == name && $0.nic == nic.index } }
            if let network {
                lines.append([Segment(text: "      \(title(of: network))\(style.dot)" + describe(network))])
                let others = network.members.filter { $0.domain != name }
                if let gateway = network.gateway, gateway.domain != name {
                    lines.append([
                        Segment(text: "      router  "),
                        Segment(text: memberText(gateway.domain, gateway.nic), tone: .router),
                        Segment(text: " (gateway\(gateway.ip.map { " \($0)" } ?? ""))"),
                    ])
                }
                let peers = others.filter { $0.domain != network.gateway?.domain }
                lines.append([
                    Segment(
                        text: "      peers   "
                            + (peers.isEmpty
                                ? "none" : peers.map { memberText($0.domain, $0.nic) }.joined(separator: ", ")))
                ])
            }
            lines += firewallLines(nic, on: network)
            // The NIC's own problems, then its network's (a bridge down, security groups not enforced) and the
            // host's that name the network (FORWARD dropping its traffic): they cut this VM off too.
            let around =
                network.map { network in
                    networkProblems(network)
                        + problems.filter {
                            $0.related.contains(network.bridge) && $0.subject.nic == nil
                                && links[$0.subject.description] == nil
                        }
                } ?? []
            for problem in nicProblems(domain, nic) + around { lines.append([Segment(text: "      "), mark(problem)]) }
        }
        return text(lines)
    }

    // MARK: blocks

    private func header() -> Line {
        let host = snapshot.host
        var parts = [clean(host.hostname)]
        if host.sources.libvirt.status == .ok {
            parts.append("libvirt \(clean(host.sources.libvirt.uri ?? ""))")
        } else {
            parts.append("libvirt unavailable")
        }
        let routers = snapshot.domains.filter { $0.role == .router }.count
        let system = snapshot.domains.filter { $0.role?.isSystemVM == true }.count
        let vms = snapshot.domains.count - routers - system
        parts.append(
            "\(count(snapshot.domains.count, "domain")) (\(count(routers, "router")), "
                + "\(count(system, "system VM")), \(count(vms, "VM")))"
        )
        parts.append(count(snapshot.bridges.count, "bridge"))
        var line: Line = [Segment(text: parts.joined(separator: style.dot), tone: .heading)]
        let errors = problems.filter { $0.severity == .error }.count
        let warnings = problems.count - errors
        if errors > 0 {
            line.append(Segment(text: style.dot))
            line.append(Segment(text: count(errors, "error"), tone: .error))
        }
        if warnings > 0 {
            line.append(Segment(text: errors > 0 ? ", " : style.dot))
            line.append(Segment(text: count(warnings, "warning"), tone: .warning))
        }
        return line
    }

    private func vpcBlock(_ vpc: VPC, shown: inout Set<Finding>) -> [Line] {
        var lines: [Line] = [
            [
                Segment(text: "VPC", tone: .heading), Segment(text: "  router "),
                Segment(text: clean(vpc.router), tone: .router),
            ]
        ]
        let tiers = vpc.tiers.compactMap { networksByID[$0] }
        for (index, tier) in tiers.enumerated() {
            let last = index == tiers.count - 1
            var block = networkBlock(tier, indent: last ? "   " : style.pipe, inVPC: true, shown: &shown)
            block[0].insert(Segment(text: last ? style.lastBranch : style.branch), at: 0)
            lines += block
        }
        return lines
    }

    /// A network's title line and one line per member, columns aligned within the network.
    private func networkBlock(_ network: Network, indent: String, inVPC: Bool, shown: inout Set<Finding>) -> [Line] {
        var title: Line = [
            Segment(text: inVPC ? "tier" : title(of: network), tone: inVPC ? .plain : .heading),
            Segment(text: "  " + describe(network)),
        ]
        for problem in networkProblems(network) {
            title += [Segment(text: "  "), mark(problem)]
            shown.insert(problem)
        }

        let guestNetwork = network.kind.carriesGuests || network.kind == .unknown
        var rows: [[Segment]] = network.members.map { member in
            let domain = domains[member.domain]
            let isRouter = domain?.role == .router
            var row = [
                Segment(text: guestNetwork ? (isRouter ? style.routerMark : " ") : "", tone: .router),
                Segment(text: clean(member.domain), tone: isRouter ? .router : .plain),
                Segment(text: "eth\(member.nic)"),
                Segment(text: clean(member.tap ?? "-")),
                Segment(text: member.mac ?? "", tone: .dim),
            ]
            var info: [String] = []
            if network.gateway?.domain == member.domain && network.gateway?.nic == member.nic {
                info.append("gateway" + (network.gateway?.ip.map { " \($0)" } ?? ""))
            } else if let ip = member.ip {
                info.append(ip)
            }
            row.append(Segment(text: info.joined(separator: " ")))
            if let domain, let nic = domain.nic(member.nic) {
                for problem in nicProblems(domain, nic) {
                    row.append(mark(problem))
                    shown.insert(problem)
                }
            }
            return row
        }
        // Taps on this bridge that no domain claims.
        let memberTaps = Set(network.members.compactMap(\.tap))
        for tap in tapsByBridge[network.bridge] ?? [] where !memberTaps.contains(tap.name) {
            var row = [
                Segment(text: guestNetwork ? "?" : "", tone: .warning), Segment(text: "(no domain)", tone: .warning),
                Segment(text: ""), Segment(text: clean(tap.name)), Segment(text: tap.mac ?? "", tone: .dim),
                Segment(text: ""),
            ]
            for problem in problemsBySubject[.named(tap.name)] ?? [] {
                row.append(mark(problem))
                shown.insert(problem)
            }
            rows.append(row)
        }
        return [title]
            + aligned(rows).enumerated().map { index, row in
                let last = index == rows.count - 1
                return [Segment(text: indent + (last ? style.lastBranch : style.branch))] + row
            }
    }

    // MARK: pieces

    private func title(of network: Network) -> String {
        switch network.kind.known {
        case .control?: "Control"
        case .management?: "Management"
        case .public?: "Public"
        case .storage?: "Storage"
        case .isolated?: "Isolated network"
        case .vpcTier?: "VPC tier of \(clean(network.router ?? "?"))"
        case .shared?: "Shared network"
        case .guest?: "Guest network"
        case .unknown?: "Bridge"
        case nil: clean(network.kind.rawValue)  // a newer kvmtopo's word, shown as it is
        }
    }

    /// `VXLAN 1001 · brvx-1001 169.254.0.1/16 ── vxlan1001 ── eth1 · mtu 1500`
    private func describe(_ network: Network) -> String {
        var parts: [String] = []
        if let vlan = network.vlan { parts.append("VLAN \(vlan)") }
        if let vni = network.vni { parts.append("VXLAN \(vni)") }
        var chain = clean(network.bridge)
        if let address = links[network.bridge]?.addresses.first(where: { $0.family == .inet }) {
            chain += " \(address.address)/\(address.prefixLength)"
        }
        if network.kind == .control { chain += " (link-local, no uplink)" }
        for hop in hops(below: network) where !chain.hasSuffix(clean(hop)) {
            chain += style.link + clean(hop)
        }
        parts.append(chain)
        if let mtu = network.mtu { parts.append("mtu \(mtu)") }
        if network.routerElsewhere == true {
            let gateway =
                network.remoteGateway.map { " (gateway \(clean($0.ip))\($0.mac.map { " \(clean($0))" } ?? ""))" } ?? ""
            parts.append("router on another host" + gateway)
        }
        if network.kind == .isolated, let router = network.router {
            parts.append("router \(clean(router))")
        }
        if let groups = securityGroupState(network) { parts.append(groups) }
        return parts.joined(separator: style.dot)
    }

    /// The uplink, the traffic label's bridge a VXLAN device is bound to (as the agent binds it), and the NIC.
    private func hops(below network: Network) -> [String] {
        let bound = network.uplink.flatMap { links[$0]?.vxlan?.device }.flatMap {
            links[$0]?.kind == .bridge ? $0 : nil
        }
        return [network.uplink, bound, network.physicalInterface].compactMap { $0 }
    }

    /// What diagnose found about the network's bridge, its uplink and the NIC under it (for this network).
    private func networkProblems(_ network: Network) -> [Finding] {
        let bridge = problemsBySubject[.named(network.bridge)] ?? []
        let uplink = network.uplink.flatMap { links[$0] }
        let below = [network.uplink, uplink?.vxlan?.device ?? uplink?.vlan?.parent, network.physicalInterface]
            .compactMap { $0 }.filter { $0 != network.bridge }
        return bridge
            + Set(below).sorted().flatMap { device in
                (problemsBySubject[.named(device)] ?? []).filter { $0.related.contains(network.bridge) }
            }
    }

    /// What diagnose found about a NIC: by its name, or by its tap.
    private func nicProblems(_ domain: Domain, _ nic: NIC) -> [Finding] {
        let byName = problemsBySubject[.nic(NICRef(domain: domain.name, index: nic.index))] ?? []
        return byName + (nic.tap.flatMap { problemsBySubject[.named($0)] } ?? [])
    }

    /// A problem in place: ✗ for an error, ⚠ for a warning, with its message (or the text given).
    private func mark(_ problem: Finding, text: String? = nil) -> Segment {
        let error = problem.severity == .error
        return Segment(
            text: "\(error ? style.errorMark : style.warningMark) \(text ?? clean(problem.message))",
            tone: error ? .error : .warning)
    }

    /// `eth0 02:00:4c:5e:00:14 ── vnet19 ── brvx-2001 ── vxlan2001 ── eth1 ─▶ other hosts`
    private func pathLine(_ nic: NIC) -> Line {
        var line: Line = [
            Segment(text: "eth\(nic.index)", tone: .heading),
            Segment(text: "  " + (nic.mac ?? "?") + (nic.ip.map { " (\($0))" } ?? "")),
        ]
        line.append(
            Segment(text: style.link + clean(nic.tap ?? "(no tap)"), tone: nic.tapFound == false ? .error : .plain))
        guard let bridge = nic.hostBridge ?? nic.bridge else { return line }
        line.append(Segment(text: style.link + clean(bridge)))
        if let network = snapshot.networks.first(where: { $0.bridge == bridge }) {
            var previous = bridge
            for hop in hops(below: network) where hop != previous {
                line.append(Segment(text: style.link + clean(hop)))
                previous = hop
            }
            if network.uplink != nil { line.append(Segment(text: style.outward + "other hosts")) }
        }
        return line
    }

    private func memberText(_ domain: String, _ nic: Int) -> String {
        let tap = domains[domain]?.nics.first { $0.index == nic }?.tap
        return "\(clean(domain)) eth\(nic)" + (tap.map { " \(clean($0))" } ?? "")
    }

    private func roleName(_ domain: Domain) -> String {
        switch domain.role?.known {
        case .user?: "user VM"
        case .router?: (domain.routerKind.map { "\($0) " } ?? "") + "virtual router"
        case .secondaryStorage?: "secondary storage VM"
        case .consoleProxy?: "console proxy VM"
        case .internalLB?: "internal load balancer VM"
        case .elasticLB?: "elastic load balancer VM"
        case .other?: "VM"
        case nil: domain.role.map { "\(clean($0.rawValue)) VM" } ?? "VM"
        }
    }

    private func count(_ number: Int, _ noun: String) -> String { number == 1 ? "1 \(noun)" : "\(number) \(noun)s" }

    /// Rows are marker, domain, ethN, tap, MAC, info, then problems. The first five columns are padded to
    /// their widest cell; an empty marker column (not a guest network) and an empty info cell take no room.
    private func aligned(_ rows: [[Segment]]) -> [[Segment]] {
        let padded = 5
        let widths = (0..<padded).map { column in rows.map { $0[column].text.count }.max() ?? 0 }
        return rows.map { row in
            var line: [Segment] = []
            for column in 0..<padded where widths[column] > 0 || column > 0 {
                var cell = row[column]
                cell.text += String(repeating: " ", count: widths[column] - cell.text.count)
                line.append(cell)
                line.append(Segment(text: column == 0 ? " " : "  "))
            }
            let rest = row[padded...].filter { !$0.text.isEmpty }
            for (index, segment) in rest.enumerated() {
                if index > 0 { line.append(Segment(text: "  ")) }
                line.append(segment)
            }
            return line
        }
    }

    private func text(_ lines: [Line]) -> String {
        lines.map(style.render).joined(separator: "\n") + "\n"
    }
}

/// Every name from the host is drawn through this (short, as it is used on every cell).
func clean(_ text: String) -> String { text.escapingControlCharacters }
