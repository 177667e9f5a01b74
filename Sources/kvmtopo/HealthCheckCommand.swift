import ArgumentParser
import Diagnose
import Foundation
import Topology

#if canImport(Glibc)
import Glibc
#endif

/// `kvmtopo diagnose --health-check`: the CloudStack agent's host health check, as
/// /usr/libexec/kvmtopo/cloudstack-health-check runs it. The agent sees only the exit status, so every line also
/// goes to the system log, where the operator looks.
struct HealthCheckOptions: ParsableArguments {
    @Flag(
        name: .customLong("health-check"),
        help: "Answer as the CloudStack agent's host health check: exit 0 healthy, 1 unhealthy, 2 no verdict.")
    var enabled = false

    @Option(
        help: ArgumentHelp(
            "With --health-check: consecutive runs an error must be seen on (default \(Self.defaultRuns)).",
            valueName: "n"))
    var runs: Int?

    @Option(
        help: ArgumentHelp(
            "With --health-check: seconds before it gives up with no verdict (default \(Int(Self.defaultDeadline))).",
            valueName: "seconds"))
    var deadline: Double?

    @Option(
        help: ArgumentHelp(
            "With --health-check: the file that remembers the last runs' errors (default \(Self.defaultState)).",
            valueName: "file"),
        completion: .file())
    var state: String?

    // Optional above, so that one given without --health-check is an error; these are what the check uses.
    static let defaultRuns = 2
    static let defaultDeadline = 10.0
    static let defaultState = "/var/lib/kvmtopo/cloudstack-health-check.state"
    var runsNeeded: Int { runs ?? Self.defaultRuns }
    var deadlineSeconds: Double { deadline ?? Self.defaultDeadline }
    var stateFile: String { state ?? Self.defaultState }

    func validate() throws {
        guard enabled || (runs == nil && deadline == nil && state == nil) else {
            throw ValidationError("--runs, --deadline and --state go with --health-check")
        }
        guard (runs ?? 1) >= 1, (deadline ?? 1) > 0 else {
            throw ValidationError("--runs takes a whole number of at least 1, --deadline a positive number of seconds")
        }
    }
}

enum HealthCheckRun {
    enum Exit: Int32 {
        case healthy = 0, unhealthy = 1, noVerdict = 2
    }

    static func run(_ options: HealthCheckOptions, source: SourceOptions) -> Exit {
        // openlog keeps the pointer it is given: a copy that is never freed.
        openlog(strdup("kvmtopo-health-check"), LOG_PID, LOG_DAEMON)
        let deadline = options.deadlineSeconds
        // The agent waits for this process on its ping: a wedged libvirtd must not hold it past the deadline.
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: deadline)
            report("no verdict: not done within \(seconds(deadline)) (is libvirtd answering?)", priority: LOG_WARNING)
            _exit(Exit.noVerdict.rawValue)
        }
        let snapshot: HostSnapshot
        do {
            snapshot = try source.snapshot(savedModel: .reinfer)
        } catch {
            report("no verdict: \(reason(error))", priority: LOG_WARNING)
            return .noVerdict
        }
        let runs = options.runsNeeded
        let findings = Diagnose.run(snapshot)
        var outcome = HealthCheck(runs: runs).evaluate(
            findings, sources: snapshot.host.sources, remembering: remembered(in: options.stateFile))
        do {
            try OutputFile.write(try JSONEncoder().encode(outcome.memory), to: options.stateFile)
        } catch {
            outcome.verdict = .noVerdict("cannot remember this run (\(reason(error)))")
        }

        for (finding, streak) in outcome.errors {
            let seen =
                streak >= runs ? "seen on \(streak) runs in a row" : "seen on \(streak) of the \(runs) runs needed"
            report(
                "\(streak >= runs ? "unhealthy" : "not yet unhealthy"): \(finding.subject): \(finding.message) "
                    + "[\(finding.code), \(seen)]", priority: streak >= runs ? LOG_ERR : LOG_WARNING)
        }
        switch outcome.verdict {
        case .unhealthy:
            return .unhealthy
        case .noVerdict(let reason):
            report("no verdict: \(reason)", priority: LOG_WARNING)
            return .noVerdict
        case .healthy:
            if outcome.recovered { report("healthy again: the errors of the last run are gone", priority: LOG_NOTICE) }
            if outcome.errors.isEmpty {
                let warnings = findings.filter { $0.severity == .warning }.count
                print("healthy" + (warnings > 0 ? " (\(warnings) warnings, which never fail the check)" : ""))
            }
            return .healthy
        }
    }

    private static func reason(_ error: any Error) -> String { (error as? CommandFailure)?.message ?? "\(error)" }

    /// The last runs' streaks; a file that is missing or unreadable starts the count again.
    private static func remembered(in path: String) -> HealthCheck.Memory {
        guard let data = FileManager.default.contents(atPath: path),
            let memory = try? JSONDecoder().decode(HealthCheck.Memory.self, from: data)
        else { return HealthCheck.Memory() }
        return memory
    }

    /// One line on standard output and in the system log. Written at once: the deadline may end the process.
    private static func report(_ line: String, priority: Int32) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
        line.withCString { text in withVaList([text]) { vsyslog(priority, "%s", $0) } }
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}
