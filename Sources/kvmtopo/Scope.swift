import ArgumentParser
import Topology

/// A command's optional scope, `vm NAME` or `network BRIDGE|vlan:N|vni:N`, and the names it covers.
struct Scope {
    let words: [String]

    static let help = ArgumentHelp("Optional scope: vm NAME, or network BRIDGE|vlan:N|vni:N.", valueName: "scope")

    static func validate(_ words: [String]) throws {
        guard words.isEmpty || (words.count == 2 && ["vm", "network"].contains(words[0])) else {
            throw ValidationError("the scope is 'vm NAME' or 'network BRIDGE|vlan:N|vni:N'")
        }
    }

    /// The names the scope is about, nil for the whole host: a VM with its taps and bridges, or a network's
    /// bridge, uplink and members.
    func names(in snapshot: HostSnapshot) throws -> Set<String>? {
        guard words.count == 2 else { return nil }
        let name = words[1]
        if words[0] == "vm" {
            guard let domain = snapshot.domains.first(where: { $0.name == name }) else {
                throw CommandFailure(
                    .usage, LookupError(kind: "VM", name: name, candidates: snapshot.domains.map(\.name)).description)
            }
            return Set([domain.name] + domain.nics.flatMap { [$0.tap, $0.bridge, $0.hostBridge].compactMap { $0 } })
        }
        let network: Network
        do {
            network = try snapshot.network(selectedBy: name)
        } catch {
            throw CommandFailure(.usage, error.description)
        }
        return Set(
            [network.bridge] + [network.uplink, network.physicalInterface].compactMap { $0 }
                + network.members.flatMap { [$0.domain, $0.tap].compactMap { $0 } })
    }
}
