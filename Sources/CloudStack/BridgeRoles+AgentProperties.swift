import Foundation
import Topology

extension BridgeRoles {
    /// Reads the network keys of /etc/cloudstack/agent/agent.properties (`key=value` lines, `#` comments);
    /// a key that is absent keeps the agent's default (AgentProperties.java).
    public init(agentProperties text: String) {
        var values: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.hasPrefix("#"), let equals = trimmed.firstIndex(of: "=") else { continue }
            let value = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if !value.isEmpty { values[trimmed[..<equals].trimmingCharacters(in: .whitespaces)] = value }
        }
        self.init()
        control = values["private.bridge.name"] ?? control
        `public` = values["public.network.device"] ?? `public`
        `private` = values["private.network.device"] ?? `private`
        guest = values["guest.network.device"]
    }
}
