import Foundation
import Testing
import Topology

let sampleSnapshot = HostSnapshot(
    host: Host(
        hostname: "kvm01", collectedAt: "2026-11-22T00:00:00Z",
        sources: Sources(
            netlink: SourceStatus(status: .ok),
            libvirt: SourceStatus(status: .ok, uri: "qemu:///system"))),
    links: [
        Link(name: "brvx-1001", ifindex: 5, kind: .bridge, mac: "aa:bb:cc:00:00:01"),
        Link(
            name: "vxlan1001", ifindex: 6, kind: .vxlan, mac: "aa:bb:cc:00:00:02", mtu: 1450, master: "brvx-1001",
            vxlan: VXLAN(vni: 1001, local: "10.0.0.1", port: 4789, device: "eth1"),
            bridgePort: BridgePort(state: .forwarding, priority: 32, cost: 100)),
    ],
    bridges: [Bridge(name: "brvx-1001", ports: ["vxlan1001"], stp: false)],
    fdb: [
        FDBEntry(
            mac: "00:00:00:00:00:00", port: "vxlan1001", bridge: nil, vlan: nil, state: .permanent,
            isSelf: true, remote: "10.0.0.2")
    ],
    domains: [
        Domain(
            name: "i-2-10-VM", uuid: "u1", state: .running, id: 3,
            nics: [NIC(index: 0, mac: "02:00:4c:5e:00:0a", type: .bridge, bridge: "brvx-1001", tap: "vnet3")])
    ],
    warnings: [
        Warning(
            code: .nicTapMissing, subject: Subject("i-2-10-VM eth0"),
            message: "libvirt says tap vnet3, which does not exist in the kernel")
    ])

@Suite("dump JSON contract")
struct SnapshotCodecTests {
    @Test("encode, decode, encode gives the same bytes")
    func roundTrip() throws {
        let first = SnapshotCodec.encode(sampleSnapshot)
        let decoded = try SnapshotCodec.decode(first, source: "test")
        #expect(decoded == sampleSnapshot)
        #expect(SnapshotCodec.encode(decoded) == first)
    }

    @Test("the contract's field names, including FDB's `self`")
    func fieldNames() throws {
        let json = try #require(
            JSONSerialization.jsonObject(with: SnapshotCodec.encode(sampleSnapshot)) as? [String: Any])
        #expect(
            Set(json.keys) == [
                "schemaVersion", "host", "links", "bridges", "fdb", "domains", "networks", "vpcs", "warnings",
            ])
        #expect(json["schemaVersion"] as? Int == 1)
        let fdb = try #require((json["fdb"] as? [[String: Any]])?.first)
        #expect(fdb["self"] as? Bool == true)
        let link = try #require((json["links"] as? [[String: Any]])?.last)
        #expect(
            Set(link.keys) == [
                "name", "ifindex", "kind", "mac", "mtu", "operState", "up", "master", "addresses",
                "vxlan", "bridgePort",
            ])
    }

    @Test("an unknown schema version is refused and named")
    func unknownVersion() {
        let data = Data(#"{"schemaVersion": 2, "whatever": []}"#.utf8)
        #expect { try SnapshotCodec.decode(data, source: "old.json") } throws: { error in
            "\(error)".contains("schemaVersion 2 is not supported")
        }
    }

    @Test(
        "garbage gives one line that says what is wrong",
        arguments: [
            "", "{", "[]", "null", "\u{0}\u{1}\u{2}", #"{"schemaVersion": "1"}"#, #"{"schemaVersion": 1}"#,
            #"{"schemaVersion": 1, "host": 5, "links": [], "bridges": [], "fdb": [], "domains": [], "warnings": []}"#,
        ])
    func garbage(text: String) {
        do {
            _ = try SnapshotCodec.decode(Data(text.utf8), source: "bad.json")
            Issue.record("accepted \(text.debugDescription)")
        } catch {
            #expect(error.description.hasPrefix("bad.json: "))
            #expect(!error.description.contains("\n"))
        }
    }

    @Test("truncating a real dump anywhere never crashes the loader")
    func truncations() {
        let bytes = SnapshotCodec.encode(sampleSnapshot)
        for length in stride(from: 0, to: bytes.count - 2, by: 7) {
            #expect(throws: SnapshotError.self) { try SnapshotCodec.decode(bytes.prefix(length), source: "cut") }
        }
    }
}

@Suite("JSON layout")
struct JSONIndentTests {
    @Test("strings with brackets, commas, colons and escaped quotes pass through untouched")
    func strings() throws {
        var snapshot = sampleSnapshot
        snapshot.host.hostname = #"a,b:{c}[d]"e\"# + "\u{1b}[31m"
        let bytes = SnapshotCodec.encode(snapshot)
        #expect(try SnapshotCodec.decode(bytes, source: "t").host.hostname == snapshot.host.hostname)
        #expect(try JSONSerialization.jsonObject(with: bytes) is [String: Any])
    }

    @Test("the layout: two-space indent, `key : value`, empty containers on one line")
    func layout() {
        var snapshot = sampleSnapshot
        snapshot.bridges = [Bridge(name: "cloud0", ports: [], stp: false)]
        let text = String(decoding: SnapshotCodec.encode(snapshot), as: UTF8.self)
        #expect(text.hasPrefix("{\n  \"bridges\" : [\n    {\n      \"name\" : \"cloud0\",\n      \"ports\" : [],\n"))
        #expect(text.hasSuffix("\n}\n"))
    }
}
