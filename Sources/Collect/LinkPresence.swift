import Netlink

/// Which interfaces exist now: one link dump, for a long capture to notice that a capture point went away (a
/// VM destroyed, a tap deleted) and say so.
public enum LinkPresence {
    /// The ifindexes present, or nil when the kernel could not be asked.
    public static func current() -> Set<Int>? {
        guard let links = try? NetlinkSession().links() else { return nil }
        return Set(links.map(\.ifindex))
    }
}
