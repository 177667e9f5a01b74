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

public struct PcapError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

public enum Pcap {
    public static var libraryVersion: String { String(cString: pcap_lib_version()) }

    /// Reads a saved capture (pcap or pcapng), keeping the frames that match a pcap-filter expression.
    public static func read(path: String, filter: String? = nil) throws(PcapError) -> (linkType: Int32, packets: [CapturedPacket]) {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf) else {
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
            let timestamp = UInt64(header.ts.tv_sec) * 1_000_000_000 + UInt64(header.ts.tv_usec)
            packets.append(CapturedPacket(timestamp: timestamp, originalLength: Int(header.len),
                                          bytes: Array(UnsafeBufferPointer(start: data, count: Int(header.caplen)))))
        }
        return (pcap_datalink(handle), packets)
    }

    /// Writes Ethernet frames to a classic pcap file with nanosecond timestamps.
    public static func writeEthernet(path: String, packets: [CapturedPacket], snapLength: Int32 = 262_144) throws(PcapError) {
        guard let dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, snapLength, UInt32(PCAP_TSTAMP_PRECISION_NANO)) else {
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
            header.ts.tv_usec = Int(packet.timestamp % 1_000_000_000)   // nanoseconds: the file says so
            header.caplen = UInt32(packet.bytes.count)
            header.len = UInt32(packet.originalLength)
            packet.bytes.withUnsafeBufferPointer { pcap_dump(user, &header, $0.baseAddress) }
        }
    }

    private static func apply(filter: String, to handle: OpaquePointer) throws(PcapError) {
        var program = bpf_program()
        guard pcap_compile(handle, &program, filter, 1, PCAP_NETMASK_UNKNOWN) == 0 else {
            throw PcapError(message: "invalid filter '\(filter)': \(String(cString: pcap_geterr(handle)))")
        }
        defer { pcap_freecode(&program) }
        guard pcap_setfilter(handle, &program) == 0 else {
            throw PcapError(message: "cannot apply filter: \(String(cString: pcap_geterr(handle)))")
        }
    }

    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
