import Diagnose
import Foundation
import Topology

/// `kvmtopo diagnose` as text (grouped by severity), JSON, and node_exporter textfile metrics.
public enum DiagnoseReport {
    /// What was diagnosed: one host (`kvmtopo diagnose`), or the hosts of a zone (`kvmtopo zone diagnose`).
    public enum Scope: Sendable {
        case host(String)
        case zone(hosts: [String])

        var command: String {
            switch self {
            case .host: "kvmtopo diagnose"
            case .zone: "kvmtopo zone diagnose"
            }
        }

        var checks: [Check] {
            switch self {
            case .host: Diagnose.checks
            case .zone: Diagnose.zoneChecks
            }
        }

        /// The metrics' prefix: kvmtopo_findings, or kvmtopo_zone_findings.
        var metric: String {
            switch self {
            case .host: "kvmtopo"
            case .zone: "kvmtopo_zone"
            }
        }
    }

    public static func text(_ findings: [Finding], scope: Scope, style: DiagramStyle) -> String {
        let counts = count(findings)
        let what =
            switch scope {
            case .host(let host): clean(host)
            case .zone(let hosts): "\(hosts.count) host\(hosts.count == 1 ? "" : "s")"
            }
        var lines: [Line] = [
            [
                Segment(text: scope.command, tone: .heading),
                Segment(text: "\(style.dot)\(what)\(style.dot)" + summary(counts)),
            ]
        ]
        if findings.isEmpty { lines += [[], [Segment(text: "Nothing to report.")]] }
        for severity in Severity.allCases.reversed() {
            let group = findings.filter { $0.severity == severity }
            guard !group.isEmpty else { continue }
            let (title, mark, tone): (String, String, Segment.Tone) =
                switch severity {
                case .error: ("Errors", style.errorMark, .error)
                case .warning: ("Warnings", style.warningMark, .warning)
                case .info: ("Information", "i", .dim)
                }
            lines += [[], [Segment(text: title, tone: .heading)]]
            for finding in group {
                lines.append([
                    Segment(text: "\(mark) \(finding.code)", tone: tone),
                    Segment(text: "  \(clean(finding.subject.description))", tone: .heading),
                ])
                lines.append([Segment(text: "    \(clean(finding.message))")])
                lines.append([Segment(text: "    why: \(clean(finding.why))", tone: .dim)])
                lines.append([Segment(text: "    do:  \(clean(finding.action))")])
            }
        }
        return lines.map(style.render).joined(separator: "\n") + "\n"
    }

    /// The findings with their counts, and the host (`host`) or the zone's hosts (`hosts`) they are about.
    public static func json(_ findings: [Finding], scope: Scope) -> Data {
        var report = Report(counts: count(findings), findings: findings)
        switch scope {
        case .host(let host): report.host = host
        case .zone(let hosts): report.hosts = hosts
        }
        return Versioned(schemaVersion: 1, body: report).json
    }

    private struct Report: Encodable {
        var host: String?
        var hosts: [String]?
        var counts: [String: Int]
        var findings: [Finding]
    }

    /// node_exporter textfile format: every check with its count (0 included, so alerts need no absent()),
    /// and when this ran.
    public static func prometheus(_ findings: [Finding], scope: Scope, now: Date) -> String {
        let metric = scope.metric
        var text = """
            # HELP \(metric)_findings Findings of \(scope.command), by check and severity.
            # TYPE \(metric)_findings gauge

            """
        for check in scope.checks.sorted(by: { $0.code < $1.code }) {
            for severity in Severity.allCases {
                let found = findings.filter { $0.code == check.code && $0.severity == severity }.count
                guard found > 0 || severity == check.severity else { continue }
                text += "\(metric)_findings{check=\"\(check.code)\",severity=\"\(severity.rawValue)\"} \(found)\n"
            }
        }
        text += """
            # HELP \(metric)_diagnose_last_run_timestamp_seconds When \(scope.command) wrote this file.
            # TYPE \(metric)_diagnose_last_run_timestamp_seconds gauge
            \(metric)_diagnose_last_run_timestamp_seconds \(Int(now.timeIntervalSince1970))

            """
        return text
    }

    static func count(_ findings: [Finding]) -> [String: Int] {
        Dictionary(
            uniqueKeysWithValues: Severity.allCases.map { severity in
                (severity.rawValue, findings.filter { $0.severity == severity }.count)
            })
    }

    private static func summary(_ counts: [String: Int]) -> String {
        let plural = { (count: Int, word: String) in "\(count) \(word)\(count == 1 ? "" : "s")" }
        return
            "\(plural(counts["error"] ?? 0, "error")), \(plural(counts["warning"] ?? 0, "warning")), "
            + "\(counts["info"] ?? 0) info"
    }
}
