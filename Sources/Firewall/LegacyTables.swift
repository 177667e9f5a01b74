import Topology

/// iptables-legacy and ip6tables-legacy tables as the kernel hands them over (IPT_SO_GET_INFO's and
/// IPT_SO_GET_ENTRIES' bytes), read back into chains and rules as iptables-legacy-save prints them. The entries
/// carry the same xtables option structs as iptables-nft's compat expressions, read by the same ExtensionReader.
public struct LegacyTable {
    public let family: FirewallFamily
    public let name: String
    /// The GET_INFO answer: valid_hooks u32 @32, hook_entry u32[5] @36, underflow u32[5] @56.
    let info: [UInt8]
    /// The entries, offset 0 being the first (GET_ENTRIES' entrytable).
    let entries: [UInt8]

    public init(family: FirewallFamily, name: String, info: [UInt8], entries: [UInt8]) {
        self.family = family
        self.name = name
        self.info = info
        self.entries = entries
    }

    private var ipv6: Bool { family == .ip6 }
    /// sizeof(struct ipt_entry) and sizeof(struct ip6t_entry): where an entry's matches start.
    private var entrySize: Int { ipv6 ? 168 : 112 }
    /// Offsets of target_offset, next_offset and the counters in an entry.
    private var layout: (target: Int, next: Int, counters: Int) { ipv6 ? (140, 142, 152) : (88, 90, 96) }

    private static let hookNames = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"]

    private struct Entry {
        var offset: Int
        var bytes: [UInt8]
        var targetName: String
        var targetData: [UInt8]
    }

    public func read(ipsetNames: [Int: String] = [:]) -> FirewallTable {
        let list = parsed()
        let hooks = Self.hookNames.indices.filter { info.hostU32(32) & (1 << $0) != 0 }
        let hookAt = Dictionary(hooks.map { (info.hostU32(36 + 4 * $0), $0) }, uniquingKeysWith: { a, _ in a })
        let underflows = Set(hooks.map { info.hostU32(56 + 4 * $0) })
        // Chain heads: a built-in chain starts at its hook entry, a user chain after its ERROR entry.
        var chainAt: [Int: String] = [:]
        for (index, entry) in list.enumerated() {
            if let hook = hookAt[entry.offset] { chainAt[entry.offset] = Self.hookNames[hook] }
            if entry.targetName == "ERROR", index + 1 < list.count {
                chainAt[list[index + 1].offset] = entry.targetData.cString(0, 32)
            }
        }
        let extensions = ExtensionReader(ipsetNames: ipsetNames, ipv6: ipv6)
        var chains: [FirewallChain] = []
        for (index, entry) in list.enumerated() {
            if let name = chainAt[entry.offset], name != "ERROR" {
                var chain = FirewallChain(name: name)
                if let hook = hookAt[entry.offset] {
                    chain.hook = FirewallHook(rawValue: Self.hookNames[hook].lowercased())
                }
                chains.append(chain)
            }
            guard entry.targetName != "ERROR", !chains.isEmpty else { continue }
            let counters = (entry.bytes.hostU64(layout.counters), entry.bytes.hostU64(layout.counters + 8))
            if underflows.contains(entry.offset), chains[chains.count - 1].hook != nil {
                chains[chains.count - 1].policy = standardVerdict(entry).verdict
                chains[chains.count - 1].packets = counters.0
                chains[chains.count - 1].bytes = counters.1
                continue
            }
            // A user chain ends in an unconditional RETURN that no tool shows.
            if index + 1 < list.count, list[index + 1].targetName == "ERROR", chains[chains.count - 1].hook == nil,
                isBareReturn(entry)
            {
                continue
            }
            var rule = self.rule(entry, extensions: extensions, chainAt: chainAt)
            rule.handle = chains[chains.count - 1].rules.count + 1
            rule.packets = counters.0
            rule.bytes = counters.1
            chains[chains.count - 1].rules.append(rule)
        }
        return FirewallTable(
            family: family, name: name, backend: ipv6 ? .ip6tablesLegacy : .iptablesLegacy, chains: chains)
    }

    /// An entry's matches: each xt_entry_match is match_size u16, name[29], revision u8, then its options.
    private func matchRecords(_ entry: Entry) -> [(name: String, revision: Int, data: [UInt8])] {
        var records: [(String, Int, [UInt8])] = []
        let target = entry.bytes.hostU16(layout.target)
        var offset = entrySize
        while offset + 32 <= target {
            let size = entry.bytes.hostU16(offset)
            guard size >= 32 else { break }
            records.append(
                (
                    entry.bytes.cString(offset + 2, 29), Int(entry.bytes[offset + 31]),
                    entry.bytes.slice(offset + 32, size - 32)
                ))
            offset += size
        }
        return records
    }

    /// The entries in order: each is next_offset bytes, its target at target_offset.
    private func parsed() -> [Entry] {
        var list: [Entry] = []
        var offset = 0
        while offset + entrySize <= entries.count {
            let next = entries.hostU16(offset + layout.next)
            let target = entries.hostU16(offset + layout.target)
            guard next >= entrySize, target >= entrySize, target < next, offset + next <= entries.count else { break }
            let bytes = entries.slice(offset, next)
            let size = bytes.hostU16(target)
            list.append(
                Entry(
                    offset: offset, bytes: bytes, targetName: bytes.cString(target + 2, 29),
                    targetData: bytes.slice(target + 32, max(0, size - 32))))
            offset += next
        }
        return list
    }

    private func isBareReturn(_ entry: Entry) -> Bool {
        entry.targetName.isEmpty && entry.targetData.hostU32(0) == Self.returnVerdict
            && entry.bytes.slice(0, ipv6 ? 136 : 84).isAllZero
    }

    /// XT_RETURN is -NF_REPEAT - 1; a standard verdict v is -v - 1; a jump is an offset (>= 0).
    private static let returnVerdict = Int(UInt32(bitPattern: -5))

    private func standardVerdict(_ entry: Entry) -> (verdict: FirewallVerdict?, jump: Int?) {
        let value = Int32(bitPattern: UInt32(truncatingIfNeeded: entry.targetData.hostU32(0)))
        switch value {
        case -2: return (.accept, nil)
        case -1: return (.drop, nil)
        case -4: return (.queue, nil)
        case -5: return (.return, nil)
        case 0...: return (nil, Int(value))
        default: return (nil, nil)
        }
    }

    private func rule(_ entry: Entry, extensions: ExtensionReader, chainAt: [Int: String]) -> FirewallRule {
        var matches = RuleMatches()
        var parts = header(entry.bytes, &matches)
        var undecoded: [String] = []
        var comment: String?
        for (name, revision, data) in matchRecords(entry) {
            let options = extensions.match(name, revision: revision, info: data, into: &matches)
            if options == nil { undecoded.append("match \(name) revision \(revision)") }
            if name == "comment" { comment = data.cString(0, 256) }
            parts.append(
                "-m " + extensions.moduleName(name, revision: revision, info: data)
                    + (options ?? " [options not decoded]"))
        }
        var rule = FirewallRule(handle: 0, text: "", comment: comment)
        if entry.targetName.isEmpty {
            let (verdict, jump) = standardVerdict(entry)
            let goto = entry.bytes.count > (ipv6 ? 131 : 82) && entry.bytes[ipv6 ? 131 : 82] & 0x02 != 0
            if let jump {
                let name = chainAt[jump] ?? "@\(jump)"
                rule.verdict = goto ? .goto : .jump
                rule.chain = name
                parts.append((goto ? "-g " : "-j ") + name)
            } else if let verdict {
                rule.verdict = verdict
                parts.append(verdict == .queue ? "-j QUEUE" : "-j " + verdict.rawValue.uppercased())
            }
        } else {
            let revision = Int(entry.bytes[entry.bytes.hostU16(layout.target) + 31])
            let options = extensions.target(entry.targetName, revision: revision, info: entry.targetData)
            if options == nil { undecoded.append("target \(entry.targetName) revision \(revision)") }
            rule.target = entry.targetName + (options ?? " [options not decoded]")
            parts.append("-j " + rule.target!)
        }
        matches.undecoded = undecoded.isEmpty ? nil : undecoded
        rule.matches = matches
        rule.text = parts.joined(separator: " ")
        return rule
    }

    /// ipt_ip: src @0, dst @4, masks @8 and @12, iniface @16, outiface @32, their masks @48 and @64, proto u16 @80,
    /// flags @82, invflags @83. ip6t_ip6: addresses and masks 16 bytes each from @0, interfaces @64 and @80, masks
    /// @96 and @112, proto @128, flags @131 (bit 0: proto is matched), invflags @132.
    private func header(_ bytes: [UInt8], _ matches: inout RuleMatches) -> [String] {
        let (width, interfaces, proto, flagsAt, invertAt) = ipv6 ? (16, 64, 128, 131, 132) : (4, 16, 80, 82, 83)
        let invert = Int(bytes[invertAt])
        var parts: [String] = []
        for (index, option) in ["-s", "-d"].enumerated() {
            let mask = bytes.slice(width * (2 + index), width)
            let inverted = invert & (index == 0 ? 0x08 : 0x10) != 0
            guard !mask.isAllZero || inverted else { continue }
            let value =
                AddressText.address(bytes.slice(width * index, width), ipv6: ipv6)
                + "/\(AddressText.prefixLength(mask))"
            if index == 0 {
                matches.source = Matched(value, inverted: inverted)
            } else {
                matches.destination = Matched(value, inverted: inverted)
            }
            parts.append((inverted ? "! " : "") + option + " " + value)
        }
        for (index, option) in ["-i", "-o"].enumerated() {
            let name = bytes.cString(interfaces + 16 * index, 16)
            guard !name.isEmpty else { continue }
            let mask = bytes.slice(interfaces + 32 + 16 * index, 16)
            // The mask covers the name and its NUL when exact; only what must match (not `+`) otherwise.
            let exact = mask.count > name.utf8.count && mask[name.utf8.count] != 0
            let value = exact ? name : String(name.prefix(mask.prefix { $0 != 0 }.count)) + "+"
            let inverted = invert & (index == 0 ? 0x01 : 0x02) != 0
            if index == 0 {
                matches.inInterface = Matched(value, inverted: inverted)
            } else {
                matches.outInterface = Matched(value, inverted: inverted)
            }
            parts.append((inverted ? "! " : "") + option + " " + value)
        }
        let number = bytes.hostU16(proto)
        if number != 0 || (ipv6 && bytes[flagsAt] & 0x01 != 0) {
            let inverted = invert & 0x40 != 0
            matches.protocol = Matched(Protocols.name(number), inverted: inverted)
            parts.append((inverted ? "! " : "") + "-p " + Protocols.name(number))
        }
        if !ipv6, bytes[flagsAt] & 0x01 != 0 { parts.append((invert & 0x20 != 0 ? "! " : "") + "-f") }
        return parts
    }
}

extension Array where Element == UInt8 {
    func hostU64(_ offset: Int) -> Int {
        guard offset + 8 <= count else { return 0 }
        return (0..<8).reduce(0) { $0 | Int(self[offset + $1]) << (8 * $1) }
    }
}
