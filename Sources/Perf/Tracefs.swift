import CPerf
import Foundation

/// A tracepoint's id and format file, read from tracefs. Where the host has no tracefs mounted, it is mounted in
/// a mount namespace of a thread's own (the host's mounts are left as they were) and read there.
public struct TracepointFiles: Sendable {
    public var id: UInt64
    public var format: String
    /// Read from a tracefs kvmtopo mounted privately (the host had none mounted).
    public var mountedPrivately: Bool

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    static let mountPoints = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]

    /// `event` as "GROUP/NAME" ("skb/kfree_skb"). `tracefs`, when given, is the only place looked at.
    public static func read(event: String, tracefs: String? = nil) throws(Failure) -> TracepointFiles {
        if let tracefs {
            return try files(event: event, under: tracefs, privately: false)
        }
        for root in mountPoints where FileManager.default.fileExists(atPath: root + "/events") {
            return try files(event: event, under: root, privately: false)
        }
        return try privately(event: event)
    }

    private static func files(event: String, under root: String, privately: Bool) throws(Failure) -> TracepointFiles {
        let directory = "\(root)/events/\(event)"
        guard FileManager.default.fileExists(atPath: root) else { throw Failure(description: "no tracefs at \(root)") }
        guard let idText = KernelFile.read(directory + "/id"),
            let id = UInt64(idText.trimmingCharacters(in: .whitespacesAndNewlines)),
            let format = KernelFile.read(directory + "/format")
        else {
            let exists = FileManager.default.fileExists(atPath: directory)
            throw Failure(
                description: exists
                    ? "cannot read \(directory) (\(geteuid() == 0 ? "unreadable" : "needs root"))"
                    : "this kernel has no \(event.replacingOccurrences(of: "/", with: ":")) tracepoint")
        }
        return TracepointFiles(id: id, format: format, mountedPrivately: privately)
    }

    /// Mounts tracefs on a thread of its own, in a mount namespace of that thread's own, and reads it there.
    private static func privately(event: String) throws(Failure) -> TracepointFiles {
        guard geteuid() == 0 else {
            throw Failure(description: "tracefs is not mounted, and mounting it (privately) needs root")
        }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Result<TracepointFiles, Failure> = .failure(Failure(description: ""))
        let thread = Thread {
            defer { done.signal() }
            guard kvmtopo_private_mounts() == 0 else {
                result = .failure(Failure(description: "tracefs is not mounted: \(String(cString: strerror(errno)))"))
                return
            }
            let root = mountPoints[0]
            guard kvmtopo_mount_tracefs(root) == 0 else {
                let reason = String(cString: strerror(errno))
                result = .failure(Failure(description: "tracefs is not mounted and cannot be mounted: \(reason)"))
                return
            }
            result = Result { () throws(Failure) in try files(event: event, under: root, privately: true) }
        }
        thread.start()
        done.wait()
        return try result.get()
    }
}

/// A file the kernel makes up as it is read (/proc, tracefs): its size says 0 or one page, so it is read to its end
/// rather than to its size.
public enum KernelFile {
    public static func read(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path), let data = try? handle.readToEnd() else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// The file's first line (a kernel file's first read gives at least one).
    public static func firstLine(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path), let data = try? handle.read(upToCount: 256) else {
            return nil
        }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").first.map(String.init)
    }
}
