import CloudStack
import Foundation
import Render
import TestSupport
import Testing
import Topology
import Zone

/// The zone joined from recorded dumps: the lab as host 1, and host 2 made from the lab with its router elsewhere
/// (the dump derive.py makes), renamed as another host's would be.
@Suite struct ZoneTests {
    /// A dump with its names replaced, as a second host's: its hostname, its VMs and their MACs.
    static func renamed(_ snapshot: HostSnapshot, _ names: [(String, String)]) throws -> HostSnapshot {
        var text = String(decoding: try JSONEncoder().encode(snapshot), as: UTF8.self)
        for (old, new) in names { text = text.replacingOccurrences(of: "\"\(old)", with: "\"\(new)") }
        return CloudStackModel.infer(try JSONDecoder().decode(HostSnapshot.self, from: Data(text.utf8)))
    }

    static func zone() throws -> Zone {
        let first = try recordedDump("lab-vxlan")
        var second = try renamed(
            try recordedDump("vr-elsewhere"),
            [("i-2-10-VM", "i-2-40-VM"), ("i-2-11-VM", "i-2-41-VM"), ("02:00:4c:5e:00:0", "02:00:4c:5e:01:0")])
        second.host.hostname = "kvm02"
        return Zone([first, second])
    }

    @Test("a network across hosts by its VNI: each host's bridge, uplink and members, the router on its host")
    func networks() throws {
        let zone = try Self.zone()
        #expect(zone.hosts.map(\.name) == ["kvm02", "vm"], "sorted by name")
        let isolated = try #require(zone.networks.first { $0.key == "vni:1001" })
        #expect(isolated.kind == .isolated && isolated.hosts.map(\.host) == ["kvm02", "vm"])
        #expect(isolated.routerHosts == ["vm"], "the router runs on the lab host only")
        let second = try #require(isolated.hosts.first)
        #expect(second.bridge == "brvx-1001" && second.uplink == "vxlan1001" && second.underlay == "eth1")
        #expect(second.vxlanGroup == "239.0.3.233" && second.underlayMTU == 1550)
        #expect(second.members == ["i-2-40-VM", "i-2-41-VM"], "\(second.members)")
        #expect(!zone.networks.contains { $0.kind == .control }, "cloud0 is each host's own")
        #expect(zone.networks.contains { $0.key == "public cloudbr0" && $0.hosts.count == 2 })
    }

    @Test("domains by host: a name found on two hosts is shown with both")
    func domains() throws {
        let zone = try Self.zone()
        #expect(zone.domains.first { $0.name == "i-2-40-VM" }?.placements.map(\.host) == ["kvm02"])
        let twice = try #require(zone.domains.first { $0.name == "r-7-VM" })
        #expect(twice.placements.map(\.host) == ["kvm02", "vm"])
        let text = ZoneText.render(zone, style: DiagramStyle(unicode: false, color: false, width: 200))
        #expect(text.hasPrefix("Zone - 2 hosts (kvm02, vm) - "), "\(text)")
        #expect(
            text.contains("isolated vni:1001\n  +- kvm02  brvx-1001 - mtu 1500 - vxlan1001 over eth1 (1550)"), "\(text)"
        )
        #expect(text.contains("On more than one host\n") && text.contains("  r-7-VM: kvm02 (running), vm (running)"))
    }
}

extension ZoneTests {
    @Test("several dumps of one host: the latest is joined, the others named")
    func latestPerHost() throws {
        let older = try recordedDump("lab-vxlan")
        var later = older
        later.host.collectedAt = "2026-12-03T10:00:00Z"
        let (kept, skipped) = Zone.latestPerHost([later, older])
        #expect(kept.map(\.host.collectedAt) == ["2026-12-03T10:00:00Z"])
        #expect(skipped.map(\.host.collectedAt) == [older.host.collectedAt])
    }
}

extension ZoneTests {
    @Test("a VM's view: where it runs, and per NIC its network and the host its router runs on")
    func focus() throws {
        let zone = try Self.zone()
        let vm = try #require(zone.domains.first { $0.name == "i-2-40-VM" })
        let text = ZoneText.render(
            zone, networks: [], domains: [vm], focus: vm, style: DiagramStyle(unicode: false, color: false, width: 200))
        #expect(
            text.contains(
                "i-2-40-VM on kvm02 (running)\n  eth0 - 02:00:4c:5e:01:0a - brvx-1001 - isolated vni:1001"
                    + " - router * r-4-VM on vm\n"), "\(text)")
    }
}

extension ZoneTests {
    @Test("members wrap at the terminal's width: every one is named, no line is longer")
    func wrapped() throws {
        let zone = try Self.zone()
        let text = ZoneText.render(zone, style: DiagramStyle(unicode: false, color: false, width: 30))
        let lines = text.split(separator: "\n")
        #expect(lines.allSatisfy { $0.count <= 30 }, "\(text)")
        #expect(lines.contains("  |         i-2-40-VM,") && lines.contains("  |         i-2-41-VM"), "\(text)")
    }
}
