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

    @Test("every check has a code, a severity and a summary, and codes are unique")
    func catalogue() {
        #expect(Set(Diagnose.checks.map(\.code)).count == Diagnose.checks.count)
        #expect(Diagnose.checks.allSatisfy { !$0.summary.isEmpty })
    }
}
