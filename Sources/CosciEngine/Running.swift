#if canImport(Glibc)
    import Glibc
#endif
import CosciArchive
import CosciBuild
import CosciFiles
import CosciManifest
import CosciModel
import CosciYAML
import CosciRepository
import Foundation

/// What `cosci run` was asked: a build of every package missing from the cache, then the repository and the
/// reports under the output directory.
public struct RunOptions: Sendable {
    public var build = BuildOptions()
    /// `repository.yaml` name and description.
    public var repositoryName = "cosci"
    public var repositoryDescription = "Packages built by cosci"
    /// Snapshot id (default: the head commit).
    public var snapshot: String?
    /// Assemble the OS images of the image specs after the repository (with their ISOs when `iso`).
    public var images = true
    public var iso = false
    /// And the A/B raw disks of specs with a `disk:` section.
    public var disk = false
    /// Then publish the repository (`--publish`): the last stage, only when every earlier one succeeded.
    public var publish: PublishOptions?
    /// Also carry the upstream packages the tree's packages need at run time (`--with-upstream`).
    public var withUpstream = false

    public init() {
        build.all = true
    }
}

/// How one stage of a run ended; the reports list every stage, so they never claim more than happened.
public enum StageOutcome: Sendable, Equatable {
    /// Done; the detail says what it did.
    case succeeded(String)
    case failed(String)
    /// Not run: why (an earlier stage failed, or it was not asked for).
    case skipped(String)

    /// `success`, `failure` or `skipped`.
    public var word: String {
        switch self {
        case .succeeded: "success"
        case .failed: "failure"
        case .skipped: "skipped"
        }
    }

    /// The detail, message or reason.
    public var detail: String {
        switch self {
        case .succeeded(let s), .failed(let s), .skipped(let s): s
        }
    }
}

/// The outcome of `cosci run`.
public struct RunResult: Sendable {
    public let build: BuildResult
    /// The repository written, or nil when a failure kept it from being written.
    public let repository: RepositoryResult?
    public let output: String
    /// The reports written, relative to `output`.
    public let reports: [String]
    /// The OS images assembled.
    public let images: [AssembledImage]
    /// What `--publish` did, when it ran and succeeded.
    public let publish: PublishReport?
    public let seconds: Double
}

/// The batch pipeline: build → repository → reports.
public enum Running {
    public static let repositoryDirectory = "repository"

    public static func run(
        _ project: Project, _ options: RunOptions, observer: (any BuildObserver)? = nil
    ) async throws(Diagnostic) -> RunResult {
        let clock = ContinuousClock()
        let start = clock.now
        let result = try await Building.build(project, options.build, observer: observer)
        let output = project.outputDirectory
        var repository: RepositoryResult?
        var repositoryMillis: Double = 0
        if result.succeeded {
            let repoStart = clock.now
            repository = try writeRepository(project, result, options, output: output)
            repositoryMillis = seconds(clock.now - repoStart)
        }
        var stages: [(String, StageOutcome)] = [
            ("build", result.failed.isEmpty && repository != nil
                ? .succeeded("\(result.outcomes.filter { $0.status == .built }.count) built")
                : .failed("\(result.failed.count) package(s) failed")),
            ("repository", repository.map { .succeeded("revision \($0.revision)") } ?? .skipped("a package failed")),
        ]
        // A stage that fails after the build is recorded, the reports are written, and then its error is thrown.
        var failure: Diagnostic?
        var images: [AssembledImage] = []
        if repository == nil {
            stages.append(("images", .skipped("the repository was not written")))
        } else if !options.images {
            stages.append(("images", .skipped("not asked for")))
        } else {
            do throws(Diagnostic) {
                let specs = try project.config.images.map { dir throws(Diagnostic) in
                    try ImageSpec.load(directory: dir, projectRoot: project.root)
                } ?? []
                if !specs.isEmpty {
                    var a = AssembleOptions()
                    a.sourceDateEpoch = result.sourceDateEpoch
                    a.iso = options.iso
                    a.disk = options.disk
                    images = try Assembling.assemble(result.analysis.project, a, analysis: result.analysis, specs: specs)
                    stages.append(("images", .succeeded("\(images.count) image(s)")))
                } else {
                    stages.append(("images", .skipped("no image specs")))
                }
            } catch {
                stages.append(("images", .failed(error.description)))
                failure = error
            }
        }
        var published: PublishReport?
        if let publish = options.publish {
            if failure != nil || repository == nil {
                stages.append(("publish", .skipped("an earlier stage failed")))
            } else {
                do throws(Diagnostic) {
                    let r = try Publishing.publish(project, publish)
                    published = r
                    stages.append(("publish", .succeeded("revision \(r.revision) to \(r.target)")))
                } catch {
                    stages.append(("publish", .failed(error.description)))
                    failure = error
                }
            }
        }
        let total = seconds(clock.now - start)
        let report = RunReport(result: result, repository: repository, project: project, images: images, stages: stages)
        var written: [String] = []
        func put(_ name: String, _ text: String) throws(Diagnostic) {
            do { try AtomicFile.write(output + "/" + name, Array(text.utf8)) } catch {
                throw Diagnostic(at: nil, "cannot write \(output)/\(name): \(error)")
            }
            written.append(name)
        }
        try put("report.json", CanonicalJSON.encode(report.document(output: output), pretty: true) + "\n")
        try put("report.md", StepSummary.capped(report.markdown(output: output), whole: "report.json"))
        try put("junit.xml", report.junit())
        let timingsFile = output + "/report.timings.json"
        let previous = FileManager.default.fileExists(atPath: timingsFile) ? (try? Planning.readDurations(timingsFile)) ?? [:] : [:]
        try put(
            "report.timings.json",
            CanonicalJSON.encode(report.timings(total: total, repository: repositoryMillis, previous: previous), pretty: true) + "\n")
        if let failure { throw failure }
        return RunResult(
            build: result, repository: repository, output: output, reports: written, images: images, publish: published,
            seconds: total)
    }

    static func writeRepository(
        _ project: Project, _ result: BuildResult, _ options: RunOptions, output: String
    ) throws(Diagnostic) -> RepositoryResult {
        var repoOptions = RepositoryOptions()
        repoOptions.name = options.repositoryName
        repoOptions.description = options.repositoryDescription
        repoOptions.snapshot = options.snapshot ?? result.head
        repoOptions.sourceDateEpoch = result.sourceDateEpoch
        var artifacts = result.outcomes.compactMap { o in o.artifact.flatMap { m in o.artifactPath.map { (m, $0) } } }
        if options.withUpstream {
            artifacts += try Upstream.runtimeClosure(
                of: artifacts, analysis: result.analysis, cache: LocalCache(root: project.cacheRoot), access: options.build.registry)
        }
        return try RepositoryWriting.write(
            project, artifacts: artifacts, directory: output + "/" + repositoryDirectory, options: repoOptions)
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

/// Writes luet repositories from artifacts.
public enum RepositoryWriting {
    /// Copies each artifact and its metadata into `directory` (temp + rename; an identical file is left alone),
    /// then writes the index, `repository.yaml` last.
    public static func write(
        _ project: Project, artifacts: [(ArtifactMetadata, String)], directory dir: String, options: RepositoryOptions
    ) throws(Diagnostic) -> RepositoryResult {
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw Diagnostic(at: nil, "cannot create \(dir): \(error.localizedDescription)")
        }
        for (m, path) in artifacts {
            let target = dir + "/" + m.path
            // An identical file (the same check the cache makes: kind, size, then sha256) is left alone.
            if ArtifactCheck.damage(of: target, expected: m) != nil {
                do { try AtomicFile.copy(path, to: target) } catch {
                    throw Diagnostic(at: nil, "cannot copy \(m.path) into \(dir): \(error)")
                }
            }
            do { try AtomicFile.write(dir + "/" + ArtifactMetadata.metadataFileName(m.id), Array(m.yamlText.utf8)) } catch {
                throw Diagnostic(at: nil, "cannot write the metadata of \(m.id) into \(dir): \(error)")
            }
        }
        do {
            return try RepositoryIndex.write(
                directory: dir, artifacts: artifacts.map(\.0), compilerTree: project.compilerTree, options: options)
        } catch {
            throw Diagnostic(at: nil, error.description)
        }
    }

    /// `cosci repo index`: every package of the tree, from the cache. Missing artifacts are an error naming them.
    public static func index(
        _ project: Project, options: BuildOptions, directory: String, name: String, type: String, snapshot: String?,
        withUpstream: Bool = false
    ) throws(Diagnostic) -> RepositoryResult {
        let analysis = Analysis.run(project)
        if let first = analysis.diagnostics.first(where: { $0.severity == .error }) { throw first }
        let cache = LocalCache(root: project.cacheRoot)
        var artifacts: [(ArtifactMetadata, String)] = []
        var missing: [PackageID] = []
        for id in analysis.graph.order.sorted() {
            let key = analysis.key(id)
            let cached: (path: String, metadata: ArtifactMetadata)?
            do { cached = try cache.artifact(for: key) } catch {
                throw Diagnostic(at: nil, error.message, hint: "build it again: cosci build \(id.family)")
            }
            guard let found = cached else {
                missing.append(id)
                continue
            }
            artifacts.append((found.metadata, found.path))
        }
        if !missing.isEmpty {
            throw Diagnostic(
                at: nil, "\(missing.count) package(s) have no artifact in \(cache.root): \(missing.prefix(5).map(\.description).joined(separator: ", "))\(missing.count > 5 ? ", …" : "")",
                hint: "build them first: cosci build --all")
        }
        if withUpstream {
            artifacts += try Upstream.runtimeClosure(of: artifacts, analysis: analysis, cache: cache, access: options.registry)
        }
        var o = RepositoryOptions()
        o.name = name
        o.type = type
        o.snapshot = snapshot ?? Building.headCommit(project)
        o.sourceDateEpoch = Building.sourceDateEpoch(project, options)
        return try write(project, artifacts: artifacts, directory: directory, options: o)
    }
}
