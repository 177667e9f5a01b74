import Topology

extension Diagnose {
    // MARK: VXLAN devices and their underlay

    static func vxlanChecks(_ host: HostFacts) -> [Finding] {
        groupLimitChecks(host) + bridgePortUnderlayChecks(host)
    }

    /// Every VXLAN device on one UDP port shares one socket, and a socket joins at most igmp_max_memberships IPv4
    /// groups (one per group and underlay device): past it, the next `vxlanN` cannot come up.
    static func groupLimitChecks(_ host: HostFacts) -> [Finding] {
        guard let limit = host.snapshot.host.igmpMaxMemberships else { return [] }
        let joining = host.snapshot.links.filter { $0.vxlan?.group.map { !$0.contains(":") } == true }
        var findings: [Finding] = []
        for (port, devices) in Dictionary(grouping: joining, by: { $0.vxlan?.port ?? 0 }).sorted(by: { $0.key < $1.key }
        ) {
            let memberships = Set(devices.map { "\($0.vxlan?.group ?? "") \($0.vxlan?.device ?? "")" })
            guard memberships.count >= limit else { continue }
            let down = devices.filter { !$0.up }.map(\.name).sorted()
            let over = memberships.count > limit
            let portName = port == 0 ? "their UDP port" : "UDP port \(port)"
            findings.append(
                finding(
                    .vxlanGroupLimit, .named("igmp_max_memberships"),
                    "\(memberships.count) VXLAN multicast groups on \(portName), net.ipv4.igmp_max_memberships is "
                        + "\(limit)" + (down.isEmpty ? "" : "; down: " + down.joined(separator: ", ")),
                    why: over
                        ? "the devices past the limit cannot join their group and do not come up: their networks "
                            + "are cut off from other hosts"
                        : "at the limit: the next guest network on this host fails to come up (CloudStack "
                            + "documents raising it)",
                    action: "sysctl -w net.ipv4.igmp_max_memberships=\(max(limit * 2, memberships.count + 100))",
                    related: devices.map(\.name).sorted(), severity: over ? .error : .warning))
        }
        return findings
    }

    /// A VXLAN device bound to a NIC that is itself a bridge port (CloudStack PR 5078): the NIC's frames go to
    /// its bridge, so the VXLAN socket does not hear its own group and ARP between hosts fails. The agent binds
    /// it to the traffic label's bridge, which holds the NIC and the underlay address.
    static func bridgePortUnderlayChecks(_ host: HostFacts) -> [Finding] {
        host.snapshot.links.compactMap { link in
            guard let device = link.vxlan?.device, let bridge = host.links[device]?.master else { return nil }
            return finding(
                .vxlanUnderBridgePort, .named(link.name),
                "\(link.name) is bound to \(device), a port of bridge \(bridge)",
                why: "traffic to its group arrives on \(bridge), not \(device): ARP and broadcasts between hosts fail",
                action: "bind it to \(bridge): ip link del \(link.name) and let the agent recreate it over \(bridge)",
                related: [link.name, device, bridge] + [link.master].compactMap { $0 })
        }
    }
}
