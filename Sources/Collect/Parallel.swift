import Foundation

/// Work spread over a few threads, each with a context of its own (a netlink socket is not shared).
enum Parallel {
    /// The threads a dump of many small objects is worth: the kernel answers each on the asking thread, and past
    /// a few the sockets contend more than they gain.
    static var workers: Int { min(ProcessInfo.processInfo.activeProcessorCount, 4) }

    /// `body` of every item, in the items' order, run on up to `workers` threads (the caller's among them), each
    /// taking the next item when it is done with one, so that a few large items do not hold the rest back. The
    /// first error any thread meets is thrown once all have stopped.
    static func map<Item: Sendable, Context, Output, Failure: Error>(
        _ items: [Item], workers: Int = workers, context: @Sendable () throws(Failure) -> Context,
        _ body: @Sendable (inout Context, Item) throws(Failure) -> Output
    ) throws(Failure) -> [Output] {
        let state = State<Output, Failure>(count: items.count)
        DispatchQueue.concurrentPerform(iterations: max(1, min(workers, items.count))) { _ in
            var local: Context
            do throws(Failure) { local = try context() } catch { return state.fail(error) }
            while let index = state.next() {
                do throws(Failure) {
                    state.store(try body(&local, items[index]), at: index)
                } catch {
                    return state.fail(error)
                }
            }
        }
        if let error = state.error { throw error }
        return state.results.map { $0! }
    }

    /// What the threads share, behind one lock: the next item, the results so far and the first failure.
    private final class State<Output, Failure: Error>: @unchecked Sendable {
        private let lock = NSLock()
        private var taken = 0
        private let count: Int
        private(set) var results: [Output?]
        private(set) var error: Failure?

        init(count: Int) {
            self.count = count
            results = Array(repeating: nil, count: count)
        }

        func next() -> Int? {
            lock.withLock {
                guard error == nil, taken < count else { return nil }
                taken += 1
                return taken - 1
            }
        }

        func store(_ output: Output, at index: Int) { lock.withLock { results[index] = output } }

        func fail(_ failure: Failure) { lock.withLock { error = error ?? failure } }
    }
}
