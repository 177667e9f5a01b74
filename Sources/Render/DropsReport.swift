import Foundation
import Topology

/// `kvmtopo drops`: what each interface dropped, as text or JSON (kvmtopo-drops(1)).
public enum DropsReport {
    public static func text(_ drops: [InterfaceDrops], host: String, seconds: Double, style: DiagramStyle) -> String {
        let span = String(format: "%.1f s", seconds)
        guard !drops.isEmpty else {
            return style.render([Segment(text: "Nothing dropped by the interfaces of \(host) in \(span).")]) + "\n"
        }
        var lines: [Line] = [[Segment(text: "Drops on \(host) over \(span) (interface counters)", tone: .heading)]]
        let width = drops.map { $0.meaning.unicodeScalars.count }.max() ?? 0
        for drop in drops {
            let counts = [
                ("rx dropped", drop.counters.rxDropped), ("tx dropped", drop.counters.txDropped),
                ("rx errors", drop.counters.rxErrors), ("tx errors", drop.counters.txErrors),
            ].filter { $0.1 > 0 }.map { "\($0.0) \($0.1)" }.joined(separator: ", ")
            let padding = String(repeating: " ", count: width - drop.meaning.unicodeScalars.count + 2)
            let passed = "\(style.dot)\(drop.counters.rxPackets) in, \(drop.counters.txPackets) out"
            lines.append([
                Segment(text: "  " + drop.meaning + padding), Segment(text: counts, tone: .error),
                Segment(text: passed, tone: .dim),
            ])
            if let reading = drop.reading { lines.append([Segment(text: "      " + reading, tone: .warning)]) }
        }
        return lines.map(style.render).joined(separator: "\n") + "\n"
    }

    public static func json(_ drops: [InterfaceDrops], host: String, seconds: Double) -> Data {
        struct Report: Encodable {
            var schemaVersion = 1
            var host: String
            var seconds: Double
            var interfaces: [InterfaceDrops]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let body = (try? encoder.encode(Report(host: host, seconds: seconds, interfaces: drops))) ?? Data("{}".utf8)
        return body + Data("\n".utf8)
    }
}
