import Foundation
import TestSupport
import Testing
import Topology

extension RealLibvirtTests {
    /// scripts/package's .deb, .rpm and tarball, checked as a hypervisor without Swift would get them: the .deb
    /// unpacked into a throwaway root and its binary run with the Swift toolchain hidden, the binary's ceilings read
    /// off it.
    @Suite(
        "packages",
        .enabled(if: Host.isRoot, "needs root for a private mount namespace that hides the Swift toolchain"),
        .enabled(
            if: Packaging.toolsMissing.isEmpty,
            "scripts/package needs \(Packaging.toolsMissing.joined(separator: ", "))"))
    struct PackageTests {
        @Test(
            "the .deb runs without the toolchain: --version, dump, show, diagnose, man, completion, health check"
        )
        func debWithoutToolchain() throws {
            let dist = try Packaging.built()
            let deb = "\(dist)/kvmtopo_\(kvmtopoReleaseVersion)_amd64.deb"
            let field = { (name: String) in try Shell.run(["dpkg-deb", "-f", deb, name]).output.trimmed }
            #expect(try field("Version") == kvmtopoReleaseVersion)
            let depends = try field("Depends")
            #expect(
                depends.contains("libvirt0") && depends.contains("libxml2") && depends.contains("libmnl0"),
                "\(depends)")
            #expect(
                !depends.contains("pcap") && !depends.contains("libnl"), "loaded at run time or linked in: \(depends)")
            #expect(try field("Recommends").contains("libpcap0.8"))

            let root = FileManager.default.temporaryDirectory.appendingPathComponent("kvmtopo-deb-\(UUID())").path
            defer { try? FileManager.default.removeItem(atPath: root) }
            #expect(try Shell.run(["dpkg-deb", "-x", deb, root]).status == 0)
            for path in [
                "usr/bin/kvmtopo", "usr/libexec/kvmtopo/cloudstack-health-check", "usr/share/man/man1/kvmtopo.1.gz",
                "usr/share/man/man1/kvmtopo-trace.1.gz", "usr/share/bash-completion/completions/kvmtopo",
                "usr/share/zsh/vendor-completions/_kvmtopo", "usr/share/fish/vendor_completions.d/kvmtopo.fish",
                "usr/share/doc/kvmtopo/copyright", "usr/share/doc/kvmtopo/changelog.gz",
                "etc/kvmtopo/cloudstack-health-check.conf",
            ] {
                #expect(FileManager.default.fileExists(atPath: "\(root)/\(path)"), "the .deb installs /\(path)")
            }

            let dumps = PackageRoot.path + "/examples/dumps"
            let kvmtopo = "\(root)/usr/bin/kvmtopo"
            let script = """
                set -u
                mount -t tmpfs none \(Packaging.toolchain)
                echo "toolchain files: $(ls -A \(Packaging.toolchain) | wc -l)"
                \(KVMTopoBinary.path) --version >/dev/null 2>&1 && echo "the test build still starts"
                echo "version: $(\(kvmtopo) --version)"
                \(kvmtopo) dump --from \(dumps)/lab-vxlan.json > \(root)/dump.json; echo "dump: $?"
                \(kvmtopo) show --from \(dumps)/lab-vxlan.json --ascii > \(root)/show.txt; echo "show: $?"
                \(kvmtopo) diagnose --from \(dumps)/lab-faults.json > /dev/null; echo "diagnose: $?"
                MANWIDTH=100 man -l \(root)/usr/share/man/man1/kvmtopo-diagnose.1.gz 2>&1 | grep -c '^HEALTH CHECK$'
                bash -c 'source \(root)/usr/share/bash-completion/completions/kvmtopo && complete -p kvmtopo'
                printf 'STATE=\(root)/health.state\nLIBVIRT_URI=test:///default\n' > \(root)/health.conf
                for run in 1 2; do
                    KVMTOPO_HEALTH_CHECK_CONF=\(root)/health.conf \\
                        /bin/bash \(root)/usr/libexec/kvmtopo/cloudstack-health-check
                    echo "health check $run: $?"
                done
                """
            // A network namespace of its own too: the health check then sees only libvirt's test driver and lo.
            let hidden = try Shell.run([
                "unshare", "--mount", "--propagation", "private", "--net", "bash", "-c", script,
            ])
            let output = hidden.output
            #expect(output.contains("toolchain files: 0"), "\(output) \(hidden.stderr)")
            #expect(!output.contains("the test build still starts"), "hiding the toolchain stops the test build")
            #expect(output.contains("version: \(kvmtopoReleaseVersion)\n"), "\(output) \(hidden.stderr)")
            #expect(output.contains("dump: 0") && output.contains("show: 0"), "\(output) \(hidden.stderr)")
            #expect(output.contains("diagnose: 2"), "errors found: \(output)")
            #expect(output.contains("complete -F _kvmtopo kvmtopo") || output.contains("-F _kvmtopo"), "\(output)")
            #expect(output.split(separator: "\n").contains("1"), "the man page renders its HEALTH CHECK: \(output)")
            // The installed wrapper finds the installed binary; the test driver's one VM has a tap the kernel lacks.
            #expect(
                output.contains("not yet unhealthy: test eth0") && output.contains("health check 1: 0"), "\(output)")
            #expect(output.contains("unhealthy: test eth0") && output.contains("health check 2: 1"), "\(output)")
            let dumped = try SnapshotCodec.decode(
                Data(contentsOf: URL(fileURLWithPath: "\(root)/dump.json")), source: "")
            #expect(dumped.domains.count == 7)
            let shown = try String(contentsOfFile: "\(root)/show.txt", encoding: .utf8)
            #expect(shown.contains("7 domains (2 routers, 1 system VM, 4 VMs)"), "\(shown)")
        }

        @Test("the binary's ceilings: glibc 2.34 at most, no libstdc++, dynamic libraries within the allowlist")
        func ceilings() throws {
            let dist = try Packaging.built()
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("kvmtopo-tar-\(UUID())").path
            defer { try? FileManager.default.removeItem(atPath: root) }
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            let tarball = "\(dist)/kvmtopo-\(kvmtopoReleaseVersion)-linux-x86_64.tar.gz"
            #expect(try Shell.run(["tar", "-xzf", tarball, "-C", root]).status == 0)
            let binary = "\(root)/kvmtopo-\(kvmtopoReleaseVersion)-linux-x86_64/bin/kvmtopo"

            let symbols = try Shell.run(["objdump", "-T", binary]).output
            let glibc = Set(symbols.matches(of: /GLIBC_([0-9.]+)/).map { String($0.1) })
            #expect(!glibc.isEmpty)
            let newest = glibc.max { $0.compare($1, options: .numeric) == .orderedAscending }
            #expect(newest.map { $0.compare("2.34", options: .numeric) != .orderedDescending } == true, "\(glibc)")
            #expect(!symbols.contains("GLIBCXX") && !symbols.contains("CXXABI"), "libstdc++ is linked in")
            let libvirt = Set(symbols.matches(of: /LIBVIRT_([0-9.]+)/).map { String($0.1) })
            #expect(
                libvirt.allSatisfy { $0.compare("8.0.0", options: .numeric) != .orderedDescending },
                "Ubuntu 22.04 has libvirt 8.0: \(libvirt)")

            let headers = try Shell.run(["objdump", "-p", binary]).output
            let needed = Set(headers.matches(of: /NEEDED\s+(\S+)/).map { String($0.1) })
            let allowed: Set = [
                "libc.so.6", "libm.so.6", "libgcc_s.so.1", "ld-linux-x86-64.so.2", "libvirt.so.0", "libxml2.so.2",
                "libmnl.so.0",
            ]
            #expect(needed.isSubset(of: allowed), "\(needed.subtracting(allowed))")
            #expect(needed.contains("libvirt.so.0"))

            let listing = try Shell.run(["tar", "-tzf", tarball]).output
            for path in [
                "bin/kvmtopo", "libexec/kvmtopo/cloudstack-health-check", "share/man/man1/kvmtopo-show.1.gz",
                "share/bash-completion/completions/kvmtopo", "share/zsh/site-functions/_kvmtopo", "LICENSE",
                "README.md",
            ] {
                #expect(listing.contains("kvmtopo-\(kvmtopoReleaseVersion)-linux-x86_64/\(path)\n"), "tarball: \(path)")
            }
        }

        @Test("the .rpm requires libvirt, libxml2 and libmnl, nothing of Swift, libpcap, libnl or libnftnl")
        func rpm() throws {
            let rpm = "\(try Packaging.built())/kvmtopo-\(kvmtopoReleaseVersion)-1.x86_64.rpm"
            let requires = try Shell.run(["rpm", "-qpR", rpm]).output
            for requirement in [
                "libvirt-libs", "libxml2", "libmnl", "libvirt.so.0()(64bit)", "libxml2.so.2()(64bit)",
                "libmnl.so.0()(64bit)",
            ] {
                #expect(requires.contains(requirement + "\n"), "requires \(requirement): \(requires)")
            }
            for absent in ["libswift", "libpcap.so", "libnl", "libnftnl", "libstdc++", "GLIBC_2.35", "GLIBC_2.36"] {
                #expect(!requires.contains(absent), "does not require \(absent)")
            }
            #expect(try Shell.run(["rpm", "-qp", "--recommends", rpm]).output.contains("libpcap"))
            let files = try Shell.run(["rpm", "-qpl", rpm]).output
            for path in [
                "/usr/bin/kvmtopo", "/usr/libexec/kvmtopo/cloudstack-health-check", "/usr/share/man/man1/kvmtopo.1.gz",
                "/usr/share/bash-completion/completions/kvmtopo", "/usr/share/zsh/site-functions/_kvmtopo",
                "/usr/share/fish/vendor_completions.d/kvmtopo.fish", "/usr/share/doc/kvmtopo/copyright",
                "/etc/kvmtopo/cloudstack-health-check.conf",
            ] {
                #expect(files.contains(path + "\n"), "the .rpm installs \(path)")
            }
            let version = try Shell.run(["rpm", "-qp", "--queryformat", "%{VERSION}", rpm]).output
            #expect(version == kvmtopoReleaseVersion)
        }
    }
}

enum Packaging {
    /// The root of the Swift toolchain this test runs with (<root>/usr/bin/swift), which the packages must not need.
    static let toolchain: String = {
        let swift = (try? Shell.run(["bash", "-c", "readlink -f \"$(command -v swift)\""]).output.trimmed) ?? ""
        return URL(fileURLWithPath: swift.isEmpty ? "/opt/swift/usr/bin/swift" : swift)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }()

    static let toolsMissing = Host.missing("dpkg-deb", "rpmbuild", "rpm", "objdump", "man", "unshare")

    /// scripts/package's dist/ folder; the script runs once (a static's initialiser runs once, whoever asks first).
    static func built() throws -> String { try packaged.get() }

    private static let packaged: Result<String, FixtureError> = {
        do {
            let run = try Shell.run([PackageRoot.path + "/scripts/package"])
            guard run.status == 0 else { return .failure(FixtureError("scripts/package: \(run.stderr)")) }
            return .success(PackageRoot.path + "/dist")
        } catch {
            return .failure(FixtureError("scripts/package: \(error)"))
        }
    }()
}

extension String {
    fileprivate var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
