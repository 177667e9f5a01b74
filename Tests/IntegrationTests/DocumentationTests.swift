import Diagnose
import Foundation
import Render
import TestSupport
import Testing
import Topology
import Trace
import Zone

private struct ToolInfo: Decodable {
    struct Command: Decodable {
        var commandName: String
        var arguments: [Argument]?
        var subcommands: [Command]?
    }

    struct Argument: Decodable {
        struct Name: Decodable {
            var kind: String
            var name: String
        }
        var names: [Name]?
        var shouldDisplay: Bool
    }

    var command: Command
}

private func manPage(_ name: String) throws -> String {
    try String(contentsOfFile: "\(PackageRoot.path)/man/\(name).1", encoding: .utf8)
}

@Suite("documentation keeps up with the code")
struct DocumentationTests {
    @Test("every command has a man page that names each of its options")
    func manPages() throws {
        let help = try KVMTopoBinary.run(["--experimental-dump-help"])
        let tool = try JSONDecoder().decode(ToolInfo.self, from: help.stdout)
        let commands = (tool.command.subcommands ?? []).filter { $0.commandName != "help" }
        #expect(!commands.isEmpty)
        let main = try manPage("kvmtopo")
        for command in commands {
            #expect(main.contains("Cm \(command.commandName)"), "kvmtopo.1 lists \(command.commandName)")
            let page = try manPage("kvmtopo-\(command.commandName)")
            // A command's own options and those of its subcommands (show host|vm|network|vpc).
            let nested = (command.subcommands ?? []).filter { $0.commandName != "help" }
            for view in nested {
                #expect(
                    page.contains("Cm \(view.commandName)"),
                    "kvmtopo-\(command.commandName).1 names \(view.commandName)")
            }
            for argument in ([command] + nested).flatMap({ $0.arguments ?? [] }) where argument.shouldDisplay {
                for name in argument.names ?? [] where name.kind == "long" && name.name != "version" {
                    #expect(
                        page.contains("Fl -\(name.name)") || page.contains("Fl \(name.name.prefix(1)) , -\(name.name)"),
                        "kvmtopo-\(command.commandName).1 documents --\(name.name)")
                }
            }
        }
    }

    @Test("every field of the dump JSON is described in kvmtopo-dump(1)")
    func jsonFields() throws {
        try expectDocumented(SnapshotCodec.encode(DocumentedSample.snapshot), in: "kvmtopo-dump")
    }

    @Test("every field of trace's JSON lines is described in kvmtopo-trace(1)")
    func traceJSONFields() throws {
        let hop = TracedPacket.Hop(
            interface: "vnet0", meaning: "r-4-VM eth0", direction: .out, state: .seen, offset: 1, note: "n")
        let reply = TracedPacket(
            number: 1, summary: "s", source: "a", destination: "b", length: 1, firstSeen: 1, hops: [hop],
            outcome: "o", lost: false, reply: [], replyMissing: false)
        var packet = reply
        packet.reply = [reply]
        var statistics = TraceStatistics()
        statistics.record(packet)
        let lines =
            TraceJSON.line(packet)
            + TraceJSON.summary(
                statistics, capture: CaptureCounters(received: 1, dropped: 0, droppedByInterface: 0), evicted: 0)
        for line in lines.split(separator: "\n") { try expectDocumented(Data(line.utf8), in: "kvmtopo-trace") }
    }

    @Test("kvmtopo spawns only ssh (zone collect), by an argument vector: no shell command built from input")
    func spawnsOnlySSH() throws {
        let sources = try FileManager.default.subpathsOfDirectory(atPath: "\(PackageRoot.path)/Sources").filter {
            $0.hasSuffix(".swift") || $0.hasSuffix(".h")
        }
        #expect(sources.count > 20)
        for path in sources {
            let text = try String(contentsOfFile: "\(PackageRoot.path)/Sources/\(path)", encoding: .utf8)
            // Subprocess is the one place that spawns (posix_spawn, an argument vector, no shell).
            let calls = path.hasPrefix("Subprocess/") ? ["system(", "popen(", "/bin/sh"] : ["posix_spawn"]
            for call in calls + ["Process(", "execv", "execl", "fork("] {
                #expect(!text.contains(call), "Sources/\(path) calls \(call)")
            }
            guard !path.hasPrefix("Subprocess/") else { continue }
            #expect(text.contains("import Subprocess") == (path == "kvmtopo/ZoneCollect.swift"), "\(path) spawns")
        }
    }

    @Test("every check is in its man page with its severity: kvmtopo-diagnose(1), kvmtopo-zone(1)")
    func checks() throws {
        for (name, checks) in [("kvmtopo-diagnose", Diagnose.checks), ("kvmtopo-zone", Diagnose.zoneChecks)] {
            let page = try manPage(name)
            for check in checks {
                #expect(
                    page.contains(".It Li \(check.code) Pq \(check.severity.rawValue)"), "\(name).1 lists \(check.code)"
                )
            }
        }
    }

    @Test("every field of the zone's JSON is described in kvmtopo-zone(1)")
    func zoneJSONFields() throws {
        var second = try recordedDump("vr-elsewhere")
        second.host.hostname = "kvm02"
        second.host.qemuHook = false
        try expectDocumented(ZoneText.json(Zone([try recordedDump("lab-vxlan"), second])), in: "kvmtopo-zone")
    }

    /// Every key of a JSON document is named in the man page: as a field (`Li key`, `Li key[]`), in a field list
    /// (`a , key`) or as a path (`sources.key`).
    private func expectDocumented(_ data: Data, in name: String) throws {
        let page = try manPage(name)
        var keys: Set<String> = []
        func collect(_ value: Any) {
            if let object = value as? [String: Any] {
                keys.formUnion(object.keys)
                object.values.forEach(collect)
            } else if let array = value as? [Any] {
                array.forEach(collect)
            }
        }
        collect(try JSONSerialization.jsonObject(with: data))
        for key in keys.sorted() {
            let forms = ["Li \(key)", " \(key) ,", ", \(key)", "Ss \(key)", ".\(key) ", ".\(key)\n"]
            #expect(forms.contains { page.contains($0) }, "\(name).1 describes \(key)")
        }
    }

    @Test("every code a dump's warnings can carry is in kvmtopo-dump(1), and no other")
    func warningCodes() throws {
        let page = try manPage("kvmtopo-dump")
        for code in WarningCode.Known.allCases.map(WarningCode.init) {
            // diagnose's and zone diagnose's own checks are findings, never a dump's warnings.
            let warned = code.origin != .check && code.origin != .zone
            #expect(page.contains("Li \(code)") == warned, "kvmtopo-dump.1 and \(code)")
        }
    }

    @Test("CI runs the README's test command, and the README has exactly two set-up commands")
    func readmeCommands() throws {
        let readme = try String(contentsOfFile: "\(PackageRoot.path)/README.md", encoding: .utf8)
        let ci = try String(contentsOfFile: "\(PackageRoot.path)/.ci/run", encoding: .utf8)
        let ciCommand = try #require(ci.split(separator: "\n").last.map(String.init))
        #expect(readme.contains("```sh\n\(ciCommand)\n```"))
        let setup = readme.components(separatedBy: "## Fresh machine")[1].components(separatedBy: "\n## ")[0]
        #expect(setup.components(separatedBy: "```sh\n").count - 1 == 2)
    }
}

/// A snapshot with every optional field set, so every key of the contract appears.
enum DocumentedSample {
    static let snapshot = HostSnapshot(
        host: {
            var host = Host(
                hostname: "kvm01", collectedAt: "2026-11-22T00:00:00Z",
                sources: Sources(
                    netlink: SourceStatus(status: .ok),
                    libvirt: SourceStatus(status: .unavailable, uri: "qemu:///system", error: "down")))
            host.sources.packets = SourceStatus(status: .ok)
            host.sources.firewall = SourceStatus(status: .ok)
            host.bridgeRoles = {
                var roles = BridgeRoles()
                roles.guest = "cloudbr2"
                return roles
            }()
            host.agentProperties = "/etc/cloudstack/agent/agent.properties"
            host.bridgeNetfilter = BridgeNetfilter(iptables: true, ip6tables: true, arptables: false)
            return host
        }(),
        links: [
            Link(
                name: "eth1.100", ifindex: 7, kind: .vlan, mac: "52:54:00:12:34:56", master: "breth1-100",
                addresses: [Address(family: .inet, address: "10.0.0.1", prefixLength: 24, scope: "global")],
                vlan: VLAN(id: 100, parent: "eth1", protocol: "802.1Q"),
                vxlan: VXLAN(vni: 1, group: "239.0.0.1", local: "10.0.0.1", port: 4789, device: "eth1", learning: true),
                peer: "x", peerNetnsid: 1, bridgePort: BridgePort(state: .forwarding, priority: 32, cost: 100))
        ],
        bridges: [Bridge(name: "breth1-100", ports: ["eth1.100"], stp: false)],
        fdb: [
            FDBEntry(
                mac: "00:00:00:00:00:00", port: "vxlan1", bridge: "brvx-1", vlan: 1, state: .permanent,
                isSelf: true, remote: "10.0.0.2")
        ],
        domains: [
            {
                var nic = NIC(
                    index: 0, mac: "02:00:00:00:00:01", type: .bridge, bridge: "b", network: "n", sourceDevice: "d",
                    tap: "vnet0", model: "virtio", vlanTag: 5, virtualPort: "openvswitch", romBarOff: true,
                    linkState: .up)
                nic.tapFound = true
                nic.hostBridge = "b"
                nic.trafficType = .control
                nic.ip = "169.254.0.2"
                nic.ipSource = .controlMAC
                nic.securityGroup = securityGroup
                nic.firewallRules = [reference]
                var domain = Domain(
                    name: "r-4-VM", uuid: "u", state: .running, id: 1, persistent: true,
                    smbios: SMBIOS(manufacturer: "m", product: "p"), nics: [nic], xmlError: "e")
                domain.role = .router
                domain.routerKind = .vpc
                domain.cloudstack = true
                return domain
            }()
        ],
        networks: [
            {
                var network = Network(
                    id: "brvx-1", kind: .vpcTier, bridge: "brvx-1",
                    members: [
                        Network.Member(
                            domain: "r-4-VM", nic: 0, tap: "vnet0", mac: "02:00:00:00:00:01",
                            ip: "10.0.0.1", ipSource: .arp)
                    ])
                network.vlan = 1
                network.vni = 1
                network.uplink = "vxlan1"
                network.physicalInterface = "eth1"
                network.mtu = 1500
                network.router = "r-4-VM"
                network.routerElsewhere = false
                network.gateway = Network.Gateway(
                    domain: "r-4-VM", nic: 0, mac: "02:00:00:00:00:01", ip: "10.0.0.1", ipSource: .arp)
                network.remoteGateway = neighbour
                network.firewall = BridgeFirewall(
                    filtered: true,
                    framework: BridgeFramework(
                        chain: "BF-brvx-1", table: "ip filter", forward: [.in, .out], hasInChain: true,
                        hasOutChain: true, uplinkAccept: "vxlan1"),
                    rules: [reference])
                return network
            }()
        ],
        vpcs: [VPC(router: "r-4-VM", tiers: ["brvx-1"])],
        warnings: [Warning(code: .tapUnclaimed, subject: Subject("vnet9"), message: "m")],
        neighbours: [neighbour],
        routes: [
            Route(
                family: .inet, destination: "169.254.0.0/16", device: "cloud0", gateway: "10.0.0.254",
                source: "169.254.0.1")
        ],
        firewall: firewall)

    static let reference = RuleReference(
        table: "ip filter", chain: "FORWARD", handle: 3, text: "-o vnet0 -j DROP", verdict: .drop, packets: 1)

    static let securityGroup: SecurityGroup = {
        var group = SecurityGroup(chain: "i-2-10-def", directions: [.in, .out])
        group.expectedChain = "r-4-VM"
        var rule = SecurityGroupRule(handle: 9, verdict: .accept)
        rule.protocol = "icmp"
        rule.ports = "22"
        rule.icmpType = "any"
        rule.cidr = "10.0.0.0/8"
        rule.set = "peers"
        rule.packets = 1
        rule.bytes = 84
        group.ingress = SecurityGroupRules(chain: "i-2-10-VM", rules: [rule], final: .drop, finalPackets: 0)
        group.egress = SecurityGroupRules(chain: "i-2-10-VM-eg", rules: [], final: .return, finalPackets: 0)
        group.addressSets = [SecurityGroupAddressSet(name: "i-2-10-VM", members: ["10.0.0.2"], missing: ["10.0.0.3"])]
        group.antiSpoofing = AntiSpoofing(chains: ["i-2-10-VM-in"], macs: ["02:00:00:00:00:01"], ips: ["10.0.0.2"])
        group.packets = 2
        group.bytes = 168
        return group
    }()

    static let firewall: Firewall = {
        var matches = RuleMatches()
        let text = Matched("x", inverted: true)
        (matches.inInterface, matches.outInterface, matches.physdevIn, matches.physdevOut) = (text, text, text, text)
        let flag = Matched(true)
        (matches.physdevIsIn, matches.physdevIsOut, matches.physdevIsBridged) = (flag, flag, flag)
        (matches.protocol, matches.source, matches.destination) = (text, text, text)
        (matches.sourcePorts, matches.destinationPorts) = (text, text)
        (matches.sourceMAC, matches.destinationMAC) = (text, text)
        matches.icmpType = text
        matches.sets = [SetMatch(name: "i-2-10-VM", directions: [.source], inverted: true)]
        matches.state = Matched([.new])
        (matches.arpOperation, matches.arpSourceIP, matches.arpDestinationIP) = (text, text, text)
        (matches.arpSourceMAC, matches.arpDestinationMAC) = (text, text)
        matches.undecoded = ["expr fib"]
        let rule = FirewallRule(
            handle: 1, text: "-j x", matches: matches, verdict: .jump, chain: "x", target: "LOG", comment: "c",
            packets: 1, bytes: 2)
        let chain = FirewallChain(
            name: "FORWARD", hook: .forward, priority: 0, type: "filter", policy: .drop, packets: 1, bytes: 2,
            rules: [rule])
        var firewall = Firewall(
            backends: [.nft],
            tables: [
                FirewallTable(
                    family: .ip, name: "filter", backend: .nft, chains: [chain],
                    sets: [FirewallSet(name: "s", elements: ["10.0.0.1"])])
            ],
            ipsets: [IPSet(name: "i-2-10-VM", type: "hash:ip", family: .inet, members: ["10.0.0.2"], references: 1)],
            conntrack: ConntrackUsage(count: 1, max: 2))
        firewall.agentRecords = [
            SecurityGroupRecord(vm: "i-2-10-VM", vmID: 10, ip: "10.0.0.2", domainID: 1, signature: "s", sequence: 1)
        ]
        return firewall
    }()

    static let neighbour = Neighbour(
        ip: "10.0.0.254", mac: "02:00:00:00:00:fe", bridge: "brvx-1", port: "vxlan1",
        source: .dhcp, role: .gateway)
}
