import ArgumentParser
import Foundation
import Subprocess
import Topology

struct ZoneCollect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collect",
        abstract: "Run kvmtopo dump on each host over ssh, N at a time, one file per host.",
        discussion: """
            Runs `kvmtopo dump` on every host with OpenSSH (your ssh config, keys, agent and jump hosts apply; \
            BatchMode, so nothing waits for a password), N at a time, and writes HOST.json into the folder. A host \
            that fails is named with ssh's reason and the others go on. Exit status: 0 every host answered; 1 some \
            did not (the others' dumps are written); 64 usage; 69 no ssh here; 73 the folder cannot be written.
            """)

    @Argument(help: ArgumentHelp("The hosts, as ssh takes them: name, user@name, an alias of your ssh config."))
    var hosts: [String]

    @Option(
        name: .shortAndLong, help: ArgumentHelp("The folder the dumps go to.", valueName: "folder"),
        completion: .directory)
    var output = "."

    @Option(help: ArgumentHelp("How many hosts at a time.", valueName: "n"))
    var parallel = 10

    @Option(
        name: .customLong("ssh-option"),
        help: ArgumentHelp(
            "Passed to ssh as -o OPTION (e.g. Port=2222, IdentityFile=~/.ssh/zone); repeatable.",
            valueName: "option"))
    var sshOptions: [String] = []

    @Option(help: ArgumentHelp("kvmtopo's path on the hosts.", valueName: "path"))
    var kvmtopo = "kvmtopo"

    func validate() throws {
        guard parallel >= 1 else { throw ValidationError("--parallel is at least 1") }
        guard !hosts.isEmpty else { throw ValidationError("name at least one host") }
    }

    func run() throws {
        var failed = 0
        try reportingFailures {
            guard let ssh = SSH.executable() else {
                throw CommandFailure(.unavailable, "no ssh on the PATH (apt-get install openssh-client)")
            }
            try Self.prepare(folder: output)
            let progress = CollectProgress(total: hosts.count)
            let options = sshOptions
            let remote = SSH.quoted(kvmtopo) + " dump"
            let folder = output
            let queue = HostQueue(hosts)
            // Threads of their own, not the cores' pool: the work is waiting on ssh, N at a time on any machine.
            let workers = (0..<min(parallel, hosts.count)).map { _ in
                Background {
                    while let host = queue.next() {
                        let result = SSH(executable: ssh, options: options).dump(host: host, remoteCommand: remote)
                            .flatMap { data in Self.write(data, host: host, folder: folder) }
                        progress.finished(host, result)
                    }
                }
            }
            workers.forEach { $0.value() }
            failed = progress.failed
            progress.done(folder: folder)
        }
        if failed > 0 { throw ExitCode(1) }
    }

    static func prepare(folder: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw CommandFailure(.cannotCreateOutput, "\(folder): cannot create (\(describe(error)))")
        }
    }

    /// The dump as HOST.json, once it reads back as a dump (a login banner or a shell's error is not one).
    static func write(_ data: Data, host: String, folder: String) -> Result<String, CollectFailure> {
        do {
            _ = try SnapshotCodec.decode(data, source: host)
        } catch {
            return .failure(CollectFailure("answered with something that is not a kvmtopo dump (\(error))"))
        }
        let path = "\(folder)/\(fileName(host)).json"
        do {
            try OutputFile.write(data, to: path)
        } catch let failure as CommandFailure {
            return .failure(CollectFailure(failure.message))
        } catch {
            return .failure(CollectFailure("\(path): \(error)"))
        }
        return .success(path)
    }

    /// The host as a file name: user@ dropped, a slash (never in a host name, but in an argument) replaced.
    static func fileName(_ host: String) -> String {
        let name = host.split(separator: "@").last.map(String.init) ?? host
        return name.replacingOccurrences(of: "/", with: "_")
    }
}

/// The hosts not taken yet, shared by the workers.
final class HostQueue: @unchecked Sendable {
    private var hosts: ArraySlice<String>
    private let lock = NSLock()

    init(_ hosts: [String]) { self.hosts = hosts[...] }

    func next() -> String? { lock.withLock { hosts.popFirst() } }
}

/// Why a host gave no dump, in one line.
struct CollectFailure: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// One ssh per host: `ssh -o BatchMode=yes [-o OPTION]... -- HOST COMMAND`, its output read as it comes.
struct SSH {
    let executable: String
    let options: [String]

    /// ssh on the PATH, as a shell would find it.
    static func executable() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/ssh" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// A word for the remote shell, which ssh hands the command to: in single quotes, each of its own escaped.
    static func quoted(_ word: String) -> String {
        "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    func dump(host: String, remoteCommand: String) -> Result<Data, CollectFailure> {
        // The caller's options first: ssh keeps the first value it is given for each.
        let arguments =
            options.flatMap { ["-o", $0] } + [
                "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "--", host, remoteCommand,
            ]
        let child: Subprocess
        do {
            child = try Subprocess.run(executable, arguments)
        } catch {
            return .failure(CollectFailure("ssh did not start (\(error))"))
        }
        let (data, messages) = (child.output, child.errors)
        let lines = String(decoding: messages, as: UTF8.self).split(whereSeparator: \.isNewline).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        switch child.status {
        case 0:
            // What the host's kvmtopo said of sources it could not read (libvirt down, no privilege): its dump
            // lacks them.
            let prefix = "kvmtopo: "
            for line in lines where line.hasPrefix(prefix) { Terminal.warn("\(host): \(line.dropFirst(prefix.count))") }
            return .success(data)
        // ssh's own failure: it could not connect or log in; its last line says why.
        case 255: return .failure(CollectFailure(lines.last ?? "ssh failed (exit 255)"))
        case 127:
            return .failure(
                CollectFailure("no kvmtopo there (\(lines.last ?? "command not found")); install it or give --kvmtopo"))
        case let status:
            return .failure(CollectFailure("kvmtopo dump exited \(status)" + (lines.last.map { ": \($0)" } ?? "")))
        }
    }
}

/// A progress line on a terminal, a line per failure, and the count at the end.
final class CollectProgress: @unchecked Sendable {
    private let total: Int
    private var answered = 0
    private(set) var failed = 0
    private let lock = NSLock()
    private let onTerminal = isatty(STDERR_FILENO) == 1

    init(total: Int) { self.total = total }

    func finished(_ host: String, _ result: Result<String, CollectFailure>) {
        lock.lock()
        defer { lock.unlock() }
        switch result {
        case .success: answered += 1
        case .failure(let failure):
            failed += 1
            clearLine()
            Terminal.warn("\(host): \(failure.reason)")
        }
        if onTerminal {
            let running = total - answered - failed
            FileHandle.standardError.write(
                Data("\rcollecting: \(answered) answered, \(failed) failed, \(running) to go".utf8))
        }
    }

    func done(folder: String) {
        clearLine()
        Terminal.warn(
            "\(answered) of \(total) hosts answered; their dumps are in \(folder)"
                + (failed > 0 ? "; \(failed) failed" : ""))
    }

    private func clearLine() {
        if onTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
