import Trace

/// `kvmtopo trace` as text: one block per packet, hops in path order with the time since the first sighting,
/// the reply under its request, and a summary table per hop. Reads only finished TracedPackets.
public struct TraceText {
    let style: DiagramStyle

    public init(style: DiagramStyle) { self.style = style }

    public func packet(_ packet: TracedPacket) -> String {
        var lines: [Line] = [
            [
                Segment(text: "#\(packet.number)  ", tone: .dim), Segment(text: clean(packet.summary), tone: .heading),
                Segment(text: "\(style.dot)\(packet.length) bytes", tone: .dim),
            ]
        ]
        lines += body(packet, indent: "  ")
        if let reply = packet.reply.first {
            let after = Int64(bitPattern: reply.firstSeen &- packet.firstSeen)
            lines.append([
                Segment(text: "  reply ", tone: .dim), Segment(text: clean(reply.summary)),
                Segment(text: "\(style.dot)\(formatNanoseconds(after)) after the request", tone: .dim),
            ])
            lines += body(reply, indent: "    ")
        } else if packet.replyMissing {
            lines.append([Segment(text: "  \(style.warningMark) no reply within the timeout", tone: .warning)])
        }
        return lines.map(style.render).joined(separator: "\n") + "\n\n"
    }

    private func body(_ packet: TracedPacket, indent: String) -> [Line] {
        var lines: [Line] = packet.hops.map { hop in
            let time = hop.offset.map { ($0 >= 0 ? "+" : "") + formatNanoseconds($0) } ?? ""
            let pad = { (text: String, width: Int) in
                text + String(repeating: " ", count: max(1, width - text.unicodeScalars.count))
            }
            var line: Line = [
                Segment(
                    text: indent + String(repeating: " ", count: max(0, 11 - time.unicodeScalars.count)) + time + "  ",
                    tone: .dim)
            ]
            switch (hop.kind, hop.state) {
            case (.router, _):
                line.append(Segment(text: "\(style.routerMark)    ", tone: .router))
                line.append(Segment(text: clean(hop.meaning), tone: hop.state == .lost ? .error : .router))
            case (.interface, .seen):
                line.append(Segment(text: pad(hop.direction?.rawValue ?? "", 5)))
                line.append(Segment(text: pad(clean(hop.interface ?? "?"), 11)))
                line.append(Segment(text: clean(hop.meaning)))
            case (.interface, .uncaptured):
                line[0].text = indent + String(repeating: " ", count: 9) + "?  "
                line.append(Segment(text: pad(hop.direction?.rawValue ?? "", 5), tone: .dim))
                line.append(Segment(text: pad(clean(hop.interface ?? "?"), 11), tone: .dim))
                line.append(Segment(text: clean(hop.meaning), tone: .dim))
            case (.interface, .lost):
                line[0].text = indent + String(repeating: " ", count: 9) + "\(style.errorMark)  "
                line[0].tone = .error
                line.append(Segment(text: pad(hop.direction?.rawValue ?? "", 5), tone: .error))
                line.append(Segment(text: pad(clean(hop.interface ?? "?"), 11), tone: .error))
                line.append(Segment(text: clean(hop.meaning), tone: .error))
            }
            if hop.count > 1 { line.append(Segment(text: " ×\(hop.count)", tone: .warning)) }
            if let note = hop.note {
                line.append(Segment(text: "\(style.dot)\(clean(note))", tone: hop.state == .lost ? .error : .dim))
            }
            return line
        }
        let arrow = style.unicode ? "→" : "->"
        lines.append([Segment(text: "\(indent)\(arrow) \(clean(packet.outcome))", tone: packet.lost ? .error : .plain)])
        return lines
    }

    /// The end-of-trace table: per hop, seen and lost counts and the delay since the first sighting.
    public func summary(
        _ statistics: TraceStatistics, capture: CaptureCounters?, evicted: Int = 0, frames: FrameCounts? = nil,
        kernelRecordsLost: Int? = nil
    ) -> String {
        var lines: [Line] = [
            [
                Segment(text: "Summary", tone: .heading),
                Segment(
                    text:
                        "\(style.dot)\(statistics.packets) packet\(statistics.packets == 1 ? "" : "s") "
                        + "(\(statistics.replies) with their reply), "
                        + "\(statistics.lostPackets) lost, \(statistics.repliesMissing) without reply"),
            ]
        ]
        if let capture {
            let dropped = capture.dropped + capture.droppedByInterface + capture.droppedWaiting
            let behind =
                capture.droppedWaiting > 0
                ? ", \(capture.droppedWaiting) read and not correlated (the correlation fell behind)" : ""
            lines.append([
                Segment(
                    text: "  capture: \(capture.received) frames received, \(capture.dropped) dropped by the kernel, "
                        + "\(capture.droppedByInterface) by the interfaces\(behind)",
                    tone: dropped > 0 ? .warning : .plain)
            ])
        }
        if let frames {
            let tone: Segment.Tone = frames.read > 0 && frames.onCapturePoints == 0 ? .warning : .plain
            lines.append([
                Segment(
                    text: "  frames: \(frames.read) read, \(frames.onCapturePoints) on capture points; "
                        + "\(frames.otherTraffic) packets of other traffic", tone: tone)
            ])
        }
        if !statistics.firewallDrops.isEmpty {
            let counts = statistics.firewallDrops.map { drops in
                let place = [drops.family?.rawValue, drops.table, drops.chain].compactMap { $0 }.joined(separator: " ")
                let rule = drops.handle.map { " rule \($0)" } ?? "'s policy"
                return "\(drops.packets) by \(place)\(rule)" + (drops.rule.map { " (\(clean($0)))" } ?? "")
            }
            lines.append([
                Segment(text: "  dropped by the firewall: " + counts.joined(separator: ", "), tone: .error)
            ])
        }
        if !statistics.kernelDrops.isEmpty {
            let counts = statistics.kernelDrops.map { drops in
                "\(drops.packets) \(drops.reason?.rawValue ?? "dropped")" + (drops.function.map { " in \($0)" } ?? "")
                    + (drops.meaning.map { " (\($0))" } ?? "")
            }
            lines.append([Segment(text: "  dropped by the kernel: " + counts.joined(separator: ", "), tone: .error)])
        }
        if let kernelRecordsLost, kernelRecordsLost > 0 {
            lines.append([
                Segment(
                    text: "  \(kernelRecordsLost) kernel drop records were lost (the tracepoint's rings were full): "
                        + "a drop reason may be missing", tone: .warning)
            ])
        }
        if evicted > 0 {
            lines.append([
                Segment(
                    text:
                        "  \(evicted) packets were written out before their timeout: more were open at once than kept "
                        + "(use a narrower filter)", tone: .warning)
            ])
        }
        guard !statistics.hops.isEmpty else { return lines.map(style.render).joined(separator: "\n") + "\n" }
        let header =
            "  " + column("", 4) + column("interface", 11) + column("seen", 7, right: true)
            + column("lost", 7, right: true) + column("p50", 11, right: true) + column("p99", 11, right: true)
            + "  what"
        lines.append([Segment(text: header, tone: .dim)])
        for hop in statistics.hops {
            let cells =
                "  " + column(hop.direction?.rawValue ?? "", 4)
                + column(clean(hop.interface ?? (hop.kind == .router ? "router" : "-")), 11)
                + column("\(hop.seen)", 7, right: true) + column("\(hop.lost)", 7, right: true)
                + column(hop.percentile(0.5).map(formatNanoseconds) ?? "-", 11, right: true)
                + column(hop.percentile(0.99).map(formatNanoseconds) ?? "-", 11, right: true) + "  "
            lines.append([
                Segment(text: cells, tone: hop.lost > 0 ? .error : .plain), Segment(text: clean(hop.meaning)),
            ])
        }
        return lines.map(style.render).joined(separator: "\n") + "\n"
    }

    private func column(_ text: String, _ width: Int, right: Bool = false) -> String {
        let padding = String(repeating: " ", count: max(1, width - text.unicodeScalars.count))
        return right ? padding + text : text + padding
    }
}
