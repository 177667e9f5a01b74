import Topology

/// CloudStack's naming rules, from VirtualMachineName.java and the agent's bridge drivers. The instance
/// suffix ("VM" by default) is a global setting, so it is matched, never assumed.
enum Naming {
    static func role(ofDomain name: String) -> DomainRole? {
        // i-<account>-<id>-<suffix>, or <type>-<id>-<suffix>[-<n>], read by hand (it runs for every domain).
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        let suffix = { (part: Substring) in !part.isEmpty && !part.contains(where: \.isWhitespace) }
        if parts.first == "i" {
            return parts.count == 4 && number(parts[1]) && number(parts[2]) && suffix(parts[3]) ? .user : nil
        }
        guard (3...4).contains(parts.count), number(parts[1]), suffix(parts[2]), parts.count == 3 || number(parts[3])
        else { return nil }
        return switch parts[0] {
        case "r": .router
        case "s": .secondaryStorage
        case "v": .consoleProxy
        case "b": .internalLB
        case "l": .elasticLB
        default: nil
        }
    }

    /// A guest bridge's name: VLAN `br<pif>-<vlan>`, VXLAN `brvx-<vni>`, legacy `cloudVirBr<vlan>`.
    enum GuestBridge: Equatable {
        case vlan(pif: String, id: Int)
        case vxlan(vni: Int)
        case legacyVLAN(id: Int)
    }

    static func guestBridge(_ name: String) -> GuestBridge? {
        // Read by hand, as securityGroupKey is: it runs for every NIC and every bridge.
        let number = { (digits: Substring) in Self.number(digits) ? Int(digits) : nil }
        if name.hasPrefix("brvx-"), let vni = number(name.dropFirst(5)) { return .vxlan(vni: vni) }
        if name.hasPrefix("cloudVirBr"), let id = number(name.dropFirst(10)) { return .legacyVLAN(id: id) }
        guard name.hasPrefix("br"), let dash = name.lastIndex(of: "-"),
            let id = number(name[name.index(after: dash)...])
        else { return nil }
        let pif = name[name.index(name.startIndex, offsetBy: 2)..<dash]
        return pif.isEmpty ? nil : .vlan(pif: String(pif), id: id)
    }

    /// A control NIC's MAC is 0e:00:a9:fe:XX:YY for link-local address 169.254.XX.YY (ControlNetworkGuru).
    static func controlAddress(fromMAC mac: String) -> String? {
        let octets = mac.lowercased().split(separator: ":")
        guard octets.count == 6, octets[0...3] == ["0e", "00", "a9", "fe"],
            let x = UInt8(octets[4], radix: 16), let y = UInt8(octets[5], radix: 16)
        else { return nil }
        return "169.254.\(x).\(y)"
    }

    static let cloudStackProduct = "CloudStack KVM Hypervisor"

    // MARK: security_group.py's names

    /// The chain named for a VM: its name, cut to 24 characters when longer than 25.
    static func vmChain(_ name: String) -> String { name.count > 25 ? String(name.prefix(24)) : name }

    /// The chain the bridge framework jumps to for a VM's taps: `i-2-10-def` for a user VM (the VM chain without
    /// its last token), the VM chain itself for a router or system VM.
    static func securityGroupChain(_ name: String, role: DomainRole?) -> String {
        let chain = vmChain(name)
        guard role == .user, let dash = chain.lastIndex(of: "-") else { return chain }
        return chain[..<dash] + "-def"
    }

    /// The part of a chain's, ipset's or VM's name that names the VM for security_group.py (`i-2-10` in
    /// i-2-10-def, i-2-10-VM-eg, i-2-10-VM-in-src; r-4 in r-4-VM): nil for names that are not a VM's.
    static func securityGroupKey(_ name: String) -> String? {
        // Read by hand: a host's firewall has thousands of chain and ipset names, and a regex literal is parsed
        // again on every call.
        let parts = name.split(separator: "-", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count >= 3, number(parts[1]) else { return nil }
        if parts[0] == "i" {
            guard parts.count == 4, number(parts[2]) else { return nil }
            return "i-\(parts[1])-\(parts[2])"
        }
        // Not "i": a whole system VM's name (r-4-VM), which role(ofDomain:) knows.
        guard role(ofDomain: name) != nil else { return nil }
        return "\(parts[0])-\(parts[1])"
    }

    /// A part of a CloudStack name that is a number: ASCII digits, at least one.
    private static func number(_ part: Substring) -> Bool {
        !part.isEmpty && part.allSatisfy { $0.isASCII && $0.isNumber }
    }
}
