/// Link types of the captures kvmtopo reads and writes (libpcap's DLT/LINKTYPE numbers).
public enum LinkType: Int, Sendable {
    case ethernet = 1
    case raw = 101
    case linuxSLL = 113
    case linuxSLL2 = 276
}

/// What a Linux cooked capture (SLL/SLL2, the `any` device) says about where a frame was seen.
public struct CookedHeader: Sendable, Equatable {
    /// SLL2 only: the interface the frame was captured on.
    public var interfaceIndex: Int?
    /// 0 to us, 1 broadcast, 2 multicast, 3 to another host, 4 sent by us (outgoing).
    public var packetType: UInt8
    /// The frame's source MAC, as the kernel reports it for Ethernet-like devices.
    public var sourceMAC: String?
}

public enum PacketDecoder {
    /// VXLAN's IANA port and the Linux kernel's default (CloudStack's modifyvxlan.sh sets none).
    public static let vxlanPorts: Set<UInt16> = [4789, 8472]

    public static func decode(
        _ bytes: [UInt8], linkType: LinkType = .ethernet
    ) -> (cooked: CookedHeader?, packet: Packet) {
        var reader = ByteReader(bytes)
        var packet = Packet()
        switch linkType {
        case .ethernet:
            decodeEthernet(&reader, into: &packet)
        case .raw:
            decodeNetwork(version: bytes.first.map { $0 >> 4 } == 6 ? 0x86dd : 0x0800, &reader, into: &packet)
        case .linuxSLL:
            guard let type = reader.u16(), reader.skip(2), let length = reader.u16(), let address = reader.take(8),
                let proto = reader.u16()
            else { return (nil, packet) }
            decodeNetwork(version: proto, &reader, into: &packet)
            return (
                CookedHeader(
                    interfaceIndex: nil, packetType: UInt8(truncatingIfNeeded: type),
                    sourceMAC: length == 6 ? Format.mac(address.prefix(6)) : nil), packet
            )
        case .linuxSLL2:
            guard let proto = reader.u16(), reader.skip(2), let index = reader.u32(), reader.skip(2),
                let type = reader.u8(), let length = reader.u8(), let address = reader.take(8)
            else { return (nil, packet) }
            decodeNetwork(version: proto, &reader, into: &packet)
            return (
                CookedHeader(
                    interfaceIndex: Int(index), packetType: type,
                    sourceMAC: length == 6 ? Format.mac(address.prefix(6)) : nil), packet
            )
        }
        return (nil, packet)
    }

    static func decodeEthernet(_ reader: inout ByteReader, into packet: inout Packet) {
        guard let destination = reader.take(6), let source = reader.take(6), var etherType = reader.u16() else {
            return
        }
        var vlans: [Int] = []
        while etherType == 0x8100 || etherType == 0x88a8, vlans.count < 4 {
            guard let tag = reader.u16(), let inner = reader.u16() else { break }
            vlans.append(Int(tag & 0x0fff))
            etherType = inner
        }
        packet.ethernet = Ethernet(
            destination: Format.mac(destination), source: Format.mac(source), vlans: vlans,
            etherType: etherType)
        decodeNetwork(version: etherType, &reader, into: &packet)
    }

    static func decodeNetwork(version etherType: UInt16, _ reader: inout ByteReader, into packet: inout Packet) {
        switch etherType {
        case 0x0806: decodeARP(&reader, into: &packet)
        case 0x0800: decodeIPv4(&reader, into: &packet)
        case 0x86dd: decodeIPv6(&reader, into: &packet)
        default: break
        }
    }

    static func decodeARP(_ reader: inout ByteReader, into packet: inout Packet) {
        // Ethernet/IPv4 ARP only: hardware length 6, protocol length 4.
        guard reader.skip(4), let lengths = reader.u16(), lengths == 0x0604, let operation = reader.u16(),
            let senderMAC = reader.take(6), let senderIP = reader.take(4),
            let targetMAC = reader.take(6), let targetIP = reader.take(4)
        else { return }
        packet.arp = ARP(
            operation: operation, senderMAC: Format.mac(senderMAC), senderIP: Format.ipv4(senderIP),
            targetMAC: Format.mac(targetMAC), targetIP: Format.ipv4(targetIP))
    }

    static func decodeIPv4(_ reader: inout ByteReader, into packet: inout Packet) {
        let start = reader.offset
        guard let versionIHL = reader.u8(), versionIHL >> 4 == 4, reader.skip(1), let total = reader.u16(),
            let identification = reader.u16(), let fragment = reader.u16(), let ttl = reader.u8(),
            let proto = reader.u8(), reader.skip(2), let source = reader.take(4), let destination = reader.take(4)
        else { return }
        let headerLength = Int(versionIHL & 0x0f) * 4
        guard headerLength >= 20, reader.skip(headerLength - 20) else { return }
        let offset = Int(fragment & 0x1fff) * 8
        packet.ipv4 = IPv4(
            source: Format.ipv4(source), destination: Format.ipv4(destination), protocolNumber: proto,
            ttl: ttl, identification: identification, totalLength: Int(total),
            dontFragment: fragment & 0x4000 != 0, fragmentOffset: offset, moreFragments: fragment & 0x2000 != 0)
        guard offset == 0 else { return }
        // Ethernet padding is not payload: stop at the datagram's own length.
        let end = min(reader.bytes.count, start + max(Int(total), headerLength))
        decodeTransport(
            proto, version: 4, ByteReader(Array(reader.bytes[..<max(end, reader.offset)]), offset: reader.offset),
            into: &packet)
    }

    static func decodeIPv6(_ reader: inout ByteReader, into packet: inout Packet) {
        guard let first = reader.u8(), first >> 4 == 6, reader.skip(3), let length = reader.u16(),
            var next = reader.u8(), let hopLimit = reader.u8(), let source = reader.take(16),
            let destination = reader.take(16)
        else { return }
        // Extension headers: hop-by-hop, routing, fragment, destination options.
        var fragmented = false
        for _ in 0..<8 where [0, 43, 44, 60].contains(next) {
            let header = next
            guard let following = reader.u8(), let size = reader.u8() else { return }
            if header == 44 {
                guard let fragment = reader.u16(), reader.skip(4) else { return }
                fragmented = fragment & 0xfff8 != 0
            } else {
                guard reader.skip(Int(size) * 8 + 6) else { return }
            }
            next = following
        }
        packet.ipv6 = IPv6(
            source: Format.ipv6(source), destination: Format.ipv6(destination), nextHeader: next,
            hopLimit: hopLimit, payloadLength: Int(length))
        if !fragmented { decodeTransport(next, version: 6, reader, into: &packet) }
    }

    static func decodeTransport(_ proto: UInt8, version: Int, _ reader: ByteReader, into packet: inout Packet) {
        var reader = reader
        switch proto {
        case 1 where version == 4, 58 where version == 6:
            decodeICMP(version: version, &reader, into: &packet)
        case 6:
            guard let sourcePort = reader.u16(), let destinationPort = reader.u16(), let sequence = reader.u32(),
                let acknowledgment = reader.u32(), let offsetByte = reader.u8(), let flags = reader.u8()
            else { return }
            packet.tcp = TCP(
                sourcePort: sourcePort, destinationPort: destinationPort, sequence: sequence,
                acknowledgment: acknowledgment, flags: flags)
            let headerLength = Int(offsetByte >> 4) * 4
            guard headerLength >= 20 else { return }
            _ = reader.skip(headerLength - 14)
            setPayload(reader, into: &packet)
        case 17:
            guard let sourcePort = reader.u16(), let destinationPort = reader.u16(), let length = reader.u16(),
                reader.skip(2)
            else { return }
            packet.udp = UDP(sourcePort: sourcePort, destinationPort: destinationPort, length: Int(length))
            setPayload(reader, into: &packet)
            if vxlanPorts.contains(destinationPort) {
                decodeVXLAN(&reader, into: &packet)
            } else if [67, 68].contains(sourcePort) && [67, 68].contains(destinationPort) {
                decodeDHCP(&reader, into: &packet)
            }
        default:
            setPayload(reader, into: &packet)
        }
    }

    private static func setPayload(_ reader: ByteReader, into packet: inout Packet) {
        packet.payloadOffset = min(reader.offset, reader.bytes.count)
        packet.payloadLength = reader.remaining
    }

    static func decodeICMP(version: Int, _ reader: inout ByteReader, into packet: inout Packet) {
        guard let type = reader.u8(), let code = reader.u8(), reader.skip(2) else { return }
        var icmp = ICMP(version: version, type: type, code: code)
        let echo: Set<UInt8> = version == 4 ? [0, 8] : [128, 129]
        if echo.contains(type) {
            icmp.identifier = reader.u16()
            icmp.sequence = reader.u16()
        } else if version == 4, type == 3, code == 4, reader.skip(2), let mtu = reader.u16() {
            icmp.mtu = Int(mtu)
        } else if version == 6, type == 2, let mtu = reader.u32() {
            icmp.mtu = Int(mtu)
        } else if version == 6, type == 135 || type == 136, reader.skip(4), let target = reader.take(16) {
            icmp.ndTarget = Format.ipv6(target)
            // Options: type, length in units of 8 bytes; 1 source and 2 target link-layer address.
            while let optionType = reader.u8(), let units = reader.u8(), units > 0 {
                guard let body = reader.take(Int(units) * 8 - 2) else { break }
                if optionType == 1 || optionType == 2, body.count >= 6 {
                    icmp.ndLinkLayerAddress = Format.mac(body.prefix(6))
                }
            }
        }
        packet.icmp = icmp
        setPayload(reader, into: &packet)
    }

    static func decodeVXLAN(_ reader: inout ByteReader, into packet: inout Packet) {
        guard let flags = reader.u8(), flags & 0x08 != 0, reader.skip(3), let vni = reader.u32() else { return }
        packet.vxlan = VXLANHeader(vni: Int(vni >> 8))
        var inner = Packet()
        decodeEthernet(&reader, into: &inner)
        packet.inner = Packet.Box(inner)
    }

    static func decodeDHCP(_ reader: inout ByteReader, into packet: inout Packet) {
        guard let operation = reader.u8(), reader.skip(3), let transaction = reader.u32(), reader.skip(8),
            let yourIP = reader.take(4), reader.skip(8), let client = reader.take(16), reader.skip(192),
            let magic = reader.u32(), magic == 0x6382_5363
        else { return }
        var dhcp = DHCP(
            operation: operation, transactionID: transaction, clientMAC: Format.mac(client.prefix(6)),
            yourIP: Format.ipv4(yourIP))
        while let code = reader.u8(), code != 255 {
            if code == 0 { continue }
            guard let length = reader.u8(), let value = reader.take(Int(length)) else { break }
            switch code {
            case 53 where value.count == 1: dhcp.messageType = value.first
            case 54 where value.count == 4: dhcp.serverIdentifier = Format.ipv4(value)
            case 50 where value.count == 4: dhcp.requestedIP = Format.ipv4(value)
            case 3 where value.count >= 4: dhcp.router = Format.ipv4(value.prefix(4))
            default: break
            }
        }
        packet.dhcp = dhcp
    }
}
