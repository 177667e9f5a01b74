import Foundation

/// Reads and writes the dump format. Writing is deterministic (sorted keys, fixed layout), so a dump read
/// back and written again is the same bytes.
public enum SnapshotCodec {
    /// The dump's bytes: written directly by JSONWriter (DumpWriter.swift), about 600 bytes per link, its long
    /// arrays on `threads` threads (the same bytes as on one).
    public static func encode(
        _ snapshot: HostSnapshot, threads: Int = ProcessInfo.processInfo.activeProcessorCount
    ) -> Data {
        // Room for the whole document up front (a rule writes about 600 bytes): growing a 40 MB buffer by
        // doubling copies it again each time.
        let rules = snapshot.firewall?.tables.reduce(0) { $0 + $1.chains.reduce(0) { $0 + $1.rules.count } } ?? 0
        var json = JSONWriter(
            capacity: 4096 + 600 * snapshot.links.count + 200 * snapshot.fdb.count + 640 * rules, threads: threads)
        snapshot.write(to: &json)
        return json.finish()
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
                    "schemaVersion \(version) is not supported (this kvmtopo reads version "
                    + "\(HostSnapshot.currentSchemaVersion)); use a kvmtopo release that matches the dump"
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
