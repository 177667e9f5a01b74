import Foundation
import TestSupport
import Testing
import Topology

/// diagnose in a namespace built like a CloudStack host (an agent.properties file makes it one): first clean,
/// then with each fault the kernel alone can show created for real.
@Suite(
    "kvmtopo diagnose in a real network namespace", .enabled(if: Host.isRoot, "needs root to create network namespaces")
)
struct DiagnoseTests {
    typealias Report = FindingsReport

    let properties: String
    let directory = FileManager.default.temporaryDirectory

    /// The one VM of the clean namespace, in libvirt's test driver: i-2-10-VM, whose NIC is the tap tap-i10.
    static let cleanDomains = """
        <domain type='test'><name>i-2-10-VM</name><memory>131072</memory><os><type>hvm</type></os><devices>
        <interface type='bridge'><mac address='02:00:4c:5e:00:0a'/><source bridge='brvx-100'/><target dev='tap-i10'/></interface>
        </devices></domain>
        """

    /// With the faults: i-2-11-VM, whose tap the namespace puts on another bridge; a VPC router whose taps and
    /// tier bridge do not exist; a router with neither a control nor a public NIC.
    static let faultDomains =
        cleanDomains + """
            <domain type='test'><name>i-2-11-VM</name><memory>131072</memory><os><type>hvm</type></os><devices>
            <interface type='bridge'><mac address='02:00:4c:5e:00:0b'/><source bridge='brvx-100'/><target dev='tap-i11'/></interface>
            </devices></domain>
            <domain type='test'><name>r-8-VM</name><memory>131072</memory><os><type>hvm</type></os><devices>
            <interface type='bridge'><mac address='0e:00:a9:fe:08:01'/><source bridge='cloud0'/><target dev='tap-r8-0'/></interface>
            <interface type='bridge'><mac address='1e:00:54:00:00:08'/><source bridge='cloudbr0'/><target dev='tap-r8-1'/></interface>
            <interface type='bridge'><mac address='02:00:5a:7e:00:08'/><source bridge='brvx-308'/><target dev='tap-r8-2'/></interface>
            </devices></domain>
            <domain type='test'><name>r-9-VM</name><memory>131072</memory><os><type>hvm</type></os><devices>
            <interface type='bridge'><mac address='02:00:5a:7e:00:09'/><source bridge='brvx-100'/><target dev='tap-r9'/></interface>
            </devices></domain>
            """

    init() throws {
        properties = directory.appendingPathComponent("kvmtopo-agent-\(getpid()).properties").path
        try "private.network.device=cloudbr1\npublic.network.device=cloudbr0\n".write(
            toFile: properties, atomically: true, encoding: .utf8)
    }

    /// libvirt's test driver holding these domains, and the agent.properties that make the namespace a CloudStack host.
    func sources(_ domains: String) throws -> [String] {
        let node = directory.appendingPathComponent("kvmtopo-diagnose-\(getpid())-\(domains.count).xml").path
        try "<node>\(domains)</node>".write(toFile: node, atomically: true, encoding: .utf8)
        return ["--libvirt", "test://\(node)", "--agent-properties", properties]
    }

    func diagnose(
        _ ns: TestNamespace, _ extra: [String] = [], domains: String = cleanDomains
    ) throws
        -> (status: Int32, report: Report, stderr: String)
    {
        let result = try KVMTopoBinary.run(["diagnose", "--json"] + sources(domains) + extra, in: ns)
        return (result.status, try JSONDecoder().decode(Report.self, from: result.stdout), result.stderr)
    }

    /// cloud0 as the agent makes it, a VXLAN guest bridge over an underlay with room for VXLAN, a tap on it.
    func buildClean(_ ns: TestNamespace) throws {
        try ns.ip("link add cloud0 type bridge")
        try ns.ip("link set cloud0 up")
        try ns.ip("addr add 169.254.0.1/16 dev cloud0")
        try ns.ip("link add eth1 type veth peer name eth1-peer")
        try ns.ip("link set eth1 mtu 1550 up")
        try ns.ip("link set eth1-peer mtu 1550 up")
        try ns.ip("addr add 10.99.0.1/24 dev eth1")
        try ns.ip("link add brvx-100 type bridge")
        try ns.ip("link add vxlan100 type vxlan id 100 local 10.99.0.1 dev eth1 dstport 4789")
        try ns.ip("link set vxlan100 master brvx-100 up")
        try ns.ip("tuntap add dev tap-i10 mode tap")
        try ns.ip("link set tap-i10 address fe:00:4c:5e:00:0a master brvx-100 up")
        try ns.ip("link set brvx-100 up")
    }

    @Test("a clean host: no errors or warnings, exit 0; the scopes and the metrics file")
    func clean() throws {
        let ns = try TestNamespace("diag-clean")
        try buildClean(ns)
        let (status, report, stderr) = try diagnose(ns)
        #expect(status == 0, "\(report.findings) \(stderr)")
        #expect(report.schemaVersion == 1)
        #expect(report.findings.allSatisfy { $0.severity == "info" }, "\(report.findings)")
        #expect((report.counts["error"] ?? -1) == 0 && (report.counts["warning"] ?? -1) == 0)

        let metrics = FileManager.default.temporaryDirectory.appendingPathComponent("kvmtopo-\(getpid()).prom").path
        defer { try? FileManager.default.removeItem(atPath: metrics) }
        let text = try KVMTopoBinary.run(["diagnose", "--prometheus", metrics] + sources(Self.cleanDomains), in: ns)
        #expect(text.status == 0 && text.output.contains("kvmtopo diagnose"), "\(text.stderr)")
        let prometheus = try String(contentsOfFile: metrics, encoding: .utf8)
        #expect(prometheus.contains("# TYPE kvmtopo_findings gauge"))
        #expect(prometheus.contains("kvmtopo_findings{check=\"port-down\",severity=\"error\"} 0"))
        #expect(prometheus.contains("kvmtopo_diagnose_last_run_timestamp_seconds "))
        let unknown = try KVMTopoBinary.run(["diagnose", "network", "brvx-10"] + sources(Self.cleanDomains), in: ns)
        #expect(unknown.status == 64 && unknown.stderr.contains("did you mean brvx-100"), "\(unknown.stderr)")
    }

    @Test("each fault made for real is found, with its code, subject and a command to run")
    func faults() throws {
        let ns = try TestNamespace("diag-faults")
        try buildClean(ns)
        // Bridge down; an uplink down; STP holding a port (30 s forward delay); a guest bridge without its
        // uplink; a name that promises another VNI; a 15-character name; a tap with a smaller MTU; the underlay
        // too small for VXLAN; one MAC on two bridges; cloud0 without its address and a link-local route
        // through another device.
        try ns.ip("link add brvx-301 type bridge")
        try ns.ip("link add vxlan301 type vxlan id 301 local 10.99.0.1 dev eth1 dstport 4789")
        try ns.ip("link set vxlan301 master brvx-301 up")
        try ns.ip("link add brvx-302 type bridge")
        try ns.ip("link add vxlan302 type vxlan id 302 local 10.99.0.1 dev eth1 dstport 4789")
        try ns.ip("link set vxlan302 master brvx-302")
        try ns.ip("link set brvx-302 up")
        try ns.ip("link add brvx-303 type bridge stp_state 1 forward_delay 3000")
        try ns.ip("link add vxlan303 type vxlan id 303 local 10.99.0.1 dev eth1 dstport 4789")
        try ns.ip("link set vxlan303 master brvx-303 up")
        try ns.ip("link set brvx-303 up")
        try ns.ip("link add brvx-304 type bridge")
        try ns.ip("link set brvx-304 up")
        try ns.ip("link add brvx-305 type bridge")
        try ns.ip("link add vxlan306 type vxlan id 306 local 10.99.0.1 dev eth1 dstport 4789")
        try ns.ip("link set vxlan306 master brvx-305 up")
        try ns.ip("link set brvx-305 up")
        try ns.ip("tuntap add dev tap-fifteen-chr mode tap")
        try ns.ip("link set tap-fifteen-chr master brvx-100 up")
        try ns.ip("link set tap-i10 mtu 1400")
        try ns.ip("link add u0 type veth peer name u1")
        try ns.ip("link set u0 mtu 1550 up")
        try ns.ip("link set u1 up")
        try ns.ip("addr add 10.98.0.1/24 dev u0")
        try ns.ip("link add brvx-307 type bridge")
        try ns.ip("link add vxlan307 type vxlan id 307 local 10.98.0.1 dev u0 dstport 4789")
        try ns.ip("link set vxlan307 master brvx-307 up")
        try ns.ip("link set brvx-307 up")
        try ns.ip("link set u0 mtu 1450")  // after the VXLAN device took its 1500: the kernel lets the underlay shrink
        try Shell.must([
            "bridge", "-n", ns.name, "fdb", "add", "02:00:00:00:00:99", "dev", "tap-i10", "master", "static",
        ])
        try Shell.must([
            "bridge", "-n", ns.name, "fdb", "add", "02:00:00:00:00:99", "dev", "vxlan307", "master", "static",
        ])
        try ns.ip("addr del 169.254.0.1/16 dev cloud0")
        try ns.ip("route add 169.254.0.0/16 dev eth1")
        try ns.ip("tuntap add dev tap-i11 mode tap")
        try ns.ip("link set tap-i11 address fe:00:4c:5e:00:0b master brvx-301 up")

        let (status, report, stderr) = try diagnose(ns, domains: Self.faultDomains)
        #expect(status == 2, "errors found: exit 2 (\(stderr))")
        let found = Set(report.findings.map { "\($0.code) \($0.subject)" })
        let expected = [
            "bridge-down brvx-301", "port-down vxlan302", "port-not-forwarding vxlan303",
            "guest-bridge-no-uplink brvx-304",
            "bridge-name-mismatch brvx-305", "name-at-limit tap-fifteen-chr", "mtu-mismatch tap-i10", "mtu-mismatch u0",
            "fdb-duplicate-mac 02:00:00:00:00:99", "control-address-missing cloud0", "link-local-route 169.254.0.0/16",
            "tap-bridge-mismatch i-2-11-VM eth0", "nic-tap-missing r-9-VM eth0", "tap-unclaimed tap-fifteen-chr",
            "system-vm-no-control r-9-VM", "router-no-public r-9-VM", "vpc-tier-bridge r-8-VM eth2",
        ]
        for finding in expected { #expect(found.contains(finding), "\(finding) in \(found.sorted())") }
        #expect(report.findings.allSatisfy { !$0.action.isEmpty && !$0.message.isEmpty })
        #expect(
            report.findings.first { $0.code == "mtu-mismatch" && $0.subject == "u0" }?.message.contains(
                "vxlan307 needs 1550 (its 1500 + 50 for VXLAN)") == true)

        // Scoped to one network: only what concerns it.
        let scoped = try diagnose(ns, ["network", "vni:307"], domains: Self.faultDomains)
        #expect(
            Set(scoped.report.findings.map(\.code)) == ["mtu-mismatch", "fdb-duplicate-mac", "guest-bridge-empty"],
            "\(scoped.report.findings)")

        // No cloud0 at all.
        try ns.ip("link del cloud0")
        #expect(try diagnose(ns).report.findings.contains { $0.code == "control-bridge-missing" })

        // libvirt unreachable: said as a finding, with what to do.
        let noLibvirt = try KVMTopoBinary.run(
            [
                "diagnose", "--json", "--agent-properties", properties,
                "--libvirt", "qemu+unix:///system?socket=/nonexistent/sock",
            ], in: ns)
        let unreachable = try JSONDecoder().decode(Report.self, from: noLibvirt.stdout).findings.first {
            $0.code == "source-unavailable"
        }
        #expect(unreachable?.subject == "libvirt" && unreachable?.action.contains("libvirtd") == true)
    }

    @Test(
        "br_netfilter: IPv4 bridged through iptables but IPv6 not is a warning",
        .enabled("needs br_netfilter's per-namespace switches") {
            FileManager.default.fileExists(atPath: "/proc/sys/net/bridge/bridge-nf-call-ip6tables")
        })
    func brNetfilter() throws {
        let ns = try TestNamespace("diag-brnf")
        try buildClean(ns)
        try #require(try ns.exec(["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1"]).status == 0)
        let off = try ns.exec(["sysctl", "-qw", "net.bridge.bridge-nf-call-ip6tables=0"])
        try #require(off.status == 0, "\(off.stderr)")
        let host = try String(contentsOfFile: "/proc/sys/net/bridge/bridge-nf-call-ip6tables", encoding: .utf8)
        let (status, report, _) = try diagnose(ns)
        let finding = report.findings.first { $0.code == "br-netfilter" }
        #expect(
            finding?.severity == "warning" && finding?.message.contains("not through ip6tables") == true,
            "\(report.findings)")
        #expect(status == 1)
        #expect(
            try String(contentsOfFile: "/proc/sys/net/bridge/bridge-nf-call-ip6tables", encoding: .utf8) == host,
            "the switch is per namespace: the host's own is untouched")
    }
}

extension DiagnoseTests {
    @Test("VXLAN groups past igmp_max_memberships: the device past it does not come up, and is named")
    func vxlanGroupLimit() throws {
        let ns = try TestNamespace("diag-igmp")
        try buildClean(ns)
        let hostLimit = try String(contentsOfFile: "/proc/sys/net/ipv4/igmp_max_memberships", encoding: .utf8)
        try #require(try ns.exec(["sysctl", "-qw", "net.ipv4.igmp_max_memberships=2"]).status == 0)
        for vni in 201...203 {
            try ns.ip("link add vxlan\(vni) type vxlan id \(vni) group 239.0.0.\(vni - 200) dev eth1 dstport 8472")
            _ = try ns.exec(["ip", "link", "set", "vxlan\(vni)", "up"])
        }
        let (status, report, _) = try diagnose(ns)
        let finding = try #require(report.findings.first { $0.code == "vxlan-group-limit" }, "\(report.findings)")
        #expect(finding.severity == "error" && status == 2)
        #expect(
            finding.message
                == "3 VXLAN multicast groups on UDP port 8472, net.ipv4.igmp_max_memberships is 2; down: vxlan203",
            "the kernel refused the third")
        #expect(finding.action.hasPrefix("sysctl -w net.ipv4.igmp_max_memberships="))
        #expect(
            try String(contentsOfFile: "/proc/sys/net/ipv4/igmp_max_memberships", encoding: .utf8) == hostLimit,
            "the limit is per namespace: the host's own is untouched")

        try ns.ip("link del vxlan203")
        let (_, atLimit, _) = try diagnose(ns)
        #expect(
            atLimit.findings.first { $0.code == "vxlan-group-limit" }?.severity == "warning",
            "at the limit: the next network fails")
    }

    @Test("a VXLAN device bound to a bridge port (PR 5078) is an error naming the bridge to bind it to")
    func vxlanUnderBridgePort() throws {
        let ns = try TestNamespace("diag-5078")
        try buildClean(ns)
        try ns.ip("link add cloudbr1 type bridge")
        try ns.ip("link add eth2 type veth peer name eth2-peer")
        try ns.ip("link set eth2 master cloudbr1 up")
        try ns.ip("link set cloudbr1 up")
        try ns.ip("link add vxlan300 type vxlan id 300 group 239.0.1.44 dev eth2 dstport 8472")
        try ns.ip("link set vxlan300 up")
        let (status, report, _) = try diagnose(ns)
        let finding = report.findings.first { $0.code == "vxlan-under-bridge-port" }
        #expect(finding?.subject == "vxlan300" && finding?.severity == "error" && status == 2, "\(report.findings)")
        #expect(finding?.message == "vxlan300 is bound to eth2, a port of bridge cloudbr1")
        #expect(
            !report.findings.contains { $0.code == "vxlan-under-bridge-port" && $0.subject == "vxlan100" },
            "vxlan100 is bound to a NIC on no bridge")
    }
}
