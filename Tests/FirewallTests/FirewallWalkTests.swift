import Firewall
import Packets
import TestSupport
import Testing
import Topology

/// The firewall's verdict worked out on the lab's security groups as recorded (i-5-30-VM and i-5-31-VM on
/// brvx-3001, laid down as security_group.py does): what the kernel would do with a frame between them.
@Suite("the firewall's verdict for a bridged frame")
struct FirewallWalkTests {
    static let mac30: [UInt8] = [0x02, 0x00, 0x4c, 0x5e, 0x00, 0x1e]
    static let mac31: [UInt8] = [0x02, 0x00, 0x4c, 0x5e, 0x00, 0x1f]
    static let crossing = FirewallWalk.Crossing(
        bridge: "brvx-3001", inPort: "vnet14", outPort: "vnet15", meetsIptables: true)

    /// i-5-30-VM (10.3.0.30) to i-5-31-VM (10.3.0.31), from i-5-30-VM's MAC unless told.
    static func frame(_ proto: UInt8, _ payload: [UInt8], sourceMAC: [UInt8] = mac30) -> Packet {
        let ip = Frames.ipv4(proto: proto, source: [10, 3, 0, 30], destination: [10, 3, 0, 31], payload)
        return PacketDecoder.decode(mac31 + sourceMAC + Frames.be16(0x0800) + ip, linkType: .ethernet).packet
    }

    static func walk(removing ingress: String? = nil) throws -> FirewallWalk {
        var firewall = try #require(try recordedDump("lab-security-groups").firewall)
        for table in firewall.tables.indices {
            for chain in firewall.tables[table].chains.indices
            where firewall.tables[table].chains[chain].name == ingress {
                firewall.tables[table].chains[chain].rules.removeFirst()
            }
        }
        return FirewallWalk(firewall: firewall)
    }

    @Test("a ping the ingress rule allows is accepted, on the assumption that it starts a flow")
    func allowed() throws {
        let decision = try Self.walk().decide(
            Self.frame(1, Frames.icmpEcho(id: 1, sequence: 1)), crossing: Self.crossing)
        #expect(decision.verdict == .accept, "\(decision)")
        #expect(decision.certainty == .assumed)
        #expect(decision.assumptions == ["connection tracking state NEW (no reply to this flow was seen)"])
    }

    @Test("without its ingress rule the ping meets the security group's final DROP, named with its chain")
    func denied() throws {
        let decision = try Self.walk(removing: "i-5-31-VM").decide(
            Self.frame(1, Frames.icmpEcho(id: 1, sequence: 1)), crossing: Self.crossing)
        #expect(decision.verdict == .drop)
        #expect(decision.chain == "i-5-31-VM" && decision.rule == "-j DROP" && decision.table == "filter")
        #expect(decision.path == ["FORWARD", "BF-brvx-3001", "BF-brvx-3001-OUT", "i-5-31-def", "i-5-31-VM"])
        #expect(decision.backend == .nft && decision.family == .ip)
    }

    @Test("tcp 22 is let in, tcp 80 is not")
    func ports() throws {
        let walk = try Self.walk()
        let ssh = walk.decide(
            Self.frame(6, Frames.tcp(seq: 1, flags: 0x02, source: 40000, destination: 22)), crossing: Self.crossing)
        #expect(ssh.verdict == .accept, "\(ssh)")
        let web = walk.decide(
            Self.frame(6, Frames.tcp(seq: 1, flags: 0x02, source: 40000, destination: 80)), crossing: Self.crossing)
        #expect(web.verdict == .drop && web.chain == "i-5-31-VM", "\(web)")
    }

    @Test("a frame from another MAC is dropped by ebtables' anti-spoofing before iptables sees it")
    func spoofed() throws {
        let spoofed = Self.frame(
            1, Frames.icmpEcho(id: 1, sequence: 1), sourceMAC: [0x02, 0x00, 0x4c, 0x5e, 0x00, 0x99])
        let decision = try Self.walk().decide(spoofed, crossing: Self.crossing)
        #expect(decision.verdict == .drop && decision.family == .bridge, "\(decision)")
        #expect(decision.chain == "i-5-30-VM-in-src" && decision.certainty == .certain)
    }

    @Test("without br_netfilter's call into iptables the security group is never met")
    func notEnforced() throws {
        var crossing = Self.crossing
        crossing.meetsIptables = false
        let decision = try Self.walk(removing: "i-5-31-VM").decide(
            Self.frame(1, Frames.icmpEcho(id: 1, sequence: 1)), crossing: crossing)
        #expect(decision.verdict == .accept && decision.certainty == .certain, "\(decision)")
    }
}
