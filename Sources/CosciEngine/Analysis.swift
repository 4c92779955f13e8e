import CosciManifest
import CosciModel
import CosciPlanner
import Foundation

/// A loaded tree with its build graph and cache keys: what `list`, `explain`, `graph` and `check` show.
public struct Analysis: Sendable {
    public let project: Project
    public let tree: LoadedTree
    public let graph: BuildGraph
    public let keys: [PackageID: CacheKeyComponents]
    /// The upstream repositories read (none when cosci.yaml configures none).
    public var upstream: UpstreamIndex = .none
    /// Every problem: configuration warnings, loading, resolution. Sorted, without duplicates.
    public let diagnostics: [Diagnostic]

    /// The cache key of a package of the graph. Every package of `graph.order` is keyed (keys are computed
    /// over that order), so asking for another is a bug in the caller, stopped here with its name.
    public func key(_ id: PackageID) -> CacheKey {
        guard let k = keys[id] else { preconditionFailure("\(id) is not in the build graph: it has no cache key") }
        return k.key
    }

    /// Whether any diagnostic is an error.
    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    /// Loads the project's tree, resolves the graph and computes keys.
    public static func run(_ project: Project, timings: PhaseTimings? = nil, useMemo: Bool = true) -> Analysis {
        let memo = useMemo ? timings.measure("memo") { LoadMemo.read(from: project.loadMemoFile) } : LoadMemo()
        let known = useMemo ? BlobIDCache.read(from: project.blobIDFile) : BlobIDCache()
        let tree = timings.measure("load") { () -> LoadedTree in
            do throws(Diagnostic) {
                let snapshot = try WorkTreeSnapshot(projectRoot: project.root, trees: project.trees, known: known)
                let tree = TreeLoader.load(snapshot, options: project.loadOptions, memo: memo)
                if useMemo && (tree.hashed > 0 || known.count == 0) {
                    snapshot.blobIDs(from: tree).write(to: project.blobIDFile)
                }
                return tree
            } catch {
                return .failed(error, valuesFiles: project.valuesFiles)
            }
        }
        if useMemo && tree.reused < tree.memo.count {
            timings.measure("save") { tree.memo.write(to: project.loadMemoFile) }
        }
        // Upstream repositories, when the project names some: what the tree does not hold resolves there.
        var upstream = UpstreamIndex.none
        var upstreamDiagnostics: [Diagnostic] = []
        if !project.config.enabledRepositories.isEmpty {
            let read = timings.measure("upstream") { Result { () throws(Diagnostic) in try Upstream.read(project) } }
            switch read {
            case .success(let index): upstream = index
            case .failure(let error): upstreamDiagnostics.append(error)
            }
        }
        let (graph, graphDiagnostics) = timings.measure("graph") {
            BuildGraph.resolve(
                tree.packages, upstream: upstream.packages,
                repositories: project.config.searchedRepositories)
        }
        let keys = timings.measure("keys") { CacheKeys.compute(graph, platform: project.platform, images: project.lockedImages) }
        let all = Set(project.warnings + tree.diagnostics + upstreamDiagnostics + graphDiagnostics)
        var analysis = Analysis(project: project, tree: tree, graph: graph, keys: keys, diagnostics: all.sorted())
        analysis.upstream = upstream
        return analysis
    }

    /// Packages matching a reference, sorted; the error lists close matches.
    public func packages(matching text: String) throws(Diagnostic) -> [PackageID] {
        let ref: PackageReference
        do { ref = try PackageReference(parsing: text) } catch {
            throw Diagnostic(at: nil, error.description, hint: "for example: cos, system/cos or system/cos@0.6.0", kind: .usage)
        }
        let ids = tree.packages.map(\.id)
        let found = ids.filter { ref.matches($0) }
        if found.isEmpty {
            let sameName = ids.filter { $0.name == ref.name }
            let families = Set(ids.map(\.family))
            let wanted = ref.category.map { "\($0)/\(ref.name)" } ?? ref.name
            let near = Suggestions.closest(to: wanted, among: ref.category == nil ? Set(ids.map(\.name)) : families)
            let hint: String
            if !sameName.isEmpty {
                hint = "did you mean: \(sameName.map(\.description).joined(separator: ", "))"
            } else if !near.isEmpty {
                hint = "did you mean: \(near.joined(separator: ", "))?"
            } else {
                hint = "`cosci list` shows every package"
            }
            throw Diagnostic(at: nil, "no package matches \(ref)", hint: hint, kind: .usage)
        }
        if ref.category == nil, Set(found.map(\.category)).count > 1 {
            throw Diagnostic(
                at: nil, "\(ref.name) names packages in several categories: \(Set(found.map(\.family)).sorted().joined(separator: ", "))",
                hint: "name one: category/\(ref.name)", kind: .usage)
        }
        return found
    }
}

/// Wall-clock durations of named phases, for `--timings` (never part of canonical output).
public final class PhaseTimings: @unchecked Sendable {
    // @unchecked: only the command's own thread records phases; nothing else touches `phases`.
    public private(set) var phases: [(name: String, seconds: Double)] = []

    public init() {}

    func record<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        let clock = ContinuousClock()
        let start = clock.now
        defer {
            let d = clock.now - start
            phases.append((name, Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18))
        }
        return try body()
    }

    /// `phase  1.234 s` lines.
    public var report: String {
        phases.map { "\($0.name.padding(toLength: 8, withPad: " ", startingAt: 0)) \(String(format: "%.3f", $0.seconds)) s" }
            .joined(separator: "\n")
    }
}

extension Optional where Wrapped == PhaseTimings {
    func measure<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        guard let self else { return try body() }
        return try self.record(name, body)
    }
}
