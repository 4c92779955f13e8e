import CosciGit
import CosciManifest
import CosciModel
import CosciPlanner
import Foundation
import Synchronization

/// What `cosci affected` compares, as the user asked for it.
public struct AffectedOptions: Sendable {
    /// Base revision; nil means the merge-base of HEAD with the default branch.
    public var base: String?
    /// Head revision; nil means HEAD.
    public var head: String?
    /// Include uncommitted changes (the work tree) as the head side.
    public var dirty: Bool
    /// When the base cannot be found, treat every package as affected instead of failing.
    public var fallbackAll: Bool
    /// A shared cache to read saved summaries from and write them to (`cosci plan --cache docker://…`).
    public var summaries: RemoteCache?

    public init(base: String? = nil, head: String? = nil, dirty: Bool = false, fallbackAll: Bool = false) {
        self.base = base
        self.head = head
        self.dirty = dirty
        self.fallbackAll = fallbackAll
    }
}

/// The outcome of change detection, with the commits it compared and the shape of the clone.
public struct AffectedReport: Sendable {
    public let base: ObjectID?
    public let head: ObjectID
    public let mergeBase: ObjectID?
    /// Whether the head side is the work tree and it has uncommitted changes.
    public let dirty: Bool
    public let shallow: Bool
    public let detached: Bool
    /// Set when every package was treated as affected, and why.
    public let fallback: String?
    public let set: AffectedSet
    /// Problems found loading either side.
    public let diagnostics: [Diagnostic]
    /// What the comparison was made from (loaded trees, summaries), kept as long as the report: a command
    /// line that exits without teardown then does not spend its last tenth of a second freeing them.
    let sources: [any Sendable]
    /// How each side (head, then base) was had: for tests and measurements, not part of the report's document.
    let origins: [SideOrigin]
}

/// How a side of a comparison was had.
enum SideOrigin: Sendable, Equatable {
    /// Read back from a summary an earlier run saved.
    case saved
    /// Made from the base's summary and the diff, loading only the package directories the diff touches.
    case derived
    /// Loaded, parsed and keyed (reusing parsed directories from the load memo).
    case loaded
}

/// Change detection over git history: the affected set between two commits (or a commit and the work tree).
public enum ChangeDetection {
    /// Branches tried, in order, for the default base.
    public static let defaultBranches = ["origin/HEAD", "origin/main", "origin/master", "main", "master"]

    public static func affected(_ project: Project, _ options: AffectedOptions) throws(Diagnostic) -> AffectedReport {
        try compare(project, options, headTree: false).report
    }

    /// The affected set, with the head's summary: its graph and keys, read back or derived where possible
    /// (what a plan is made from).
    public static func affectedWithSummary(
        _ project: Project, _ options: AffectedOptions
    ) throws(Diagnostic) -> (AffectedReport, KeyedSummary) {
        let comparison = try compare(project, options, headTree: false)
        return (comparison.report, comparison.headSummary)
    }

    /// The affected set, with the head's graph and keys, loaded in full (what version bumps read).
    public static func affectedWithTree(
        _ project: Project, _ options: AffectedOptions
    ) throws(Diagnostic) -> (AffectedReport, BuildGraph, [PackageID: CacheKeyComponents]) {
        let comparison = try compare(project, options, headTree: true)
        guard let head = comparison.headTree else { throw Diagnostic(at: nil, "internal error: the head tree was not loaded") }
        return (comparison.report, head.graph, head.keys)
    }

    /// Compares the two sides. A commit's side comes from its saved summary when an earlier run made one
    /// (`SummaryStore`), else it is loaded (reusing parsed directories from the load memo) and summarised.
    /// With `headTree`, the head is loaded in full whatever is saved, and returned.
    static func compare(
        _ project: Project, _ options: AffectedOptions, headTree: Bool
    ) throws(Diagnostic) -> (report: AffectedReport, headTree: KeyedTree?, headSummary: KeyedSummary) {
        let repo: GitRepository
        do { repo = try GitRepository(discoveringFrom: project.root) } catch {
            throw Diagnostic(
                at: nil, "\(project.root) is not inside a git repository (\(error.message))",
                hint: "change detection reads git history: run it in a clone")
        }
        guard let workdir = repo.workdir else {
            throw Diagnostic(at: nil, "the repository has no working directory (bare)", hint: "run cosci in a clone")
        }
        let projectPrefix = project.root == workdir ? "" : String(project.root.dropFirst(workdir.count + 1)) + "/"
        let revisions = try Revisions.resolve(repo, options)
        let head = revisions.head, base = revisions.base

        // Each side: saved, or to be loaded.
        let store = SummaryStore(directory: project.summaryDirectory, remote: options.summaries)
        let headSource: Side.Source = options.dirty ? .workTree : .commit(head)
        let sources: [Side.Source] = [headSource] + (base.map { [.commit($0)] } ?? [])
        // Upstream repositories, per side as that side's cosci.lock pins them (unpinned: as they are now).
        var sideUpstreams = [UpstreamIndex](repeating: .none, count: sources.count)
        if !project.config.enabledRepositories.isEmpty {
            for (i, source) in sources.enumerated() {
                let lock: LockFile
                switch source {
                case .workTree: lock = project.lock
                case .commit(let commit): lock = lockFile(at: commit, repo, prefix: projectPrefix)
                }
                sideUpstreams[i] = try Upstream.read(project, locked: lock.repositories)
            }
        }
        let upstreams = sideUpstreams
        let ids: [Digest?] = sources.indices.map { i in
            guard case .commit(let commit) = sources[i] else { return nil }
            return summaryID(repo, commit: commit, project: project, prefix: projectPrefix, upstream: upstreams[i])
        }
        // Saved summaries are read on other threads while this one diffs the commits.
        let saved = Mutex([KeyedSummary?](repeating: nil, count: sources.count))
        let reads = DispatchGroup()
        for i in sources.indices where !(i == 0 && headTree) {
            guard let id = ids[i] else { continue }
            DispatchQueue.global().async(group: reads) {
                let summary = store.read(id, rendering: project.renderEnvironment)
                saved.withLock { $0[i] = summary }
            }
        }
        // Committed changes (base to head), then uncommitted ones when the head is the work tree.
        var committed: [ChangedPath] = []
        var local: [ChangedPath] = []
        var uncommitted = false
        if let base {
            do {
                committed = try repo.changes(from: base, to: head).compactMap { relative($0, projectPrefix) }
                if options.dirty {
                    let raw = try repo.workingTreeChanges()
                    uncommitted = !raw.isEmpty
                    local = raw.compactMap { relative($0, projectPrefix) }
                }
            } catch {
                throw Diagnostic(at: nil, "cannot diff \(base.short)..\(head.short): \(error)")
            }
        }
        let changes = committed + local
        reads.wait()
        var summaries = saved.withLock { $0 }
        var origins: [SideOrigin] = summaries.map { $0 == nil ? .loaded : .saved }
        // A new head commit next to a saved base: derived from the base and the diff when the change allows.
        if summaries.count == 2, summaries[0] == nil, !headTree, case .commit = headSource, let baseSummary = summaries[1],
            let derived = deriveSummary(
                from: baseSummary, changes: changes, at: .commit(head), repo: repo, project: project, workdir: workdir, prefix: projectPrefix)
        {
            summaries[0] = derived
            origins[0] = .derived
            if let id = ids[0] { store.write(derived, id: id) }
        }
        // A work tree head: made from the commit under it (saved, or derived from the base) and the uncommitted
        // changes, ignored files inside the tree included (a work tree load reads them too).
        if case .workTree = headSource, !headTree, summaries.count == 2, let baseSummary = summaries[1],
            let derived = deriveWorkTree(
                base: baseSummary, baseID: ids[1], committed: committed, local: local, head: head, store: store, repo: repo,
                project: project, workdir: workdir, prefix: projectPrefix)
        {
            summaries[0] = derived
            origins[0] = .derived
        }
        var loaded: [Side?] = Array(repeating: nil, count: sources.count)
        var kept: [any Sendable] = []
        let toLoad = sources.indices.filter { summaries[$0] == nil }
        if !toLoad.isEmpty {
            let savedMemo = LoadMemo.read(from: project.loadMemoFile)
            kept.append(savedMemo)
            let headIsCommit: Bool
            if case .commit = headSource { headIsCommit = true } else { headIsCommit = false }
            if toLoad.count == 2 && savedMemo.count > 0 && !headIsCommit {
                // A work tree head and a saved memo: the two sides load in parallel (each opens its own
                // repository handle). A commit head goes first instead, for the base may be derived from it.
                let sides = try parallelMap(2, width: 2) { i throws(Diagnostic) in
                    try Side.load(sources[i], project, workdir: workdir, prefix: projectPrefix, memo: savedMemo, upstream: upstreams[i])
                }
                for i in 0..<2 { loaded[i] = sides[i] }
            } else {
                // The base waits for the head: it is derived from the head's summary and the diff when the
                // change allows (as a new head is from a saved base), else loaded reusing what the head parsed.
                var memo = savedMemo
                for i in toLoad {
                    if i == 1, headIsCommit, let base,
                        let headSummary = summaries[0] ?? loaded[0].map({ KeyedSummary($0.keyed, diagnostics: $0.tree.diagnostics) })
                    {
                        summaries[0] = headSummary
                        if let derived = deriveSummary(
                            from: headSummary, changes: changes.map(\.reversed), at: .commit(base), repo: repo, project: project, workdir: workdir,
                            prefix: projectPrefix)
                        {
                            summaries[1] = derived
                            origins[1] = .derived
                            if let id = ids[1] { store.write(derived, id: id) }
                            continue
                        }
                    }
                    let side = try Side.load(sources[i], project, workdir: workdir, prefix: projectPrefix, memo: memo, upstream: upstreams[i])
                    memo = memo.merging(side.tree.memo)
                    loaded[i] = side
                }
            }
            let sides = loaded.compactMap { $0 }
            if sides.contains(where: { $0.tree.reused != $0.tree.memo.count }) {
                var memo = LoadMemo()
                for side in sides { memo = memo.merging(side.tree.memo) }
                memo.write(to: project.loadMemoFile)
                kept.append(memo)
            }
            for i in toLoad {
                guard let side = loaded[i] else { continue }
                let summary = summaries[i] ?? KeyedSummary(side.keyed, diagnostics: side.tree.diagnostics)
                summaries[i] = summary
                if let id = ids[i] { store.write(summary, id: id) }
            }
        }
        guard let headSummary = summaries[0] else { throw Diagnostic(at: nil, "internal error: the head side is missing") }

        var diagnostics = headSummary.diagnostics
        let baseSummary: KeyedSummary
        if base != nil, sources.count == 2, let summary = summaries[1] {
            diagnostics += summary.diagnostics.map { Diagnostic(.warning, at: $0.location, field: $0.field, "at base: \($0.message)", hint: $0.hint) }
            baseSummary = summary
        } else {
            let (graph, _) = BuildGraph.resolve([])
            baseSummary = KeyedSummary(KeyedTree(graph: graph, keys: [:], inputs: []), diagnostics: [])
        }
        let set = AffectedSet.compare(base: baseSummary, head: headSummary, changes: changes)
        let report = AffectedReport(
            base: base, head: head, mergeBase: revisions.mergeBase, dirty: uncommitted, shallow: repo.isShallow,
            detached: repo.isHeadDetached, fallback: revisions.fallback, set: set, diagnostics: diagnostics,
            sources: kept + [loaded, baseSummary, headSummary], origins: origins)
        return (report, loaded[0]?.keyed, headSummary)
    }

    /// The commits a comparison is between, as the options ask for them.
    struct Revisions {
        let head: ObjectID
        /// nil when the base could not be found and `--fallback all` was given.
        let base: ObjectID?
        let mergeBase: ObjectID?
        let fallback: String?

        static func resolve(_ repo: GitRepository, _ options: AffectedOptions) throws(Diagnostic) -> Revisions {
            let head: ObjectID
            do { head = try repo.commit(options.head ?? "HEAD") } catch {
                throw Diagnostic(
                    at: nil, "cannot resolve head revision \"\(options.head ?? "HEAD")\": \(error.message)",
                    hint: options.head == nil ? "make a first commit" : "check the revision, or `git fetch` it")
            }
            do {
                if let given = options.base {
                    let b: ObjectID
                    do { b = try repo.commit(given) } catch {
                        throw Diagnostic(
                            at: nil, "cannot resolve base revision \"\(given)\": \(error.message)",
                            hint: repo.isShallow
                                ? "this is a shallow clone: `git fetch --deepen=<n>` or `git fetch --unshallow`, or pass --fallback all"
                                : "fetch it (`git fetch origin \(given)`), or pass --fallback all")
                    }
                    // Informational: the comparison uses `b` itself.
                    return Revisions(head: head, base: b, mergeBase: try? repo.mergeBase(b, head), fallback: nil)
                }
                guard let branch = defaultBranches.first(where: repo.resolves) else {
                    throw Diagnostic(
                        at: nil, "no default branch to compare with (tried \(defaultBranches.joined(separator: ", ")))",
                        hint: "pass --base REV, or fetch the default branch (`git fetch origin main`)")
                }
                let tip = try repo.commit(branch)
                // In a shallow clone the walk can hit a missing parent before it finds an ancestor: same meaning.
                guard let mb = try ChangeDetection.mergeBase(repo, tip, head) else {
                    throw Diagnostic(
                        at: nil, "HEAD and \(branch) have no common ancestor in this clone",
                        hint: repo.isShallow
                            ? "this is a shallow clone whose history does not reach the merge-base: `git fetch --deepen=<n>` or `git fetch --unshallow`, or pass --fallback all"
                            : "pass --base REV")
                }
                return Revisions(head: head, base: mb, mergeBase: mb, fallback: nil)
            } catch let error as Diagnostic {
                guard options.fallbackAll else { throw error }
                return Revisions(
                    head: head, base: nil, mergeBase: nil,
                    fallback: "\(error.message); every package is treated as affected (--fallback all)")
            } catch {
                guard options.fallbackAll else { throw Diagnostic(at: nil, "\(error)") }
                return Revisions(
                    head: head, base: nil, mergeBase: nil, fallback: "\(error); every package is treated as affected (--fallback all)")
            }
        }
    }

    /// The summary of `commit` made from another commit's summary and the diff from that commit to this one:
    /// only the package directories the diff touches are loaded (from `commit`), and keys move only where
    /// those packages and their dependents are. nil (load it in full) when the change could reach further: a
    /// values file or shared template changed, a package directory appeared or went (a definition,
    /// collection or build spec added, removed or renamed), a package came, went or changed what it provides
    /// or requires, or either side has diagnostics.
    static func deriveSummary(
        from base: KeyedSummary, changes: [ChangedPath], at source: Side.Source, repo: GitRepository, project: Project, workdir: String,
        prefix: String
    ) -> KeyedSummary? {
        // A summary rendered at another epoch (or with other environment values) than now is not a base; one
        // that resolves against upstream repositories is loaded instead (records of upstream packages are not
        // re-resolved here).
        guard base.diagnostics.isEmpty, project.renderEnvironment.matches(base.renderInputs),
            project.config.enabledRepositories.isEmpty
        else { return nil }
        let values = Set(project.valuesFiles)
        var packageDirectories: Set<String> = []
        for p in 0..<base.count { packageDirectories.insert(base.path(at: p)) }
        guard !packageDirectories.contains(".") else { return nil }
        let treePrefixes = project.trees.map(TreePaths.prefix)
        var changed: Set<String> = []
        for change in changes {
            for path in [change.path] + (change.oldPath.map { [$0] } ?? []) {
                if base.inputs.contains(path) || values.contains(path) || TreePaths.isTemplate(path) { return nil }
                guard treePrefixes.contains(where: { path.hasPrefix($0) }) else { continue }
                if TreePaths.isPackageFile(path) && change.status != .modified { return nil }
                // The nearest enclosing package directory owns the file; a file no package owns changes no key.
                var dir = path
                while let slash = dir.lastIndex(of: "/") {
                    dir = String(dir[..<slash])
                    if packageDirectories.contains(dir) {
                        changed.insert(dir)
                        break
                    }
                }
            }
        }
        if changed.isEmpty { return base }
        let directories = changed.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let templates = base.inputs.filter { !values.contains($0) }.sorted()
        let tree: LoadedTree
        switch source {
        case .commit(let commit):
            do {
                let snapshot = try GitCommitSnapshot(
                    repositoryPath: workdir, repository: repo, commit: commit, projectPrefix: prefix, directories: directories,
                    files: templates, valuesFiles: project.valuesFiles)
                tree = TreeLoader.load(snapshot, options: project.loadOptions)
            } catch {
                return nil
            }
        case .workTree:
            let snapshot = WorkTreeSnapshot(projectRoot: project.root, directories: directories, files: templates)
            tree = TreeLoader.load(snapshot, options: project.loadOptions)
        }
        guard tree.diagnostics.isEmpty, Set(tree.templateFiles + tree.valuesFiles) == base.inputs else { return nil }
        return base.replacing(
            directories: changed, with: tree.packages, platform: project.platform, images: project.lockedImages, renderInputs: tree.inputs)
    }

    /// The work tree's summary: the commit under it (`head`: saved, or derived from the base and the committed
    /// changes, then saved), then the uncommitted changes, ignored files inside the tree included. nil when
    /// either step must load instead.
    static func deriveWorkTree(
        base: KeyedSummary, baseID: Digest?, committed: [ChangedPath], local: [ChangedPath], head: ObjectID, store: SummaryStore,
        repo: GitRepository, project: Project, workdir: String, prefix: String
    ) -> KeyedSummary? {
        let headID = summaryID(repo, commit: head, project: project, prefix: prefix)
        var under = headID == baseID ? base : headID.flatMap { store.read($0, rendering: project.renderEnvironment) }
        if under == nil {
            under = deriveSummary(
                from: base, changes: committed, at: .commit(head), repo: repo, project: project, workdir: workdir, prefix: prefix)
            if let under, let headID { store.write(under, id: headID) }
        }
        guard let under else { return nil }
        var ignored: [FileChange] = []
        for tree in project.trees {
            guard let found = try? repo.workingTreeChanges(includeIgnored: true, under: prefix + String(TreePaths.prefix(tree).dropLast()))
            else { return nil }
            ignored += found
        }
        return deriveSummary(
            from: under, changes: local + ignored.compactMap { relative($0, prefix) }, at: .workTree, repo: repo, project: project,
            workdir: workdir, prefix: prefix)
    }

    /// Names everything a commit's summary depends on: the tree's git id (its files, down to every byte
    /// and mode), the values files, the project settings that shape loading and keys, and the versions of
    /// the loader, the key scheme and cosci. nil when the tree is absent at the commit (nothing to save).
    static func summaryID(
        _ repo: GitRepository, commit: ObjectID, project: Project, prefix: String, upstream: UpstreamIndex = .none
    ) -> Digest? {
        var treeIDs: [(path: String, id: ObjectID)] = []
        for tree in project.trees {
            let path = prefix + String(TreePaths.prefix(tree).dropLast())
            guard let id = try? repo.treeID(at: commit, path: path) else { return nil }
            treeIDs.append((path, id))
        }
        var h = FramedHasher()
        h.add("cosci-summary-id/1")
        h.add("cosci", CosciVersion.text)
        h.add("loader", TreeLoader.formatTag)
        h.add("keys", CacheKeyComponents.scheme)
        h.add("summary", String(decoding: KeyedSummary.magic, as: UTF8.self))
        h.add("platform", project.platform.description)
        let images = project.lockedImages
        h.add("images", String(images.count))
        for (reference, digest) in images.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            h.add(reference, digest.description)
        }
        // The upstream indexes this side resolved against.
        h.add("upstream", String(upstream.repositories.count))
        for repository in upstream.repositories {
            h.add(repository.config.name, String(repository.config.priority) + " " + repository.indexDigest.description)
        }
        h.add("project", prefix)
        for tree in treeIDs {
            h.add("tree", tree.path)
            h.add("tree-id", tree.id.hex)
        }
        h.add("values", String(project.valuesFiles.count))
        for file in project.valuesFiles {
            let content: String
            if file.hasPrefix("/") {
                content = Digest.sha256(ofFile: file)?.description ?? "absent"
            } else {
                do { content = try repo.blobID(at: commit, path: prefix + file)?.hex ?? "absent" } catch { return nil }
            }
            h.add(file, content)
        }
        return h.finalize()
    }

    /// One side of a comparison, loaded and keyed.
    struct Side: Sendable {
        enum Source: Sendable {
            case workTree
            case commit(ObjectID)
        }

        let tree: LoadedTree
        let keyed: KeyedTree

        /// Loads a side; a commit is read through a repository handle of its own (handles are not shared).
        static func load(
            _ source: Source, _ project: Project, workdir: String, prefix: String, memo: LoadMemo, upstream: UpstreamIndex
        ) throws(Diagnostic) -> Side {
            let tree: LoadedTree
            switch source {
            case .workTree:
                let snapshot = try WorkTreeSnapshot(projectRoot: project.root, trees: project.trees)
                tree = TreeLoader.load(snapshot, options: project.loadOptions, memo: memo)
            case .commit(let id):
                do {
                    let repo = try GitRepository(discoveringFrom: workdir)
                    let snapshot = try GitCommitSnapshot(
                        repositoryPath: workdir, repository: repo, commit: id, projectPrefix: prefix, trees: project.trees,
                        valuesFiles: project.valuesFiles)
                    tree = TreeLoader.load(snapshot, options: project.loadOptions, memo: memo)
                } catch {
                    throw Diagnostic(at: nil, "cannot read commit \(id.short): \(error)")
                }
            }
            return Side(tree: tree, keyed: ChangeDetection.keyed(tree, project, upstream: upstream))
        }
    }

    /// The lock file as committed at `commit` (empty when there is none).
    static func lockFile(at commit: ObjectID, _ repo: GitRepository, prefix: String) -> LockFile {
        guard let blob = try? repo.blobID(at: commit, path: prefix + "cosci.lock"), let bytes = try? repo.blob(blob) else { return LockFile() }
        // A commit's lock file that cannot be read pins nothing there (history is not this run's input to fix).
        return (try? LockFile.parse(Data(bytes), file: "cosci.lock at \(commit.hex.prefix(12))")) ?? LockFile()
    }

    /// The merge-base, or nil when none is reachable (including a shallow history that ends first).
    static func mergeBase(_ repo: GitRepository, _ a: ObjectID, _ b: ObjectID) throws(GitError) -> ObjectID? {
        do {
            return try repo.mergeBase(a, b)
        } catch {
            if repo.isShallow { return nil }
            throw error
        }
    }

    static func keyed(_ tree: LoadedTree, _ project: Project, upstream: UpstreamIndex = .none) -> KeyedTree {
        let (graph, _) = BuildGraph.resolve(
            tree.packages, upstream: upstream.packages,
            repositories: project.config.searchedRepositories)
        let keys = CacheKeys.compute(graph, platform: project.platform, images: project.lockedImages)
        return KeyedTree(graph: graph, keys: keys, inputs: Set(tree.templateFiles + tree.valuesFiles), renderInputs: tree.inputs)
    }

    /// A repository change as a path relative to the project root; changes outside the project are dropped.
    static func relative(_ change: FileChange, _ prefix: String) -> ChangedPath? {
        func strip(_ p: String) -> String? {
            if prefix.isEmpty { return p }
            return p.hasPrefix(prefix) ? String(p.dropFirst(prefix.count)) : nil
        }
        guard let path = strip(change.newPath) ?? strip(change.oldPath) else { return nil }
        // An ignored file is, for a work tree load (which reads it), an untracked one.
        let status = change.status == .ignored ? .untracked : ChangedPath.Status(rawValue: change.status.rawValue) ?? .modified
        let old = change.oldPath != change.newPath ? strip(change.oldPath) : nil
        return ChangedPath(status: status, path: path, oldPath: old)
    }
}

extension ChangedPath {
    /// The same change seen from the other side: an addition is a deletion, a rename goes back.
    var reversed: ChangedPath {
        switch status {
        case .added: return ChangedPath(status: .deleted, path: path)
        case .deleted: return ChangedPath(status: .added, path: path)
        case .renamed: return ChangedPath(status: .renamed, path: oldPath ?? path, oldPath: path)
        default: return self
        }
    }
}

extension AffectedReport {
    /// The schema of `cosci affected --json`.
    public static let schema = "cosci.affected/v1"

    /// The canonical document: sorted keys, no timestamps; packages sorted by id.
    public func document(platform: Platform) -> Value {
        var clone: [String: Value] = ["shallow": .bool(shallow), "detached": .bool(detached)]
        clone["dirty"] = .bool(dirty)
        var doc: [String: Value] = [
            "schema": .string(AffectedReport.schema),
            "platform": .string(platform.description),
            "base": base.map { .string($0.hex) } ?? .null,
            "head": .string(head.hex),
            "mergeBase": mergeBase.map { .string($0.hex) } ?? .null,
            "dirty": .bool(dirty),
            "clone": .map(clone),
            "affected": .list(
                set.affected.map { a in
                    .map([
                        "id": .string(a.id.description), "key": .string(a.key.description),
                        "baseKey": a.baseKey.map { .string($0.description) } ?? .null, "new": .bool(a.isNew),
                        "reasons": .list(a.reasons.map(Value.string)),
                    ])
                }),
            "removed": .list(set.removed.map { .map(["id": .string($0.id.description), "key": .string($0.key.description)]) }),
            "counts": .map([
                "affected": .int(set.affected.count), "new": .int(set.affected.filter(\.isNew).count),
                "removed": .int(set.removed.count), "unchanged": .int(set.unchanged),
            ]),
        ]
        if let fallback { doc["fallback"] = .string(fallback) }
        return .map(doc)
    }

    /// Human-readable: the comparison, then each affected package with its reason chains.
    public var text: String {
        var out = "base  \(base?.short ?? "(none)")"
        if let mergeBase, mergeBase == base { out += "  (merge-base)" }
        out += "\nhead  \(head.short)\(dirty ? " + uncommitted changes" : "")\n"
        if let fallback { out += "fallback: \(fallback)\n" }
        let newCount = set.affected.filter(\.isNew).count
        out += "\(set.affected.count) affected (\(newCount) new), \(set.removed.count) removed, \(set.unchanged) unchanged\n"
        for a in set.affected {
            out += "\n  \(a.id)\(a.isNew ? "  [new]" : "")\n"
            for r in a.reasons { out += "      \(r)\n" }
        }
        if !set.removed.isEmpty {
            out += "\nremoved\n"
            for r in set.removed { out += "  \(r.id)\n" }
        }
        return out
    }
}

extension AffectedReport {
    /// A Markdown summary for `$GITHUB_STEP_SUMMARY`.
    public var markdown: String {
        var out = "## cosci affected\n\n"
        out += "base `\(base?.short ?? "none")` → head `\(head.short)`\(dirty ? " (with uncommitted changes)" : "")\n\n"
        if let fallback { out += "> **Fallback:** \(fallback)\n\n" }
        let newCount = set.affected.filter(\.isNew).count
        out += "**\(set.affected.count)** affected (\(newCount) new), **\(set.removed.count)** removed, \(set.unchanged) unchanged.\n\n"
        if !set.affected.isEmpty {
            out += "| package | why |\n|---|---|\n"
            for a in set.affected {
                out += "| `\(a.id)`\(a.isNew ? " (new)" : "") | \((a.reasons.first ?? "").replacingOccurrences(of: "|", with: "\\|")) |\n"
            }
        }
        if !set.removed.isEmpty {
            out += "\nRemoved: \(set.removed.map { "`\($0.id)`" }.joined(separator: ", "))\n"
        }
        return out
    }
}
