import CloudStack
import Packets
import Pcap
import Topology
import Trace

/// `--listen`: a passive capture of ARP, DHCP and neighbour discovery on every bridge port for a while, so the
/// snapshot knows what the host alone cannot (guests' addresses, a remote gateway, conflicts, a stray DHCP
/// server). It only captures: promiscuous mode stays off and nothing is sent.
public enum PacketListening {
    public static func listen(_ snapshot: HostSnapshot, seconds: Double) -> HostSnapshot {
        var listener = NeighbourListener(snapshot: snapshot)
        do {
            let capture = try LiveCapture(interface: "any", filter: NeighbourListener.kernelFilter)
            let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
            while ContinuousClock.now < end {
                for frame in capture.packets(until: end) { listener.hear(frame.bytes, linkType: .linuxSLL2) }
            }
        } catch {
            var result = snapshot
            result.host.sources.packets = SourceStatus(status: .unavailable, error: error.description)
            return result
        }
        return CloudStackModel.infer(listener.apply(to: snapshot))
    }
}
