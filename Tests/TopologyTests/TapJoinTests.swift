import Testing
import Topology

private func tap(_ name: String, mac: String, master: String?) -> Link {
    Link(name: name, ifindex: 10, kind: .tun, mac: mac, master: master)
}

private func vm(_ name: String, state: DomainState = .running, _ nics: [NIC]) -> Domain {
    Domain(name: name, uuid: "u-\(name)", state: state, nics: nics)
}

private func bridgeNIC(_ index: Int, mac: String, bridge: String, tap: String?) -> NIC {
    NIC(index: index, mac: mac, type: .bridge, bridge: bridge, tap: tap, model: "virtio")
}

@Suite("joining libvirt NICs to kernel taps")
struct TapJoinTests {
    @Test("libvirt's host MAC rule: fe instead of the first octet, fa when the guest's starts with fe")
    func hostMAC() {
        #expect(TapJoin.expectedHostMAC(forGuest: "02:00:4c:5e:00:0a") == "fe:00:4c:5e:00:0a")
        #expect(TapJoin.expectedHostMAC(forGuest: "fe:54:00:00:00:01") == "fa:54:00:00:00:01")
    }

    @Test("a tap with the right name and MAC on the right bridge joins cleanly")
    func clean() {
        let result = TapJoin.join(
            domains: [vm("i-2-10-VM", [bridgeNIC(0, mac: "02:00:4c:5e:00:0a", bridge: "brvx-1001", tap: "vnet3")])],
            links: [tap("vnet3", mac: "fe:00:4c:5e:00:0a", master: "brvx-1001")], claimsAreComplete: true)
        #expect(result.warnings.isEmpty)
        #expect(result.domains[0].nics[0].tapFound == true)
        #expect(result.domains[0].nics[0].hostBridge == "brvx-1001")
    }

    @Test("every disagreement is kept as a warning, nothing is dropped")
    func faults() {
        let domains = [
            vm(
                "i-2-10-VM",
                [
                    bridgeNIC(0, mac: "02:00:00:00:00:01", bridge: "brvx-1001", tap: "vnet1"),  // missing
                    bridgeNIC(1, mac: "02:00:00:00:00:02", bridge: "brvx-1001", tap: "vnet2"),  // wrong bridge
                    bridgeNIC(2, mac: "02:00:00:00:00:03", bridge: "brvx-1001", tap: "vnet3"),  // no master
                    bridgeNIC(3, mac: "02:00:00:00:00:04", bridge: "brvx-1001", tap: "vnet4"),
                ]),  // name reused
            vm("i-2-11-VM", state: .shutoff, [bridgeNIC(0, mac: "02:00:00:00:00:05", bridge: "brvx-1001", tap: nil)]),
        ]
        let links = [
            tap("vnet2", mac: "fe:00:00:00:00:02", master: "brvx-1002"),
            tap("vnet3", mac: "fe:00:00:00:00:03", master: nil),
            tap("vnet4", mac: "fe:99:99:99:99:99", master: "brvx-1001"),
            tap("vnet7", mac: "fe:00:00:00:00:01", master: "brvx-1001"),
        ]
        let result = TapJoin.join(domains: domains, links: links, claimsAreComplete: true)
        let byCode = Dictionary(grouping: result.warnings, by: \.code)
        #expect(byCode[.nicTapMissing]?.map(\.subject.description) == ["i-2-10-VM eth0"])
        #expect(byCode[.nicTapMissing]?.first?.message.contains("vnet7 carries this NIC's MAC") == true)
        #expect(byCode[.tapBridgeMismatch]?.first?.message == "tap vnet2 is on brvx-1002, libvirt says brvx-1001")
        #expect(byCode[.tapNoMaster]?.map(\.subject.description) == ["i-2-10-VM eth2"])
        #expect(byCode[.tapMACMismatch]?.map(\.subject.description) == ["i-2-10-VM eth3"])
        #expect(Set(byCode[.tapUnclaimed]?.map(\.subject.description) ?? []) == ["vnet4", "vnet7"])
        #expect(result.domains[0].nics.map(\.tapFound) == [false, true, true, false])
        #expect(result.domains[1].nics[0].tapFound == nil, "a stopped domain has no tap to look for")
        #expect(result.warnings.count == 6)
    }

    @Test("without libvirt's full list no tap is called unclaimed")
    func incompleteClaims() {
        let result = TapJoin.join(
            domains: [], links: [tap("vnet7", mac: "fe:00:00:00:00:01", master: "br0")],
            claimsAreComplete: false)
        #expect(result.warnings.isEmpty)
    }

    @Test("a running domain's NIC without a target is reported")
    func noTarget() {
        let result = TapJoin.join(
            domains: [vm("v", [bridgeNIC(0, mac: "02:00:00:00:00:09", bridge: "br0", tap: nil)])],
            links: [], claimsAreComplete: true)
        #expect(result.warnings.map(\.code) == [.nicNoTarget])
    }
}
