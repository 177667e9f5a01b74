import CNetlink
import Topology

/// libnl objects (borrowed from the parse callback, never freed here) to Swift records.
enum RecordConverter {
    static func link(_ object: OpaquePointer, _ message: OpaquePointer) -> NetlinkLink? {
        let link = object
        guard let namePointer = rtnl_link_get_name(link) else { return nil }
        let flags = rtnl_link_get_flags(link)
        let master = rtnl_link_get_master(link)
        let parent = rtnl_link_get_link(link)
        var extras = cnl_link_extras()
        cnl_link_extras_read(message, &extras)
        return NetlinkLink(
            ifindex: Int(rtnl_link_get_ifindex(link)),
            name: String(cString: namePointer),
            kind: rtnl_link_get_type(link).map { String(cString: $0) },
            mac: rtnl_link_get_addr(link).flatMap(AddressFormat.string),
            mtu: Int(rtnl_link_get_mtu(link)),
            operState: operStateName(rtnl_link_get_operstate(link)),
            isUp: flags & UInt32(IFF_UP) != 0,
            isLoopback: flags & UInt32(IFF_LOOPBACK) != 0,
            masterIndex: master > 0 ? Int(master) : nil,
            linkIndex: parent > 0 ? Int(parent) : nil,
            linkNetnsid: extras.link_netnsid >= 0 ? Int(extras.link_netnsid) : nil,
            vlan: vlan(of: link),
            vxlan: vxlan(of: link),
            bridgeSTPState: extras.stp_state >= 0 ? Int(extras.stp_state) : nil,
            bridgePort: extras.port_state < 0
                ? nil
                : NetlinkLink.BridgePort(
                    state: portStateName(extras.port_state),
                    priority: extras.port_priority >= 0 ? Int(extras.port_priority) : nil,
                    cost: extras.port_cost >= 0 ? Int(extras.port_cost) : nil))
    }

    static func linkCounters(_ object: OpaquePointer, _ message: OpaquePointer) -> NetlinkLinkCounters? {
        guard let name = rtnl_link_get_name(object) else { return nil }
        let stat = { (id: rtnl_link_stat_id_t) in Int(truncatingIfNeeded: rtnl_link_get_stat(object, id)) }
        return NetlinkLinkCounters(
            ifindex: Int(rtnl_link_get_ifindex(object)), name: String(cString: name),
            counters: InterfaceCounters(
                rxPackets: stat(RTNL_LINK_RX_PACKETS), txPackets: stat(RTNL_LINK_TX_PACKETS),
                rxDropped: stat(RTNL_LINK_RX_DROPPED), txDropped: stat(RTNL_LINK_TX_DROPPED),
                rxErrors: stat(RTNL_LINK_RX_ERRORS), txErrors: stat(RTNL_LINK_TX_ERRORS)))
    }

    static func address(_ object: OpaquePointer, _ message: OpaquePointer) -> NetlinkAddress? {
        let address = object
        guard let local = rtnl_addr_get_local(address), let text = AddressFormat.ip(local) else { return nil }
        let family: AddressFamily = rtnl_addr_get_family(address) == AF_INET6 ? .inet6 : .inet
        return NetlinkAddress(
            ifindex: Int(rtnl_addr_get_ifindex(address)), family: family, address: text,
            prefixLength: Int(rtnl_addr_get_prefixlen(address)),
            scope: scopeName(rtnl_addr_get_scope(address)))
    }

    static func fdbEntry(_ object: OpaquePointer, _ message: OpaquePointer) -> NetlinkFDBEntry? {
        let neigh = object
        guard rtnl_neigh_get_family(neigh) == AF_BRIDGE,
            let lladdr = rtnl_neigh_get_lladdr(neigh), let mac = AddressFormat.string(lladdr)
        else { return nil }
        let state = rtnl_neigh_get_state(neigh)
        let flags = rtnl_neigh_get_flags(neigh)
        let remote = rtnl_neigh_get_dst(neigh).flatMap(AddressFormat.ip)
        // A device's own multicast filter list (33:33:…, 01:00:5e:… on every tap) is not forwarding state:
        // it would be half of a big host's FDB and tell an operator nothing. VXLAN remotes are kept.
        let isSelf = flags & UInt32(NTF_SELF) != 0
        let isMulticast = UInt8(mac.prefix(2), radix: 16).map { $0 & 1 == 1 } ?? false
        if isSelf, remote == nil, isMulticast { return nil }
        let master = rtnl_neigh_get_master(neigh)
        let vlan = rtnl_neigh_get_vlan(neigh)
        return NetlinkFDBEntry(
            mac: mac,
            ifindex: Int(rtnl_neigh_get_ifindex(neigh)),
            masterIndex: master > 0 ? Int(master) : nil,
            vlan: vlan > 0 ? Int(vlan) : nil,
            state: state & Int32(NUD_PERMANENT) != 0
                ? .permanent
                : state & Int32(NUD_NOARP) != 0 ? .static : .dynamic,
            isSelf: isSelf,
            remote: remote)
    }

    private static func vlan(of link: OpaquePointer) -> NetlinkLink.VLAN? {
        guard rtnl_link_is_vlan(link) != 0 else { return nil }
        // libnl keeps IFLA_VLAN_PROTOCOL as the kernel sent it, in network byte order.
        let proto = UInt16(bigEndian: UInt16(truncatingIfNeeded: rtnl_link_vlan_get_protocol(link)))
        let protocolName: String? =
            switch proto {
            case 0x8100: "802.1Q"
            case 0x88a8: "802.1ad"
            case 0: nil
            default: "0x" + String(proto, radix: 16)
            }
        return NetlinkLink.VLAN(id: Int(rtnl_link_vlan_get_id(link)), protocol_: protocolName)
    }

    private static func vxlan(of link: OpaquePointer) -> NetlinkLink.VXLAN? {
        guard rtnl_link_is_vxlan(link) != 0 else { return nil }
        var vni: UInt32 = 0
        guard rtnl_link_vxlan_get_id(link, &vni) == 0 else { return nil }
        var group: OpaquePointer?
        var local: OpaquePointer?
        var port: UInt32 = 0
        var device: UInt32 = 0
        defer {
            nl_addr_put(group)
            nl_addr_put(local)
        }  // the getters hand out references
        let hasGroup = rtnl_link_vxlan_get_group(link, &group) == 0
        let hasLocal = rtnl_link_vxlan_get_local(link, &local) == 0
        let learning = rtnl_link_vxlan_get_learning(link)
        return NetlinkLink.VXLAN(
            vni: Int(vni),
            group: hasGroup ? group.flatMap(AddressFormat.ip) : nil,
            local: hasLocal ? local.flatMap(AddressFormat.ip) : nil,
            port: rtnl_link_vxlan_get_port(link, &port) == 0 ? Int(port) : nil,
            deviceIndex: rtnl_link_vxlan_get_link(link, &device) == 0 && device > 0 ? Int(device) : nil,
            learning: learning >= 0 ? learning != 0 : nil)
    }

    /// RFC 2863 operational states, numbered as in <linux/if.h> (which cannot be included beside glibc's <net/if.h>).
    private static func operStateName(_ state: UInt8) -> OperState {
        switch state {
        case 1: .notPresent
        case 2: .down
        case 3: .lowerLayerDown
        case 4: .testing
        case 5: .dormant
        case 6: .up
        default: .unknown
        }
    }

    private static func portStateName(_ state: Int32) -> PortState {
        switch state {
        case Int32(BR_STATE_DISABLED): .disabled
        case Int32(BR_STATE_LISTENING): .listening
        case Int32(BR_STATE_LEARNING): .learning
        case Int32(BR_STATE_FORWARDING): .forwarding
        case Int32(BR_STATE_BLOCKING): .blocking
        default: .unknown
        }
    }

    private static func scopeName(_ scope: Int32) -> String {
        switch scope {
        case 0: "global"
        case 200: "site"
        case 253: "link"
        case 254: "host"
        default: String(scope)
        }
    }
}

/// nl_addr to text, without libnl's nl_addr2str (which appends a prefix length only sometimes).
extension RecordConverter {
    /// Main-table unicast routes only: the local and broadcast tables are the kernel's own bookkeeping.
    static func route(_ object: OpaquePointer, _ message: OpaquePointer) -> NetlinkRoute? {
        let route = object
        guard rtnl_route_get_table(route) == UInt32(RT_TABLE_MAIN.rawValue),
            rtnl_route_get_type(route) == UInt8(RTN_UNICAST)
        else { return nil }
        let destination = rtnl_route_get_dst(route)
        let prefix = destination.map { Int(nl_addr_get_prefixlen($0)) } ?? 0
        let hop = rtnl_route_get_nnexthops(route) > 0 ? rtnl_route_nexthop_n(route, 0) : nil
        let ifindex = hop.map { Int(rtnl_route_nh_get_ifindex($0)) }
        return NetlinkRoute(
            family: rtnl_route_get_family(route) == UInt8(AF_INET6) ? .inet6 : .inet,
            destination: prefix == 0 ? nil : destination.flatMap(AddressFormat.ip),
            prefixLength: prefix,
            ifindex: ifindex.flatMap { $0 > 0 ? $0 : nil },
            gateway: hop.flatMap { rtnl_route_nh_get_gateway($0) }.flatMap(AddressFormat.ip),
            source: rtnl_route_get_pref_src(route).flatMap(AddressFormat.ip))
    }
}

enum AddressFormat {
    static func string(_ address: OpaquePointer) -> String? {
        ip(address) ?? mac(address)
    }

    static func ip(_ address: OpaquePointer) -> String? {
        let family = nl_addr_get_family(address)
        guard family == AF_INET || family == AF_INET6, let bytes = binary(address) else { return nil }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let ok = bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &text, socklen_t(text.count)) != nil
        }
        guard ok else { return nil }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func mac(_ address: OpaquePointer) -> String? {
        guard let bytes = binary(address), !bytes.isEmpty else { return nil }
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 3)
        for (i, byte) in bytes.enumerated() {
            if i > 0 { text.append(UInt8(ascii: ":")) }
            text.append(hexDigits[Int(byte >> 4)])
            text.append(hexDigits[Int(byte & 0xf)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private static func binary(_ address: OpaquePointer) -> [UInt8]? {
        let length = Int(nl_addr_get_len(address))
        guard length > 0, let pointer = nl_addr_get_binary_addr(address) else { return nil }
        return Array(UnsafeRawBufferPointer(start: pointer, count: length))
    }
}
