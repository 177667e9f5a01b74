import ArgumentParser
import Diagnose
import Foundation
import Render
import Topology

struct DiagnoseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnose",
        abstract:
            "Check the host's network the way an expert would: findings by severity, each with why and what to do.",
        discussion: """
            Runs every check of kvmtopo-diagnose(1) on the live host or a saved dump, or only those about one VM \
            (diagnose vm NAME) or one network (diagnose network BRIDGE|vlan:N|vni:N). Exit status: 0 nothing above \
            info, 1 warnings, 2 errors; 64 usage (an unknown VM or network among them); 65, 66, 73 as for dump. \
            With --health-check it is the CloudStack agent's host health check (kvmtopo-diagnose(1), HEALTH CHECK).
            """)

    @Argument(help: Scope.help)
    var scope: [String] = []

    @Flag(help: "Write the findings as JSON.")
    var json = false

    @OptionGroup var metrics: PrometheusOption

    @OptionGroup var source: SourceOptions
    @OptionGroup var display: DisplayOptions
    @OptionGroup(title: "CloudStack agent health check") var healthCheck: HealthCheckOptions

    func validate() throws {
        if healthCheck.enabled, !scope.isEmpty || json || metrics.prometheus != nil {
            throw ValidationError("--health-check checks the whole host and answers in its own lines")
        }
        try Scope.validate(scope)
    }

    func run() throws {
        if healthCheck.enabled { throw ExitCode(HealthCheckRun.run(healthCheck, source: source).rawValue) }
        var worst: Severity?
        try reportingFailures {
            let snapshot = try source.snapshot(savedModel: .reinfer)
            var findings = Diagnose.run(snapshot)
            if let names = try Scope(words: scope).names(in: snapshot) {
                findings = Diagnose.scoped(findings, to: names)
            }
            worst = try Findings(findings, scope: .host(snapshot.host.hostname)).write(
                json: json, metrics: metrics, style: display.style)
        }
        try Findings.exit(worst)
    }
}

/// Findings as diagnose and zone diagnose write them: text or JSON on stdout, metrics to a file if asked.
struct Findings {
    let findings: [Finding]
    let scope: DiagnoseReport.Scope

    init(_ findings: [Finding], scope: DiagnoseReport.Scope) {
        self.findings = findings
        self.scope = scope
    }

    /// - Returns: the worst severity found, for the exit status.
    func write(json: Bool, metrics: PrometheusOption, style: DiagramStyle) throws -> Severity? {
        if let prometheus = metrics.prometheus {
            let text = DiagnoseReport.prometheus(findings, scope: scope, now: Date())
            try OutputFile.write(Data(text.utf8), to: prometheus)
        }
        let output =
            json
            ? DiagnoseReport.json(findings, scope: scope)
            : Data(DiagnoseReport.text(findings, scope: scope, style: style).utf8)
        FileHandle.standardOutput.write(output)
        return findings.map(\.severity).max()
    }

    /// 2 with errors, 1 with warnings, else 0.
    static func exit(_ worst: Severity?) throws {
        switch worst {
        case .error?: throw ExitCode(2)
        case .warning?: throw ExitCode(1)
        case .info?, nil: break
        }
    }
}
