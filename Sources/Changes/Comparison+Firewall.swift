import Topology

extension Comparison {
    /// Tables, chains, policies and rules (by their text: a rule that only moved is not a change), and ipsets'
    /// members; with `counters`, the dropping rules and policies whose packet counters rose.
    mutating func firewall(counters: Bool) {
        guard let before = old.firewall, let after = new.firewall else {
            if old.firewall != nil || new.firewall != nil {
                notes.append("the firewall is in one dump only: not compared")
            }
            return
        }
        let owners = new.securityGroupOwners.merging(old.securityGroupOwners) { now, _ in now }
        let tableName = { (table: FirewallTable) in "\(table.family) \(table.name)" }
        let (removed, added, both) = pair(before.tables, after.tables, by: { "\(tableName($0)) \($0.backend)" })
        for table in removed { add(.removed, .firewall, tableName(table), "table \(tableName(table)) is gone") }
        for table in added {
            add(.added, .firewall, tableName(table), "table \(tableName(table)) (\(table.backend)) appeared")
            // What a table of its own (not the agent's chains) does to the host's guests is in its dropping rules.
            for chain in table.chains {
                for rule in chain.rules where rule.drops {
                    newRule(rule, in: "\(tableName(table)) \(chain.name)")
                }
            }
        }
        for (was, now) in both {
            let (gone, came, kept) = pair(was.chains, now.chains, by: \.name)
            let subject = { (chain: FirewallChain) in
                "\(tableName(now)) \(chain.name)" + (owners[chain.name].map { " (\($0)'s security group)" } ?? "")
            }
            for chain in gone { add(.removed, .firewall, subject(chain), "chain \(subject(chain)) is gone") }
            for chain in came {
                add(.added, .firewall, subject(chain), "chain \(subject(chain)) appeared, \(chain.rules.count) rules")
            }
            for (earlier, later) in kept {
                field(.firewall, subject(later), "policy", earlier.policy, later.policy)
                rules(subject(later), earlier, later, counters: counters)
            }
        }
        ipsets(before.ipsets, after.ipsets)
    }

    private mutating func rules(_ subject: String, _ was: FirewallChain, _ now: FirewallChain, counters: Bool) {
        let gone = unmatched(was.rules, in: now.rules)
        let came = unmatched(now.rules, in: was.rules)
        for rule in gone {
            add(.removed, .firewall, subject, field: "rule", before: rule.text, "\(subject): rule gone: \(rule.text)")
        }
        for rule in came { newRule(rule, in: subject) }
        guard counters else { return }
        let before = Dictionary(was.rules.map { ($0.handle, $0) }, uniquingKeysWith: { first, _ in first })
        for rule in now.rules where rule.drops {
            guard let then = before[rule.handle], then.text == rule.text, let was = then.packets,
                let now = rule.packets,
                now > was
            else { continue }
            add(
                .changed, .firewall, subject, field: "packets", before: String(was), after: String(now),
                "\(subject): rule \(rule.handle) (\(rule.text)) dropped \(now - was) packets")
        }
        if now.policy == .drop, let was = was.packets, let count = now.packets, count > was {
            add(
                .changed, .firewall, subject, field: "packets", before: String(was), after: String(count),
                "\(subject): its DROP policy dropped \(count - was) packets")
        }
    }

    /// A rule that came, with the VM NICs, bridges and uplinks a dropping one stops the traffic of.
    private mutating func newRule(_ rule: FirewallRule, in subject: String) {
        var whom = ""
        if rule.drops {
            let matches = rule.matches
            let meanings = InterfaceMeanings(new)
            let named = { (matched: Matched<String>?) -> String? in
                guard let matched, !matched.inverted, !matched.value.hasSuffix("+") else { return nil }
                let nic = self.new.domains.lazy.flatMap(\.nics).first { $0.tap == matched.value }
                return meanings.meaning(of: matched.value).meaning + (nic?.bridge.map { " on \($0)" } ?? "")
            }
            let from = [matches.inInterface, matches.physdevIn].compactMap(named)
            let to = [matches.outInterface, matches.physdevOut].compactMap(named)
            let parts = from.map { "from \($0)" } + to.map { "to \($0)" }
            if !parts.isEmpty { whom = " (drops traffic " + parts.joined(separator: ", ") + ")" }
        }
        add(.added, .firewall, subject, field: "rule", after: rule.text, "\(subject): new rule: \(rule.text)\(whom)")
    }

    /// The rules of `rules` that `others` has no rule of the same text for, each rule of `others` used once.
    private func unmatched(_ rules: [FirewallRule], in others: [FirewallRule]) -> [FirewallRule] {
        var left = Dictionary(grouping: others, by: \.text).mapValues(\.count)
        return rules.filter { rule in
            guard let count = left[rule.text], count > 0 else { return true }
            left[rule.text] = count - 1
            return false
        }
    }

    private mutating func ipsets(_ before: [IPSet], _ after: [IPSet]) {
        let (removed, added, both) = pair(before, after, by: \.name)
        for set in removed { add(.removed, .ipset, set.name, "ipset \(set.name) is gone") }
        for set in added { add(.added, .ipset, set.name, "ipset \(set.name) appeared, \(set.members.count) members") }
        for (was, now) in both {
            names(
                .ipset, now.name, "member", was.members, now.members, lost: { "ipset \(now.name): lost \($0)" },
                gained: { "ipset \(now.name): gained \($0)" })
        }
    }
}
