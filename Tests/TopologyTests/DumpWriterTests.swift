import Foundation
import TestSupport
import Testing
import Topology

/// The writer and the reader of the dump, against each other: every dump in the repository reads and writes
/// back to the same bytes, so neither can drift from the contract without a test failing.
@Suite("the dump's writer against its reader")
struct DumpWriterTests {
    static let dumps = [
        "examples/dumps/lab-faults", "examples/dumps/lab-vxlan", "examples/dumps/vlan-host",
        "examples/dumps/vr-elsewhere", "examples/dumps/lab-security-groups", "Tests/TraceTests/Fixtures/lab",
        "Tests/TraceTests/Fixtures/router-tap-down",
    ]

    @Test("every dump in the repository is written back byte for byte", arguments: dumps)
    func byteForByte(path: String) throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: "\(PackageRoot.path)/\(path).json"))
        let snapshot = try SnapshotCodec.decode(bytes, source: path)
        #expect(SnapshotCodec.encode(snapshot) == bytes)
    }

    @Test("long arrays written on several threads are the same bytes as on one, and read back")
    func threads() throws {
        var snapshot = try SnapshotCodec.decode(
            try Data(contentsOf: URL(fileURLWithPath: "\(PackageRoot.path)/examples/dumps/lab-security-groups.json")),
            source: "lab-security-groups")
        // Past the writer's split (64 elements a part): links, FDB entries, domains and firewall chains by the
        // thousand, each a little different so that a part written twice or out of order shows.
        snapshot.links = (0..<1500).map {
            var link = snapshot.links[$0 % snapshot.links.count]
            link.ifindex = $0
            return link
        }
        snapshot.fdb = (0..<3000).map {
            var entry = snapshot.fdb[$0 % snapshot.fdb.count]
            entry.vlan = $0
            return entry
        }
        snapshot.domains = (0..<700).map {
            var domain = snapshot.domains[$0 % snapshot.domains.count]
            domain.name += "-\($0)"
            return domain
        }
        var table = try #require(snapshot.firewall?.tables.first)
        table.chains = (0..<2000).map {
            var chain = table.chains[$0 % table.chains.count]
            chain.name += "-\($0)"
            return chain
        }
        snapshot.firewall?.tables.append(table)
        let serial = SnapshotCodec.encode(snapshot, threads: 1)
        for threads in [2, 3, 8] { #expect(SnapshotCodec.encode(snapshot, threads: threads) == serial) }
        #expect(try SnapshotCodec.decode(serial, source: "threads") == snapshot)
    }

    @Test("a rule's matches are written in their keys' order, its negated fields listed in order, and read back")
    func ruleMatches() throws {
        var snapshot = try SnapshotCodec.decode(
            try Data(contentsOf: URL(fileURLWithPath: "\(PackageRoot.path)/examples/dumps/lab-faults.json")),
            source: "lab-faults")
        var matches = RuleMatches()
        // Set out of order: the dump's order is the keys', whatever the reader met first.
        matches.sourcePorts = Matched("22:30")
        matches.state = Matched([.new], inverted: true)
        matches.arpOperation = Matched("Request")
        matches.physdevIsBridged = Matched(true, inverted: true)
        matches.inInterface = Matched("vnet+", inverted: true)
        matches.destination = Matched("10.0.0.0/8", inverted: true)
        matches.protocol = Matched("tcp")
        matches.physdevOut = Matched("vnet3")
        matches.inInterface = nil
        matches.sourceMAC = Matched("02:00:00:00:00:0a", inverted: true)
        let rule = FirewallRule(handle: 1, text: "-A x", matches: matches, verdict: .accept)
        snapshot.firewall = Firewall(
            backends: [.nft],
            tables: [
                FirewallTable(
                    family: .ip, name: "filter", backend: .nft, chains: [FirewallChain(name: "x", rules: [rule])])
            ])
        let written = SnapshotCodec.encode(snapshot)
        let text = String(decoding: written, as: UTF8.self)
        let start = try #require(text.range(of: "\"matches\" : {"))
        let end = try #require(text.range(of: "}", range: start.upperBound..<text.endIndex))
        let lines = text[start.upperBound..<end.lowerBound].split(separator: "\n").map { $0.drop { $0 == " " } }
        let keys = lines.filter { $0.contains("\" : ") }.map { $0.dropFirst().prefix { $0 != "\"" } }
        #expect(
            keys == [
                "arpOperation", "destination", "inverted", "physdevIsBridged", "physdevOut", "protocol", "sourceMAC",
                "sourcePorts", "state",
            ])
        let negated = lines.drop { !$0.hasPrefix("\"inverted\"") }.dropFirst().prefix { !$0.hasPrefix("]") }
        let names = negated.map { $0.filter { $0 != "\"" && $0 != "," } }
        #expect(names == ["destination", "physdevIsBridged", "sourceMAC", "state"])
        let decoded = try SnapshotCodec.decode(written, source: "written")
        #expect(decoded.firewall?.tables.first?.chains.first?.rules.first?.matches == matches)
    }

    @Test("what is written reads back as the same snapshot, control characters and quotes included")
    func readsBack() throws {
        var snapshot = try SnapshotCodec.decode(
            try Data(contentsOf: URL(fileURLWithPath: "\(PackageRoot.path)/examples/dumps/lab-faults.json")),
            source: "lab-faults")
        snapshot.host.hostname = "a\"b\\c/d\u{0}\u{1}\u{8}\u{9}\u{a}\u{c}\u{d}\u{1f}\u{7f}é✗"
        snapshot.domains[0].xmlError = ""
        let written = SnapshotCodec.encode(snapshot)
        #expect(try SnapshotCodec.decode(written, source: "written") == snapshot)
        #expect(try JSONSerialization.jsonObject(with: written) is [String: Any])
    }

    @Test("a dump from a newer kvmtopo (values this build has never heard of) loads, keeps them, and writes them back")
    func unknownValues() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: "\(PackageRoot.path)/\(UnknownValues.path)"))
        let snapshot = try SnapshotCodec.decode(bytes, source: "newer")
        #expect(snapshot.links.contains { $0.kind == LinkKind(rawValue: "wireguard") && $0.kind.known == nil })
        #expect(snapshot.domains.contains { $0.role == DomainRole(rawValue: "dns-appliance") && $0.role?.known == nil })
        #expect(
            snapshot.warnings.contains { $0.code == WarningCode(rawValue: "tap-rate-limited") && $0.code.known == nil })
        #expect(snapshot.networks.contains { $0.kind == NetworkKind(rawValue: "netris-vpc") })
        #expect(SnapshotCodec.encode(snapshot) == bytes)
    }
}
