/// When each capture point was captured at all. A live trace captures every point the whole time; a replay only
/// where and when its files did: one file per interface starts and ends when its tcpdump did. A hop expected where
/// nothing was being captured is not captured, not lost: no filter rule is blamed for it.
public final class CaptureCoverage {
    private struct Span {
        var first: UInt64
        var last: UInt64
        /// Its file is still being read: the span may grow.
        var open = true

        func covers(_ time: UInt64) -> Bool { time >= first && (open || time <= last) }
    }

    /// What a frame shows was being captured: every point (an `any` capture, whose SLL2 frames name their own
    /// interface), or one interface (a capture of it alone).
    public enum Scope: Hashable, Sendable {
        case everywhere
        case interface(String)
    }

    /// By scope, then by the file that captured it: files of the same scope start and end on their own.
    private var spans: [Scope: [Int: Span]] = [:]

    public init() {}

    /// A frame of `file`, captured in `scope` at `time`.
    public func saw(_ scope: Scope, file: Int, at time: UInt64) {
        spans[scope, default: [:]][file] = Self.extend(spans[scope]?[file], time)
    }

    /// A file has ended: the spans it captured grow no more.
    public func ended(file: Int) {
        for scope in spans.keys { spans[scope]?[file]?.open = false }
    }

    /// Whether `interface` was being captured at `time`; always, when nothing was recorded (a live trace).
    public func covers(_ interface: String, at time: UInt64) -> Bool {
        guard !spans.isEmpty else { return true }
        return [Scope.everywhere, .interface(interface)].contains { scope in
            spans[scope]?.values.contains { $0.covers(time) } == true
        }
    }

    private static func extend(_ span: Span?, _ time: UInt64) -> Span {
        guard var span else { return Span(first: time, last: time) }
        span.first = min(span.first, time)
        span.last = max(span.last, time)
        return span
    }
}
