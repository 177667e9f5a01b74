import Changes
import Foundation
import Topology

/// `kvmtopo diff`: what changed on a host between two dumps, as text (one line per change, `+` added, `-` gone,
/// `~` changed) or JSON (kvmtopo-diff(1)).
public enum ChangesReport {
    public static func text(_ report: HostChanges, style: DiagramStyle) -> String {
        let count = report.changes.count
        var lines: [Line] = [
            [
                Segment(text: "kvmtopo diff", tone: .heading),
                Segment(
                    text: "\(style.dot)\(clean(report.host))\(style.dot)\(clean(report.from)) → \(clean(report.to))"
                        + "\(style.dot)\(count == 1 ? "1 change" : "\(count) changes")"),
            ]
        ]
        lines += report.notes.map { [Segment(text: "  note: \(clean($0))", tone: .warning)] }
        if report.changes.isEmpty { lines.append([Segment(text: "No changes.")]) }
        for change in report.changes {
            let (mark, tone): (String, Segment.Tone) =
                switch change.kind {
                case .added: ("+", .router)
                case .removed: ("-", .error)
                case .changed: ("~", .warning)
                }
            lines.append([Segment(text: "  \(mark) ", tone: tone), Segment(text: clean(change.text))])
        }
        return lines.map(style.render).joined(separator: "\n") + "\n"
    }

    public static func json(_ report: HostChanges) -> Data {
        Versioned(schemaVersion: 1, body: report).json
    }
}
