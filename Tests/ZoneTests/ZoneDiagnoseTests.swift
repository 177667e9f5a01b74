import CloudStack
import Diagnose
import Foundation
import TestSupport
import Testing
import Topology
import Zone

/// zone diagnose over recorded dumps, each finding made by editing the collected facts of one host as the fault
/// would leave them, then inferring the model again. (The lab's second host makes some of them real.)
@Suite struct ZoneDiagnoseTests {
    /// kvm01 is the lab (the routers, s-1-VM, the VPC); kvm02 carries the isolated network without its router,
    /// with VMs of its own: i-2-40-VM and i-2-41-VM.
    static func hosts(
        _ edit: (inout HostSnapshot) -> Void = { _ in }, first: (inout HostSnapshot) -> Void = { _ in }
    ) throws -> [HostSnapshot] {
        var kvm01 = try recordedDump("lab-vxlan")
        kvm01.host.hostname = "kvm01"
        first(&kvm01)
        var kvm02 = try ZoneTests.renamed(
            try recordedDump("vr-elsewhere"),
            [("i-2-10-VM", "i-2-40-VM"), ("i-2-11-VM", "i-2-41-VM"), ("02:00:4c:5e:00:0", "02:00:4c:5e:01:0")])
        kvm02.host.hostname = "kvm02"
        kvm02.domains.removeAll { !["i-2-40-VM", "i-2-41-VM"].contains($0.name) }
        edit(&kvm02)
        return [CloudStackModel.infer(kvm01), CloudStackModel.infer(kvm02)]
    }

    static func findings(_ snapshots: [HostSnapshot]) -> [Finding] { Diagnose.run(Zone(snapshots)) }

    static func setLink(_ name: String, in snapshot: inout HostSnapshot, _ edit: (inout Link) -> Void) {
        for index in snapshot.links.indices where snapshot.links[index].name == name { edit(&snapshot.links[index]) }
    }

    @Test("two hosts laid out alike: nothing to report; the zone checks are not diagnose's")
    func clean() throws {
        #expect(Self.findings(try Self.hosts()) == [])
        #expect(!Diagnose.checks.contains { $0.code == .zoneMTUDiffers })
        #expect(Diagnose.zoneChecks.map(\.code).contains(.zoneBridgeMissing))
    }

    @Test("one network, two MTUs or two VXLAN groups: an error naming each host's value")
    func layoutDiffers() throws {
        let mtu = Self.findings(try Self.hosts { Self.setLink("brvx-1001", in: &$0) { $0.mtu = 1450 } })
        #expect(mtu.map(\.code) == [.zoneMTUDiffers], "\(mtu)")
        #expect(mtu.first?.message == "MTU 1450 on kvm02; 1500 on kvm01" && mtu.first?.severity == .error)
        #expect(mtu.first?.subject == .named("isolated vni:1001"))

        let group = Self.findings(
            try Self.hosts { Self.setLink("vxlan1001", in: &$0) { $0.vxlan?.group = "239.0.3.234" } })
        #expect(group.map(\.code) == [.zoneVXLANDiffers], "\(group)")
        #expect(group.first?.message == "group 239.0.3.233 port 8472 on kvm01; group 239.0.3.234 port 8472 on kvm02")
    }

    @Test("a kind of traffic on differently named bridges; a host without the qemu hook")
    func bridgesAndHook() throws {
        let label = Self.findings(try Self.hosts { $0.host.bridgeRoles?.public = "cloudbr2" })
        #expect(label.map(\.code) == [.zoneLabelBridgeDiffers], "\(label)")
        #expect(label.first?.message == "public traffic is on cloudbr0 on kvm01; cloudbr2 on kvm02")

        let hook = Self.findings(try Self.hosts { $0.host.qemuHook = false })
        #expect(hook.map(\.code) == [.zoneQemuHookMissing] && hook.first?.severity == .info, "\(hook)")

        // VLAN bridges named after each host's NIC: the hook renames them on migration, and kvm02 lacks it.
        var vlan01 = try recordedDump("vlan-host")
        vlan01.host.hostname = "kvm01"
        vlan01.host.qemuHook = true
        var vlan02 = try ZoneTests.renamed(vlan01, [("breth1-100", "brbond0-100")])
        vlan02.host.hostname = "kvm02"
        vlan02.host.qemuHook = false
        let renamed = Self.findings([vlan01, vlan02]).filter { $0.code == .zoneQemuHookMissing }
        #expect(renamed.count == 1 && renamed.first?.severity == .warning, "\(renamed)")
        #expect(renamed.first?.subject == .named("kvm02"))
        #expect(renamed.first?.message.contains("is brbond0-100 here, breth1-100 on kvm01") == true, "\(renamed)")
    }

    @Test("a MAC on VMs of two hosts is an error; a redundant router pair sharing one is not")
    func macs() throws {
        let twice = Self.findings(
            try Self.hosts {
                for index in $0.domains.indices where $0.domains[index].name == "i-2-40-VM" {
                    $0.domains[index].nics[0].mac = "02:00:4c:5e:00:0a"
                }
            })
        let finding = try #require(twice.first { $0.code == .zoneMACDuplicate }, "\(twice)")
        #expect(finding.message == "02:00:4c:5e:00:0a is the MAC of i-2-10-VM on kvm01 and i-2-40-VM on kvm02")

        let kvm01 = try recordedDump("lab-vxlan")
        var pair = try ZoneTests.renamed(kvm01, [("r-4-VM", "r-5-VM")])
        pair.host.hostname = "kvm02"
        #expect(
            !Self.findings([kvm01, pair]).contains {
                $0.code == .zoneMACDuplicate && $0.subject == .named("02:00:4c:5f:00:01")
            },
            "r-4-VM and r-5-VM share the guest MAC as a redundant pair does")
    }

    @Test("a VM on two hosts: an error when the dumps are close; a warning far apart; info when one is paused")
    func vmTwice() throws {
        func running(_ state: DomainState, at time: String?) throws -> Finding? {
            let snapshots = try Self.hosts {
                var vm = try! recordedDump("lab-vxlan").domains.first { $0.name == "i-2-10-VM" }!
                vm.state = state
                $0.domains.append(vm)
                if let time { $0.host.collectedAt = time }
            }
            return Self.findings(snapshots).first { $0.code == .zoneVMOnTwoHosts }
        }
        let close = try #require(try running(.running, at: nil))
        #expect(close.severity == .error && close.subject == .named("i-2-10-VM"))
        #expect(close.message.hasPrefix("i-2-10-VM runs on kvm01 (running, dump of 2026-11-22T01:44:53Z) and kvm02"))
        #expect(try running(.running, at: "2026-11-22T01:50:00Z")?.severity == .warning)
        #expect(try running(.paused, at: nil)?.severity == .info)
        #expect(try running(.shutoff, at: nil) == nil, "defined but not running there")
    }

    @Test("a guest network whose router runs on no collected host; a VM whose host lacks its bridge")
    func missing() throws {
        let onlySecond = try Self.hosts()[1]
        let router = Diagnose.run(Zone([onlySecond]))
        #expect(router.map(\.code) == [.zoneRouterMissing], "\(router)")
        #expect(router.first?.message == "its router runs on none of the 1 hosts collected; the network is on kvm02")

        let bridge = Self.findings(
            try Self.hosts {
                $0.bridges.removeAll { $0.name == "brvx-1001" }
                $0.links.removeAll { $0.name == "brvx-1001" }
            })
        let lacking = bridge.filter { $0.code == .zoneBridgeMissing }
        #expect(lacking.map(\.subject.description) == ["i-2-40-VM eth0", "i-2-41-VM eth0"], "\(bridge)")
        #expect(
            lacking.first?.message
                == "i-2-40-VM eth0 on kvm02 needs brvx-1001 (isolated vni:1001), which kvm02 lacks; kvm01 has it")
    }
}
