// libFuzzer target: the frame decoders and packet keys on any bytes, in every link type trace reads.
// Built with the Packets sources by fuzz/run.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPackets(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let selector = bytes.first else { return 0 }
    let frame = Array(bytes.dropFirst())
    let linkType = [LinkType.ethernet, .raw, .linuxSLL, .linuxSLL2][Int(selector) % 4]
    let (cooked, packet) = PacketDecoder.decode(frame, linkType: linkType)
    let keys = FrameKeys(frame, linkType: linkType)
    // Use the results, so nothing is optimised away.
    if cooked?.interfaceIndex == -1 || packet.payloadLength < 0 || keys.networkLength < 0 { fatalError("impossible") }
    return 0
}
