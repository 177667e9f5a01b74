import CloudStack
import Diagnose
import Foundation
import TestSupport
import Testing
import Topology

/// The security-group model and diagnose's firewall checks on the lab's shared network, recorded with its real
/// rules (examples/dumps/lab-security-groups.json: security_group.py's chains written by iptables-nft,
/// ebtables-nft and ipset for i-5-30-VM and i-5-31-VM), and on that dump with one fact changed per fault.
@Suite("security groups read from a recorded firewall")
struct SecurityGroupTests {
    let lab: HostSnapshot

    init() throws { lab = try recordedDump("lab-security-groups") }

    func nic(_ snapshot: HostSnapshot, _ domain: String) throws -> NIC {
        try #require(snapshot.domains.first { $0.name == domain }?.nics.first)
    }

    /// The dump with its facts changed and the model inferred again, as `--from` does.
    func changed(_ change: (inout HostSnapshot) throws -> Void) throws -> HostSnapshot {
        var facts = lab
        try change(&facts)
        return CloudStackModel.infer(facts)
    }

    /// Changes the rules of the firewall's `family name` table.
    func editRules(
        _ snapshot: inout HostSnapshot, _ family: FirewallFamily, _ table: String,
        _ edit: (inout [FirewallChain]) -> Void
    ) throws {
        let index = try #require(snapshot.firewall?.tables.firstIndex { $0.family == family && $0.name == table })
        edit(&snapshot.firewall!.tables[index].chains)
    }

    func codes(_ snapshot: HostSnapshot) -> [String: [Finding]] {
        Dictionary(grouping: Diagnose.run(snapshot).filter { $0.severity > .info }, by: \.code.rawValue)
    }

    @Test("each NIC's group: its chain both ways, ingress rules with counters, egress all allowed, ipset, ebtables")
    func cleanGroups() throws {
        let nic = try nic(lab, "i-5-30-VM")
        let group = try #require(nic.securityGroup)
        #expect(group.chain == "i-5-30-def" && group.expectedChain == nil && group.directions == [.in, .out])
        let ingress = try #require(group.ingress)
        #expect(ingress.chain == "i-5-30-VM" && ingress.final == .drop)
        #expect(ingress.rules.map(\.protocol) == ["icmp", "tcp"])
        #expect(ingress.rules[0].cidr == "10.3.0.0/24" && ingress.rules[0].icmpType == "any")
        #expect(ingress.rules[1].ports == "22" && ingress.rules[1].cidr == nil, "tcp 22 from anywhere")
        #expect((ingress.rules[0].packets ?? 0) > 0, "i-5-31-VM's pings were counted")
        #expect(group.egress?.chain == "i-5-30-VM-eg" && group.egress?.allowsAll == true)
        #expect(group.addressSets == [SecurityGroupAddressSet(name: "i-5-30-VM", members: ["10.3.0.30"])])
        #expect(group.antiSpoofing?.macs == [nic.mac!] && group.antiSpoofing?.ips == ["10.3.0.30"])
        #expect(
            group.antiSpoofing?.chains.prefix(3) == ["i-5-30-VM-in", "i-5-30-VM-in-src", "i-5-30-VM-in-ips"],
            "PREROUTING's chains first, then those POSTROUTING sends to the tap: \(group.antiSpoofing?.chains ?? [])")
        #expect(nic.firewallRules == nil, "every rule naming the tap is the group's own")

        let shared = try #require(lab.networks.first { $0.bridge == "brvx-3001" })
        #expect(shared.firewall?.enforced == true && shared.firewall?.framework?.uplinkAccept == "vxlan3001")
        #expect(shared.firewall?.rules == nil, "FORWARD's rules for the bridge are the framework's")
        let isolated = try #require(lab.networks.first { $0.bridge == "brvx-1001" })
        #expect(isolated.firewall == BridgeFirewall(filtered: true), "no security groups there")
        #expect(codes(lab).isEmpty, "\(codes(lab))")
    }

    @Test("br_netfilter off: the groups are there and not enforced, an error")
    func notEnforced() throws {
        let off = try changed { $0.host.bridgeNetfilter?.iptables = false }
        let finding = try #require(codes(off)["sg-not-enforced"]?.first)
        #expect(finding.subject == .named("brvx-3001") && finding.severity == .error)
        #expect(finding.message.hasSuffix("net.bridge.bridge-nf-call-iptables is 0"))
        #expect(Diagnose.scoped([finding], to: ["i-5-31-VM"]) == [finding], "diagnose vm finds it")
    }

    @Test("a tap sent to another VM's chain, and a tap with no jump at all")
    func wrongAndMissingChain() throws {
        let tap30 = try #require(try nic(lab, "i-5-30-VM").tap)
        let tap31 = try #require(try nic(lab, "i-5-31-VM").tap)
        let wrong = try changed { snapshot in
            try editRules(&snapshot, .ip, "filter") { chains in
                for c in chains.indices where chains[c].name.hasPrefix("BF-brvx-3001-") {
                    for r in chains[c].rules.indices where chains[c].rules[r].chain == "i-5-30-def" {
                        chains[c].rules[r].chain = "i-5-31-def"
                    }
                }
            }
        }
        #expect(try nic(wrong, "i-5-30-VM").securityGroup?.expectedChain == "i-5-30-def")
        let finding = try #require(codes(wrong)["sg-wrong-chain"]?.first)
        #expect(finding.subject == .nic(NICRef(domain: "i-5-30-VM", index: 0)))
        #expect(finding.message.contains("\(tap30) is sent to i-5-31-def"))

        let missing = try changed { snapshot in
            try editRules(&snapshot, .ip, "filter") { chains in
                for c in chains.indices where chains[c].name == "BF-brvx-3001-IN" {
                    chains[c].rules.removeAll { $0.matches.physdevIn?.value == tap31 }
                }
            }
        }
        let cut = try #require(codes(missing)["sg-missing"]?.first)
        #expect(cut.subject == .nic(NICRef(domain: "i-5-31-VM", index: 0)))
        #expect(cut.message.contains("only for traffic to the VM"), "\(cut.message)")
    }

    @Test("a system VM's own chain (security_group.py's systemvm rules), and the same VM without its jump")
    func systemVM() throws {
        var routerNIC = NIC(index: 0, mac: "02:00:7a:00:00:09", type: .bridge, bridge: "brvx-3001", tap: "vnet99")
        routerNIC.tapFound = true
        routerNIC.hostBridge = "brvx-3001"
        let router = Domain(name: "r-9-VM", uuid: "r9", state: .running, nics: [routerNIC])
        let jump = { (direction: String) in
            var matches = RuleMatches()
            matches.physdevIsBridged = Matched(true)
            if direction == "in" {
                matches.physdevIn = Matched("vnet99")
            } else {
                matches.physdevOut = Matched("vnet99")
            }
            return FirewallRule(
                handle: direction == "in" ? 9001 : 9002,
                text: "-m physdev --physdev-\(direction) vnet99 --physdev-is-bridged -j r-9-VM", matches: matches,
                verdict: .jump, chain: "r-9-VM")
        }
        let laidOut = try changed { snapshot in
            snapshot.domains.append(router)
            try editRules(&snapshot, .ip, "filter") { chains in
                for c in chains.indices {
                    if chains[c].name == "BF-brvx-3001-IN" { chains[c].rules.insert(jump("in"), at: 0) }
                    if chains[c].name == "BF-brvx-3001-OUT" { chains[c].rules.insert(jump("out"), at: 0) }
                }
                chains.append(
                    FirewallChain(
                        name: "r-9-VM", rules: [FirewallRule(handle: 9003, text: "-j ACCEPT", verdict: .accept)]))
            }
        }
        let group = try #require(try nic(laidOut, "r-9-VM").securityGroup)
        #expect(group.chain == "r-9-VM" && group.expectedChain == nil && group.directions == [.in, .out])
        #expect(group.ingress == nil && group.egress == nil, "a system VM's chain accepts; it jumps nowhere")
        // A router with one NIC has findings of its own (no control NIC); none of the firewall's.
        #expect(codes(laidOut).keys.filter { $0.hasPrefix("sg-") }.isEmpty, "\(codes(laidOut).keys)")

        let cut = try changed { snapshot in snapshot.domains.append(router) }
        #expect(try nic(cut, "r-9-VM").securityGroup == nil)
        let finding = try #require(codes(cut)["sg-missing"]?.first)
        #expect(finding.subject == .nic(NICRef(domain: "r-9-VM", index: 0)))
    }

    @Test("an ipset without the NIC's address, and anti-spoofing that names another")
    func addresses() throws {
        let moved = try changed { snapshot in
            let d = try #require(snapshot.domains.firstIndex { $0.name == "i-5-30-VM" })
            snapshot.domains[d].nics[0].ip = "10.3.0.99"
            snapshot.domains[d].nics[0].ipSource = .arp
        }
        let found = codes(moved)
        #expect(found["sg-address-set"]?.first?.message == "i-5-30-VM eth0: ipset i-5-30-VM does not hold 10.3.0.99")
        #expect(found["sg-anti-spoofing"]?.first?.message.contains("allows IP 10.3.0.30") == true, "\(found)")
        // A prefix no address has (a dump edited by hand) is read as the whole address, not past its bytes.
        let odd = try changed { snapshot in
            let s = try #require(snapshot.firewall?.ipsets.firstIndex { $0.name == "i-5-30-VM" })
            snapshot.firewall?.ipsets[s].members = ["10.3.0.0/99", "10.3.0.0/-1"]
            let d = try #require(snapshot.domains.firstIndex { $0.name == "i-5-30-VM" })
            snapshot.domains[d].nics[0].ip = "10.3.0.30"
            snapshot.domains[d].nics[0].ipSource = .arp
        }
        #expect(codes(odd)["sg-address-set"]?.first?.message.hasSuffix("does not hold 10.3.0.30") == true)
        let gone = try changed { $0.firewall?.ipsets.removeAll { $0.name == "i-5-31-VM" } }
        #expect(codes(gone)["sg-address-set"]?.first?.message == "i-5-31-VM eth0: ipset i-5-31-VM does not exist")
    }

    @Test("chains, ipsets, ebtables chains and records of a VM that is not here are stale, one warning")
    func stale() throws {
        let left = try changed { snapshot in
            snapshot.firewall?.ipsets.append(IPSet(name: "i-5-99-VM", type: "hash:ip", family: .inet, members: []))
            try editRules(&snapshot, .ip, "filter") { $0.append(FirewallChain(name: "i-5-99-def")) }
            try editRules(&snapshot, .bridge, "nat") { $0.append(FirewallChain(name: "i-5-99-VM-in-src")) }
            snapshot.firewall?.agentRecords = [SecurityGroupRecord(vm: "i-5-99-VM", domainID: 3)]
        }
        let warnings = left.warnings.filter { $0.code == .sgStale }
        #expect(warnings.map(\.subject) == [.named("i-5-99")])
        #expect(
            warnings.first?.message
                == "/var/run/cloud/i-5-99-VM.log, chain i-5-99-def, ebtables i-5-99-VM-in-src, ipset i-5-99-VM: "
                + "no running VM i-5-99-… is on this host")
        #expect(codes(left)["sg-stale"]?.first?.action.contains("ipset list -n | grep -- 'i-5-99-'") == true)
    }

    @Test("the agent's record of another domain id; the BF- uplink rule naming another device")
    func recordAndUplink() throws {
        let restarted = try changed { snapshot in
            let id = try #require(snapshot.domains.first { $0.name == "i-5-30-VM" }?.id)
            snapshot.firewall?.agentRecords = [SecurityGroupRecord(vm: "i-5-30-VM", ip: "10.3.0.30", domainID: id + 7)]
        }
        #expect(codes(restarted)["sg-record-domain"]?.first?.severity == .warning)
        let renamed = try changed { snapshot in
            try editRules(&snapshot, .ip, "filter") { chains in
                for c in chains.indices where chains[c].name == "BF-brvx-3001" {
                    for r in chains[c].rules.indices where chains[c].rules[r].matches.physdevOut != nil {
                        chains[c].rules[r].matches.physdevOut = Matched("eth1")
                    }
                }
            }
        }
        let finding = try #require(codes(renamed)["sg-uplink"]?.first)
        #expect(finding.message == "BF-brvx-3001 accepts traffic leaving by eth1, but brvx-3001's uplink is vxlan3001")
    }

    @Test("FORWARD policy DROP cuts the bridges without security groups off, in one finding")
    func forwardDrop() throws {
        let dropping = try changed { snapshot in
            try editRules(&snapshot, .ip, "filter") { chains in
                for c in chains.indices where chains[c].name == "FORWARD" { chains[c].policy = .drop }
            }
        }
        let findings = try #require(codes(dropping)["forward-drop"])
        #expect(findings.count == 1)
        #expect(findings[0].related.contains("brvx-1001") && !findings[0].related.contains("brvx-3001"))
        let off = try changed { snapshot in
            try editRules(&snapshot, .ip, "filter") { chains in
                for c in chains.indices where chains[c].name == "FORWARD" { chains[c].policy = .drop }
            }
            snapshot.host.bridgeNetfilter?.iptables = false
        }
        #expect(codes(off)["forward-drop"] == nil, "bridged frames do not meet FORWARD then")
    }

    @Test("rules in two backends; conntrack near full and full")
    func hostFirewall() throws {
        let both = try changed { snapshot in
            let chain = FirewallChain(
                name: "INPUT", hook: .input, policy: .accept, rules: [FirewallRule(handle: 1, text: "-j ACCEPT")])
            snapshot.firewall?.tables.append(
                FirewallTable(family: .ip, name: "filter", backend: .iptablesLegacy, chains: [chain]))
        }
        #expect(codes(both)["firewall-two-backends"]?.first?.message.hasSuffix("iptables-legacy") == true)
        for (count, severity) in [(950, Severity.warning), (1000, .error)] {
            let full = try changed { $0.firewall?.conntrack = ConntrackUsage(count: count, max: 1000) }
            #expect(codes(full)["conntrack-full"]?.first?.severity == severity)
        }
        #expect(try codes(changed { $0.firewall?.conntrack = ConntrackUsage(count: 899, max: 1000) }).isEmpty)
    }
}
