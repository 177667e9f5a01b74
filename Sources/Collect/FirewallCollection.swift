import Firewall
import Foundation
import Nftables
import Topology

/// The firewall source: nftables over netlink, read back into rules, with the ipset names its `-m set` matches
/// refer to and conntrack's fill level. Only dumps: nothing is asked of the kernel that would change it.
enum FirewallCollection {
    /// The firewall, and what of it could not be read (a legacy table that would not answer).
    static func collect() -> Result<(Firewall, [String]), NftablesError> {
        Result { () throws(NftablesError) in
            let session = try NftablesSession()
            let ruleset = try session.ruleset()
            let legacyTables = LegacyTableDump.tables()
            let names = IPSetNames.resolve(
                RuleReader.ipsetIndexes(in: ruleset).union(legacyTables.tables.flatMap(\.ipsetIndexes)))
            var firewall = RuleReader(ipsetNames: names).firewall(ruleset, conntrack: conntrack())
            // A kernel without ipset answers the list with an error: no sets, the rest stands.
            firewall.ipsets = (try? session.ipsets()) ?? []
            firewall.tables += legacyTables.tables.map { $0.read(ipsetNames: names) }
            firewall.backends += legacyBackends()
            let records = agentRecords()
            firewall.agentRecords = records.isEmpty ? nil : records
            return (firewall, legacyTables.problems)
        }
    }

    /// The legacy xtables backends that hold tables: the kernel lists them in /proc/net (reading the list
    /// creates nothing; asking for a table by name would create it).
    static func legacyBackends() -> [FirewallBackend] {
        [("ip_tables_names", FirewallBackend.iptablesLegacy), ("ip6_tables_names", .ip6tablesLegacy)].compactMap {
            file, backend in
            let names = (try? String(contentsOfFile: "/proc/net/\(file)", encoding: .utf8)) ?? ""
            return names.split(whereSeparator: \.isNewline).isEmpty ? nil : backend
        }
    }

    /// security_group.py's per-VM records, when the agent keeps any here.
    static func agentRecords() -> [SecurityGroupRecord] {
        let folder = AgentRecords.directory
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.sorted().compactMap { name in
            guard name.hasSuffix(".log"),
                let text = try? String(contentsOfFile: "\(folder)/\(name)", encoding: .utf8)
            else { return nil }
            return AgentRecords.record(fileName: name, text: text)
        }
    }

    /// nf_conntrack_count against nf_conntrack_max for this namespace; nil when conntrack is not loaded.
    static func conntrack() -> ConntrackUsage? {
        let read = { (name: String) in
            (try? String(contentsOfFile: "/proc/sys/net/netfilter/nf_conntrack_\(name)", encoding: .utf8))
                .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        guard let count = read("count"), let max = read("max") else { return nil }
        return ConntrackUsage(count: count, max: max)
    }
}
