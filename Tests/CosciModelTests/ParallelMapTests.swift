import CosciModel
import Synchronization
import Testing

@Suite struct ParallelMap {
    struct Stop: Error, Equatable { let at: Int }

    @Test func resultsComeInIndexOrderWhateverTheWidth() {
        for width in [1, 2, 7, 64] {
            let out = parallelMap(1000, width: width) { i in i * i }
            #expect(out == (0..<1000).map { $0 * $0 }, "width \(width)")
        }
        #expect(parallelMap(0, width: 4) { $0 }.isEmpty)
    }

    @Test func theFirstErrorStopsNewWorkAndIsThrown() {
        let started = Mutex(0)
        #expect(throws: Stop(at: 10)) {
            _ = try parallelMap(10_000, width: 1) { (i: Int) throws(Stop) -> Int in
                started.withLock { $0 += 1 }
                if i == 10 { throw Stop(at: 10) }
                return i
            }
        }
        // One thread: nothing after the failing index starts.
        #expect(started.withLock { $0 } == 11)
    }

    @Test func atMostWidthCallsRunAtOnce() {
        let running = Mutex((now: 0, most: 0))
        _ = parallelMap(200, width: 3) { i in
            running.withLock { $0.now += 1; $0.most = Swift.max($0.most, $0.now) }
            var x = 0
            for j in 0..<20_000 { x &+= j ^ i }
            running.withLock { $0.now -= 1 }
            return x
        }
        #expect(running.withLock { $0.most } <= 3)
    }
}
