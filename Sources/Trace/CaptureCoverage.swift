/// When each capture point was captured at all. A live trace captures every point the whole time; a replay only
/// where and when its files did: one file per interface starts and ends when its tcpdump did. A hop expected where
/// nothing was being captured is not captured, not lost: no filter rule is blamed for it.
public final class CaptureCoverage: @unchecked Sendable {
    private struct Span {
        var first: UInt64
        var last: UInt64
        /// Its file is still being read: the span may grow.
        var open = true

        func covers(_ time: UInt64) -> Bool { time >= first && (open || time <= last) }
    }

    private var byInterface: [String: Span] = [:]
    /// `any` captures (SLL2 frames say their interface): every point.
    private var everywhere: Span?
    private var recorded = false

    public init() {}

    /// A frame captured on `interface` (nil: on every interface, an `any` capture) at `time`.
    public func saw(_ interface: String?, at time: UInt64) {
        recorded = true
        if let interface {
            byInterface[interface] = Self.extend(byInterface[interface], time)
        } else {
            everywhere = Self.extend(everywhere, time)
        }
    }

    /// A file has ended: the spans of what it captured grow no more.
    public func ended(_ interfaces: [String?]) {
        for interface in interfaces {
            if let interface { byInterface[interface]?.open = false } else { everywhere?.open = false }
        }
    }

    /// Whether `interface` was being captured at `time`; always, when nothing was recorded (a live trace).
    public func covers(_ interface: String, at time: UInt64) -> Bool {
        guard recorded else { return true }
        return everywhere?.covers(time) == true || byInterface[interface]?.covers(time) == true
    }

    private static func extend(_ span: Span?, _ time: UInt64) -> Span {
        guard var span else { return Span(first: time, last: time) }
        span.first = min(span.first, time)
        span.last = max(span.last, time)
        return span
    }
}
