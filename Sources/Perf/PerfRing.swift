import CPerf
import Foundation

/// One tracepoint sampled on every CPU through perf_event_open(2): one ring buffer per CPU, mmap'd, read without
/// copying anything the kernel does not hand over. No eBPF: the kernel filters (PERF_EVENT_IOC_SET_FILTER, an
/// ftrace filter) and writes raw records with CLOCK_MONOTONIC times, handed over as CLOCK_REALTIME (the capture's
/// clock) by the offset between the two at each drain.
public final class TracepointRings {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// One record: when, on which CPU, and the tracepoint's raw fields (decoded by its format file).
    public struct Sample {
        public var time: UInt64
        public var cpu: Int
        public var raw: [UInt8]
    }

    private struct Ring {
        var descriptor: Int32
        var cpu: Int
        var base: UnsafeMutableRawPointer
        var length: Int
    }

    private var rings: [Ring] = []
    private let dataPages: Int
    private let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    /// Records the kernel could not write because a ring was full (PERF_RECORD_LOST), since the start.
    public private(set) var lost = 0

    /// - Parameters:
    ///   - filter: an ftrace filter on the tracepoint's fields ("protocol == 2048 || protocol == 2054").
    ///   - dataPages: each ring's size in pages, a power of two.
    public init(id: UInt64, filter: String?, dataPages: Int = 256) throws(Failure) {
        self.dataPages = dataPages
        let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_CONF)))
        let online = Self.onlineCPUs() ?? Set(0..<cpus)
        for cpu in (0..<cpus) where online.contains(cpu) {
            let descriptor = kvmtopo_tracepoint_open(id, Int32(cpu), UInt32(dataPages * pageSize / 4))
            guard descriptor >= 0 else {
                let code = errno
                close()
                let why = code == EACCES || code == EPERM ? " (needs root or CAP_PERFMON)" : ""
                throw Failure(description: "perf_event_open: \(String(cString: strerror(code)))\(why)")
            }
            if let filter, kvmtopo_perf_set_filter(descriptor, filter) != 0 {
                let code = errno
                Glibc.close(descriptor)
                close()
                throw Failure(description: "the tracepoint filter '\(filter)': \(String(cString: strerror(code)))")
            }
            let length = (1 + dataPages) * pageSize
            guard let base = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0),
                base != MAP_FAILED
            else {
                let code = errno
                Glibc.close(descriptor)
                close()
                throw Failure(description: "mmap of a perf ring: \(String(cString: strerror(code)))")
            }
            rings.append(Ring(descriptor: descriptor, cpu: cpu, base: base, length: length))
        }
        for ring in rings where kvmtopo_perf_enable(ring.descriptor) != 0 {
            let code = errno
            close()
            throw Failure(description: "enabling the tracepoint: \(String(cString: strerror(code)))")
        }
    }

    deinit { close() }

    private func close() {
        for ring in rings {
            munmap(ring.base, ring.length)
            Glibc.close(ring.descriptor)
        }
        rings = []
    }

    /// "0-1,4" from /sys/devices/system/cpu/online.
    private static func onlineCPUs() -> Set<Int>? {
        guard let text = try? String(contentsOfFile: "/sys/devices/system/cpu/online", encoding: .utf8) else {
            return nil
        }
        var cpus = Set<Int>()
        for part in text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",") {
            let bounds = part.split(separator: "-").compactMap { Int($0) }
            guard let low = bounds.first, let high = bounds.last, low <= high else { return nil }
            cpus.formUnion(low...high)
        }
        return cpus
    }

    /// Waits until a ring has a watermark's worth of records or `milliseconds` pass.
    public func wait(milliseconds: Int32) {
        var descriptors = rings.map { pollfd(fd: $0.descriptor, events: Int16(POLLIN), revents: 0) }
        _ = poll(&descriptors, nfds_t(descriptors.count), milliseconds)
    }

    /// Every record waiting in the rings, handed to `body`, and the rings' space given back to the kernel. A
    /// sample's `raw` is only lent: its storage is used again for the next (a drop flood costs no allocation per
    /// record).
    public func drain(_ body: (Sample) -> Void) {
        var header: [UInt8] = []
        var record: [UInt8] = []
        for ring in rings {
            let page = ring.base.assumingMemoryBound(to: perf_event_mmap_page.self)
            let data = ring.base + pageSize
            let size = UInt64(dataPages * pageSize)
            let toRealTime = Self.realTimeOffset()
            let head = kvmtopo_ring_head(page)
            var tail = page.pointee.data_tail
            var sample = Sample(time: 0, cpu: 0, raw: [])
            while tail < head {
                copy(from: data, size: size, at: tail, count: MemoryLayout<perf_event_header>.size, into: &header)
                let type = header.load(fromByteOffset: 0, as: UInt32.self)
                let recordSize = Int(header.load(fromByteOffset: 6, as: UInt16.self))
                guard recordSize >= 8 else { break }
                copy(from: data, size: size, at: tail, count: recordSize, into: &record)
                switch type {
                case PERF_RECORD_SAMPLE.rawValue where recordSize >= 28:
                    // PERF_SAMPLE_TIME, then PERF_SAMPLE_CPU (cpu, reserved), then PERF_SAMPLE_RAW (size, bytes).
                    sample.time = record.load(fromByteOffset: 8, as: UInt64.self) &+ toRealTime
                    sample.cpu = Int(record.load(fromByteOffset: 16, as: UInt32.self))
                    let rawSize = min(Int(record.load(fromByteOffset: 24, as: UInt32.self)), recordSize - 28)
                    sample.raw.removeAll(keepingCapacity: true)
                    sample.raw.append(contentsOf: record[28..<28 + rawSize])
                    body(sample)
                case PERF_RECORD_LOST.rawValue where recordSize >= 24:
                    lost += Int(record.load(fromByteOffset: 16, as: UInt64.self))
                default:
                    break
                }
                tail += UInt64(recordSize)
            }
            kvmtopo_ring_release(page, tail)
        }
    }

    /// CLOCK_REALTIME minus CLOCK_MONOTONIC, in nanoseconds.
    private static func realTimeOffset() -> UInt64 {
        var real = timespec()
        var monotonic = timespec()
        clock_gettime(CLOCK_MONOTONIC, &monotonic)
        clock_gettime(CLOCK_REALTIME, &real)
        let nanoseconds = { (time: timespec) in UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec) }
        return nanoseconds(real) &- nanoseconds(monotonic)
    }

    /// `count` bytes of the ring from position `at`, across its end, into `bytes` (its storage kept).
    private func copy(
        from data: UnsafeMutableRawPointer, size: UInt64, at position: UInt64, count: Int, into bytes: inout [UInt8]
    ) {
        let start = Int(position % size)
        let first = min(count, Int(size) - start)
        bytes.removeAll(keepingCapacity: true)
        bytes.append(contentsOf: UnsafeRawBufferPointer(start: data + start, count: first))
        if first < count { bytes.append(contentsOf: UnsafeRawBufferPointer(start: data, count: count - first)) }
    }
}

extension [UInt8] {
    /// An unaligned load of a little-endian (this machine's) integer.
    fileprivate func load<T: FixedWidthInteger>(fromByteOffset offset: Int, as: T.Type) -> T {
        withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
    }
}
