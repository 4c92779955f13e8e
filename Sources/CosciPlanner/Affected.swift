import CosciModel

/// A loaded tree with its graph and keys: one side of a comparison.
public struct KeyedTree: Sendable {
    public let graph: BuildGraph
    public let keys: [PackageID: CacheKeyComponents]
    /// The values files and shared templates the tree was rendered with (paths relative to the project root).
    public let inputs: Set<String>

    public init(graph: BuildGraph, keys: [PackageID: CacheKeyComponents], inputs: Set<String>) {
        self.graph = graph
        self.keys = keys
        self.inputs = inputs
    }
}

/// A package whose key at head differs from its key at base, or that is new at head.
public struct AffectedPackage: Sendable, Hashable {
    public let id: PackageID
    public let key: Digest
    /// nil for a package new at head.
    public let baseKey: Digest?
    /// Why: each a chain from a change to this package, e.g.
    /// `packages/toolchain/yq/build.yaml changed → toolchain/yq@4.30.1 → (build dependency) system/cos@0.8.14-21`.
    public let reasons: [String]

    public var isNew: Bool { baseKey == nil }
}

/// What changed between two keyed trees.
public struct AffectedSet: Sendable {
    /// Sorted by id.
    public let affected: [AffectedPackage]
    /// Packages at base that are gone at head, with their base keys; sorted by id.
    public let removed: [(id: PackageID, key: Digest)]
    /// How many packages kept their key.
    public let unchanged: Int

    /// Compares base and head: affected = key differs or package new. `changes` (the repository diff) names
    /// the files behind values and template changes; package content changes are found from the trees.
    public static func compare(base: KeyedTree, head: KeyedTree, changes: [ChangedPath]) -> AffectedSet {
        let headIDs = head.graph.order.sorted()
        var chains: [PackageID: [String]] = [:]
        /// Links in each package's first chain, to pick the shortest explanation without re-reading text.
        var chainLength: [PackageID: Int] = [:]
        var affected: [AffectedPackage] = []
        let changedInputs = changes.filter { head.inputs.contains($0.path) || base.inputs.contains($0.path) || $0.oldPath.map(base.inputs.contains) == true }
        // Dependencies come first in graph order, so a dependency's chain exists before its dependents need it.
        for id in head.graph.order {
            guard let key = head.keys[id]?.key else { continue }
            let baseKey = base.keys[id]?.key
            if baseKey == key { continue }
            var reasons: [String] = []
            let spec = head.graph.packages[id]
            let baseSpec = base.graph.packages[id]
            if let spec, let baseSpec {
                reasons += ownChanges(spec, baseSpec, changedInputs: changedInputs)
                let before = Set(base.graph.dependencies(of: id)), after = Set(head.graph.dependencies(of: id))
                let gone = before.subtracting(after).sorted(), came = after.subtracting(before).sorted()
                if !gone.isEmpty || !came.isEmpty {
                    let parts = gone.map { "-\($0)" } + came.map { "+\($0)" }
                    reasons.append("build dependencies changed (\(parts.joined(separator: ", "))) → \(id)")
                }
            } else {
                let family = base.graph.packages.keys.filter { $0.family == id.family && head.graph.packages[$0] == nil }.sorted()
                let note = family.isEmpty ? "" : " (replaces \(family.map(\.version.text).joined(separator: ", ")))"
                reasons.append("new package\(note) → \(id)")
            }
            // One chain through the changed dependency with the shortest chain; the others are named.
            let changedDeps = head.graph.dependencies(of: id).compactMap { dep in chains[dep]?.first.map { (dep, $0) } }
            if let best = changedDeps.min(by: { a, b in
                let la = chainLength[a.0] ?? 0, lb = chainLength[b.0] ?? 0
                return la != lb ? la < lb : a.0 < b.0
            }) {
                reasons.append("\(best.1) → (build dependency) \(id)")
                let others = changedDeps.map(\.0).filter { $0 != best.0 }
                if !others.isEmpty {
                    reasons.append("also changed build dependencies: \(others.map(\.description).joined(separator: ", "))")
                }
            }
            if reasons.isEmpty { reasons.append("cache key changed → \(id)") }
            chains[id] = reasons
            let viaDependency = changedDeps.min { a, b in (chainLength[a.0] ?? 0, a.0) < (chainLength[b.0] ?? 0, b.0) }
            chainLength[id] = reasons.first?.hasSuffix("→ (build dependency) \(id)") == true
                ? (viaDependency.map { (chainLength[$0.0] ?? 0) + 1 } ?? 1) : 1
            affected.append(AffectedPackage(id: id, key: key, baseKey: baseKey, reasons: reasons))
        }
        let headSet = Set(headIDs)
        let removed = base.graph.order.filter { !headSet.contains($0) && head.graph.packages[$0] == nil }.sorted()
            .compactMap { id in base.keys[id].map { (id: id, key: $0.key) } }
        return AffectedSet(
            affected: affected.sorted { $0.id < $1.id }, removed: removed,
            unchanged: headIDs.count - affected.count)
    }

    /// Changes of the package itself: files of its directory, its stanza, its rendered spec.
    static func ownChanges(_ spec: PackageSpec, _ base: PackageSpec, changedInputs: [ChangedPath]) -> [String] {
        var out: [String] = []
        let prefix = spec.path == "." ? "" : spec.path + "/"
        if spec.contentDigest != base.contentDigest {
            let before = Dictionary(base.content.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
            let after = Dictionary(spec.content.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
            for path in Set(before.keys).union(after.keys).sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                switch (before[path], after[path]) {
                case (nil, _?): out.append("\(prefix)\(path) added → \(spec.id)")
                case (_?, nil): out.append("\(prefix)\(path) removed → \(spec.id)")
                case let (b?, a?) where b != a: out.append("\(prefix)\(path) changed → \(spec.id)")
                default: continue
                }
            }
        }
        if spec.stanzaDigest != base.stanzaDigest && !out.contains(where: { $0.hasPrefix(spec.definedAt.file + " ") }) {
            out.append("\(spec.definedAt.file): definition stanza changed → \(spec.id)")
        }
        if spec.specDigest != base.specDigest && !out.contains(where: { $0.hasPrefix(spec.buildFile + " ") }) {
            let causes = changedInputs.map(\.sentence)
            if causes.isEmpty {
                out.append("rendered build spec changed → \(spec.id)")
            } else {
                for cause in causes { out.append("\(cause) → rendered build spec changed → \(spec.id)") }
            }
        }
        if spec.build.image != base.build.image {
            out.append("base image changed (\(base.build.image ?? "none") → \(spec.build.image ?? "none")) → \(spec.id)")
        }
        return out
    }
}
