#if canImport(Glibc)
    import Glibc
#endif
import CosciArchive
import CosciBuild
import CosciFiles
import CosciGit
import CosciManifest
import CosciModel
import CosciPlanner
import CosciRegistry
import CosciRepository
import Foundation

/// What `cosci build` (and the build phase of `cosci run`) was asked.
public struct BuildOptions: Sendable {
    /// Package references to build (with their missing dependencies); empty means the plan's selection.
    public var packages: [String] = []
    /// Build every package of the tree.
    public var all = false
    /// A plan written by `cosci plan` (JSON); with `shard`, only that shard's packages.
    public var planFile: String?
    /// `i/N`, 0-based: this process builds shard i of N.
    public var shard: (index: Int, count: Int)?
    /// Parallel builds (default: the number of cores).
    public var jobs: Int?
    public var backend: BackendChoice = .auto
    /// Build everything that does not depend on a failure, instead of stopping at the first one.
    public var keepGoing = false
    public var compression: Compression = .zstd
    /// `SOURCE_DATE_EPOCH` (default: the environment's, else the head commit's time).
    public var sourceDateEpoch: Int64?
    /// Let every build use the network (a package may also allow it with the label `cosci.io/network: "true"`).
    public var network = false
    /// Build even when the cache has the key, and do not store the result (`verify --rebuild`).
    public var rebuild = false
    /// Change detection when neither packages, `all` nor a plan is given.
    public var changes = AffectedOptions()
    /// How long a shard waits for a dependency that another shard builds.
    public var waitTimeout: Double = 3600
    /// A shared cache (`docker://HOST/REPO` or `oci:PATH`) consulted after the local one and written after each build.
    public var remoteCache: String?
    public var registry = RegistryAccess()

    public init() {}
}

/// What happened to one package. What each result carries is what it has: a built package has its artifact,
/// log, time and backend; a cached one its artifact; a failed one its failure; a skipped one why.
public struct PackageOutcome: Sendable {
    /// An artifact and where its file is (in the cache, or the work directory for `rebuild`).
    public struct Artifact: Sendable {
        public let metadata: ArtifactMetadata
        public let path: String
    }

    /// Why a package failed, with its log when it got as far as having one.
    public struct Failure: Sendable {
        public let message: String
        public let kind: BuildFailure.Kind
        public let log: String?
        /// The last lines of the log.
        public let logTail: [String]
        public let seconds: Double
    }

    public enum Result: Sendable {
        /// Built in this run, by `backend`, in `seconds`.
        case built(Artifact, log: String, seconds: Double, backend: String)
        /// The cache already had its key (or another process or shard built it meanwhile).
        case cached(Artifact)
        case failed(Failure)
        /// Not built: a dependency failed, or fail-fast stopped the run.
        case skipped(why: String)
    }

    /// The result's name, as reports write it.
    public enum Status: String, Sendable {
        case built, cached, failed, skipped
    }

    public let id: PackageID
    public let key: CacheKey
    /// Why the package was selected (the reason chain).
    public let reasons: [String]
    public let result: Result

    public init(id: PackageID, key: CacheKey, reasons: [String], result: Result) {
        self.id = id
        self.key = key
        self.reasons = reasons
        self.result = result
    }

    public var status: Status {
        switch result {
        case .built: .built
        case .cached: .cached
        case .failed: .failed
        case .skipped: .skipped
        }
    }

    /// The artifact, built or cached.
    public var built: Artifact? {
        switch result {
        case .built(let a, _, _, _), .cached(let a): a
        case .failed, .skipped: nil
        }
    }

    /// The artifact's metadata (built or cached).
    public var artifact: ArtifactMetadata? { built?.metadata }
    /// Where the artifact file is.
    public var artifactPath: String? { built?.path }

    /// The failure, or why it was skipped.
    public var message: String? {
        switch result {
        case .failed(let f): f.message
        case .skipped(let why): why
        case .built, .cached: nil
        }
    }

    /// The package's log (built, or failed once it had one).
    public var log: String? {
        switch result {
        case .built(_, let log, _, _): log
        case .failed(let f): f.log
        case .cached, .skipped: nil
        }
    }

    /// Wall-clock seconds of the build (0 when not built).
    public var seconds: Double {
        switch result {
        case .built(_, _, let s, _): s
        case .failed(let f): f.seconds
        case .cached, .skipped: 0
        }
    }

    /// The backend that built it.
    public var backend: String? {
        if case .built(_, _, _, let b) = result { return b }
        return nil
    }
}

/// The outcome of a build.
public struct BuildResult: Sendable {
    public let analysis: Analysis
    /// Every package the build was about, sorted by id.
    public let outcomes: [PackageOutcome]
    /// The backend used (nil when nothing had to be built).
    public let backend: String?
    public let sourceDateEpoch: Int64
    /// The head commit, when the tree is in a git repository.
    public let head: String?

    public var failed: [PackageOutcome] { outcomes.filter { $0.status == .failed } }
    public var built: [PackageOutcome] { outcomes.filter { $0.status == .built } }

    /// Whether every package the build was about is there: none failed, none skipped.
    public var succeeded: Bool { outcomes.allSatisfy { $0.status == .built || $0.status == .cached } }
}

/// Receives build events (progress views implement it).
public protocol BuildObserver: Sendable {
    func planned(total: Int, toBuild: Int, backend: String?)
    func started(_ id: PackageID, counts: (done: Int, running: Int, queued: Int, failed: Int))
    func finished(_ outcome: PackageOutcome, counts: (done: Int, running: Int, queued: Int, failed: Int))
    func waiting(for id: PackageID)
}

/// Builds packages: selection, the missing dependencies, the worker pool, artifacts into the cache.
public enum Building {
    /// Selects, builds and stores. Failures of packages are outcomes, not errors; errors are for problems that
    /// stop everything (the tree, the plan, the backend, the cache).
    public static func build(
        _ project: Project, _ options: BuildOptions, observer: (any BuildObserver)? = nil
    ) async throws(Diagnostic) -> BuildResult {
        let analysis = try resolvingImages(Analysis.run(project, useMemo: false), options)
        // The project as analysed: with the lock file resolving images may have just written.
        let project = analysis.project
        // An environment failure (an unreachable repository) first: the tree errors that follow come from it.
        let errors = analysis.diagnostics.filter { $0.severity == .error }
        if let first = errors.first(where: { $0.kind == .environment }) ?? errors.first {
            throw Diagnostic(
                at: first.location, field: first.field, first.message,
                hint: errors.count > 1 ? "and \(errors.count - 1) more error(s); `cosci check` lists them all" : first.hint, kind: first.kind)
        }
        let artifacts = try ArtifactCache(project, shared: options.remoteCache, access: options.registry)
        let cache = artifacts.local
        let buildLock: FileLock
        do { buildLock = try cache.buildLock() } catch { throw Diagnostic(at: nil, error.description) }
        defer { withExtendedLifetime(buildLock) {} }
        var (targets, reasons, awaited) = try select(project, analysis, options, cache: cache)
        let targetSet = Set(targets)
        let graph = analysis.graph
        // Every cached artifact this run would use is verified first: a damaged one is removed, so it is built.
        var damaged: [PackageID: String] = [:]
        func present(_ id: PackageID) -> Bool {
            cache.containsVerified(analysis.key(id)) { damaged[id] = $0 }
        }
        for id in targets { _ = present(id) }
        // The targets and every dependency whose artifact is missing (built here unless another shard builds it).
        var needed = Set<PackageID>()
        var stack = targets
        while let id = stack.popLast() {
            guard needed.insert(id).inserted else { continue }
            for d in graph.dependencies(of: id) where !needed.contains(d) && !awaited.contains(d) {
                if !present(d) { stack.append(d) }
            }
        }
        for (id, why) in damaged { reasons[id] = [why] }
        // What the shared tier has comes down into the local one instead of being built.
        // Transfers block (libcurl): they run on a thread of their own, off the cooperative pool.
        let wanted = graph.order.filter { id in
            needed.contains(id) && !(options.rebuild && targetSet.contains(id))
                && !cache.contains(analysis.key(id)) && artifacts.contains(analysis.key(id))
        }
        let fetched = Set(wanted)
        if !wanted.isEmpty {
            let keys = wanted.map(analysis.key)
            try await offPool { () throws(Diagnostic) in
                for key in keys {
                    do throws(CacheError) { try artifacts.ensureLocal(key) } catch {
                        throw Diagnostic(at: nil, error.description, hint: "check the remote cache, or build without --cache docker://…")
                    }
                }
            }
        }
        let toBuild = graph.order.filter {
            needed.contains($0) && (options.rebuild && targetSet.contains($0) || !cache.contains(analysis.key($0)))
        }
        // Upstream packages the builds stand on (sysroots, final images, copies) come into the local cache,
        // verified, under their keys: from then on they are used exactly as built artifacts.
        let upstreamPackages = upstreamNeeded(by: toBuild, graph)
        if !upstreamPackages.isEmpty {
            let upstream = analysis.upstream, access = options.registry
            try await offPool { () throws(Diagnostic) in
                for package in upstreamPackages {
                    try Upstream.fetch(package, from: upstream, into: cache, project: project, access: access)
                }
            }
        }

        // Builds create files with the modes their steps ask for, whatever the caller's umask.
        umask(0o022)
        let epoch = sourceDateEpoch(project, options)
        let head = headCommit(project)
        var backends: [any BuildBackend] = []
        if !toBuild.isEmpty {
            do {
                backends = try Backends.available(options.backend).map { configured($0, epoch: epoch, cache: cache) }
            } catch {
                throw Diagnostic(at: nil, error.message, hint: "install bubblewrap (host-sandbox, rootfs) or podman and runc, or pass --backend")
            }
        }
        observer?.planned(total: needed.count, toBuild: toBuild.count, backend: backends.first?.name)

        let output = project.outputDirectory
        let logs = output + "/logs"
        try? FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        let work = (cache.root as NSString).deletingLastPathComponent + "/work"
        // Work directories of builds whose process is gone (killed, or stopped by a full disk) can be large.
        Leftovers.sweep(work, owner: Leftovers.trailingOwner)
        let context = JobContext(
            project: project, analysis: analysis, cache: cache, backends: backends,
            puller: ImagePuller(cacheRoot: project.cacheRoot, access: options.registry, platform: project.platform),
            locked: project.lockedImages, epoch: epoch, compression: options.compression,
            logs: logs, work: work, network: options.network, rebuild: options.rebuild, reasons: reasons, artifacts: artifacts)

        // Dependencies of this shard that another shard builds are awaited in the cache, as part of the schedule:
        // this shard builds what it can meanwhile (waiting for all of them first could deadlock two shards).
        let awaitedNeeded = graph.order.filter { id in
            awaited.contains(id) && !cache.contains(analysis.key(id))
                && needed.contains { graph.dependencies(of: $0).contains(id) }
        }
        let waits = Set(awaitedNeeded)
        // Another shard's packages reach this one only through a shared cache: a registry (`--cache
        // docker://…`), or a cache directory every shard mounts (named with --cache, COSCI_CACHE or cosci.yaml).
        // With neither, waiting could only time out: say so at once.
        let cacheShared = project.settings.first { $0.name == "cache" }.map { $0.source != .default } ?? false
        if !awaitedNeeded.isEmpty && artifacts.shared == nil && !cacheShared {
            let names = awaitedNeeded.prefix(3).map(\.description).joined(separator: ", ") + (awaitedNeeded.count > 3 ? ", …" : "")
            throw Diagnostic(
                at: nil,
                "this shard builds on \(awaitedNeeded.count) package(s) that other shards build (\(names)), but has no shared cache to receive them",
                hint: "give every shard the same --cache docker://HOST/REPO (a registry), or --cache DIR on a volume they all mount",
                kind: .usage)
        }

        var outcomes: [PackageID: PackageOutcome] = [:]
        for id in needed where !toBuild.contains(id) {
            let key = analysis.key(id)
            let found = try? cache.artifact(for: key)
            if found != nil { cache.touch(key) }
            let why = (reasons[id] ?? []) + (fetched.contains(id) ? ["fetched from the remote cache \(artifacts.shared?.store.name ?? "")"] : [])
            outcomes[id] = PackageOutcome(
                id: id, key: key, reasons: why,
                result: found.map { .cached(.init(metadata: $0.metadata, path: $0.path)) }
                    ?? .failed(.init(
                        message: "\(id): the cached artifact of key \(key) went away during the run (another `cosci cache gc`?); run again",
                        kind: .environment, log: nil, logTail: [], seconds: 0)))
        }

        let scheduled = graph.order.filter { toBuild.contains($0) || waits.contains($0) }
        let dependencies = Dictionary(uniqueKeysWithValues: scheduled.map { ($0, graph.dependencies(of: $0)) })
        let priority = criticalPath(scheduled, graph: graph)
        var scheduler = BuildScheduler(
            packages: scheduled, dependencies: dependencies, priority: priority, keepGoing: options.keepGoing)
        let width = max(1, options.jobs ?? ProcessInfo.processInfo.activeProcessorCount)
        let timeout = options.waitTimeout
        await withTaskGroup(of: (PackageOutcome, Bool).self) { group in
            var running = 0
            func start(_ group: inout TaskGroup<(PackageOutcome, Bool)>) {
                while let id = scheduler.next(where: waits.contains) {
                    observer?.waiting(for: id)
                    let key = analysis.key(id)
                    let why = reasons[id] ?? []
                    group.addTask {
                        let arrived = await artifacts.waitFor(key, timeout: timeout)
                        let found = arrived ? try? cache.artifact(for: key) : nil
                        let missing = PackageOutcome.Failure(
                            message: "\(id) (key \(key)) is built by another shard and did not arrive within \(Int(timeout)) s (check that shard's job; --wait-timeout sets how long to wait)",
                            kind: .environment, log: nil, logTail: [], seconds: 0)
                        return (PackageOutcome(
                            id: id, key: key, reasons: why,
                            result: found.map { .cached(.init(metadata: $0.metadata, path: $0.path)) } ?? .failed(missing)), true)
                    }
                }
                while running < width, let id = scheduler.next(where: { !waits.contains($0) }) {
                    running += 1
                    observer?.started(id, counts: scheduler.counts)
                    group.addTask { (await onThread { buildOne(id, context) }, false) }
                }
            }
            start(&group)
            while let (outcome, wasWait) = await group.next() {
                if !wasWait { running -= 1 }
                scheduler.finish(outcome.id, success: outcome.status != .failed)
                outcomes[outcome.id] = outcome
                if !wasWait || outcome.status == .failed { observer?.finished(outcome, counts: scheduler.counts) }
                start(&group)
            }
        }
        for (id, state) in scheduler.states {
            if case .skipped(let why) = state {
                outcomes[id] = PackageOutcome(id: id, key: analysis.key(id), reasons: [why], result: .skipped(why: why))
            }
        }
        let sorted = outcomes.values.sorted { $0.id < $1.id }
        let used = Set(sorted.compactMap(\.backend)).sorted()
        return BuildResult(
            analysis: analysis, outcomes: sorted, backend: used.isEmpty ? nil : used.joined(separator: ", "), sourceDateEpoch: epoch,
            head: head)
    }

    /// Base images not pinned by `cosci.lock` are resolved to their digests now and added to the lock file (as
    /// a first `cargo build` writes Cargo.lock; commit it), so keys hash `image@digest` here and in every later
    /// command. An image that cannot be resolved stays unpinned (keyed by its reference), with a warning.
    static func resolvingImages(_ analysis: Analysis, _ options: BuildOptions) throws(Diagnostic) -> Analysis {
        let project = analysis.project
        let locked = project.lockedImages
        let unpinned = Set(analysis.tree.packages.compactMap { $0.build.image }.filter { !$0.isEmpty && locked[$0] == nil })
        // host-sandbox never uses a base image: nothing to resolve for it.
        guard !unpinned.isEmpty, !analysis.hasErrors, options.backend != .hostSandbox else { return analysis }
        var access = options.registry
        access.attempts = min(access.attempts, 3)
        let puller = ImagePuller(cacheRoot: project.cacheRoot, access: access, platform: project.platform)
        var images = locked
        for image in unpinned.sorted() {
            do {
                images[image] = try puller.resolve(try ImageReference(parsing: image))
            } catch {
                FileHandle.standardError.write(Data("cosci: warning: cannot resolve the base image \(image) (\(error.message)); its packages are keyed by the reference as written\n".utf8))
            }
        }
        guard images.count > locked.count else { return analysis }
        let lock = try Locking.write(images, to: project.lockFile)
        FileHandle.standardError.write(Data("cosci: pinned \(images.count - locked.count) base image(s) in \(project.lockFile) (commit it)\n".utf8))
        let keys = CacheKeys.compute(analysis.graph, platform: project.platform, images: images)
        return Analysis(
            project: project.with(lock: lock), tree: analysis.tree, graph: analysis.graph, keys: keys, diagnostics: analysis.diagnostics)
    }

    /// Everything a build job reads, shared by the workers.
    struct JobContext: Sendable {
        let project: Project
        let analysis: Analysis
        let cache: LocalCache
        let backends: [any BuildBackend]
        let puller: ImagePuller
        let locked: [String: Digest]
        let epoch: Int64
        let compression: Compression
        let logs: String
        let work: String
        let network: Bool
        let rebuild: Bool
        let reasons: [PackageID: [String]]
        /// The tiers: the local cache, and the shared one builds push to.
        let artifacts: ArtifactCache
    }

    /// Builds one package on the calling (worker) thread and stores it in the cache.
    static func buildOne(_ id: PackageID, _ c: JobContext) -> PackageOutcome {
        let clock = ContinuousClock()
        let start = clock.now
        let key = c.analysis.key(id)
        let spec = c.analysis.graph.packages[id]!
        let logPath = "\(c.logs)/\(id.fingerprint).log"
        func seconds() -> Double {
            let d = clock.now - start
            return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        func outcome(_ result: PackageOutcome.Result) -> PackageOutcome {
            PackageOutcome(id: id, key: key, reasons: c.reasons[id] ?? [], result: result)
        }
        func failed(_ failure: BuildFailure, log: LogFile? = nil) -> PackageOutcome {
            outcome(.failed(.init(
                message: failure.message, kind: failure.kind, log: log?.path, logTail: log?.tail(30) ?? [], seconds: seconds())))
        }
        let log: LogFile
        do { log = try LogFile(path: logPath) } catch { return failed(error) }
        guard !c.backends.isEmpty else {
            return failed(BuildFailure(.environment, "no backend"), log: log)
        }
        // Building reads the package's documents (its artifact metadata holds them); a package restored from
        // the load memo has only their digests.
        guard let documents = spec.documents else {
            return failed(BuildFailure(.environment, "\(id): restored from the load memo without its documents (a cosci bug: builds load the tree without the memo)"), log: log)
        }
        // Another process may be building the same key: wait for it, then take its artifact.
        let lock: FileLock?
        if c.rebuild {
            lock = nil
        } else {
            do { lock = try c.cache.lock(key) } catch {
                return failed(BuildFailure(.environment, error.description), log: log)
            }
            if let found = try? c.cache.artifact(for: key) {
                log.note("\(id): built meanwhile by another cosci process; taken from the cache")
                return outcome(.cached(.init(metadata: found.metadata, path: found.path)))
            }
        }
        defer { withExtendedLifetime(lock) {} }

        let work = "\(c.work)/\(id.fingerprint)-\(key.hex.prefix(12))-\(getpid())"
        try? FileManager.default.removeItem(atPath: work)
        defer { try? FileManager.default.removeItem(atPath: work) }
        do throws(BuildFailure) {
            var job = try makeJob(id, spec: spec, documents: documents, key: key, c, work: work)
            // The first backend that supports the package (with `auto`, several are candidates).
            var reasons: [String] = []
            var chosen: (any BuildBackend)?
            for b in c.backends {
                if let why = b.unsupportedReason(job) { reasons.append(b.name + ": " + why) } else { chosen = b; break }
            }
            guard let backend = chosen else {
                throw BuildFailure(.unsupported, "\(id) cannot build with \(reasons.joined(separator: "; "))")
            }
            if backend is Rootfs, let image = job.baseImage {
                log.note("pull \(image)")
                do {
                    let reference = try ImageReference(parsing: image)
                    let (digest, layers) = try c.puller.layers(reference, digest: c.locked[image])
                    log.note("\(image) is \(digest)\(c.locked[image] == nil ? " (not pinned: run `cosci lock`)" : "")")
                    job = job.with(baseLayers: layers)
                } catch {
                    throw BuildFailure(.environment, "\(id): \(error.description)")
                }
            }
            log.note("build \(id) with \(backend.name), key \(key)")
            let output = try backend.build(job, log: log)
            let filter = try ArtifactFilter(spec.build, package: id)
            let fileName = ArtifactMetadata.fileName(id, c.compression)
            let artifactPath = work + "/" + fileName
            let changed = output.changed
            let packed: PackResult
            do {
                packed = try TarArchive.pack(
                    directory: output.root, to: artifactPath,
                    options: PackOptions(compression: c.compression, sourceDateEpoch: c.epoch, ownerOffset: output.ownerOffset)
                ) { path, isDirectory in
                    guard filter.keeps(path) else { return false }
                    guard let changed else { return true }
                    return changed.contains(path)
                }
            } catch {
                throw BuildFailure(.environment, "\(id): cannot write the artifact: \(error)")
            }
            let metadata = ArtifactMetadata(
                id: id, path: fileName, key: key, sha256: packed.sha256, size: packed.size, compression: c.compression,
                files: ArtifactMetadata.fileList(packed.entries, hidden: documents.stanza["hidden"] == .bool(true)),
                spec: documents.build, runtime: documents.stanza,
                platform: c.project.platform, sourceDateEpoch: c.epoch)
            log.note("artifact \(fileName): \(packed.entries.count) entries, \(packed.size) bytes, \(packed.sha256)")
            if c.rebuild {
                let keep = "\(c.work)/rebuilt/\(key.hex)"
                try? FileManager.default.removeItem(atPath: keep)
                try? FileManager.default.createDirectory(atPath: keep, withIntermediateDirectories: true)
                _ = rename(artifactPath, keep + "/" + fileName)
                return outcome(.built(.init(metadata: metadata, path: keep + "/" + fileName), log: log.path, seconds: seconds(), backend: backend.name))
            }
            if let shared = c.artifacts.shared { log.note("store, and push to the remote cache \(shared.store.name)") }
            do { try c.artifacts.store(key, artifact: artifactPath, metadata: metadata) } catch {
                throw BuildFailure(.environment, "\(id): \(error.description)")
            }
            return outcome(.built(
                .init(metadata: metadata, path: c.cache.directory(for: key) + "/" + fileName), log: log.path, seconds: seconds(),
                backend: backend.name))
        } catch {
            log.note("FAILED: \(error.message)")
            return failed(error, log: log)
        }
    }

    /// The job of a package: its files, its dependencies' artifacts (the sysroot), its copies.
    static func makeJob(
        _ id: PackageID, spec: PackageSpec, documents: PackageSpec.Documents, key: CacheKey, _ c: JobContext, work: String
    ) throws(BuildFailure) -> BuildJob {
        let graph = c.analysis.graph
        // Sysroot: the transitive closure of requires (and final-image) dependencies, dependencies first.
        var closure = Set<PackageID>()
        var stack = [id]
        while let p = stack.popLast() {
            for r in graph.resolutions[p] ?? [] where r.kind != .copy && closure.insert(r.chosen).inserted {
                if r.upstream == nil { stack.append(r.chosen) }
            }
        }
        var artifacts: [String] = []
        // Upstream packages first (they are what the tree builds on), then the tree's, dependencies first.
        for dep in closure.filter({ graph.upstream[$0] != nil }).sorted() {
            artifacts.append(try artifactFile(dep, c))
        }
        for dep in graph.order where closure.contains(dep) {
            artifacts.append(try artifactFile(dep, c))
        }
        var copies: [ResolvedCopy] = []
        let copyResolutions = (graph.resolutions[id] ?? []).filter { $0.kind == .copy }
        for copy in spec.build.copy {
            guard let req = copy.package else { continue }
            guard let r = copyResolutions.first(where: { $0.requirement == req }) else {
                throw BuildFailure(.spec, "\(id): copy: \(req) is not resolved")
            }
            copies.append(
                ResolvedCopy(package: r.chosen, artifact: try artifactFile(r.chosen, c), source: copy.source, destination: copy.destination))
        }
        let network = c.network || documents.stanza["labels"]?["cosci.io/network"]?.scalarText == "true"
        return BuildJob(
            id: id, key: key, spec: spec.build, packageDirectory: c.project.root + "/" + spec.path,
            files: spec.content.map(\.path), dependencyArtifacts: artifacts, copies: copies, network: network,
            workDirectory: work, baseImage: inheritedImage(id, graph))
    }

    /// The nearest build dependency's `image:` (breadth-first over requires), for a spec without one.
    static func inheritedImage(_ id: PackageID, _ graph: BuildGraph) -> String? {
        var queue = [id]
        var seen: Set<PackageID> = [id]
        while !queue.isEmpty {
            let p = queue.removeFirst()
            if p != id, let image = graph.packages[p]?.build.image, !image.isEmpty { return image }
            for r in graph.resolutions[p] ?? [] where r.kind != .copy && seen.insert(r.chosen).inserted {
                queue.append(r.chosen)
            }
        }
        return nil
    }

    /// The upstream packages whose artifacts building `ids` reads: the sysroot closure of each (requires and
    /// final images, through tree dependencies too) and their copies.
    static func upstreamNeeded(by ids: [PackageID], _ graph: BuildGraph) -> [UpstreamPackage] {
        var found: [PackageID: UpstreamPackage] = [:]
        var seen = Set<PackageID>()
        var stack = ids
        while let p = stack.popLast() {
            for r in graph.resolutions[p] ?? [] {
                if let u = r.upstream { found[u.id] = u }
                if r.kind != .copy, r.upstream == nil, seen.insert(r.chosen).inserted { stack.append(r.chosen) }
            }
        }
        return found.values.sorted { $0.id < $1.id }
    }

    static func artifactFile(_ id: PackageID, _ c: JobContext) throws(BuildFailure) -> String {
        guard let key = c.analysis.keys[id]?.key ?? c.analysis.graph.upstream[id].map(CacheKeys.upstreamKey) else {
            throw BuildFailure(.environment, "internal error: \(id) has no key")
        }
        // A dependency of a dependency that another shard built may be in the shared tier only.
        let found: (path: String, metadata: ArtifactMetadata)?
        do { found = try c.artifacts.artifact(for: key) } catch {
            throw BuildFailure(.environment, "the artifact of the dependency \(id) cannot be had from the cache: \(error.description)")
        }
        guard let found else {
            throw BuildFailure(.environment, "the artifact of the dependency \(id) (key \(key)) is not in the cache")
        }
        return found.path
    }

    /// Runs blocking work that may fail on a thread of its own, off the cooperative pool.
    static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws(Diagnostic) -> T) async throws(Diagnostic) -> T {
        try await onThread { Result { () throws(Diagnostic) -> T in try body() } }.get()
    }

    /// Runs blocking work on a thread of its own, off the cooperative pool.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: body()) }
        }
    }

    /// Longest path (in packages) from each package to the end of the build: what to start first.
    static func criticalPath(_ packages: [PackageID], graph: BuildGraph) -> [PackageID: Double] {
        let set = Set(packages)
        let dependents = graph.dependents()
        var out: [PackageID: Double] = [:]
        for id in packages.reversed() {
            out[id] = 1 + ((dependents[id] ?? []).filter(set.contains).compactMap { out[$0] }.max() ?? 0)
        }
        return out
    }

    /// Gives the backend the run's epoch and a state directory.
    static func configured(_ backend: any BuildBackend, epoch: Int64, cache: LocalCache) -> any BuildBackend {
        if var b = backend as? HostSandbox {
            b.sourceDateEpoch = epoch
            return b
        }
        if var b = backend as? Rootfs {
            b.sourceDateEpoch = epoch
            return b
        }
        if var b = backend as? Podman {
            b.sourceDateEpoch = epoch
            b.stateDirectory = (cache.root as NSString).deletingLastPathComponent + "/podman"
            return b
        }
        return backend
    }

    static func headCommit(_ project: Project) -> String? { project.checkout?.head }

    /// `SOURCE_DATE_EPOCH`: the option, else the project's (`Project.sourceDateEpoch`).
    static func sourceDateEpoch(_ project: Project, _ options: BuildOptions) -> Int64 {
        options.sourceDateEpoch ?? project.sourceDateEpoch
    }
}
