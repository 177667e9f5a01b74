/// The model's words: kinds, roles, traffic types, states, sources and codes. Each is a string in the dump, so a
/// dump written by a newer kvmtopo (with a value this build has never heard of) still loads, keeps the value and
/// shows it: the types are open `RawRepresentable` structs, as swift-system's flags are. What this build knows
/// is the nested `Known` enum; code that must handle every known value switches over `known`, exhaustively.
public protocol Vocabulary: RawRepresentable<String>, Codable, Hashable, Comparable, Sendable,
    CustomStringConvertible
{
    associatedtype Known: RawRepresentable<String>, CaseIterable, Sendable
    init(rawValue: String)
}

extension Vocabulary {
    public init(_ known: Known) { self.init(rawValue: known.rawValue) }
    /// The value as this build knows it; nil for one it has never heard of.
    public var known: Known? { Known(rawValue: rawValue) }
    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// CloudStack's role for a domain, from its name (VirtualMachineName.java) or SMBIOS product.
public struct DomainRole: Vocabulary {
    public enum Known: String, CaseIterable, Sendable {
        case user, router
        case secondaryStorage = "secondary-storage"
        case consoleProxy = "console-proxy"
        case internalLB = "internal-lb"
        case elasticLB = "elastic-lb"
        case other
    }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let user = Self(.user), router = Self(.router), other = Self(.other)
    public static let secondaryStorage = Self(.secondaryStorage), consoleProxy = Self(.consoleProxy)
    public static let internalLB = Self(.internalLB), elasticLB = Self(.elasticLB)

    /// A system VM: CloudStack's own appliances other than routers.
    public var isSystemVM: Bool {
        switch known {
        case .secondaryStorage?, .consoleProxy?, .internalLB?, .elasticLB?: true
        case .user?, .router?, .other?, nil: false
        }
    }

    /// The management server configures it over the link-local control network, so it has a control NIC.
    public var needsControlNIC: Bool {
        switch known {
        case .router?, .secondaryStorage?, .consoleProxy?: true
        case .user?, .internalLB?, .elasticLB?, .other?, nil: false
        }
    }
}

/// A router's layout, from its NICs: isolated, VPC or DHCP-only (a shared network's DHCP/DNS server).
public struct RouterKind: Vocabulary {
    public enum Known: String, CaseIterable, Sendable {
        case isolated, vpc
        case dhcpOnly = "dhcp-only"
    }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let isolated = Self(.isolated), vpc = Self(.vpc), dhcpOnly = Self(.dhcpOnly)
}

/// The CloudStack traffic a NIC carries.
public struct TrafficType: Vocabulary {
    public enum Known: String, CaseIterable, Sendable { case control, `public`, management, storage, guest }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let control = Self(.control), `public` = Self(.public), management = Self(.management)
    public static let storage = Self(.storage), guest = Self(.guest)
}

/// What a bridge is to CloudStack. `Known` is in the order networks are listed.
public struct NetworkKind: Vocabulary {
    public enum Known: String, CaseIterable, Sendable {
        case control, management, `public`, storage, isolated
        case vpcTier = "vpc-tier"
        case shared, guest, unknown
    }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let control = Self(.control), management = Self(.management), `public` = Self(.public)
    public static let storage = Self(.storage), isolated = Self(.isolated), vpcTier = Self(.vpcTier)
    public static let shared = Self(.shared), guest = Self(.guest), unknown = Self(.unknown)

    /// A network that carries guests' traffic (not one of the host's own).
    public var carriesGuests: Bool {
        switch known {
        case .isolated?, .vpcTier?, .shared?, .guest?: true
        case .control?, .management?, .public?, .storage?, .unknown?, nil: false
        }
    }

    /// Where networks of this kind are listed: the host's own first, then guests', then the rest.
    public var listingOrder: Int { known.flatMap { Known.allCases.firstIndex(of: $0) } ?? Known.allCases.count }
}

/// Where an address was learned.
public struct AddressSource: Vocabulary {
    public enum Known: String, CaseIterable, Sendable {
        case arp, dhcp, nd
        case controlMAC = "control-mac"
        /// The address CloudStack's anti-spoofing rules let the NIC send as (what the agent was told it has).
        case securityGroup = "security-group"
    }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let arp = Self(.arp), dhcp = Self(.dhcp), nd = Self(.nd), controlMAC = Self(.controlMAC)
    public static let securityGroup = Self(.securityGroup)

    /// Which word wins for one NIC: the control MAC's (it is the address), then DHCP's, then the security group's
    /// (assigned, but a guest may use another), then ARP's, then ND's (an IPv4 address is what people look for).
    public var rank: Int {
        switch known {
        case .controlMAC?: 4
        case .dhcp?: 3
        case .securityGroup?: 2
        case .arp?: 1
        case .nd?, nil: 0
        }
    }
}

/// What a neighbour heard on the wire is to its network.
public struct NeighbourRole: Vocabulary {
    public enum Known: String, CaseIterable, Sendable {
        case gateway
        case dhcpServer = "dhcp-server"
    }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let gateway = Self(.gateway), dhcpServer = Self(.dhcpServer)
}

/// The kernel's IFLA_INFO_KIND, with `device` for a NIC and `loopback` for lo (which have none).
public struct LinkKind: Vocabulary {
    public enum Known: String, CaseIterable, Sendable {
        case device, loopback, bridge, tun, veth, vxlan, vlan, bond, team, macvtap, macvlan, dummy
    }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let device = Self(.device), loopback = Self(.loopback), bridge = Self(.bridge), tun = Self(.tun)
    public static let veth = Self(.veth), vxlan = Self(.vxlan), vlan = Self(.vlan), bond = Self(.bond)
    public static let team = Self(.team), macvtap = Self(.macvtap), macvlan = Self(.macvlan), dummy = Self(.dummy)

    /// What can be a bridge's way off the host when the bridge is untagged.
    public var canBeUntaggedUplink: Bool {
        switch known {
        case .device?, .bond?, .veth?, .team?: true
        case .loopback?, .bridge?, .tun?, .vxlan?, .vlan?, .macvtap?, .macvlan?, .dummy?, nil: false
        }
    }
}

/// RFC 2863 operational state (IFLA_OPERSTATE).
public struct OperState: Vocabulary {
    public enum Known: String, CaseIterable, Sendable {
        case unknown
        case notPresent = "not-present"
        case down
        case lowerLayerDown = "lower-layer-down"
        case testing, dormant, up
    }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let up = Self(.up), down = Self(.down), unknown = Self(.unknown), dormant = Self(.dormant)
    public static let notPresent = Self(.notPresent), lowerLayerDown = Self(.lowerLayerDown), testing = Self(.testing)
}

/// A bridge port's STP state.
public struct PortState: Vocabulary {
    public enum Known: String, CaseIterable, Sendable {
        case disabled, listening, learning, forwarding, blocking, unknown
    }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let disabled = Self(.disabled), listening = Self(.listening), learning = Self(.learning)
    public static let forwarding = Self(.forwarding), blocking = Self(.blocking), unknown = Self(.unknown)

    /// STP keeps the port from forwarding (still starting, or blocking a loop); a disabled port is down anyway.
    public var withholdsFrames: Bool {
        switch known {
        case .listening?, .learning?, .blocking?: true
        case .disabled?, .forwarding?, .unknown?, nil: false
        }
    }
}

/// A forwarding database entry's state.
public struct FDBState: Vocabulary {
    public enum Known: String, CaseIterable, Sendable { case permanent, `static`, dynamic }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let permanent = Self(.permanent), `static` = Self(.static), dynamic = Self(.dynamic)
}

/// A NIC's link as libvirt sets it (`<link state=…/>`, `virsh domif-setlink`): down, the guest sees no carrier
/// while the host's tap stays up.
public struct NICLinkState: Vocabulary {
    public enum Known: String, CaseIterable, Sendable { case up, down }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let up = Self(.up), down = Self(.down)
}

/// libvirt's domain state.
public struct DomainState: Vocabulary {
    public enum Known: String, CaseIterable, Sendable {
        case running, blocked, paused
        case shuttingDown = "shutting-down"
        case shutoff, crashed, pmsuspended, unknown
    }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let running = Self(.running), shutoff = Self(.shutoff), unknown = Self(.unknown)
    public static let blocked = Self(.blocked), paused = Self(.paused), shuttingDown = Self(.shuttingDown)
    public static let crashed = Self(.crashed), pmsuspended = Self(.pmsuspended)

    /// The domain has a QEMU process, so its taps exist.
    public var isActive: Bool {
        switch known {
        case .running?, .blocked?, .paused?, .pmsuspended?, .shuttingDown?: true
        case .shutoff?, .crashed?, .unknown?, nil: false
        }
    }
}

/// What libvirt's lifecycle event says happened to a domain (its event and detail, as `virsh event` names them).
public struct DomainEvent: Vocabulary {
    public enum Known: String, CaseIterable, Sendable {
        case defined, undefined, started
        case migratedIn = "migrated-in"
        case restored, paused
        case pausedForMigration = "paused-for-migration"
        case resumed
        case shutDown = "shut-down"
        case destroyed, crashed
        case migratedOut = "migrated-out"
        case saved
        case qemuFailed = "qemu-failed"
        case shuttingDown = "shutting-down"
        case pmsuspended
        case other
    }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// How a line says it: "r-4-VM stopped (destroyed)", "i-3-20-VM migrated in".
    public var phrase: String {
        switch known {
        case .defined?: "was defined"
        case .undefined?: "was undefined"
        case .started?: "started"
        case .migratedIn?: "migrated in"
        case .restored?: "started (restored from a saved state)"
        case .paused?: "paused"
        case .pausedForMigration?: "paused (migrating)"
        case .resumed?: "resumed"
        case .shutDown?: "stopped (shut down)"
        case .destroyed?: "stopped (destroyed)"
        case .crashed?: "crashed"
        case .migratedOut?: "stopped (migrated out)"
        case .saved?: "stopped (saved)"
        case .qemuFailed?: "stopped (QEMU failed)"
        case .shuttingDown?: "is shutting down"
        case .pmsuspended?: "suspended to memory"
        case .other?, nil: "changed state (\(rawValue))"
        }
    }
}

/// libvirt's `<interface type>`; `unknown` when the XML gives none.
public struct InterfaceType: Vocabulary {
    public enum Known: String, CaseIterable, Sendable {
        case bridge, network, direct, ethernet, vhostuser, user, hostdev, mcast, server, client, udp, vdpa, null
        case unknown
    }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let bridge = Self(.bridge), network = Self(.network), direct = Self(.direct)
    public static let ethernet = Self(.ethernet), user = Self(.user), unknown = Self(.unknown)
    public static let vhostuser = Self(.vhostuser), hostdev = Self(.hostdev), mcast = Self(.mcast)
    public static let server = Self(.server), client = Self(.client), udp = Self(.udp), vdpa = Self(.vdpa)
    public static let null = Self(.null)

    /// libvirt creates a host-side device for it (a tap, or a macvtap for direct).
    public var hasHostDevice: Bool {
        switch known {
        case .bridge?, .network?, .ethernet?, .direct?: true
        case .vhostuser?, .user?, .hostdev?, .mcast?, .server?, .client?, .udp?, .vdpa?, .null?, .unknown?, nil:
            false
        }
    }
}

/// An address's family, as `ip` names it.
public struct AddressFamily: Vocabulary {
    public enum Known: String, CaseIterable, Sendable { case inet, inet6 }
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static let inet = Self(.inet), inet6 = Self(.inet6)
}
