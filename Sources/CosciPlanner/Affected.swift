import CosciModel

/// A loaded tree with its graph and keys: one side of a comparison.
public struct KeyedTree: Sendable {
    public let graph: BuildGraph
    public let keys: [PackageID: CacheKeyComponents]
    /// The values files and shared templates the tree was rendered with (paths relative to the project root).
    public let inputs: Set<String>
    /// What the renders read besides files (`clock` → epoch, `env:NAME` → digest of the value); empty when
    /// no build spec reads the clock or the environment.
    public let renderInputs: [String: String]

    public init(graph: BuildGraph, keys: [PackageID: CacheKeyComponents], inputs: Set<String>, renderInputs: [String: String] = [:]) {
        self.graph = graph
        self.keys = keys
        self.inputs = inputs
        self.renderInputs = renderInputs
    }
}

/// A package whose key at head differs from its key at base, or that is new at head.
public struct AffectedPackage: Sendable, Hashable {
    public let id: PackageID
    public let key: CacheKey
    /// nil for a package new at head.
    public let baseKey: CacheKey?
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
    public let removed: [(id: PackageID, key: CacheKey)]
    /// How many packages kept their key.
    public let unchanged: Int

    /// Compares base and head: affected = key differs or package new. `changes` (the repository diff) names
    /// the files behind values and template changes; package content changes are found from the trees.
    ///
    /// Only the packages whose keys differ are decoded from the summaries; the others are matched by the
    /// bytes of their ids and keys.
    public static func compare(base: KeyedSummary, head: KeyedSummary, changes: [ChangedPath]) -> AffectedSet {
        let match = KeyedSummary.match(base: base, head: head)
        var atHead = [Bool](repeating: false, count: base.count)
        for case let b? in match { atHead[b] = true }
        let changedInputs = changes.filter { head.inputs.contains($0.path) || base.inputs.contains($0.path) || $0.oldPath.map(base.inputs.contains) == true }
        // Base packages gone at head, by family (what a new package may replace); made when first needed.
        var goneByFamily: [String: [PackageID]]?
        // Per affected head position: its id, its reasons, and the links in its first chain (to pick the
        // shortest explanation without re-reading text).
        var ids: [Int: PackageID] = [:]
        var chains: [Int: [String]] = [:]
        var chainLength: [Int: Int] = [:]
        var affected: [Int: AffectedPackage] = [:]
        // Dependencies come first in graph order, so a dependency's chain exists before its dependents need it.
        for h in 0..<head.keyedCount {
            let b = match[h]
            if let b, head.sameKey(h, base, b) { continue }
            guard let key = head.key(at: h) else { continue }
            let id = head.id(at: h)
            ids[h] = id
            let spec = head.package(at: h)
            var reasons: [String] = []
            if let b {
                let baseSpec = base.package(at: b)
                reasons += ownChanges(id, head: head, spec, base: base, baseSpec, changedInputs: changedInputs)
                // Dependencies compared as base positions: a head dependency absent at base is new.
                let before = Set(baseSpec.dependencies)
                let mapped = spec.dependencies.map { match[$0] }
                let after = Set(mapped.compactMap { $0 })
                let gone = before.subtracting(after).map(base.id(at:))
                let came = zip(spec.dependencies, mapped).filter { $0.1.map { !before.contains($0) } ?? true }.map { head.id(at: $0.0) }
                if !gone.isEmpty || !came.isEmpty {
                    let parts = gone.sorted().map { "-\($0)" } + came.sorted().map { "+\($0)" }
                    reasons.append("build dependencies changed (\(parts.joined(separator: ", "))) → \(id)")
                }
                reasons += upstreamChanges(id, head: spec.upstream, base: baseSpec.upstream)
            } else {
                if goneByFamily == nil {
                    var gone: [String: [PackageID]] = [:]
                    for i in 0..<base.count where !atHead[i] {
                        let old = base.id(at: i)
                        gone[old.family, default: []].append(old)
                    }
                    goneByFamily = gone
                }
                let family = (goneByFamily?[id.family] ?? []).sorted()
                let note = family.isEmpty ? "" : " (replaces \(family.map(\.version.text).joined(separator: ", ")))"
                reasons.append("new package\(note) → \(id)")
            }
            // One chain through the changed dependency with the shortest chain; the others are named.
            let changedDeps = spec.dependencies.compactMap { dep in chains[dep]?.first.map { (position: dep, id: ids[dep]!, chain: $0) } }
            let best = changedDeps.min { a, b in
                let la = chainLength[a.position] ?? 0, lb = chainLength[b.position] ?? 0
                return la != lb ? la < lb : a.id < b.id
            }
            // Whether the first reason is the chain through a dependency (the package itself is unchanged).
            let firstIsChain = reasons.isEmpty && best != nil
            if let best {
                reasons.append("\(best.chain) → (build dependency) \(id)")
                let others = changedDeps.filter { $0.position != best.position }
                if !others.isEmpty {
                    reasons.append("also changed build dependencies: \(others.map(\.id.description).joined(separator: ", "))")
                }
            }
            if reasons.isEmpty { reasons.append("cache key changed → \(id)") }
            chains[h] = reasons
            chainLength[h] = firstIsChain ? (best.map { chainLength[$0.position] ?? 0 } ?? 0) + 1 : 1
            affected[h] = AffectedPackage(id: id, key: key, baseKey: b.flatMap(base.key(at:)), reasons: reasons)
        }
        let removed = (0..<base.keyedCount).filter { !atHead[$0] }.compactMap { i in base.key(at: i).map { (id: base.id(at: i), key: $0) } }
            .sorted { $0.id < $1.id }
        // Positions sorted by id bytes are the ids' order.
        return AffectedSet(
            affected: head.sorted.compactMap { affected[$0] }, removed: removed,
            unchanged: head.keyedCount - affected.count)
    }

    /// Upstream packages that moved under a package: `repository cos: system/cos 0.8.14-21 → 0.8.14-22 →
    /// (final image) system/sampleOS@0.5.0`.
    static func upstreamChanges(_ id: PackageID, head: [UpstreamDependency], base: [UpstreamDependency]) -> [String] {
        let before = Set(base)
        var out: [String] = []
        for dependency in head where !before.contains(dependency) {
            let how = dependency.kind == "final-image" ? "(final image)" : "(build dependency)"
            if let old = base.first(where: { $0.family == dependency.family }) {
                let change = old.id == dependency.id
                    ? "\(dependency.id) re-released (sha256 \(old.sha256.prefix(12)) → \(dependency.sha256.prefix(12)))"
                    : "\(dependency.family) \(old.version) → \(dependency.version)"
                out.append("repository \(dependency.repository): \(change) → \(how) \(id)")
            } else {
                out.append("repository \(dependency.repository): \(dependency.id) now used → \(how) \(id)")
            }
        }
        return out
    }

    /// Changes of the package itself: files of its directory, its stanza, its rendered spec.
    static func ownChanges(
        _ id: PackageID, head: KeyedSummary, _ spec: PackageSummary, base: KeyedSummary, _ baseSpec: PackageSummary,
        changedInputs: [ChangedPath]
    ) -> [String] {
        var out: [String] = []
        let prefix = spec.path == "." ? "" : spec.path + "/"
        if spec.contentDigest != baseSpec.contentDigest {
            let before = Dictionary(base.content(of: baseSpec).map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
            let after = Dictionary(head.content(of: spec).map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
            for path in Set(before.keys).union(after.keys).sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                switch (before[path], after[path]) {
                case (nil, _?): out.append("\(prefix)\(path) added → \(id)")
                case (_?, nil): out.append("\(prefix)\(path) removed → \(id)")
                case let (b?, a?) where b != a: out.append("\(prefix)\(path) changed → \(id)")
                default: continue
                }
            }
        }
        if spec.stanzaDigest != baseSpec.stanzaDigest && !out.contains(where: { $0.hasPrefix(spec.definitionFile + " ") }) {
            out.append("\(spec.definitionFile): definition stanza changed → \(id)")
        }
        if spec.specDigest != baseSpec.specDigest && !out.contains(where: { $0.hasPrefix(spec.buildFile + " ") }) {
            let causes = changedInputs.map(\.sentence)
            if causes.isEmpty {
                out.append("rendered build spec changed → \(id)")
            } else {
                for cause in causes { out.append("\(cause) → rendered build spec changed → \(id)") }
            }
        }
        if spec.image != baseSpec.image {
            out.append("base image changed (\(baseSpec.image ?? "none") → \(spec.image ?? "none")) → \(id)")
        }
        return out
    }
}
