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

    /// node_exporter textfile metrics: what each interface dropped or erred on during the run, by counter.
    public static func prometheus(_ drops: [InterfaceDrops], seconds: Double, now: Date) -> String {
        var text = """
            # HELP kvmtopo_drops_packets Packets an interface dropped or erred on during the last kvmtopo drops run.
            # TYPE kvmtopo_drops_packets gauge

            """
        for drop in drops {
            let counters = [
                ("rx_dropped", drop.counters.rxDropped), ("tx_dropped", drop.counters.txDropped),
                ("rx_errors", drop.counters.rxErrors), ("tx_errors", drop.counters.txErrors),
            ]
            let domain = drop.domain.map { ",domain=\"\(label($0))\"" } ?? ""
            for (counter, packets) in counters where packets > 0 {
                text +=
                    "kvmtopo_drops_packets{interface=\"\(label(drop.interface))\"\(domain),counter=\"\(counter)\"} "
                    + "\(packets)\n"
            }
        }
        text += """
            # HELP kvmtopo_drops_window_seconds How long the last kvmtopo drops run counted.
            # TYPE kvmtopo_drops_window_seconds gauge
            kvmtopo_drops_window_seconds \(String(format: "%.3f", seconds))
            # HELP kvmtopo_drops_last_run_timestamp_seconds When kvmtopo drops wrote this file.
            # TYPE kvmtopo_drops_last_run_timestamp_seconds gauge
            kvmtopo_drops_last_run_timestamp_seconds \(Int(now.timeIntervalSince1970))

            """
        return text
    }

    /// A label value as the text format wants it: backslash, quote and newline escaped.
    private static func label(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
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
