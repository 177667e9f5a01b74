import Topology
import CLibvirt

#if canImport(Glibc)
import Glibc
#endif

/// A domain as libvirt describes it: identity, state and its live XML (parsed above this module).
public struct LibvirtDomainRecord: Sendable, Equatable {
    public var name: String
    public var uuid: String
    public var state: DomainState
    /// The running instance's id; nil when the domain is not running.
    public var id: Int?
    public var persistent: Bool
    public var xml: String?
    /// Why the XML could not be read, when it could not.
    public var xmlError: String?
}

public struct LibvirtError: Error, CustomStringConvertible, Sendable {
    public enum Reason: Sendable { case permissionDenied, unreachable, other }
    public var reason: Reason
    public var message: String
    public var description: String { message }

    public init(reason: Reason, message: String) {
        self.reason = reason
        self.message = message
    }
}

/// A read-only libvirt connection: it can list and describe domains and nothing else, so kvmtopo cannot
/// change a guest even by mistake. libvirt connections are thread-safe, hence @unchecked Sendable.
public final class LibvirtConnection: @unchecked Sendable {
    private let connection: OpaquePointer
    public let uri: String

    public static func openReadOnly(uri: String) throws(LibvirtError) -> LibvirtConnection {
        silenceDefaultErrorPrinting
        guard let connection = withoutSIGPIPE({ virConnectOpenReadOnly(uri) }) else {
            throw lastError(default: "cannot connect to \(uri)")
        }
        return LibvirtConnection(connection: connection, uri: uri)
    }

    private init(connection: OpaquePointer, uri: String) {
        self.connection = connection
        self.uri = uri
    }

    deinit { withoutSIGPIPE { _ = virConnectClose(connection) } }

    /// All domains, running and defined: one list call, then one XML fetch per domain.
    public func domains() throws(LibvirtError) -> [LibvirtDomainRecord] {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let count = withoutSIGPIPE { virConnectListAllDomains(connection, &list, 0) }
        guard count >= 0, let list else { throw Self.lastError(default: "cannot list domains") }
        defer {
            for i in 0..<Int(count) { if let domain = list[i] { virDomainFree(domain) } }
            free(list)
        }
        return withoutSIGPIPE { (0..<Int(count)).compactMap { list[$0].flatMap(Self.record) } }
    }

    private static func record(of domain: OpaquePointer) -> LibvirtDomainRecord? {
        guard let name = virDomainGetName(domain).map({ String(cString: $0) }) else { return nil }
        var uuid = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
        let uuidText = virDomainGetUUIDString(domain, &uuid) == 0 ? Self.string(uuid) : ""
        var state: Int32 = 0
        var reason: Int32 = 0
        let stateName = virDomainGetState(domain, &state, &reason, 0) == 0 ? Self.stateName(state) : .unknown
        let id = virDomainGetID(domain)
        var record = LibvirtDomainRecord(
            name: name, uuid: uuidText, state: stateName,
            id: id == UInt32.max ? nil : Int(id),
            persistent: virDomainIsPersistent(domain) == 1, xml: nil, xmlError: nil)
        if let xml = virDomainGetXMLDesc(domain, 0) {
            record.xml = String(cString: xml)
            free(xml)
        } else {
            let error = lastError(default: "cannot read the domain XML")
            // A domain undefined between the list and this call is simply gone.
            if virGetLastErrorCode() == Int32(VIR_ERR_NO_DOMAIN.rawValue) { return nil }
            record.xmlError = error.message
        }
        return record
    }

    private static func stateName(_ state: Int32) -> DomainState {
        switch UInt32(state) {
        case VIR_DOMAIN_RUNNING.rawValue: .running
        case VIR_DOMAIN_BLOCKED.rawValue: .blocked
        case VIR_DOMAIN_PAUSED.rawValue: .paused
        case VIR_DOMAIN_SHUTDOWN.rawValue: .shuttingDown
        case VIR_DOMAIN_SHUTOFF.rawValue: .shutoff
        case VIR_DOMAIN_CRASHED.rawValue: .crashed
        case VIR_DOMAIN_PMSUSPENDED.rawValue: .pmsuspended
        default: .unknown
        }
    }

    private static func lastError(default text: String) -> LibvirtError {
        guard let error = virGetLastError()?.pointee else { return LibvirtError(reason: .other, message: text) }
        let message = error.message.map { String(cString: $0) } ?? text
        let errno = error.code == Int32(VIR_ERR_SYSTEM_ERROR.rawValue) ? error.int1 : 0
        let reason: LibvirtError.Reason
        if errno == EACCES || errno == EPERM || error.code == Int32(VIR_ERR_ACCESS_DENIED.rawValue)
            || error.code == Int32(VIR_ERR_AUTH_FAILED.rawValue)
        {
            reason = .permissionDenied
        } else if error.code == Int32(VIR_ERR_NO_CONNECT.rawValue) || error.code == Int32(VIR_ERR_SYSTEM_ERROR.rawValue)
        {
            reason = .unreachable
        } else {
            reason = .other
        }
        return LibvirtError(reason: reason, message: message)
    }

    private static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// libvirt prints every error to stderr unless a handler is set; kvmtopo reports errors itself.
    static let silenceDefaultErrorPrinting: Void = {
        virSetErrorFunc(nil) { _, _ in }
    }()
}

/// Runs libvirt calls with SIGPIPE held back on this thread (libvirt's client does its RPC here): a libvirtd
/// that dies mid-call makes the write fail with EPIPE, an error like any other, instead of killing kvmtopo.
/// A SIGPIPE left pending is taken, and the thread's mask restored, so writing output later behaves as usual.
private func withoutSIGPIPE<T>(_ body: () -> T) -> T {
    var pipe = sigset_t()
    var previous = sigset_t()
    sigemptyset(&pipe)
    sigaddset(&pipe, SIGPIPE)
    pthread_sigmask(SIG_BLOCK, &pipe, &previous)
    defer {
        var pending = sigset_t()
        sigpending(&pending)
        if sigismember(&pending, SIGPIPE) == 1, sigismember(&previous, SIGPIPE) == 0 {
            var none = timespec()
            _ = sigtimedwait(&pipe, nil, &none)
        }
        pthread_sigmask(SIG_SETMASK, &previous, nil)
    }
    return body()
}
