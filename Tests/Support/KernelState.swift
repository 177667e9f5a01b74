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

    /// The state once the kernel has finished on its own (IPv6 duplicate address detection, carrier).
    public static func settled(_ ns: TestNamespace) throws -> String {
        var previous = try capture(ns)
        for _ in 0..<40 {
            Thread.sleep(forTimeInterval: 0.25)
            let current = try capture(ns)
            if current == previous { return current }
            previous = current
        }
        return previous
    }

    private static func withoutTimers(_ value: Any) -> Any {
        if let object = value as? [String: Any] {
            return object.filter { !$0.key.hasSuffix("_timer") }.mapValues(withoutTimers)
        }
        if let array = value as? [Any] { return array.map(withoutTimers) }
        return value
    }
}
