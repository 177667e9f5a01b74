import Foundation
import TestSupport
import Testing
import Topology

/// CloudStack-named guests on a real libvirtd: a VR with guest, control and public NICs and a user VM.
private final class Guests {
    let ns = TestNamespace(existing: LibvirtDaemon.namespace)
    static let router = "r-901-VM"
    static let user = "i-9-901-VM"
    let bridges = ["kt-br901", "kt-br902", "kt-br903"]

    init() throws {
        // Another suite (the lab's) may have stopped the daemon since this suite's condition was checked.
        guard LibvirtDaemon.start() else {
            throw FixtureError("libvirtd could not be started in \(LibvirtDaemon.namespace)")
        }
        tearDown()
        for bridge in bridges {
            try ns.ip("link add \(bridge) type bridge")
            try ns.ip("link set \(bridge) up")
        }
        try LibvirtDaemon.startGuest(
            name: Self.router,
            nics: [
                ("02:00:4c:5f:09:01", "kt-br901"),
                ("0e:00:a9:fe:09:01", "kt-br902"),
                ("1e:00:54:00:09:01", "kt-br903"),
            ])
        try LibvirtDaemon.startGuest(name: Self.user, nics: [("02:00:4c:5e:09:0a", "kt-br901")])
    }

    func tearDown() {
        LibvirtDaemon.removeGuest(Self.router)
        LibvirtDaemon.removeGuest(Self.user)
        for device in bridges + ["kt-stray"] { try? ns.ip("link del \(device)") }
    }

    deinit { tearDown() }

    func dump() throws -> HostSnapshot {
        let result = try KVMTopoBinary.run(["dump"], in: ns)
        guard result.status == 0 else { throw FixtureError("kvmtopo dump failed: \(result.stderr)") }
        return try SnapshotCodec.decode(result.stdout, source: "kvmtopo dump")
    }

    func libvirtState() throws -> String {
        try [["list", "--all", "--uuid"], ["dumpxml", Self.router], ["dumpxml", Self.user]]
            .map { try LibvirtDaemon.virsh($0).output }.joined()
    }
}

private func ours(_ warning: Warning) -> Bool {
    warning.subject.description.hasPrefix(Guests.router) || warning.subject.description.hasPrefix(Guests.user)
        || warning.subject == .named("kt-stray")
        || warning.message.contains("kt-br90")
}

/// Everything that drives the one real libvirtd (in the lab's namespace) runs one test at a time, and so do the
/// package tests, whose release build would otherwise take both cores from the lab's guests.
@Suite("real libvirtd and QEMU guests, and the packages", .serialized)
struct RealLibvirtTests {}

extension RealLibvirtTests {
    @Suite(
        "kvmtopo dump against CloudStack-named guests",
        .enabled("needs root and libvirtd with QEMU; the reason is printed when missing") { LibvirtDaemon.start() })
    struct LibvirtGuestTests {
        @Test("libvirt NICs join their kernel taps by name and MAC; every fault becomes a warning; nothing changes")
        func joinAndFaults() throws {
            let guests = try Guests()
            let kernelBefore = try KernelState.settled(guests.ns)
            let libvirtBefore = try guests.libvirtState()

            // The clean host.
            var snapshot = try guests.dump()
            #expect(snapshot.host.sources.libvirt.status == .ok)
            let links = Dictionary(snapshot.links.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            let router = try #require(snapshot.domains.first { $0.name == Guests.router })
            let user = try #require(snapshot.domains.first { $0.name == Guests.user })
            #expect(router.state == .running)
            #expect(router.smbios?.product == "CloudStack KVM Hypervisor")
            #expect(router.nics.map(\.index) == [0, 1, 2])
            #expect(router.nics.map(\.bridge) == ["kt-br901", "kt-br902", "kt-br903"])
            for nic in router.nics + user.nics {
                let tapName = try #require(nic.tap)
                let tap = try #require(links[tapName], "libvirt's tap \(tapName) is in the kernel dump")
                #expect(tap.kind == .tun)
                // libvirt's rule, seen on a real guest: the guest MAC with fe as its first octet.
                #expect(tap.mac == "fe" + nic.mac!.dropFirst(2))
                #expect(tap.master == nic.bridge)
                #expect(nic.tapFound == true)
                #expect(nic.hostBridge == nic.bridge)
            }
            #expect(snapshot.warnings.filter(ours).isEmpty, "\(snapshot.warnings.filter(ours))")
            let kernelAfter = try KernelState.capture(guests.ns)
            let unchanged = kernelAfter == kernelBefore
            #expect(unchanged, "changed: \(KernelState.difference(kernelBefore, kernelAfter))")
            #expect(try guests.libvirtState() == libvirtBefore, "kvmtopo dump changed libvirt's state")

            // Faults, made for real.
            let routerTaps = router.nics.map { $0.tap! }
            let userTap = user.nics[0].tap!
            try guests.ns.ip("link set \(routerTaps[1]) nomaster")
            try guests.ns.ip("link set \(userTap) master kt-br902")
            try guests.ns.ip("link del \(routerTaps[2])")
            try guests.ns.ip("tuntap add dev kt-stray mode tap")
            try guests.ns.ip("link set kt-stray master kt-br901")
            snapshot = try guests.dump()
            let found = Set(snapshot.warnings.filter(ours).map { "\($0.code) \($0.subject)" })
            #expect(
                found == [
                    "tap-no-master r-901-VM eth1", "tap-bridge-mismatch i-9-901-VM eth0",
                    "nic-tap-missing r-901-VM eth2", "tap-unclaimed kt-stray",
                ])
            let faulty = try #require(snapshot.domains.first { $0.name == Guests.router })
            #expect(faulty.nics.map(\.tapFound) == [true, true, false])
            #expect(faulty.nics[1].hostBridge == nil)
        }

        @Test(
            "libvirtd stopping while dumps run: every dump exits 0, and once it is gone says so and still shows the kernel's side"
        )
        func daemonStops() throws {
            let guests = try Guests()
            var states: [SourceStatus.Status] = []
            func dump() throws {
                let result = try KVMTopoBinary.run(["dump"], in: guests.ns)
                #expect(result.status == 0, "\(result.stderr)")
                let snapshot = try SnapshotCodec.decode(result.stdout, source: "dump while libvirtd stops")
                #expect(snapshot.links.contains { $0.name == "kt-br901" }, "the kernel's side is always there")
                states.append(snapshot.host.sources.libvirt.status)
            }
            // One dump before the stop, dumps while it stops, one after: ordered by events, not by a clock, so a
            // loaded machine cannot leave the stop outside the dumps.
            try dump()
            let stopped = DispatchSemaphore(value: 0)
            DispatchQueue.global().async {
                Thread.sleep(forTimeInterval: 0.5)
                _ = try? Shell.run([PackageRoot.path + "/scripts/libvirtd-netns", "stop", LibvirtDaemon.namespace])
                stopped.signal()
            }
            while stopped.wait(timeout: .now()) == .timedOut { try dump() }
            try dump()
            #expect(states.first == .ok && states.last == .unavailable, "\(states)")
            // The daemon back for what follows (its guests kept running; it finds them again).
            #expect(LibvirtDaemon.start())
        }

        @Test("a defined but stopped domain is listed with its NICs and expects no tap")
        func stoppedDomain() throws {
            let guests = try Guests()
            _ = try LibvirtDaemon.virsh(["destroy", Guests.user])
            let snapshot = try guests.dump()
            let user = try #require(snapshot.domains.first { $0.name == Guests.user })
            #expect(user.state == .shutoff)
            #expect(user.id == nil)
            #expect(user.nics.count == 1)
            #expect(user.nics[0].tapFound == nil)
            #expect(!snapshot.warnings.contains { $0.subject.description.hasPrefix(Guests.user) })
        }
    }
}
