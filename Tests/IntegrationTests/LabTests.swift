import Foundation
import TestSupport
import Testing
import Topology

/// examples/lab driven for real: what it builds is what kvmtopo must see, and every fault it injects must show.
enum Lab {
    static let script = PackageRoot.path + "/examples/lab/lab"
    static let guests = [
        "r-4-VM", "i-2-10-VM", "i-2-11-VM", "r-7-VM", "i-3-20-VM", "i-3-21-VM", "s-1-VM", "i-5-30-VM", "i-5-31-VM",
    ]

    static func run(_ arguments: String...) throws -> CommandResult { try run(arguments) }
    static func run(_ arguments: [String]) throws -> CommandResult { try Shell.run([script] + arguments) }

    /// By command line: a process name is cut to 15 characters ("qemu-system-x86").
    static func processRunning(_ program: String) throws -> Bool {
        try Shell.run(["pgrep", "-f", "^(/usr/s?bin/)?\(program) "]).status == 0
    }

    static func dump() throws -> HostSnapshot {
        let result = try run("exec", KVMTopoBinary.path, "dump")
        guard result.status == 0 else { throw FixtureError("kvmtopo dump in the lab: \(result.stderr)") }
        return try SnapshotCodec.decode(result.stdout, source: "lab dump")
    }
}

extension RealLibvirtTests {
    @Suite("examples/lab", .enabled(if: Host.isRoot, "the lab needs root (network namespaces, libvirtd)"))
    struct LabTests {
        @Test("lab up builds a CloudStack host kvmtopo sees whole; faults show; heal and down leave nothing")
        func lifecycle() throws {
            let wasUp = try Lab.run("status").status == 0
            // A virtlogd that ran before (the system's own) is not the lab's to stop.
            let virtlogdBefore = try Lab.processRunning("virtlogd")
            let sshdBefore = try Lab.processRunning("sshd")
            let up = try Lab.run("up")
            try #require(up.status == 0, "lab up failed: \(up.stderr)")

            // The clean lab: nine CloudStack guests, every NIC joined to its tap, no warnings.
            var snapshot = try Lab.dump()
            #expect(snapshot.host.sources.libvirt.status == .ok)
            for name in Lab.guests {
                let domain = try #require(snapshot.domains.first { $0.name == name }, "\(name) is listed")
                #expect(domain.state == .running)
                #expect(domain.smbios?.product == "CloudStack KVM Hypervisor")
                #expect(
                    domain.nics.allSatisfy { $0.tapFound == true && $0.hostBridge == $0.bridge },
                    "\(name): \(domain.nics)")
            }
            #expect(snapshot.warnings.isEmpty, "\(snapshot.warnings)")
            let links = Dictionary(snapshot.links.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            let router = try #require(snapshot.domains.first { $0.name == "r-4-VM" })
            #expect(
                router.nics.map(\.bridge) == [router.nics[0].bridge, "cloud0", "cloudbr0"], "guest, control, public")
            #expect(router.nics[1].mac == "0e:00:a9:fe:03:91")
            let vpcRouter = try #require(snapshot.domains.first { $0.name == "r-7-VM" })
            #expect(vpcRouter.nics.map(\.bridge).prefix(2) == ["cloud0", "cloudbr0"], "control, public, then tiers")
            #expect(
                links["cloud0"]?.addresses.contains { $0.address == "169.254.0.1" && $0.prefixLength == 16 } == true)
            #expect(links["cloudbr1"]?.master == nil && links["eth0"]?.master == "cloudbr1")
            #expect(links["eth2"]?.master == "cloudbr0")
            let guestBridge = try #require(router.nics[0].bridge)
            let uplink = try #require(
                snapshot.bridges.first { $0.name == guestBridge }?.ports.first { !$0.hasPrefix("vnet") })
            if let vxlan = links[uplink]?.vxlan {
                #expect(guestBridge == "brvx-\(vxlan.vni)")
                // Bound to the guest traffic label's bridge, which holds eth1 and the underlay address.
                #expect(vxlan.device == "cloudbr2" && links["eth1"]?.master == "cloudbr2")
                #expect(
                    [links["eth1"], links["cloudbr2"]].allSatisfy {
                        $0.map { $0.mtu >= links[uplink]!.mtu + 50 } == true
                    },
                    "the underlay leaves room for VXLAN")
            } else {
                #expect(links[uplink]?.vlan?.parent == "eth1")
            }

            // kvmtopo show on the live lab: the CloudStack picture, not just the devices.
            let shown = try Lab.run("exec", KVMTopoBinary.path, "show", "--ascii").output
            #expect(shown.contains("9 domains (2 routers, 1 system VM, 6 VMs)"), "\(shown)")
            #expect(
                shown.contains("Isolated network  ")
                    && shown.contains(
                        "\(guestBridge) -- \(uplink) -- \(links[uplink]?.vxlan == nil ? "" : "cloudbr2 -- ")eth1"),
                "\(shown)")
            #expect(shown.contains("VPC  router r-7-VM"))
            #expect(shown.contains("* r-4-VM") && shown.contains("gateway"))
            #expect(shown.contains("169.254.3.145"), "the VR's control address, from its MAC")
            let vmView = try Lab.run("exec", KVMTopoBinary.path, "show", "vm", "i-3-20-VM").output
            #expect(vmView.contains("router  r-7-VM eth2"), "\(vmView)")
            try LabTrace.cleanPaths(snapshot)
            try LabTrace.routerExitDown(snapshot)
            try LabTrace.otherTools(snapshot)
            try LabTrace.listen()
            try LabTrace.diagnose(faulty: false, snapshot)
            try LabTrace.readOnly()
            let health = try LabHealthCheck()
            try health.healthy()

            // Faults, one after the other, as the tests of show, trace and diagnose will use them.
            let routerTap = try #require(router.nics[0].tap)
            let user11Tap = try #require(snapshot.domains.first { $0.name == "i-2-11-VM" }?.nics[0].tap)
            for fault in ["router-tap-down", "uplink-mtu", "tap-detached", "stray-tap", "drop-rule"] {
                let injected = try Lab.run("fault", fault)
                #expect(injected.status == 0, "\(fault): \(injected.stderr)")
            }
            // Traced at once: the guests stop sending to a router whose tap is down once their ARP entry expires.
            try LabTrace.faults(snapshot)
            snapshot = try Lab.dump()
            let faulty = Dictionary(snapshot.links.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            #expect(faulty[routerTap]?.up == false)
            #expect(faulty["eth1"]?.mtu == 1450)
            let found = Set(snapshot.warnings.map { "\($0.code) \($0.subject)" })
            #expect(found == ["tap-no-master i-2-11-VM eth0", "tap-unclaimed vnet-stray"], "\(found)")
            #expect(faulty[user11Tap]?.master == nil)
            let faultsShown = try Lab.run("exec", KVMTopoBinary.path, "show", "--ascii").output
            // show marks what diagnose finds, with diagnose's severity and words.
            #expect(faultsShown.contains("x \(router.name) eth0's tap \(routerTap) is down"), "\(faultsShown)")
            #expect(faultsShown.contains("! tap vnet-stray on \(guestBridge) belongs to no libvirt domain"))
            #expect(faultsShown.contains("x tap \(user11Tap) is on no bridge"))
            #expect(
                faultsShown.contains("x eth1 has MTU 1450; \(uplink) needs 1550 (its 1500 + 50 for VXLAN)")
                    || links[uplink]?.vxlan == nil, "\(faultsShown)")
            // The drop rule is invisible to netlink; its counter shows i-3-20-VM's pings hitting it.
            Thread.sleep(forTimeInterval: 2.5)
            let rule = try Lab.run("exec", "nft", "list", "table", "bridge", "kvmtopo_lab_fault").output
            let dropped = rule.firstMatch(of: /counter packets (\d+)/).flatMap { Int($0.1) } ?? 0
            #expect(dropped > 0, "\(rule)")
            try LabTrace.diagnose(faulty: true, snapshot)
            try health.cutOff()

            #expect(try Lab.run("heal").status == 0)
            try health.healed()
            snapshot = try Lab.dump()
            #expect(snapshot.warnings.isEmpty, "\(snapshot.warnings)")
            let healed = Dictionary(snapshot.links.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            #expect(healed[routerTap]?.up == true)
            #expect(healed["eth1"]?.mtu == 1550)
            try LabSecurityGroups.check()
            try LabKernelDrops.check(snapshot)
            try LabDiff.check(snapshot)
            try LabZone.check()

            try LabTrace.guestDestroyed(snapshot)
            // Last: it destroys and starts i-2-11-VM (a new tap) and restarts libvirtd.
            try LabWatch.check()

            guard !wasUp else { return }  // a lab the developer had up stays up
            #expect(try Lab.processRunning("qemu-system-x86_64"), "the process check finds the lab's guests while up")
            #expect(try Lab.run("down").status == 0)
            let namespaces = try Shell.run(["ip", "netns", "list"]).output
            #expect(!namespaces.contains("kvmtopo-lab"), "no namespace of the lab is left: \(namespaces)")
            #expect(!FileManager.default.fileExists(atPath: "/var/lib/kvmtopo-lab"))
            #expect(!FileManager.default.fileExists(atPath: "/run/kvmtopo-lab-faults"))
            for name in Lab.guests {
                #expect(
                    !FileManager.default.fileExists(atPath: "/etc/libvirt/qemu/\(name).xml"), "\(name) is undefined")
            }
            for process in ["libvirtd", "virtlogd", "qemu-system-x86_64", "sshd"]
            where (process != "virtlogd" || !virtlogdBefore) && (process != "sshd" || !sshdBefore) {
                #expect(try !Lab.processRunning(process), "no \(process) is left")
            }
        }
    }
}

/// The lab on an ordinary Debian host, whose kernel package is installed and whose apt cache is clean: apt-get
/// install -d fetches nothing then, and the lab must get the kernel anyway. Played in a private mount namespace
/// whose /var is an overlay (dpkg's status gains the kernel package there), so the machine itself is not changed.
@Suite(
    "examples/lab on a host with its kernel package installed",
    .enabled(if: Host.isRoot, "needs root for a private mount namespace"),
    .enabled(
        if: Host.missing("apt-cache", "dpkg").isEmpty, "needs Debian's apt and dpkg"))
struct LabKernelInstalledTests {
    @Test("lab image builds the guest kernel and initramfs when the kernel package is installed and not cached")
    func kernelInstalled() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("kvmtopo-overlay-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: work) }
        let script = """
            set -eu
            kernel=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
            version=$(apt-cache policy "$kernel" | awk '/Candidate:/ { print $2 }')
            mkdir -p \(work)/upper \(work)/work
            mount -t overlay overlay -o lowerdir=/var,upperdir=\(work)/upper,workdir=\(work)/work /var
            status=/var/lib/dpkg/status
            printf '\\nPackage: %s\\nStatus: install ok installed\\nPriority: optional\\n' "$kernel" >> $status
            printf 'Section: kernel\\nMaintainer: test\\nArchitecture: amd64\\nVersion: %s\\n' "$version" >> $status
            printf 'Description: the kernel\\n' >> $status
            rm -rf /var/cache/kvmtopo-lab /var/lib/kvmtopo-lab
            rm -f /var/cache/apt/archives/linux-image-*.deb
            apt-cache policy "$kernel" | grep -q "Installed: $version" && echo "installed: $kernel"
            \(Lab.script) image
            test -s /var/lib/kvmtopo-lab/vmlinuz && test -s /var/lib/kvmtopo-lab/initrd.gz && echo "image built"
            """
        let result = try Shell.run(["unshare", "--mount", "--propagation", "private", "bash", "-c", script])
        #expect(result.output.contains("installed: linux-image-"), "the premise: \(result.output) \(result.stderr)")
        #expect(result.status == 0 && result.output.contains("image built"), "\(result.output) \(result.stderr)")
        #expect(
            FileManager.default.fileExists(atPath: "\(work)/upper/lib/kvmtopo-lab/vmlinuz"),
            "what it built went to the overlay, not to the machine's /var")
        let status = try String(contentsOfFile: "/var/lib/dpkg/status", encoding: .utf8)
        #expect(!status.contains("Description: the kernel\n"), "the machine's dpkg status is untouched")
    }
}
