import ArgumentParser
import Capture
import Collect
import Foundation
import KernelDrops
import Render
import Topology

struct DropsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drops",
        abstract: "What the host's interfaces dropped over a while, per VM NIC, bridge and uplink.",
        discussion: """
            Reads every link's counters twice, --duration apart (Ctrl-C ends early), and shows the drops and \
            errors in between on the objects they happened at: a VM's or router's tap (a rising tx dropped is a \
            guest that does not drain its queue), a bridge, an uplink. Scoped by vm NAME or network \
            BRIDGE|vlan:N|vni:N. Only reads. Exit status: 0, also when something dropped; 1 when the counters \
            cannot be read; 64 usage. kvmtopo-drops(1).
            """)

    @Argument(help: Scope.help)
    var scope: [String] = []

    @Option(help: ArgumentHelp("How long to count, in seconds.", valueName: "seconds"))
    var duration: Double = 10

    @Flag(help: "Write what dropped as JSON.")
    var json = false

    @OptionGroup var metrics: PrometheusOption
    @OptionGroup var dropReasons: DropReasonOptions

    @OptionGroup var source: SourceOptions
    @OptionGroup var display: DisplayOptions

    func validate() throws {
        try Scope.validate(scope)
        guard duration > 0 else { throw ValidationError("--duration takes a positive number of seconds") }
        guard source.dumpFile == nil else {
            throw ValidationError("drops reads the live host's counters twice; a saved dump (--from) has them once")
        }
    }

    func run() throws {
        try reportingFailures {
            let snapshot = try source.snapshot(savedModel: .keep)
            let names = try Scope(words: scope).names(in: snapshot)
            let (watch, unavailable) = dropReasons.watch(etherTypes: nil, retention: 0, counting: true)
            if let unavailable { Terminal.warn("no kernel drop reasons: \(unavailable); interface counters only") }
            let before = try counters()
            let started = ContinuousClock.now
            StopSignals.install()
            while ContinuousClock.now - started < .seconds(duration), StopSignals.requests() == 0 {
                Thread.sleep(forTimeInterval: min(0.1, duration))
            }
            let seconds = (ContinuousClock.now - started) / .seconds(1)
            let drops = InterfaceDrops.between(before, try counters(), in: snapshot, names: names)
            // The firewall's DROP and REJECT counters, read at the start with the topology and now.
            var firewall: [FirewallDrops]?
            if let before = snapshot.firewall, let after = FirewallReading.now() {
                firewall = FirewallDrops.between(before, after, in: snapshot).filter { scoped($0, names: names) }
            }
            // The kinds of drop placed where the topology narrows them; a scope leaves out those placed outside it.
            let kinds = watch?.counts().map { $0.placed(in: snapshot, interfaces: drops, firewall: firewall ?? []) }
                .filter { kind in kind.places.isEmpty || kind.places.contains { scoped($0, names: names) } }
            let kernel =
                dropReasons.noDropReasons
                ? nil
                : watch.map { KernelDropSummary(notes: $0.notes, drops: kinds ?? [], lostRecords: $0.lostRecords) }
                    ?? KernelDropSummary(unavailable: unavailable)
            watch?.stop()
            if let prometheus = metrics.prometheus {
                let text = DropsReport.prometheus(
                    drops, firewall: firewall ?? [], kernel: kernel, seconds: seconds, now: Date())
                try OutputFile.write(Data(text.utf8), to: prometheus)
            }
            let output =
                json
                ? DropsReport.json(
                    drops, firewall: firewall, kernel: kernel, host: snapshot.host.hostname, seconds: seconds)
                : Data(
                    DropsReport.text(
                        drops, firewall: firewall, kernel: kernel, host: snapshot.host.hostname, seconds: seconds,
                        style: display.style
                    ).utf8)
            FileHandle.standardOutput.write(output)
        }
    }

    /// A scope keeps the firewall's drops of its VMs' security groups (a network's: its members').
    private func scoped(_ drop: FirewallDrops, names: Set<String>?) -> Bool {
        guard let names else { return true }
        return drop.domain.map(names.contains) ?? false
    }

    private func scoped(_ place: KernelDropPlace, names: Set<String>?) -> Bool {
        guard let names else { return true }
        return [place.interface, place.domain].contains { $0.map(names.contains) ?? false }
    }

    private func counters() throws -> [String: InterfaceCounters] {
        do {
            return try LinkCounters.read()
        } catch {
            throw CommandFailure(.failure, "cannot read the links' counters: \(error)")
        }
    }
}
