import Topology

/// The checks of `kvmtopo diagnose`, run on a finished snapshot (live or loaded): the collectors' and the model's
/// warnings, each with why it matters and what to do, and the checks an expert runs by hand on a CloudStack KVM
/// host. Pure: no C, nothing read from the host here.
public enum Diagnose {
    public static let checks: [Check] = [
        Check(code: "nic-tap-missing", severity: .error, summary: "a running VM's NIC names a tap the kernel does not have"),
        Check(code: "nic-no-target", severity: .warning, summary: "a running VM's NIC has no target device"),
        Check(code: "tap-mac-mismatch", severity: .error, summary: "the tap of that name carries another MAC"),
        Check(code: "tap-bridge-mismatch", severity: .error, summary: "a VM's tap is on another bridge than its domain XML says"),
        Check(code: "tap-no-master", severity: .error, summary: "a VM's tap is on no bridge"),
        Check(code: "tap-unclaimed", severity: .warning, summary: "a tap that no libvirt domain claims"),
        Check(code: "domain-xml-unreadable", severity: .warning, summary: "libvirt could not give a domain's XML"),
        Check(code: "source-unavailable", severity: .warning, summary: "libvirt or netlink could not be read, and why"),
        Check(code: "guest-bridge-no-uplink", severity: .error, summary: "a guest bridge without its VLAN or VXLAN uplink"),
        Check(code: "bridge-name-mismatch", severity: .warning, summary: "a guest bridge's name disagrees with its uplink"),
        Check(code: "ip-conflict", severity: .error, summary: "two MACs claim one address (heard by --listen)"),
        Check(code: "dhcp-server-unexpected", severity: .warning, summary: "DHCP answers from somewhere other than the network's router"),
        Check(code: "bridge-down", severity: .error, summary: "a bridge that carries VM traffic is down"),
        Check(code: "port-down", severity: .error, summary: "a running VM's tap or a bridge's uplink is down"),
        Check(code: "port-not-forwarding", severity: .warning, summary: "a bridge port STP keeps from forwarding"),
        Check(code: "guest-bridge-empty", severity: .info, summary: "a guest bridge with no VM on it (a persistent network)"),
        Check(code: "name-at-limit", severity: .warning, summary: "an interface name at the kernel's 15-character limit"),
        Check(code: "mtu-mismatch", severity: .error, summary: "MTUs along a VM's path to the wire that cannot carry its packets"),
        Check(code: "fdb-duplicate-mac", severity: .warning, summary: "one MAC on two ports of a bridge, or on two bridges"),
        Check(code: "control-bridge-missing", severity: .error, summary: "no control bridge (cloud0) on a CloudStack host"),
        Check(code: "control-address-missing", severity: .error, summary: "the control bridge lacks 169.254.0.1/16"),
        Check(code: "link-local-route", severity: .error, summary: "169.254.0.0/16 is routed through another device than the control bridge, or not at all"),
        Check(code: "system-vm-no-control", severity: .error, summary: "a router or system VM without a control NIC"),
        Check(code: "router-no-public", severity: .warning, summary: "a router without a public NIC"),
        Check(code: "vpc-tier-bridge", severity: .error, summary: "a VPC router's tier bridge is missing or down"),
        Check(code: "router-not-seen", severity: .warning, summary: "a guest network whose router is neither here nor heard"),
        Check(code: "br-netfilter", severity: .info, summary: "whether bridged traffic goes through iptables (security groups)"),
    ]

    static let severities = Dictionary(uniqueKeysWithValues: checks.map { ($0.code, $0.severity) })

    /// Every finding, most severe first, then by code and subject.
    public static func run(_ snapshot: HostSnapshot) -> [Finding] {
        let host = HostFacts(snapshot)
        var findings = snapshot.warnings.compactMap { explain($0, host: host) }
        findings += bridgeChecks(host) + mtuChecks(host) + fdbChecks(host) + controlChecks(host) + routerChecks(host)
            + netfilterChecks(host)
        return findings.sorted { ($1.severity, $0.code, $0.subject) < ($0.severity, $1.code, $1.subject) }
    }

    /// The findings about one VM (its NICs, taps, bridges) or one network (its bridge, members, uplink).
    public static func scoped(_ findings: [Finding], to names: Set<String>) -> [Finding] {
        findings.filter { !names.isDisjoint(with: $0.related) }
    }

    static func finding(_ code: String, _ subject: String, _ message: String, why: String, action: String,
                        related: [String], severity: Severity? = nil) -> Finding {
        Finding(code: code, severity: severity ?? severities[code] ?? .warning, subject: subject, message: message,
                why: why, action: action, related: related)
    }
}

/// Lookups built once from a snapshot.
struct HostFacts {
    let snapshot: HostSnapshot
    let links: [String: Link]
    let domains: [String: Domain]
    let networks: [String: Network]
    /// Which domain NIC a tap belongs to.
    let taps: [String: (domain: Domain, nic: NIC)]
    let roles: BridgeRoles
    /// A CloudStack host: an agent.properties file, or CloudStack-named domains.
    let isCloudStack: Bool

    init(_ snapshot: HostSnapshot) {
        self.snapshot = snapshot
        links = Dictionary(snapshot.links.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        domains = Dictionary(snapshot.domains.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        networks = Dictionary(snapshot.networks.map { ($0.bridge, $0) }, uniquingKeysWith: { first, _ in first })
        var taps: [String: (Domain, NIC)] = [:]
        for domain in snapshot.domains where domain.isActive {
            for nic in domain.nics { if let tap = nic.tap { taps[tap] = (domain, nic) } }
        }
        self.taps = taps
        roles = snapshot.host.bridgeRoles ?? BridgeRoles()
        isCloudStack = snapshot.host.agentProperties != nil || snapshot.domains.contains { $0.cloudstack == true }
    }

    /// The domain and NIC a subject like "i-2-11-VM eth0" names.
    func nic(namedBy subject: String) -> (domain: Domain, nic: NIC)? {
        let words = subject.split(separator: " ")
        guard words.count == 2, let domain = domains[String(words[0])], words[1].hasPrefix("eth"),
              let index = Int(words[1].dropFirst(3)), let nic = domain.nics.first(where: { $0.index == index }) else { return nil }
        return (domain, nic)
    }

    /// A subject with its domain, tap and bridges (a NIC), or its bridge (a link), for scoping.
    func related(toSubject subject: String) -> [String] {
        var names = [subject]
        if let (domain, nic) = nic(namedBy: subject) {
            names += [domain.name] + [nic.tap, nic.bridge, nic.hostBridge].compactMap { $0 }
        } else if let domain = subject.split(separator: " ").first.flatMap({ domains[String($0)] }) {
            names.append(domain.name)
        }
        if let link = links[subject] { names += [link.master].compactMap { $0 } }
        return names
    }
}
