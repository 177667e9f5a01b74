import Foundation
import KernelDrops
import Topology

/// `kvmtopo drops`: what each interface and the kernel dropped, as text, JSON or metrics (kvmtopo-drops(1)).
public enum DropsReport {
    /// - Parameter firewall: nil when the firewall could not be read twice.
    public static func text(
        _ drops: [InterfaceDrops], firewall: [FirewallDrops]?, kernel: KernelDropSummary?, host: String,
        seconds: Double, style: DiagramStyle
    ) -> String {
        let span = String(format: "%.1f s", seconds)
        var lines: [Line] = []
        if drops.isEmpty {
            lines.append([Segment(text: "Nothing dropped by the interfaces of \(host) in \(span).")])
        } else {
            lines.append([Segment(text: "Drops on \(host) over \(span) (interface counters)", tone: .heading)])
        }
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
        if let firewall, !firewall.isEmpty { lines += firewallLines(firewall, span: span) }
        if let kernel { lines += kernelLines(kernel, span: span) }
        return lines.map(style.render).joined(separator: "\n") + "\n"
    }

    /// The firewall's part: the rules (or policies) that dropped, on the VM whose security group they are.
    private static func firewallLines(_ firewall: [FirewallDrops], span: String) -> [Line] {
        var lines: [Line] = [[Segment(text: "Dropped by the firewall over \(span) (rule counters)", tone: .heading)]]
        let width = firewall.map { String($0.packets).count }.max() ?? 1
        for drop in firewall {
            let count = String(drop.packets)
            let whose = drop.domain.map { "\($0)'s security group: " } ?? ""
            let place =
                "\(drop.family) \(drop.table) \(drop.chain)" + (drop.handle.map { " rule \($0)" } ?? "'s policy")
            lines.append([
                Segment(text: "  " + String(repeating: " ", count: width - count.count) + count + "  "),
                Segment(text: whose + place, tone: .error),
                Segment(text: drop.rule.map { " (\($0))" } ?? "", tone: .dim),
            ])
        }
        return lines
    }

    /// The tracepoint's part: drops by reason and place, host-wide (its records name no interface).
    private static func kernelLines(_ kernel: KernelDropSummary, span: String) -> [Line] {
        if let unavailable = kernel.unavailable {
            return [[Segment(text: "No kernel drop reasons: \(unavailable)", tone: .warning)]]
        }
        var lines: [Line] = kernel.notes.map { [Segment(text: $0, tone: .dim)] }
        guard !kernel.drops.isEmpty else {
            lines.append([Segment(text: "The kernel dropped no packet in \(span) (skb:kfree_skb).")])
            return lines
        }
        lines.append([Segment(text: "Dropped by the kernel over \(span) (skb:kfree_skb)", tone: .heading)])
        let width = kernel.drops.map { String($0.packets).count }.max() ?? 1
        for drop in kernel.drops {
            let count = String(drop.packets)
            let place = drop.function.map { " in " + $0 + (drop.module.map { " [\($0)]" } ?? "") } ?? ""
            lines.append([
                Segment(text: "  " + String(repeating: " ", count: width - count.count) + count + "  "),
                Segment(text: (drop.reason?.rawValue ?? "no reason") + place, tone: .error),
                Segment(text: drop.meaning.map { ": " + $0 } ?? "", tone: .dim),
            ])
            let indent = String(repeating: " ", count: width + 4)
            if !drop.places.isEmpty {
                let at = drop.places.count == 1 ? "at " : "at one of "
                lines.append([Segment(text: indent + at + drop.places.map(\.meaning).joined(separator: "; "))])
            }
        }
        if kernel.lostRecords > 0 {
            lines.append([
                Segment(
                    text: "  \(kernel.lostRecords) more drop records were lost (the kernel's rings were full)",
                    tone: .warning)
            ])
        }
        return lines
    }

    /// node_exporter textfile metrics: what each interface dropped or erred on during the run, by counter, and
    /// what the kernel dropped, by reason and function.
    public static func prometheus(
        _ drops: [InterfaceDrops], firewall: [FirewallDrops], kernel: KernelDropSummary?, seconds: Double, now: Date
    ) -> String {
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
        if !firewall.isEmpty {
            text += """
                # HELP kvmtopo_firewall_drops_packets Packets a DROP or REJECT rule or DROP policy counted in the run.
                # TYPE kvmtopo_firewall_drops_packets gauge

                """
            for drop in firewall {
                let domain = drop.domain.map { ",domain=\"\(label($0))\"" } ?? ""
                let handle = drop.handle.map(String.init) ?? "policy"
                text +=
                    "kvmtopo_firewall_drops_packets{family=\"\(label(drop.family.rawValue))\","
                    + "table=\"\(label(drop.table))\",chain=\"\(label(drop.chain))\",handle=\"\(handle)\"\(domain)} "
                    + "\(drop.packets)\n"
            }
        }
        if let kernel, kernel.unavailable == nil {
            text += """
                # HELP kvmtopo_kernel_drops_packets Packets the kernel dropped (skb:kfree_skb) during the last run.
                # TYPE kvmtopo_kernel_drops_packets gauge

                """
            for drop in kernel.drops {
                text +=
                    "kvmtopo_kernel_drops_packets{reason=\"\(label(drop.reason?.rawValue ?? ""))\","
                    + "function=\"\(label(drop.function ?? ""))\"} \(drop.packets)\n"
            }
            text += """
                # HELP kvmtopo_kernel_drop_records_lost Drop records the kernel could not hand over (rings full).
                # TYPE kvmtopo_kernel_drop_records_lost gauge
                kvmtopo_kernel_drop_records_lost \(kernel.lostRecords)

                """
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

    public static func json(
        _ drops: [InterfaceDrops], firewall: [FirewallDrops]?, kernel: KernelDropSummary?, host: String,
        seconds: Double
    ) -> Data {
        struct KernelDrops: Encodable {
            var unavailable: String?
            var notes: [String]
            var lostRecords: Int
            var drops: [Kind]
        }
        struct Kind: Encodable {
            var reason: String?
            var function: String?
            var module: String?
            var meaning: String?
            var site: String
            var packets: Int
            var places: [KernelDropPlace]
        }
        struct Report: Encodable {
            var schemaVersion = 1
            var host: String
            var seconds: Double
            var interfaces: [InterfaceDrops]
            var firewall: [FirewallDrops]?
            var kernel: KernelDrops?
        }
        let kernelPart = kernel.map { summary in
            KernelDrops(
                unavailable: summary.unavailable, notes: summary.notes, lostRecords: summary.lostRecords,
                drops: summary.drops.map {
                    Kind(
                        reason: $0.reason?.rawValue, function: $0.function, module: $0.module, meaning: $0.meaning,
                        site: $0.site.rawValue, packets: $0.packets, places: $0.places)
                })
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let report = Report(host: host, seconds: seconds, interfaces: drops, firewall: firewall, kernel: kernelPart)
        let body = (try? encoder.encode(report)) ?? Data("{}".utf8)
        return body + Data("\n".utf8)
    }
}
