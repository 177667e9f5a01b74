import Foundation
import TestSupport
import Testing
import Topology

/// A namespace laid out like a small KVM host: a VXLAN guest bridge over an underlay veth, a tap with no
/// carrier, a veth pair into another bridge with STP on, static FDB entries and a vxlan remote.
private func buildHost(_ ns: TestNamespace) throws {
    try ns.ip("link add up0 type veth peer name up1")
    try ns.ip("link set up0 mtu 1550 up")
    try ns.ip("link set up1 mtu 1550 up")
    try ns.ip("addr add 10.99.0.1/24 dev up0")
    try ns.ip("link add brvx-100 type bridge")
    try ns.ip("link add vxlan100 type vxlan id 100 local 10.99.0.1 dev up0 dstport 4789 nolearning")
    try ns.ip("link set vxlan100 master brvx-100 up")
    try ns.ip("tuntap add dev tap0 mode tap")
    try ns.ip("link set tap0 address fe:00:4c:5e:00:0a master brvx-100 up")
    try ns.ip("link set brvx-100 up")
    try ns.ip("addr add 192.0.2.1/24 dev brvx-100")
    try ns.ip("link add cloud0 type bridge stp_state 1")
    try ns.ip("link add va type veth peer name vb")
    try ns.ip("link set va master cloud0 up")
    try ns.ip("link set vb up")
    try ns.ip("link set cloud0 up")
    try ns.ip("addr add 169.254.0.1/16 dev cloud0")
    try Shell.must(["bridge", "-n", ns.name, "fdb", "add", "52:54:00:de:ad:01", "dev", "tap0", "master", "static"])
    try Shell.must([
        "bridge", "-n", ns.name, "fdb", "append", "00:00:00:00:00:00", "dev", "vxlan100", "dst", "10.99.0.2",
    ])
}

private let noLibvirt = ["--libvirt", "qemu+unix:///system?socket=/nonexistent/libvirt-sock"]

@Suite(
    "kvmtopo dump inside a real network namespace", .enabled(if: Host.isRoot, "needs root to create network namespaces")
)
struct NamespaceDumpTests {
    @Test("every link kind, relation, bridge port state and FDB entry created is reported")
    func collectedFacts() throws {
        let ns = try TestNamespace("dump")
        try buildHost(ns)
        let result = try KVMTopoBinary.run(["dump"] + noLibvirt, in: ns)
        #expect(result.status == 0, "\(result.stderr)")
        let snapshot = try SnapshotCodec.decode(result.stdout, source: "stdout")
        let links = Dictionary(uniqueKeysWithValues: snapshot.links.map { ($0.name, $0) })

        #expect(Set(links.keys) == ["lo", "up0", "up1", "brvx-100", "vxlan100", "tap0", "cloud0", "va", "vb"])
        #expect(links["lo"]?.kind == .loopback)
        #expect(links["brvx-100"]?.kind == .bridge)
        #expect(links["tap0"]?.kind == .tun)
        #expect(links["tap0"]?.mac == "fe:00:4c:5e:00:0a")
        #expect(links["tap0"]?.master == "brvx-100")
        #expect(links["tap0"]?.up == true)
        #expect(links["tap0"]?.operState == .down, "a tap nobody has opened has no carrier")
        #expect(links["tap0"]?.bridgePort?.state == .disabled)

        let vxlan = try #require(links["vxlan100"]?.vxlan)
        #expect(links["vxlan100"]?.kind == .vxlan)
        #expect(vxlan.vni == 100)
        #expect(vxlan.local == "10.99.0.1")
        #expect(vxlan.port == 4789)
        #expect(vxlan.device == "up0")
        #expect(vxlan.learning == false)
        #expect(links["vxlan100"]?.mtu == 1500)
        #expect(links["up0"]?.mtu == 1550)
        #expect(links["vxlan100"]?.bridgePort?.state == .forwarding)

        #expect(links["va"]?.kind == .veth)
        #expect(links["va"]?.peer == "vb")
        #expect(links["vb"]?.peer == "va")
        #expect(links["va"]?.master == "cloud0")
        #expect(links["up0"]?.addresses.filter { $0.family == .inet }.map(\.address) == ["10.99.0.1"])
        #expect(links["cloud0"]?.addresses.first.map { "\($0.address)/\($0.prefixLength)" } == "169.254.0.1/16")

        #expect(snapshot.host.qemuHook == FileManager.default.isExecutableFile(atPath: "/etc/libvirt/hooks/qemu"))
        let limit = try ns.exec(["cat", "/proc/sys/net/ipv4/igmp_max_memberships"]).stdout
        #expect(snapshot.host.igmpMaxMemberships.map { "\($0)\n" } == String(decoding: limit, as: UTF8.self))

        let bridges = Dictionary(uniqueKeysWithValues: snapshot.bridges.map { ($0.name, $0) })
        #expect(bridges["brvx-100"]?.ports == ["tap0", "vxlan100"])
        #expect(bridges["brvx-100"]?.stp == false)
        #expect(bridges["cloud0"]?.ports == ["va"])
        #expect(bridges["cloud0"]?.stp == true)

        #expect(
            snapshot.fdb.contains {
                $0.mac == "52:54:00:de:ad:01" && $0.port == "tap0" && $0.bridge == "brvx-100" && $0.state == .static
            })
        #expect(snapshot.fdb.contains { $0.mac == "fe:00:4c:5e:00:0a" && $0.port == "tap0" && $0.state == .permanent })
        #expect(snapshot.fdb.contains { $0.port == "vxlan100" && $0.remote == "10.99.0.2" && $0.isSelf })

        #expect(snapshot.host.sources.netlink.status == .ok)
        #expect(snapshot.host.sources.libvirt.status == .unavailable)
        #expect(result.stderr.contains("libvirt unavailable"))
        #expect(
            !snapshot.warnings.contains { $0.code == .tapUnclaimed },
            "without libvirt nobody can say a tap is unclaimed")
    }

    @Test("a veth whose peer is in another namespace says so instead of naming a stranger")
    func crossNamespacePeer() throws {
        let ns = try TestNamespace("peer")
        let other = try TestNamespace("peer-other")
        try ns.ip("link add vh type veth peer name vg netns \(other.name)")
        let result = try KVMTopoBinary.run(["dump"] + noLibvirt, in: ns)
        let snapshot = try SnapshotCodec.decode(result.stdout, source: "stdout")
        let veth = try #require(snapshot.links.first { $0.name == "vh" })
        #expect(veth.peer == nil)
        #expect(veth.peerNetnsid != nil)
    }

    @Test("dumping changes nothing: links, addresses and FDB are identical before and after")
    func readOnly() throws {
        let ns = try TestNamespace("ro")
        try buildHost(ns)
        let before = try KernelState.settled(ns)
        for _ in 0..<2 { _ = try KVMTopoBinary.run(["dump"] + noLibvirt, in: ns) }
        let after = try KernelState.capture(ns)
        let unchanged = after == before
        #expect(unchanged, "changed: \(KernelState.difference(before, after))")
    }

    @Test(
        "links appearing and vanishing during dumps: every dump succeeds and is whole (interrupted dumps are retried)")
    func churn() throws {
        let ns = try TestNamespace("churn")
        try buildHost(ns)
        // 20 taps made and deleted in a loop, in the same namespace, for as long as kvmtopo dumps: a count of
        // dumps, not a time window, so a loaded machine makes the test slower, never weaker.
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("kvmtopo-churn-\(ns.name)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let stop = work.appendingPathComponent("stop").path
        let rounds = work.appendingPathComponent("rounds").path
        let churn = """
            end=$((SECONDS + 300)); n=0
            while [[ ! -e \(stop) ]] && (( SECONDS < end )); do
                seq 1 20 | sed 's/.*/tuntap add dev churn& mode tap/' | ip -n \(ns.name) -batch - 2>/dev/null
                seq 1 20 | sed 's/.*/link del churn&/' | ip -n \(ns.name) -batch - 2>/dev/null
                n=$((n + 1)); echo $n > \(rounds)
            done
            """
        let finished = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            _ = try? Shell.run(["bash", "-c", churn])
            finished.signal()
        }
        func roundsDone() -> Int {
            let text = (try? String(contentsOfFile: rounds, encoding: .utf8)) ?? ""
            return Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }
        let startBy = ContinuousClock.now + .seconds(60)
        while roundsDone() == 0 && ContinuousClock.now < startBy { Thread.sleep(forTimeInterval: 0.01) }
        try #require(roundsDone() > 0, "the churn loop started")
        let roundsBefore = roundsDone()
        // Eight dumps at least, and more until a round of the churn has finished among them (a loaded machine
        // runs a round slower than eight dumps).
        var dumps = 0
        while dumps < 8 || (roundsDone() == roundsBefore && dumps < 200) {
            dumps += 1
            let result = try KVMTopoBinary.run(["dump"] + noLibvirt, in: ns)
            #expect(result.status == 0, "\(result.stderr)")
            let snapshot = try SnapshotCodec.decode(result.stdout, source: "churn")
            #expect(snapshot.host.sources.netlink.status == .ok)
            #expect(
                snapshot.links.contains { $0.name == "brvx-100" } && snapshot.links.contains { $0.name == "tap0" },
                "the links that stay are always there")
            #expect(
                snapshot.links.allSatisfy { link in
                    link.master == nil || snapshot.links.contains { $0.name == link.master }
                })
        }
        let roundsDuring = roundsDone() - roundsBefore
        FileManager.default.createFile(atPath: stop, contents: nil)
        finished.wait()
        #expect(roundsDuring > 0, "the links kept changing while the dumps ran")
    }

    @Test("an unprivileged user gets the same kernel view (netlink dumps need no privilege)")
    func unprivileged() throws {
        let ns = try TestNamespace("user")
        try buildHost(ns)
        let asRoot = try SnapshotCodec.decode(
            try KVMTopoBinary.run(["dump"] + noLibvirt, in: ns).stdout, source: "root")
        let result = try ns.exec(
            [
                "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                KVMTopoBinary.path, "dump",
            ] + noLibvirt)
        #expect(result.status == 0, "\(result.stderr)")
        let asNobody = try SnapshotCodec.decode(result.stdout, source: "nobody")
        #expect(asNobody.links == asRoot.links)
        #expect(asNobody.bridges == asRoot.bridges)
    }
}
