import Foundation

/// A namespace's configuration as iproute2 reports it (links with details, addresses, FDB), with the
/// fields that change on their own (bridge timers) left out, to show a command changed nothing.
public enum KernelState {
    /// - Parameter configuredOnly: leave out what traffic changes by itself (FDB entries the bridges learn), for a
    ///   host whose guests are talking; routes and br_netfilter's switches are included then.
    public static func capture(_ ns: TestNamespace, configuredOnly: Bool = false) throws -> String {
        var commands = [
            ["ip", "-d", "-j", "link", "show"], ["ip", "-j", "addr", "show"], ["bridge", "-j", "fdb", "show"],
        ]
        if configuredOnly {
            commands += [
                ["ip", "-j", "route", "show", "table", "all"], ["ip", "-6", "-j", "route", "show", "table", "all"],
            ]
        }
        var parts = try commands.map { command in
            var json = try JSONSerialization.jsonObject(with: try ns.exec(command).stdout)
            if configuredOnly, command.contains("fdb"), let entries = json as? [[String: Any]] {
                json = entries.filter { ["permanent", "static"].contains($0["state"] as? String ?? "") }
            }
            let stable = try JSONSerialization.data(withJSONObject: withoutTimers(json), options: [.sortedKeys])
            return String(decoding: stable, as: UTF8.self)
        }
        if configuredOnly {
            parts.append(try ns.exec(["sh", "-c", "grep -H . /proc/sys/net/bridge/* 2>/dev/null || true"]).output)
            // The firewall without its counters: the rule sets, the ipsets, and which legacy tables exist.
            parts.append(
                try ns.exec([
                    "sh", "-c",
                    "nft -s list ruleset 2>&1; ipset list 2>&1; "
                        + "cat /proc/net/ip_tables_names /proc/net/ip6_tables_names",
                ]).output)
        }
        return parts.joined(separator: "\n")
    }

    /// The state once the kernel has finished on its own: no IPv6 address still tentative (duplicate address
    /// detection takes a second or two on a new link) and nothing changing over a quarter of a second.
    public static func settled(_ ns: TestNamespace) throws -> String {
        var previous = try capture(ns)
        for _ in 0..<40 {
            Thread.sleep(forTimeInterval: 0.25)
            let current = try capture(ns)
            if current == previous && !current.contains("\"tentative\":true") { return current }
            previous = current
        }
        return previous
    }

    /// The lines that differ between two captures, for a failure message that says what changed.
    public static func difference(_ before: String, _ after: String) -> String {
        let old = Set(lines(before))
        let new = Set(lines(after))
        return (old.subtracting(new).map { "- " + $0 } + new.subtracting(old).map { "+ " + $0 }).sorted().joined(
            separator: "\n")
    }

    /// One line per object, so a difference names the link, address or entry that changed.
    private static func lines(_ capture: String) -> [String] {
        capture.split(separator: "\n").flatMap { json in
            json.components(separatedBy: "},{")
        }
    }

    private static func withoutTimers(_ value: Any) -> Any {
        if let object = value as? [String: Any] {
            return object.filter { !$0.key.hasSuffix("_timer") }.mapValues(withoutTimers)
        }
        if let array = value as? [Any] { return array.map(withoutTimers) }
        return value
    }
}
