import Foundation
import Subprocess

/// Runs fixture commands (ip, virsh, the kvmtopo binary) for tests. Fixture set-up may use the standard
/// tools; the product itself never does.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: String
    public var output: String { String(decoding: stdout, as: UTF8.self) }
}

public enum Shell {
    /// Through /usr/bin/env, so a command is found on the PATH as from a shell.
    @discardableResult
    public static func run(_ arguments: [String], environment: [String: String]? = nil) throws -> CommandResult {
        do {
            let child = try Subprocess.run("/usr/bin/env", arguments, environment: environment)
            return CommandResult(
                status: child.status, stdout: child.output, stderr: String(decoding: child.errors, as: UTF8.self))
        } catch {
            throw FixtureError("spawn \(arguments.first ?? ""): \(error)")
        }
    }

    /// Runs a command that must succeed; a failure throws with the command's own words.
    @discardableResult
    public static func must(_ arguments: [String]) throws -> CommandResult {
        let result = try run(arguments)
        guard result.status == 0 else {
            throw FixtureError("\(arguments.joined(separator: " ")) failed (\(result.status)): \(result.stderr)")
        }
        return result
    }
}

public struct FixtureError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
