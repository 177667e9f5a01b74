import Foundation
import Packets
import Pcap
import Topology
import Trace

/// The frames of saved captures (`trace --read`, once or per interface), classic pcap or pcapng, merged by time
/// and streamed: memory is bounded by the reordering window, not by the files. Each frame carries its file
/// interface's name (or the one given with NAME=FILE) and link type; a pcap-filter, run in user space per
/// interface's link type, keeps what it lets through.
public struct ReplayFrames: FrameSource {
    /// One `--read`: a file (`-` is standard input), and the interface it was captured on when the file does not
    /// say (`vnet3=a.pcap`).
    public struct Input: Sendable, Equatable {
        public var path: String
        public var interface: String?

        public init(path: String, interface: String? = nil) {
            self.path = path
            self.interface = interface
        }

        /// `NAME=FILE` names the interface; a path with a slash before any '=' is a path.
        public init(argument: String) {
            if let equals = argument.firstIndex(of: "="), equals != argument.startIndex,
                !argument[..<equals].contains("/")
            {
                self.init(
                    path: String(argument[argument.index(after: equals)...]), interface: String(argument[..<equals]))
            } else {
                self.init(path: argument)
            }
        }
    }

    public enum Failure: Error, CustomStringConvertible {
        /// The file cannot be read at all.
        case unreadable(String)
        /// It is not a capture kvmtopo reads, or the filter does not compile for it.
        case invalid(String)
        /// A filter needs libpcap, which this host lacks.
        case libpcapMissing(String)

        public var description: String {
            switch self {
            case .unreadable(let reason), .invalid(let reason), .libpcapMissing(let reason): reason
            }
        }
    }

    /// How far out of order frames may come (files concatenated with `mergecap -a`) and still be put in order.
    public static let window = 65_536

    private var files: [OpenFile]
    private let filter: String?
    private let captured = CaptureCoverage()
    public var coverage: CaptureCoverage? { captured }
    private var pending = FrameHeap()
    private var lastEmitted: UInt64 = 0
    /// Frames that came later than the window could reorder: each can show as a false loss.
    public private(set) var outOfOrder = 0
    public private(set) var framesRead = 0
    private var stopped = false

    public init(inputs: [Input], filter: String?) throws(Failure) {
        self.filter = filter
        files = []
        for (index, input) in inputs.enumerated() {
            files.append(try OpenFile(input, index: index))
        }
        // A filter that does not compile says so before anything is read.
        if let filter {
            do { _ = try OfflineFilter(expression: filter, linkType: Int32(LinkType.linuxSLL2.rawValue)) } catch {
                throw error.libraryMissing ? .libpcapMissing(error.message) : .invalid("\(error)")
            }
        }
    }

    /// The smallest snap length the files declare or their first packets show, for fitting packet keys to what
    /// every copy kept.
    public var snapLength: Int? {
        (files.flatMap { $0.interfaces.map(\.snapLength) } + files.compactMap(\.firstPacketCut)).filter { $0 > 0 }.min()
    }

    public var isLive: Bool { false }
    public var isFinished: Bool { stopped || (pending.isEmpty && files.allSatisfy(\.exhausted)) }
    /// A replay stops at once: what is left is in the files.
    public mutating func stopReading() { stopped = true }
    public var counters: CaptureCounters? { nil }

    /// A replay is not paced: frames in time order, in chunks so a stop is noticed.
    public mutating func frames(until deadline: UInt64) -> [Frame] {
        var out: [Frame] = []
        while out.count < 4096 {
            // Read from the file that is furthest behind, so files taken at the same time merge in order.
            while pending.count <= Self.window, let index = furthestBehind() {
                if let frame = files[index].next(filter: filter, coverage: captured) {
                    framesRead += 1
                    pending.push(frame)
                }
            }
            guard let frame = pending.pop() else { break }
            if frame.timestamp < lastEmitted { outOfOrder += 1 } else { lastEmitted = frame.timestamp }
            out.append(frame)
        }
        return out
    }

    /// The file still being read whose last frame is the earliest (found without building an array: this runs
    /// for every frame).
    private func furthestBehind() -> Int? {
        var found: Int?
        for index in files.indices where !files[index].exhausted {
            if found.map({ files[index].lastTimestamp < files[$0].lastTimestamp }) ?? true { found = index }
        }
        return found
    }

    /// What the files say that explains a replay which finds nothing: one line per file or interface kvmtopo
    /// cannot place on a capture point, with what to do; a file cut short, where it stopped.
    public func problems(plan: TracePlan) -> [String] {
        var lines: [String] = []
        for file in files {
            for interface in file.interfaces {
                let name = file.name(of: interface)
                let linkType = LinkType(rawValue: interface.linkType)
                let what: String? =
                    if linkType == nil {
                        "link type \(interface.linkType) is not one kvmtopo decodes (Ethernet, Linux cooked v1 and "
                            + "v2, raw IP)"
                    } else if let name {
                        plan.point(named: name) == nil
                            ? notOnPath(name, plan)
                            : linkType == .raw
                                ? "raw IP frames carry no direction: each is taken as received at \(name) (capture "
                                    + "the tap itself, or -i any -y LINUX_SLL2, for directions)"
                                : nil
                    } else if linkType == .linuxSLL2 {
                        nil  // each frame names its interface
                    } else if linkType == .linuxSLL {
                        "a Linux cooked v1 capture (of the any device) does not say which interface each frame was "
                            + "on: re-capture with -y LINUX_SLL2, or name the interface with --read vnet3=\(file.path)"
                    } else {
                        "the capture does not name its interface: name it with --read vnet3=\(file.path)"
                    }
                if let what { lines.append("\(file.path): \(what)") }
            }
            if let damage = file.damage {
                lines.append("\(file.path): read up to byte \(damage.offset), where it stops: \(damage.reason)")
            }
            if let failure = file.readFailure { lines.append("\(file.path): \(failure)") }
            for failure in file.filterFailures { lines.append("\(file.path): \(failure); its frames were skipped") }
            if file.skippedBlocks > 0 {
                lines.append("\(file.path): \(file.skippedBlocks) obsolete packet blocks skipped")
            }
        }
        if outOfOrder > 0 {
            lines.append(
                "\(outOfOrder) frames came more than \(Self.window) frames out of time order (files concatenated "
                    + "with mergecap -a?): they may show as lost; merge them with mergecap -w instead")
        }
        return lines
    }

    private func notOnPath(_ name: String, _ plan: TracePlan) -> String {
        "interface \(name) is not on \(plan.vm)'s path (its capture points: "
            + plan.points.map(\.interface).joined(separator: ", ") + ")"
    }
}

/// One capture file being read.
private struct OpenFile {
    let path: String
    let given: String?
    /// Its place among the --read files, which its coverage is recorded under.
    let index: Int
    private var reader: CaptureReader<FileBytes>
    /// The filter compiled for each interface's link type, once; nil where it does not compile for it.
    private var filters: [Int: OfflineFilter?] = [:]
    private(set) var filterFailures: [String] = []
    private(set) var exhausted = false
    private(set) var lastTimestamp: UInt64 = 0

    init(_ input: ReplayFrames.Input, index: Int) throws(ReplayFrames.Failure) {
        path = input.path
        given = input.interface
        self.index = index
        let bytes = try FileBytes(path: input.path)
        do {
            reader = try CaptureReader(bytes)
        } catch {
            throw .invalid("\(input.path): \(error)")
        }
    }

    var interfaces: [PcapNG.Interface] { reader.interfaces }
    var damage: PcapNG.FormatError? { reader.damage }
    var skippedBlocks: Int { reader.skippedBlocks }
    var firstPacketCut: Int? { reader.firstPacketCut }
    var readFailure: String? { reader.source.failure }

    /// The interface a frame was captured on: the one given, else the file's (an `any` capture names none).
    func name(of interface: PcapNG.Interface) -> String? {
        given ?? interface.name.flatMap { $0 == "any" ? nil : $0 }
    }

    /// What a frame of this interface shows was being captured: every point for SLL2 (each frame names its own
    /// interface), the named interface otherwise, nothing kvmtopo can place for an unnamed one.
    private func scope(of interface: PcapNG.Interface, _ linkType: LinkType) -> CaptureCoverage.Scope? {
        linkType == .linuxSLL2 ? .everywhere : name(of: interface).map { .interface($0) }
    }

    /// The next frame the filter lets through; frames of link types kvmtopo does not decode are skipped. Every
    /// frame read says the file was capturing then.
    mutating func next(filter: String?, coverage: CaptureCoverage) -> Frame? {
        while let record = reader.next() {
            lastTimestamp = record.timestamp
            let interface = reader.interfaces[record.interface]
            guard let linkType = LinkType(rawValue: interface.linkType) else { continue }
            if let scope = scope(of: interface, linkType) { coverage.saw(scope, file: index, at: record.timestamp) }
            if let filter, !passes(record, interface: interface, filter: filter) { continue }
            return Frame(
                bytes: record.bytes, linkType: linkType, timestamp: record.timestamp,
                originalLength: record.originalLength, interface: name(of: interface))
        }
        exhausted = true
        coverage.ended(file: index)
        return nil
    }

    /// The filter, compiled once per interface; one that does not compile for its link type lets nothing through
    /// and says so (`filterFailures`).
    private mutating func passes(_ record: PcapNG.Record, interface: PcapNG.Interface, filter: String) -> Bool {
        if filters[record.interface] == nil {
            do throws(PcapError) {
                filters[record.interface] = try OfflineFilter(expression: filter, linkType: Int32(interface.linkType))
            } catch {
                filters[record.interface] = .some(nil)
                filterFailures.append("the filter does not apply to link type \(interface.linkType): \(error)")
            }
        }
        return filters[record.interface]??.matches(record.bytes, originalLength: record.originalLength) == true
    }
}

/// A capture file, a FIFO or standard input (`-`), read in chunks.
struct FileBytes: ByteSource {
    private let handle: FileHandle
    /// A read that failed part way: the stream ends there, and this says why.
    private(set) var failure: String?

    init(path: String) throws(ReplayFrames.Failure) {
        if path == "-" {
            handle = .standardInput
            return
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .unreadable("\(path): cannot read (no such file)")
        }
        guard !isDirectory.boolValue else { throw .unreadable("\(path): is a directory, not a capture file") }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw .unreadable("\(path): cannot read (permission denied?)")
        }
        self.handle = handle
    }

    mutating func read(upTo count: Int) -> [UInt8] {
        guard failure == nil else { return [] }
        do {
            return [UInt8](try handle.read(upToCount: count) ?? Data())
        } catch {
            failure = "cannot read further (\(describe(error)))"
            return []
        }
    }
}

/// The frames read but not yet given out, smallest timestamp first: a binary heap of plain keys (a frame's
/// arrays would be retained and released at every swap), the frames in slots beside it. Equal stamps keep their
/// reading order.
private struct FrameHeap {
    private struct Key {
        var timestamp: UInt64
        var order: Int
        var slot: Int

        static func < (a: Key, b: Key) -> Bool { (a.timestamp, a.order) < (b.timestamp, b.order) }
    }

    private var keys: [Key] = []
    private var slots: [Frame?] = []
    private var freeSlots: [Int] = []
    private var counter = 0

    var count: Int { keys.count }
    var isEmpty: Bool { keys.isEmpty }

    mutating func push(_ frame: Frame) {
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            slots[slot] = frame
        } else {
            slot = slots.count
            slots.append(frame)
        }
        counter += 1
        keys.append(Key(timestamp: frame.timestamp, order: counter, slot: slot))
        var child = keys.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard keys[child] < keys[parent] else { break }
            keys.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Frame? {
        guard let top = keys.first else { return nil }
        keys.swapAt(0, keys.count - 1)
        keys.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < keys.count, keys[left] < keys[smallest] { smallest = left }
            if right < keys.count, keys[right] < keys[smallest] { smallest = right }
            guard smallest != parent else { break }
            keys.swapAt(parent, smallest)
            parent = smallest
        }
        let frame = slots[top.slot].take()
        freeSlots.append(top.slot)
        return frame
    }
}
