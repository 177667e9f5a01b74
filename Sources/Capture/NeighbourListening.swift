import CloudStack
import Topology
import Trace

/// `--listen`: a passive capture of ARP, DHCP and neighbour discovery on every bridge port for a while, so the
/// snapshot knows what the host alone cannot (guests' addresses, a remote gateway, conflicts, a stray DHCP
/// server). It only captures: promiscuous mode stays off and nothing is sent.
public enum NeighbourListening {
    /// The live host, for `seconds`; a capture that cannot start is recorded as the packets source's state.
    public static func listen(_ snapshot: HostSnapshot, seconds: Double) -> HostSnapshot {
        do {
            var source = try LiveFrames(filter: NeighbourListener.kernelFilter)
            return listen(snapshot, source: &source, clock: SystemClock(), nanoseconds: nanoseconds(seconds))
        } catch {
            var result = snapshot
            result.host.sources.packets = SourceStatus(status: .unavailable, error: error.description)
            return result
        }
    }

    /// What the frames of `source` say, heard for `nanoseconds` of `clock` (or until a replay ends).
    public static func listen<Source: FrameSource>(
        _ snapshot: HostSnapshot, source: inout Source,
        clock: any SessionClock, nanoseconds: UInt64
    ) -> HostSnapshot {
        var listener = NeighbourListener(snapshot: snapshot)
        CaptureLoop(clock: clock, end: clock.now().saturatingAdd(nanoseconds), stopRequests: { 0 }).run(
            &source,
            frames: { frames in
                for frame in frames { listener.hear(frame.bytes, linkType: frame.linkType, interface: frame.interface) }
                return true
            })
        return CloudStackModel.infer(listener.apply(to: snapshot))
    }
}
