import CosciModel

/// The order of a build: which package may start next, given what finished. A pure value, driven by the worker
/// pool; deterministic (ready packages go by priority, then id).
public struct BuildScheduler: Sendable {
    /// Where a package stands.
    public enum State: Sendable, Equatable {
        case queued
        case running
        case built
        case failed
        /// Not built: a dependency failed (`keep-going`), or a failure stopped the run (fail-fast).
        case skipped(reason: String)
    }

    public private(set) var states: [PackageID: State]
    let dependencies: [PackageID: [PackageID]]
    let dependents: [PackageID: [PackageID]]
    let priority: [PackageID: Double]
    let keepGoing: Bool
    private var unmet: [PackageID: Int]
    private var ready: [PackageID]
    /// Set by the first failure in fail-fast mode: nothing new starts.
    public private(set) var stopped = false

    /// - Parameters:
    ///   - packages: the packages to build.
    ///   - dependencies: each package's build dependencies; those outside `packages` count as available.
    ///   - priority: higher starts first (e.g. the critical-path length); missing means 0.
    public init(
        packages: [PackageID], dependencies: [PackageID: [PackageID]], priority: [PackageID: Double] = [:],
        keepGoing: Bool
    ) {
        let set = Set(packages)
        var deps: [PackageID: [PackageID]] = [:]
        var dependents: [PackageID: [PackageID]] = [:]
        for id in packages {
            let inside = (dependencies[id] ?? []).filter(set.contains)
            deps[id] = inside
            for d in inside { dependents[d, default: []].append(id) }
        }
        self.dependencies = deps
        self.dependents = dependents
        self.priority = priority
        self.keepGoing = keepGoing
        self.states = Dictionary(uniqueKeysWithValues: packages.map { ($0, State.queued) })
        self.unmet = deps.mapValues(\.count)
        self.ready = packages.filter { deps[$0]!.isEmpty }
    }

    /// The next package to start (among those `eligible` accepts), or nil when none may start now.
    public mutating func next(where eligible: (PackageID) -> Bool = { _ in true }) -> PackageID? {
        guard !stopped, !ready.isEmpty else { return nil }
        ready.sort { a, b in
            let pa = priority[a] ?? 0, pb = priority[b] ?? 0
            return pa != pb ? pa > pb : a < b
        }
        guard let index = ready.firstIndex(where: eligible) else { return nil }
        let id = ready.remove(at: index)
        states[id] = .running
        return id
    }

    /// Records the end of a build.
    public mutating func finish(_ id: PackageID, success: Bool) {
        states[id] = success ? .built : .failed
        if success {
            for d in dependents[id] ?? [] {
                unmet[d, default: 0] -= 1
                if unmet[d] == 0 && states[d] == .queued { ready.append(d) }
            }
            return
        }
        if keepGoing {
            var stack = dependents[id] ?? []
            while let d = stack.popLast() {
                guard states[d] == .queued else { continue }
                states[d] = .skipped(reason: "depends on \(id), which failed")
                stack.append(contentsOf: dependents[d] ?? [])
            }
            ready.removeAll { states[$0] != .queued }
        } else {
            stopped = true
            for (p, s) in states where s == .queued {
                states[p] = .skipped(reason: "not started: the build of \(id) failed (fail-fast; --keep-going builds the rest)")
            }
            ready.removeAll()
        }
    }

    /// Whether any package is still running.
    public var anyRunning: Bool { states.values.contains(.running) }

    /// Whether every package has an outcome.
    public var isFinished: Bool { !states.values.contains { $0 == .queued || $0 == .running } }

    /// Counts for a progress view.
    public var counts: (done: Int, running: Int, queued: Int, failed: Int) {
        var c = (done: 0, running: 0, queued: 0, failed: 0)
        for s in states.values {
            switch s {
            case .built: c.done += 1
            case .running: c.running += 1
            case .queued: c.queued += 1
            case .failed, .skipped: c.failed += 1
            }
        }
        return c
    }
}
