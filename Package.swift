// swift-tools-version: 6.0
import PackageDescription

// Layers, bottom up:
//   C*        system libraries found through pkg-config (libpcap: loaded at run time, see CPcap; CMalloc: glibc's
//             mallopt)
//   Netlink, Libvirt, Pcap, Nftables, Perf
//             one Swift module per C library; the only code that touches C pointers; C constants become
//             Topology's typed values here
//   Topology  pure Swift: the host snapshot, domain XML, the libvirt-to-kernel join, the JSON contract
//   Firewall  pure Swift: nftables' expressions and xtables' option structs read back into operators' rules
//   CloudStack pure Swift: roles, traffic types, networks and VPCs inferred from a snapshot
//   Render    text diagrams and DOT, reading only the finished snapshot
//   KernelDrops pure Swift: the kfree_skb tracepoint's records, reasons and kernel symbols
//   Packets   pure Swift: frame decoders, packet keys and the pcapng reader/writer (trace's foundation)
//   Trace     pure Swift: capture points from the topology, correlation of sightings into packets and paths
//   Diagnose  pure Swift: the checks of `kvmtopo diagnose`, on a finished snapshot
//   Watch     pure Swift: `kvmtopo watch`'s lines from events and snapshots read again
//   Collect   runs the sources and degrades gracefully when one cannot run
//   Capture   the capture sessions (trace, --listen) over a frame source and a clock given to them
//   kvmtopo   the command line (swift-argument-parser)
let package = Package(
    name: "kvmtopo",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "kvmtopo", targets: ["kvmtopo"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
    ],
    targets: [
        .systemLibrary(
            name: "CNetlink", pkgConfig: "libnl-route-3.0",
            providers: [.apt(["libnl-3-dev", "libnl-route-3-dev"])]),
        .systemLibrary(
            name: "CLibvirt", pkgConfig: "libvirt",
            providers: [.apt(["libvirt-dev"])]),
        .systemLibrary(
            name: "CNftnl", pkgConfig: "libnftnl",
            providers: [.apt(["libnftnl-dev", "libmnl-dev"])]),
        // glibc's mallopt, for the command's allocator tuning.
        .systemLibrary(name: "CMalloc"),
        // perf_event_open(2) and its ring buffer, for the kernel's drop tracepoint (linux-libc-dev's headers).
        .systemLibrary(name: "CPerf"),

        .target(name: "Netlink", dependencies: ["CNetlink", "Topology"]),
        .target(name: "Libvirt", dependencies: ["CLibvirt", "Topology"]),
        .target(name: "Nftables", dependencies: ["CNftnl", "Firewall", "Topology"]),
        // libpcap is loaded at run time under either distribution's soname (Sources/CPcap/loader.c).
        .target(name: "CPcap", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "Pcap", dependencies: ["CPcap"]),
        .target(name: "Perf", dependencies: ["CPerf"]),

        .target(name: "Topology"),
        .target(name: "CloudStack", dependencies: ["Topology"]),
        .target(name: "Render", dependencies: ["Topology", "Trace", "Diagnose", "KernelDrops", "Changes", "Zone"]),
        .target(name: "Packets"),
        .target(name: "KernelDrops", dependencies: ["Topology"]),
        .target(name: "Trace", dependencies: ["Topology", "Packets", "Firewall", "KernelDrops"]),
        .target(name: "Diagnose", dependencies: ["Topology", "Zone"]),
        .target(name: "Changes", dependencies: ["Topology"]),
        .target(name: "Zone", dependencies: ["Topology"]),
        .target(name: "Watch", dependencies: ["Topology", "Changes", "Diagnose"]),
        .target(name: "Subprocess", dependencies: ["Topology"]),
        .target(name: "Firewall", dependencies: ["Topology", "Packets"]),
        .target(
            name: "Collect",
            dependencies: [
                "Topology", "CloudStack", "Netlink", "Libvirt", "Nftables", "Firewall", "Perf", "KernelDrops",
            ]),
        .target(name: "Capture", dependencies: ["Topology", "CloudStack", "Packets", "Pcap", "Trace"]),
        .executableTarget(
            name: "kvmtopo",
            dependencies: [
                "Topology", "CloudStack", "Collect", "Capture", "Render", "Packets", "Pcap", "Trace", "Diagnose",
                "KernelDrops", "Changes", "Zone", "Watch", "Subprocess", "CMalloc",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .testTarget(
            name: "TopologyTests", dependencies: ["Topology", "TestSupport"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "Topology"]),
        .testTarget(
            name: "LibvirtTests", dependencies: ["Libvirt", "Collect", "Topology"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "PcapTests", dependencies: ["Pcap", "Packets", "TestSupport"]),
        .testTarget(name: "CloudStackTests", dependencies: ["CloudStack", "Topology"]),
        .testTarget(name: "PacketsTests", dependencies: ["Packets", "TestSupport"]),
        .testTarget(
            name: "RenderTests",
            dependencies: ["Render", "Diagnose", "CloudStack", "Topology", "TestSupport"],
            exclude: ["Golden"]),
        .testTarget(name: "DiagnoseTests", dependencies: ["Diagnose", "CloudStack", "Topology", "TestSupport"]),
        .testTarget(
            name: "TraceTests",
            dependencies: ["Capture", "Trace", "Render", "CloudStack", "Topology", "Packets", "TestSupport"],
            exclude: ["Golden", "Fixtures"]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["Topology", "Packets", "Trace", "Render", "Diagnose", "KernelDrops", "Zone", "TestSupport"]),
        .target(
            name: "TestSupport", dependencies: ["Topology", "CloudStack", "Subprocess"], path: "Tests/Support",
            exclude: ["newer-kvmtopo.json"]),
        .testTarget(
            name: "ZoneTests", dependencies: ["Zone", "Topology", "Render", "Diagnose", "CloudStack", "TestSupport"]),
        .testTarget(name: "ChangesTests", dependencies: ["Changes", "Topology", "Render", "TestSupport"]),
        .testTarget(name: "WatchTests", dependencies: ["Watch", "Topology", "TestSupport"]),
        .testTarget(name: "FirewallTests", dependencies: ["Firewall", "Topology", "Packets", "TestSupport"]),
        .testTarget(
            name: "KernelDropsTests", dependencies: ["KernelDrops", "Trace", "Topology", "TestSupport"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "CaptureTests", dependencies: ["Capture", "Trace", "Packets", "Topology", "TestSupport"]),
    ]
)
