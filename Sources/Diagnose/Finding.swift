/// How bad a finding is. `kvmtopo diagnose` exits 0 with nothing above info, 1 with warnings, 2 with errors.
public enum Severity: String, Codable, Comparable, Sendable, CaseIterable {
    case info, warning, error

    public static func < (a: Severity, b: Severity) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// One thing an expert would point at: what, where, why it matters, and what to type next.
public struct Finding: Codable, Equatable, Sendable {
    public var code: String
    public var severity: Severity
    /// The object: "i-2-11-VM eth0", "brvx-1001", "cloud0".
    public var subject: String
    /// What is wrong.
    public var message: String
    /// Why it matters.
    public var why: String
    /// A command to look closer or to fix it.
    public var action: String
    /// Domains, links and bridges it concerns, for `diagnose vm NAME` and `diagnose network …`.
    public var related: [String]

    public init(code: String, severity: Severity, subject: String, message: String, why: String, action: String,
                related: [String]) {
        self.code = code
        self.severity = severity
        self.subject = subject
        self.message = message
        self.why = why
        self.action = action
        self.related = related
    }
}

/// A check diagnose runs: its code, severity and what it looks for (kvmtopo-diagnose(1) lists them all).
public struct Check: Sendable {
    public var code: String
    public var severity: Severity
    public var summary: String
}
