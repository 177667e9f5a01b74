import Foundation
import Packets
import TestSupport
import Testing
import Topology
import Trace

/// `kvmtopo trace` live on the lab's guests, called from the lab's lifecycle test while the lab is up (booting
/// it takes half a minute; it is done once).
enum LabTrace {
    struct Run {
        var packets: [TracedPacket]
        var summary: [String: Any]
        var status: Int32
        var stderr: String
    }

    static func run(_ arguments: [String], duration: Int = 15) throws -> Run {
        // --duration: a fault can stop the guests sending what -c waits for; a test must end anyway.
        let result = try Lab.run(
            ["exec", KVMTopoBinary.path, "trace", "--json", "--timeout", "1", "--duration", "\(duration)"] + arguments)
        var packets: [TracedPacket] = []
        var summary: [String: Any] = [:]
        for line in result.output.split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            if object?["type"] as? String == "summary" { summary = object ?? [:] }
            if object?["type"] as? String == "packet" {
                packets.append(try JSONDecoder().decode(TracedPacket.self, from: Data(line.utf8)))
            }
        }
        return Run(packets: packets, summary: summary, status: result.status, stderr: result.stderr)
    }

    static func taps(_ snapshot: HostSnapshot) -> [String: String] {
        var taps: [String: String] = [:]
        for domain in snapshot.domains { for nic in domain.nics { taps["\(domain.name) eth\(nic.index)"] = nic.tap } }
        return taps
    }

    static func path(_ packet: TracedPacket) -> [String] {
        packet.hops.filter { $0.note?.hasPrefix("flooded") != true && $0.note != "also seen" }
            .map { "\($0.state == .lost ? "lost " : "")\($0.interface ?? $0.meaning)" }
    }

    /// The clean lab: two VMs on one network, across VPC tiers, out through the isolated VR; -w; Ctrl-C.
    static func cleanPaths(_ snapshot: HostSnapshot) throws {
        let tap = taps(snapshot)

        let sameNetwork = try run(["i-2-11-VM", "--to", "i-2-10-VM", "-c", "3", "icmp"])
        #expect(sameNetwork.status == 0, "\(sameNetwork.stderr)")
        #expect(sameNetwork.packets.count == 3)
        // A trace that starts between a request and its reply sees that reply alone first.
        let pings = sameNetwork.packets.drop { $0.summary.hasPrefix("ICMP echo reply") }
        #expect(pings.count >= 2)
        for packet in pings {
            #expect(packet.summary.hasPrefix("ICMP echo request 10.1.1.24 > 10.1.1.23"), "\(packet.summary)")
            #expect(path(packet) == [tap["i-2-11-VM eth0"]!, tap["i-2-10-VM eth0"]!])
            #expect(packet.outcome == "delivered to i-2-10-VM eth0")
            #expect(packet.reply.first.map(path) == [tap["i-2-10-VM eth0"]!, tap["i-2-11-VM eth0"]!])
        }

        // i-3-21-VM pings back: its requests are left out, so that six packets hold five of i-3-20-VM's at least.
        // Up to 40 s: just after lab up, eleven TCG guests share two cores and a guest's ping loop can take
        // seconds a round.
        let tiers = try run(
            [
                "i-3-20-VM", "-c", "6",
                "icmp and ((src 10.0.1.10 and dst 10.0.2.10 and icmp[icmptype] == icmp-echo)"
                    + " or (src 10.0.2.10 and dst 10.0.1.10 and icmp[icmptype] == icmp-echoreply))",
            ], duration: 40)
        let requests = tiers.packets.filter { $0.summary.hasPrefix("ICMP echo request 10.0.1.10 > 10.0.2.10") }
        #expect(tiers.status == 0 && tiers.packets.count == 6 && requests.count >= 5, "\(tiers.stderr)")
        for packet in requests {
            #expect(
                path(packet) == [
                    tap["i-3-20-VM eth0"]!, tap["r-7-VM eth2"]!, "routed by r-7-VM", tap["r-7-VM eth3"]!,
                    tap["i-3-21-VM eth0"]!,
                ], "\(packet.hops)")
            #expect(packet.hops.first { $0.kind == .router }?.note?.contains("ttl 64→63") == true)
            #expect(packet.reply.count == 1 && !packet.lost)
        }
        #expect(tiers.summary["packets"] as? Int == 6)
        let capture = tiers.summary["capture"] as? [String: Int]
        #expect(
            capture?["dropped"] == 0 && (capture?["received"] ?? 0) > 0, "drops are counted and shown: \(tiers.summary)"
        )

        let pcapng = "/tmp/kvmtopo-lab-trace-\(getpid()).pcapng"
        defer { try? FileManager.default.removeItem(atPath: pcapng) }
        let outside = try run(["i-2-10-VM", "-c", "2", "-w", pcapng, "icmp and host 198.51.100.1"])
        #expect(outside.status == 0 && outside.packets.count == 2, "\(outside.stderr)")
        for packet in outside.packets {
            #expect(
                path(packet) == [
                    tap["i-2-10-VM eth0"]!, tap["r-4-VM eth0"]!, "routed by r-4-VM", tap["r-4-VM eth2"]!, "eth2",
                ])
            #expect(packet.outcome == "left the host on eth2")
            #expect(
                packet.hops.first { $0.kind == .router }?.note?.hasSuffix("NAT source 10.1.1.23→203.0.113.10") == true,
                "the VR's source NAT is followed and shown: \(packet.hops)")
            #expect(
                packet.reply.first.map(path) == [
                    "eth2", tap["r-4-VM eth2"]!, "routed by r-4-VM", tap["r-4-VM eth0"]!,
                    tap["i-2-10-VM eth0"]!,
                ])
        }
        // The capture: private, one interface per capture point with its meaning, every frame of the packets.
        let attributes = try FileManager.default.attributesOfItem(atPath: pcapng)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let saved = try PcapNG.read([UInt8](try Data(contentsOf: URL(fileURLWithPath: pcapng))))
        #expect(
            saved.interfaces.contains { $0.name == tap["r-4-VM eth2"] && $0.comment == "r-4-VM eth2 (public cloudbr0)" }
        )
        #expect(saved.records.count >= 10)
        let tshark = try Shell.run(["tshark", "-r", pcapng])
        #expect(
            tshark.status == 0 && tshark.output.split(separator: "\n").count == saved.records.count,
            "tshark reads every frame (scripts/bootstrap --test installs it): \(tshark.stderr)")
        // Replayed with the topology it was captured on, the same packets come out.
        let dumpFile = "/tmp/kvmtopo-lab-trace-\(getpid()).json"
        defer { try? FileManager.default.removeItem(atPath: dumpFile) }
        #expect(try Lab.run(["exec", KVMTopoBinary.path, "dump", "-o", dumpFile]).status == 0)
        let replayed = try Shell.run([
            KVMTopoBinary.path, "trace", "i-2-10-VM", "--json", "--read", pcapng, "--from", dumpFile,
        ])
        let replayedPackets = replayed.output.split(separator: "\n").filter { $0.hasPrefix("{\"type\":\"packet\"") }
        #expect(replayedPackets.count == 2, "\(replayed.output)")

        // Ctrl-C: the summary within a second, and a whole pcapng.
        let started = ContinuousClock.now
        let interrupted = try Lab.run([
            "exec", "timeout", "--preserve-status", "-s", "INT", "2",
            KVMTopoBinary.path, "trace", "i-3-20-VM", "-w", pcapng,
        ])
        let took = ContinuousClock.now - started
        #expect(interrupted.status == 0, "\(interrupted.stderr)")
        #expect(interrupted.output.contains("Summary"), "\(interrupted.output)")
        #expect(took < .seconds(4), "stopped \(took) after start; SIGINT came at 2 s")
        #expect(throws: Never.self) { try PcapNG.read([UInt8](try Data(contentsOf: URL(fileURLWithPath: pcapng)))) }
    }

    /// The guests' addresses as the lab gives them (examples/lab/lab), by domain and NIC.
    static let addresses = [
        "r-4-VM eth0": "10.1.1.1", "r-4-VM eth2": "203.0.113.10", "i-2-10-VM eth0": "10.1.1.23",
        "i-2-11-VM eth0": "10.1.1.24",
        "r-7-VM eth1": "203.0.113.20", "r-7-VM eth2": "10.0.1.1", "r-7-VM eth3": "10.0.2.1",
        "i-3-20-VM eth0": "10.0.1.10",
        "i-3-21-VM eth0": "10.0.2.10", "s-1-VM eth1": "192.0.2.12", "s-1-VM eth2": "203.0.113.33",
        "i-5-30-VM eth0": "10.3.0.30", "i-5-31-VM eth0": "10.3.0.31",
    ]

    /// dump --listen: what the guests' ARP says about their addresses is right. Guests that talk all the time
    /// ARP rarely, so the upstream router is made to ask for r-4-VM's public address while kvmtopo listens.
    static func listen() throws {
        let script = """
            (\(Lab.script) exec \(KVMTopoBinary.path) dump --listen 6) &
            sleep 2
            ip -n kvmtopo-lab-upstream neigh flush all
            ip netns exec kvmtopo-lab-upstream busybox ping -c 1 -W 1 203.0.113.10 >/dev/null
            wait
            """
        let result = try Shell.run(["bash", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        let snapshot = try SnapshotCodec.decode(result.stdout, source: "dump --listen")
        #expect(snapshot.host.sources.packets?.status == .ok)
        var learned = 0
        for domain in snapshot.domains {
            for nic in domain.nics where [.arp, .dhcp, .nd].contains(nic.ipSource) {
                learned += 1
                #expect(
                    nic.ip == addresses["\(domain.name) eth\(nic.index)"],
                    "\(domain.name) eth\(nic.index): \(nic.ip ?? "-")")
            }
        }
        #expect(learned > 0)
        let routerPublic = snapshot.domains.first { $0.name == "r-4-VM" }?.nics.first { $0.index == 2 }
        #expect(
            routerPublic?.ip == "203.0.113.10" && routerPublic?.ipSource == .arp,
            "r-4-VM answered the upstream router's ARP")
        #expect(!snapshot.warnings.contains { $0.code == .ipConflict || $0.code == .dhcpServerUnexpected })
        // kvm02's guests are heard through the underlay, from another host; on the guest label's bridge, the
        // underlay's own addresses (kvm02's and the peer's).
        let elsewhere = [
            "203.0.113.254": "eth2", "10.1.1.25": "vxlan1001", "10.0.1.11": "vxlan2001", "10.99.0.2": "eth1",
            "10.99.0.3": "eth1",
        ]
        for neighbour in snapshot.neighbours ?? [] {
            let port = elsewhere[neighbour.ip]
            #expect(
                neighbour.port == port || (port?.hasPrefix("vxlan") == true && neighbour.port.hasPrefix("eth1.")),
                "only the upstream router and kvm02's guests are not ours: \(neighbour)")
        }
    }

    /// What operators capture with on the live lab, while i-3-20-VM pings across the tiers: tcpdump -i any (SLL2
    /// in µs and ns, and SLL v1), dumpcap -i any, and tcpdump -i on each tap of the path, replayed with the lab's
    /// dump. Each usable capture traces the pings; each unusable one says why and what to do.
    static func otherTools(_ snapshot: HostSnapshot) throws {
        let tap = taps(snapshot)
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("kvmtopo-lab-tools-\(getpid())").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let path = ["i-3-20-VM eth0", "r-7-VM eth2", "r-7-VM eth3", "i-3-21-VM eth0"].map { tap[$0]! }
        var captures: [String: [String]] = [
            "sll2": ["tcpdump", "-i", "any", "-y", "LINUX_SLL2"],
            "sll2-ns": ["tcpdump", "-i", "any", "-y", "LINUX_SLL2", "--time-stamp-precision=nano"],
            "sll1": ["tcpdump", "-i", "any", "-y", "LINUX_SLL"],
            "dumpcap": ["dumpcap", "-q", "-i", "any"],
        ]
        for interface in path { captures[interface] = ["tcpdump", "-i", interface] }
        // All at once, for three seconds: the guests ping every second.
        let script =
            captures.map { name, command in
                "timeout 3 \(command.joined(separator: " ")) -w \(work)/\(name).cap icmp 2>/dev/null &"
            }.joined(separator: "\n") + "\nwait\n"
        try Lab.run(["exec", "bash", "-c", script])
        let dump = "\(work)/lab.json"
        try Lab.run(["exec", KVMTopoBinary.path, "dump", "-o", dump])
        func replay(_ reads: [String]) throws -> CommandResult {
            try Shell.run(
                [KVMTopoBinary.path, "trace", "i-3-20-VM", "--from", dump] + reads.flatMap { ["--read", $0] }
                    + ["icmp and src 10.0.1.10 and dst 10.0.2.10"])
        }
        func traced(_ result: CommandResult) -> Bool {
            result.status == 0 && result.output.contains("→ delivered to i-3-21-VM eth0")
                && !result.output.contains("✗")
        }
        for usable in ["sll2", "sll2-ns"] {
            let result = try replay(["\(work)/\(usable).cap"])
            #expect(traced(result), "tcpdump \(usable): \(result.output) \(result.stderr)")
        }
        let perTap = try replay(path.map { "\($0)=\(work)/\($0).cap" })
        #expect(traced(perTap), "tcpdump -i per tap, named: \(perTap.output) \(perTap.stderr)")
        let unnamed = try replay(["\(work)/\(path[0]).cap"])
        #expect(unnamed.stderr.contains("does not name its interface: name it with --read vnet3="), "\(unnamed.stderr)")
        for cooked in ["sll1", "dumpcap"] {
            let result = try replay(["\(work)/\(cooked).cap"])
            #expect(
                result.stderr.contains("re-capture with -y LINUX_SLL2") && result.stderr.contains("none of the"),
                "\(cooked): \(result.stderr)")
        }
    }

    /// r-7-VM's tier-2 tap down on the host, live: the ping into the router is lost at that tap, with its reason,
    /// not "in r-7-VM". The tap comes back up before the other checks.
    static func routerExitDown(_ snapshot: HostSnapshot) throws {
        let exit = try #require(taps(snapshot)["r-7-VM eth3"])
        _ = try Shell.must(["ip", "-n", LibvirtDaemon.namespace, "link", "set", exit, "down"])
        defer { _ = try? Shell.run(["ip", "-n", LibvirtDaemon.namespace, "link", "set", exit, "up"]) }
        let traced = try run(["i-3-20-VM", "-c", "2", "icmp and src 10.0.1.10 and dst 10.0.2.10"])
        #expect(traced.packets.count == 2, "\(traced.stderr)")
        for packet in traced.packets {
            let lost = packet.hops.first { $0.state == .lost }
            #expect(lost?.interface == exit, "\(packet.hops)")
            #expect(lost?.note == "not seen leaving r-7-VM by eth3: \(exit) is down", "\(packet.hops)")
            #expect(!packet.hops.contains { $0.kind == .router }, "the router's inside is not blamed")
        }
    }

    /// With the lab's faults in: the trace names the hop where packets vanish.
    static func faults(_ snapshot: HostSnapshot) throws {
        let tap = taps(snapshot)
        // The router tap first: the guest still sends while its ARP entry for the router lasts (15 s at least).
        let routerDown = try run(["i-2-10-VM", "-c", "2", "icmp and src 10.1.1.23"])
        #expect(routerDown.packets.count == 2, "\(routerDown.stderr)")
        for packet in routerDown.packets {
            let lost = packet.hops.first { $0.state == .lost }
            #expect(
                lost?.interface == tap["r-4-VM eth0"] && lost?.note == "\(tap["r-4-VM eth0"]!) is down",
                "\(packet.hops)")
            #expect(packet.outcome.hasPrefix("lost at \(tap["r-4-VM eth0"]!)"))
        }
        let dropped = try run(["i-3-20-VM", "-c", "4", "icmp and host 10.0.2.10"])
        let requests = dropped.packets.filter { $0.summary.hasPrefix("ICMP echo request 10.0.1.10") }
        #expect(!requests.isEmpty, "\(dropped.packets.map(\.summary)) \(dropped.stderr)")
        for packet in requests {
            #expect(path(packet) == [tap["i-3-20-VM eth0"]!, "lost " + tap["r-7-VM eth2"]!], "\(packet.hops)")
            #expect(packet.lost && packet.replyMissing)
            // The nft bridge rule that drops them, worked out from the dump's firewall.
            let verdict = packet.hops.first { $0.state == .lost }?.firewallVerdict
            #expect(
                verdict?.table == "kvmtopo_lab_fault" && verdict?.chain == "forward" && verdict?.certainty == .certain,
                "\(packet.hops)")
            // The kernel says the same: a firewall rule dropped it.
            let lost = packet.hops.first { $0.state == .lost }
            #expect(lost?.dropReason == .netfilterDrop && lost?.dropCertainty == .certain, "\(packet.hops)")
            LabKernelDrops.expectLocation(lost, "nft_do_chain")
        }

    }

    /// diagnose on the lab: the clean lab has nothing above info (exit 0); with the faults in, each is found with
    /// the command that fixes it (exit 2).
    static func diagnose(faulty: Bool, _ snapshot: HostSnapshot) throws {
        let result = try Lab.run(["exec", KVMTopoBinary.path, "diagnose", "--json"])
        let report = try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any]
        let findings = (report?["findings"] as? [[String: Any]] ?? []).map { finding in
            (
                code: finding["code"] as? String ?? "", severity: finding["severity"] as? String ?? "",
                subject: finding["subject"] as? String ?? "", action: finding["action"] as? String ?? ""
            )
        }
        guard faulty else {
            #expect(result.status == 0, "clean lab: \(findings)")
            #expect(findings.allSatisfy { $0.severity == "info" }, "\(findings)")
            return
        }
        #expect(result.status == 2)
        let tap = taps(snapshot)
        let routerTap = tap["r-4-VM eth0"]!
        let detached = tap["i-2-11-VM eth0"]!
        let expected: [(String, String, String)] = [
            ("port-down", routerTap, "ip link set \(routerTap) up"),
            ("mtu-mismatch", "eth1", "ip link set eth1 mtu 1550"),
            ("tap-no-master", "i-2-11-VM eth0", "ip link set \(detached) master"),
            ("tap-unclaimed", "vnet-stray", "ip link del vnet-stray"),
        ]
        for (code, subject, action) in expected {
            let finding = findings.first { $0.code == code && $0.subject == subject }
            #expect(finding?.action.contains(action) == true, "\(code) \(subject) in \(findings)")
        }
    }

    /// A guest destroyed while it is traced: its tap vanishes, the trace says so on one line and goes on to its
    /// summary. The guest is started again afterwards.
    static func guestDestroyed(_ snapshot: HostSnapshot) throws {
        let tap = taps(snapshot)["i-2-11-VM eth0"]!
        let script = """
            (\(Lab.script) exec timeout --preserve-status -s INT 7 \(KVMTopoBinary.path) trace i-2-11-VM icmp) &
            sleep 3
            \(Lab.script) exec virsh -q -c qemu:///system destroy i-2-11-VM >/dev/null
            wait
            """
        let result = try Shell.run(["bash", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            result.stderr.contains(
                "the traced VM's tap \(tap) (i-2-11-VM eth0 (isolated brvx-1001)) is gone; tracing the rest"),
            "\(result.stderr)")
        #expect(result.output.contains("Summary"), "the trace went on to its summary: \(result.output)")
        #expect(try Lab.run("exec", "virsh", "-q", "-c", "qemu:///system", "start", "i-2-11-VM").status == 0)
    }

    /// Every command on the live lab, and the host is as it was: links, addresses, routes, configured FDB entries,
    /// br_netfilter's switches, the firewall's rules and ipsets, and libvirt's domains.
    static func readOnly() throws {
        let lab = TestNamespace(existing: "kvmtopo-lab")
        let libvirt = { () throws -> String in
            let names = try Lab.run("exec", "virsh", "-q", "-c", "qemu:///system", "list", "--all", "--name").output
            return try names.split(separator: "\n").map { name in
                try Lab.run("exec", "virsh", "-c", "qemu:///system", "dumpxml", String(name)).output
            }.joined()
        }
        // The host's mounts (its first process's): trace and drops mount tracefs privately, if at all.
        let mounts = { try String(contentsOfFile: "/proc/1/mounts", encoding: .utf8) }
        let mountsBefore = try mounts()
        let kernelBefore = try KernelState.capture(lab, configuredOnly: true)
        let libvirtBefore = try libvirt()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kvmtopo-readonly-\(getpid())").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let commands: [[String]] = [
            ["dump"], ["dump", "--format", "dot"], ["show"], ["show", "vm", "r-7-VM"], ["show", "network", "vni:1001"],
            ["show", "vm", "i-5-30-VM"], ["diagnose", "vm", "i-5-31-VM"],
            ["dump", "--listen", "2"], ["trace", "i-3-20-VM", "--duration", "3", "-w", "\(scratch)/t.pcapng"],
            ["trace", "i-2-10-VM", "--json", "-c", "1", "--duration", "5"],
            ["diagnose", "--json", "--prometheus", "\(scratch)/k.prom"], ["drops", "--duration", "1"],
            ["drops", "network", "vni:1001", "--json", "--duration", "1"],
        ]
        for command in commands {
            let result = try Lab.run(["exec", KVMTopoBinary.path] + command)
            #expect(result.status == 0, "kvmtopo \(command.joined(separator: " ")): \(result.stderr)")
        }
        let kernelAfter = try KernelState.capture(lab, configuredOnly: true)
        #expect(
            kernelAfter == kernelBefore,
            "a command changed the host:\n\(KernelState.difference(kernelBefore, kernelAfter))")
        #expect(try libvirt() == libvirtBefore, "a command changed libvirt's domains")
        #expect(try mounts() == mountsBefore, "a command changed the host's mounts")
    }
}
