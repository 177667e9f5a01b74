import Foundation
import Testing
import Topology

private func fixture(_ name: String) throws -> String {
    let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
    return try String(contentsOf: url, encoding: .utf8)
}

@Suite("domain XML")
struct DomainXMLTests {
    @Test("a CloudStack isolated VR: NICs in document order with every field kvmtopo reads")
    func virtualRouter() throws {
        let description = try DomainDescription(xml: try fixture("r-4-VM.xml"))
        #expect(description.nics.map(\.index) == [0, 1, 2, 3])
        #expect(description.nics.map(\.bridge) == ["brbond0-100", "cloud0", "cloudbr0", "cloudbr1"])
        #expect(description.nics.map(\.tap) == ["vnet9", "vnet10", "vnet11", "vnet12"])
        let guest = description.nics[0]
        #expect(guest.mac == "02:00:4c:5f:00:01", "MACs are normalised to lower case")
        #expect(guest.type == .bridge)
        #expect(guest.model == "virtio")
        #expect(guest.romBarOff)
        #expect(guest.linkState == .up)
        #expect(guest.vlanTag == nil)
        let ovs = description.nics[3]
        #expect(ovs.virtualPort == "openvswitch")
        #expect(ovs.vlanTag == 200)
        #expect(!ovs.romBarOff)
        #expect(
            description.smbios
                == SMBIOS(manufacturer: "Apache Software Foundation", product: "CloudStack KVM Hypervisor"))
    }

    @Test("network, direct and vhostuser interfaces keep their own source fields")
    func otherInterfaceTypes() throws {
        let xml = """
            <domain type='kvm'><name>vm</name><devices>
              <interface type='network'><mac address='52:54:00:aa:bb:01'/><source network='default' bridge='virbr0'/><target dev='vnet0'/></interface>
              <interface type='direct'><mac address='52:54:00:aa:bb:02'/><source dev='eth1' mode='bridge'/><target dev='macvtap0'/></interface>
              <interface type='vhostuser'><mac address='52:54:00:aa:bb:03'/><source type='unix' path='/run/ovs/p1' mode='client'/></interface>
            </devices></domain>
            """
        let nics = try DomainDescription(xml: xml).nics
        #expect(nics.map(\.type) == [.network, .direct, .vhostuser])
        #expect(nics[0].network == "default")
        #expect(nics[0].bridge == "virbr0")
        #expect(nics[1].sourceDevice == "eth1")
        #expect(nics[2].tap == nil)
    }

    @Test("a domain without interfaces or sysinfo has neither")
    func bare() throws {
        let description = try DomainDescription(xml: "<domain type='qemu'><name>x</name><devices/></domain>")
        #expect(description.nics.isEmpty)
        #expect(description.smbios == nil)
    }

    @Test(
        "malformed or foreign XML is a one-line error",
        arguments: [
            "", "<domain>", "<network><name>default</name></network>", "not xml at all", "<domain><devices><interface",
            "<domain/><domain/>", "\u{0}",
            "<domain><devices><interface type='bridge'><mac address='02:00:00:00:00:01'/></devices></domain>",
        ])
    func malformed(xml: String) {
        #expect(throws: DomainXMLError.self) { try DomainDescription(xml: xml) }
        do {
            _ = try DomainDescription(xml: xml)
        } catch {
            #expect(!error.description.contains("\n"))
        }
    }
}
