import ArgumentParser
import CosciEngine
import CosciModel
import CosciPlanner
import Foundation

extension Cosci {
    struct Affected: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "affected",
            abstract: "List the packages whose cache key changed between two revisions, with why.",
            discussion: "--base defaults to the merge-base of HEAD with the default branch (origin/HEAD, origin/main, origin/master, main, master); --head defaults to HEAD. Uncommitted changes are included by default when neither --base nor --head is given outside CI (CI unset), so a contributor sees the effect of their edits; --no-dirty leaves them out, --dirty forces them in.")

        @OptionGroup var revisions: RevisionOptions
        @OptionGroup var options: TreeOptions
        @Flag(help: "Print canonical JSON (schema cosci.affected/v1); the same as --format json.") var json = false
        @Option(help: ArgumentHelp("text, json, or names: one affected package per line (category/name@version), for scripts.", valueName: "format"))
        var format: AffectedFormat = .text
        @Option(help: ArgumentHelp("Also write the canonical JSON report to this file.", valueName: "file"))
        var report: String?

        @Option(help: ArgumentHelp("Write a Markdown summary (for $GITHUB_STEP_SUMMARY) to this file.", valueName: "file"))
        var summary: String?
        @Option(help: ArgumentHelp("A shared cache (docker://HOST/REPO) whose saved summaries are read first and where new ones are saved, so a fresh CI runner need not load the whole tree.", valueName: "docker://host/repo"))
        var cache: String?
        @OptionGroup var registry: RegistryFlags

        enum AffectedFormat: String, ExpressibleByArgument { case text, json, names }

        func run() throws {
            let project = try options.project()
            for w in project.warnings { Output.error(w.description) }
            let result: AffectedReport
            do throws(Diagnostic) {
                var changes = revisions.affectedOptions
                if let cache {
                    guard isRemote(cache) else {
                        throw Diagnostic(at: nil, "--cache takes a shared cache (docker://HOST/REPO or oci:PATH), not \(cache)", kind: .usage)
                    }
                    changes.summaries = RemoteCache(store: try registry.access.store(cache))
                }
                result = try ChangeDetection.affected(project, changes)
            } catch {
                throw Output.fail(error)
            }
            let errors = result.diagnostics.filter { $0.severity == .error }
            for d in result.diagnostics { Output.error(d.description) }
            let document = result.document(platform: project.platform)
            if let report { try Output.writeFile(report, CanonicalJSON.encode(document, pretty: true) + "\n") }
            if let summary { try Output.writeSummary(summary, result.markdown, whole: report) }
            switch json ? .json : format {
            case .json: Output.json(document)
            case .names: Output.write(result.set.affected.map { $0.id.description + "\n" }.joined())
            case .text: Output.write(result.text)
            }
            if !errors.isEmpty { throw ExitCode(ExitStatus.treeErrors) }
            Output.exitWithoutTeardown(result)
        }
    }
}

extension Cosci {
    struct PlanCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "plan",
            abstract: "Plan the rebuild: affected packages not in the cache, their dependents, waves and shards.",
            discussion: "Formats: json (schema cosci.plan/v1), github (lines for $GITHUB_OUTPUT: build=… and matrix=…), gitlab (a child pipeline), k8s (an Indexed Job). Shards are numbered from 0. See ci/ for pipelines that use them.")

        enum Format: String, ExpressibleByArgument, CaseIterable { case json, github, gitlab, k8s }

        @OptionGroup var revisions: RevisionOptions
        @Flag(help: "Plan every package, not only the affected ones.") var all = false
        @Option(help: ArgumentHelp("Artifact cache: a local directory (default: cosci.yaml `cache:`, else .cosci/cache), or a shared one (docker://HOST/REPO, oci:PATH) whose keys are learnt from one tag listing.", valueName: "dir|docker://host/repo"))
        var cache: String?
        @OptionGroup var registry: RegistryFlags
        @Option(help: "Number of shards (CI jobs) to spread the builds over.") var shards = 1
        @Option(help: ArgumentHelp("JSON map of category/name to seconds, or a run's report.timings.json (default: the last run's, under the output directory).", valueName: "file"))
        var durations: String?
        @Option(help: "Output format.") var format: Format = .json
        @Option(help: ArgumentHelp("The container image of rendered jobs (gitlab: default $COSCI_IMAGE; k8s: default cosci:latest): one with cosci, git and bubblewrap.", valueName: "image"))
        var image: String?
        @Option(help: ArgumentHelp("Also write the canonical JSON plan to this file.", valueName: "file")) var report: String?
        @Option(help: ArgumentHelp("Write a Markdown summary (for $GITHUB_STEP_SUMMARY) to this file.", valueName: "file"))
        var summary: String?
        @OptionGroup var options: TreeOptions

        func validate() throws {
            guard (1...1024).contains(shards) else { throw ValidationError("--shards must be between 1 and 1024") }
        }

        func run() throws {
            var planOptions = PlanOptions()
            planOptions.changes = revisions.affectedOptions
            planOptions.all = all
            if let cache, isRemote(cache) { planOptions.remoteCache = cache }
            planOptions.registry = registry.access
            planOptions.shards = min(shards, format == .github ? PlanRenderer.githubMatrixLimit : shards)
            planOptions.durations = durations
            if options.flavor == "all" {
                try runMatrix(planOptions)
                return
            }
            let project = try options.project(cache: cache)
            for w in project.warnings { Output.error(w.description) }
            if format == .github && shards > PlanRenderer.githubMatrixLimit {
                Output.error("cosci: GitHub Actions allows at most \(PlanRenderer.githubMatrixLimit) matrix jobs; using \(PlanRenderer.githubMatrixLimit) shards")
            }
            let plan: Plan, context: PlanContext, diagnostics: [Diagnostic]
            do {
                (plan, context, diagnostics) = try Planning.plan(project, planOptions)
            } catch {
                throw Output.fail(error)
            }
            for d in diagnostics { Output.error(d.description) }
            let renderer = PlanRenderer(plan: plan, context: context)
            // The whole document only where it is wanted (large trees make it large).
            let document = report != nil || format == .json ? CanonicalJSON.encode(renderer.document(), pretty: true) + "\n" : ""
            if let report { try Output.writeFile(report, document) }
            if let summary { try Output.writeSummary(summary, renderer.markdown(), whole: report) }
            if plan.builds.isEmpty { Output.error("cosci: nothing to build (\(plan.entries.count) package(s) unchanged or cached)") }
            switch format {
            case .json: Output.write(document)
            case .github: Output.write(renderer.github())
            case .gitlab: Output.write(renderer.gitlab(image: image ?? "$COSCI_IMAGE"))
            case .k8s: Output.write(renderer.kubernetes(image: image ?? "cosci:latest"))
            }
            Output.exitWithoutTeardown(plan)
        }

        /// `--flavor all`: every flavor × platform of cosci.yaml, as one matrix.
        func runMatrix(_ planOptions: PlanOptions) throws {
            var flags = options.flags
            flags.flavor = nil
            var perVariant = planOptions
            let variants: [PlanVariant], diagnostics: [Diagnostic]
            do {
                // Keep the whole GitHub matrix within its limit: shards per variant shrink as variants grow.
                let count = try Planning.variants(
                    flags, environment: ProcessInfo.processInfo.environment, cwd: FileManager.default.currentDirectoryPath
                ).count
                if format == .github {
                    perVariant.shards = max(1, min(planOptions.shards, PlanRenderer.githubMatrixLimit / max(1, count)))
                }
                (variants, diagnostics) = try Planning.planAll(
                    flags, environment: ProcessInfo.processInfo.environment, cwd: FileManager.default.currentDirectoryPath,
                    options: perVariant)
            } catch {
                throw Output.fail(error)
            }
            for d in Set(diagnostics).sorted() { Output.error(d.description) }
            let matrix = MatrixRenderer(variants.map { PlanRenderer(plan: $0.plan, context: $0.context) })
            let document = CanonicalJSON.encode(matrix.document(), pretty: true) + "\n"
            if let report { try Output.writeFile(report, document) }
            if let summary { try Output.writeSummary(summary, matrix.markdown(), whole: report) }
            switch format {
            case .json: Output.write(document)
            case .github: Output.write(matrix.github())
            case .gitlab: Output.write(matrix.gitlab(image: image ?? "$COSCI_IMAGE"))
            case .k8s: Output.write(matrix.kubernetes(image: image ?? "cosci:latest"))
            }
        }
    }
}

/// Which revisions to compare: shared by `affected` and `plan`.
struct RevisionOptions: ParsableArguments {
    enum Fallback: String, ExpressibleByArgument { case all }

    @Option(help: ArgumentHelp("Base revision (default: the merge-base of HEAD with the default branch).", valueName: "rev"))
    var base: String?
    @Option(help: ArgumentHelp("Head revision (default: HEAD).", valueName: "rev")) var head: String?
    @Flag(inversion: .prefixedNo, help: "Include uncommitted changes (the work tree) on the head side.")
    var dirty: Bool?
    @Option(help: ArgumentHelp("With `all`, a base that cannot be found makes every package affected.", valueName: "all"))
    var fallback: Fallback?

    func validate() throws {
        if dirty == true && head != nil {
            throw ValidationError("--dirty compares against the work tree; it cannot be combined with --head")
        }
    }

    /// The comparison asked for. Uncommitted changes count by default when no revision is named outside CI.
    var affectedOptions: AffectedOptions {
        let environment = ProcessInfo.processInfo.environment
        let inCI = !(environment["CI"] ?? "").isEmpty && environment["CI"] != "false"
        return AffectedOptions(
            base: base, head: head, dirty: dirty ?? (base == nil && head == nil && !inCI), fallbackAll: fallback == .all)
    }
}
