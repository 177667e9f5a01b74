import Topology

/// The CloudStack agent's host health check (`kvmtopo diagnose --health-check`): unhealthy only for errors, the
/// findings that cut guests off, and only once the same error was seen on `runs` consecutive runs, so that one bad
/// moment (a VM being started, a tap being plugged) does not make the management server disable the host.
public struct HealthCheck: Sendable {
    /// What the check remembers between runs: for each error, by code and subject, how many consecutive runs saw it.
    public struct Memory: Codable, Equatable, Sendable {
        public var streaks: [String: Int]

        public init(streaks: [String: Int] = [:]) { self.streaks = streaks }
    }

    public enum Verdict: Equatable, Sendable {
        /// Exit 0: no error, or errors not yet seen on enough runs.
        case healthy
        /// Exit 1: errors seen on `runs` consecutive runs.
        case unhealthy
        /// Any other exit: the check cannot tell (a source could not be read), and the host is left as it is.
        case noVerdict(String)
    }

    public struct Outcome: Sendable {
        public var verdict: Verdict
        /// The errors of this run, each with the consecutive runs that saw it (this one included).
        public var errors: [(finding: Finding, streak: Int)]
        public var memory: Memory
        /// The previous run remembered errors that are gone now.
        public var recovered: Bool
    }

    public var runs: Int

    public init(runs: Int) { self.runs = max(1, runs) }

    /// Errors count even when a source is missing (an uplink without carrier cuts guests off whatever libvirt
    /// says); with no error, a missing source means the check could not look everywhere: no verdict.
    public func evaluate(_ findings: [Finding], sources: Sources, remembering memory: Memory) -> Outcome {
        let errors = findings.filter { $0.severity == .error }
        var streaks: [String: Int] = [:]
        for finding in errors {
            let key = Self.key(finding)
            streaks[key] = streaks[key] ?? (memory.streaks[key] ?? 0) + 1
        }
        let counted = errors.map { (finding: $0, streak: streaks[Self.key($0)] ?? 1) }
        let missing = [("netlink", sources.netlink), ("libvirt", sources.libvirt)]
            .filter { $0.1.status == .unavailable }
            .map { "\($0.0) unavailable: \($0.1.error ?? "unknown reason")" }
        let verdict: Verdict =
            if counted.contains(where: { $0.streak >= runs }) {
                .unhealthy
            } else if errors.isEmpty, !missing.isEmpty {
                .noVerdict(missing.joined(separator: "; "))
            } else {
                .healthy
            }
        return Outcome(
            verdict: verdict, errors: counted, memory: Memory(streaks: streaks),
            recovered: !memory.streaks.isEmpty && errors.isEmpty)
    }

    static func key(_ finding: Finding) -> String { "\(finding.code) \(finding.subject)" }
}
