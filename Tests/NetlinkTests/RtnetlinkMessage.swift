/// Builds rtnetlink messages byte for byte as the kernel sends them in a dump (rtnetlink(7)), for link
/// kinds the build machines' kernel cannot create (no 8021q, no bonding): a real CloudStack host has both.
struct RtnetlinkMessage: Sendable {
    indirect enum Attribute: Sendable {
        case u8(UInt16, UInt8)
        case u16(UInt16, UInt16)
        case be16(UInt16, UInt16)
        case u32(UInt16, UInt32)
        case string(UInt16, String)
        case bytes(UInt16, [UInt8])
        case nested(UInt16, [Attribute])

        var encoded: [UInt8] {
            let (type, payload): (UInt16, [UInt8]) =
                switch self {
                case .u8(let t, let v): (t, [v])
                case .u16(let t, let v): (t, littleEndian(v))
                case .be16(let t, let v): (t, [UInt8(v >> 8), UInt8(v & 0xff)])
                case .u32(let t, let v): (t, littleEndian(v))
                case .string(let t, let v): (t, Array(v.utf8) + [0])
                case .bytes(let t, let v): (t, v)
                case .nested(let t, let children): (t | 0x8000, children.flatMap(\.encoded))
                }
            let length = 4 + payload.count
            return littleEndian(UInt16(length)) + littleEndian(type) + payload + padding(length)
        }
    }

    static let newLink: UInt16 = 16  // RTM_NEWLINK
    static let newNeighbour: UInt16 = 28  // RTM_NEWNEIGH

    var type: UInt16
    /// ifinfomsg or ndmsg, already laid out.
    var header: [UInt8]
    var attributes: [Attribute]

    static func link(family: UInt8 = 0, ifindex: Int32, flags: UInt32, _ attributes: [Attribute]) -> RtnetlinkMessage {
        // struct ifinfomsg { u8 family; u8 pad; u16 type; s32 index; u32 flags; u32 change; }
        let header =
            [family, 0] + littleEndian(UInt16(1)) + littleEndian(UInt32(bitPattern: ifindex))
            + littleEndian(flags) + littleEndian(UInt32(0))
        return RtnetlinkMessage(type: newLink, header: header, attributes: attributes)
    }

    static func neighbour(
        family: UInt8, ifindex: Int32, state: UInt16, flags: UInt8, _ attributes: [Attribute]
    ) -> RtnetlinkMessage {
        // struct ndmsg { u8 family; u8 pad1; u16 pad2; s32 ifindex; u16 state; u8 flags; u8 type; }
        let header = [family, 0, 0, 0] + littleEndian(UInt32(bitPattern: ifindex)) + littleEndian(state) + [flags, 0]
        return RtnetlinkMessage(type: newNeighbour, header: header, attributes: attributes)
    }

    var bytes: [UInt8] {
        let body = header + attributes.flatMap(\.encoded)
        let length = 16 + body.count
        // struct nlmsghdr { u32 len; u16 type; u16 flags (NLM_F_MULTI); u32 seq; u32 pid; }
        return littleEndian(UInt32(length)) + littleEndian(type) + littleEndian(UInt16(2))
            + littleEndian(UInt32(1)) + littleEndian(UInt32(0)) + body
    }
}

private func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

private func padding(_ length: Int) -> [UInt8] {
    [UInt8](repeating: 0, count: (4 - length % 4) % 4)
}

// Attribute numbers from <linux/if_link.h> and <linux/neighbour.h>.
enum IFLA {
    static let address: UInt16 = 1, ifname: UInt16 = 3, mtu: UInt16 = 4, link: UInt16 = 5, master: UInt16 = 10
    static let operstate: UInt16 = 16, linkinfo: UInt16 = 18
    static let infoKind: UInt16 = 1, infoData: UInt16 = 2, infoSlaveKind: UInt16 = 4, infoSlaveData: UInt16 = 5
    static let vlanID: UInt16 = 1, vlanProtocol: UInt16 = 5
    static let bondMode: UInt16 = 1
    static let brportState: UInt16 = 1, brportPriority: UInt16 = 2, brportCost: UInt16 = 3
}

enum NDA {
    static let dst: UInt16 = 1, lladdr: UInt16 = 2, vlan: UInt16 = 5, master: UInt16 = 9
}
