import Foundation

/// SIGINT and SIGTERM ask a live trace to stop and print its summary: the first stops the capture (what was read
/// is still lined up), the second ends at once.
public enum StopSignals {
    /// Counted by the handler; the session looks at it at least ten times a second.
    nonisolated(unsafe) private static var caught: sig_atomic_t = 0

    public static func install() {
        signal(SIGINT) { _ in StopSignals.caught += 1 }
        signal(SIGTERM) { _ in StopSignals.caught += 1 }
        // Whoever started us may have left them blocked (a parent's thread mask is inherited): Ctrl-C must work.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGINT)
        sigaddset(&stopSignals, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
    }

    /// How many times a stop was asked for.
    public static func requests() -> Int { Int(caught) }
}
