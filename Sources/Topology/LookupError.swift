/// A name a command was asked for and could not find, with the closest names there are.
public struct LookupError: Error, CustomStringConvertible, Sendable {
    public var kind: String
    public var name: String
    public var candidates: [String]

    public init(kind: String, name: String, candidates: [String]) {
        self.kind = kind
        self.name = name
        self.candidates = candidates
    }

    public var description: String {
        let close = candidates.map { ($0, distance($0.lowercased(), name.lowercased())) }
            .filter { $0.1 <= max(2, name.count / 3) || $0.0.lowercased().contains(name.lowercased()) }
            .sorted { ($0.1, $0.0) < ($1.1, $1.0) }.prefix(3).map(\.0)
        let suggestion = close.isEmpty ? "" : "; did you mean \(close.joined(separator: ", "))?"
        return "no \(kind) named '\(name.escapingControlCharacters)'\(suggestion)"
    }
}

/// Levenshtein distance, for suggestions.
private func distance(_ a: String, _ b: String) -> Int {
    let a = Array(a)
    let b = Array(b)
    guard !a.isEmpty else { return b.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in stride(from: 1, through: b.count, by: 1) {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}

extension HostSnapshot {
    /// The network a command names by bridge, `vlan:N` or `vni:N`; a LookupError with the closest names when
    /// there is none.
    public func network(selectedBy selector: String) throws(LookupError) -> Network {
        let match = networks.first { network in
            if let id = selector.wholeMatch(of: /vlan:(\d+)/).flatMap({ Int($0.1) }) { return network.vlan == id }
            if let id = selector.wholeMatch(of: /vni:(\d+)/).flatMap({ Int($0.1) }) { return network.vni == id }
            return network.bridge == selector
        }
        guard let match else {
            throw LookupError(
                kind: "network", name: selector,
                candidates: networks.flatMap { network in
                    [network.bridge]
                        + [network.vlan.map { "vlan:\($0)" }, network.vni.map { "vni:\($0)" }].compactMap { $0 }
                })
        }
        return match
    }
}
