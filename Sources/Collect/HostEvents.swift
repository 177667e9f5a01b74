import Foundation
import Libvirt
import Netlink
import Nftables
import Topology

/// One thing the host announced: the kernel's notifications (read on a thread of their own) and libvirt's events,
/// each with the time it arrived.
public enum HostEvent: Sendable, Equatable {
    /// A link came, went or changed; `up`: administratively up and with carrier.
    case link(name: String, up: Bool)
    /// An address, route or FDB entry came or went, the firewall's ruleset changed or a bridge netfilter switch
    /// was turned.
    case changed
    /// The kernel could not queue `missed` notifications (nil: it did not say how many).
    case overrun(missed: Int?)
    case domain(name: String, DomainEvent)
    case device(domain: String, alias: String, added: Bool)
    case libvirtBack
    case libvirtLost(reason: String)
}

/// The host's notifications and events, subscribed to (never asking for a change): the kernel's on a NETLINK_ROUTE
/// socket joined to its link, address, neighbour and route groups and on a NETLINK_NETFILTER socket joined to
/// nf_tables' group, libvirt's on a read-only connection kept alive. br_netfilter's switches announce nothing, so
/// they are read twice a second (three small files).
/// Subscribe before the first dump, so nothing between the dump and the first notification is missed.
public final class HostEvents: @unchecked Sendable {
    private let condition = NSCondition()
    private var waiting: [(event: HostEvent, time: Date)] = []
    /// Held for its subscription: libvirt's events arrive as long as it lives.
    private var libvirt: LibvirtEvents?

    /// Why libvirt could not be followed at first (it is tried again every second).
    public private(set) var libvirtUnavailable: String?
    /// Why nf_tables' announcements cannot be followed (the firewall is then read only every 30 s).
    public let firewallUnavailable: String?

    public init(libvirtURI: String, receiveBuffer: Int) throws(NetlinkError) {
        let ruleset: NftablesMonitor?
        do {
            ruleset = try NftablesMonitor(receiveBuffer: receiveBuffer)
            firewallUnavailable = nil
        } catch {
            ruleset = nil
            firewallUnavailable = error.description
        }
        let monitor = try NetlinkMonitor(receiveBuffer: receiveBuffer)
        Thread.detachNewThread { [weak self] in
            while let events = self {
                let notifications = monitor.notifications(waiting: .milliseconds(200))
                events.push(notifications.map(Self.event))
            }
        }
        Thread.detachNewThread { [weak self] in
            var switches = HostCollector.bridgeNetfilter()
            while let events = self {
                var changed = false
                if let ruleset {
                    changed = ruleset.changed(waiting: .milliseconds(500))
                } else {
                    Thread.sleep(forTimeInterval: 0.5)
                }
                let now = HostCollector.bridgeNetfilter()
                if changed || now != switches { events.push([.changed]) }
                switches = now
            }
        }
        let events = LibvirtEvents(uri: libvirtURI) { [weak self] event in self?.push([Self.event(event)]) }
        libvirtUnavailable = events.firstError
        libvirt = events
    }

    public static let defaultReceiveBuffer = NetlinkMonitor.defaultReceiveBuffer

    /// What arrived, waiting up to `seconds` for something when nothing is there yet.
    public func take(waiting seconds: TimeInterval) -> [(event: HostEvent, time: Date)] {
        condition.lock()
        defer { condition.unlock() }
        if waiting.isEmpty { _ = condition.wait(until: Date().addingTimeInterval(seconds)) }
        defer { waiting.removeAll(keepingCapacity: true) }
        return waiting
    }

    private func push(_ events: [HostEvent]) {
        guard !events.isEmpty else { return }
        let now = Date()
        condition.lock()
        waiting += events.map { ($0, now) }
        condition.signal()
        condition.unlock()
    }

    private static func event(_ notification: NetlinkNotification) -> HostEvent {
        switch notification {
        case .link(let link, let removed):
            .link(name: link.name, up: !removed && link.isUp && [.up, .unknown].contains(link.operState))
        case .address, .fdb, .route: .changed
        case .overrun(let dropped): .overrun(missed: dropped)
        }
    }

    private static func event(_ event: LibvirtEvent) -> HostEvent {
        switch event {
        case .lifecycle(let domain, let what): .domain(name: domain, what)
        case .deviceAdded(let domain, let alias): .device(domain: domain, alias: alias, added: true)
        case .deviceRemoved(let domain, let alias): .device(domain: domain, alias: alias, added: false)
        case .connected: .libvirtBack
        case .lost(let reason): .libvirtLost(reason: reason)
        }
    }
}
