import Foundation

/// A JSON document: its body's fields with the `schemaVersion` of its contract beside them, keys sorted.
struct Versioned<Body: Encodable>: Encodable {
    var schemaVersion: Int
    var body: Body

    func encode(to encoder: any Encoder) throws {
        try body.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(schemaVersion, forKey: .schemaVersion)
    }

    private enum Key: String, CodingKey { case schemaVersion }

    var json: Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return ((try? encoder.encode(self)) ?? Data()) + Data("\n".utf8)
    }
}
