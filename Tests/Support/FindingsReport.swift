/// What `kvmtopo diagnose --json` and `kvmtopo zone diagnose --json` write, as the tests read it.
public struct FindingsReport: Decodable, Sendable {
    public struct Finding: Decodable, Sendable {
        public var code: String
        public var severity: String
        public var subject: String
        public var message: String
        public var action: String
    }
    public var schemaVersion: Int
    /// diagnose's host, or zone diagnose's hosts.
    public var host: String?
    public var hosts: [String]?
    public var counts: [String: Int]
    public var findings: [Finding]
}
