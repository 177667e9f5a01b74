// libFuzzer target: the capture readers behind `trace --read` on any bytes, classic pcap and pcapng, strict and
// streaming, and the timestamp units at the limits of the 64-bit range. Built with the Packets sources by fuzz/run.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPcapNG(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let capture = try? PcapNG.read(bytes) {
        for record in capture.records where record.interface >= capture.interfaces.count { fatalError("record for no interface") }
    }
    if var reader = try? CaptureReader(InMemoryBytes(bytes)) {
        while let record = reader.next() {
            if record.interface >= reader.interfaces.count { fatalError("streamed record for no interface") }
            if record.bytes.count > record.originalLength { fatalError("more bytes than the frame had") }
        }
    }
    // Any tick count in any unit: a value or nil, never a trap.
    if bytes.count >= 9 {
        let ticks = bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let unit = bytes[8]
        _ = PcapNG.Resolution.decimal(unit & 0x7f).nanoseconds(ticks)
        _ = PcapNG.Resolution.binary(unit & 0x7f).nanoseconds(ticks)
    }
    return 0
}
