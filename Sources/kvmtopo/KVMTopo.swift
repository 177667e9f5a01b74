import ArgumentParser
import Topology

@main
struct KVMTopo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kvmtopo",
        abstract: "Show what the network of a KVM (Apache CloudStack) host really looks like.",
        discussion: """
            kvmtopo joins the kernel's view (netlink: bridges, links, VLAN/VXLAN uplinks, addresses, FDB) with \
            libvirt's (domains and their NICs) into one topology. It only reads: libvirt is opened read-only \
            and netlink is only dumped.

            Exit status: 0 success; 2 a VM, network or VPC named on the command line is not there (diagnose: 1 \
            warnings, 2 errors found); 64 usage error; \
            65 an input file is not what it should be; 66 an input file cannot be read; 73 an output file cannot be \
            written; 1 any other failure.
            """,
        version: kvmtopoReleaseVersion,
        subcommands: [Show.self, Dump.self, TraceCommand.self, DiagnoseCommand.self])
}
