import CNetlink
import Foundation

/// One NETLINK_ROUTE socket in the caller's network namespace. Every collection is a single kernel dump
/// per object kind; nothing here asks the kernel to change anything. Bridge port states come with the link
/// dump (IFLA_INFO_SLAVE_DATA): an AF_BRIDGE dump would cost a second pass that grows super-linearly.
public final class NetlinkSession {
    private let socket: OpaquePointer
    /// A dump the kernel interrupts because the table changed under it (NLM_F_DUMP_INTR) is taken again.
    private let interruptedDumpRetries = 5

    public init() throws(NetlinkError) {
        guard let sk = nl_socket_alloc() else {
            throw NetlinkError(operation: "netlink socket", code: -NLE_NOMEM, message: "out of memory")
        }
        let err = nl_connect(sk, NETLINK_ROUTE)
        if err < 0 {
            nl_socket_free(sk)
            throw NetlinkError(operation: "netlink connect", code: err, message: Self.describe(err))
        }
        // Large hosts answer a dump with megabytes; a small receive buffer would drop parts of it.
        _ = nl_socket_set_buffer_size(sk, 8 << 20, 0)
        socket = sk
    }

    deinit { nl_socket_free(socket) }

    /// Links here; addresses and the FDB on a second socket at the same time. The link dump is mostly the
    /// kernel's own work on one core, so on a big host this saves the time of the other two dumps.
    public func snapshot() throws(NetlinkError) -> NetlinkSnapshot {
        let others = OtherDumps()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            others.collect()
            done.signal()
        }
        let links = try links()
        done.wait()
        let (addresses, fdb, routes) = try others.result.get()
        return NetlinkSnapshot(links: links, addresses: addresses, fdb: fdb, routes: routes)
    }

    public func links() throws(NetlinkError) -> [NetlinkLink] {
        try dump(
            "link dump", type: RTM_GETLINK, family: AF_UNSPEC, header: MemoryLayout<ifinfomsg>.size,
            extMask: UInt32(RTEXT_FILTER_SKIP_STATS), convert: RecordConverter.link)
    }

    /// Every link's counters: the link dump with its statistics (the topology's dump skips them).
    public func linkCounters() throws(NetlinkError) -> [NetlinkLinkCounters] {
        try dump(
            "link counter dump", type: RTM_GETLINK, family: AF_UNSPEC, header: MemoryLayout<ifinfomsg>.size,
            convert: RecordConverter.linkCounters)
    }

    public func addresses() throws(NetlinkError) -> [NetlinkAddress] {
        try dump(
            "address dump", type: RTM_GETADDR, family: AF_UNSPEC, header: MemoryLayout<ifaddrmsg>.size,
            convert: RecordConverter.address)
    }

    public func fdb() throws(NetlinkError) -> [NetlinkFDBEntry] {
        try dump(
            "fdb dump", type: RTM_GETNEIGH, family: AF_BRIDGE, header: MemoryLayout<ndmsg>.size,
            convert: RecordConverter.fdbEntry)
    }

    public func routes() throws(NetlinkError) -> [NetlinkRoute] {
        try dump(
            "route dump", type: RTM_GETROUTE, family: AF_UNSPEC, header: MemoryLayout<rtmsg>.size,
            convert: RecordConverter.route)
    }

    private func dump<Record>(
        _ operation: String, type: Int, family: Int32, header: Int, extMask: UInt32? = nil,
        convert: @escaping (OpaquePointer, OpaquePointer) -> Record?
    ) throws(NetlinkError) -> [Record] {
        var lastError: Int32 = 0
        for _ in 0...interruptedDumpRetries {
            var records: [Record] = []
            let handler = MessageHandler { msg in parseRecords(of: msg, convert: convert, into: &records) }
            let err = withExtendedLifetime(handler) { () -> Int32 in
                let sent = send(type: type, family: family, header: header, extMask: extMask)
                if sent < 0 { return sent }
                let arg = Unmanaged.passUnretained(handler).toOpaque()
                nl_socket_modify_cb(socket, NL_CB_VALID, NL_CB_CUSTOM, MessageHandler.validCallback, arg)
                defer { nl_socket_modify_cb(socket, NL_CB_VALID, NL_CB_DEFAULT, nil, nil) }
                return nl_recvmsgs_default(socket)
            }
            if err >= 0 { return records }
            lastError = err
            if err != -NLE_DUMP_INTR { break }
        }
        throw NetlinkError(operation: operation, code: lastError, message: Self.describe(lastError))
    }

    /// A dump request: the family's header (all rtnetlink headers start with the family byte) and,
    /// for links, IFLA_EXT_MASK so the kernel leaves the counters out.
    private func send(type: Int, family: Int32, header: Int, extMask: UInt32?) -> Int32 {
        guard let msg = nlmsg_alloc_simple(Int32(type), NLM_F_DUMP) else { return -NLE_NOMEM }
        defer { nlmsg_free(msg) }
        var bytes = [UInt8](repeating: 0, count: header)
        bytes[0] = UInt8(family)
        var err = bytes.withUnsafeMutableBytes { nlmsg_append(msg, $0.baseAddress, header, Int32(NLMSG_ALIGNTO)) }
        if err < 0 { return err }
        if let extMask {
            err = nla_put_u32(msg, Int32(IFLA_EXT_MASK), extMask)
            if err < 0 { return err }
        }
        return nl_send_auto(socket, msg)
    }

    static func describe(_ err: Int32) -> String {
        guard let text = nl_geterror(err) else { return "netlink error \(err)" }
        return String(cString: text)
    }
}

/// The address, FDB and route dumps, taken on their own socket by another thread.
private final class OtherDumps: @unchecked Sendable {
    private(set) var result: Result<([NetlinkAddress], [NetlinkFDBEntry], [NetlinkRoute]), NetlinkError> =
        .failure(NetlinkError(operation: "netlink", code: 0, message: "not collected"))

    /// Runs on the other thread; the semaphore that follows publishes `result` to the caller.
    func collect() {
        do {
            let session = try NetlinkSession()
            result = .success((try session.addresses(), try session.fdb(), try session.routes()))
        } catch {
            result = .failure(error)
        }
    }
}

/// Receives the messages of one dump (NL_CB_VALID) and hands each on.
final class MessageHandler {
    let handle: (OpaquePointer) -> Void
    init(_ handle: @escaping (OpaquePointer) -> Void) { self.handle = handle }

    static let validCallback: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Int32 = { msg, arg in
        guard let msg, let arg else { return Int32(NL_SKIP.rawValue) }
        Unmanaged<MessageHandler>.fromOpaque(arg).takeUnretainedValue().handle(msg)
        return Int32(NL_OK.rawValue)
    }
}

/// Lets libnl parse one message into its object and converts that object, with the raw message for the
/// attributes libnl 3.7 does not parse, into a Swift record. Live dumps and recorded messages both come here.
func parseRecords<Record>(
    of msg: OpaquePointer, convert: (OpaquePointer, OpaquePointer) -> Record?,
    into records: inout [Record]
) {
    withoutActuallyEscaping(convert) { convert in
        var found: [Record] = []
        var context = ParseContext { object in
            if let record = convert(object, msg) { found.append(record) }
        }
        // Message types libnl has no parser for (none are expected) are skipped, not fatal.
        _ = withUnsafeMutablePointer(to: &context) { nl_msg_parse(msg, parsedObjectCallback, $0) }
        records += found
    }
}

private struct ParseContext {
    var deliver: (OpaquePointer) -> Void
}

private let parsedObjectCallback: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void = { object, arg in
    guard let object, let context = arg?.assumingMemoryBound(to: ParseContext.self).pointee else { return }
    context.deliver(object)
}
