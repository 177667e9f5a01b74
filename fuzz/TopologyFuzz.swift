// libFuzzer target: the two readers of host-supplied or user-supplied text, the domain XML parser and the dump
// loader (`--from`), on any bytes: the first byte picks which. Built with the Topology sources by fuzz/run.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTopology(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let selector = bytes.first else { return 0 }
    let body = Array(bytes.dropFirst())
    if selector % 2 == 0 {
        _ = try? DomainDescription(xml: String(decoding: body, as: UTF8.self))
    } else if let snapshot = try? SnapshotCodec.decode(Data(body), source: "fuzz") {
        _ = SnapshotCodec.encode(snapshot)
    }
    return 0
}
