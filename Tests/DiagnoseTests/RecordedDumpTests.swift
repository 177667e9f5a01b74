import CloudStack
import Diagnose
import Foundation
import TestSupport
import Testing
import Topology

/// diagnose on dumps recorded on the lab (examples/dumps), anywhere: no kernel, no libvirt.
@Suite("diagnose on recorded dumps")
struct RecordedDumpTests {
    func findings(_ name: String) throws -> [Finding] {
        Diagnose.run(try recordedDump(name))
    }

    @Test("the lab's faults are found, most severe first, each with why and what to do")
    func labFaults() throws {
        let found = try findings("lab-faults")
        let codes = Set(found.map(\.code))
        #expect(
            codes == [.portDown, .tapNoMaster, .tapUnclaimed],
            "the three faults recorded in it (its eth1 kept its MTU): \(codes)")
        #expect(found.map(\.severity) == found.map(\.severity).sorted(by: >))
        #expect(
            found.allSatisfy { !$0.why.isEmpty && !$0.action.isEmpty && !$0.related.isEmpty || $0.code == .brNetfilter }
        )
        let detached = try #require(found.first { $0.code == .tapNoMaster })
        #expect(
            detached.subject == .nic(NICRef(domain: "i-2-11-VM", index: 0))
                && detached.action.hasPrefix("ip link set vnet") && detached.action.hasSuffix("master brvx-1001"))
        #expect(Diagnose.scoped(found, to: ["i-3-20-VM"]).isEmpty, "nothing is wrong on i-3-20-VM's network")
    }

    @Test("the clean lab has nothing above info")
    func cleanLab() throws {
        #expect(try findings("lab-vxlan").allSatisfy { $0.severity == .info })
    }

    @Test("a NIC whose link libvirt holds down: a warning with the virsh that brings it up; not on a stopped VM")
    func nicLinkDown() throws {
        var snapshot = try recordedDump("lab-vxlan")
        for name in ["i-2-11-VM", "i-3-20-VM"] {
            let domain = try #require(snapshot.domains.firstIndex { $0.name == name })
            snapshot.domains[domain].nics[0].linkState = .down
        }
        let stopped = try #require(snapshot.domains.firstIndex { $0.name == "i-3-20-VM" })
        snapshot.domains[stopped].state = .shutoff
        let found = Diagnose.run(snapshot).filter { $0.code == .nicLinkDown }
        let tap = try #require(snapshot.domains.first { $0.name == "i-2-11-VM" }?.nics[0].tap)
        #expect(found.map(\.subject) == [.nic(NICRef(domain: "i-2-11-VM", index: 0))], "\(found)")
        #expect(found.first?.severity == .warning)
        #expect(
            found.first?.action.hasPrefix(
                "virsh domif-getlink i-2-11-VM \(tap); virsh domif-setlink i-2-11-VM \(tap) up") == true)
        #expect(found.first?.related.contains("brvx-1001") == true)
    }

    @Test("every check has a code, a severity and a summary, and codes are unique")
    func catalogue() {
        #expect(Set(Diagnose.checks.map(\.code)).count == Diagnose.checks.count)
        #expect(Diagnose.checks.allSatisfy { !$0.summary.isEmpty })
    }
}

extension RecordedDumpTests {
    /// The lab's dump with its VXLAN devices bound to a label bridge over eth1, as the agent binds them, and eth1
    /// (so the bridge, whose MTU follows it) at `mtu`.
    static func labelBridge(mtu: Int) throws -> HostSnapshot {
        var snapshot = try recordedDump("lab-vxlan")
        for index in snapshot.links.indices {
            if snapshot.links[index].vxlan != nil { snapshot.links[index].vxlan?.device = "cloudbr2" }
            if snapshot.links[index].name == "eth1" {
                snapshot.links[index].master = "cloudbr2"
                snapshot.links[index].mtu = mtu
            }
        }
        snapshot.links.append(Link(name: "cloudbr2", ifindex: 99, kind: .bridge, mtu: mtu))
        snapshot.bridges.append(Bridge(name: "cloudbr2", ports: ["eth1"], stp: false))
        return CloudStackModel.infer(snapshot)
    }

    @Test("an underlay through a label bridge too small for VXLAN: the NIC under it is named, and its fix")
    func labelBridgeMTU() throws {
        #expect(Diagnose.run(try Self.labelBridge(mtu: 1550)).allSatisfy { $0.severity == .info })
        let small = Diagnose.run(try Self.labelBridge(mtu: 1450)).filter { $0.code == .mtuMismatch }
        #expect(small.map(\.subject) == [.named("eth1")], "\(small)")
        #expect(small.first?.action == "ip link set eth1 mtu 1550")
        #expect(!small.contains { $0.code == .vxlanUnderBridgePort }, "bound to the bridge itself, not to a port")
    }
}
