import Topology

/// How bad a finding is. `kvmtopo diagnose` exits 0 with nothing above info, 1 with warnings, 2 with errors.
public enum Severity: String, Codable, Comparable, Sendable, CaseIterable {
    case info, warning, error

    public static func < (a: Severity, b: Severity) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// One thing an expert would point at: what, where, why it matters, and what to type next.
public struct Finding: Codable, Hashable, Sendable {
    public var code: WarningCode
    public var severity: Severity
    /// The object: "i-2-11-VM eth0", "brvx-1001", "cloud0".
    public var subject: Subject
    /// What is wrong.
    public var message: String
    /// Why it matters.
    public var why: String
    /// A command to look closer or to fix it.
    public var action: String
    /// Domains, links and bridges it concerns, for `diagnose vm NAME` and `diagnose network …`.
    public var related: [String]

    public init(
        code: WarningCode, severity: Severity, subject: Subject, message: String, why: String, action: String,
        related: [String]
    ) {
        self.code = code
        self.severity = severity
        self.subject = subject
        self.message = message
        self.why = why
        self.action = action
        self.related = related
    }
}

/// A check diagnose runs: its code, severity and what it looks for (kvmtopo-diagnose(1) lists them all).
public struct Check: Sendable {
    public var code: WarningCode
    public var severity: Severity
    public var summary: String

    /// One entry per code, so a code cannot exist without its severity and its line in the man page.
    init(_ code: WarningCode.Known) {
        self.code = WarningCode(code)
        (severity, summary) =
            switch code {
            case .nicTapMissing: (.error, "a running VM's NIC names a tap the kernel does not have")
            case .nicNoTarget: (.warning, "a running VM's NIC has no target device")
            case .tapMACMismatch: (.error, "the tap of that name carries another MAC")
            case .tapBridgeMismatch: (.error, "a VM's tap is on another bridge than its domain XML says")
            case .tapNoMaster: (.error, "a VM's tap is on no bridge")
            case .tapUnclaimed: (.warning, "a tap that no libvirt domain claims")
            case .domainXMLUnreadable: (.warning, "libvirt could not give a domain's XML")
            case .sourceUnavailable: (.warning, "libvirt or netlink could not be read, and why")
            case .guestBridgeNoUplink: (.error, "a guest bridge without its VLAN or VXLAN uplink")
            case .bridgeNameMismatch: (.warning, "a guest bridge's name disagrees with its uplink")
            case .ipConflict: (.error, "two MACs claim one address (heard by --listen)")
            case .dhcpServerUnexpected: (.warning, "DHCP answers from somewhere other than the network's router")
            case .bridgeDown: (.error, "a bridge that carries VM traffic is down")
            case .portDown: (.error, "a running VM's tap or a bridge's uplink is down")
            case .nicLinkDown:
                (
                    .warning,
                    "a running VM's NIC whose link libvirt holds down (its tap up: nothing in the kernel shows it)"
                )
            case .portNotForwarding: (.warning, "a bridge port STP keeps from forwarding")
            case .guestBridgeEmpty: (.info, "a guest bridge with no VM on it (a persistent network)")
            case .nameAtLimit: (.warning, "an interface name at the kernel's 15-character limit")
            case .mtuMismatch: (.error, "MTUs along a VM's path to the wire that cannot carry its packets")
            case .fdbDuplicateMAC: (.warning, "one MAC on two ports of a bridge, or on two bridges")
            case .controlBridgeMissing: (.error, "no control bridge (cloud0) on a CloudStack host")
            case .controlAddressMissing: (.error, "the control bridge lacks 169.254.0.1/16")
            case .linkLocalRoute:
                (.error, "169.254.0.0/16 is routed through another device than the control bridge, or not at all")
            case .systemVMNoControl: (.error, "a router or system VM without a control NIC")
            case .routerNoPublic: (.warning, "a router without a public NIC")
            case .vpcTierBridge: (.error, "a VPC router's tier bridge is missing or down")
            case .routerNotSeen: (.warning, "a guest network whose router is neither here nor heard")
            case .brNetfilter: (.info, "whether bridged traffic goes through iptables (security groups)")
            case .sgNotEnforced: (.error, "a bridge with security groups whose traffic never meets them")
            case .sgMissing: (.error, "a CloudStack VM's NIC on a security-group bridge without its chain or jump")
            case .sgWrongChain: (.error, "a VM's tap sent to another VM's security group chain")
            case .sgAddressSet: (.error, "a security group's ipset that is missing or lacks the NIC's address")
            case .sgAntiSpoofing: (.error, "ebtables anti-spoofing that allows another MAC or IP than the NIC's")
            case .sgStale: (.warning, "chains, ipsets or ebtables chains of a VM that is not running here")
            case .sgRecordDomain: (.warning, "the agent's record of a VM's rules names another domain id")
            case .sgUplink: (.error, "the BF- chain's uplink rule names a device that is not the bridge's uplink")
            case .forwardDrop: (.error, "FORWARD drops by policy and nothing lets a bridge's VM traffic through")
            case .firewallTwoBackends: (.warning, "rules in both iptables-legacy and nftables")
            case .conntrackFull: (.warning, "connection tracking near full (an error when full)")
            case .vxlanGroupLimit:
                (.error, "more VXLAN groups on one UDP port than igmp_max_memberships allows (a warning at it)")
            case .vxlanUnderBridgePort: (.error, "a VXLAN device bound to a NIC that is a bridge port (PR 5078)")
            case .zoneMTUDiffers: (.error, "one network with different MTUs on different hosts")
            case .zoneVXLANDiffers: (.error, "one VXLAN network with different groups or ports on different hosts")
            case .zoneLabelBridgeDiffers:
                (.warning, "a kind of traffic on differently named bridges on different hosts")
            case .zoneQemuHookMissing:
                (.warning, "a CloudStack host without libvirt's qemu hook (info while VLAN bridges are named alike)")
            case .zoneMACDuplicate: (.error, "one MAC on VMs of two hosts (a redundant router pair is not one)")
            case .zoneVMOnTwoHosts:
                (
                    .error,
                    "a VM running on two hosts (info when one is paused, migrating; a warning when the dumps are apart)"
                )
            case .zoneRouterMissing: (.warning, "a guest network whose router runs on no collected host")
            case .zoneBridgeMissing: (.error, "a VM's bridge missing on its host while other hosts have it")
            }
    }
}
