import Topology

extension Comparison {
    mutating func domains() {
        let (removed, added, both) = pair(old.domains, new.domains, by: \.name)
        for domain in removed { add(.removed, .domain, domain.name, "\(domain.name) is gone (it was \(domain.state))") }
        for domain in added {
            add(.added, .domain, domain.name, "\(domain.name) appeared (\(domain.state), \(domain.nics.count) NICs)")
        }
        for (was, now) in both {
            if was.state != now.state {
                let text =
                    switch (was.isActive, now.isActive) {
                    case (true, false): "\(now.name) stopped (\(was.state) → \(now.state))"
                    case (false, true): "\(now.name) started (\(was.state) → \(now.state))"
                    default: "\(now.name): state \(was.state) → \(now.state)"
                    }
                add(
                    .changed, .domain, now.name, field: Change.stateField, before: "\(was.state)",
                    after: "\(now.state)", text)
            }
            field(.domain, now.name, "uuid", was.uuid, now.uuid)
            nics(of: was, now)
        }
    }

    /// A domain's NICs, paired by MAC (by position when a NIC has none).
    private mutating func nics(of was: Domain, _ now: Domain) {
        let key = { (nic: NIC) in nic.mac ?? "eth\(nic.index)" }
        let name = { (nic: NIC) in "\(now.name) eth\(nic.index)" }
        let (removed, added, both) = pair(was.nics, now.nics, by: key)
        for nic in removed { add(.removed, .nic, name(nic), "\(name(nic)) (\(key(nic))) is gone") }
        for nic in added {
            add(.added, .nic, name(nic), "\(name(nic)) appeared (\(key(nic)), on \(nic.bridge ?? "no bridge"))")
        }
        for (before, after) in both {
            let subject = name(after)
            field(.nic, subject, "index", before.index, after.index) { "eth\($0)" }
            field(.nic, subject, "bridge", before.bridge, after.bridge)
            field(.nic, subject, "tap", before.tap, after.tap)
            field(.nic, subject, "link state", before.effectiveLinkState, after.effectiveLinkState)
            field(.nic, subject, "vlan tag", before.vlanTag, after.vlanTag)
            field(.nic, subject, "address", before.ip, after.ip)
        }
    }

    mutating func links() {
        // A NIC's tap comes and goes with its VM: those are the domain's and NIC's changes, not the link's.
        let taps = Set((old.domains + new.domains).flatMap { $0.nics.compactMap(\.tap) })
        let (removed, added, both) = pair(old.links, new.links, by: \.name)
        for link in removed where !taps.contains(link.name) {
            add(.removed, .link, link.name, "link \(link.name) (\(link.kind)) is gone")
        }
        for link in added where !taps.contains(link.name) {
            let on = link.master.map { ", on \($0)" } ?? ""
            add(.added, .link, link.name, "link \(link.name) (\(link.kind)) appeared\(on)")
        }
        let meanings = InterfaceMeanings(new)
        for (was, now) in both {
            let subject = meanings.meaning(of: now.name).meaning
            field(.link, subject, "kind", was.kind, now.kind)
            field(.link, subject, "mtu", was.mtu, now.mtu)
            if was.up != now.up {
                add(
                    .changed, .link, subject, field: Change.stateField, before: was.up ? "up" : "down",
                    after: now.up ? "up" : "down", "\(subject): \(now.up ? "came up" : "went down")")
            }
            // Carrier lost or back on a link that stays up; a bridge's follows its ports, which say it themselves.
            if was.up, now.up, now.kind != .bridge {
                field(.link, subject, Change.operStateField, was.operState, now.operState)
            }
            master(subject, was.master, now.master)
            // A port that went down or left its bridge changes its STP state with it: only a state of its own counts.
            let states = [was.bridgePort?.state, now.bridgePort?.state]
            if was.up == now.up, was.master == now.master, !states.contains(nil), !states.contains(.disabled) {
                field(.link, subject, "STP state", was.bridgePort?.state, now.bridgePort?.state)
            }
            field(.link, subject, "vlan", was.vlan?.id, now.vlan?.id)
            field(.link, subject, "vlan parent", was.vlan?.parent, now.vlan?.parent)
            field(.link, subject, "vni", was.vxlan?.vni, now.vxlan?.vni)
            field(.link, subject, "vxlan group", was.vxlan?.group, now.vxlan?.group)
            field(.link, subject, "vxlan local", was.vxlan?.local, now.vxlan?.local)
            field(.link, subject, "vxlan port", was.vxlan?.port, now.vxlan?.port)
            field(.link, subject, "vxlan device", was.vxlan?.device, now.vxlan?.device)
            // IPv6 link-local addresses follow the MAC and the link's state: not changes of their own.
            let address = { (link: Link) in
                link.addresses.filter { !AddressPrefix.isIPv6LinkLocal($0.address) }
                    .map { "\($0.address)/\($0.prefixLength)" }
            }
            names(
                .link, subject, "address", address(was), address(now), lost: { "\(subject): lost \($0)" },
                gained: { "\(subject): gained \($0)" })
        }
    }

    /// A port that joined, left or moved between bridges.
    private mutating func master(_ subject: String, _ was: String?, _ now: String?) {
        guard was != now else { return }
        let text =
            switch (was, now) {
            case (nil, let now?): "joined \(now)"
            case (let was?, nil): "left \(was) (now on no bridge)"
            default: "moved from \(was!) to \(now!)"
            }
        add(
            .changed, .link, subject, field: "master", before: was ?? "none", after: now ?? "none",
            "\(subject): \(text)")
    }

    mutating func bridges() {
        let (removed, added, both) = pair(old.bridges, new.bridges, by: \.name)
        for bridge in removed { add(.removed, .bridge, bridge.name, "bridge \(bridge.name) is gone") }
        for bridge in added {
            add(.added, .bridge, bridge.name, "bridge \(bridge.name) appeared (\(bridge.ports.count) ports)")
        }
        for (was, now) in both { field(.bridge, "bridge \(now.name)", "STP", was.stp, now.stp) { $0 ? "on" : "off" } }
    }

    /// A MAC the bridges learned on another port: dynamic entries come and go with traffic, a move means something.
    mutating func forwarding() {
        let learned = { (snapshot: HostSnapshot) in snapshot.fdb.filter { !$0.isSelf && $0.bridge != nil } }
        let key = { (entry: FDBEntry) in "\(entry.mac) \(entry.bridge!) \(entry.vlan ?? 0)" }
        for (was, now) in pair(learned(old), learned(new), by: key).both where was.port != now.port {
            let bridge = now.bridge!
            // The bridge's entry names only the VXLAN device; the device's own learned entry says which host.
            let remote =
                now.remote ?? new.fdb.first { $0.isSelf && $0.port == now.port && $0.mac == now.mac }?.remote
            let through = remote.map { " (now reached through \($0))" } ?? ""
            let owner = (new.nic(withMAC: now.mac) ?? old.nic(withMAC: now.mac)).map { " (\($0))" } ?? ""
            add(
                .changed, .fdb, now.mac, field: "port", before: was.port, after: now.port,
                "\(now.mac)\(owner) moved from \(was.port) to \(now.port) on \(bridge)\(through)")
        }
    }

    mutating func networks() {
        let (removed, added, both) = pair(old.networks, new.networks, by: \.id)
        for network in removed {
            add(.removed, .network, network.id, "network \(network.id) (\(network.kind)) is gone")
        }
        for network in added {
            add(.added, .network, network.id, "network \(network.id) (\(network.kind)) appeared on \(network.bridge)")
        }
        for (was, now) in both {
            let subject = "network \(now.id)"
            field(.network, subject, "kind", was.kind, now.kind)
            field(.network, subject, "bridge", was.bridge, now.bridge)
            field(.network, subject, "uplink", was.uplink, now.uplink)
            field(.network, subject, "mtu", was.mtu, now.mtu)
            field(.network, subject, "router", was.router, now.router)
            field(.network, subject, "router elsewhere", was.routerElsewhere, now.routerElsewhere) { $0 ? "yes" : "no" }
            names(
                .network, subject, "member", was.members.map(\.domain), now.members.map(\.domain),
                lost: { "\($0) left \(subject)" }, gained: { "\($0) joined \(subject)" })
        }
    }

    mutating func routes() {
        guard let before = old.routes, let after = new.routes else {
            if old.routes != nil || new.routes != nil {
                notes.append("routes are in one dump only (the other was written before kvmtopo read them)")
            }
            return
        }
        let text = { (route: Route) in
            route.destination + (route.gateway.map { " via \($0)" } ?? "") + (route.device.map { " dev \($0)" } ?? "")
                + (route.source.map { " src \($0)" } ?? "")
        }
        // The kernel's fe80::/64 route comes and goes with each link's link-local address, a VM's tap among them.
        let set = { (routes: [Route]) in routes.filter { !AddressPrefix.isIPv6LinkLocal($0.destination) } }
        let (removed, added, _) = pair(set(before), set(after), by: text)
        for route in removed { add(.removed, .route, text(route), "route \(text(route)) is gone") }
        for route in added { add(.added, .route, text(route), "route \(text(route)) appeared") }
    }

    mutating func warnings() {
        let (cleared, appeared, _) = pair(old.warnings, new.warnings, by: { "\($0.code) \($0.subject)" })
        for warning in cleared {
            add(
                .removed, .warning, "\(warning.subject)", field: "\(warning.code)",
                "cleared [\(warning.code)] \(warning.message)")
        }
        for warning in appeared {
            add(
                .added, .warning, "\(warning.subject)", field: "\(warning.code)",
                "new [\(warning.code)] \(warning.message)")
        }
    }
}
