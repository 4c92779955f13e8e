import CosciModel

/// A rebuild plan: which packages build, in which wave and on which shard. A pure function of the graph, the
/// keys, the selection and the cache state, so every CI job that computes it gets the same plan.
public struct Plan: Sendable {
    /// The schema of the plan document.
    public static let schema = "cosci.plan/v1"

    /// What happens to a package.
    public enum Status: Sendable, Equatable {
        /// Selected (or depends on something that builds) and its key has no artifact in the cache: it builds
        /// in `wave` (the longest path among the packages that build; 0 needs nothing that builds) on the
        /// 0-based `shard`.
        case build(wave: Int, shard: Int)
        /// Selected, but an artifact for its key is already in the cache.
        case cached
        /// Not selected: its key did not change.
        case unchanged

        /// `build`, `cached` or `unchanged`, as plan documents and reports write it.
        public var name: String {
            switch self {
            case .build: "build"
            case .cached: "cached"
            case .unchanged: "unchanged"
            }
        }
    }

    public struct Entry: Sendable {
        public let id: PackageID
        public let key: CacheKey
        public let status: Status
        public let reasons: [String]
        public let dependencies: [PackageID]
        /// Estimated duration in seconds (from earlier runs, else 1).
        public let estimate: Double
    }

    /// A package that builds, with where and when.
    public struct Build: Sendable {
        public let entry: Entry
        public let wave: Int
        public let shard: Int
        public var id: PackageID { entry.id }
        public var key: CacheKey { entry.key }
        public var dependencies: [PackageID] { entry.dependencies }
        public var reasons: [String] { entry.reasons }
    }

    /// All packages, sorted by id.
    public let entries: [Entry]
    /// The number of shards asked for (the shards actually used may be fewer).
    public let shardCount: Int

    /// Packages that build.
    public var builds: [Build] {
        entries.compactMap { e in
            guard case .build(let wave, let shard) = e.status else { return nil }
            return Build(entry: e, wave: wave, shard: shard)
        }
    }

    /// Packages of one shard, in the order it builds them (wave, then id).
    public func packages(ofShard shard: Int) -> [Build] {
        builds.filter { $0.shard == shard }.sorted { ($0.wave, $0.id) < ($1.wave, $1.id) }
    }

    /// Shards that depend on another shard's output: shard → the shards it waits for.
    public func shardDependencies() -> [Int: [Int]] {
        let shardOf = Dictionary(uniqueKeysWithValues: builds.map { ($0.id, $0.shard) })
        var out: [Int: Set<Int>] = [:]
        for e in builds {
            for d in e.dependencies { if let t = shardOf[d], t != e.shard { out[e.shard, default: []].insert(t) } }
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
        cached: Set<CacheKey>, durations: [String: Double], shards: Int
    ) -> Plan {
        make(
            graph: graph, keys: keys.mapValues(\.key), selected: selected, reasons: reasons, cached: cached, durations: durations,
            shards: shards)
    }

    /// Builds the plan from any keyed graph (a loaded tree's, or a saved summary's `SummaryGraph`).
    public static func make(
        graph: some PlanGraph, keys: [PackageID: CacheKey], selected: Set<PackageID>, reasons: [PackageID: [String]],
        cached: Set<CacheKey>, durations: [String: Double], shards: Int
    ) -> Plan {
        let shards = max(1, shards)
        var dependents: [PackageID: [PackageID]] = [:]
        for id in graph.order {
            for dep in graph.dependencies(of: id) { dependents[dep, default: []].append(id) }
        }
        dependents = dependents.mapValues { $0.sorted() }
        // Selected packages and everything that depends on them.
        var closure = Set<PackageID>()
        var stack = Array(selected)
        while let id = stack.popLast() {
            guard closure.insert(id).inserted else { continue }
            stack.append(contentsOf: dependents[id] ?? [])
        }
        var status: [PackageID: Decision] = [:]
        for id in graph.order {
            guard let key = keys[id] else { continue }
            status[id] = closure.contains(id) ? (cached.contains(key) ? .cached : .build) : .unchanged
        }
        // What builds needs its dependencies' artifacts: an unchanged dependency that no cache holds builds too
        // (a cold cache), so each package is planned, and built, exactly once across the shards.
        var missingReasons: [PackageID: [String]] = [:]
        var pending = graph.order.filter { status[$0] == .build }
        while let id = pending.popLast() {
            for dep in graph.dependencies(of: id) where status[dep] == .unchanged {
                guard let key = keys[dep], !cached.contains(key) else { continue }
                status[dep] = .build
                missingReasons[dep] = ["not in the cache, and \(id) builds on it → \(dep)"]
                pending.append(dep)
            }
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
            guard let key = keys[id], let decision = status[id] else { return nil }
            let s: Status
            switch decision {
            case .build: s = .build(wave: wave[id] ?? 0, shard: shardOf[id] ?? 0)
            case .cached: s = .cached
            case .unchanged: s = .unchanged
            }
            return Entry(
                id: id, key: key, status: s,
                reasons: s == .unchanged ? [] : (reasons[id] ?? missingReasons[id] ?? inheritedReason(id, graph, selected)),
                dependencies: graph.dependencies(of: id), estimate: estimate(id))
        }
        return Plan(entries: entries, shardCount: shards)
    }

    /// What the plan decides for a package before it places the builds in waves and shards.
    private enum Decision { case build, cached, unchanged }

    static func inheritedReason(_ id: PackageID, _ graph: some PlanGraph, _ selected: Set<PackageID>) -> [String] {
        let deps = graph.dependencies(of: id).filter(selected.contains)
        return deps.isEmpty ? ["depends on a package that builds → \(id)"] : deps.map { "\($0) builds → (build dependency) \(id)" }
    }

    /// Critical-path list scheduling: repeatedly take the ready package with the longest remaining path and put
    /// it on the shard that is free first — among the shards numbered at least as high as every shard that
    /// builds one of its dependencies, so a shard only ever waits for lower-numbered ones and the shard graph a
    /// CI renders (`needs:`) is acyclic by construction. Deterministic: ties go to the smaller id and the lower
    /// shard.
    static func schedule(
        _ building: [PackageID], graph: some PlanGraph, dependents: [PackageID: [PackageID]], buildSet: Set<PackageID>,
        priority: [PackageID: Double],
        estimate: (PackageID) -> Double, shards: Int
    ) -> [PackageID: Int] {
        var remaining = Dictionary(uniqueKeysWithValues: building.map { id in
            (id, graph.dependencies(of: id).filter(buildSet.contains).count)
        })
        var finish: [PackageID: Double] = [:]
        var free = [Double](repeating: 0, count: shards)
        // Ready packages, longest remaining path first, then by id.
        var ready = PriorityQueue<(priority: Double, id: PackageID)> { a, b in
            a.priority != b.priority ? a.priority > b.priority : a.id < b.id
        }
        for id in building where remaining[id] == 0 { ready.push((priority[id] ?? 0, id)) }
        var out: [PackageID: Int] = [:]
        while let (_, id) = ready.pop() {
            let depsDone = graph.dependencies(of: id).compactMap { finish[$0] }.max() ?? 0
            let lowest = graph.dependencies(of: id).compactMap { out[$0] }.max() ?? 0
            var best = lowest
            for s in lowest..<shards where max(free[s], depsDone) < max(free[best], depsDone) { best = s }
            let start = max(free[best], depsDone)
            finish[id] = start + estimate(id)
            free[best] = finish[id]!
            out[id] = best
            for d in dependents[id] ?? [] where buildSet.contains(d) {
                remaining[d, default: 0] -= 1
                if remaining[d] == 0 { ready.push((priority[d] ?? 0, d)) }
            }
        }
        return out
    }
}

/// What a plan reads of a keyed tree: its keyed packages in graph order and their build dependencies.
public protocol PlanGraph {
    /// Keyed packages, dependencies first.
    var order: [PackageID] { get }
    /// The distinct build dependencies of a package, sorted.
    func dependencies(of id: PackageID) -> [PackageID]
}

extension BuildGraph: PlanGraph {}

/// A saved summary's graph and keys, decoded whole (what a plan needs, without the tree's specs).
public struct SummaryGraph: PlanGraph, Sendable {
    public let order: [PackageID]
    public let keys: [PackageID: CacheKey]
    private let edges: [PackageID: [PackageID]]

    public init(_ summary: KeyedSummary) {
        let ids = (0..<summary.count).map(summary.id(at:))
        order = Array(ids.prefix(summary.keyedCount))
        var keys: [PackageID: CacheKey] = [:]
        var edges: [PackageID: [PackageID]] = [:]
        for p in 0..<summary.keyedCount {
            keys[ids[p]] = summary.key(at: p)
            edges[ids[p]] = summary.package(at: p).dependencies.map { ids[$0] }
        }
        self.keys = keys
        self.edges = edges
    }

    public func dependencies(of id: PackageID) -> [PackageID] { edges[id] ?? [] }
}

/// A binary heap: `pop` returns the element that `precedes` puts first.
struct PriorityQueue<Element> {
    private var items: [Element] = []
    private let precedes: (Element, Element) -> Bool

    init(_ precedes: @escaping (Element, Element) -> Bool) {
        self.precedes = precedes
    }

    mutating func push(_ element: Element) {
        items.append(element)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard precedes(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let first = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var best = parent
            if left < items.count && precedes(items[left], items[best]) { best = left }
            if right < items.count && precedes(items[right], items[best]) { best = right }
            if best == parent { break }
            items.swapAt(parent, best)
            parent = best
        }
        return first
    }
}
