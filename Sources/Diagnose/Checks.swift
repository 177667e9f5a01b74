import Topology

extension Diagnose {
    // MARK: bridges and ports

    static func bridgeChecks(_ host: HostFacts) -> [Finding] {
        var findings: [Finding] = []
        for network in host.snapshot.networks {
            let bridge = network.bridge
            if let link = host.links[bridge], !link.up {
                findings.append(
                    finding(
                        .bridgeDown, .named(bridge), "bridge \(bridge) is administratively down",
                        why: "nothing crosses it: every VM on it is cut off", action: "ip link set \(bridge) up",
                        related: [bridge]))
            }
            if network.kind.carriesGuests, network.members.isEmpty {
                findings.append(
                    finding(
                        .guestBridgeEmpty, .named(bridge), "guest bridge \(bridge) has no VM on it",
                        why:
                            "normal for a persistent network, or one whose VMs all stopped; the agent removes "
                            + "it otherwise",
                        action: "ip -d link show master \(bridge)", related: [bridge]))
            }
        }
        for link in host.snapshot.links {
            guard let bridge = link.master else { continue }
            let owner = host.taps[link.name]
            let isUplink = host.networks[bridge]?.uplink == link.name
            // An uplink without carrier (a NIC unplugged, a VLAN device whose parent is down) cuts the network off too.
            let noCarrier = isUplink && [.down, .lowerLayerDown].contains(link.operState)
            if !link.up || noCarrier, owner != nil || isUplink {
                let what =
                    owner.map { "\($0.domain.name) eth\($0.nic.index)'s tap \(link.name)" }
                    ?? "uplink \(link.name) of \(bridge)"
                findings.append(
                    finding(
                        .portDown, .named(link.name), "\(what) is down",
                        why: owner == nil
                            ? "the network is cut off from other hosts" : "the VM is cut off from \(bridge)",
                        action: "ip link set \(link.name) up",
                        related: [link.name, bridge] + [owner?.domain.name].compactMap { $0 }))
            } else if link.up, let state = link.bridgePort?.state, state.withholdsFrames {
                findings.append(
                    finding(
                        .portNotForwarding, .named(link.name), "bridge port \(link.name) of \(bridge) is \(state)",
                        why: state == .blocking
                            ? "STP blocks it: frames to and from it are dropped (a loop, or a second path)"
                            : "STP has not let it forward yet (forward delay); frames are dropped until it does",
                        action: "bridge link show dev \(link.name); ip -d link show \(bridge) | grep stp",
                        related: [link.name, bridge] + [owner?.domain.name].compactMap { $0 },
                        severity: state == .blocking ? .error : .warning))
            }
        }
        // A link libvirt holds down is QEMU's alone: the tap stays up and on its bridge, and the guest sees no carrier.
        for domain in host.snapshot.domains where domain.isActive {
            for nic in domain.nics where nic.effectiveLinkState == .down {
                let tap = nic.tap ?? "its tap"
                let ref = NICRef(domain: domain.name, index: nic.index)
                findings.append(
                    finding(
                        .nicLinkDown, .nic(ref), "\(ref)'s link is held down by libvirt",
                        why: "the guest sees no carrier: the VM is cut off"
                            + (nic.bridge.map { " from \($0)" } ?? "")
                            + " though the host shows nothing wrong; CloudStack does this to a NIC whose link state "
                            + "is disabled, or a replug that did not finish",
                        action:
                            "virsh domif-getlink \(domain.name) \(tap); virsh domif-setlink \(domain.name) \(tap) up "
                            + "(or enable the NIC's link state in CloudStack)",
                        related: [domain.name] + [nic.tap, nic.bridge].compactMap { $0 }))
            }
        }
        for link in host.snapshot.links where link.name.count >= 15 {
            findings.append(
                finding(
                    .nameAtLimit, .named(link.name),
                    "\(link.name) is \(link.name.count) characters, the kernel's limit",
                    why:
                        "names CloudStack builds from it (VLAN devices, bridges) will not fit and the agent "
                        + "fails to plug VMs",
                    action: "ip -d link show \(link.name)", related: [link.name] + [link.master].compactMap { $0 }))
        }
        return findings
    }

    // MARK: MTU along each VM's path

    static func mtuChecks(_ host: HostFacts) -> [Finding] {
        var findings: [Finding] = []
        for network in host.snapshot.networks {
            guard let bridge = host.links[network.bridge] else { continue }
            let taps = network.members.compactMap { $0.tap.flatMap { host.links[$0] } }.filter {
                $0.master == network.bridge
            }
            let largest = taps.map(\.mtu).max() ?? bridge.mtu
            // The uplink must carry what the guests send.
            if let uplink = network.uplink.flatMap({ host.links[$0] }), uplink.mtu < largest {
                findings.append(
                    finding(
                        .mtuMismatch, .named(uplink.name),
                        "uplink \(uplink.name) has MTU \(uplink.mtu), VMs on \(network.bridge) send up to \(largest)",
                        why:
                            "larger packets are dropped at the uplink, silently: small pings work, real traffic stalls",
                        action: "ip link set \(uplink.name) mtu \(largest)", related: [uplink.name, network.bridge]))
            }
            // A tap smaller than the network (its uplink, else its largest tap) drops what the bridge forwards to it.
            let networkMTU = network.uplink.flatMap { host.links[$0]?.mtu } ?? largest
            for tap in taps where tap.mtu < networkMTU {
                findings.append(
                    finding(
                        .mtuMismatch, .named(tap.name),
                        "tap \(tap.name) has MTU \(tap.mtu), \(network.bridge) carries \(networkMTU)",
                        why: "packets larger than \(tap.mtu) for this VM are dropped by the bridge",
                        action: "ip link set \(tap.name) mtu \(networkMTU)",
                        related: [tap.name, network.bridge] + [host.taps[tap.name]?.domain.name].compactMap { $0 }))
            }
        }
        // The underlay needs room for VXLAN's headers, or a VLAN parent its VLAN device's MTU: one finding
        // per parent, naming every uplink it carries. A VXLAN device bound to a label bridge (as the agent binds
        // it) is limited by the bridge, whose MTU follows its NIC: the NIC is named when it is the smaller.
        var needs: [String: [(uplink: Link, needed: Int, bridge: String)]] = [:]
        for network in host.snapshot.networks {
            guard let uplink = network.uplink.flatMap({ host.links[$0] }),
                let device = uplink.vxlan?.device ?? uplink.vlan?.parent
            else { continue }
            var parent = device
            if let bridge = host.links[device], bridge.kind == .bridge,
                let nic = network.physicalInterface.flatMap({ host.links[$0] }), nic.mtu <= bridge.mtu
            {
                parent = nic.name
            }
            needs[parent, default: []].append((uplink, uplink.mtu + (uplink.vxlan?.overhead ?? 0), network.bridge))
        }
        for (parentName, carried) in needs.sorted(by: { $0.key < $1.key }) {
            guard let parent = host.links[parentName], let needed = carried.map(\.needed).max(), parent.mtu < needed
            else { continue }
            let short = carried.filter { $0.needed > parent.mtu }
            let what = short.map { need in
                "\(need.uplink.name) needs \(need.needed)"
                    + (need.uplink.vxlan.map { " (its \(need.uplink.mtu) + \($0.overhead) for VXLAN)" } ?? "")
            }
            findings.append(
                finding(
                    .mtuMismatch, .named(parent.name),
                    "\(parent.name) has MTU \(parent.mtu); " + what.joined(separator: ", "),
                    why: "full-size packets between hosts are dropped on the underlay; VMs on one host still talk",
                    action: "ip link set \(parent.name) mtu \(needed)",
                    related: [parent.name] + short.flatMap { [$0.uplink.name, $0.bridge] }))
        }
        return findings
    }

    // MARK: FDB

    static func fdbChecks(_ host: HostFacts) -> [Finding] {
        // Learned and static entries only: each port's own address is permanent and says nothing.
        let entries = host.snapshot.fdb.filter { !$0.isSelf && $0.state != .permanent && $0.bridge != nil }
        var findings: [Finding] = []
        for (key, same) in Dictionary(grouping: entries, by: { "\($0.bridge!) \($0.mac) \($0.vlan ?? 0)" }) {
            let ports = Set(same.map(\.port))
            guard ports.count > 1 else { continue }
            let bridge = same[0].bridge!
            findings.append(
                finding(
                    .fdbDuplicateMAC, .named(same[0].mac),
                    "\(same[0].mac) is on \(ports.sorted().joined(separator: " and ")) of \(bridge)",
                    why: "frames for it go to one port or the other: a cloned VM, a loop, or a stale static entry",
                    action: "bridge fdb show br \(bridge) | grep \(same[0].mac)",
                    related: [bridge] + ports.sorted() + [key]))
        }
        for (mac, same) in Dictionary(grouping: entries, by: \.mac) {
            let bridges = Set(same.compactMap(\.bridge))
            guard bridges.count > 1 else { continue }
            findings.append(
                finding(
                    .fdbDuplicateMAC, .named(mac), "\(mac) is on \(bridges.sorted().joined(separator: " and "))",
                    why: "one MAC in two networks: a VM cloned with its MAC, or a NIC plugged twice",
                    action: "bridge fdb show | grep \(mac)", related: bridges.sorted() + same.map(\.port)))
        }
        return findings
    }

    // MARK: link-local (control) network

    static func controlChecks(_ host: HostFacts) -> [Finding] {
        guard host.isCloudStack else { return [] }
        let control = host.roles.control
        let why =
            "the management server reaches routers and system VMs over 169.254.0.0/16 from this host: without "
            + "it they cannot be configured"
        guard let link = host.links[control] else {
            return [
                finding(
                    .controlBridgeMissing, .named(control), "there is no \(control) bridge", why: why,
                    action:
                        "restart the agent (it creates \(control)), or: ip link add \(control) type bridge; ip "
                        + "link set \(control) up; ip addr add 169.254.0.1/16 dev \(control)",
                    related: [control])
            ]
        }
        var findings: [Finding] = []
        if !link.addresses.contains(where: { $0.address == "169.254.0.1" && $0.prefixLength == 16 }) {
            findings.append(
                finding(
                    .controlAddressMissing, .named(control), "\(control) does not have 169.254.0.1/16", why: why,
                    action: "ip addr add 169.254.0.1/16 dev \(control)", related: [control]))
        }
        if let routes = host.snapshot.routes {
            let linkLocal = routes.filter { $0.family == .inet && $0.destination == "169.254.0.0/16" }
            for route in linkLocal where route.device != control {
                findings.append(
                    finding(
                        .linkLocalRoute, .named("169.254.0.0/16"),
                        "169.254.0.0/16 is routed via \(route.device ?? "?"), not \(control)",
                        why: why, action: "ip route del 169.254.0.0/16 dev \(route.device ?? "?")",
                        related: [control] + [route.device].compactMap { $0 }))
            }
            if !linkLocal.contains(where: { $0.device == control }) {
                findings.append(
                    finding(
                        .linkLocalRoute, .named("169.254.0.0/16"), "no route to 169.254.0.0/16 through \(control)",
                        why: why,
                        action: "ip route add 169.254.0.0/16 dev \(control) src 169.254.0.1", related: [control]))
            }
        }
        for domain in host.snapshot.domains where domain.isActive && domain.role.map(\.needsControlNIC) == true {
            guard !domain.nics.contains(where: { $0.trafficType == .control }) else { continue }
            findings.append(
                finding(
                    .systemVMNoControl, .named(domain.name),
                    "\(domain.name) has no control NIC (on \(control), MAC 0e:00:a9:fe:…)",
                    why: "the management server cannot reach it to configure it",
                    action: "virsh domiflist \(domain.name)",
                    related: [domain.name]))
        }
        return findings
    }

    // MARK: routers

    static func routerChecks(_ host: HostFacts) -> [Finding] {
        var findings: [Finding] = []
        for router in host.snapshot.domains where router.isActive && router.role == .router {
            if !router.nics.contains(where: { $0.trafficType == .public }) {
                findings.append(
                    finding(
                        .routerNoPublic, .named(router.name), "\(router.name) has no public NIC",
                        why:
                            "right for a shared network's DHCP/DNS server; an isolated network's VR without it "
                            + "leaves its VMs no way out",
                        action: "virsh domiflist \(router.name)", related: [router.name]))
            }
            guard router.routerKind == .vpc else { continue }
            for nic in router.nics where nic.trafficType == .guest {
                let bridge = nic.hostBridge ?? nic.bridge
                let link = bridge.flatMap { host.links[$0] }
                guard link == nil || link?.up == false || nic.tapFound == false else { continue }
                findings.append(
                    finding(
                        .vpcTierBridge, .nic(NICRef(domain: router.name, index: nic.index)),
                        "tier bridge \(bridge ?? "?") of \(router.name) eth\(nic.index) is "
                            + "\(link == nil ? "missing" : "down")",
                        why: "the tier's VMs lose their gateway: nothing leaves the tier",
                        action: "ip -d link show \(bridge ?? "master <bridge>"); virsh domiflist \(router.name)",
                        related: [router.name] + [bridge, nic.tap].compactMap { $0 }))
            }
        }
        let listened = host.snapshot.host.sources.packets?.status == .ok
        for network in host.snapshot.networks where network.routerElsewhere == true && network.remoteGateway == nil {
            findings.append(
                finding(
                    .routerNotSeen, .named(network.bridge),
                    listened
                        ? "no router for \(network.bridge) is here, and none was heard through "
                            + "\(network.uplink ?? "its uplink")"
                        : "the router of \(network.bridge) is not on this host",
                    why: listened
                        ? "its VMs may have no gateway: the VR is down, or the uplink does not reach it"
                        : "whether its VMs can reach their gateway is unknown from this host alone",
                    action: listened
                        ? "tcpdump -eni \(network.uplink ?? network.bridge) arp or port 67"
                        : "kvmtopo diagnose --listen 30",
                    related: [network.bridge] + network.members.map(\.domain), severity: listened ? .warning : .info))
        }
        return findings
    }

    // MARK: br_netfilter

    static func netfilterChecks(_ host: HostFacts) -> [Finding] {
        // A dump without routes was made before kvmtopo read br_netfilter's state: nothing to say then.
        guard host.isCloudStack, host.snapshot.routes != nil else { return [] }
        guard let netfilter = host.snapshot.host.bridgeNetfilter else {
            return [
                finding(
                    .brNetfilter, .named("br_netfilter"),
                    "br_netfilter is not loaded: bridged traffic bypasses iptables",
                    why: "security groups cannot filter VM traffic on this host (fine for advanced zones without them)",
                    action: "lsmod | grep br_netfilter", related: [])
            ]
        }
        let on = [
            ("iptables", netfilter.iptables), ("ip6tables", netfilter.ip6tables), ("arptables", netfilter.arptables),
        ]
        let enabled = on.filter(\.1).map(\.0)
        let disabled = on.filter { !$0.1 }.map(\.0)
        if netfilter.iptables, !disabled.isEmpty {
            return [
                finding(
                    .brNetfilter, .named("br_netfilter"),
                    "bridged IPv4 goes through iptables but not through \(disabled.joined(separator: ", "))",
                    why:
                        "security groups filter IPv4 and miss the rest: "
                        + "\(disabled.contains("ip6tables") ? "IPv6 escapes them" : "ARP spoofing is not stopped")",
                    action: "sysctl net.bridge.bridge-nf-call-\(disabled[0])=1", related: [], severity: .warning)
            ]
        }
        return [
            finding(
                .brNetfilter, .named("br_netfilter"),
                enabled.isEmpty
                    ? "bridged traffic does not go through iptables"
                    : "bridged traffic goes through \(enabled.joined(separator: ", "))",
                why: enabled.isEmpty
                    ? "security groups cannot filter VM traffic on this host"
                    : "what security groups need; it also means a DROP in FORWARD, or a bad checksum, drops "
                        + "bridged frames (kvmtopo trace shows where)",
                action:
                    "sysctl net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables "
                    + "net.bridge.bridge-nf-call-arptables",
                related: [])
        ]
    }
}
