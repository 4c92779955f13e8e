import CosciModel

/// A rebuild plan: which packages build, in which wave and on which shard. A pure function of the graph, the
/// keys, the selection and the cache state, so every CI job that computes it gets the same plan.
public struct Plan: Sendable {
    /// The schema of the plan document.
    public static let schema = "cosci.plan/v1"

    /// What happens to a package.
    public enum Status: String, Sendable {
        /// Selected (or depends on something that builds) and its key has no artifact in the cache.
        case build
        /// Selected, but an artifact for its key is already in the cache.
        case cached
        /// Not selected: its key did not change.
        case unchanged
    }

    public struct Entry: Sendable {
        public let id: PackageID
        public let key: Digest
        public let status: Status
        public let reasons: [String]
        public let dependencies: [PackageID]
        /// Longest-path level among the packages that build (0: needs nothing that builds); nil unless building.
        public let wave: Int?
        /// 0-based shard; nil unless building.
        public let shard: Int?
        /// Estimated duration in seconds (from earlier runs, else 1).
        public let estimate: Double
    }

    /// All packages, sorted by id.
    public let entries: [Entry]
    /// The number of shards asked for (the shards actually used may be fewer).
    public let shardCount: Int

    /// Packages that build.
    public var builds: [Entry] { entries.filter { $0.status == .build } }

    /// Packages of one shard, in the order it builds them (wave, then id).
    public func packages(ofShard shard: Int) -> [Entry] {
        builds.filter { $0.shard == shard }.sorted { ($0.wave ?? 0, $0.id) < ($1.wave ?? 0, $1.id) }
    }

    /// Shards that depend on another shard's output: shard → the shards it waits for.
    public func shardDependencies() -> [Int: [Int]] {
        let shardOf = Dictionary(uniqueKeysWithValues: builds.compactMap { e in e.shard.map { (e.id, $0) } })
        var out: [Int: Set<Int>] = [:]
        for e in builds {
            guard let s = e.shard else { continue }
            for d in e.dependencies { if let t = shardOf[d], t != s { out[s, default: []].insert(t) } }
        }
        return out.mapValues { $0.sorted() }
    }

    /// Builds the plan.
    /// - Parameters:
    ///   - selected: the packages to consider (affected ones, or all); their dependents come along.
    ///   - reasons: why each package is selected.
    ///   - cached: keys whose artifacts are already in the cache.
    ///   - durations: seconds per `category/name` from earlier runs.
    public static func make(
        graph: BuildGraph, keys: [PackageID: CacheKeyComponents], selected: Set<PackageID>, reasons: [PackageID: [String]],
        cached: Set<Digest>, durations: [String: Double], shards: Int
    ) -> Plan {
        let shards = max(1, shards)
        let dependents = graph.dependents()
        // Selected packages and everything that depends on them.
        var closure = Set<PackageID>()
        var stack = Array(selected)
        while let id = stack.popLast() {
            guard closure.insert(id).inserted else { continue }
            stack.append(contentsOf: dependents[id] ?? [])
        }
        var status: [PackageID: Status] = [:]
        for id in graph.order {
            guard let key = keys[id]?.key else { continue }
            status[id] = closure.contains(id) ? (cached.contains(key) ? .cached : .build) : .unchanged
        }
        let building = graph.order.filter { status[$0] == .build }
        let buildSet = Set(building)
        let estimate = { (id: PackageID) in durations[id.family].map { max($0, 0.001) } ?? 1 }

        // Waves: longest path from a package that needs nothing that builds (graph.order is topological).
        var wave: [PackageID: Int] = [:]
        for id in building {
            wave[id] = graph.dependencies(of: id).filter(buildSet.contains).map { (wave[$0] ?? 0) + 1 }.max() ?? 0
        }
        // Priority: the longest estimated path from the package to the end of the plan (critical path).
        var bottom: [PackageID: Double] = [:]
        for id in building.reversed() {
            let after = (dependents[id] ?? []).filter(buildSet.contains).map { bottom[$0] ?? 0 }.max() ?? 0
            bottom[id] = estimate(id) + after
        }
        let shardOf = schedule(
            building, graph: graph, dependents: dependents, buildSet: buildSet, priority: bottom, estimate: estimate,
            shards: shards)

        let entries = graph.order.sorted().compactMap { id -> Entry? in
            guard let key = keys[id]?.key, let s = status[id] else { return nil }
            return Entry(
                id: id, key: key, status: s, reasons: s == .unchanged ? [] : (reasons[id] ?? inheritedReason(id, graph, selected)),
                dependencies: graph.dependencies(of: id), wave: wave[id], shard: shardOf[id], estimate: estimate(id))
        }
        return Plan(entries: entries, shardCount: shards)
    }

    static func inheritedReason(_ id: PackageID, _ graph: BuildGraph, _ selected: Set<PackageID>) -> [String] {
        let deps = graph.dependencies(of: id).filter(selected.contains)
        return deps.isEmpty ? ["depends on a package that builds → \(id)"] : deps.map { "\($0) builds → (build dependency) \(id)" }
    }

    /// Critical-path list scheduling: repeatedly take the ready package with the longest remaining path and put
    /// it on the shard that is free first. Deterministic: ties go to the smaller id and the lower shard.
    static func schedule(
        _ building: [PackageID], graph: BuildGraph, dependents: [PackageID: [PackageID]], buildSet: Set<PackageID>,
        priority: [PackageID: Double],
        estimate: (PackageID) -> Double, shards: Int
    ) -> [PackageID: Int] {
        var remaining = Dictionary(uniqueKeysWithValues: building.map { id in
            (id, graph.dependencies(of: id).filter(buildSet.contains).count)
        })
        var finish: [PackageID: Double] = [:]
        var free = [Double](repeating: 0, count: shards)
        var ready = building.filter { remaining[$0] == 0 }
        var out: [PackageID: Int] = [:]
        while !ready.isEmpty {
            ready.sort { a, b in
                let pa = priority[a] ?? 0, pb = priority[b] ?? 0
                return pa != pb ? pa > pb : a < b
            }
            let id = ready.removeFirst()
            let depsDone = graph.dependencies(of: id).compactMap { finish[$0] }.max() ?? 0
            var best = 0
            for s in 1..<shards where max(free[s], depsDone) < max(free[best], depsDone) { best = s }
            let start = max(free[best], depsDone)
            finish[id] = start + estimate(id)
            free[best] = finish[id]!
            out[id] = best
            for d in dependents[id] ?? [] where buildSet.contains(d) {
                remaining[d, default: 0] -= 1
                if remaining[d] == 0 { ready.append(d) }
            }
        }
        return out
    }
}
