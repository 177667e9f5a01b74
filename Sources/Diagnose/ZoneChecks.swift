import Foundation
import Topology
import Zone

extension Diagnose {
    /// The checks of `kvmtopo zone diagnose`, over many hosts' dumps (kvmtopo-zone(1) lists them).
    public static let zoneChecks: [Check] = WarningCode.Known.allCases.filter { WarningCode($0).origin == .zone }
        .map(Check.init)

    /// What only shows across hosts: one network laid out differently, bridges that break migrations, a MAC or a
    /// VM twice, a router on no host, a VM whose bridge its host lacks. Most severe first.
    public static func run(_ zone: Zone) -> [Finding] {
        let findings =
            zone.networks.flatMap { networkChecks($0, in: zone) } + labelBridgeChecks(zone) + qemuHookChecks(zone)
            + macChecks(zone) + placementChecks(zone) + bridgeMissingChecks(zone)
        return findings.sorted { ($1.severity, $0.code, $0.subject) < ($0.severity, $1.code, $1.subject) }
    }

    /// "1500 on kvm01, kvm02; 1450 on kvm03": which hosts have which value, the most common first.
    static func byValue(_ values: [(host: String, value: String)]) -> String {
        let groups = Dictionary(grouping: values, by: \.value)
        return groups.sorted { ($1.value.count, $0.key) < ($0.value.count, $1.key) }
            .map { "\($0.key) on \($0.value.map(\.host).joined(separator: ", "))" }.joined(separator: "; ")
    }

    static func networkChecks(_ network: ZoneNetwork, in zone: Zone) -> [Finding] {
        var findings: [Finding] = []
        let hosts = network.hosts.map(\.host)
        let related = [network.key] + Array(Set(network.hosts.map(\.bridge))).sorted() + hosts
        let mtus = network.hosts.compactMap { onHost in onHost.mtu.map { (onHost.host, "\($0)") } }
        if Set(mtus.map(\.1)).count > 1 {
            findings.append(
                finding(
                    .zoneMTUDiffers, .named(network.title), "MTU " + byValue(mtus),
                    why: "VMs on the larger MTU send packets the others' bridges and taps drop: small pings work "
                        + "across hosts, real traffic stalls",
                    action: "ip link set \(network.hosts[0].bridge) mtu <the same> on each host (kvmtopo zone show "
                        + "network \(network.key))", related: related))
        }
        let vxlan = network.hosts.compactMap { onHost in
            onHost.vxlanGroup.map { (onHost.host, "group \($0) port \(onHost.vxlanPort.map(String.init) ?? "?")") }
        }
        if Set(vxlan.map(\.1)).count > 1 {
            findings.append(
                finding(
                    .zoneVXLANDiffers, .named(network.title), byValue(vxlan),
                    why: "hosts in different groups or on different ports do not hear each other's broadcasts: "
                        + "ARP between them fails, so VMs reach only those on their own host's group",
                    action: "ip -d link show \(network.hosts[0].uplink ?? "vxlan\(network.vni ?? 0)") on each host; "
                        + "the agent derives the group from the VNI", related: related))
        }
        let members = network.hosts.flatMap { onHost in onHost.members.filter { $0 != onHost.router } }
        if network.needsRouter, network.routerHosts.isEmpty, !members.isEmpty {
            findings.append(
                finding(
                    .zoneRouterMissing, .named(network.title),
                    "its router runs on none of the \(zone.hosts.count) hosts collected; the network is on "
                        + hosts.joined(separator: ", "),
                    why: "its VMs get no DHCP, DNS or gateway unless the router runs on a host not collected",
                    action: "collect every host of the zone (kvmtopo zone collect); else restart the network "
                        + "in CloudStack", related: related + members))
        }
        return findings
    }

    /// The bridge of each kind of traffic, per host: a domain's XML names its host's bridges, and the qemu hook
    /// renames only `br<pif>-<vlan>` ones on migration, so a VM cannot move between hosts whose labels differ.
    static func labelBridgeChecks(_ zone: Zone) -> [Finding] {
        let roles: [(traffic: String, bridge: (BridgeRoles) -> String?)] = [
            ("public", { $0.public }), ("management", { $0.private }), ("guest", { $0.guest ?? $0.private }),
            ("control", { $0.control }),
        ]
        return roles.compactMap { role in
            let bridges = zone.hosts.compactMap { host in
                host.bridgeRoles.flatMap(role.bridge).map { (host.name, $0) }
            }
            guard Set(bridges.map(\.1)).count > 1 else { return nil }
            return finding(
                .zoneLabelBridgeDiffers, .named("\(role.traffic) traffic"),
                "\(role.traffic) traffic is on " + byValue(bridges),
                why: "a VM migrating between them brings its XML's bridge, which the other host lacks: the "
                    + "migration fails (the qemu hook renames only br<pif>-<vlan> bridges)",
                action: "use one traffic label (bridge name) per physical network on every host of the zone: "
                    + "agent.properties and the zone's traffic labels",
                related: bridges.map(\.0) + Array(Set(bridges.map(\.1))).sorted())
        }
    }

    /// CloudStack's agent installs /etc/libvirt/hooks/qemu to rename `br<pif>-<vlan>` bridges in a migrating
    /// domain's XML; without it a VM comes in asking for the source's name.
    static func qemuHookChecks(_ zone: Zone) -> [Finding] {
        zone.hosts.filter { $0.cloudstack && $0.qemuHook == false }.map { host in
            let differing = zone.networks.filter { network in
                network.vlan != nil && network.hosts.contains { $0.host == host.name }
                    && Set(network.hosts.map(\.bridge)).count > 1
            }
            let names = differing.map { network in
                let here = network.hosts.first { $0.host == host.name }?.bridge ?? ""
                let elsewhere = network.hosts.first { $0.bridge != here }.map { "\($0.bridge) on \($0.host)" } ?? ""
                return "\(network.title) is \(here) here, \(elsewhere)"
            }
            return finding(
                .zoneQemuHookMissing, .named(host.name),
                "\(host.name) has no executable /etc/libvirt/hooks/qemu"
                    + (names.isEmpty ? "" : "; " + names.joined(separator: "; ")),
                why: differing.isEmpty
                    ? "harmless while every host names VLAN bridges alike; VMs migrating in keep the source's bridge "
                        + "names otherwise"
                    : "VMs migrating in ask for the source's bridge, which this host lacks: the migration fails",
                action: "reinstall cloudstack-agent, or restore /etc/libvirt/hooks/qemu and restart libvirtd",
                related: [host.name] + differing.flatMap { [$0.key] + $0.hosts.map(\.bridge) },
                severity: differing.isEmpty ? .info : .warning)
        }
    }

    /// One MAC on NICs of different domains across hosts. A redundant router pair shares its MACs by design.
    static func macChecks(_ zone: Zone) -> [Finding] {
        var owners: [String: [(domain: ZoneDomain, host: String)]] = [:]
        for domain in zone.domains {
            for placement in domain.activePlacements {
                for mac in Set(placement.nics.compactMap(\.mac)) {
                    owners[mac.lowercased(), default: []].append((domain, placement.host))
                }
            }
        }
        return owners.sorted { $0.key < $1.key }.compactMap { mac, found in
            let names = Set(found.map(\.domain.name))
            guard names.count > 1, Set(found.map(\.host)).count > 1,
                !found.allSatisfy({ $0.domain.role == .router })
            else { return nil }
            let places = found.map { "\($0.domain.name) on \($0.host)" }
            return finding(
                .zoneMACDuplicate, .named(mac), "\(mac) is the MAC of " + places.joined(separator: " and "),
                why: "switches and bridges learn it at one place at a time: both VMs lose packets, in turns",
                action: "give one of them another MAC (CloudStack assigns them: check the NICs in the database); "
                    + "bridge fdb show | grep \(mac) on each host",
                related: [mac] + found.flatMap { [$0.domain.name, $0.host] })
        }
    }

    /// A domain with a QEMU process on two hosts. Dumps are taken seconds apart and an incoming migration waits
    /// paused: a paused copy is a migration; two running copies whose dumps are far apart may be one VM that
    /// moved between them; else it runs twice (HA started it again), and its disk is written by both.
    static func placementChecks(_ zone: Zone) -> [Finding] {
        zone.domains.compactMap { domain in
            let active = domain.activePlacements
            guard Set(active.map(\.host)).count > 1 else { return nil }
            let places = active.map { "\($0.host) (\($0.state), dump of \($0.collectedAt))" }
            let related = [domain.name] + active.map(\.host)
            let times = active.compactMap { try? Date($0.collectedAt, strategy: .iso8601) }
            let apart = (times.max() ?? .distantPast).timeIntervalSince(times.min() ?? .distantPast)
            let message = "\(domain.name) runs on " + places.joined(separator: " and ")
            if let incoming = active.first(where: { $0.state == .paused }) {
                return finding(
                    .zoneVMOnTwoHosts, .named(domain.name), message,
                    why: "paused on \(incoming.host): most likely an incoming migration, not a second copy",
                    action: "virsh domjobinfo \(domain.name) on the source; collect again once it is done",
                    related: related, severity: .info)
            }
            if apart > Self.dumpsApart {
                return finding(
                    .zoneVMOnTwoHosts, .named(domain.name), message,
                    why: "the dumps are \(Int(apart)) s apart: it may have migrated between them",
                    action: "collect both hosts again, close together", related: related, severity: .warning)
            }
            return finding(
                .zoneVMOnTwoHosts, .named(domain.name), message,
                why: "two copies write one disk and answer to one MAC and address (an HA restart while the first "
                    + "still ran): its disk can be corrupted",
                action: "virsh destroy \(domain.name) on the host CloudStack does not place it on, now",
                related: related)
        }
    }

    /// Dumps further apart than this may hold a VM before and after a migration.
    static let dumpsApart: TimeInterval = 60

    /// A domain whose XML names a bridge its host lacks, while other hosts carry it: the agent did not create it
    /// there (or it was removed), so the VM is cut off from its network.
    static func bridgeMissingChecks(_ zone: Zone) -> [Finding] {
        let hosts = Dictionary(zone.hosts.map { ($0.name, Set($0.bridges)) }, uniquingKeysWith: { first, _ in first })
        var networks: [String: ZoneNetwork] = [:]
        for network in zone.networks { for onHost in network.hosts { networks[onHost.bridge] = network } }
        return zone.domains.flatMap { domain in
            domain.activePlacements.flatMap { placement in
                placement.nics.compactMap { nic -> Finding? in
                    guard let bridge = nic.bridge, let network = networks[bridge],
                        hosts[placement.host]?.contains(bridge) == false
                    else { return nil }
                    let carriers = network.hosts.filter { $0.bridge == bridge }.map(\.host)
                    return finding(
                        .zoneBridgeMissing, .nic(NICRef(domain: domain.name, index: nic.index)),
                        "\(domain.name) eth\(nic.index) on \(placement.host) needs \(bridge) (\(network.title)), "
                            + "which \(placement.host) lacks; " + carriers.joined(separator: ", ")
                            + (carriers.count == 1 ? " has it" : " have it"),
                        why: "its tap is on no bridge: the VM is cut off from its network",
                        action: "on \(placement.host): kvmtopo show vm \(domain.name); the agent creates the bridge "
                            + "when it plugs the VM (restart the VM or the network in CloudStack)",
                        related: [domain.name, bridge, network.key, placement.host])
                }
            }
        }
    }
}
