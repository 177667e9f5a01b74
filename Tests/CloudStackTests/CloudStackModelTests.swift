import CloudStack
import Testing
import Topology

private func host(roles: BridgeRoles? = nil) -> Host {
    var host = Host(
        hostname: "kvm01", collectedAt: "2026-11-22T00:00:00Z",
        sources: Sources(netlink: SourceStatus(status: .ok), libvirt: SourceStatus(status: .ok, uri: "qemu:///system")))
    host.bridgeRoles = roles
    return host
}

private func nic(_ index: Int, _ mac: String, _ bridge: String, vlanTag: Int? = nil) -> NIC {
    var nic = NIC(
        index: index, mac: mac, type: .bridge, bridge: bridge, tap: "vnet\(index)\(bridge.count)", vlanTag: vlanTag)
    nic.tapFound = true
    nic.hostBridge = bridge
    return nic
}

private func snapshot(links: [Link], bridges: [Bridge], domains: [Domain], roles: BridgeRoles? = nil) -> HostSnapshot {
    HostSnapshot(host: host(roles: roles), links: links, bridges: bridges, fdb: [], domains: domains, warnings: [])
}

@Suite("CloudStack inference")
struct CloudStackModelTests {
    @Test(
        "roles by name, whatever the instance suffix; other names are 'other' unless CloudStack's SMBIOS marks them",
        arguments: [
            ("i-2-10-VM", "user"), ("i-2-10-DEFAULT", "user"), ("r-4-VM", "router"), ("r-4-VM-100", "router"),
            ("s-1-VM", "secondary-storage"), ("v-2-CLOUD", "console-proxy"), ("b-5-VM", "internal-lb"),
            ("l-6-VM", "elastic-lb"), ("web01", "other"), ("i-x-VM", "other"),
        ])
    func roles(name: String, role: String) {
        let result = CloudStackModel.infer(
            snapshot(links: [], bridges: [], domains: [Domain(name: name, uuid: "u", state: .running)]))
        #expect(result.domains[0].role == DomainRole(rawValue: role), "the dump's word for the role")
        #expect(result.domains[0].cloudstack == (role != "other"))
    }

    @Test("an imported VM with CloudStack's SMBIOS product is CloudStack's")
    func smbios() {
        let domain = Domain(
            name: "imported-web", uuid: "u", state: .running,
            smbios: SMBIOS(manufacturer: "Apache Software Foundation", product: "CloudStack KVM Hypervisor"))
        let result = CloudStackModel.infer(snapshot(links: [], bridges: [], domains: [domain]))
        #expect(result.domains[0].cloudstack == true)
        #expect(result.domains[0].role == .other)
    }

    @Test("agent.properties renames the bridges; absent keys keep the defaults")
    func agentProperties() {
        let roles = BridgeRoles(
            agentProperties: """
                # comments are ignored
                public.network.device = pubbr0
                private.network.device=mgmtbr0
                guest.network.device=guestbr0
                private.bridge.name=
                """)
        #expect(roles.public == "pubbr0")
        #expect(roles.private == "mgmtbr0")
        #expect(roles.guest == "guestbr0")
        #expect(roles.control == "cloud0", "an empty value keeps the default")
    }

    @Test("router layouts by position: isolated, DHCP-only, VPC; control IPs from MACs")
    func routers() {
        let links = ["cloud0", "cloudbr0", "brvx-1", "brvx-2", "brvx-3"].enumerated().map {
            Link(name: $1, ifindex: $0 + 1, kind: .bridge)
        }
        let bridges = links.map { Bridge(name: $0.name, ports: [], stp: false) }
        let isolated = Domain(
            name: "r-4-VM", uuid: "a", state: .running,
            nics: [
                nic(0, "02:00:00:00:00:01", "brvx-1"), nic(1, "0e:00:a9:fe:03:91", "cloud0"),
                nic(2, "1e:00:54:00:00:0f", "cloudbr0"),
            ])
        let dhcp = Domain(
            name: "r-5-VM", uuid: "b", state: .running,
            nics: [nic(0, "02:00:00:00:00:02", "brvx-2"), nic(1, "0e:00:a9:fe:00:05", "cloud0")])
        let vpc = Domain(
            name: "r-7-VM", uuid: "c", state: .running,
            nics: [
                nic(0, "0e:00:a9:fe:07:14", "cloud0"), nic(1, "1e:00:54:00:00:14", "cloudbr0"),
                nic(2, "02:00:00:00:00:03", "brvx-3"),
            ])
        let result = CloudStackModel.infer(snapshot(links: links, bridges: bridges, domains: [isolated, dhcp, vpc]))
        let byName = Dictionary(uniqueKeysWithValues: result.domains.map { ($0.name, $0) })
        #expect(byName["r-4-VM"]?.routerKind == .isolated)
        #expect(byName["r-5-VM"]?.routerKind == .dhcpOnly)
        #expect(byName["r-7-VM"]?.routerKind == .vpc)
        #expect(byName["r-4-VM"]?.nics.map(\.trafficType) == [.guest, .control, .public])
        #expect(byName["r-4-VM"]?.nics[1].ip == "169.254.3.145")
        #expect(byName["r-4-VM"]?.nics[1].ipSource == .controlMAC)
        let kinds = Dictionary(uniqueKeysWithValues: result.networks.map { ($0.bridge, $0.kind) })
        #expect(
            kinds == [
                "cloud0": .control, "cloudbr0": .public, "brvx-1": .isolated, "brvx-2": .shared, "brvx-3": .vpcTier,
            ])
        #expect(result.vpcs == [VPC(router: "r-7-VM", tiers: ["brvx-3"])])
        #expect(result.networks.first { $0.bridge == "brvx-1" }?.gateway?.domain == "r-4-VM")
        #expect(Array(result.networks.map(\.kind).prefix(2)) == [.control, .public], "infrastructure networks first")
    }

    @Test("the kernel's VLAN id wins over the bridge's name, and a disagreement is a warning")
    func nameVersusKernel() {
        let links = [
            Link(name: "eth1", ifindex: 2, kind: .device),
            Link(name: "breth1-100", ifindex: 3, kind: .bridge),
            Link(name: "eth1.200", ifindex: 4, kind: .vlan, master: "breth1-100", vlan: VLAN(id: 200, parent: "eth1")),
            Link(name: "brvx-5001", ifindex: 5, kind: .bridge),
            Link(name: "cloudbr1", ifindex: 6, kind: .bridge),
            Link(name: "bond0", ifindex: 7, kind: .bond, master: "cloudbr1"),
            Link(
                name: "vxlan5001", ifindex: 8, kind: .vxlan, master: "brvx-5001",
                vxlan: VXLAN(vni: 5001, device: "cloudbr1")),
            Link(name: "brvx-6001", ifindex: 9, kind: .bridge),
        ]
        let bridges = [
            Bridge(name: "breth1-100", ports: ["eth1.200"], stp: false),
            Bridge(name: "brvx-5001", ports: ["vxlan5001"], stp: false),
            Bridge(name: "cloudbr1", ports: ["bond0"], stp: false),
            Bridge(name: "brvx-6001", ports: [], stp: false),
        ]
        let result = CloudStackModel.infer(snapshot(links: links, bridges: bridges, domains: []))
        let vlan = result.networks.first { $0.bridge == "breth1-100" }
        #expect(vlan?.vlan == 200)
        #expect(vlan?.uplink == "eth1.200")
        #expect(vlan?.physicalInterface == "eth1")
        let vxlan = result.networks.first { $0.bridge == "brvx-5001" }
        #expect(vxlan?.vni == 5001)
        #expect(vxlan?.physicalInterface == "bond0", "through the traffic label's bridge to its NIC")
        let empty = result.networks.first { $0.bridge == "brvx-6001" }
        #expect(empty?.kind == .guest, "an empty guest bridge (a persistent network) is still a network")
        #expect(empty?.vni == 6001)
        #expect(
            Set(result.warnings.map { "\($0.code) \($0.subject)" }) == [
                "bridge-name-mismatch breth1-100",
                "guest-bridge-no-uplink brvx-6001",
            ])
        #expect(CloudStackModel.infer(result).warnings == result.warnings, "inferring again replaces, never repeats")
    }

    @Test(
        "a guest bridge's name gives its VLAN or VNI if the kernel does not: br<pif>-<vlan>, brvx-<vni>, cloudVirBr<n>",
        arguments: [
            ("brvx-3001", nil, 3001), ("breth1-300", 300, nil), ("brbond0.5-42", 42, nil), ("br-eth-1-7", 7, nil),
            ("cloudVirBr12", 12, nil), ("brvx-x1", nil, nil), ("br-5", nil, nil), ("breth1-3a", nil, nil),
            ("cloudbr1", nil, nil),
        ] as [(String, Int?, Int?)])
    func guestBridgeNames(bridge: String, vlan: Int?, vni: Int?) {
        let vm = Domain(name: "i-2-10-VM", uuid: "u", state: .running, nics: [nic(0, "02:00:00:00:00:0a", bridge)])
        let result = CloudStackModel.infer(
            snapshot(
                links: [Link(name: bridge, ifindex: 1, kind: .bridge)],
                bridges: [Bridge(name: bridge, ports: [], stp: false)], domains: [vm]))
        let network = result.networks.first { $0.bridge == bridge }
        #expect(network?.vlan == vlan)
        #expect(network?.vni == vni)
    }

    @Test("user VMs on a guest bridge with no router here: the router is elsewhere")
    func routerElsewhere() {
        let links = [
            Link(name: "brvx-1001", ifindex: 1, kind: .bridge),
            Link(
                name: "vxlan1001", ifindex: 2, kind: .vxlan, master: "brvx-1001",
                vxlan: VXLAN(vni: 1001, device: "eth1")),
        ]
        let vm = Domain(name: "i-2-10-VM", uuid: "u", state: .running, nics: [nic(0, "02:00:00:00:00:0a", "brvx-1001")])
        let result = CloudStackModel.infer(
            snapshot(
                links: links, bridges: [Bridge(name: "brvx-1001", ports: ["vxlan1001"], stp: false)],
                domains: [vm]))
        #expect(result.networks.first?.kind == .guest)
        #expect(result.networks.first?.routerElsewhere == true)
        #expect(result.networks.first?.router == nil)
    }

    @Test("an Open vSwitch-tagged NIC is guest traffic even on the management label's bridge")
    func ovsTag() {
        let router = Domain(
            name: "r-4-VM", uuid: "u", state: .running,
            nics: [nic(0, "02:00:00:00:00:01", "cloudbr1", vlanTag: 100), nic(1, "0e:00:a9:fe:00:09", "cloud0")])
        let result = CloudStackModel.infer(snapshot(links: [], bridges: [], domains: [router]))
        #expect(result.domains[0].nics.map(\.trafficType) == [.guest, .control])
    }
}
