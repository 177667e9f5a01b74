import Diagnose
import Foundation
import Topology

/// `kvmtopo diagnose` as text (grouped by severity), JSON, and node_exporter textfile metrics.
public enum DiagnoseReport {
    public static func text(_ findings: [Finding], host: String, style: DiagramStyle) -> String {
        let counts = count(findings)
        var lines: [Line] = [
            [
                Segment(text: "kvmtopo diagnose", tone: .heading),
                Segment(text: "\(style.dot)\(clean(host))\(style.dot)" + summary(counts)),
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

    public static func json(_ findings: [Finding], host: String) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let report = Report(schemaVersion: 1, host: host, counts: count(findings), findings: findings)
        return ((try? encoder.encode(report)) ?? Data()) + Data("\n".utf8)
    }

    private struct Report: Encodable {
        var schemaVersion: Int
        var host: String
        var counts: [String: Int]
        var findings: [Finding]
    }

    /// node_exporter textfile format: every check with its count (0 included, so alerts need no absent()),
    /// and when this ran.
    public static func prometheus(_ findings: [Finding], now: Date) -> String {
        var text = """
            # HELP kvmtopo_findings Findings of kvmtopo diagnose, by check and severity.
            # TYPE kvmtopo_findings gauge

            """
        for check in Diagnose.checks.sorted(by: { $0.code < $1.code }) {
            for severity in Severity.allCases {
                let found = findings.filter { $0.code == check.code && $0.severity == severity }.count
                guard found > 0 || severity == check.severity else { continue }
                text += "kvmtopo_findings{check=\"\(check.code)\",severity=\"\(severity.rawValue)\"} \(found)\n"
            }
        }
        text += """
            # HELP kvmtopo_diagnose_last_run_timestamp_seconds When kvmtopo diagnose wrote this file.
            # TYPE kvmtopo_diagnose_last_run_timestamp_seconds gauge
            kvmtopo_diagnose_last_run_timestamp_seconds \(Int(now.timeIntervalSince1970))

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
