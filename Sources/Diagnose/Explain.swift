import Topology

extension Diagnose {
    /// A collector's or the model's warning as a finding: what it says, plus why it matters and what to type.
    /// Nil for a code diagnose finds itself (a dump may carry findings as warnings only from a newer kvmtopo).
    static func explain(_ warning: Warning, host: HostFacts) -> Finding? {
        let subject = warning.subject.description
        let nic = host.nic(warning.subject.nic)?.nic
        let tap = nic?.tap ?? subject
        let intended = nic?.bridge ?? "<bridge>"
        let domain = warning.subject.nic?.domain ?? subject
        let explained: (why: String, action: String)? =
            switch warning.code.known {
            case .nicTapMissing?:
                (
                    "the guest sees a NIC, but nothing on the host carries its frames: the VM is cut off on "
                        + "this network",
                    "virsh domiflist \(domain); ip -d link show \(tap)"
                )
            case .nicNoTarget?:
                (
                    "without a target device the tap cannot be found, checked or traced",
                    "virsh dumpxml \(domain) | grep -A8 '<interface'"
                )
            case .tapMACMismatch?:
                (
                    "the tap of that name is another device: the VM's own NIC is missing or renamed",
                    "virsh domiflist \(domain); ip -d link show \(tap)"
                )
            case .tapBridgeMismatch?:
                (
                    "the VM is on another network than CloudStack put it on: it reaches the wrong VMs and routers",
                    "ip link set \(tap) master \(intended)   (look: bridge link show dev \(tap))"
                )
            case .tapNoMaster?:
                (
                    "a tap on no bridge goes nowhere: the VM is cut off on this network",
                    "ip link set \(tap) master \(intended)"
                )
            case .tapUnclaimed?:
                (
                    "a leftover tap from a VM that is gone, or one made by hand; on a bridge it sees the "
                        + "network's traffic",
                    "ip -d link show \(subject); ip link del \(subject) when nothing uses it"
                )
            case .domainXMLUnreadable?:
                ("the domain's NICs are unknown, so its taps cannot be checked", "virsh dumpxml \(subject)")
            case .sourceUnavailable?:
                (
                    "what that source knows (VMs and their taps, or the kernel's links) is missing from every check",
                    warning.subject == .source(.libvirt)
                        ? "systemctl status libvirtd; run as root or in the libvirt group" : "run as root"
                )
            case .guestBridgeNoUplink?:
                (
                    "VMs on this bridge reach each other but nothing off this host: no router elsewhere, no VM "
                        + "on other hosts",
                    "ip -d link show master \(subject); the agent creates the uplink on the next VM start "
                        + "(modifyvlan.sh/modifyvxlan.sh)"
                )
            case .bridgeNameMismatch?:
                (
                    "the bridge's name promises one network and carries another: VMs land on the wrong VLAN or VNI",
                    "ip -d link show master \(subject)"
                )
            case .ipConflict?:
                (
                    "two hosts answer for one address: traffic goes to either, connections break at random",
                    "arping -D -I <bridge> \(subject); find the second MAC with: bridge fdb show | grep <mac>"
                )
            case .dhcpServerUnexpected?:
                (
                    "a stray DHCP server hands out addresses and gateways CloudStack did not plan",
                    "tcpdump -eni \(subject) port 67 or port 68"
                )
            case .bridgeDown?, .portDown?, .nicLinkDown?, .portNotForwarding?, .guestBridgeEmpty?, .nameAtLimit?,
                .mtuMismatch?, .fdbDuplicateMAC?, .controlBridgeMissing?, .controlAddressMissing?, .linkLocalRoute?,
                .systemVMNoControl?, .routerNoPublic?, .vpcTierBridge?, .routerNotSeen?, .brNetfilter?,
                .sgNotEnforced?, .sgMissing?, .sgWrongChain?, .sgAddressSet?, .sgAntiSpoofing?, .sgRecordDomain?,
                .sgUplink?, .forwardDrop?, .firewallTwoBackends?, .conntrackFull?, .vxlanGroupLimit?,
                .vxlanUnderBridgePort?, .zoneMTUDiffers?, .zoneVXLANDiffers?, .zoneLabelBridgeDiffers?,
                .zoneQemuHookMissing?, .zoneMACDuplicate?, .zoneVMOnTwoHosts?, .zoneRouterMissing?,
                .zoneBridgeMissing?:
                nil  // diagnose finds these itself, from the facts
            case .sgStale?:
                (
                    "left behind by a VM that stopped, migrated or failed to be destroyed; the agent's own "
                        + "cleanup misses ebtables chains when ebtables is nft-backed or built in (it looks in "
                        + "/proc/modules); a new VM with that name would meet old rules",
                    "iptables-save | grep -- '\(subject)-'; ebtables-save | grep -- '\(subject)-'; "
                        + "ipset list -n | grep -- '\(subject)-'"
                )
            case nil:
                (
                    "this kvmtopo does not know the code: a newer kvmtopo wrote the dump",
                    "kvmtopo diagnose with the release that wrote it"
                )
            }
        guard let (why, action) = explained else { return nil }
        return finding(
            warning.code, warning.subject, warning.message, why: why, action: action,
            related: host.related(to: warning.subject))
    }
}
