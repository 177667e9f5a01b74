import CPcap

#if canImport(Glibc)
import Glibc
#endif

/// One captured frame as Swift values.
public struct CapturedPacket: Sendable, Equatable {
    /// Nanoseconds since the epoch.
    public var timestamp: UInt64
    public var originalLength: Int
    public var bytes: [UInt8]

    public init(timestamp: UInt64, originalLength: Int, bytes: [UInt8]) {
        self.timestamp = timestamp
        self.originalLength = originalLength
        self.bytes = bytes
    }
}

extension CapturedPacket {
    /// A frame as libpcap hands it over; every handle here asks for nanosecond stamps, so tv_usec holds nanoseconds.
    init(header: pcap_pkthdr, data: UnsafePointer<UInt8>) {
        self.init(
            timestamp: UInt64(header.ts.tv_sec) * 1_000_000_000 + UInt64(header.ts.tv_usec),
            originalLength: Int(header.len), bytes: Array(UnsafeBufferPointer(start: data, count: Int(header.caplen))))
    }
}

public struct PcapError: Error, CustomStringConvertible, Sendable {
    public var message: String
    /// libpcap itself could not be loaded: the host lacks it, which is not the input's fault.
    public var libraryMissing = false
    public var description: String { message }
}

public enum Pcap {

    /// Loads libpcap (once); every entry point here calls it first, so a host without libpcap gets this reason
    /// from the commands that capture and everything else still runs.
    static func load() throws(PcapError) {
        var reason = [CChar](repeating: 0, count: 512)
        guard kvmtopo_pcap_load(&reason, reason.count) == 0 else {
            throw PcapError(message: text(reason), libraryMissing: true)
        }
    }

    /// Reads a saved capture (pcap or pcapng), keeping the frames that match a pcap-filter expression.
    public static func read(
        path: String, filter: String? = nil
    ) throws(PcapError) -> (linkType: Int32, packets: [CapturedPacket]) {
        try load()
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf)
        else {
            throw PcapError(message: "\(path): \(text(errbuf))")
        }
        defer { pcap_close(handle) }
        if let filter { try apply(filter: filter, to: handle) }
        var packets: [CapturedPacket] = []
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        while true {
            let result = pcap_next_ex(handle, &header, &data)
            if result == PCAP_ERROR_BREAK { break }
            guard result == 1, let header = header?.pointee, let data else {
                throw PcapError(message: "\(path): \(String(cString: pcap_geterr(handle)))")
            }
            packets.append(CapturedPacket(header: header, data: data))
        }
        return (pcap_datalink(handle), packets)
    }

    /// Writes Ethernet frames to a classic pcap file with nanosecond timestamps.
    public static func writeEthernet(
        path: String, packets: [CapturedPacket], snapLength: Int32 = 262_144
    ) throws(PcapError) {
        try load()
        guard
            let dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, snapLength, UInt32(PCAP_TSTAMP_PRECISION_NANO))
        else {
            throw PcapError(message: "cannot create a pcap writer")
        }
        defer { pcap_close(dead) }
        guard let dumper = pcap_dump_open(dead, path) else {
            throw PcapError(message: "\(path): \(String(cString: pcap_geterr(dead)))")
        }
        defer { pcap_dump_close(dumper) }
        let user = UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: u_char.self)
        for packet in packets {
            var header = pcap_pkthdr()
            header.ts.tv_sec = Int(packet.timestamp / 1_000_000_000)
            header.ts.tv_usec = Int(packet.timestamp % 1_000_000_000)  // nanoseconds: the file says so
            header.caplen = UInt32(packet.bytes.count)
            header.len = UInt32(packet.originalLength)
            packet.bytes.withUnsafeBufferPointer { pcap_dump(user, &header, $0.baseAddress) }
        }
    }

    static func apply(filter: String, to handle: OpaquePointer) throws(PcapError) {
        var program = bpf_program()
        guard pcap_compile(handle, &program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            throw PcapError(message: "invalid filter '\(filter)': \(String(cString: pcap_geterr(handle)))")
        }
        defer { pcap_freecode(&program) }
        guard pcap_setfilter(handle, &program) == 0 else {
            throw PcapError(message: "cannot apply filter: \(String(cString: pcap_geterr(handle)))")
        }
    }

    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A live capture on one interface or on `any` (all interfaces of this network namespace in one time-ordered
/// stream, Linux cooked v2 headers carrying the interface index and direction). It only ever sets up its own
/// capture: promiscuous mode is off, nothing on the interfaces changes.
public final class LiveCapture {
    private let handle: OpaquePointer
    private let descriptor: Int32
    public let linkType: Int32

    /// - Parameters:
    ///   - snapLength: bytes kept per frame; the default keeps headers (Ethernet, VLAN, IP, transport), not payloads.
    ///   - timeoutMilliseconds: how long the kernel may batch frames (TPACKET_V3); immediate mode would halve the
    ///     forwarding rate of the traced path.
    public init(
        interface: String = "any", filter: String?, snapLength: Int32 = 256, bufferBytes: Int32 = 32 << 20,
        timeoutMilliseconds: Int32 = 20
    ) throws(PcapError) {
        try Pcap.load()
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_create(interface, &errbuf) else {
            throw PcapError(message: "\(interface): \(Pcap.text(errbuf))")
        }
        pcap_set_snaplen(handle, snapLength)
        pcap_set_promisc(handle, 0)
        pcap_set_timeout(handle, timeoutMilliseconds)
        pcap_set_buffer_size(handle, bufferBytes)
        pcap_set_tstamp_precision(handle, Int32(PCAP_TSTAMP_PRECISION_NANO))
        let status = pcap_activate(handle)
        if status < 0 {
            let reason =
                status == PCAP_ERROR_PERM_DENIED
                ? "permission denied (capturing needs root or CAP_NET_RAW)" : String(cString: pcap_geterr(handle))
            pcap_close(handle)
            throw PcapError(message: "\(interface): \(reason)")
        }
        if interface == "any" { _ = pcap_set_datalink(handle, DLT_LINUX_SLL2) }
        self.handle = handle
        linkType = pcap_datalink(handle)
        do {
            if let filter { try Pcap.apply(filter: filter, to: handle) }
        } catch {
            pcap_close(handle)
            throw error
        }
        // libpcap's own read loop ignores its timeout when nothing matches; poll with our own deadline instead.
        pcap_setnonblock(handle, 1, &errbuf)
        descriptor = pcap_get_selectable_fd(handle)
    }

    deinit { pcap_close(handle) }

    /// The frames that arrive before `deadline` (and at least those already queued); never blocks past it.
    public func packets(until deadline: ContinuousClock.Instant) -> [CapturedPacket] {
        let sink = PacketSink()
        let user = Unmanaged.passUnretained(sink).toOpaque().assumingMemoryBound(to: u_char.self)
        while true {
            _ = withExtendedLifetime(sink) { pcap_dispatch(handle, -1, PacketSink.callback, user) }
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero, sink.packets.isEmpty else { return sink.packets }
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(
                min(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000, 1000))
            _ = poll(&poller, 1, max(1, milliseconds))
        }
    }

    /// Frames the kernel received for this capture and dropped for lack of room (never hidden from the user).
    public var statistics: (received: Int, dropped: Int, droppedByInterface: Int) {
        var stats = pcap_stat()
        guard pcap_stats(handle, &stats) == 0 else { return (0, 0, 0) }
        return (Int(stats.ps_recv), Int(stats.ps_drop), Int(stats.ps_ifdrop))
    }
}

/// Collects what pcap_dispatch delivers; `user` is an unretained PacketSink.
private final class PacketSink {
    var packets: [CapturedPacket] = []

    static let callback:
        @convention(c) (UnsafeMutablePointer<u_char>?, UnsafePointer<pcap_pkthdr>?, UnsafePointer<u_char>?) -> Void = {
            user, header, data in
            guard let user, let header = header?.pointee, let data else { return }
            let sink = Unmanaged<PacketSink>.fromOpaque(UnsafeRawPointer(user)).takeUnretainedValue()
            sink.packets.append(CapturedPacket(header: header, data: data))
        }
}

/// A pcap-filter expression compiled once and run in user space on frames already captured (`trace --read`).
public final class OfflineFilter {
    private var program = bpf_program()
    /// A throwing init still runs deinit; only a compiled program is freed (and libpcap may not be loaded).
    private var compiled = false

    public init(expression: String, linkType: Int32, snapLength: Int32 = 262_144) throws(PcapError) {
        try Pcap.load()
        guard let dead = pcap_open_dead(linkType, snapLength) else {
            throw PcapError(message: "cannot compile filters")
        }
        defer { pcap_close(dead) }
        guard pcap_compile(dead, &program, expression, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            throw PcapError(message: "invalid filter '\(expression)': \(String(cString: pcap_geterr(dead)))")
        }
        compiled = true
    }

    deinit { if compiled { pcap_freecode(&program) } }

    public func matches(_ bytes: [UInt8], originalLength: Int) -> Bool {
        var header = pcap_pkthdr()
        header.caplen = UInt32(bytes.count)
        header.len = UInt32(originalLength)
        return bytes.withUnsafeBufferPointer { pcap_offline_filter(&program, &header, $0.baseAddress) != 0 }
    }
}
