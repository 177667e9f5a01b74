/// The one capture loop, for `trace` and `--listen`: frames from a source in batches of at most a tenth of a
/// second, until a stop is asked for, the end is reached or a replay runs out; between batches, `tick` with the
/// clock's time (expiring packets, noticing vanished interfaces). Both say whether to go on.
struct CaptureLoop {
    /// How long one batch may wait for frames: the longest a stop (Ctrl-C) waits to be noticed.
    static let batch: UInt64 = 100_000_000

    var clock: any SessionClock
    /// Nanoseconds since the epoch at which to end; nil: until stopped (or a replay's end).
    var end: UInt64?
    var shouldStop: () -> Bool

    func run<Source: FrameSource>(
        _ source: inout Source, frames: ([Frame]) -> Bool,
        tick: (UInt64) -> Bool = { _ in true }
    ) {
        while !shouldStop(), !source.isFinished {
            let now = clock.now()
            if let end, now >= end { break }
            let goOn = frames(source.frames(until: min(now.saturatingAdd(Self.batch), end ?? .max)))
            guard tick(clock.now()), goOn else { break }
        }
    }
}
