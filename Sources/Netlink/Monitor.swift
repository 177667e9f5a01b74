import CNetlink
import Foundation

/// One change the kernel announced on a NETLINK_ROUTE multicast group, as a Swift value.
public enum NetlinkNotification: Sendable, Equatable {
    case link(NetlinkLink, removed: Bool)
    case address(NetlinkAddress, removed: Bool)
    case fdb(NetlinkFDBEntry, removed: Bool)
    case route(NetlinkRoute, removed: Bool)
    /// The socket's receive buffer overflowed: `dropped` notifications (the kernel's count, when it tells) are
    /// lost, and only a fresh dump says what the host looks like now.
    case overrun(dropped: Int?)
}

/// A NETLINK_ROUTE socket that only listens: it joins the link, address, neighbour (the bridges' FDB) and route
/// groups and never sends a request, so it cannot change anything. Join before dumping, so nothing that happens
/// between the dump and the first notification is missed.
public final class NetlinkMonitor: @unchecked Sendable {
    private let socket: OpaquePointer
    private let descriptor: Int32
    /// The kernel's count of what this socket dropped, when last read.
    private var droppedBefore = 0

    public static let defaultReceiveBuffer = 8 << 20

    public init(receiveBuffer: Int = defaultReceiveBuffer) throws(NetlinkError) {
        guard let sk = nl_socket_alloc() else {
            throw NetlinkError(operation: "netlink socket", code: -NLE_NOMEM, message: "out of memory")
        }
        nl_socket_disable_seq_check(sk)
        let err = nl_connect(sk, NETLINK_ROUTE)
        if err < 0 {
            nl_socket_free(sk)
            throw NetlinkError(operation: "netlink connect", code: err, message: NetlinkSession.describe(err))
        }
        let groups = [
            RTNLGRP_LINK, RTNLGRP_NEIGH, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV4_ROUTE,
            RTNLGRP_IPV6_ROUTE,
        ]
        for group in groups {
            let joined = nl_socket_add_membership(sk, Int32(group.rawValue))
            if joined < 0 {
                nl_socket_free(sk)
                throw NetlinkError(
                    operation: "netlink subscribe", code: joined, message: NetlinkSession.describe(joined))
            }
        }
        _ = nl_socket_set_buffer_size(sk, Int32(clamping: receiveBuffer), 0)
        // Past net.core.rmem_max only with CAP_NET_ADMIN (SO_RCVBUFFORCE); without it, the capped size stands.
        var size = Int32(clamping: receiveBuffer)
        _ = setsockopt(nl_socket_get_fd(sk), SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size))
        _ = nl_socket_set_nonblocking(sk)
        socket = sk
        descriptor = nl_socket_get_fd(sk)
    }

    deinit { nl_socket_free(socket) }

    /// What the kernel announced, waiting up to `timeout` for the first of it; empty when nothing came.
    public func notifications(waiting timeout: Duration) -> [NetlinkNotification] {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let milliseconds = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
        guard poll(&poller, 1, Int32(clamping: milliseconds)) > 0 else { return [] }
        var found: [NetlinkNotification] = []
        let handler = MessageHandler { msg in
            let type = Int(nlmsg_hdr(msg).pointee.nlmsg_type)
            /// The message's records, told as added or removed by its type.
            func parse<Record>(
                _ convert: (OpaquePointer, OpaquePointer) -> Record?, removedBy deletion: Int,
                _ notification: (Record, Bool) -> NetlinkNotification
            ) {
                var records: [Record] = []
                parseRecords(of: msg, convert: convert, into: &records)
                found += records.map { notification($0, type == deletion) }
            }
            switch type {
            case RTM_NEWLINK, RTM_DELLINK: parse(RecordConverter.link, removedBy: RTM_DELLINK, NetlinkNotification.link)
            case RTM_NEWADDR, RTM_DELADDR:
                parse(RecordConverter.address, removedBy: RTM_DELADDR, NetlinkNotification.address)
            case RTM_NEWNEIGH, RTM_DELNEIGH:
                parse(RecordConverter.fdbEntry, removedBy: RTM_DELNEIGH, NetlinkNotification.fdb)
            case RTM_NEWROUTE, RTM_DELROUTE:
                parse(RecordConverter.route, removedBy: RTM_DELROUTE, NetlinkNotification.route)
            default: break
            }
        }
        let arg = Unmanaged.passUnretained(handler).toOpaque()
        nl_socket_modify_cb(socket, NL_CB_VALID, NL_CB_CUSTOM, MessageHandler.validCallback, arg)
        defer { nl_socket_modify_cb(socket, NL_CB_VALID, NL_CB_DEFAULT, nil, nil) }
        // Non-blocking: read until the socket is empty (-NLE_AGAIN) or overflowed (ENOBUFS is -NLE_NOMEM).
        while true {
            let err = withExtendedLifetime(handler) { nl_recvmsgs_default(socket) }
            if err == -NLE_NOMEM {
                found.append(.overrun(dropped: droppedSinceLastOverrun()))
                continue
            }
            if err < 0 { break }
        }
        return found
    }

    /// SO_MEMINFO's SK_MEMINFO_DROPS: how many notifications the kernel could not queue since the last overrun.
    private func droppedSinceLastOverrun() -> Int? {
        var info = [UInt32](repeating: 0, count: Int(SK_MEMINFO_VARS))
        var length = socklen_t(info.count * MemoryLayout<UInt32>.size)
        let read = info.withUnsafeMutableBytes {
            getsockopt(descriptor, SOL_SOCKET, SO_MEMINFO, $0.baseAddress, &length)
        }
        let index = Int(SK_MEMINFO_DROPS)
        guard read == 0, Int(length) > index * MemoryLayout<UInt32>.size else { return nil }
        let total = Int(info[index])
        defer { droppedBefore = total }
        return total - droppedBefore
    }
}
