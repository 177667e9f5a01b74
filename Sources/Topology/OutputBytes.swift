import Foundation

/// A document's bytes as they are written: one malloc'd block, grown by realloc (which moves a large block's
/// pages rather than copying them) and handed to Data without a copy. A 40 MB dump copied into a Data page by
/// page took a tenth of the whole run in page faults. A value that cannot be copied rather than an object: a dump
/// is millions of appends, and each retained and released the object.
struct OutputBytes: ~Copyable {
    private var start: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 256)
        start = Self.allocate(self.capacity)
    }

    deinit { free(start) }

    mutating func append(_ byte: UInt8) {
        if count == capacity { grow(to: count + 1) }
        start[count] = byte
        count += 1
    }

    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        if count + bytes.count > capacity { grow(to: count + bytes.count) }
        (start + count).update(from: source, count: bytes.count)
        count += bytes.count
    }

    /// `byte` `count` times (indentation).
    mutating func append(_ byte: UInt8, repeating count: Int) {
        guard count > 0 else { return }
        if self.count + count > capacity { grow(to: self.count + count) }
        (start + self.count).initialize(repeating: byte, count: count)
        self.count += count
    }

    mutating func append(contentsOf bytes: some Sequence<UInt8>) {
        if bytes.withContiguousStorageIfAvailable({ append($0) }) == nil {
            for byte in bytes { append(byte) }
        }
    }

    /// Parts one after the other, copied on as many threads: the copy is mostly the faults of fresh pages.
    mutating func append(_ parts: [WrittenPart]) {
        var end = count
        let offsets = parts.map { part in
            defer { end += part.count }
            return end
        }
        if end > capacity { grow(to: end) }
        // Each thread writes its own range of the block.
        nonisolated(unsafe) let destination = start
        DispatchQueue.concurrentPerform(iterations: parts.count) { index in
            (destination + offsets[index]).update(from: parts[index].start, count: parts[index].count)
        }
        count = end
    }

    /// The bytes, handed over.
    consuming func take() -> Data {
        let data = Data(bytesNoCopy: start, count: count, deallocator: .free)
        discard self
        return data
    }

    /// The bytes as a part of a longer document, written on one thread and joined on another.
    consuming func takePart() -> WrittenPart {
        let part = WrittenPart(start: start, count: count)
        discard self
        return part
    }

    private mutating func grow(to needed: Int) {
        capacity = max(needed, capacity * 2)
        guard let moved = realloc(start, capacity) else {
            fatalError("out of memory growing the dump to \(capacity) bytes")
        }
        start = moved.assumingMemoryBound(to: UInt8.self)
    }

    private static func allocate(_ capacity: Int) -> UnsafeMutablePointer<UInt8> {
        guard let block = malloc(capacity) else { fatalError("out of memory for a dump of \(capacity) bytes") }
        return block.assumingMemoryBound(to: UInt8.self)
    }
}

/// A written part's bytes, owned: freed with the part once joined.
final class WrittenPart: @unchecked Sendable {
    let start: UnsafeMutablePointer<UInt8>
    let count: Int

    init(start: UnsafeMutablePointer<UInt8>, count: Int) {
        self.start = start
        self.count = count
    }

    deinit { free(start) }
}
