// libFuzzer target: the pcapng reader behind `trace --read` on any bytes. Built with the Packets sources by
// fuzz/run.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPcapNG(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let capture = try? PcapNG.read(bytes) {
        for record in capture.records where record.interface >= capture.interfaces.count { fatalError("record for no interface") }
    }
    return 0
}
