import Firewall
import Foundation
import Nftables
import Topology

/// The firewall as it is now, for counters read a second time (drops): nil when it cannot be read.
public enum FirewallReading {
    public static func now() -> Firewall? { try? FirewallCollection.collect().get().0 }
}

/// The firewall source: nftables over netlink, read back into rules, with the ipset names its `-m set` matches
/// refer to and conntrack's fill level. Only dumps: nothing is asked of the kernel that would change it.
enum FirewallCollection {
    /// A ruleset that changes under the reader is read again this many times before it is shown as read.
    static let changedRulesetRetries = 3
    /// The threads that dump chains: the kernel answers each on the asking thread, and past a few the sockets
    /// contend more than they gain.
    static var readers: Int { min(Concurrently.cores, 4) }

    /// The firewall, and what of it could not be read (a legacy table that would not answer).
    static func collect() -> Result<(Firewall, [String]), NftablesError> {
        Result { () throws(NftablesError) in
            let session = try NftablesSession()
            // A kernel without ipset answers the list with an error: no sets, the rest stands.
            let ipsets = try? session.ipsets()
            let names = IPSetNames.all(expected: ipsets?.count)
            let reader = RuleReader(ipsetNames: names)
            var (firewall, consistent) = try nftables(session, reader: reader)
            for _ in 0..<changedRulesetRetries where !consistent {
                (firewall, consistent) = try nftables(session, reader: reader)
            }
            var problems =
                consistent
                ? []
                : [
                    "one nftables ruleset (it changed during each of \(changedRulesetRetries + 1) reads; "
                        + "its rules may mix two)"
                ]
            firewall.conntrack = conntrack()
            firewall.ipsets = ipsets ?? []
            let legacyTables = LegacyTableDump.tables()
            firewall.tables += legacyTables.tables.map { $0.read(ipsetNames: names) }
            firewall.backends += legacyBackends()
            let records = agentRecords()
            firewall.agentRecords = records.isEmpty ? nil : records
            problems += legacyTables.problems
            return (firewall, problems)
        }
    }

    /// nftables' tables, chains, rules and sets, each chain's rules read as soon as they arrive (so that the raw
    /// expressions of 60,000 rules are never held at once) on a few threads; and whether the ruleset's generation
    /// was the same before and after, so that every dump saw the same ruleset.
    private static func nftables(
        _ session: NftablesSession, reader: RuleReader
    ) throws(NftablesError) -> (Firewall, consistent: Bool) {
        let before = try session.generation()
        let tables = try session.tables()
        let chains = try session.chains()
        let read = try Concurrently.map(
            chains, workers: readers, context: { () throws(NftablesError) in try NftablesSession() }
        ) {
            (worker: inout NftablesSession, chain: NftChain) throws(NftablesError) in
            reader.chain(chain, rules: try worker.rules(of: chain))
        }
        let sets = try session.sets()
        let after = try session.generation()
        let firewall = RuleReader.firewall(tables: tables, chains: Array(zip(chains, read)), sets: sets)
        return (firewall, before == after)
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
