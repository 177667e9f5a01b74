import Netlink
import Topology
import Testing

private let up: UInt32 = 0x1 | 0x40  // IFF_UP | IFF_RUNNING
private let eth0 = RtnetlinkMessage.link(
    ifindex: 2, flags: up,
    [
        .string(IFLA.ifname, "eth0"), .u32(IFLA.mtu, 9000), .u8(IFLA.operstate, 6),
        .bytes(IFLA.address, [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]),
    ])

@Suite("rtnetlink messages of kinds this kernel cannot create")
struct RecordedLinkTests {
    @Test("a CloudStack guest VLAN uplink: eth1.100 with its parent and 802.1Q protocol")
    func vlan() throws {
        let vlan = RtnetlinkMessage.link(
            ifindex: 7, flags: up,
            [
                .string(IFLA.ifname, "eth1.100"), .u32(IFLA.mtu, 1500), .u32(IFLA.link, 2), .u32(IFLA.master, 8),
                .u8(IFLA.operstate, 6), .bytes(IFLA.address, [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]),
                .nested(
                    IFLA.linkinfo,
                    [
                        .string(IFLA.infoKind, "vlan"),
                        .nested(IFLA.infoData, [.u16(IFLA.vlanID, 100), .be16(IFLA.vlanProtocol, 0x8100)]),
                    ]),
            ])
        let links = RecordedNetlink.links([eth0.bytes, vlan.bytes])
        #expect(links.count == 2)
        let parsed = try #require(links.first { $0.name == "eth1.100" })
        #expect(parsed.kind == "vlan")
        #expect(parsed.vlan?.id == 100)
        #expect(parsed.vlan?.protocol_ == "802.1Q")
        #expect(parsed.linkIndex == 2)
        #expect(parsed.masterIndex == 8)
        #expect(parsed.operState == .up)
        #expect(parsed.isUp)
        #expect(parsed.mac == "52:54:00:12:34:56")
        let device = try #require(links.first { $0.name == "eth0" })
        #expect(device.kind == nil)
        #expect(device.mtu == 9000)
    }

    @Test("a bond and its slave")
    func bond() throws {
        let bond = RtnetlinkMessage.link(
            ifindex: 5, flags: up,
            [
                .string(IFLA.ifname, "bond0"), .u32(IFLA.mtu, 1500), .u8(IFLA.operstate, 6),
                .nested(
                    IFLA.linkinfo, [.string(IFLA.infoKind, "bond"), .nested(IFLA.infoData, [.u8(IFLA.bondMode, 4)])]),
            ])
        let slave = RtnetlinkMessage.link(
            ifindex: 3, flags: up,
            [
                .string(IFLA.ifname, "eno1"), .u32(IFLA.mtu, 1500), .u32(IFLA.master, 5), .u8(IFLA.operstate, 2),
                .nested(IFLA.linkinfo, [.string(IFLA.infoSlaveKind, "bond")]),
            ])
        let links = RecordedNetlink.links([bond.bytes, slave.bytes])
        #expect(links.map(\.name) == ["bond0", "eno1"])
        #expect(links[0].kind == "bond")
        #expect(links[1].kind == nil)
        #expect(links[1].masterIndex == 5)
        #expect(links[1].operState == .down)
    }

    @Test("a bridge port's link message carries its STP state, priority and cost")
    func bridgePort() throws {
        let port = RtnetlinkMessage.link(
            ifindex: 9, flags: up,
            [
                .string(IFLA.ifname, "vnet3"), .u32(IFLA.mtu, 1500), .u32(IFLA.master, 8),
                .nested(
                    IFLA.linkinfo,
                    [
                        .string(IFLA.infoKind, "tun"), .string(IFLA.infoSlaveKind, "bridge"),
                        .nested(
                            IFLA.infoSlaveData,
                            [
                                .u8(IFLA.brportState, 4), .u16(IFLA.brportPriority, 32),
                                .u32(IFLA.brportCost, 100),
                            ]),
                    ]),
            ])
        let link = try #require(RecordedNetlink.links([port.bytes]).first)
        #expect(link.kind == "tun")
        #expect(link.masterIndex == 8)
        #expect(link.bridgePort?.state == .blocking)
        #expect(link.bridgePort?.priority == 32)
        #expect(link.bridgePort?.cost == 100)
        #expect(RecordedNetlink.links([eth0.bytes]).first?.bridgePort == nil)
    }

    @Test("bridge FDB entries: learned on a VLAN, static, and a vxlan remote")
    func fdb() throws {
        let mac: [UInt8] = [0x02, 0x00, 0x4c, 0x5e, 0x00, 0x0a]
        let learned = RtnetlinkMessage.neighbour(
            family: 7, ifindex: 9, state: 0x02, flags: 0x02,
            [
                .bytes(NDA.lladdr, mac), .u16(NDA.vlan, 100), .u32(NDA.master, 8),
            ])
        let stat = RtnetlinkMessage.neighbour(
            family: 7, ifindex: 9, state: 0x40, flags: 0x02,
            [
                .bytes(NDA.lladdr, mac), .u32(NDA.master, 8),
            ])
        let remote = RtnetlinkMessage.neighbour(
            family: 7, ifindex: 11, state: 0x80 | 0x40, flags: 0x02,
            [
                .bytes(NDA.lladdr, [0, 0, 0, 0, 0, 0]), .bytes(NDA.dst, [10, 99, 0, 2]),
            ])
        let entries = RecordedNetlink.fdb([learned.bytes, stat.bytes, remote.bytes])
        #expect(entries.count == 3)
        #expect(entries[0].state == .dynamic)
        #expect(entries[0].vlan == 100)
        #expect(entries[0].masterIndex == 8)
        #expect(entries[0].mac == "02:00:4c:5e:00:0a")
        #expect(entries[1].state == .static)
        #expect(entries[1].vlan == nil)
        #expect(entries[2].state == .permanent)
        #expect(entries[2].remote == "10.99.0.2")
        #expect(entries[2].isSelf)
    }

    @Test("truncated and lying messages are skipped, never parsed past their end", arguments: [0, 1, 15, 16, 20, 40])
    func truncated(keep: Int) {
        let bytes = Array(eth0.bytes.prefix(keep))
        #expect(RecordedNetlink.links([bytes]).isEmpty)
    }
}

@Suite("live dump of this namespace")
struct LiveDumpTests {
    @Test("the loopback device is found with its address, in one dump per kind")
    func loopback() throws {
        let session = try NetlinkSession()
        let snapshot = try session.snapshot()
        let lo = try #require(snapshot.links.first { $0.isLoopback })
        #expect(lo.name == "lo")
        #expect(lo.ifindex == 1)
        #expect(snapshot.addresses.contains { $0.ifindex == 1 && $0.address == "127.0.0.1" && $0.prefixLength == 8 })
    }
}

@Suite("FDB noise")
struct FDBNoiseTests {
    @Test("a device's own multicast filter entries are left out; its vxlan remotes and unicast entries are kept")
    func multicastFilters() {
        let filter = RtnetlinkMessage.neighbour(
            family: 7, ifindex: 9, state: 0x80, flags: 0x02,
            [
                .bytes(NDA.lladdr, [0x33, 0x33, 0, 0, 0, 1])
            ])
        let ipv4Filter = RtnetlinkMessage.neighbour(
            family: 7, ifindex: 9, state: 0x80, flags: 0x02,
            [
                .bytes(NDA.lladdr, [0x01, 0x00, 0x5e, 0, 0, 1])
            ])
        let remote = RtnetlinkMessage.neighbour(
            family: 7, ifindex: 11, state: 0x80, flags: 0x02,
            [
                .bytes(NDA.lladdr, [0x01, 0x00, 0x5e, 0, 0, 1]), .bytes(NDA.dst, [10, 99, 0, 2]),
            ])
        let own = RtnetlinkMessage.neighbour(
            family: 7, ifindex: 9, state: 0x80, flags: 0x02,
            [
                .bytes(NDA.lladdr, [0xfe, 0, 0, 0, 0, 1])
            ])
        let entries = RecordedNetlink.fdb([filter.bytes, ipv4Filter.bytes, remote.bytes, own.bytes])
        #expect(entries.map(\.mac) == ["01:00:5e:00:00:01", "fe:00:00:00:00:01"])
        #expect(entries.first?.remote == "10.99.0.2")
    }
}
