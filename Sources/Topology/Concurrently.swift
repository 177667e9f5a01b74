import Foundation

/// Work spread over the machine's cores, results in the order of the input: the long parts of a dump of a big host
/// (reading its firewall, modelling each VM's security group, writing the JSON).
public enum Concurrently {
    public static var cores: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// `transform` of every element, in order, on up to `threads` threads (the caller's among them).
    public static func map<Element: Sendable, Output>(
        _ elements: [Element], threads: Int = cores, _ transform: @Sendable (Element) -> Output
    ) -> [Output] {
        let results = Results<Output>(count: elements.count)
        let chunks = max(1, min(elements.count, threads * 4))
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            for index in (elements.count * chunk / chunks)..<(elements.count * (chunk + 1) / chunks) {
                results.store(transform(elements[index]), at: index)
            }
        }
        return results.all
    }

    /// Two pieces of work at once, the caller's thread doing one of them.
    public static func both<First, Second>(
        _ first: @Sendable () -> First, _ second: @Sendable () -> Second
    ) -> (First, Second) {
        let firstResult = Results<First>(count: 1)
        let secondResult = Results<Second>(count: 1)
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            if index == 0 { firstResult.store(first(), at: 0) } else { secondResult.store(second(), at: 0) }
        }
        return (firstResult.all[0], secondResult.all[0])
    }

    /// `body` of every item, in order, on up to `workers` threads, each with a context of its own (a netlink
    /// socket is not shared) and taking the next item when it is done with one, so that a few large items do not
    /// hold the rest back. The first error any thread meets is thrown once all have stopped.
    public static func map<Item: Sendable, Context, Output, Failure: Error>(
        _ items: [Item], workers: Int, context: @Sendable () throws(Failure) -> Context,
        _ body: @Sendable (inout Context, Item) throws(Failure) -> Output
    ) throws(Failure) -> [Output] {
        let results = Results<Output>(count: items.count)
        let queue = Queue<Failure>(count: items.count)
        DispatchQueue.concurrentPerform(iterations: max(1, min(workers, items.count))) { _ in
            var local: Context
            do throws(Failure) { local = try context() } catch { return queue.fail(error) }
            while let index = queue.next() {
                do throws(Failure) {
                    results.store(try body(&local, items[index]), at: index)
                } catch {
                    return queue.fail(error)
                }
            }
        }
        if let error = queue.error { throw error }
        return results.all
    }

    /// The results so far, each slot written by one thread, behind a lock.
    private final class Results<Output>: @unchecked Sendable {
        private let lock = NSLock()
        private var slots: [Output?]
        init(count: Int) { slots = Array(repeating: nil, count: count) }
        func store(_ output: Output, at index: Int) { lock.withLock { slots[index] = output } }
        var all: [Output] { slots.map { $0! } }
    }

    /// The next item to take, and the first failure (after which no more are taken).
    private final class Queue<Failure: Error>: @unchecked Sendable {
        private let lock = NSLock()
        private var taken = 0
        private let count: Int
        private(set) var error: Failure?
        init(count: Int) { self.count = count }

        func next() -> Int? {
            lock.withLock {
                guard error == nil, taken < count else { return nil }
                taken += 1
                return taken - 1
            }
        }

        func fail(_ failure: Failure) { lock.withLock { error = error ?? failure } }
    }
}

/// Work run on a thread of its own while the caller goes on; `value()` waits for its result.
public final class Background<Value: Sendable>: @unchecked Sendable {
    // Written once by the thread before `done` is signalled, read only after waiting for it.
    private var result: Value?
    private let done = DispatchSemaphore(value: 0)

    public init(_ work: @escaping @Sendable () -> Value) {
        Thread.detachNewThread {
            self.result = work()
            self.done.signal()
        }
    }

    public func value() -> Value {
        done.wait()
        done.signal()
        return result!
    }
}
