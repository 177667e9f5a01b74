import Foundation

/// SIGINT and SIGTERM ask a live trace to stop and print its summary.
public enum StopSignals {
    /// Set by the handler; the session looks at it at least ten times a second.
    nonisolated(unsafe) private static var caught: sig_atomic_t = 0

    public static func install() {
        signal(SIGINT) { StopSignals.caught = $0 }
        signal(SIGTERM) { StopSignals.caught = $0 }
        // Whoever started us may have left them blocked (a parent's thread mask is inherited): Ctrl-C must work.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGINT)
        sigaddset(&stopSignals, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
    }

    public static func requested() -> Bool { caught != 0 }
}
