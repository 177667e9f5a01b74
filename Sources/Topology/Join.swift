/// Joins libvirt's view of each NIC to the kernel's tap, keyed on the target name *and* confirmed by MAC:
/// a vnetN name is reused as soon as a guest goes away, so a name alone can point at another guest's tap.
/// Nothing is dropped: every disagreement becomes a warning.
public enum TapJoin {
    public struct Result: Sendable {
        public var domains: [Domain]
        public var warnings: [Warning]
    }

    /// `claimsAreComplete`: libvirt answered, so a tap no domain claims really is unclaimed.
    public static func join(domains: [Domain], links: [Link], claimsAreComplete: Bool) -> Result {
        let linksByName = Dictionary(links.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        // Looked up for every NIC whose tap is missing: one pass over the links, not one per NIC (a thousand VMs
        // read from outside their taps' namespace, on a host of ten thousand links, took 25 s).
        let linksByMAC = Dictionary(
            links.compactMap { link in link.mac.map { ($0.lowercased(), link) } },
            uniquingKeysWith: { first, _ in first })
        var warnings: [Warning] = []
        var claimed: Set<String> = []
        var joined = domains
        for d in joined.indices {
            let domain = joined[d]
            guard domain.isActive else { continue }
            for n in joined[d].nics.indices {
                var nic = joined[d].nics[n]
                let subject = Subject.nic(NICRef(domain: domain.name, index: nic.index))
                defer { joined[d].nics[n] = nic }
                guard nic.type.hasHostDevice else { continue }
                guard let tapName = nic.tap else {
                    warnings.append(
                        Warning(
                            code: .nicNoTarget, subject: subject,
                            message: "running domain's \(nic.type) NIC has no target device in its XML"))
                    continue
                }
                guard let tap = linksByName[tapName] else {
                    nic.tapFound = false
                    let elsewhere = nic.mac.flatMap { mac in
                        linksByMAC[expectedHostMAC(forGuest: mac.lowercased())] ?? linksByMAC[mac.lowercased()]
                    }
                    warnings.append(
                        Warning(
                            code: .nicTapMissing, subject: subject,
                            message: "libvirt says tap \(tapName), which does not exist in the kernel"
                                + (elsewhere.map { "; \($0.name) carries this NIC's MAC" } ?? "")))
                    continue
                }
                if let mac = nic.mac, !macsMatch(guest: mac, host: tap.mac) {
                    nic.tapFound = false
                    warnings.append(
                        Warning(
                            code: .tapMACMismatch, subject: subject,
                            message:
                                "tap \(tapName) has MAC \(tap.mac ?? "none"), expected "
                                + "\(expectedHostMAC(forGuest: mac)): the name belongs to another device"
                        ))
                    continue
                }
                nic.tapFound = true
                nic.hostBridge = tap.master
                claimed.insert(tapName)
                guard let intended = nic.bridge, tap.master != intended else { continue }
                if let actual = tap.master {
                    warnings.append(
                        Warning(
                            code: .tapBridgeMismatch, subject: subject,
                            message: "tap \(tapName) is on \(actual), libvirt says \(intended)"))
                } else {
                    warnings.append(
                        Warning(
                            code: .tapNoMaster, subject: subject,
                            message: "tap \(tapName) is on no bridge, libvirt says \(intended)"))
                }
            }
        }
        if claimsAreComplete {
            for link in links where link.kind == .tun && !claimed.contains(link.name) {
                warnings.append(
                    Warning(
                        code: .tapUnclaimed, subject: .named(link.name),
                        message: "tap \(link.name)" + (link.master.map { " on \($0)" } ?? "")
                            + " belongs to no libvirt domain"))
            }
        }
        return Result(domains: joined, warnings: warnings)
    }

    /// libvirt gives a tap the guest's MAC with the first octet replaced by 0xfe (0xfa when the guest's
    /// own MAC starts with fe), so the host never answers for the guest's address.
    public static func expectedHostMAC(forGuest mac: String) -> String {
        let octets = mac.split(separator: ":")
        guard octets.count == 6 else { return mac }
        return (octets[0] == "fe" ? "fa" : "fe") + ":" + octets.dropFirst().joined(separator: ":")
    }

    /// A tap that keeps the guest's MAC (type='ethernet' with a tap managed outside libvirt) also counts.
    static func macsMatch(guest: String, host: String?) -> Bool {
        guard let host = host?.lowercased() else { return false }
        return host == expectedHostMAC(forGuest: guest.lowercased()) || host == guest.lowercased()
    }
}
