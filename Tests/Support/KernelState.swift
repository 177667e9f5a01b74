import Foundation

/// A namespace's configuration as iproute2 reports it (links with details, addresses, FDB), with the
/// fields that change on their own (bridge timers) left out, to show a command changed nothing.
public enum KernelState {
    public static func capture(_ ns: TestNamespace) throws -> String {
        let commands = [["ip", "-d", "-j", "link", "show"], ["ip", "-j", "addr", "show"], ["bridge", "-j", "fdb", "show"]]
        return try commands.map { command in
            let json = try JSONSerialization.jsonObject(with: try ns.exec(command).stdout)
            let stable = try JSONSerialization.data(withJSONObject: withoutTimers(json), options: [.sortedKeys])
            return String(decoding: stable, as: UTF8.self)
        }.joined(separator: "\n")
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
        let old = Set(lines(before)), new = Set(lines(after))
        return (old.subtracting(new).map { "- " + $0 } + new.subtracting(old).map { "+ " + $0 }).sorted().joined(separator: "\n")
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
