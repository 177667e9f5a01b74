import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs fixture commands (ip, virsh, the kvmtopo binary) for tests. Fixture set-up may use the standard
/// tools; the product itself never does.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: String
    public var output: String { String(decoding: stdout, as: UTF8.self) }
}

public enum Shell {
    /// Spawns and waits with posix_spawn and waitpid rather than Foundation's Process: with many tests
    /// spawning at once, Process lost a child's exit and waitUntilExit never returned (a zombie nobody
    /// reaped). The pipes are close-on-exec so a child spawned by another test cannot inherit them.
    @discardableResult
    public static func run(_ arguments: [String], environment: [String: String]? = nil) throws -> CommandResult {
        var output: [Int32] = [-1, -1]
        var errors: [Int32] = [-1, -1]
        guard pipe(&output) == 0, pipe(&errors) == 0 else {
            throw FixtureError("pipe: \(String(cString: strerror(errno)))")
        }
        for fd in output + errors { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errors[1], 2)

        // A child starts as from a shell: no signal blocked or ignored (test threads block some; they would be
        // inherited).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        var all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let environmentLines = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let spawned = withCStrings(["/usr/bin/env"] + arguments) { argv in
            withCStrings(environmentLines) { envp in
                posix_spawn(&pid, "/usr/bin/env", &actions, &attributes, argv, envp)
            }
        }
        close(output[1])
        close(errors[1])
        defer {
            close(output[0])
            close(errors[0])
        }
        guard spawned == 0 else {
            throw FixtureError("spawn \(arguments.first ?? ""): \(String(cString: strerror(spawned)))")
        }

        // Drain stderr on another thread while stdout is read here, so neither pipe can fill and stall the child.
        let errorData = LockedBox(Data())
        let drained = DispatchSemaphore(value: 0)
        let errorFD = errors[0]
        DispatchQueue.global().async {
            let data = readAll(errorFD)
            errorData.withLock { $0 = data }
            drained.signal()
        }
        let outputData = readAll(output[0])
        drained.wait()

        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED/WEXITSTATUS are macros Swift cannot import; a signal shows as 128 + its number, as in a shell.
        let exitStatus = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return CommandResult(
            status: exitStatus, stdout: outputData,
            stderr: String(decoding: errorData.withLock { $0 }, as: UTF8.self))
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

    private static func readAll(_ fd: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                data.append(contentsOf: buffer[0..<count])
            } else if count == 0 || errno != EINTR {
                return data
            }
        }
    }

    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        let pointers = strings.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        return body(pointers)
    }
}

public struct FixtureError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

final class LockedBox<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
