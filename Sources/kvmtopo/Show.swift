import ArgumentParser
import CloudStack
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

/// Runs one view: a snapshot from the source options, drawn in the display style; a name that is not there is
/// a one-line error with the closest names.
/// The CloudStack model is inferred again from the collected facts, so a dump saved by an older kvmtopo is
/// drawn with today's understanding.
private func draw(_ source: SourceOptions, _ display: DisplayOptions, _ view: (TextDiagram) throws -> String) throws {
    let diagram = TextDiagram(CloudStackModel.infer(try source.snapshot()), style: display.style)
    do {
        FileHandle.standardOutput.write(Data(try view(diagram).utf8))
    } catch let error as LookupError {
        throw CommandFailure(.notFound, error.description)
    }
}

extension Show {
    struct HostView: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "host", abstract: "The whole host (the default).")
        @OptionGroup var source: SourceOptions
        @OptionGroup var display: DisplayOptions

        func run() throws { try reportingFailures { try draw(source, display) { $0.host() } } }
    }

    struct VMView: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "vm", abstract: "One VM: each NIC's path to the wire and who shares its bridge.")
        @Argument(help: "The domain's name, e.g. i-2-10-VM.") var name: String
        @OptionGroup var source: SourceOptions
        @OptionGroup var display: DisplayOptions

        func run() throws { try reportingFailures { try draw(source, display) { try $0.vm(name) } } }
    }

    struct NetworkView: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "network", abstract: "One network, by bridge, vlan:N or vni:N.")
        @Argument(help: "A bridge name, vlan:N or vni:N.") var selector: String
        @OptionGroup var source: SourceOptions
        @OptionGroup var display: DisplayOptions

        func run() throws { try reportingFailures { try draw(source, display) { try $0.network(selector) } } }
    }

    struct VPCView: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "vpc", abstract: "One VPC, by its router.")
        @Argument(help: "The VPC router's domain name, e.g. r-7-VM.") var router: String
        @OptionGroup var source: SourceOptions
        @OptionGroup var display: DisplayOptions

        func run() throws { try reportingFailures { try draw(source, display) { try $0.vpc(router) } } }
    }
}
