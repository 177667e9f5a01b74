import Foundation
import Packets
import Topology

/// xtables extensions (iptables-nft's compat `match` and `target` expressions, and legacy tables' entries): the
/// kernel's `xt_*_info` option structs read back into the options iptables-save and ebtables-save print, and
/// into the rule's structured matches. Layouts are the kernel's ABI on a 64-bit host (offsets in the comments
/// of each reader); an extension or revision not known here is kept by name and shown as not decoded.
struct ExtensionReader {
    /// ipset names by the index `-m set` keeps (the kernel's IP_SET_OP_GET_BYINDEX).
    let ipsetNames: [Int: String]
    let ipv6: Bool

    /// The text after `-m NAME` (with a leading space when there are options), or nil when not decoded.
    func match(_ name: String, revision: Int, info: [UInt8], into matches: inout RuleMatches) -> String? {
        switch (name, revision) {
        case ("physdev", 0): physdev(info, &matches)
        case ("set", 1...4): set(info, revision: revision, &matches)
        case ("conntrack", 1...3): conntrack(info, revision: revision, &matches)
        case ("state", 0): state(mask: info.hostU32(0), inverted: false, &matches)
        case ("multiport", 1): multiport(info, &matches)
        case ("comment", 0): " --comment" + Self.quoted(info.cString(0, 256))
        case ("mac", 0): mac(info, &matches)
        case ("iprange", 1): iprange(info, &matches)
        case ("icmp", 0): icmp(info, option: "--icmp-type", &matches)
        case ("icmp6", 0): icmp(info, option: "--icmpv6-type", &matches)
        case ("tcp", 0): ports(info, invertFlags: info.count > 11 ? Int(info[11]) : 0, &matches)
        case ("udp", 0): ports(info, invertFlags: info.count > 8 ? Int(info[8]) : 0, &matches)
        case ("limit", 0): limit(info)
        case ("arp", 0): arp(info, &matches)
        default: nil
        }
    }

    /// The module name iptables-save prints for a match (`-m state` for conntrack's state alias).
    func moduleName(_ name: String, revision: Int, info: [UInt8]) -> String {
        name == "conntrack" && revision == 3 && info.hostU16(146) & 0x2000 != 0 ? "state" : name
    }

    /// The target's text after `-j NAME`, or nil when not decoded.
    func target(_ name: String, revision: Int, info: [UInt8]) -> String? {
        switch (name, revision) {
        case ("LOG", 0): log(info)
        case ("NFLOG", 0): nflog(info)
        case ("REJECT", 0): " --reject-with " + rejectName(info.hostU32(0))
        case ("MASQUERADE", 0): masquerade(info)
        case ("NOTRACK", _),
            ("CT", 0) where info.isAllZero:
            ""
        default: nil
        }
    }

    // MARK: matches

    /// xt_physdev_info: physindev[16] @0, in_mask @16, physoutdev @32, out_mask @48, invert @64, bitmask @65.
    private func physdev(_ info: [UInt8], _ matches: inout RuleMatches) -> String {
        let invert = info.count > 64 ? Int(info[64]) : 0
        let bitmask = info.count > 65 ? Int(info[65]) : 0
        var text = ""
        let not = { (flag: Int) in invert & flag != 0 ? " !" : "" }
        if bitmask & 0x01 != 0 {
            let name = info.cString(0, 16)
            text += not(0x01) + " --physdev-in " + name
            matches.physdevIn = Matched(name, inverted: invert & 0x01 != 0)
        }
        if bitmask & 0x02 != 0 {
            let name = info.cString(32, 16)
            text += not(0x02) + " --physdev-out " + name
            matches.physdevOut = Matched(name, inverted: invert & 0x02 != 0)
        }
        if bitmask & 0x08 != 0 {
            text += not(0x08) + " --physdev-is-in"
            matches.physdevIsIn = Matched(true, inverted: invert & 0x08 != 0)
        }
        if bitmask & 0x10 != 0 {
            text += not(0x10) + " --physdev-is-out"
            matches.physdevIsOut = Matched(true, inverted: invert & 0x10 != 0)
        }
        if bitmask & 0x04 != 0 {
            text += not(0x04) + " --physdev-is-bridged"
            matches.physdevIsBridged = Matched(true, inverted: invert & 0x04 != 0)
        }
        return text
    }

    /// xt_set_info (revisions 1 to 4 start with it): index u16 @0, dim u8 @2, flags u8 @3; bit 0 of flags inverts,
    /// bit N says dimension N looks up the source address. Revision 4 adds counters and flags u32 @40.
    private func set(_ info: [UInt8], revision: Int, _ matches: inout RuleMatches) -> String {
        let index = info.hostU16(0)
        let dimensions = info.count > 2 ? Int(info[2]) : 0
        let flags = info.count > 3 ? Int(info[3]) : 0
        let name = ipsetNames[index] ?? "#\(index)"
        let directions = (0..<dimensions).map {
            flags & (1 << ($0 + 1)) != 0 ? SetMatch.Direction.source : .destination
        }
        let inverted = flags & 0x01 != 0
        matches.sets = (matches.sets ?? []) + [SetMatch(name: name, directions: directions, inverted: inverted)]
        var text = (inverted ? " !" : "") + " --match-set \(name) " + directions.map(\.rawValue).joined(separator: ",")
        if revision >= 3 {
            let options = revision == 4 ? info.hostU32(40) : info.hostU32(20)
            if options & 0x01 != 0 { text += " --return-nomatch" }
            if options & 0x02 != 0 { text += " ! --update-counters" }
            if options & 0x04 != 0 { text += " ! --update-subcounters" }
        }
        return text
    }

    /// xt_conntrack_mtinfo1...3: the state mask is the only field read (match_flags @146, invert_flags @148,
    /// state_mask @150 in revision 3); other conntrack options are kept as not decoded.
    private func conntrack(_ info: [UInt8], revision: Int, _ matches: inout RuleMatches) -> String? {
        guard revision == 3 else { return nil }
        let flags = info.hostU16(146)
        let inverted = info.hostU16(148) & 0x01 != 0
        guard flags & ~0x2001 == 0 else { return nil }
        let text = state(mask: info.hostU16(150), inverted: inverted, conntrack: true, &matches)
        return flags & 0x2000 != 0 ? text : text.replacingOccurrences(of: "--state", with: "--ctstate")
    }

    /// The states as iptables-save names them, in its order.
    private func state(mask: Int, inverted: Bool, conntrack: Bool = false, _ matches: inout RuleMatches) -> String {
        let states = Self.states(mask, conntrack: conntrack)
        matches.state = Matched(states, inverted: inverted)
        return (inverted ? " !" : "") + " --state " + states.map(\.rawValue).joined(separator: ",")
    }

    /// ESTABLISHED is bit 1, RELATED 2, NEW 3, INVALID 0 in every state mask; UNTRACKED is bit 6 in xt_state's and
    /// nftables' `ct state`, bit 8 in xt_conntrack's, whose bits 6 and 7 are SNAT and DNAT.
    static func states(_ mask: Int, conntrack: Bool) -> [ConntrackState] {
        let names: [(Int, ConntrackState)] =
            [(0x01, .invalid), (0x08, .new), (0x04, .related), (0x02, .established)]
            + (conntrack ? [(0x100, .untracked), (0x40, .snat), (0x80, .dnat)] : [(0x40, .untracked)])
        return names.filter { mask & $0.0 != 0 }.map(\.1)
    }

    /// xt_multiport_v1: flags u8 @0 (0 source, 1 destination, 2 either), count u8 @1, ports u16[15] @2,
    /// pflags u8[15] @32 (a range starts here), invert u8 @47.
    private func multiport(_ info: [UInt8], _ matches: inout RuleMatches) -> String {
        let kind = info.first ?? 0
        let count = info.count > 1 ? min(Int(info[1]), 15) : 0
        var parts: [String] = []
        var index = 0
        while index < count {
            let port = info.hostU16(2 + index * 2)
            if info.count > 32 + index, info[32 + index] != 0, index + 1 < count {
                parts.append("\(port):\(info.hostU16(4 + index * 2))")
                index += 2
            } else {
                parts.append("\(port)")
                index += 1
            }
        }
        let list = parts.joined(separator: ",")
        let inverted = info.count > 47 && info[47] != 0
        switch kind {
        case 0: matches.sourcePorts = Matched(list, inverted: inverted)
        case 1: matches.destinationPorts = Matched(list, inverted: inverted)
        default:
            matches.sourcePorts = Matched(list, inverted: inverted)
            matches.destinationPorts = Matched(list, inverted: inverted)
        }
        let option = kind == 0 ? "--sports" : kind == 1 ? "--dports" : "--ports"
        return (inverted ? " !" : "") + " \(option) \(list)"
    }

    /// xt_mac_info: srcaddr[6] @0, invert int @8.
    private func mac(_ info: [UInt8], _ matches: inout RuleMatches) -> String {
        let address = Format.mac(info.slice(0, 6))
        let inverted = info.hostU32(8) != 0
        matches.sourceMAC = Matched(address, inverted: inverted)
        return (inverted ? " !" : "") + " --mac-source " + address
    }

    /// xt_iprange_mtinfo: src_min @0, src_max @16, dst_min @32, dst_max @48 (16 bytes each), flags u8 @64.
    private func iprange(_ info: [UInt8], _ matches: inout RuleMatches) -> String {
        let flags = info.count > 64 ? Int(info[64]) : 0
        let range = { (offset: Int) in
            AddressText.address(info.slice(offset, 16), ipv6: ipv6) + "-"
                + AddressText.address(info.slice(offset + 16, 16), ipv6: ipv6)
        }
        var text = ""
        if flags & 0x01 != 0 {
            let inverted = flags & 0x10 != 0
            text += (inverted ? " !" : "") + " --src-range " + range(0)
            matches.source = Matched(range(0), inverted: inverted)
        }
        if flags & 0x02 != 0 {
            let inverted = flags & 0x20 != 0
            text += (inverted ? " !" : "") + " --dst-range " + range(32)
            matches.destination = Matched(range(32), inverted: inverted)
        }
        return text
    }

    /// ipt_icmp and ip6t_icmp: type u8 @0, code range u8[2] @1, invflags u8 @3.
    private func icmp(_ info: [UInt8], option: String, _ matches: inout RuleMatches) -> String {
        guard info.count >= 4 else { return "" }
        let (type, low, high) = (Int(info[0]), Int(info[1]), Int(info[2]))
        // iptables-save writes the type as a number, a code only when the rule names one.
        let value =
            if type == 0xff && low == 0 && high == 0xff {
                "any"
            } else if low == 0 && high == 0xff {
                "\(type)"
            } else {
                "\(type)/\(low)"
            }
        matches.icmpType = Matched(value, inverted: info[3] & 0x01 != 0)
        return (info[3] & 0x01 != 0 ? " !" : "") + " \(option) \(value)"
    }

    /// xt_tcp and xt_udp: source ports u16[2] @0, destination ports u16[2] @4; the invert flags' bit 0 is the
    /// source, bit 1 the destination.
    private func ports(_ info: [UInt8], invertFlags: Int, _ matches: inout RuleMatches) -> String {
        var text = ""
        for (offset, bit, option) in [(0, 0x01, "--sport"), (4, 0x02, "--dport")] {
            let (low, high) = (info.hostU16(offset), info.hostU16(offset + 2))
            guard low != 0 || high != 0xffff else { continue }
            let value = low == high ? "\(low)" : "\(low):\(high)"
            let inverted = invertFlags & bit != 0
            text += (inverted ? " !" : "") + " \(option) \(value)"
            if offset == 0 {
                matches.sourcePorts = Matched(value, inverted: inverted)
            } else {
                matches.destinationPorts = Matched(value, inverted: inverted)
            }
        }
        return text
    }

    /// xt_rateinfo: avg u32 @0 (the time between packets, in 1/10000 s), burst u32 @4.
    private func limit(_ info: [UInt8]) -> String {
        let period = max(1, info.hostU32(0))
        let units: [(String, Int)] = [("day", 864_000_000), ("hour", 36_000_000), ("min", 600_000), ("sec", 10_000)]
        var chosen = units[0]
        for unit in units.dropFirst() {
            if period > unit.1 || unit.1 / period < unit.1 % period { break }
            chosen = unit
        }
        let burst = info.hostU32(4)
        return " --limit \(chosen.1 / period)/\(chosen.0)" + (burst == 5 ? "" : " --limit-burst \(burst)")
    }

    /// ebt_arp_info: htype @0, ptype @2, opcode @4 (network order), saddr @8, smsk @12, daddr @16, dmsk @20,
    /// smaddr[6] @24, smmsk @30, dmaddr @36, dmmsk @42, bitmask u8 @48, invflags u8 @49.
    private func arp(_ info: [UInt8], _ matches: inout RuleMatches) -> String {
        guard info.count >= 50 else { return "" }
        let (bitmask, invert) = (Int(info[48]), Int(info[49]))
        let not = { (flag: Int) in invert & flag != 0 ? "! " : "" }
        var text = ""
        if bitmask & 0x01 != 0 {
            let code = info.networkU16(4)
            let name = code >= 1 && code <= Self.arpOperations.count ? Self.arpOperations[code - 1] : "\(code)"
            text += " --arp-op \(not(0x01))\(name)"
            matches.arpOperation = Matched(name, inverted: invert & 0x01 != 0)
        }
        if bitmask & 0x02 != 0 { text += " --arp-htype \(not(0x02))\(info.networkU16(0))" }
        if bitmask & 0x04 != 0 { text += " --arp-ptype \(not(0x04))0x\(String(info.networkU16(2), radix: 16))" }
        let address = { (offset: Int) in
            let mask = AddressText.prefixLength(info.slice(offset + 4, 4))
            return Format.ipv4(info.slice(offset, 4)) + (mask == 32 ? "" : "/\(mask)")
        }
        if bitmask & 0x08 != 0 {
            text += " --arp-ip-src \(not(0x08))\(address(8))"
            matches.arpSourceIP = Matched(address(8), inverted: invert & 0x08 != 0)
        }
        if bitmask & 0x10 != 0 {
            text += " --arp-ip-dst \(not(0x10))\(address(16))"
            matches.arpDestinationIP = Matched(address(16), inverted: invert & 0x10 != 0)
        }
        if bitmask & 0x20 != 0 {
            let mac = Format.mac(info.slice(24, 6))
            text += " --arp-mac-src \(not(0x20))\(mac)"
            matches.arpSourceMAC = Matched(mac, inverted: invert & 0x20 != 0)
        }
        if bitmask & 0x40 != 0 {
            let mac = Format.mac(info.slice(36, 6))
            text += " --arp-mac-dst \(not(0x40))\(mac)"
            matches.arpDestinationMAC = Matched(mac, inverted: invert & 0x40 != 0)
        }
        if bitmask & 0x80 != 0 { text += " \(not(0x80))--arp-gratuitous" }
        return text
    }

    private static let arpOperations = [
        "Request", "Reply", "Request_Reverse", "Reply_Reverse", "DRARP_Request", "DRARP_Reply", "DRARP_Error",
        "InARP_Request", "ARP_NAK",
    ]

    // MARK: targets

    /// xt_log_info: level u8 @0, logflags u8 @1, prefix[30] @2.
    private func log(_ info: [UInt8]) -> String {
        let prefix = info.cString(2, 30)
        var text = prefix.isEmpty ? "" : " --log-prefix" + Self.quoted(prefix)
        let level = info.first.map(Int.init) ?? 4
        if level != 4 { text += " --log-level \(level)" }
        let flags = info.count > 1 ? Int(info[1]) : 0
        for (bit, option) in [
            (0x01, "--log-tcp-sequence"), (0x02, "--log-tcp-options"), (0x04, "--log-ip-options"),
            (0x08, "--log-uid"), (0x20, "--log-macdecode"),
        ] where flags & bit != 0 {
            text += " " + option
        }
        return text
    }

    /// xt_nflog_info: len u32 @0, group u16 @4, threshold u16 @6, flags u16 @8, prefix[64] @12.
    private func nflog(_ info: [UInt8]) -> String {
        let prefix = info.cString(12, 64)
        var text = prefix.isEmpty ? "" : " --nflog-prefix" + Self.quoted(prefix)
        if info.hostU16(4) != 0 { text += " --nflog-group \(info.hostU16(4))" }
        if info.hostU16(8) & 0x01 != 0 { text += " --nflog-size \(info.hostU32(0))" }
        if info.hostU16(6) > 1 { text += " --nflog-threshold \(info.hostU16(6))" }
        return text
    }

    /// nf_nat_ipv4_multi_range_compat: rangesize u32 @0, then one range: flags u32 @4, min_ip @8, max_ip @12,
    /// ports (network order) @16 and @18. Flags: 2 ports given, 4 random, 16 random-fully.
    private func masquerade(_ info: [UInt8]) -> String {
        let flags = info.hostU32(4)
        var text = ""
        if flags & 0x02 != 0 {
            let (low, high) = (info.networkU16(16), info.networkU16(18))
            text += " --to-ports \(low)" + (high == low ? "" : "-\(high)")
        }
        if flags & 0x04 != 0 { text += " --random" }
        if flags & 0x10 != 0 { text += " --random-fully" }
        return text
    }

    /// ipt_reject_info and ip6t_reject_info: `with` u32 @0.
    private func rejectName(_ with: Int) -> String {
        let names =
            ipv6
            ? [
                "icmp6-no-route", "icmp6-adm-prohibited", "icmp6-not-neighbour", "icmp6-addr-unreachable",
                "icmp6-port-unreachable", "icmp6-echo-reply", "tcp-reset", "icmp6-policy-fail", "icmp6-reject-route",
            ]
            : [
                "icmp-net-unreachable", "icmp-host-unreachable", "icmp-proto-unreachable", "icmp-port-unreachable",
                "icmp-echo-reply", "icmp-net-prohibited", "icmp-host-prohibited", "tcp-reset",
                "icmp-admin-prohibited",
            ]
        return with < names.count ? names[with] : "\(with)"
    }

    /// A string option as iptables-save writes it (xtables_save_string): bare when it is only letters, digits,
    /// `_` and `-`, else quoted with `"`, `\` and `'` escaped.
    static func quoted(_ text: String) -> String {
        let bare =
            !text.isEmpty
            && text.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-")
            }
        guard !bare else { return " " + text }
        var escaped = ""
        for character in text {
            if "\"\\'".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return " \"" + escaped + "\""
    }
}
