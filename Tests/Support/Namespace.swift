import Foundation

/// A throwaway network namespace for tests: whatever a test builds in it never touches the host's own
/// interfaces, and deleting it removes every link inside.
public final class TestNamespace: @unchecked Sendable {
    public let name: String
    private let owned: Bool

    public init(_ label: String) throws {
        Self.sweepAbandoned
        name = "kvmtopo-\(label)-\(getpid())"
        owned = true
        _ = try? Shell.run(["ip", "netns", "del", name])
        try Shell.must(["ip", "netns", "add", name])
        try ip("link set lo up")
    }

    init(adopting name: String) {
        self.name = name
        owned = false
    }

    deinit { if owned { _ = try? Shell.run(["ip", "netns", "del", name]) } }

    /// Namespaces of test runs that crashed (their process is gone, so their cleanup never ran).
    private static let sweepAbandoned: Void = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        for name in names {
            guard let pid = name.wholeMatch(of: /kvmtopo-.+-(\d+)/).flatMap({ Int32($0.1) }), pid != getpid(),
                kill(pid, 0) != 0
            else { continue }
            _ = try? Shell.run(["ip", "netns", "del", name])
        }
    }()

    /// `ip -n NAME <words>`; the words are split on spaces (fixtures use no names with spaces).
    public func ip(_ words: String) throws {
        try Shell.must(["ip", "-n", name] + words.split(separator: " ").map(String.init))
    }

    /// Runs a command inside the namespace.
    public func exec(_ arguments: [String]) throws -> CommandResult {
        try Shell.run(["ip", "netns", "exec", name] + arguments)
    }
}

public enum Host {
    public static var isRoot: Bool { getuid() == 0 }

    /// Those of `commands` this machine does not have, for a test's reason to be skipped.
    public static func missing(_ commands: String...) -> [String] {
        commands.filter { (try? Shell.run(["sh", "-c", "command -v \($0)"]).status) != 0 }
    }
}

/// The kvmtopo executable built beside the test bundle.
public enum KVMTopoBinary {
    public static var path: String {
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for directory in [bundleDirectory, bundleDirectory.deletingLastPathComponent()] {
            let candidate = directory.appendingPathComponent("kvmtopo").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return bundleDirectory.appendingPathComponent("kvmtopo").path
    }

    public static func run(
        _ arguments: [String], in namespace: TestNamespace? = nil,
        environment: [String: String]? = nil
    ) throws -> CommandResult {
        let command = [path] + arguments
        if let namespace { return try namespace.exec(command) }
        return try Shell.run(command, environment: environment)
    }
}

extension TestNamespace {
    /// A namespace that outlives the test (the one libvirtd runs in): used, never deleted.
    public convenience init(existing name: String) {
        self.init(adopting: name)
    }
}

/// The package's root folder, for the scripts under scripts/ and examples/.
public enum PackageRoot {
    public static let path: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
}
