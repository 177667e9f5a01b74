import ArgumentParser
import Capture
import CloudStack
import Collect
import Foundation
import Topology

/// Where a command's topology comes from: the live host, or a dump saved earlier (maybe on another host).
struct SourceOptions: ParsableArguments {
    @Option(
        name: .customLong("from"), help: ArgumentHelp("Read a saved dump instead of the live host.", valueName: "file"),
        completion: .file(extensions: ["json"]))
    var dumpFile: String?

    @Option(
        name: .customLong("libvirt"), help: ArgumentHelp("libvirt connection URI (opened read-only).", valueName: "uri")
    )
    var libvirtURI = "qemu:///system"

    @Option(
        help: ArgumentHelp(
            "The CloudStack agent's properties (bridge roles), if not in the usual place.", valueName: "file"),
        completion: .file(extensions: ["properties"]))
    var agentProperties = "/etc/cloudstack/agent/agent.properties"

    @Option(
        help: ArgumentHelp(
            "Also listen this long for ARP, DHCP and neighbour discovery on the bridge ports, to learn guests' "
                + "addresses (needs root).",
            valueName: "seconds"))
    var listen: Double?

    func validate() throws {
        if let listen {
            guard listen > 0 else { throw ValidationError("--listen takes a positive number of seconds") }
            guard dumpFile == nil else {
                throw ValidationError("--listen hears the live host; it cannot be used with --from")
            }
        }
    }

    /// What to do with the CloudStack model of a saved dump. A live snapshot's model is always today's.
    enum SavedModel {
        /// Keep it as saved (`dump --from` writes the file again byte for byte); infer it only when absent.
        case keep
        /// Infer it again from the collected facts, so an older dump is drawn with today's understanding.
        case reinfer
    }

    /// A dump written by `kvmtopo dump`, or the failure to tell the user (66 unreadable, 65 not a dump).
    static func read(_ path: String, savedModel: SavedModel) throws -> HostSnapshot {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw CommandFailure(.cannotOpenInput, "\(path): cannot read (\(describe(error)))")
        }
        let snapshot: HostSnapshot
        do {
            snapshot = try SnapshotCodec.decode(data, source: path)
        } catch {
            throw CommandFailure(.badInput, error.description)
        }
        // A dump written before the CloudStack model existed (or made by hand) gets it now.
        return savedModel == .keep && snapshot.hasCloudStackModel ? snapshot : CloudStackModel.infer(snapshot)
    }

    /// The snapshot, and for a live host one stderr line per source that could not be read.
    func snapshot(savedModel: SavedModel) throws -> HostSnapshot {
        if let dumpFile { return try Self.read(dumpFile, savedModel: savedModel) }
        var snapshot = HostCollector(libvirtURI: libvirtURI, agentProperties: agentProperties).collect()
        if let listen { snapshot = NeighbourListening.listen(snapshot, seconds: listen) }
        let sources = [
            ("netlink", snapshot.host.sources.netlink), ("libvirt", snapshot.host.sources.libvirt),
            ("packets", snapshot.host.sources.packets),
        ]
        for (name, source) in sources.compactMap({ name, source in source.map { (name, $0) } })
        where source.status == .unavailable {
            Terminal.warn(
                "\(name) unavailable: \(source.error ?? "unknown reason"); showing what the other sources give")
        }
        return snapshot
    }
}

/// A failure the user can act on: one line on stderr and a documented exit status.
struct CommandFailure: Error {
    enum Status: Int32 {
        case failure = 1
        /// A VM, network or VPC asked for by name is not on the host.
        case notFound = 2
        /// For diagnose, whose 1 and 2 say what it found: a name it cannot find is a usage error.
        case usage = 64
        case badInput = 65
        case cannotOpenInput = 66
        /// A library the command needs (libpcap) is not installed.
        case unavailable = 69
        case cannotCreateOutput = 73
    }

    var status: Status
    var message: String

    init(_ status: Status, _ message: String) {
        self.status = status
        self.message = message
    }
}

enum Terminal {
    /// The terminal's width in columns, when standard output is a terminal that says.
    static func columns() -> Int? {
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }

    static func warn(_ message: String) {
        FileHandle.standardError.write(Data("kvmtopo: \(message.escapingControlCharacters)\n".utf8))
    }
}

extension ParsableCommand {
    /// Runs a command body, turning a CommandFailure into its line on stderr and its exit status.
    func reportingFailures(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let failure as CommandFailure {
            Terminal.warn(failure.message)
            throw ExitCode(failure.status.rawValue)
        }
    }
}
