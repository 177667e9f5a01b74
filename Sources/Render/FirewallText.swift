import Topology

/// The firewall in `kvmtopo show`: a NIC's security group and the other rules naming its tap, and whether a
/// bridge's security groups are enforced.
extension TextDiagram {
    /// Under a NIC of `show vm`: its security group (ingress, egress, anti-spoofing, ipsets, with counters),
    /// then any other rule that names its tap.
    func firewallLines(_ nic: NIC, on network: Network?) -> [Line] {
        let indent = "      "
        var lines: [Line] = []
        if let group = nic.securityGroup {
            var head = "firewall  security group \(clean(group.chain))" + packets(group.packets)
            if network?.firewall?.enforced == false { head += "\(style.dot)not enforced" }
            lines.append([Segment(text: indent + head, tone: network?.firewall?.enforced == false ? .error : .plain)])
            let rest = indent + "          "
            if let ingress = group.ingress {
                lines.append([Segment(text: rest + "in   " + summary(ingress, peer: "from"))])
            }
            if let egress = group.egress {
                lines.append([Segment(text: rest + "out  " + summary(egress, peer: "to"))])
            }
            var guards: [String] = []
            if let spoofing = group.antiSpoofing {
                let allowed = (spoofing.macs + spoofing.ips).map(clean).joined(separator: " / ")
                guards.append("anti-spoofing " + (allowed.isEmpty ? "(no MAC or IP named)" : allowed))
            }
            for set in group.addressSets ?? [] {
                let members = set.members.map { $0.isEmpty ? "empty" : $0.map(clean).joined(separator: ", ") }
                guards.append("ipset \(clean(set.name)) " + (members ?? "missing"))
            }
            if !guards.isEmpty { lines.append([Segment(text: rest + guards.joined(separator: style.dot))]) }
        }
        for rule in nic.firewallRules ?? [] {
            lines.append([
                Segment(
                    text: indent + "rule      \(clean(rule.table)) \(clean(rule.chain)): \(clean(rule.text))"
                        + packets(rule.packets),
                    tone: rule.verdict == .drop ? .warning : .plain)
            ])
        }
        return lines
    }

    /// For a network's description: whether its bridge's security groups are enforced.
    func securityGroupState(_ network: Network) -> String? {
        guard let firewall = network.firewall, firewall.framework != nil else { return nil }
        return firewall.enforced ? "security groups" : "security groups not enforced"
    }

    /// `icmp from 10.3.0.0/24 (4 pkts), tcp 22 from anywhere (0 pkts) · else drop (0 pkts)`; "all allowed" for
    /// an egress chain that returns everything.
    private func summary(_ rules: SecurityGroupRules, peer: String) -> String {
        if rules.allowsAll { return "all allowed" + packets(rules.finalPackets) }
        var parts = rules.rules.map { rule in
            var text = rule.protocol.map(clean) ?? "all"
            if let ports = rule.ports { text += " " + String(clean(ports).map { $0 == ":" ? "-" : $0 }) }
            if let type = rule.icmpType, type != "any" { text += " type \(clean(type))" }
            text += " \(peer) " + (rule.cidr.map(clean) ?? rule.set.map { "ipset \(clean($0))" } ?? "anywhere")
            if let verdict = rule.verdict, verdict != .accept, verdict != .return { text += " \(verdict)" }
            return text + packets(rule.packets)
        }.joined(separator: ", ")
        if parts.isEmpty { parts = "nothing allowed" }
        guard let final = rules.final else { return parts }
        return parts + style.dot + "else \(final == .return ? "allowed" : final.rawValue)" + packets(rules.finalPackets)
    }

    private func packets(_ count: Int?) -> String { count.map { " (\($0) pkts)" } ?? "" }
}
