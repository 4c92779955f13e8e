import ArgumentParser
import CosciArchive
import CosciBuild
import CosciEngine
import CosciModel
import Foundation

extension BackendChoice: ExpressibleByArgument {}
extension Compression: ExpressibleByArgument {}

/// Options shared by `build`, `run` and `verify`.
struct BuildFlags: ParsableArguments {
    @Option(name: [.customLong("jobs"), .customShort("j"), .customLong("build-jobs", withSingleDash: false)],
            help: ArgumentHelp("Parallel builds (default: the number of cores; COSCI_JOBS). --build-jobs is the same.", valueName: "n"))
    var buildJobs: Int?
    @Option(help: "Build backend: auto (the first that works here), host-sandbox (bubblewrap over the host's /), podman.")
    var backend: BackendChoice = .auto
    @Flag(help: "Build everything that does not depend on a failed package instead of stopping at the first failure.")
    var keepGoing = false
    @Option(help: "Artifact compression.") var compression: Compression = .zstd
    @Option(help: ArgumentHelp("Artifact cache: a local directory (default: cosci.yaml `cache:`, else .cosci/cache), or a shared one, docker://HOST/REPO or oci:PATH, used after the local cache and written after each build.", valueName: "dir|docker://host/repo"))
    var cache: String?
    @Option(help: SharedHelp.output) var output: String?
    @Option(help: ArgumentHelp("SOURCE_DATE_EPOCH for artifacts (default: $SOURCE_DATE_EPOCH, else the head commit's time).", valueName: "seconds"))
    var sourceDateEpoch: Int64?
    @Flag(help: "Let every build use the network (a package can ask with the label cosci.io/network: \"true\").")
    var network = false

    @OptionGroup var registry: RegistryFlags

    func apply(to o: inout BuildOptions, project: Project) {
        o.jobs = project.buildJobs
        o.backend = backend
        o.keepGoing = keepGoing
        o.compression = compression
        if let cache, isRemote(cache) { o.remoteCache = cache }
        o.registry = registry.access
        o.sourceDateEpoch = sourceDateEpoch
        o.network = network
    }
}

extension Cosci {
    struct Build: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "build",
            abstract: "Build packages into the cache: the named ones, --all, a plan's shard, or the affected ones.",
            discussion: """
                Missing dependencies are built first; packages whose key is in the cache are not built again. \
                Fail-fast by default: a failure starts nothing new, lets running builds finish, and prints the \
                failed package's log tail (logs are kept under the output directory's logs/). \
                Under host-sandbox the build dependencies' artifacts are readable at /cosci/sysroot. \
                Exit codes: 0 built, 1 environment, 2 tree errors, 3 a package failed to build, 64 usage.
                """)

        @Argument(help: ArgumentHelp("Packages to build: category/name or category/name@version.", valueName: "package"))
        var packages: [String] = []
        @Flag(help: "Build every package of the tree.") var all = false
        @Option(help: ArgumentHelp("A plan written by `cosci plan --report FILE`.", valueName: "file")) var plan: String?
        @Option(help: ArgumentHelp("Build shard i of N of the plan (0-based), waiting in the cache for what other shards build.", valueName: "i/N"))
        var shard: String?
        @Option(help: ArgumentHelp("Seconds a shard waits for a dependency another shard builds.", valueName: "seconds"))
        var waitTimeout: Double = 3600
        @Flag(help: "Print canonical JSON on standard output (the run report's document, schema cosci.run/v1, of the build stage).")
        var json = false
        @OptionGroup var revisions: RevisionOptions
        @OptionGroup var buildFlags: BuildFlags
        @OptionGroup var uploads: UploadFlags
        @OptionGroup var options: TreeOptions

        func validate() throws {
            if shard != nil && plan == nil { throw ValidationError("--shard needs --plan FILE") }
            if let shard, parseShard(shard) == nil { throw ValidationError("--shard expects i/N with 0 <= i < N, e.g. 0/4") }
            if all && !packages.isEmpty { throw ValidationError("--all and package names exclude each other") }
        }

        func run() async throws {
            let project = try options.project(
                cache: buildFlags.cache, output: buildFlags.output, buildJobs: buildFlags.buildJobs, sourceDateEpoch: buildFlags.sourceDateEpoch)
            for w in project.warnings { Output.error(w.description) }
            var o = BuildOptions()
            o.packages = packages
            o.all = all
            o.planFile = plan
            o.shard = shard.flatMap(parseShard)
            o.waitTimeout = waitTimeout
            o.changes = revisions.affectedOptions
            buildFlags.apply(to: &o, project: project)
            uploads.apply(to: &o.registry)
            let progress = ProgressView()
            let result: BuildResult
            do {
                result = try await Building.build(project, o, observer: progress)
            } catch {
                progress.end()
                throw Output.fail(error)
            }
            progress.end()
            let failed = !result.succeeded
            if json {
                let stage: StageOutcome = failed ? .failed("\(result.failed.count) failed") : .succeeded("\(result.outcomes.count) package(s)")
                Output.json(RunReport(result: result, repository: nil, project: project, stages: [("build", stage)]).document(output: project.outputDirectory))
            } else {
                Output.write(BuildSummary.text(result))
            }
            if failed {
                BuildSummary.printFailures(result)
                throw ExitCode(ExitStatus.buildFailed)
            }
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "The whole batch: build every package missing from the cache, write the repository, assemble the OS images, write the reports.",
            discussion: """
                Writes under the output directory (default dist/): images/ (the OS images of images/*.yaml, OCI layouts), repository/ (luet-compatible: artifacts, \
                metadata, repository.yaml written last), logs/, report.json (canonical, schema cosci.run/v1), \
                report.md, junit.xml and report.timings.json (read by later plans for duration estimates). \
                A second run with nothing changed builds nothing and leaves the repository as it is. \
                Exit codes: 0 success, 1 environment, 2 tree errors, 3 a package failed to build, 64 usage.
                """)

        @Option(help: ArgumentHelp("Repository snapshot id (default: the head commit).", valueName: "id")) var snapshot: String?
        @Option(help: "Repository name (repository.yaml).") var name = "cosci"
        @Option(help: ArgumentHelp("Then publish the repository: docker://HOST/REPO or oci:PATH.", valueName: "target"))
        var publish: String?
        @Option(help: ArgumentHelp("With --publish: the compression of package layers (default gzip, which luet 0.35 and earlier — cOS v0.8 ships 0.32.5 — need; zstd layers install as empty packages there).", valueName: "gzip|zstd|none"))
        var layerCompression: Compression = .gzip
        @Flag(help: "Also write the ISOs of image specs that have an iso: section.") var iso = false
        @Flag(help: "Also write the A/B raw disks of image specs that have a disk: section (boots under UEFI).") var disk = false
        @Flag(help: "Do not assemble the OS images of the image specs.") var noImages = false
        @Flag(help: "Also carry, in the repository, the upstream packages (cosci.yaml repositories:) the tree's packages need at run time, so it installs on its own.")
        var withUpstream = false
        @OptionGroup var buildFlags: BuildFlags
        @OptionGroup var uploads: UploadFlags
        @OptionGroup var options: TreeOptions

        func run() async throws {
            let project = try options.project(
                cache: buildFlags.cache, output: buildFlags.output, buildJobs: buildFlags.buildJobs, sourceDateEpoch: buildFlags.sourceDateEpoch)
            for w in project.warnings { Output.error(w.description) }
            var o = RunOptions()
            buildFlags.apply(to: &o.build, project: project)
            uploads.apply(to: &o.build.registry)
            o.snapshot = snapshot
            o.repositoryName = name
            o.iso = iso
            o.disk = disk
            o.images = !noImages
            o.withUpstream = withUpstream
            if let publish {
                var p = PublishOptions(target: publish)
                p.registry = o.build.registry
                p.layerCompression = layerCompression
                o.publish = p
            }
            let progress = ProgressView()
            let result: RunResult
            do {
                result = try await Running.run(project, o, observer: progress)
            } catch {
                progress.end()
                throw Output.fail(error)
            }
            progress.end()
            Output.write(BuildSummary.text(result.build))
            if let r = result.repository {
                Output.write(
                    "repository \(Output.display(result.output))/\(Running.repositoryDirectory): revision \(r.revision)\(r.changed ? "" : " (unchanged)"), \(r.packages.count) package version(s)\n")
            }
            for image in result.images { Output.write(AssembleSummary.line(image)) }
            if let r = result.publish { Output.write(PublishSummary.text(r)) }
            Output.write("reports: \(result.reports.map { Output.display(result.output) + "/" + $0 }.joined(separator: ", "))\n")
            if result.repository == nil {
                BuildSummary.printFailures(result.build)
                Output.error("cosci: the repository was not written because a package failed")
                throw ExitCode(ExitStatus.buildFailed)
            }
        }
    }
}

/// Whether a cache or target names a registry or an OCI layout rather than a local directory.
func isRemote(_ text: String) -> Bool { text.hasPrefix("docker://") || text.hasPrefix("oci:") }

func parseShard(_ text: String) -> (index: Int, count: Int)? {
    let parts = text.split(separator: "/")
    guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 0, i < n else { return nil }
    return (i, n)
}

/// What a build prints when it ends.
enum BuildSummary {
    static func text(_ result: BuildResult) -> String {
        let built = result.built.count
        let cached = result.outcomes.filter { $0.status == .cached }.count
        let failed = result.failed.count
        let skipped = result.outcomes.filter { $0.status == .skipped }.count
        if built == 0 && failed == 0 && skipped == 0 {
            return "nothing to build: all \(cached) package(s) are in the cache\n"
        }
        var out = ""
        for o in result.outcomes where o.status == .built {
            out += "built   \(o.id)  \(o.artifact?.sha256.hex.prefix(12) ?? "")  \(o.artifact.map { "\($0.size) B" } ?? "")\n"
        }
        out += "\(built) built, \(cached) cached, \(failed) failed, \(skipped) skipped"
        out += result.backend.map { " (backend \($0))" } ?? ""
        return out + "\n"
    }

    /// Skipped packages grouped by why, then each failure with its log tail: the last thing on the screen is
    /// what went wrong.
    static func printFailures(_ result: BuildResult) {
        var groups: [String: [String]] = [:]
        for o in result.outcomes where o.status == .skipped {
            groups[o.message ?? "skipped", default: []].append(o.id.description)
        }
        for (why, ids) in groups.sorted(by: { $0.key < $1.key }) {
            Output.error("skipped \(ids.count) package(s): \(why)")
            Output.error("  " + ids.joined(separator: ", "))
        }
        for o in result.outcomes {
            guard case .failed(let failure) = o.result else { continue }
            let message = failure.message
            Output.error("FAILED  " + (message.hasPrefix(o.id.description) ? message : "\(o.id): \(message)"))
            if let log = failure.log {
                Output.error("  log: \(Output.display(log)) (last \(failure.logTail.count) lines)")
                for line in failure.logTail { Output.error("  | \(line)") }
            }
        }
    }
}
