import CloudStack
import Diagnose
import Foundation
import Render
import TestSupport
import Testing
import Topology

/// Every view in both character sets, drawn from the realistic dumps in examples/dumps and compared with the
/// committed text in Golden/. KVMTOPO_RECORD_GOLDEN=1 writes the files anew (then read the diff before committing).
private func dump(_ name: String) throws -> HostSnapshot { try recordedDump(name) }

private func check(_ text: String, golden name: String) throws {
    try expectGolden(text, file: "Tests/RenderTests/Golden/\(name).txt")
}

private let views: [(dump: String, view: String, draw: @Sendable (TextDiagram) throws -> String)] = [
    ("lab-vxlan", "host", { $0.host() }),
    ("lab-faults", "host", { $0.host() }),
    ("vlan-host", "host", { $0.host() }),
    ("vr-elsewhere", "host", { $0.host() }),
    ("vlan-host", "vm-i-2-12-VM", { try $0.vm("i-2-12-VM") }),
    ("lab-faults", "vm-r-4-VM", { try $0.vm("r-4-VM") }),
    ("vlan-host", "vm-v-2-VM", { try $0.vm("v-2-VM") }),
    ("lab-vxlan", "network-vni-1001", { try $0.network("vni:1001") }),
    ("vlan-host", "network-vlan-201", { try $0.network("vlan:201") }),
    ("lab-vxlan", "vpc-r-7-VM", { try $0.vpc("r-7-VM") }),
    ("lab-security-groups", "vm-i-5-30-VM", { try $0.vm("i-5-30-VM") }),
    ("lab-security-groups", "network-vni-3001", { try $0.network("vni:3001") }),
]

@Suite("text diagrams against golden files")
struct GoldenTests {
    @Test("every view, Unicode and ASCII", arguments: views.indices, [true, false])
    func view(index: Int, unicode: Bool) throws {
        let (name, view, draw) = views[index]
        let diagram = TextDiagram(try dump(name), style: DiagramStyle(unicode: unicode, color: false, width: 200))
        try check(try draw(diagram), golden: "\(name).\(view).\(unicode ? "unicode" : "ascii")")
    }

    @Test("ASCII output is plain ASCII")
    func asciiOnly() throws {
        let text = TextDiagram(try dump("lab-faults"), style: DiagramStyle(unicode: false)).host()
        #expect(text.unicodeScalars.allSatisfy { scalar in scalar.isASCII })
    }

    @Test("no line is wider than the terminal; a cut line ends in …", arguments: [40, 72, 100])
    func width(columns: Int) throws {
        let text = TextDiagram(try dump("lab-faults"), style: DiagramStyle(unicode: true, width: columns)).host()
        let lines = text.split(separator: "\n")
        #expect(lines.allSatisfy { line in line.count <= columns })
        #expect(lines.contains { $0.count == columns && $0.hasSuffix("…") })
    }

    @Test("colour only when asked, and the same text without it")
    func color() throws {
        let snapshot = try dump("lab-faults")
        let plain = TextDiagram(snapshot, style: DiagramStyle(color: false)).host()
        let colored = TextDiagram(snapshot, style: DiagramStyle(color: true)).host()
        #expect(!plain.contains("\u{1b}["))
        #expect(colored.contains("\u{1b}[31m✗ r-4-VM eth0's tap vnet0 is down\u{1b}[0m"))
        #expect(colored.replacing(/\x{1b}\[[0-9;]*m/, with: "") == plain)
    }

    @Test("unknown names are errors with the closest names")
    func unknown() throws {
        let diagram = TextDiagram(try dump("lab-vxlan"), style: DiagramStyle())
        #expect { try diagram.vm("i-2-1O-VM") } throws: { "\($0)".contains("did you mean i-2-10-VM") }
        #expect { try diagram.network("vni:9999") } throws: { "\($0)".hasPrefix("no network named 'vni:9999'") }
        #expect { try diagram.vpc("r-4-VM") } throws: { "\($0)".contains("did you mean r-7-VM") }
    }

    @Test("a name with terminal escapes is drawn escaped")
    func escapes() throws {
        var snapshot = try dump("lab-vxlan")
        snapshot.domains[0].name = "evil\u{1b}[2J"
        let text = try TextDiagram(snapshot, style: DiagramStyle()).vm("evil\u{1b}[2J")
        #expect(!text.contains("\u{1b}"))
        #expect(text.contains("evil\\u{1b}[2J"))
    }

    @Test(
        "DOT output is accepted by Graphviz",
        .enabled(if: Host.missing("dot").isEmpty, "graphviz is not installed"))
    func dot() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kvmtopo-\(UUID().uuidString).dot")
            .path
        try DotGraph.render(try dump("vlan-host")).write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try Shell.run(["dot", "-Tsvg", path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.output.contains("<svg"))
        #expect(result.output.contains("<title>cluster_vpc_r&#45;7&#45;VM</title>"))
    }
}

@Suite("a dump from a newer kvmtopo")
struct NewerDumpTests {
    @Test("values this build does not know are shown as they are, and diagnose says it does not know the code")
    func unknownValues() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: "\(PackageRoot.path)/\(UnknownValues.path)"))
        let snapshot = try SnapshotCodec.decode(bytes, source: "newer")
        let text = TextDiagram(snapshot, style: DiagramStyle(unicode: false)).host()
        #expect(text.contains("netris-vpc  cloudbr0"), "\(text)")
        #expect(try TextDiagram(snapshot, style: DiagramStyle()).vm("s-1-VM").contains("dns-appliance VM"))
        let finding = try #require(
            Diagnose.run(snapshot).first { $0.code == WarningCode(rawValue: "tap-rate-limited") })
        #expect(finding.severity == .warning && finding.why.contains("does not know the code"))
        #expect(text.contains("! tap vnet-stray on brvx-1001 belongs to no libvirt domain"))
    }
}
