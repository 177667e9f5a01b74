import Foundation

/// Which bridge carries which CloudStack traffic on this host: from /etc/cloudstack/agent/agent.properties when
/// it exists, else the agent's defaults (AgentProperties.java).
public struct AgentSettings: Equatable, Sendable {
    public var controlBridge = "cloud0"
    public var publicBridge = "cloudbr0"
    public var privateBridge = "cloudbr1"
    /// Untagged guest traffic; the agent defaults it to the private bridge.
    public var guestBridge: String?

    public init() {}

    /// Reads the network keys of agent.properties (`key=value` lines, `#` comments).
    public init(properties text: String) {
        var values: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.hasPrefix("#"), let equals = trimmed.firstIndex(of: "=") else { continue }
            let value = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if !value.isEmpty { values[trimmed[..<equals].trimmingCharacters(in: .whitespaces)] = value }
        }
        controlBridge = values["private.bridge.name"] ?? controlBridge
        publicBridge = values["public.network.device"] ?? publicBridge
        privateBridge = values["private.network.device"] ?? privateBridge
        guestBridge = values["guest.network.device"]
    }
}
