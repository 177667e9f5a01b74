import CloudStack
import Foundation
import Libvirt
import Netlink
import Topology

/// Collects a host's snapshot from every source it can reach. A source that cannot run does not stop
/// the others: its status says why, a warning counts it, and the rest is still shown.
public struct HostCollector: Sendable {
    public var libvirtURI: String
    /// Where the CloudStack agent keeps its bridge names; CloudStack's defaults apply when it is absent.
    public var agentProperties: String

    public init(libvirtURI: String, agentProperties: String = "/etc/cloudstack/agent/agent.properties") {
        self.libvirtURI = libvirtURI
        self.agentProperties = agentProperties
    }

    /// - Parameter lastKnownDomains: the VMs as last read, kept when libvirt cannot be reached (watch, while
    ///   libvirtd restarts: a VM libvirt cannot tell about is not a VM gone).
    public func collect(lastKnownDomains: [Domain]? = nil) -> HostSnapshot {
        var warnings: [Warning] = []
        // The firewall is read on a thread of its own, beside netlink and libvirt: a host with a thousand VMs'
        // security groups has tens of thousands of rules, the longest of the three.
        let firewallRead = Background { FirewallCollection.collect() }

        let netlinkStatus: SourceStatus
        var links: [Link] = []
        var bridges: [Bridge] = []
        var fdb: [FDBEntry] = []
        var routes: [Route]?
        do {
            let dump = try NetlinkSession().snapshot()
            (links, bridges, fdb) = LinkResolution.resolve(dump)
            routes = LinkResolution.routes(dump)
            netlinkStatus = SourceStatus(status: .ok)
        } catch {
            netlinkStatus = SourceStatus(status: .unavailable, error: error.description)
            warnings.append(
                Warning(
                    code: .sourceUnavailable, subject: .source(.netlink),
                    message: "kernel links could not be read: \(error.description)"))
        }

        let libvirtStatus: SourceStatus
        var domains: [Domain] = []
        do {
            let connection = try LibvirtConnection.openReadOnly(uri: libvirtURI)
            let records = try connection.domains()
            domains = records.map(Self.domain).sorted { $0.name < $1.name }
            warnings += domains.compactMap { domain in
                domain.xmlError.map { Warning(code: .domainXMLUnreadable, subject: .named(domain.name), message: $0) }
            }
            libvirtStatus = SourceStatus(status: .ok, uri: libvirtURI)
        } catch {
            let reason = Self.explain(error, uri: libvirtURI)
            libvirtStatus = SourceStatus(status: .unavailable, uri: libvirtURI, error: reason)
            domains = lastKnownDomains ?? []
            let shown = lastKnownDomains == nil ? "are not shown" : "are as libvirt last told"
            warnings.append(
                Warning(
                    code: .sourceUnavailable, subject: .source(.libvirt),
                    message: "VMs and their taps \(shown): \(reason)"))
        }

        let firewallStatus: SourceStatus
        var firewall: Firewall?
        switch firewallRead.value() {
        case .success(let (read, problems)):
            firewall = read
            firewallStatus = SourceStatus(status: .ok)
            warnings += problems.map {
                Warning(code: .sourceUnavailable, subject: .source(.firewall), message: "not read: \($0)")
            }
        case .failure(let error):
            firewallStatus = SourceStatus(status: .unavailable, error: error.description)
            warnings.append(
                Warning(
                    code: .sourceUnavailable, subject: .source(.firewall),
                    message: "the firewall's rules are not shown: \(error.description)"))
        }

        let join = TapJoin.join(domains: domains, links: links, claimsAreComplete: libvirtStatus.status == .ok)
        let properties = try? String(contentsOfFile: agentProperties, encoding: .utf8)
        var host = Host(
            hostname: Self.hostname(), collectedAt: Date().ISO8601Format(),
            sources: Sources(netlink: netlinkStatus, libvirt: libvirtStatus))
        host.sources.firewall = firewallStatus
        host.agentProperties = properties == nil ? nil : agentProperties
        host.bridgeRoles = properties.map(BridgeRoles.init(agentProperties:)) ?? BridgeRoles()
        host.bridgeNetfilter = Self.bridgeNetfilter()
        host.qemuHook = FileManager.default.isExecutableFile(atPath: "/etc/libvirt/hooks/qemu")
        host.igmpMaxMemberships =
            (try? String(contentsOfFile: "/proc/sys/net/ipv4/igmp_max_memberships", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        var snapshot = HostSnapshot(
            host: host, links: links, bridges: bridges, fdb: fdb, domains: join.domains,
            warnings: (warnings + join.warnings).sorted())
        snapshot.routes = routes
        snapshot.firewall = firewall
        return CloudStackModel.infer(snapshot)
    }

    static func domain(_ record: LibvirtDomainRecord) -> Domain {
        var domain = Domain(
            name: record.name, uuid: record.uuid, state: record.state, id: record.id,
            persistent: record.persistent, xmlError: record.xmlError)
        guard let xml = record.xml else { return domain }
        do {
            let description = try DomainDescription(xml: xml)
            domain.nics = description.nics
            domain.smbios = description.smbios
        } catch {
            domain.xmlError = error.description
        }
        return domain
    }

    /// What an operator needs to do about an unreachable libvirt, not only what libvirt said.
    static func explain(_ error: LibvirtError, uri: String) -> String {
        switch error.reason {
        case .permissionDenied:
            "permission denied connecting to \(uri) (\(error.message)); run as root or as a member of the libvirt group"
        case .unreachable:
            "cannot reach libvirt at \(uri) (\(error.message)); is libvirtd running?"
        case .other:
            "libvirt at \(uri): \(error.message)"
        }
    }

    /// br_netfilter's three switches for this network namespace; nil when the module is not loaded (the
    /// files do not exist then). Three reads of /proc/sys, not a walk.
    static func bridgeNetfilter() -> BridgeNetfilter? {
        let read = { (name: String) -> Bool? in
            (try? String(contentsOfFile: "/proc/sys/net/bridge/bridge-nf-call-\(name)", encoding: .utf8))
                .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) == "1" }
        }
        guard let iptables = read("iptables") else { return nil }
        return BridgeNetfilter(
            iptables: iptables, ip6tables: read("ip6tables") ?? false, arptables: read("arptables") ?? false)
    }

    /// The UTS name of this namespace, as `hostname` prints it.
    static func hostname() -> String {
        let text = (try? String(contentsOfFile: "/proc/sys/kernel/hostname", encoding: .utf8)) ?? ""
        let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return name.isEmpty ? ProcessInfo.processInfo.hostName : name
    }
}
