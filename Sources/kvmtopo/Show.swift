import ArgumentParser
import Foundation
import Render
import Topology

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw the host's networks, routers and VMs.",
        discussion: """
            Without a scope, the whole host: control, management, public and storage networks, then each isolated \
            network and each VPC with its tiers. Colour is used only on a terminal, never with NO_COLOR; lines are \
            cut to the terminal width (COLUMNS, else the terminal's own).
            """,
        subcommands: [HostView.self, VMView.self, NetworkView.self, VPCView.self],
        defaultSubcommand: HostView.self)
}

struct DisplayOptions: ParsableArguments {
    @Flag(help: "Draw with ASCII characters instead of Unicode box drawing.")
    var ascii = false

    var style: DiagramStyle {
        let environment = ProcessInfo.processInfo.environment
        let onTerminal = isatty(STDOUT_FILENO) == 1
        let color = onTerminal && environment["NO_COLOR"].map(\.isEmpty) != false && environment["TERM"] != "dumb"
        let width = environment["COLUMNS"].flatMap(Int.init) ?? (onTerminal ? Terminal.columns() : nil) ?? Int.max
        return DiagramStyle(unicode: !ascii, color: color, width: max(width, 20))
    }
}

/// A view of `show`: where the snapshot comes from, how it is drawn, and what is drawn. A saved dump's model is
/// inferred again, so a dump saved by an older kvmtopo is drawn with today's understanding; a name that is not
/// there is a one-line error with the closest names.
protocol DiagramView: ParsableCommand {
    var source: SourceOptions { get }
    var display: DisplayOptions { get }
    func draw(_ diagram: TextDiagram) throws(LookupError) -> String
}

extension DiagramView {
    func run() throws {
        try reportingFailures {
            let diagram = TextDiagram(try source.snapshot(savedModel: .reinfer), style: display.style)
            let text: String
            do {
                text = try draw(diagram)
            } catch {
                throw CommandFailure(.notFound, "\(error)")
            }
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}

extension Show {
    struct HostView: DiagramView {
        static let configuration = CommandConfiguration(commandName: "host", abstract: "The whole host (the default).")
        @OptionGroup var source: SourceOptions
        @OptionGroup var display: DisplayOptions

        func draw(_ diagram: TextDiagram) -> String { diagram.host() }
    }

    struct VMView: DiagramView {
        static let configuration = CommandConfiguration(
            commandName: "vm", abstract: "One VM: each NIC's path to the wire and who shares its bridge.")
        @Argument(help: "The domain's name, e.g. i-2-10-VM.") var name: String
        @OptionGroup var source: SourceOptions
        @OptionGroup var display: DisplayOptions

        func draw(_ diagram: TextDiagram) throws(LookupError) -> String { try diagram.vm(name) }
    }

    struct NetworkView: DiagramView {
        static let configuration = CommandConfiguration(
            commandName: "network", abstract: "One network, by bridge, vlan:N or vni:N.")
        @Argument(help: "A bridge name, vlan:N or vni:N.") var selector: String
        @OptionGroup var source: SourceOptions
        @OptionGroup var display: DisplayOptions

        func draw(_ diagram: TextDiagram) throws(LookupError) -> String { try diagram.network(selector) }
    }

    struct VPCView: DiagramView {
        static let configuration = CommandConfiguration(commandName: "vpc", abstract: "One VPC, by its router.")
        @Argument(help: "The VPC router's domain name, e.g. r-7-VM.") var router: String
        @OptionGroup var source: SourceOptions
        @OptionGroup var display: DisplayOptions

        func draw(_ diagram: TextDiagram) throws(LookupError) -> String { try diagram.vpc(router) }
    }
}
