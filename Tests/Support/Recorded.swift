import CloudStack
import Foundation
import Testing
import Topology

/// A dump under the package (examples/dumps, a test's Fixtures), read as kvmtopo reads `--from` and inferred.
public func recordedDump(_ name: String, in folder: String = "examples/dumps") throws -> HostSnapshot {
    let data = try Data(contentsOf: URL(fileURLWithPath: "\(PackageRoot.path)/\(folder)/\(name).json"))
    return CloudStackModel.infer(try SnapshotCodec.decode(data, source: name))
}

/// Compares text with its committed golden file (a path under the package); KVMTOPO_RECORD_GOLDEN=1 writes the
/// file anew instead (then read the diff before committing).
public func expectGolden(_ text: String, file path: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let full = "\(PackageRoot.path)/\(path)"
    if ProcessInfo.processInfo.environment["KVMTOPO_RECORD_GOLDEN"] == "1" {
        try text.write(toFile: full, atomically: true, encoding: .utf8)
    }
    let expected = try String(contentsOfFile: full, encoding: .utf8)
    #expect(text == expected, "\(path) differs; KVMTOPO_RECORD_GOLDEN=1 rewrites it", sourceLocation: sourceLocation)
}
