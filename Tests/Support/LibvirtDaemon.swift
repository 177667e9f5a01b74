import Foundation

/// The real libvirtd the integration tests use: started (once per test process) inside its own network
/// namespace by scripts/libvirtd-netns, so its guests' taps never appear on the machine running the tests.
public enum LibvirtDaemon {
    public static let namespace = "kvmtopo-lab"

    /// Starts the daemon unless it runs (the lab test may have stopped it); when it cannot run, the reason
    /// goes to stderr next to the skipped test.
    public static func start() -> Bool {
        guard Host.isRoot else {
            FileHandle.standardError.write(Data("libvirt guest tests skipped: not root\n".utf8))
            return false
        }
        let result = try? Shell.run([PackageRoot.path + "/scripts/libvirtd-netns", "start", namespace])
        guard let result, result.status == 0 else {
            let why =
                result?.stderr.trimmingCharacters(in: .whitespacesAndNewlines) ?? "scripts/libvirtd-netns did not run"
            FileHandle.standardError.write(Data("libvirt guest tests skipped: \(why)\n".utf8))
            return false
        }
        return true
    }

    public static func virsh(_ arguments: [String]) throws -> CommandResult {
        try Shell.run(["virsh", "-c", "qemu:///system"] + arguments)
    }

    /// Defines and starts a TCG guest with no disk: QEMU runs and holds its taps, SeaBIOS finds nothing to
    /// boot and idles. Enough for everything that happens on the host side.
    public static func startGuest(name: String, nics: [(mac: String, bridge: String)], cloudStack: Bool = true) throws {
        _ = try? virsh(["destroy", name])
        _ = try? virsh(["undefine", name])
        let interfaces = nics.map { nic in
            "<interface type='bridge'><mac address='\(nic.mac)'/><source bridge='\(nic.bridge)'/>"
                + "<model type='virtio'/><rom bar='off' file=''/></interface>"
        }.joined(separator: "\n    ")
        let sysinfo =
            cloudStack
            ? """
            <sysinfo type='smbios'><system><entry name='manufacturer'>Apache Software Foundation</entry>\
            <entry name='product'>CloudStack KVM Hypervisor</entry></system></sysinfo>
            """ : ""
        let xml = """
            <domain type='qemu'>
              <name>\(name)</name>
              <memory unit='MiB'>32</memory>
              <vcpu>1</vcpu>
              \(sysinfo)
              <os><type arch='x86_64' machine='pc'>hvm</type>\(cloudStack ? "<smbios mode='sysinfo'/>" : "")</os>
              <devices>
                <emulator>/usr/bin/qemu-system-x86_64</emulator>
                \(interfaces)
                <memballoon model='none'/>
              </devices>
            </domain>
            """
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(getpid()).xml")
        try xml.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        for command in [["define", file.path], ["start", name]] {
            let result = try virsh(command)
            guard result.status == 0 else { throw FixtureError("virsh \(command[0]) \(name): \(result.stderr)") }
        }
    }

    public static func removeGuest(_ name: String) {
        _ = try? virsh(["destroy", name])
        _ = try? virsh(["undefine", name])
    }
}
