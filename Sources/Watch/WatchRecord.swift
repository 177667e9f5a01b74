import Changes
import Diagnose
import Foundation
import Topology

/// One line of `kvmtopo watch`: a change in the model's terms, a libvirt event, a finding that appeared or
/// cleared, a link that flaps, or news about a source (libvirt lost and back, netlink overrun).
public struct WatchRecord: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case change, event, finding, flapping, source }

    public static let schemaVersion = 1

    public var schemaVersion = Self.schemaVersion
    /// ISO 8601, in milliseconds: when the kernel or libvirt announced it (a change: the burst's first event).
    public var time: String
    public var kind: Kind
    /// "i-2-10-VM eth0", "vnet4", "brvx-1001", "libvirt".
    public var subject: String
    /// The line: "i-2-10-VM eth0 (tap vnet4): left brvx-1001 (now on no bridge)".
    public var text: String
    /// A change's object, as `kvmtopo diff` names it.
    public var object: Change.Object?
    /// A change's or a finding's kind: added (appeared), removed (cleared), changed.
    public var change: Change.Kind?
    public var field: String?
    public var before: String?
    public var after: String?
    /// An event's domain and what happened to it.
    public var domain: String?
    public var event: DomainEvent?
    public var code: WarningCode?
    public var severity: Severity?
    /// A flapping link: state changes since the last line about it, over `seconds`.
    public var count: Int?
    public var seconds: Int?
    /// A netlink overrun: notifications the kernel could not queue.
    public var missed: Int?

    public init(time: Date, kind: Kind, subject: String, text: String) {
        self.time = Self.format(time)
        self.kind = kind
        self.subject = subject
        self.text = text
    }

    /// The text line: the time of day (UTC, as the dumps' `collectedAt`) to the millisecond, then the line.
    public var line: String {
        let clock = time.split(separator: "T").last.map { $0.prefix(12) } ?? Substring(time)
        return "\(clock) \(text)"
    }

    static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
