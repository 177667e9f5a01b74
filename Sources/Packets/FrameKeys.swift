/// An IPv4 or IPv6 address as two words: cheap to hash and compare, formatted only when shown.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64
    public var isIPv6: Bool

    init(_ bytes: [UInt8], at offset: Int, count: Int) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        for index in 0..<count {
            let byte = UInt64(bytes[offset + index])
            if count == 16 && index < 8 { high = high << 8 | byte } else { low = low << 8 | byte }
        }
        self.high = high
        self.low = low
        isIPv6 = count == 16
    }

    public init?(_ text: String) {
        let ipv4 = text.split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
        if ipv4.count == 4, !text.contains(":") {
            self.init(ipv4, at: 0, count: 4)
            return
        }
        guard let bytes = Format.parseIPv6(text) else { return nil }
        self.init(bytes, at: 0, count: 16)
    }

    public var description: String {
        isIPv6
            ? Format.ipv6((0..<16).map { UInt8(truncatingIfNeeded: ($0 < 8 ? high : low) >> (56 - 8 * ($0 % 8))) })
            : Format.ipv4((0..<4).map { UInt8(truncatingIfNeeded: low >> (24 - 8 * $0)) })
    }
}

/// What `kvmtopo trace` needs to recognise one packet wherever it is seen, computed straight from the captured
/// bytes without building strings (it runs for every captured frame). A VXLAN frame on the underlay is keyed
/// by the frame it carries, so it matches that frame on the VXLAN device.
public struct FrameKeys: Sendable, Equatable {
    /// SLL2 (`any` capture): the interface the frame was seen on, and whether the host sent it on that interface.
    public var interfaceIndex: Int?
    public var outgoing = false
    /// Identifies the packet everywhere bridges and routers pass it on: the network-layer bytes (at most the
    /// first 128) without what routing changes (IPv4 TTL and header checksum, IPv6 hop limit).
    public var packet: UInt64 = 0
    /// What NAT leaves intact: protocol, transport bytes without ports and checksum, payload. IP with ICMP, TCP
    /// or UDP only.
    public var translated: UInt64?
    /// A request's reply will `answer` this (ICMP echo id/seq, ARP addresses, TCP/UDP ports the other way round).
    public var expectsReply: UInt64?
    public var answers: UInt64?
    /// An ICMP error: `answers` is then the key of the packet it quotes, which got an error instead of a reply.
    public var answersWithError = false
    public var source: IPAddress?
    public var destination: IPAddress?
    /// ARP: who says it has which address.
    public var arpSender: ARPSender?
    /// Broadcast or multicast: bridges flood it and routers do not forward it.
    public var isFlooded = false
    /// The VNI when the frame is VXLAN-encapsulated (the other keys describe the inner frame).
    public var vni: Int?
    /// The network-layer length as sent (IP total length), for MTU checks.
    public var networkLength = 0
    /// IPv4 TTL or IPv6 hop limit.
    public var hopLimit: UInt8?
    /// TCP or UDP source and destination port.
    public var ports: Ports?

    public struct ARPSender: Sendable, Equatable {
        /// The 48-bit MAC as a number.
        public var mac: UInt64
        public var ip: IPAddress
    }

    public struct Ports: Sendable, Equatable {
        public var source: UInt16
        public var destination: UInt16
    }

    /// How much of the network layer goes into the packet key: the default snap length (256) keeps this much
    /// even inside a VXLAN frame on the underlay (70 bytes of outer headers), so every sighting hashes alike.
    public static let keyedBytes = 128

    /// This key's share of the network layer: less than `keyedBytes` when a short snap length keeps less on the
    /// underlay, so that every copy hashes the bytes all copies kept.
    private var keyed = FrameKeys.keyedBytes

    public init(_ bytes: [UInt8], linkType: LinkType, keyedBytes: Int = FrameKeys.keyedBytes) {
        keyed = keyedBytes
        var offset = 0
        let etherType: UInt16
        switch linkType {
        case .ethernet:
            guard let (type, start) = Self.skipEthernet(bytes, at: 0) else { return }
            (etherType, offset) = (type, start)
        case .linuxSLL2:
            guard bytes.count >= 20 else { return }
            interfaceIndex = Int(Self.u32(bytes, 4))
            outgoing = bytes[10] == 4
            guard let (type, start) = Self.skipTags(bytes, type: Self.u16(bytes, 0), payload: 20) else { return }
            (etherType, offset) = (type, start)
        case .linuxSLL:
            guard bytes.count >= 16 else { return }
            outgoing = Self.u16(bytes, 0) == 4
            guard let (type, start) = Self.skipTags(bytes, type: Self.u16(bytes, 14), payload: 16) else { return }
            (etherType, offset) = (type, start)
        case .raw:
            guard let first = bytes.first else { return }
            etherType = first >> 4 == 6 ? 0x86dd : 0x0800
        }
        keyNetwork(bytes, etherType: etherType, at: offset, depth: 0)
    }

    private static func skipEthernet(_ bytes: [UInt8], at start: Int) -> (UInt16, Int)? {
        guard start + 14 <= bytes.count else { return nil }
        return skipTags(bytes, type: u16(bytes, start + 12), payload: start + 14)
    }

    /// 802.1Q and 802.1ad tags after an EtherType, at most four deep, whatever carried them (an Ethernet header,
    /// or a Linux cooked one): the inner EtherType and where its payload starts.
    private static func skipTags(_ bytes: [UInt8], type: UInt16, payload: Int) -> (UInt16, Int)? {
        var (type, offset, tags) = (type, payload, 0)
        while type == 0x8100 || type == 0x88a8 {
            guard tags < 4, offset + 4 <= bytes.count else { return nil }
            type = u16(bytes, offset + 2)
            offset += 4
            tags += 1
        }
        return (type, offset)
    }

    private mutating func keyNetwork(_ bytes: [UInt8], etherType: UInt16, at start: Int, depth: Int) {
        let captured = bytes.count - start
        guard captured > 0 else { return }
        switch etherType {
        case 0x0800 where captured >= 20 && bytes[start] >> 4 == 4:
            let headerLength = Int(bytes[start] & 0x0f) * 4
            networkLength = Int(Self.u16(bytes, start + 2))
            let end = start + min(captured, networkLength, keyed)
            packet = Self.hash(bytes, start, end, skipping: [start + 8, start + 10, start + 11])
            source = IPAddress(bytes, at: start + 12, count: 4)
            destination = IPAddress(bytes, at: start + 16, count: 4)
            hopLimit = bytes[start + 8]
            let lastByte = destination!.low & 0xff
            isFlooded = destination!.low >> 28 == 0xe || lastByte == 0xff
            let fragmentOffset = Self.u16(bytes, start + 6) & 0x1fff
            guard headerLength >= 20, fragmentOffset == 0 else { return }
            keyTransport(
                bytes, protocol: bytes[start + 9], at: start + headerLength,
                end: start + min(captured, networkLength), version: 4, depth: depth)
        case 0x86dd where captured >= 40 && bytes[start] >> 4 == 6:
            networkLength = 40 + Int(Self.u16(bytes, start + 4))
            let end = start + min(captured, networkLength, keyed)
            packet = Self.hash(bytes, start, end, skipping: [start + 7])
            source = IPAddress(bytes, at: start + 8, count: 16)
            destination = IPAddress(bytes, at: start + 24, count: 16)
            hopLimit = bytes[start + 7]
            isFlooded = destination!.high >> 56 == 0xff
            keyTransport(
                bytes, protocol: bytes[start + 6], at: start + 40,
                end: start + min(captured, networkLength), version: 6, depth: depth)
        case 0x0806 where captured >= 28 && Self.u16(bytes, start + 4) == 0x0604:
            networkLength = 28
            packet = Self.hash(bytes, start, start + 28, skipping: [])
            let operation = Self.u16(bytes, start + 6)
            let senderIP = IPAddress(bytes, at: start + 14, count: 4)
            let targetIP = IPAddress(bytes, at: start + 24, count: 4)
            arpSender = ARPSender(mac: Self.mac(bytes, start + 8), ip: senderIP)
            source = senderIP
            destination = targetIP
            isFlooded = operation == 1
            if operation == 1 { expectsReply = Self.mix(Self.mix(0x0806, senderIP.low), targetIP.low) }
            if operation == 2 { answers = Self.mix(Self.mix(0x0806, targetIP.low), senderIP.low) }
        default:
            networkLength = captured
            packet = Self.hash(bytes, start, start + min(captured, keyed), skipping: [])
        }
    }

    private mutating func keyTransport(
        _ bytes: [UInt8], protocol proto: UInt8, at start: Int, end: Int, version: Int,
        depth: Int
    ) {
        let length = end - start
        let keyEnd = min(end, start + keyed)
        switch proto {
        case 1 where version == 4 && length >= 8, 58 where version == 6 && length >= 8:
            translated = Self.hash(bytes, start, keyEnd, skipping: [start + 2, start + 3], seed: UInt64(proto))
            let type = bytes[start]
            let echo = Self.echoKey(proto, Self.u32(bytes, start + 4))
            if type == 8 || type == 128 { expectsReply = echo }
            if type == 0 || type == 129 { answers = echo }
            if ICMP.isError(version: version, type: type),
                let quoted = Self.requestKey(quotedBy: bytes, at: start + 8, end: end)
            {
                answers = quoted
                answersWithError = true
            }
        case 6 where length >= 20, 17 where length >= 8:
            let portWord = Self.u32(bytes, start)
            ports = Ports(source: UInt16(portWord >> 16), destination: UInt16(portWord & 0xffff))
            let swapped = (portWord & 0xffff) << 16 | portWord >> 16
            let skip =
                proto == 6
                ? [start, start + 1, start + 2, start + 3, start + 16, start + 17]
                : [start, start + 1, start + 2, start + 3, start + 6, start + 7]
            translated = Self.hash(bytes, start, keyEnd, skipping: skip, seed: UInt64(proto))
            expectsReply = Self.flowKey(source!, destination!, proto, portWord)
            answers = Self.flowKey(destination!, source!, proto, swapped)
            if proto == 17, depth == 0, length >= 8 + 8 + 14,
                PacketDecoder.vxlanPorts.contains(UInt16(portWord & 0xffff)),
                bytes[start + 8] & 0x08 != 0
            {
                // VXLAN: key the frame inside, so it matches its sightings on the bridge and VXLAN device.
                let vni = Int(Self.u32(bytes, start + 12) >> 8)
                guard let (innerType, innerStart) = Self.skipEthernet(bytes, at: start + 16) else { return }
                self = FrameKeys(interfaceIndex: interfaceIndex, outgoing: outgoing, keyed: keyed)
                keyNetwork(bytes, etherType: innerType, at: innerStart, depth: depth + 1)
                self.vni = vni
            }
        default:
            break
        }
    }

    /// The reply key of an echo request: its protocol, identifier and sequence.
    private static func echoKey(_ proto: UInt8, _ identifierAndSequence: UInt32) -> UInt64 {
        mix(UInt64(proto) << 32 | UInt64(identifierAndSequence), 0xec40)
    }

    /// The reply key of a TCP or UDP packet: its addresses and ports, as sent.
    private static func flowKey(
        _ source: IPAddress, _ destination: IPAddress, _ proto: UInt8, _ ports: UInt32
    )
        -> UInt64
    {
        mix(
            mix(source.high ^ source.low &* 31, destination.high ^ destination.low), UInt64(proto) << 32 | UInt64(ports)
        )
    }

    /// The reply key of the packet an ICMP error quotes (its IP header and first 8 bytes, from `start`), when it
    /// is one that expects a reply: an echo request, TCP or UDP.
    private static func requestKey(quotedBy bytes: [UInt8], at start: Int, end: Int) -> UInt64? {
        guard start < end else { return nil }
        let (version, headerLength) = (bytes[start] >> 4, Int(bytes[start] & 0x0f) * 4)
        let (proto, transport, addressLength) =
            switch version {
            case 4 where headerLength >= 20 && start + 20 <= end: (bytes[start + 9], start + headerLength, 4)
            case 6 where start + 40 <= end: (bytes[start + 6], start + 40, 16)
            default: (UInt8(0), end, 0)
            }
        guard transport + 8 <= end else { return nil }
        let source = IPAddress(bytes, at: start + (version == 4 ? 12 : 8), count: addressLength)
        let destination = IPAddress(bytes, at: start + (version == 4 ? 16 : 24), count: addressLength)
        switch (proto, bytes[transport]) {
        case (1, 8), (58, 128): return echoKey(proto, u32(bytes, transport + 4))
        case (6, _), (17, _): return flowKey(source, destination, proto, u32(bytes, transport))
        default: return nil
        }
    }

    private init(interfaceIndex: Int?, outgoing: Bool, keyed: Int) {
        self.interfaceIndex = interfaceIndex
        self.outgoing = outgoing
        self.keyed = keyed
    }

    // MARK: bytes

    static func u16(_ bytes: [UInt8], _ at: Int) -> UInt16 { UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1]) }
    static func u32(_ bytes: [UInt8], _ at: Int) -> UInt32 { UInt32(u16(bytes, at)) << 16 | UInt32(u16(bytes, at + 2)) }
    /// The 48-bit MAC at `at`, as a number.
    public static func mac(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        (0..<6).reduce(0) { $0 << 8 | UInt64(bytes[at + $1]) }
    }

    /// FNV-1a over bytes[start..<end], leaving out the positions in `skipping` (ascending).
    static func hash(_ bytes: [UInt8], _ start: Int, _ end: Int, skipping: [Int], seed: UInt64 = 0) -> UInt64 {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
        var skipIndex = 0
        var position = start
        bytes.withUnsafeBufferPointer { buffer in
            while position < end {
                if skipIndex < skipping.count, skipping[skipIndex] == position {
                    skipIndex += 1
                } else {
                    value = (value ^ UInt64(buffer[position])) &* 0x100_0000_01b3
                }
                position += 1
            }
        }
        return value ^ UInt64(end - start) &* 0x9e37_79b9_7f4a_7c15
    }

    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var value = a ^ (b &+ 0x9e37_79b9_7f4a_7c15 &+ (a << 6) &+ (a >> 2))
        value = (value ^ (value >> 33)) &* 0xff51_afd7_ed55_8ccd
        return value ^ (value >> 33)
    }
}
