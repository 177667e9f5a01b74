import Foundation
import KernelDrops
import TestSupport
import Testing
import Topology
import Trace

/// The kernel's drop reasons (skb:kfree_skb, read through perf) on the lab's faults, live: on trace's lost hop
/// and in `kvmtopo drops`. The functions are what this kernel (6.18) really reports; on another kernel only the
/// reasons are held to.
enum LabKernelDrops {
    static let pinnedKernel = (try? Shell.run(["uname", "-r"]).output.hasPrefix("6.18")) ?? false

    static func lostHop(_ packets: [TracedPacket], _ summary: String) -> TracedPacket.Hop? {
        packets.first { $0.summary.hasPrefix(summary) }?.hops.first { $0.state == .lost }
    }

    static func expectLocation(_ hop: TracedPacket.Hop?, _ function: String) {
        guard pinnedKernel else { return }
        #expect(hop?.dropLocation?.hasPrefix(function + "+0x") == true, "\(String(describing: hop))")
    }

    static func check(_ snapshot: HostSnapshot) throws {
        let tap = LabTrace.taps(snapshot)

        // public-mtu: a don't-fragment ping of 1500 bytes from upstream to the VR's public address dies in the
        // bridge, before the tap of MTU 1400. Its neighbour entry is flushed first: the VR's ARP reply is how
        // trace learns the address is the VR's.
        #expect(try Lab.run("fault", "public-mtu").status == 0)
        let pinger = """
            sleep 2; ip -n kvmtopo-lab-upstream neigh flush dev pub0
            ip netns exec kvmtopo-lab-upstream ping -M do -s 1472 -c 3 -i 0.5 -W 1 203.0.113.10 >/dev/null
            """
        let tooBig = try traced(
            ["r-4-VM", "--duration", "6", "host 203.0.113.254 and (arp or greater 1000)"], while: pinger)
        let oversized = lostHop(tooBig.packets, "ICMP echo request 203.0.113.254 > 203.0.113.10")
        #expect(oversized?.interface == tap["r-4-VM eth2"], "\(tooBig.packets) \(tooBig.stderr)")
        #expect(oversized?.note?.contains("1500-byte packet is larger than \(tap["r-4-VM eth2"]!)'s MTU 1400") == true)
        #expect(oversized?.dropReason == .notSpecified, "\(String(describing: oversized))")
        #expect(oversized?.dropMeaning == "larger than the MTU of the bridge port it was leaving by")
        #expect(oversized?.dropCertainty == .certain)
        expectLocation(oversized, "br_nf_dev_queue_xmit")
        let kinds = tooBig.summary["kernelDrops"] as? [[String: Any]] ?? []
        #expect(kinds.contains { $0["reason"] as? String == "NOT_SPECIFIED" }, "\(tooBig.summary)")
        #expect(try Lab.run("heal").status == 0)

        try underlayTooSmall(snapshot)

        // stp-listening: i-2-10-VM's port listens; the bridge drops what the guest sends as it comes in.
        #expect(try Lab.run("fault", "stp-listening").status == 0)
        let held = try LabTrace.run(["i-2-10-VM", "-c", "2", "icmp and src 10.1.1.23"])
        let blocked = held.packets.first?.hops.first { $0.state == .lost }
        #expect(blocked?.dropReason == .bridgeIngressSTPState, "\(held.packets) \(held.stderr)")
        #expect(
            blocked?.note?.contains("bridge port \(tap["i-2-10-VM eth0"]!) is listening, not forwarding") == true,
            "\(String(describing: blocked))")
        expectLocation(blocked, "br_handle_frame")
        // drops: the same reason counted while the port is held, placed at the one port STP holds; a scope on
        // another VM leaves it out.
        let counted = try drops()
        let stp = counted.first { $0["reason"] as? String == "BRIDGE_INGRESS_STP_STATE" }
        #expect((stp?["packets"] as? Int ?? 0) > 0, "\(counted)")
        let places = stp?["places"] as? [[String: Any]] ?? []
        #expect(places.map { $0["interface"] as? String } == [tap["i-2-10-VM eth0"]], "\(places)")
        #expect(places.first?["meaning"] as? String == "i-2-10-VM eth0 (tap \(tap["i-2-10-VM eth0"]!)), listening")
        let elsewhere = try dropsReport(["vm", "i-3-20-VM"])["kernel"]?["drops"] as? [[String: Any]] ?? []
        #expect(!elsewhere.contains { $0["reason"] as? String == "BRIDGE_INGRESS_STP_STATE" }, "\(elsewhere)")
        #expect(try Lab.run("heal").status == 0)

        // drop-rule: the nft bridge rule's drops, by reason, in drops; and in trace without a tracepoint (a
        // tracefs that is not there), one line says so and the firewall's verdict is still given.
        #expect(try Lab.run("fault", "drop-rule").status == 0)
        let report = try dropsReport()
        let filtered = report["kernel"]?["drops"] as? [[String: Any]] ?? []
        let netfilter = filtered.first { $0["reason"] as? String == "NETFILTER_DROP" }
        // ... and the rule that did it, by its counter.
        let rules = report["firewall"]?["rules"] as? [[String: Any]] ?? []
        let faultRule = rules.first { $0["table"] as? String == "kvmtopo_lab_fault" }
        #expect(faultRule?["chain"] as? String == "forward" && (faultRule?["packets"] as? Int ?? 0) > 0, "\(rules)")
        #expect((netfilter?["packets"] as? Int ?? 0) > 0, "\(filtered)")
        #expect(netfilter?["meaning"] as? String == "a firewall rule dropped it")
        let chains = (netfilter?["places"] as? [[String: Any]] ?? []).compactMap { $0["meaning"] as? String }
        #expect(chains.contains { $0.hasPrefix("bridge kvmtopo_lab_fault forward rule ") }, "\(chains)")
        let without = try LabTrace.run([
            "i-3-20-VM", "-c", "1", "--tracefs", "/nonexistent", "icmp and src 10.0.1.10 and dst 10.0.2.10",
        ])
        #expect(
            without.stderr.contains("no kernel drop reasons: no tracefs at /nonexistent; the firewall walk only"),
            "\(without.stderr)")
        let walked = without.packets.first?.hops.first { $0.state == .lost }
        #expect(
            walked?.firewallVerdict?.table == "kvmtopo_lab_fault" && walked?.dropReason == nil, "\(without.packets)")
        #expect(try Lab.run("heal").status == 0)
    }

    /// uplink-mtu on a VXLAN network: a don't-fragment ping of 1500 bytes from upstream, routed by r-4-VM to a
    /// guest on the other host, needs 1550 bytes on an underlay of 1450. The VXLAN device frees nothing: it
    /// answers "fragmentation needed" itself, in the destination's name, and trace shows that answer.
    static func underlayTooSmall(_ snapshot: HostSnapshot) throws {
        let bridge = snapshot.domains.first { $0.name == "r-4-VM" }?.nics.first?.bridge
        let uplink = snapshot.bridges.first { $0.name == bridge }?.ports.first { !$0.hasPrefix("vnet") }
        guard let vxlan = snapshot.links.first(where: { $0.name == uplink })?.vxlan, let group = vxlan.group else {
            print("skipped: uplink-mtu's VXLAN answer: the lab's guest networks are VLANs on this kernel")
            return
        }
        let remote = RemoteGuest(vni: vxlan.vni, group: group, port: vxlan.port ?? 8472)
        try remote.start()
        defer { remote.stop() }
        let ping = "ip netns exec kvmtopo-lab-upstream ping -M do -s 1472 -W 1"
        // It fits before the fault: one answer within 10 s (r-4-VM may first give up on an older neighbour entry).
        #expect(try Shell.run(["bash", "-c", "\(ping) -c 1 -w 10 \(RemoteGuest.address)"]).status == 0)

        #expect(try Lab.run("fault", "uplink-mtu").status == 0)
        let traced = try traced(
            ["r-4-VM", "--duration", "5", "host \(RemoteGuest.address)"],
            while: "sleep 2; ip -n kvmtopo-lab-upstream route flush cache; \(ping) -c 2 -i 0.5 \(RemoteGuest.address)")
        #expect(try Lab.run("heal").status == 0)
        let lost = lostHop(traced.packets, "ICMP echo request 203.0.113.254 > \(RemoteGuest.address)")
        #expect(lost?.interface == "eth1", "\(traced.packets) \(traced.stderr)")
        let note = lost?.note ?? ""
        #expect(note.contains("1500-byte packet needs MTU 1550 on the underlay; eth1 has 1450"), "\(note)")
        #expect(
            note.contains(
                "an ICMP error came back instead: destination unreachable (fragmentation needed, mtu 1400), "
                    + "first seen at \(uplink!)"), "\(note)")
        // Pinned to 6.18: vxlan_xmit_one turns the frame into the ICMP error (vxlan_encap_bypass), no kfree_skb.
        if pinnedKernel {
            #expect(lost?.dropReason == nil && note.contains("the kernel recorded no drop of it"), "\(note)")
        }
    }

    /// A guest on the other end of the underlay: a VXLAN device with an address of the isolated network in the
    /// lab's peer namespace (on its switch, the bridge "underlay"), reached through r-4-VM. The upstream's learned path MTU goes with it.
    struct RemoteGuest {
        static let address = "10.1.1.250"
        let vni: Int
        let group: String
        let port: Int

        func start() throws {
            stop()
            let peer = ["ip", "-n", "kvmtopo-lab-peer"]
            for command in [
                [
                    "link", "add", "vxlan\(vni)", "type", "vxlan", "id", "\(vni)", "group", group, "ttl", "10", "dev",
                    "underlay", "dstport", "\(port)",
                ],
                // One MAC every time: r-4-VM keeps its neighbour entry from an earlier run.
                ["link", "set", "vxlan\(vni)", "address", "02:00:4c:5e:00:fa", "mtu", "1500", "up"],
                ["addr", "add", "\(Self.address)/24", "dev", "vxlan\(vni)"],
                ["route", "replace", group, "dev", "underlay"],
                ["route", "replace", "203.0.113.0/24", "via", "10.1.1.1"],
            ] {
                let result = try Shell.run(peer + command)
                #expect(result.status == 0, "\(command): \(result.stderr)")
            }
        }

        func stop() {
            _ = try? Shell.run(["ip", "-n", "kvmtopo-lab-peer", "link", "del", "vxlan\(vni)"])
            _ = try? Shell.run(["ip", "-n", "kvmtopo-lab-peer", "route", "del", group])
            _ = try? Shell.run(["ip", "-n", "kvmtopo-lab-upstream", "route", "flush", "cache"])
        }
    }

    /// trace --json on the lab while `script` runs beside it.
    static func traced(_ arguments: [String], while script: String) throws -> LabTrace.Run {
        let background = Process()
        background.executableURL = URL(fileURLWithPath: "/bin/bash")
        background.arguments = ["-c", script]
        try background.run()
        defer { background.waitUntilExit() }
        return try LabTrace.run(arguments)
    }

    /// kvmtopo drops --json over 3 seconds: the kernel's drops by kind.
    static func drops() throws -> [[String: Any]] { try dropsReport()["kernel"]?["drops"] as? [[String: Any]] ?? [] }

    /// kvmtopo drops --json over 3 seconds (with `scope`): its report's parts, by name.
    static func dropsReport(_ scope: [String] = []) throws -> [String: [String: Any]] {
        let result = try Lab.run(["exec", KVMTopoBinary.path, "drops"] + scope + ["--duration", "3", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any]
        let kernel = report?["kernel"] as? [String: Any]
        #expect(kernel?["unavailable"] == nil && kernel?["lostRecords"] as? Int == 0, "\(String(describing: kernel))")
        return [
            "kernel": kernel ?? [:],
            "firewall": ["rules": report?["firewall"] as? [[String: Any]] ?? []],
        ]
    }
}
