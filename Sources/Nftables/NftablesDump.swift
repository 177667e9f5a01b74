import CNftnl
import Firewall
import Foundation
import Topology

public struct NftablesError: Error, CustomStringConvertible, Sendable {
    public var operation: String
    public var code: Int32

    public var description: String {
        let reason = String(cString: strerror(code))
        switch code {
        case EPERM, EACCES: return "\(operation): \(reason) (reading the firewall needs root or CAP_NET_ADMIN)"
        case EPROTONOSUPPORT, EAFNOSUPPORT: return "\(operation): \(reason) (this kernel has no nf_tables)"
        default: return "\(operation): \(reason)"
        }
    }
}

/// One NETLINK_NETFILTER socket in the caller's network namespace, asking nf_tables for dumps only: tables,
/// chains and sets of every family, one dump per object kind, and one per chain for its rules and per named set
/// for its elements.
/// libnftnl turns each message into its attributes; nothing here builds a message that changes anything.
public final class NftablesSession {
    private let socket: Int32
    private var sequence: UInt32 = UInt32(truncatingIfNeeded: time(nil))
    /// Where answers are read, allocated once: there is a dump per chain. A dump message is at most 32 KiB.
    private var buffer = [UInt8](repeating: 0, count: 64 << 10)
    /// Where requests are built, allocated once too: a request names at most a table, a chain or a set.
    private var request = [UInt8](repeating: 0, count: 4096)
    /// A dump the kernel interrupts because the ruleset changed under it (NLM_F_DUMP_INTR) is taken again.
    private static let interruptedDumpRetries = 5

    public init() throws(NftablesError) {
        let fd = CNftnl.socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), NETLINK_NETFILTER)
        guard fd >= 0 else { throw NftablesError(operation: "netfilter socket", code: errno) }
        var size: Int32 = 8 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        socket = fd
    }

    deinit { close(socket) }

    /// The ruleset's generation: nf_tables counts every committed change, so the same number before and after a
    /// read of several dumps says they all saw one ruleset. Nil when the kernel does not say.
    public func generation() throws(NftablesError) -> UInt32? {
        try dump("generation", Self.generation, NFT_MSG_GETGEN, flags: NLM_F_ACK).first
    }

    public func tables() throws(NftablesError) -> [NftTable] {
        try dump("table dump", Self.table, NFT_MSG_GETTABLE)
    }

    public func chains() throws(NftablesError) -> [NftChain] {
        try dump("chain dump", Self.chain, NFT_MSG_GETCHAIN)
    }

    /// One chain's rules, asked by name: the kernel resumes an unfiltered rule dump by walking every rule before
    /// the point it stopped at, once per 32 KiB message, which grows with the square of the rules (60,000 rules of
    /// 1,000 VMs' security groups took 0.6 s of kernel time that way).
    public func rules(of chain: NftChain) throws(NftablesError) -> [NftRule] {
        guard let handle = nftnl_rule_alloc() else { return [] }
        defer { nftnl_rule_free(handle) }
        nftnl_rule_set_str(handle, Self.attribute(NFTNL_RULE_TABLE), chain.table)
        nftnl_rule_set_str(handle, Self.attribute(NFTNL_RULE_CHAIN), chain.name)
        do {
            return try dump(
                "rule dump", Self.rule, NFT_MSG_GETRULE, family: Self.number(of: chain.family),
                payload: { nftnl_rule_nlmsg_build_payload($0, handle) })
        } catch  where error.code == ENOENT {
            // Deleted since the chain dump (the agent removes a VM's chains as it goes): it has no rules now.
            return []
        }
    }

    /// The named sets, each with its elements.
    public func sets() throws(NftablesError) -> [NftSet] {
        try dump("set dump", Self.set, NFT_MSG_GETSET).map { set throws(NftablesError) in
            var set = set
            set.elements = try elements(of: set)
            return set
        }
    }

    // MARK: dumps

    private func dump<Record>(
        _ operation: String, _ parse: (UnsafePointer<nlmsghdr>) -> Record?, _ type: nf_tables_msg_types,
        family: UInt32 = UInt32(NFPROTO_UNSPEC), flags: Int32 = NLM_F_DUMP,
        payload: (UnsafeMutablePointer<nlmsghdr>) -> Void = { _ in }
    ) throws(NftablesError) -> [Record] {
        try exchange(operation, parse) { sequence in
            // Built in the session's own buffer: there is a dump per chain, thousands of them, and a fresh block
            // for each grew and trimmed the thread's heap every time.
            request.withUnsafeMutableBytes { buffer in
                buffer.initializeMemory(as: UInt8.self, repeating: 0)
                let header = nftnl_nlmsg_build_hdr(
                    buffer.baseAddress!.assumingMemoryBound(to: CChar.self), UInt16(type.rawValue),
                    UInt16(family), UInt16(flags), sequence)!
                payload(header)
                return send(socket, buffer.baseAddress, Int(header.pointee.nlmsg_len), 0)
            }
        }
    }

    /// Sends the request `build` makes for a sequence number and collects the answer's records, again when the
    /// kernel says the dump was interrupted.
    func dump<Record>(
        _ operation: String, _ parse: (UnsafePointer<nlmsghdr>) -> Record?, request build: (UInt32) -> [UInt8]
    ) throws(NftablesError) -> [Record] {
        try exchange(operation, parse) { sequence in
            build(sequence).withUnsafeBytes { send(socket, $0.baseAddress, $0.count, 0) }
        }
    }

    /// Sends a request (`sending` returns what send(2) did) and collects the answer's records, again when the
    /// kernel says the dump was interrupted. A ruleset that changes under every attempt (VMs starting by the dozen)
    /// gives the last attempt's records rather than none: the caller's generation check says they may mix.
    private func exchange<Record>(
        _ operation: String, _ parse: (UnsafePointer<nlmsghdr>) -> Record?, sending: (UInt32) -> Int
    ) throws(NftablesError) -> [Record] {
        var records: [Record] = []
        for _ in 0...Self.interruptedDumpRetries {
            sequence &+= 1
            guard sending(sequence) >= 0 else { throw NftablesError(operation: operation, code: errno) }
            records = []
            switch try receive(operation, { header in if let record = parse(header) { records.append(record) } }) {
            case .complete: return records
            case .interrupted: continue
            }
        }
        return records
    }

    private enum DumpEnd { case complete, interrupted }

    /// Reads the answer to the last request until NLMSG_DONE, handing each message of this sequence to `each`.
    private func receive(
        _ operation: String, _ each: (UnsafePointer<nlmsghdr>) -> Void
    ) throws(NftablesError) -> DumpEnd {
        var interrupted = false
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            guard count >= 0 else {
                if errno == EINTR { continue }
                throw NftablesError(operation: operation, code: errno)
            }
            var offset = 0
            let headerSize = MemoryLayout<nlmsghdr>.size
            while offset + headerSize <= count {
                let result = buffer.withUnsafeBytes { raw -> Int32? in
                    let header = raw.baseAddress!.advanced(by: offset).assumingMemoryBound(to: nlmsghdr.self)
                    let message = header.pointee
                    guard message.nlmsg_len >= headerSize, offset + Int(message.nlmsg_len) <= count else { return -EIO }
                    offset += (Int(message.nlmsg_len) + 3) & ~3
                    guard message.nlmsg_seq == sequence else { return nil }
                    if Int32(message.nlmsg_flags) & NLM_F_DUMP_INTR != 0 { interrupted = true }
                    switch Int32(message.nlmsg_type) {
                    case NLMSG_DONE: return 0
                    case NLMSG_ERROR:
                        let error = raw.baseAddress!.advanced(
                            by: offset - ((Int(message.nlmsg_len) + 3) & ~3) + headerSize
                        )
                        .assumingMemoryBound(to: nlmsgerr.self).pointee.error
                        return error == 0 ? 0 : error
                    default:
                        each(UnsafePointer(header))
                        return nil
                    }
                }
                if let result {
                    guard result == 0 else { throw NftablesError(operation: operation, code: -result) }
                    return interrupted ? .interrupted : .complete
                }
            }
        }
    }

    private func elements(of set: NftSet) throws(NftablesError) -> [[UInt8]] {
        guard let handle = nftnl_set_alloc() else { return [] }
        defer { nftnl_set_free(handle) }
        nftnl_set_set_str(handle, Self.attribute(NFTNL_SET_TABLE), set.table)
        nftnl_set_set_str(handle, Self.attribute(NFTNL_SET_NAME), set.name)
        nftnl_set_set_u32(handle, Self.attribute(NFTNL_SET_FAMILY), Self.number(of: set.family))
        let batches: [[[UInt8]]] = try dump(
            "set element dump", Self.elements, NFT_MSG_GETSETELEM,
            payload: { nftnl_set_elems_nlmsg_build_payload($0, handle) })
        return batches.flatMap { $0 }
    }

    // MARK: messages into values

    private static func generation(_ header: UnsafePointer<nlmsghdr>) -> UInt32? {
        guard let generation = nftnl_gen_alloc() else { return nil }
        defer { nftnl_gen_free(generation) }
        guard nftnl_gen_nlmsg_parse(header, generation) >= 0 else { return nil }
        return nftnl_gen_get_u32(generation, attribute(NFTNL_GEN_ID))
    }

    private static func table(_ header: UnsafePointer<nlmsghdr>) -> NftTable? {
        guard let table = nftnl_table_alloc() else { return nil }
        defer { nftnl_table_free(table) }
        guard nftnl_table_nlmsg_parse(header, table) >= 0 else { return nil }
        return NftTable(
            family: family(nftnl_table_get_u32(table, attribute(NFTNL_TABLE_FAMILY))),
            name: string(nftnl_table_get_str(table, attribute(NFTNL_TABLE_NAME))))
    }

    private static func chain(_ header: UnsafePointer<nlmsghdr>) -> NftChain? {
        guard let chain = nftnl_chain_alloc() else { return nil }
        defer { nftnl_chain_free(chain) }
        guard nftnl_chain_nlmsg_parse(header, chain) >= 0 else { return nil }
        let isSet = { (key: nftnl_chain_attr) in nftnl_chain_is_set(chain, attribute(key)) }
        let family = family(nftnl_chain_get_u32(chain, attribute(NFTNL_CHAIN_FAMILY)))
        var read = NftChain(
            family: family, table: string(nftnl_chain_get_str(chain, attribute(NFTNL_CHAIN_TABLE))),
            name: string(nftnl_chain_get_str(chain, attribute(NFTNL_CHAIN_NAME))))
        guard isSet(NFTNL_CHAIN_HOOKNUM) else { return read }
        read.hook = hook(nftnl_chain_get_u32(chain, attribute(NFTNL_CHAIN_HOOKNUM)), family: family)
        read.priority = Int(nftnl_chain_get_s32(chain, attribute(NFTNL_CHAIN_PRIO)))
        if isSet(NFTNL_CHAIN_TYPE) { read.type = string(nftnl_chain_get_str(chain, attribute(NFTNL_CHAIN_TYPE))) }
        if isSet(NFTNL_CHAIN_POLICY) {
            read.policy = nftnl_chain_get_u32(chain, attribute(NFTNL_CHAIN_POLICY)) == NF_ACCEPT ? .accept : .drop
        }
        if isSet(NFTNL_CHAIN_PACKETS) {
            read.packets = Int(truncatingIfNeeded: nftnl_chain_get_u64(chain, attribute(NFTNL_CHAIN_PACKETS)))
            read.bytes = Int(truncatingIfNeeded: nftnl_chain_get_u64(chain, attribute(NFTNL_CHAIN_BYTES)))
        }
        return read
    }

    private static func rule(_ header: UnsafePointer<nlmsghdr>) -> NftRule? {
        guard let rule = nftnl_rule_alloc() else { return nil }
        defer { nftnl_rule_free(rule) }
        guard nftnl_rule_nlmsg_parse(header, rule) >= 0 else { return nil }
        var expressions: [NftExpression] = []
        // A rule has a handful to a dozen: room once, rather than growing through 1, 2, 4, 8.
        expressions.reserveCapacity(16)
        if let iterator = nftnl_expr_iter_create(rule) {
            while let expression = nftnl_expr_iter_next(iterator) { expressions.append(Self.expression(expression)) }
            nftnl_expr_iter_destroy(iterator)
        }
        var length: UInt32 = 0
        let userdata = nftnl_rule_get_data(rule, attribute(NFTNL_RULE_USERDATA), &length)
        return NftRule(
            family: family(nftnl_rule_get_u32(rule, attribute(NFTNL_RULE_FAMILY))),
            table: string(nftnl_rule_get_str(rule, attribute(NFTNL_RULE_TABLE))),
            chain: string(nftnl_rule_get_str(rule, attribute(NFTNL_RULE_CHAIN))),
            handle: Int(truncatingIfNeeded: nftnl_rule_get_u64(rule, attribute(NFTNL_RULE_HANDLE))),
            expressions: expressions, userdata: bytes(userdata, length))
    }

    private static func set(_ header: UnsafePointer<nlmsghdr>) -> NftSet? {
        guard let set = nftnl_set_alloc() else { return nil }
        defer { nftnl_set_free(set) }
        guard nftnl_set_nlmsg_parse(header, set) >= 0 else { return nil }
        return NftSet(
            family: family(nftnl_set_get_u32(set, attribute(NFTNL_SET_FAMILY))),
            table: string(nftnl_set_get_str(set, attribute(NFTNL_SET_TABLE))),
            name: string(nftnl_set_get_str(set, attribute(NFTNL_SET_NAME))),
            keyType: Int(nftnl_set_get_u32(set, attribute(NFTNL_SET_KEY_TYPE))),
            keyLength: Int(nftnl_set_get_u32(set, attribute(NFTNL_SET_KEY_LEN))), elements: [])
    }

    /// One message of a set element dump: its elements' keys (an interval's end is left out).
    private static func elements(_ header: UnsafePointer<nlmsghdr>) -> [[UInt8]]? {
        guard let set = nftnl_set_alloc() else { return nil }
        defer { nftnl_set_free(set) }
        guard nftnl_set_elems_nlmsg_parse(header, set) >= 0, let iterator = nftnl_set_elems_iter_create(set) else {
            return nil
        }
        defer { nftnl_set_elems_iter_destroy(iterator) }
        var keys: [[UInt8]] = []
        while let element = nftnl_set_elems_iter_next(iterator) {
            let flags = nftnl_set_elem_get_u32(element, attribute(NFTNL_SET_ELEM_FLAGS))
            guard flags & UInt32(NFT_SET_ELEM_INTERVAL_END.rawValue) == 0 else { continue }
            var length: UInt32 = 0
            keys.append(bytes(nftnl_set_elem_get(element, attribute(NFTNL_SET_ELEM_KEY), &length), length))
        }
        return keys
    }

    /// An expression by its name, with the attributes the reader uses.
    private static func expression(_ expression: OpaquePointer) -> NftExpression {
        let name = string(nftnl_expr_get_str(expression, attribute(NFTNL_EXPR_NAME)))
        let isSet = { (key: Int) in nftnl_expr_is_set(expression, attribute(key)) }
        let u32 = { (key: Int) in Int(nftnl_expr_get_u32(expression, attribute(key))) }
        let u64 = { (key: Int) in Int(truncatingIfNeeded: nftnl_expr_get_u64(expression, attribute(key))) }
        let data = { (key: Int) -> [UInt8] in
            var length: UInt32 = 0
            return bytes(nftnl_expr_get(expression, attribute(key), &length), length)
        }
        let text = { (key: Int) in isSet(key) ? string(nftnl_expr_get_str(expression, attribute(key))) : nil }
        switch name {
        case "meta" where isSet(NFTNL_EXPR_META_DREG):
            return .meta(metaKey(u32(NFTNL_EXPR_META_KEY)), register: u32(NFTNL_EXPR_META_DREG))
        case "payload" where isSet(NFTNL_EXPR_PAYLOAD_DREG):
            guard let base = payloadBases[u32(NFTNL_EXPR_PAYLOAD_BASE)] else { return .other("payload") }
            return .payload(
                base, offset: u32(NFTNL_EXPR_PAYLOAD_OFFSET), length: u32(NFTNL_EXPR_PAYLOAD_LEN),
                register: u32(NFTNL_EXPR_PAYLOAD_DREG))
        case "cmp":
            guard let comparison = comparisons[u32(NFTNL_EXPR_CMP_OP)] else { return .other("cmp") }
            return .compare(register: u32(NFTNL_EXPR_CMP_SREG), comparison, data: data(NFTNL_EXPR_CMP_DATA))
        case "range":
            return .range(
                register: u32(NFTNL_EXPR_RANGE_SREG), inverted: u32(NFTNL_EXPR_RANGE_OP) == Int(NFT_RANGE_NEQ.rawValue),
                from: data(NFTNL_EXPR_RANGE_FROM_DATA), to: data(NFTNL_EXPR_RANGE_TO_DATA))
        case "bitwise" where !isSet(NFTNL_EXPR_BITWISE_OP) || u32(NFTNL_EXPR_BITWISE_OP) == 0:
            return .bitwise(
                source: u32(NFTNL_EXPR_BITWISE_SREG), destination: u32(NFTNL_EXPR_BITWISE_DREG),
                mask: data(NFTNL_EXPR_BITWISE_MASK), xor: data(NFTNL_EXPR_BITWISE_XOR))
        case "immediate" where isSet(NFTNL_EXPR_IMM_VERDICT):
            let code = Int32(bitPattern: UInt32(truncatingIfNeeded: u32(NFTNL_EXPR_IMM_VERDICT)))
            guard let verdict = verdicts[code] else { return .other("immediate") }
            return .verdict(verdict, chain: text(NFTNL_EXPR_IMM_CHAIN))
        case "counter": return .counter(packets: u64(NFTNL_EXPR_CTR_PACKETS), bytes: u64(NFTNL_EXPR_CTR_BYTES))
        case "ct" where isSet(NFTNL_EXPR_CT_DREG):
            return .conntrack(conntrackKey(u32(NFTNL_EXPR_CT_KEY)), register: u32(NFTNL_EXPR_CT_DREG))
        case "lookup":
            return .lookup(
                set: text(NFTNL_EXPR_LOOKUP_SET) ?? "?", register: u32(NFTNL_EXPR_LOOKUP_SREG),
                inverted: u32(NFTNL_EXPR_LOOKUP_FLAGS) & Int(NFT_LOOKUP_F_INV.rawValue) != 0)
        case "match":
            return .match(
                name: text(NFTNL_EXPR_MT_NAME) ?? "?", revision: u32(NFTNL_EXPR_MT_REV), info: data(NFTNL_EXPR_MT_INFO))
        case "target":
            return .target(
                name: text(NFTNL_EXPR_TG_NAME) ?? "?", revision: u32(NFTNL_EXPR_TG_REV), info: data(NFTNL_EXPR_TG_INFO))
        case "limit":
            return .limit(
                rate: u64(NFTNL_EXPR_LIMIT_RATE), unitSeconds: u64(NFTNL_EXPR_LIMIT_UNIT),
                burst: u32(NFTNL_EXPR_LIMIT_BURST),
                bytes: u32(NFTNL_EXPR_LIMIT_TYPE) == Int(NFT_LIMIT_PKT_BYTES.rawValue),
                inverted: u32(NFTNL_EXPR_LIMIT_FLAGS) & Int(NFT_LIMIT_F_INV.rawValue) != 0)
        case "log":
            return .log(
                prefix: text(NFTNL_EXPR_LOG_PREFIX),
                group: isSet(NFTNL_EXPR_LOG_GROUP)
                    ? Int(nftnl_expr_get_u16(expression, attribute(NFTNL_EXPR_LOG_GROUP))) : nil)
        case "reject":
            return .reject(
                type: u32(NFTNL_EXPR_REJECT_TYPE),
                code: Int(nftnl_expr_get_u8(expression, attribute(NFTNL_EXPR_REJECT_CODE))))
        default: return .other(name)
        }
    }

    // MARK: C values into Swift ones

    /// libnftnl's attribute numbers: named enums for objects, plain constants for expressions.
    private static func attribute<Key: RawRepresentable>(_ key: Key) -> UInt16 where Key.RawValue: BinaryInteger {
        UInt16(truncatingIfNeeded: key.rawValue)
    }

    private static func attribute(_ key: Int) -> UInt16 { UInt16(truncatingIfNeeded: key) }

    private static func string(_ pointer: UnsafePointer<CChar>?) -> String { pointer.map { String(cString: $0) } ?? "" }

    private static func bytes(_ pointer: UnsafeRawPointer?, _ length: UInt32) -> [UInt8] {
        guard let pointer, length > 0 else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: pointer, count: Int(length)))
    }

    // The kernel's numbers for what the reader knows, built once (a rule has a dozen expressions).
    private static let payloadBases: [Int: NftPayloadBase] = [
        Int(NFT_PAYLOAD_LL_HEADER.rawValue): .link, Int(NFT_PAYLOAD_NETWORK_HEADER.rawValue): .network,
        Int(NFT_PAYLOAD_TRANSPORT_HEADER.rawValue): .transport, Int(NFT_PAYLOAD_INNER_HEADER.rawValue): .inner,
    ]
    private static let comparisons: [Int: NftComparison] = [
        Int(NFT_CMP_EQ.rawValue): .equal, Int(NFT_CMP_NEQ.rawValue): .notEqual, Int(NFT_CMP_LT.rawValue): .less,
        Int(NFT_CMP_LTE.rawValue): .lessOrEqual, Int(NFT_CMP_GT.rawValue): .greater,
        Int(NFT_CMP_GTE.rawValue): .greaterOrEqual,
    ]
    private static let verdicts: [Int32: FirewallVerdict] = [
        NF_ACCEPT: .accept, NF_DROP: .drop, NF_QUEUE: .queue, NFT_CONTINUE.rawValue: .continue,
        NFT_JUMP.rawValue: .jump, NFT_GOTO.rawValue: .goto, NFT_RETURN.rawValue: .return,
    ]
    private static let metaKeys: [UInt32: NftMetaKey] = [
        NFT_META_LEN.rawValue: .length, NFT_META_PROTOCOL.rawValue: .protocol, NFT_META_NFPROTO.rawValue: .nfproto,
        NFT_META_L4PROTO.rawValue: .l4proto, NFT_META_MARK.rawValue: .mark, NFT_META_IIF.rawValue: .iif,
        NFT_META_OIF.rawValue: .oif, NFT_META_IIFNAME.rawValue: .iifname, NFT_META_OIFNAME.rawValue: .oifname,
        NFT_META_BRI_IIFNAME.rawValue: .bridgeIifname, NFT_META_BRI_OIFNAME.rawValue: .bridgeOifname,
        NFT_META_PKTTYPE.rawValue: .pkttype,
    ]
    private static let conntrackKeys: [UInt32: NftConntrackKey] = [
        NFT_CT_STATE.rawValue: .state, NFT_CT_DIRECTION.rawValue: .direction, NFT_CT_STATUS.rawValue: .status,
        NFT_CT_MARK.rawValue: .mark,
    ]

    private static let families: [(UInt32, FirewallFamily)] = [
        (UInt32(NFPROTO_IPV4), .ip), (UInt32(NFPROTO_IPV6), .ip6), (UInt32(NFPROTO_INET), .inet),
        (UInt32(NFPROTO_BRIDGE), .bridge), (UInt32(NFPROTO_ARP), .arp), (UInt32(NFPROTO_NETDEV), .netdev),
    ]

    static func family(_ number: UInt32) -> FirewallFamily {
        families.first { $0.0 == number }?.1 ?? FirewallFamily(rawValue: "family-\(number)")
    }

    static func number(of family: FirewallFamily) -> UInt32 {
        families.first { $0.1 == family }?.0 ?? UInt32(NFPROTO_UNSPEC)
    }

    /// Hook numbers are per family: the inet hooks for ip, ip6, inet and bridge; netdev's and arp's own.
    static func hook(_ number: UInt32, family: FirewallFamily) -> FirewallHook {
        let hooks: [FirewallHook] =
            switch family.known {
            case .netdev?: [.ingress, FirewallHook(rawValue: "egress")]
            case .arp?: [.input, .output, .forward]
            case .ip?, .ip6?, .inet?, .bridge?, nil: [.prerouting, .input, .forward, .output, .postrouting, .ingress]
            }
        return Int(number) < hooks.count ? hooks[Int(number)] : FirewallHook(rawValue: "hook-\(number)")
    }

    static func metaKey(_ key: Int) -> NftMetaKey {
        metaKeys[UInt32(key)] ?? .other(key)
    }

    static func conntrackKey(_ key: Int) -> NftConntrackKey {
        conntrackKeys[UInt32(key)] ?? .other(key)
    }
}

/// ipset names by the indexes rules use.
public enum IPSetNames {
    /// The name of every index that has a set, walked from index 0 until `expected` names are found (the number
    /// of sets the ipset dump listed; nil when it could not be listed) or the kernel's last index; empty when the
    /// kernel's ipset interface cannot be asked. Asked before the rules are read, so that each is read once.
    public static func all(expected: Int?) -> [Int: String] {
        guard expected != 0 else { return [:] }
        var version: UInt32 = 0
        let fd = cnft_ipset_socket(&version)
        guard fd >= 0 else { return [:] }
        defer { close(fd) }
        var names: [Int: String] = [:]
        var name = [CChar](repeating: 0, count: Int(IPSET_MAXNAMELEN))
        var index = 0
        while index < Int(UInt16.max), names.count < expected ?? Int.max,
            cnft_ipset_name(fd, version, UInt16(index), &name) == 0
        {
            if name[0] != 0 { names[index] = name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } }
            index += 1
        }
        return names
    }
}
