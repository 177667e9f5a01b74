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
            if let prometheus = metrics.prometheus {
                try OutputFile.write(Data(DiagnoseReport.prometheus(findings, now: Date()).utf8), to: prometheus)
            }
            let output =
                json
                ? DiagnoseReport.json(findings, host: snapshot.host.hostname)
                : Data(DiagnoseReport.text(findings, host: snapshot.host.hostname, style: display.style).utf8)
            FileHandle.standardOutput.write(output)
            worst = findings.map(\.severity).max()
        }
        switch worst {
        case .error?: throw ExitCode(2)
        case .warning?: throw ExitCode(1)
        default: break
        }
    }
}
