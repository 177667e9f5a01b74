import Foundation
import Libvirt
import Testing
import Topology

@testable import Collect

private func nodeURI() throws -> String {
    let url = try #require(Bundle.module.url(forResource: "Fixtures/node", withExtension: "xml"))
    return "test://" + url.path
}

@Suite("libvirt through its in-process test driver")
struct TestDriverTests {
    @Test("every domain with its state and its NICs in XML order")
    func domains() throws {
        let connection = try LibvirtConnection.openReadOnly(uri: try nodeURI())
        let records = try connection.domains()
        #expect(records.map(\.name).sorted() == ["i-2-10-VM", "r-4-VM"])
        #expect(records.allSatisfy { $0.state == .running && $0.id != nil && $0.xml != nil })

        let router = HostCollector.domain(try #require(records.first { $0.name == "r-4-VM" }))
        #expect(router.uuid == "6f1c2a7e-3d0b-4b7e-9a51-0c6d2f0e4a11")
        #expect(router.nics.map(\.bridge) == ["brvx-1001", "cloud0", "cloudbr0"])
        #expect(router.nics.map(\.tap) == ["tap-r4-0", "tap-r4-1", "tap-r4-2"])
        #expect(router.nics.map(\.mac) == ["02:00:4c:5f:00:01", "0e:00:a9:fe:03:91", "1e:00:54:00:00:0f"])
        #expect(router.nics.allSatisfy { $0.romBarOff })
        #expect(router.smbios?.product == "CloudStack KVM Hypervisor")
    }

    @Test("the default test node answers too")
    func defaultNode() throws {
        let records = try LibvirtConnection.openReadOnly(uri: "test:///default").domains()
        #expect(records.map(\.name) == ["test"])
    }

    @Test("a daemon that is not there is 'unreachable', with what libvirt said")
    func unreachable() {
        do {
            _ = try LibvirtConnection.openReadOnly(uri: "qemu+unix:///system?socket=/nonexistent/sock")
            Issue.record("connected to a socket that does not exist")
        } catch {
            #expect(error.reason == .unreachable)
            #expect(error.message.contains("/nonexistent/sock"))
        }
    }

    @Test("an unknown URI scheme is an error, not a crash")
    func badURI() {
        #expect(throws: LibvirtError.self) { try LibvirtConnection.openReadOnly(uri: "nosuchdriver:///x") }
    }

    @Test("unreachable libvirt is explained for an operator")
    func explanation() {
        let denied = LibvirtError(reason: .permissionDenied, message: "Failed to connect socket: Permission denied")
        #expect(
            HostCollector.explain(denied, uri: "qemu:///system").contains(
                "run as root or as a member of the libvirt group"))
        let down = LibvirtError(reason: .unreachable, message: "No such file or directory")
        #expect(HostCollector.explain(down, uri: "qemu:///system").contains("is libvirtd running?"))
    }
}
