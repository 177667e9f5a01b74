import ArgumentParser
import Diagnose
import Foundation
import Render
import Topology
import Zone

struct ZoneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zone",
        abstract: "Many hosts' dumps joined: the networks they share, where routers and VMs run.",
        discussion: """
            Reads dumps written by kvmtopo dump on the hosts of a zone (files, or folders of them) and joins them \
            offline: each network by its VNI, its VLAN on a kind of traffic, or its label's bridge, with per host \
            its bridge, MTU, uplink, underlay, VXLAN group, members and router. A dump that cannot be read is one \
            line, and the rest are joined. kvmtopo-zone(1).
            """,
        subcommands: [ZoneCollect.self, ZoneShow.self, ZoneDump.self, ZoneDiagnose.self])
}

/// The dumps of a zone, after an optional scope: `vm NAME` or `network BRIDGE|vlan:N|vni:N`.
struct ZoneInputs: ParsableArguments {
    @Argument(help: ArgumentHelp("[vm NAME | network BRIDGE|vlan:N|vni:N] DUMP... or folders of dumps."))
    var words: [String] = []

    var scope: [String] { ["vm", "network"].contains(words.first) && words.count > 1 ? Array(words.prefix(2)) : [] }
    var paths: [String] { Array(words.dropFirst(scope.count)) }

    func validate() throws {
        guard !paths.isEmpty else { throw ValidationError("name at least one dump, or a folder of dumps") }
    }

    /// Every dump that can be read, one stderr line for each that cannot.
    func snapshots() throws -> [HostSnapshot] {
        var files: [String] = []
        for path in paths {
            var folder: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &folder), folder.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files += names.filter { $0.hasSuffix(".json") }.sorted().map { "\(path)/\($0)" }
            } else {
                files.append(path)
            }
        }
        var snapshots: [HostSnapshot] = []
        var failures: [CommandFailure] = []
        // Read and modelled on every core: a zone's hundreds of dumps are independent.
        let read = Concurrently.map(files) { file in
            Result { try SourceOptions.read(file, savedModel: .reinfer) }
        }
        for result in read {
            switch result {
            case .success(let snapshot): snapshots.append(snapshot)
            case .failure(let error as CommandFailure): failures.append(error)
            case .failure(let error): failures.append(CommandFailure(.failure, "\(error)"))
            }
        }
        guard !snapshots.isEmpty else {
            // Nothing to join: the first failure is the error, any others a line each.
            for failure in failures.dropFirst() { Terminal.warn(failure.message) }
            throw failures.first ?? CommandFailure(.cannotOpenInput, "no dump in \(paths.joined(separator: ", "))")
        }
        for failure in failures { Terminal.warn(failure.message + "; joining the others") }
        let (kept, older) = Zone.latestPerHost(snapshots)
        for snapshot in older {
            let name = snapshot.host.hostname
            let joined = kept.first { $0.host.hostname == name }?.host.collectedAt ?? ""
            Terminal.warn("\(name): joining its dump of \(joined), not the older one of \(snapshot.host.collectedAt)")
        }
        return kept
    }

    /// The networks and domains a scope keeps; nil for the whole zone.
    /// - Parameter unknown: the exit status for a name in no dump (diagnose keeps 1 and 2 for what it finds).
    func scoped(
        _ zone: Zone, unknown: CommandFailure.Status = .notFound
    ) throws
        -> (networks: [ZoneNetwork], domains: [ZoneDomain])?
    {
        guard scope.count == 2 else { return nil }
        let name = scope[1]
        if scope[0] == "vm" {
            guard let domain = zone.domains.first(where: { $0.name == name }) else {
                throw CommandFailure(
                    unknown, LookupError(kind: "VM", name: name, candidates: zone.domains.map(\.name)).description)
            }
            let networks = zone.networks.filter { network in
                network.hosts.contains { $0.members.contains(domain.name) }
            }
            return (networks, [domain])
        }
        let networks = zone.networks.filter { network in
            network.key == name || network.key.hasSuffix(" " + name) || network.hosts.contains { $0.bridge == name }
        }
        guard !networks.isEmpty else {
            let candidates = zone.networks.flatMap { [$0.key] + $0.hosts.map(\.bridge) }
            throw CommandFailure(
                unknown, LookupError(kind: "network", name: name, candidates: candidates).description)
        }
        let members = Set(networks.flatMap { $0.hosts.flatMap(\.members) })
        return (networks, zone.domains.filter { members.contains($0.name) })
    }
}

struct ZoneShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "The zone as text: network, then hosts, then members; the router's host marked.")

    @OptionGroup var inputs: ZoneInputs
    @OptionGroup var display: DisplayOptions

    func run() throws {
        try reportingFailures {
            let zone = Zone(try inputs.snapshots())
            let scoped = try inputs.scoped(zone)
            let focus = inputs.scope.first == "vm" ? scoped?.domains.first : nil
            let text = ZoneText.render(
                zone, networks: scoped?.networks, domains: scoped?.domains, focus: focus, style: display.style)
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}

struct ZoneDump: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump", abstract: "The zone as JSON, with its own schemaVersion, or as DOT.")

    @OptionGroup var inputs: ZoneInputs

    @Option(
        name: .shortAndLong, help: ArgumentHelp("Write to this file instead of standard output.", valueName: "file"),
        completion: .file(extensions: ["json", "dot"]))
    var output: String?

    @Option(help: "json (the zone's versioned contract) or dot (Graphviz: a cluster per host).")
    var format = Dump.Format.json

    func run() throws {
        try reportingFailures {
            let zone = Zone(try inputs.snapshots())
            let data =
                switch format {
                case .json: ZoneText.json(zone)
                case .dot: Data(ZoneDotGraph.render(zone).utf8)
                }
            try OutputFile.write(data, toFileOrStandardOutput: output)
        }
    }
}

struct ZoneDiagnose: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnose",
        abstract: "What only shows across hosts: findings by severity, each with why and what to do.",
        discussion: """
            Runs the zone checks of kvmtopo-zone(1) over the dumps, or only those about one VM or one network. \
            Exit status: 0 nothing above info, 1 warnings, 2 errors; 64 usage (a VM or network in no dump \
            among them); 65, 66 when no dump can be read.
            """)

    @OptionGroup var inputs: ZoneInputs

    @Flag(help: "Write the findings as JSON.")
    var json = false

    @OptionGroup var metrics: PrometheusOption
    @OptionGroup var display: DisplayOptions

    func run() throws {
        var worst: Severity?
        try reportingFailures {
            let zone = Zone(try inputs.snapshots())
            var findings = Diagnose.run(zone)
            if let scoped = try inputs.scoped(zone, unknown: .usage) {
                let names = scoped.networks.flatMap { [$0.key] + $0.hosts.map(\.bridge) } + scoped.domains.map(\.name)
                findings = Diagnose.scoped(findings, to: Set(names))
            }
            worst = try Findings(findings, scope: .zone(hosts: zone.hosts.map(\.name))).write(
                json: json, metrics: metrics, style: display.style)
        }
        try Findings.exit(worst)
    }
}
