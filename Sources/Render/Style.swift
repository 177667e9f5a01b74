/// How a diagram is drawn: the character set, colour, and the terminal width lines are cut to.
public struct DiagramStyle: Sendable {
    public var unicode: Bool
    public var color: Bool
    public var width: Int

    public init(unicode: Bool = true, color: Bool = false, width: Int = 200) {
        self.unicode = unicode
        self.color = color
        self.width = width
    }

    var branch: String { unicode ? "├─ " : "+- " }
    var lastBranch: String { unicode ? "└─ " : "`- " }
    var pipe: String { unicode ? "│  " : "|  " }
    var link: String { unicode ? " ── " : " -- " }
    var dot: String { unicode ? " · " : " - " }
    var routerMark: String { unicode ? "◆" : "*" }
    var warningMark: String { unicode ? "⚠" : "!" }
    var errorMark: String { unicode ? "✗" : "x" }
    var ellipsis: String { unicode ? "…" : "~" }
    var outward: String { unicode ? " ─▶ " : " -> " }
}

/// A piece of a line with the colour it is shown in when colour is on.
struct Segment {
    enum Tone: String {
        case plain = ""
        case heading = "1"
        case router = "36"
        case warning = "33"
        case error = "31"
        case dim = "2"
    }
    var text: String
    var tone: Tone = .plain
}

typealias Line = [Segment]

extension DiagramStyle {
    /// Cuts a line to the width (its last visible character becomes …), then colours it. Columns are padded
    /// with spaces, so trailing ones are dropped first.
    func render(_ line: Line) -> String {
        var segments = line
        while let last = segments.last, last.text.utf8.allSatisfy({ $0 == 0x20 }) { segments.removeLast() }
        if let last = segments.indices.last {
            var text = Substring(segments[last].text)
            while text.utf8.last == 0x20 { text = text.dropLast() }
            segments[last].text = String(text)
        }
        // Unicode scalars stand for columns: names from the host are escaped, so no combining marks reach here.
        // A line with no more UTF-8 bytes than columns fits without counting them (the common case, and cheap).
        let fits = { (count: (String) -> Int) in segments.reduce(0) { $0 + count($1.text) } <= width }
        guard !fits({ $0.utf8.count }), !fits({ $0.unicodeScalars.count }) else {
            return segments.reduce(into: "") { $0 += colored($1.text, $1.tone) }
        }
        var budget = max(0, width - 1)
        var out = ""
        for segment in segments where budget > 0 {
            let text = String(String.UnicodeScalarView(segment.text.unicodeScalars.prefix(budget)))
            budget -= text.unicodeScalars.count
            out += colored(text, segment.tone)
        }
        return out + ellipsis
    }

    private func colored(_ text: String, _ tone: Segment.Tone) -> String {
        guard color, tone != .plain, !text.isEmpty else { return text }
        return "\u{1b}[\(tone.rawValue)m\(text)\u{1b}[0m"
    }
}
