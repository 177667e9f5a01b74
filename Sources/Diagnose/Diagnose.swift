import Topology

/// The checks of `kvmtopo diagnose`, run on a finished snapshot (live or loaded): the collectors' and the model's
/// warnings, each with why it matters and what to do, and the checks an expert runs by hand on a CloudStack KVM
/// host. Pure: no C, nothing read from the host here.
public enum Diagnose {
    /// Every check: its severity and what it looks for (kvmtopo-diagnose(1) lists them all, in this order).
    public static let checks: [Check] = WarningCode.Known.allCases.filter { WarningCode($0).origin != .zone }
        .map(Check.init)

    /// The severity of a code; a code this build does not know (a newer kvmtopo's dump) is a warning.
    static func severity(of code: WarningCode) -> Severity {
        code.known.map { Check($0).severity } ?? .warning
    }

    /// Every finding, most severe first, then by code and subject.
    public static func run(_ snapshot: HostSnapshot) -> [Finding] {
        let host = HostFacts(snapshot)
        var findings = snapshot.warnings.compactMap { explain($0, host: host) }
        findings +=
            bridgeChecks(host) + mtuChecks(host) + fdbChecks(host) + controlChecks(host) + routerChecks(host)
            + vxlanChecks(host) + netfilterChecks(host) + securityGroupChecks(host) + hostFirewallChecks(host)
        return findings.sorted { ($1.severity, $0.code, $0.subject) < ($0.severity, $1.code, $1.subject) }
    }

    /// The findings about one VM (its NICs, taps, bridges) or one network (its bridge, members, uplink).
    public static func scoped(_ findings: [Finding], to names: Set<String>) -> [Finding] {
        findings.filter { !names.isDisjoint(with: $0.related) }
    }

    static func finding(
        _ code: WarningCode, _ subject: Subject, _ message: String, why: String, action: String,
        related: [String], severity: Severity? = nil
    ) -> Finding {
        Finding(
            code: code, severity: severity ?? self.severity(of: code), subject: subject, message: message,
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
        isCloudStack = snapshot.isCloudStackHost
    }

    /// The domain and NIC a reference names, when both are in the snapshot.
    func nic(_ ref: NICRef?) -> (domain: Domain, nic: NIC)? {
        guard let ref, let domain = domains[ref.domain], let nic = domain.nic(ref.index) else { return nil }
        return (domain, nic)
    }

    /// A subject with its domain, tap and bridges (a NIC), or its bridge (a link), for scoping.
    func related(to subject: Subject) -> [String] {
        var names = [subject.description]
        switch subject {
        case .nic(let ref):
            names.append(ref.domain)
            if let (_, nic) = nic(ref) { names += [nic.tap, nic.bridge, nic.hostBridge].compactMap { $0 } }
        case .named(let name):
            if let link = links[name] { names += [link.master].compactMap { $0 } }
        case .source:
            break
        }
        return names
    }
}
