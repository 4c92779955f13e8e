import Dispatch
import Synchronization

/// Runs `body` for each index of `0..<count` on up to `width` threads and returns the results in index
/// order. The first error thrown stops new work and is rethrown once the running calls have returned.
/// Blocking: call it from a thread of its own, never from Swift's cooperative pool.
public func parallelMap<T: Sendable, E: Error>(
    _ count: Int, width: Int, _ body: @Sendable (Int) throws(E) -> T
) throws(E) -> [T] {
    guard count > 0 else { return [] }
    let state = Mutex(ParallelState<T, E>(count: count))
    DispatchQueue.concurrentPerform(iterations: Swift.min(Swift.max(1, width), count)) { _ in
        while true {
            let next: Int? = state.withLock { s in
                guard s.failure == nil, s.next < count else { return nil }
                defer { s.next += 1 }
                return s.next
            }
            guard let i = next else { return }
            do throws(E) {
                let value = try body(i)
                state.withLock { $0.results[i] = value }
            } catch {
                state.withLock { s in if s.failure == nil { s.failure = error } }
            }
        }
    }
    let (results, failure) = state.withLock { ($0.results, $0.failure) }
    if let failure { throw failure }
    return results.map { $0! }
}

/// What the threads of one `parallelMap` share.
private struct ParallelState<T, E> {
    var next = 0
    var results: [T?]
    var failure: E?

    init(count: Int) { results = Array(repeating: nil, count: count) }
}
