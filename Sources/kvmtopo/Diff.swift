import ArgumentParser
import Changes
import Foundation
import Render
import Topology

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "What changed on a host between two of its dumps, in the topology's terms.",
        discussion: """
            Compares two files written by kvmtopo dump (the older first): VMs that appeared, stopped or lost a \
            NIC, taps that moved bridges or lost theirs, MTUs, link states, VLAN and VXLAN settings, addresses, \
            routes, MACs the bridges learned elsewhere, networks, warnings, and the firewall's tables, chains, \
            policies, rules and ipsets. Timers, counters and ifindexes are left out (--counters shows the \
            dropping rules' counters). For "it worked yesterday": dump from cron, diff when it breaks. Exit \
            status: 0 nothing changed; 1 something did; 64 usage; 65 a file is not a dump; 66 a file cannot be \
            read. kvmtopo-diff(1).
            """)

    @Argument(help: ArgumentHelp("The older dump.", valueName: "old.json"))
    var old: String

    @Argument(help: ArgumentHelp("The newer dump.", valueName: "new.json"))
    var new: String

    @Flag(help: "Write the changes as JSON.")
    var json = false

    @Flag(help: "Also the firewall rules and DROP policies whose packet counters rose between the dumps.")
    var counters = false

    @OptionGroup var display: DisplayOptions

    func run() throws {
        try reportingFailures {
            // Both inferred again: the CloudStack model of two kvmtopo versions is compared with one understanding.
            let before = try SourceOptions.read(old, savedModel: .reinfer)
            let after = try SourceOptions.read(new, savedModel: .reinfer)
            let changes = HostChanges.between(before, after, counters: counters)
            FileHandle.standardOutput.write(
                json ? ChangesReport.json(changes) : Data(ChangesReport.text(changes, style: display.style).utf8))
            if !changes.changes.isEmpty { throw ExitCode(1) }
        }
    }
}
