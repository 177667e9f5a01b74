/// The one capture loop, for `trace` and `--listen`: frames from a source in batches of at most a tenth of a
/// second, until the end is reached, a stop is asked for or a replay runs out; between batches, `tick` with the
/// clock's time and the oldest frame still waiting in the source (expiring packets, noticing vanished
/// interfaces). Both say whether to go on. A first stop (or the end) only stops the reading: frames already read
/// are still handled, so a session that fell behind a flood loses none of them; a second stop ends at once.
struct CaptureLoop {
    /// How long one batch may wait for frames: the longest a stop (Ctrl-C) waits to be noticed.
    static let batch: UInt64 = 100_000_000

    var clock: any SessionClock
    /// Nanoseconds since the epoch at which to end; nil: until stopped (or a replay's end).
    var end: UInt64?
    /// How many stops were asked for so far.
    var stopRequests: () -> Int
    /// Told once, when the reading stops, how many frames read are still to be handled.
    var stopping: (Int) -> Void = { _ in }

    func run<Source: FrameSource>(
        _ source: inout Source, frames: ([Frame]) -> Bool,
        tick: (_ now: UInt64, _ oldestWaiting: UInt64?) -> Bool = { _, _ in true }
    ) {
        var reading = true
        while !source.isFinished, stopRequests() < 2 {
            let now = clock.now()
            if reading, stopRequests() > 0 || end.map({ now >= $0 }) == true {
                reading = false
                source.stopReading()
                stopping(source.backlog?.frames ?? 0)
                continue
            }
            // Once stopped, a live source gives what it read as soon as it has it (or that it has nothing more).
            let deadline = reading ? min(now.saturatingAdd(Self.batch), end ?? .max) : now.saturatingAdd(Self.batch)
            let goOn = frames(source.frames(until: deadline))
            guard tick(clock.now(), source.backlog?.oldest), goOn else { break }
        }
    }
}
