import Foundation

/// Reads and writes the dump format. Writing is deterministic (sorted keys, fixed layout), so a dump read
/// back and written again is the same bytes.
public enum SnapshotCodec {
    /// The top-level fields are encoded side by side (links and FDB are most of a big host's dump) and joined
    /// in sorted key order: the same bytes as encoding the whole snapshot at once, in about half the time.
    public static func encode(_ snapshot: HostSnapshot) -> Data {
        var present: [(key: String, encode: @Sendable () -> Data)] = [
            ("bridges", { compact(snapshot.bridges) }), ("domains", { compact(snapshot.domains) }),
            ("fdb", { compact(snapshot.fdb) }), ("host", { compact(snapshot.host) }),
            ("links", { compact(snapshot.links) }),
            ("networks", { compact(snapshot.networks) }), ("schemaVersion", { compact(snapshot.schemaVersion) }),
            ("vpcs", { compact(snapshot.vpcs) }), ("warnings", { compact(snapshot.warnings) }),
        ]
        // Optional fields are left out when absent, as the synthesized encoding does.
        if let neighbours = snapshot.neighbours { present.append(("neighbours", { compact(neighbours) })) }
        if let routes = snapshot.routes { present.append(("routes", { compact(routes) })) }
        let fields = present.sorted { $0.key < $1.key }
        let parts = Parts(count: fields.count)
        DispatchQueue.concurrentPerform(iterations: fields.count) { index in parts.set(index, fields[index].encode()) }
        var json: [UInt8] = [UInt8(ascii: "{")]
        for (index, field) in fields.enumerated() {
            if index > 0 { json.append(UInt8(ascii: ",")) }
            json += Array("\"\(field.key)\":".utf8) + parts.get(index)
        }
        json.append(UInt8(ascii: "}"))
        return Data(JSONIndent.indent(json) + [0x0A])
    }

    /// Every field is a string, integer, bool, array or nested struct: encoding cannot fail.
    private static func compact<T: Encodable>(_ value: T) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data()
    }

    /// Results of the concurrent encodings, one slot each.
    private final class Parts: @unchecked Sendable {
        private var slots: [Data]
        private let lock = NSLock()
        init(count: Int) { slots = Array(repeating: Data(), count: count) }
        func set(_ index: Int, _ data: Data) {
            lock.lock()
            slots[index] = data
            lock.unlock()
        }
        func get(_ index: Int) -> Data {
            lock.lock()
            defer { lock.unlock() }
            return slots[index]
        }
    }

    public static func decode(_ data: Data, source: String) throws(SnapshotError) -> HostSnapshot {
        let decoder = JSONDecoder()
        let version: Int
        do {
            version = try decoder.decode(VersionProbe.self, from: data).schemaVersion
        } catch let error as DecodingError {
            throw SnapshotError(source: source, reason: "not a kvmtopo dump (\(describe(error)))")
        } catch {
            throw SnapshotError(source: source, reason: "not a kvmtopo dump (\(error))")
        }
        guard version == HostSnapshot.currentSchemaVersion else {
            throw SnapshotError(
                source: source,
                reason:
                    "schemaVersion \(version) is not supported (this kvmtopo reads version \(HostSnapshot.currentSchemaVersion)); use a kvmtopo release that matches the dump"
            )
        }
        do {
            return try decoder.decode(HostSnapshot.self, from: data)
        } catch let error as DecodingError {
            throw SnapshotError(source: source, reason: "invalid kvmtopo dump: \(describe(error))")
        } catch {
            throw SnapshotError(source: source, reason: "invalid kvmtopo dump: \(error)")
        }
    }

    private struct VersionProbe: Decodable {
        var schemaVersion: Int
    }

    /// DecodingError's own description is several lines of Swift internals; an operator needs where and what.
    private static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            let text = codingPath.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }.joined()
            return text.isEmpty ? "top level" : String(text.drop { $0 == "." })
        }
        switch error {
        case .dataCorrupted(let context):
            let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return context.codingPath.isEmpty
                ? "malformed JSON" + (underlying.map { ": \($0)" } ?? "")
                : "bad value at \(path(context.codingPath))"
        case .keyNotFound(let key, let context):
            return "missing field \(path(context.codingPath + [key]))"
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)) should be \(jsonTypeName(type))"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)) is null, expected \(jsonTypeName(type))"
        @unknown default:
            return "unreadable"
        }
    }

    private static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Double.Type: "a number"
        case is Bool.Type: "true or false"
        case is [Any].Type: "an array"
        default: "an object"
        }
    }
}

public struct SnapshotError: Error, CustomStringConvertible, Sendable {
    public var source: String
    public var reason: String
    public var description: String { "\(source): \(reason)" }
}
