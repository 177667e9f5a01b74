import Packets
import Trace

/// One captured frame, from wherever frames come from.
public struct Frame: Sendable {
    public var bytes: [UInt8]
    public var linkType: LinkType
    /// Nanoseconds since the epoch.
    public var timestamp: UInt64
    public var originalLength: Int
    /// The interface the capture names (a saved capture's), when the frame's own header does not say.
    public var interface: String?

    public init(bytes: [UInt8], linkType: LinkType, timestamp: UInt64, originalLength: Int, interface: String? = nil) {
        self.bytes = bytes
        self.linkType = linkType
        self.timestamp = timestamp
        self.originalLength = originalLength
        self.interface = interface
    }
}

/// Where a capture session's frames come from: the kernel (live) or a saved capture (replay). Sessions take it
/// as a parameter, so they run the same on a made-up source in a test.
public protocol FrameSource {
    /// Live frames are judged against the clock (a hop is lost when the clock passes its timeout); replayed
    /// ones against their own timestamps.
    var isLive: Bool { get }
    /// A replay has nothing more to give, or a stopped capture has given all it had read.
    var isFinished: Bool { get }
    /// Frames read and not given yet (a live source the session fell behind), and the time of the oldest: the
    /// session judges no packet newer than that, whatever the clock says. Nil when none waits.
    var backlog: (frames: Int, oldest: UInt64)? { get }
    /// Stops taking new frames (Ctrl-C, the end of --duration): those already read are still given, then the
    /// source is finished.
    mutating func stopReading()
    /// The frames that arrive before `deadline` (nanoseconds since the epoch on the session's clock); a live
    /// source never blocks past it.
    mutating func frames(until deadline: UInt64) -> [Frame]
    /// What the kernel says about the capture as a whole; nil for a replay.
    var counters: CaptureCounters? { get }
    /// Where and when a replay's files captured; nil: everywhere, all the time (live).
    var coverage: CaptureCoverage? { get }
}

extension FrameSource {
    public var coverage: CaptureCoverage? { nil }
    public var backlog: (frames: Int, oldest: UInt64)? { nil }
}

/// The session's sense of time: nanoseconds since the epoch.
/// Seconds as a user gives them (`--timeout 0.5`, `--timeout inf`) in nanoseconds, saturating at the top of the
/// range: a Double that does not fit UInt64 would trap.
public func nanoseconds(_ seconds: Double) -> UInt64 {
    let value = seconds * 1e9
    guard value < Double(UInt64.max) else { return .max }
    return value > 0 ? UInt64(value) : 0
}

public protocol SessionClock {
    func now() -> UInt64
}
