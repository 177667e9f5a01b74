import Foundation

/// A document's bytes as they are written: one malloc'd block, grown by realloc (which moves a large block's
/// pages rather than copying them) and handed to Data without a copy. A 40 MB dump copied into a Data page by
/// page took a tenth of the whole run in page faults. Written by one thread at a time: a part written on another
/// thread is handed over whole.
final class OutputBytes: @unchecked Sendable {
    private var start: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 256)
        start = Self.allocate(self.capacity)
    }

    deinit { free(start) }

    func append(_ byte: UInt8) {
        if count == capacity { grow(to: count + 1) }
        start[count] = byte
        count += 1
    }

    func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        if count + bytes.count > capacity { grow(to: count + bytes.count) }
        (start + count).update(from: source, count: bytes.count)
        count += bytes.count
    }

    func append(contentsOf bytes: some Sequence<UInt8>) {
        if bytes.withContiguousStorageIfAvailable({ append($0) }) == nil {
            for byte in bytes { append(byte) }
        }
    }

    /// Parts one after the other, copied on as many threads: the copy is mostly the faults of fresh pages.
    func append(_ parts: [OutputBytes]) {
        var end = count
        let offsets = parts.map { part in
            defer { end += part.count }
            return end
        }
        if end > capacity { grow(to: end) }
        let destination = self
        DispatchQueue.concurrentPerform(iterations: parts.count) { index in
            (destination.start + offsets[index]).update(from: parts[index].start, count: parts[index].count)
        }
        count = end
    }

    /// The bytes, handed over: this buffer is empty afterwards.
    func take() -> Data {
        let data = Data(bytesNoCopy: start, count: count, deallocator: .free)
        capacity = 256
        start = Self.allocate(capacity)
        count = 0
        return data
    }

    private func grow(to needed: Int) {
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
