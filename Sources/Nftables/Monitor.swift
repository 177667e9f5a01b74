import CNftnl
import Foundation

/// A NETLINK_NETFILTER socket that only listens: it joins nf_tables' multicast group (NFNLGRP_NFTABLES) and never
/// sends, so it cannot change anything. The kernel announces every committed transaction there: iptables-nft,
/// ebtables-nft and nft rules, chains, policies and sets. Legacy xtables tables and ipsets announce nothing.
public final class NftablesMonitor: @unchecked Sendable {
    private let socket: Int32
    private var buffer = [UInt8](repeating: 0, count: 64 << 10)

    /// The same receive buffer as the rtnetlink monitor: a VM's security group is hundreds of rules at once.
    public init(receiveBuffer: Int) throws(NftablesError) {
        let fd = CNftnl.socket(
            AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
            NETLINK_NETFILTER)
        guard fd >= 0 else { throw NftablesError(operation: "netfilter socket", code: errno) }
        // Bound first, for a port id of its own: the kernel leaves port 0 out of what it multicasts.
        var address = sockaddr_nl()
        address.nl_family = sa_family_t(AF_NETLINK)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_nl>.size))
            }
        }
        var group = Int32(NFNLGRP_NFTABLES.rawValue)
        guard bound == 0,
            setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, socklen_t(MemoryLayout<Int32>.size)) == 0
        else {
            let code = errno
            close(fd)
            throw NftablesError(operation: "nf_tables subscribe", code: code)
        }
        var size = Int32(clamping: receiveBuffer)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        // Past net.core.rmem_max only with CAP_NET_ADMIN; without it, the capped size stands.
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size))
        socket = fd
    }

    deinit { close(socket) }

    /// Whether the ruleset changed, waiting up to `timeout` for the first announcement. An overflowed buffer
    /// (ENOBUFS) counts as a change too: what was lost is only ever read again whole.
    public func changed(waiting timeout: Duration) -> Bool {
        var poller = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let milliseconds = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
        guard poll(&poller, 1, Int32(clamping: milliseconds)) > 0 else { return false }
        var changed = false
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count > 0 || (count < 0 && errno == ENOBUFS) {
                changed = true
                continue
            }
            if count < 0 && errno == EINTR { continue }
            return changed
        }
    }
}
