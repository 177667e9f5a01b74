import CLibvirt
import Foundation
import Topology

/// What libvirt told about its domains, or about the connection itself.
public enum LibvirtEvent: Sendable, Equatable {
    case lifecycle(domain: String, DomainEvent)
    case deviceAdded(domain: String, alias: String)
    case deviceRemoved(domain: String, alias: String)
    /// Connected (again, after `lost`): what happened meanwhile is only in a fresh dump.
    case connected
    case lost(reason: String)
}

/// A read-only connection that only subscribes to domain events. libvirt's default event loop runs on a thread of
/// its own; a keepalive (every 2 s, 3 unanswered) notices a daemon that died, and the connection is opened again
/// every second until it answers. Events arrive on that thread, through `deliver`.
public final class LibvirtEvents: @unchecked Sendable {
    private let uri: String
    private let deliver: @Sendable (LibvirtEvent) -> Void
    private let lock = NSLock()
    private var connection: OpaquePointer?
    private var callbacks: [Int32] = []
    private var closedReason: String?

    /// libvirt's event loop is process-wide: registered once, run forever by one thread.
    private static let eventLoop: Void = {
        virEventRegisterDefaultImpl()
        Thread.detachNewThread {
            blockSIGPIPE()
            while true { _ = virEventRunDefaultImpl() }
        }
    }()

    /// - Parameter deliver: called on libvirt's event thread, or on the reconnecting one.
    public init(uri: String, deliver: @escaping @Sendable (LibvirtEvent) -> Void) {
        self.uri = uri
        self.deliver = deliver
        LibvirtConnection.silenceDefaultErrorPrinting
        Self.eventLoop
        firstError = connect()
        Thread.detachNewThread { [weak self] in
            blockSIGPIPE()
            while let events = self {
                events.keepConnected()
                Thread.sleep(forTimeInterval: 1)
            }
        }
    }

    deinit {
        guard let connection else { return }
        for id in callbacks { virConnectDomainEventDeregisterAny(connection, id) }
        _ = virConnectUnregisterCloseCallback(connection, closeCallback)
        _ = virConnectClose(connection)
    }

    /// Why the first connection failed, if it did (the caller says libvirt is unavailable and goes on; the
    /// connection is tried again every second).
    public private(set) var firstError: String?

    /// Says a closed connection is lost and opens one when there is none (once the daemon answers again).
    private func keepConnected() {
        lock.lock()
        if let reason = closedReason, let old = connection {
            closedReason = nil
            connection = nil
            for id in callbacks { virConnectDomainEventDeregisterAny(old, id) }
            callbacks = []
            lock.unlock()
            _ = virConnectClose(old)
            deliver(.lost(reason: reason))
            lock.lock()
        }
        let connected = connection != nil
        lock.unlock()
        if !connected, connect() == nil { deliver(.connected) }
    }

    /// Opens the connection and subscribes; why not, when it cannot.
    private func connect() -> String? {
        guard let opened = virConnectOpenReadOnly(uri) else {
            return virGetLastError()?.pointee.message.map { String(cString: $0) } ?? "cannot connect to \(uri)"
        }
        let opaque = Unmanaged.passUnretained(self).toOpaque()
        _ = virConnectSetKeepAlive(opened, 2, 3)
        _ = virConnectRegisterCloseCallback(opened, closeCallback, opaque, nil)
        var ids: [Int32] = []
        ids.append(
            virConnectDomainEventRegisterAny(
                opened, nil, Int32(VIR_DOMAIN_EVENT_ID_LIFECYCLE.rawValue),
                unsafeBitCast(lifecycleCallback, to: virConnectDomainEventGenericCallback.self), opaque, nil))
        for id in [VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED] {
            let callback = id == VIR_DOMAIN_EVENT_ID_DEVICE_ADDED ? deviceAddedCallback : deviceRemovedCallback
            ids.append(
                virConnectDomainEventRegisterAny(
                    opened, nil, Int32(id.rawValue),
                    unsafeBitCast(callback, to: virConnectDomainEventGenericCallback.self), opaque, nil))
        }
        lock.lock()
        connection = opened
        callbacks = ids.filter { $0 >= 0 }
        lock.unlock()
        return nil
    }

    fileprivate func closed(reason: Int32) {
        let why =
            switch UInt32(reason) {
            case VIR_CONNECT_CLOSE_REASON_EOF.rawValue: "libvirtd closed the connection"
            case VIR_CONNECT_CLOSE_REASON_KEEPALIVE.rawValue: "libvirtd stopped answering (keepalive)"
            case VIR_CONNECT_CLOSE_REASON_ERROR.rawValue: "the connection failed"
            default: "the connection was closed"
            }
        lock.lock()
        closedReason = why
        lock.unlock()
    }

    fileprivate func domainEvent(_ event: LibvirtEvent) { deliver(event) }

    /// The words for libvirt's (event, detail) pair.
    static func event(_ event: Int32, detail: Int32) -> DomainEvent {
        let (kind, detail) = (UInt32(event), UInt32(detail))
        let known: DomainEvent.Known =
            switch kind {
            case VIR_DOMAIN_EVENT_DEFINED.rawValue: .defined
            case VIR_DOMAIN_EVENT_UNDEFINED.rawValue: .undefined
            case VIR_DOMAIN_EVENT_STARTED.rawValue:
                switch detail {
                case VIR_DOMAIN_EVENT_STARTED_MIGRATED.rawValue: .migratedIn
                case VIR_DOMAIN_EVENT_STARTED_RESTORED.rawValue: .restored
                default: .started
                }
            case VIR_DOMAIN_EVENT_SUSPENDED.rawValue:
                detail == VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED.rawValue ? .pausedForMigration : .paused
            case VIR_DOMAIN_EVENT_RESUMED.rawValue: .resumed
            case VIR_DOMAIN_EVENT_STOPPED.rawValue:
                switch detail {
                case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN.rawValue: .shutDown
                case VIR_DOMAIN_EVENT_STOPPED_DESTROYED.rawValue: .destroyed
                case VIR_DOMAIN_EVENT_STOPPED_CRASHED.rawValue: .crashed
                case VIR_DOMAIN_EVENT_STOPPED_MIGRATED.rawValue: .migratedOut
                case VIR_DOMAIN_EVENT_STOPPED_SAVED.rawValue: .saved
                case VIR_DOMAIN_EVENT_STOPPED_FAILED.rawValue: .qemuFailed
                default: .destroyed
                }
            case VIR_DOMAIN_EVENT_SHUTDOWN.rawValue: .shuttingDown
            case VIR_DOMAIN_EVENT_PMSUSPENDED.rawValue: .pmsuspended
            case VIR_DOMAIN_EVENT_CRASHED.rawValue: .crashed
            default: .other
            }
        return DomainEvent(known)
    }
}

/// libvirt's client writes to its socket on its own threads: a daemon that died makes that an EPIPE, not a signal.
private func blockSIGPIPE() {
    var pipe = sigset_t()
    sigemptyset(&pipe)
    sigaddset(&pipe, SIGPIPE)
    pthread_sigmask(SIG_BLOCK, &pipe, nil)
}

private func owner(_ opaque: UnsafeMutableRawPointer?) -> LibvirtEvents? {
    opaque.map { Unmanaged<LibvirtEvents>.fromOpaque($0).takeUnretainedValue() }
}

private func name(of domain: OpaquePointer?) -> String {
    domain.flatMap(virDomainGetName).map { String(cString: $0) } ?? "?"
}

private let closeCallback: @convention(c) (OpaquePointer?, Int32, UnsafeMutableRawPointer?) -> Void = {
    _, reason, opaque in owner(opaque)?.closed(reason: reason)
}

private let lifecycleCallback:
    @convention(c) (OpaquePointer?, OpaquePointer?, Int32, Int32, UnsafeMutableRawPointer?) -> Void = {
        _, domain, event, detail, opaque in
        owner(opaque)?.domainEvent(.lifecycle(domain: name(of: domain), LibvirtEvents.event(event, detail: detail)))
    }

private let deviceAddedCallback:
    @convention(c) (OpaquePointer?, OpaquePointer?, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = {
        _, domain, alias, opaque in
        owner(opaque)?.domainEvent(
            .deviceAdded(domain: name(of: domain), alias: alias.map { String(cString: $0) } ?? ""))
    }

private let deviceRemovedCallback:
    @convention(c) (OpaquePointer?, OpaquePointer?, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = {
        _, domain, alias, opaque in
        owner(opaque)?.domainEvent(
            .deviceRemoved(domain: name(of: domain), alias: alias.map { String(cString: $0) } ?? ""))
    }
