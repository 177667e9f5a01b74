import ArgumentParser
import Topology

#if canImport(Glibc)
import CMalloc
#endif

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
        subcommands: [
            Show.self, Dump.self, TraceCommand.self, DiagnoseCommand.self, DropsCommand.self, DiffCommand.self,
            ZoneCommand.self, WatchCommand.self,
        ])

    static func main() {
        #if canImport(Glibc)
        // A dump of a big host allocates a few hundred MiB in small pieces on several threads: the heaps grow
        // 64 MiB at a time rather than a page at a time, a system call each (3% of a dump of 1,000 VMs'
        // security groups). Only address space is reserved; memory is used as it is touched.
        mallopt(M_TOP_PAD, 64 << 20)
        #endif
        main(nil)
    }
}
