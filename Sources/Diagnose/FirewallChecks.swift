import Topology

extension Diagnose {
    // MARK: security groups, as the model read them from the firewall

    static func securityGroupChecks(_ host: HostFacts) -> [Finding] {
        guard host.snapshot.firewall != nil else { return [] }
        var findings: [Finding] = []
        for network in host.snapshot.networks {
            guard let firewall = network.firewall, let framework = firewall.framework else { continue }
            let bridge = network.bridge
            let members = network.members.map(\.domain)
            if !firewall.enforced {
                let reason =
                    !firewall.filtered
                    ? (host.snapshot.host.bridgeNetfilter == nil
                        ? "br_netfilter is not loaded" : "net.bridge.bridge-nf-call-iptables is 0")
                    : "FORWARD does not send \(bridge)'s traffic both ways to \(framework.chain)"
                findings.append(
                    finding(
                        .sgNotEnforced, .named(bridge),
                        "security groups on \(bridge) are not enforced: \(reason)",
                        why: "its VMs' rules are there but no bridged packet meets them: every port is open",
                        action: firewall.filtered
                            ? "iptables -S FORWARD | grep \(bridge); restart the agent (security_group.py "
                                + "can_bridge_firewall)"
                            : "modprobe br_netfilter; sysctl -w net.bridge.bridge-nf-call-iptables=1 "
                                + "net.bridge.bridge-nf-call-ip6tables=1 net.bridge.bridge-nf-call-arptables=1",
                        related: [bridge] + members))
            }
            if let accepted = framework.uplinkAccept, let uplink = network.uplink, accepted != uplink {
                findings.append(
                    finding(
                        .sgUplink, .named(bridge),
                        "\(framework.chain) accepts traffic leaving by \(accepted), but \(bridge)'s uplink is "
                            + uplink,
                        why:
                            "what VMs send off the host is judged by the security groups of no VM and dropped: "
                            + "system VMs lose the management server (CloudStack PRs 4303, 4740, 5318)",
                        action: "iptables -S \(framework.chain); the agent rewrites it on restart "
                            + "(security_group.py can_bridge_firewall)",
                        related: [bridge, uplink, accepted]))
            }
        }
        for domain in host.snapshot.domains where domain.isActive {
            for nic in domain.nics {
                findings += nicSecurityGroupChecks(domain, nic, host: host)
            }
        }
        let domains = host.domains
        for record in host.snapshot.firewall?.agentRecords ?? [] {
            guard let domain = domains[record.vm], domain.isActive, let id = domain.id, let written = record.domainID,
                written != id
            else { continue }
            findings.append(
                finding(
                    .sgRecordDomain, .named(record.vm),
                    "the agent wrote \(record.vm)'s rules for domain id \(written); it runs as id \(id)",
                    why:
                        "the VM was restarted without its security group being redone: its taps may be new and "
                        + "its rules name the old ones",
                    action: "cat /var/run/cloud/\(record.vm).log; virsh domid \(record.vm); reboot the VM from "
                        + "CloudStack to have the agent redo its rules",
                    related: [record.vm], severity: .warning))
        }
        return findings
    }

    private static func nicSecurityGroupChecks(_ domain: Domain, _ nic: NIC, host: HostFacts) -> [Finding] {
        guard let tap = nic.tap, let bridge = nic.hostBridge ?? nic.bridge else { return [] }
        let ref = NICRef(domain: domain.name, index: nic.index)
        let related = [domain.name, tap, bridge]
        var findings: [Finding] = []
        let framework = host.networks[bridge]?.firewall?.framework
        // security_group.py gives user VMs their group and system VMs (routers, SSVM, CPVM) a chain of their own:
        // without either jump the bridge framework's last rule drops the NIC's traffic.
        let laidOut = domain.role == .user || domain.role == .router || domain.role?.isSystemVM == true
        if let framework, laidOut, nic.securityGroup?.directions.count ?? 0 < 2 {
            let has = nic.securityGroup?.directions ?? []
            let what =
                has.isEmpty
                ? "no security group chain is jumped to for its tap \(tap)"
                : "its tap \(tap) is sent to \(nic.securityGroup!.chain) only for traffic "
                    + (has == [.in] ? "from the VM" : "to the VM")
            findings.append(
                finding(
                    .sgMissing, .nic(ref), "\(ref) is on \(bridge), which has security groups, but \(what)",
                    why:
                        "its traffic falls to FORWARD's DROP for \(bridge): the VM is cut off (CloudStack issue "
                        + "3057)",
                    action: "iptables -S \(framework.chain)-IN | grep \(tap); iptables -S \(framework.chain)-OUT | "
                        + "grep \(tap); stop and start the VM from CloudStack to have the agent redo its rules",
                    related: related))
        }
        guard let group = nic.securityGroup else { return findings }
        if let expected = group.expectedChain {
            findings.append(
                finding(
                    .sgWrongChain, .nic(ref),
                    "\(ref)'s tap \(tap) is sent to \(group.chain), not to its own \(expected)",
                    why: "another VM's rules apply to it: traffic its group allows is dropped, what it forbids "
                        + "passes (CloudStack issue 3568)",
                    action: "iptables -S | grep -- '--physdev-[io][nu]t* \(tap) '; virsh domiflist \(domain.name)",
                    related: related))
        }
        for set in group.addressSets ?? [] {
            let problem: String? =
                if set.members == nil {
                    "ipset \(set.name) does not exist"
                } else if let missing = set.missing {
                    "ipset \(set.name) does not hold \(missing.joined(separator: ", "))"
                } else {
                    nil
                }
            guard let problem else { continue }
            findings.append(
                finding(
                    .sgAddressSet, .nic(ref), "\(ref): \(problem)",
                    why: "\(group.chain) drops what the VM sends from an address not in the set, and what is sent to "
                        + "it: the address is treated as spoofed",
                    action: "ipset list \(set.name)", related: related))
        }
        if let spoofing = group.antiSpoofing {
            let mac = nic.mac?.lowercased()
            let macs = spoofing.macs.map { $0.lowercased() }
            var wrong: [String] = []
            if let mac, !macs.isEmpty, !macs.allSatisfy({ $0 == mac }) {
                wrong.append("MAC \(spoofing.macs.filter { $0.lowercased() != mac }.joined(separator: ", "))")
            }
            let known = [nic.ip].compactMap { $0 }.filter { !$0.contains(":") }
            if !known.isEmpty, !spoofing.ips.isEmpty, !spoofing.ips.allSatisfy(known.contains) {
                wrong.append("IP \(spoofing.ips.filter { !known.contains($0) }.joined(separator: ", "))")
            }
            if !wrong.isEmpty {
                findings.append(
                    finding(
                        .sgAntiSpoofing, .nic(ref),
                        "\(ref)'s anti-spoofing (\(spoofing.chains[0])) allows \(wrong.joined(separator: " and ")), "
                            + "not the NIC's own \(([nic.mac] + known).compactMap { $0 }.joined(separator: " / "))",
                        why: "the VM's own frames or ARP are dropped, or it may pose as another VM",
                        action: "ebtables -t nat -L \(spoofing.chains[0]) --Lc; virsh domiflist \(domain.name)",
                        related: related))
            }
        }
        return findings
    }

    // MARK: the host firewall

    static func hostFirewallChecks(_ host: HostFacts) -> [Finding] {
        guard let firewall = host.snapshot.firewall else { return [] }
        var findings: [Finding] = []
        // Bridged traffic meets FORWARD only through br_netfilter.
        if host.snapshot.host.bridgeNetfilter?.iptables == true {
            let forwards = firewall.tables.filter { $0.isIPFilter && $0.family == .ip }.compactMap { table in
                table.chains.first { $0.hook == .forward && $0.policy == .drop }.map { (table, $0) }
            }
            let exposed = host.snapshot.networks.filter { !$0.members.isEmpty && $0.firewall?.enforced != true }
            for (table, chain) in forwards {
                // A rule lets a bridge through when it names the bridge or one of its taps, or any bridged frame.
                let cut = exposed.filter { network in
                    let taps = network.members.compactMap(\.tap)
                    return !chain.rules.contains { rule in
                        guard rule.verdict != .drop, rule.target == nil else { return false }
                        let anyBridged =
                            rule.matches.inInterface == nil && rule.matches.outInterface == nil
                            && rule.matches.physdevIsBridged?.inverted == false
                        return anyBridged || rule.mentions(network.bridge) || taps.contains(where: rule.mentions)
                    }
                }
                guard !cut.isEmpty else { continue }
                let bridges = cut.map(\.bridge)
                findings.append(
                    finding(
                        .forwardDrop, .named("FORWARD"),
                        "FORWARD (\(table.displayName)) drops by policy, and no rule in it lets the bridged traffic of "
                            + "\(bridges.joined(separator: ", ")) through",
                        why:
                            "with br_netfilter on, frames between VMs and out of the uplink meet FORWARD: they are "
                            + "dropped (ufw, firewalld; CloudStack issue 9027)",
                        action:
                            "iptables -I FORWARD -m physdev --physdev-is-bridged -j ACCEPT, or "
                            + "sysctl -w net.bridge.bridge-nf-call-iptables=0 when no security groups are used",
                        related: bridges + cut.flatMap { $0.members.map(\.domain) + $0.members.compactMap(\.tap) }))
            }
        }
        let nftRules = firewall.tables.contains { $0.backend == .nft && $0.isIPFilter && $0.hasRules }
        let legacy = firewall.tables.filter { $0.backend != .nft && $0.hasRules }
        if nftRules, !legacy.isEmpty {
            findings.append(
                finding(
                    .firewallTwoBackends, .source(.firewall),
                    "rules are in both nftables (iptables-nft) and "
                        + Set(legacy.map(\.backend.rawValue)).sorted().joined(separator: ", "),
                    why: "both sets run, one after the other; iptables -L shows only one of them",
                    action: "iptables-legacy-save; iptables-nft-save; keep one (update-alternatives --config iptables)",
                    related: []))
        }
        if let conntrack = firewall.conntrack, conntrack.max > 0, conntrack.count * 10 >= conntrack.max * 9 {
            let full = conntrack.count >= conntrack.max
            findings.append(
                finding(
                    .conntrackFull, .named("nf_conntrack"),
                    "connection tracking holds \(conntrack.count) of \(conntrack.max) entries",
                    why: full
                        ? "the table is full: new flows are dropped (every security-group flow is tracked)"
                        : "near full: when it is, new flows are dropped (every security-group flow is tracked)",
                    action: "sysctl net.netfilter.nf_conntrack_max; conntrack -S", related: [],
                    severity: full ? .error : .warning))
        }
        return findings
    }
}

extension FirewallTable {
    var hasRules: Bool { chains.contains { !$0.rules.isEmpty } }
}
