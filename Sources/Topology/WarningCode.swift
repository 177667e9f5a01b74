/// Every code a warning or a finding carries: the collectors', the model's, `--listen`'s and diagnose's own
/// checks. This is the one list of them: diagnose's table, its explanations and the man pages follow from it.
public struct WarningCode: Vocabulary {
    public enum Known: String, CaseIterable, Sendable {
        case nicTapMissing = "nic-tap-missing"
        case nicNoTarget = "nic-no-target"
        case tapMACMismatch = "tap-mac-mismatch"
        case tapBridgeMismatch = "tap-bridge-mismatch"
        case tapNoMaster = "tap-no-master"
        case tapUnclaimed = "tap-unclaimed"
        case nicLinkDown = "nic-link-down"
        case domainXMLUnreadable = "domain-xml-unreadable"
        case sourceUnavailable = "source-unavailable"
        case guestBridgeNoUplink = "guest-bridge-no-uplink"
        case bridgeNameMismatch = "bridge-name-mismatch"
        case ipConflict = "ip-conflict"
        case dhcpServerUnexpected = "dhcp-server-unexpected"
        case bridgeDown = "bridge-down"
        case portDown = "port-down"
        case portNotForwarding = "port-not-forwarding"
        case guestBridgeEmpty = "guest-bridge-empty"
        case nameAtLimit = "name-at-limit"
        case mtuMismatch = "mtu-mismatch"
        case fdbDuplicateMAC = "fdb-duplicate-mac"
        case controlBridgeMissing = "control-bridge-missing"
        case controlAddressMissing = "control-address-missing"
        case linkLocalRoute = "link-local-route"
        case systemVMNoControl = "system-vm-no-control"
        case routerNoPublic = "router-no-public"
        case vpcTierBridge = "vpc-tier-bridge"
        case routerNotSeen = "router-not-seen"
        case brNetfilter = "br-netfilter"
        case sgNotEnforced = "sg-not-enforced"
        case sgMissing = "sg-missing"
        case sgWrongChain = "sg-wrong-chain"
        case sgAddressSet = "sg-address-set"
        case sgAntiSpoofing = "sg-anti-spoofing"
        case sgStale = "sg-stale"
        case sgRecordDomain = "sg-record-domain"
        case sgUplink = "sg-uplink"
        case forwardDrop = "forward-drop"
        case firewallTwoBackends = "firewall-two-backends"
        case conntrackFull = "conntrack-full"
        case vxlanGroupLimit = "vxlan-group-limit"
        case vxlanUnderBridgePort = "vxlan-under-bridge-port"
        case zoneMTUDiffers = "zone-mtu-differs"
        case zoneVXLANDiffers = "zone-vxlan-differs"
        case zoneLabelBridgeDiffers = "zone-label-bridge-differs"
        case zoneQemuHookMissing = "zone-qemu-hook-missing"
        case zoneMACDuplicate = "zone-mac-duplicate"
        case zoneVMOnTwoHosts = "zone-vm-on-two-hosts"
        case zoneRouterMissing = "zone-router-missing"
        case zoneBridgeMissing = "zone-bridge-missing"
    }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let nicTapMissing = Self(.nicTapMissing), nicNoTarget = Self(.nicNoTarget)
    public static let tapMACMismatch = Self(.tapMACMismatch), tapBridgeMismatch = Self(.tapBridgeMismatch)
    public static let tapNoMaster = Self(.tapNoMaster), tapUnclaimed = Self(.tapUnclaimed)
    public static let nicLinkDown = Self(.nicLinkDown)
    public static let domainXMLUnreadable = Self(.domainXMLUnreadable), sourceUnavailable = Self(.sourceUnavailable)
    public static let guestBridgeNoUplink = Self(.guestBridgeNoUplink), bridgeNameMismatch = Self(.bridgeNameMismatch)
    public static let ipConflict = Self(.ipConflict), dhcpServerUnexpected = Self(.dhcpServerUnexpected)
    public static let bridgeDown = Self(.bridgeDown), portDown = Self(.portDown)
    public static let portNotForwarding = Self(.portNotForwarding), guestBridgeEmpty = Self(.guestBridgeEmpty)
    public static let nameAtLimit = Self(.nameAtLimit), mtuMismatch = Self(.mtuMismatch)
    public static let fdbDuplicateMAC = Self(.fdbDuplicateMAC), controlBridgeMissing = Self(.controlBridgeMissing)
    public static let controlAddressMissing = Self(.controlAddressMissing), linkLocalRoute = Self(.linkLocalRoute)
    public static let systemVMNoControl = Self(.systemVMNoControl), routerNoPublic = Self(.routerNoPublic)
    public static let vpcTierBridge = Self(.vpcTierBridge), routerNotSeen = Self(.routerNotSeen)
    public static let brNetfilter = Self(.brNetfilter)
    public static let sgNotEnforced = Self(.sgNotEnforced), sgMissing = Self(.sgMissing)
    public static let sgWrongChain = Self(.sgWrongChain), sgAddressSet = Self(.sgAddressSet)
    public static let sgAntiSpoofing = Self(.sgAntiSpoofing), sgStale = Self(.sgStale)
    public static let sgRecordDomain = Self(.sgRecordDomain), sgUplink = Self(.sgUplink)
    public static let forwardDrop = Self(.forwardDrop), firewallTwoBackends = Self(.firewallTwoBackends)
    public static let conntrackFull = Self(.conntrackFull)
    public static let vxlanGroupLimit = Self(.vxlanGroupLimit), vxlanUnderBridgePort = Self(.vxlanUnderBridgePort)
    public static let zoneMTUDiffers = Self(.zoneMTUDiffers), zoneVXLANDiffers = Self(.zoneVXLANDiffers)
    public static let zoneLabelBridgeDiffers = Self(.zoneLabelBridgeDiffers)
    public static let zoneQemuHookMissing = Self(.zoneQemuHookMissing), zoneMACDuplicate = Self(.zoneMACDuplicate)
    public static let zoneVMOnTwoHosts = Self(.zoneVMOnTwoHosts), zoneRouterMissing = Self(.zoneRouterMissing)
    public static let zoneBridgeMissing = Self(.zoneBridgeMissing)

    /// Who emits a code: a collector or the join, the CloudStack model, `--listen`, a check of diagnose, or one
    /// of zone diagnose (over many hosts' dumps).
    public enum Origin: Sendable { case collector, model, listen, check, zone }

    public var origin: Origin? {
        switch known {
        case .nicTapMissing?, .nicNoTarget?, .tapMACMismatch?, .tapBridgeMismatch?, .tapNoMaster?, .tapUnclaimed?,
            .domainXMLUnreadable?, .sourceUnavailable?:
            .collector
        case .guestBridgeNoUplink?, .bridgeNameMismatch?, .sgStale?: .model
        case .ipConflict?, .dhcpServerUnexpected?: .listen
        case .bridgeDown?, .portDown?, .nicLinkDown?, .portNotForwarding?, .guestBridgeEmpty?, .nameAtLimit?,
            .mtuMismatch?, .fdbDuplicateMAC?, .controlBridgeMissing?, .controlAddressMissing?, .linkLocalRoute?,
            .systemVMNoControl?, .routerNoPublic?, .vpcTierBridge?, .routerNotSeen?, .brNetfilter?,
            .sgNotEnforced?, .sgMissing?, .sgWrongChain?, .sgAddressSet?, .sgAntiSpoofing?, .sgRecordDomain?,
            .sgUplink?, .forwardDrop?, .firewallTwoBackends?, .conntrackFull?, .vxlanGroupLimit?,
            .vxlanUnderBridgePort?:
            .check
        case .zoneMTUDiffers?, .zoneVXLANDiffers?, .zoneLabelBridgeDiffers?, .zoneQemuHookMissing?,
            .zoneMACDuplicate?, .zoneVMOnTwoHosts?, .zoneRouterMissing?, .zoneBridgeMissing?:
            .zone
        case nil: nil
        }
    }
}

/// One NIC of one domain: `i-2-11-VM eth0` (ethN is the NIC's position, as inside a CloudStack system VM).
public struct NICRef: Hashable, Sendable, CustomStringConvertible {
    public var domain: String
    public var index: Int

    public init(domain: String, index: Int) {
        self.domain = domain
        self.index = index
    }

    public var description: String { "\(domain) eth\(index)" }
}

/// The collectors whose state a snapshot records.
public enum DataSource: String, CaseIterable, Sendable {
    case netlink, libvirt, packets, firewall
}

/// What a warning or a finding is about: a VM's NIC, a collector, or anything else by its name (a link, a
/// domain, an address, a MAC). In the dump it is the one string `description` gives.
public enum Subject: Codable, Hashable, Comparable, Sendable, CustomStringConvertible {
    case nic(NICRef)
    case source(DataSource)
    case named(String)

    /// The subject a dump's string names: `<domain> eth<N>` is a NIC, a collector's name is that collector.
    public init(_ text: String) {
        if let source = DataSource(rawValue: text) {
            self = .source(source)
        } else if let space = text.lastIndex(of: " "), space > text.startIndex,
            text[text.index(after: space)...].hasPrefix("eth"),
            let index = Int(text[text.index(space, offsetBy: 4)...]),
            String(index) == text[text.index(space, offsetBy: 4)...]
        {
            // Only the spelling kvmtopo writes (eth0, not eth00 or eth+0), so every dump reads back as it was.
            self = .nic(NICRef(domain: String(text[..<space]), index: index))
        } else {
            self = .named(text)
        }
    }

    public var description: String {
        switch self {
        case .nic(let nic): nic.description
        case .source(let source): source.rawValue
        case .named(let name): name
        }
    }

    public var nic: NICRef? { if case .nic(let nic) = self { nic } else { nil } }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public static func < (a: Subject, b: Subject) -> Bool { a.description < b.description }
}
