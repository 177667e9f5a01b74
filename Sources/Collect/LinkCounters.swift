import Netlink
import Topology

/// Every link's packet counters by name, in one link dump: read twice, they say what the host dropped between.
public enum LinkCounters {
    public static func read() throws(NetlinkError) -> [String: InterfaceCounters] {
        let links = try NetlinkSession().linkCounters()
        return Dictionary(links.map { ($0.name, $0.counters) }, uniquingKeysWith: { first, _ in first })
    }
}
