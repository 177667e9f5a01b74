import ArgumentParser
import Foundation
import Render
import Topology

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the host's topology as versioned JSON.",
        discussion: """
            The JSON contract (schemaVersion 1) is described in kvmtopo-dump(1). Keys are sorted and the layout \
            is fixed, so `kvmtopo dump --from FILE` writes FILE again byte for byte.
            """)

    @OptionGroup var source: SourceOptions

    @Option(
        name: .shortAndLong, help: ArgumentHelp("Write to this file instead of standard output.", valueName: "file"),
        completion: .file(extensions: ["json", "dot"]))
    var output: String?

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case json, dot
    }

    @Option(help: "json (the versioned contract) or dot (Graphviz: clusters per network and VPC).")
    var format = Format.json

    func run() throws {
        try reportingFailures {
            let snapshot = try source.snapshot(savedModel: .keep)
            let json =
                switch format {
                case .json: SnapshotCodec.encode(snapshot)
                case .dot: Data(DotGraph.render(snapshot).utf8)
                }
            try OutputFile.write(json, toFileOrStandardOutput: output)
            // Written: the process ends here rather than free the snapshot's hundreds of thousands of values one by
            // one (2% of a dump of 1,000 VMs' security groups).
            Foundation.exit(0)
        }
    }
}
