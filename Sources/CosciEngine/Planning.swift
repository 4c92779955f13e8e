#if canImport(Glibc)
    import Glibc
#endif
import CosciGit
import CosciManifest
import CosciModel
import CosciPlanner
import CosciRegistry
import Foundation

/// What `cosci plan` was asked.
public struct PlanOptions: Sendable {
    public var changes = AffectedOptions()
    /// Plan every package, not only the affected ones.
    public var all = false
    public var shards = 1
    /// A JSON file mapping `category/name` to seconds, from earlier runs.
    public var durations: String?
    /// A shared cache (`docker://HOST/REPO`, `oci:PATH`): its keys count as cached (one tag listing).
    public var remoteCache: String?
    public var registry = RegistryAccess()

    public init() {}
}

/// Builds plans: change detection (or every package), cache lookups, then the pure planner.
public enum Planning {
    public static func plan(_ project: Project, _ options: PlanOptions) throws(Diagnostic) -> (Plan, PlanContext, [Diagnostic]) {
        // The cache tiers: the local directory, and the shared one when --cache names it (which also shares
        // change-detection summaries).
        let artifacts = try ArtifactCache(project, shared: options.remoteCache, access: options.registry)
        // Durations: the file given, else the timings of the last `cosci run` under the output directory.
        let lastRun = project.outputDirectory + "/report.timings.json"
        let durations =
            try options.durations.map(readDurations)
            ?? (FileManager.default.fileExists(atPath: lastRun) ? (try? readDurations(lastRun)) ?? [:] : [:])

        let graph: any PlanGraph
        let keys: [PackageID: CacheKey]
        var selected: Set<PackageID>
        var reasons: [PackageID: [String]] = [:]
        var context: PlanContext
        var diagnostics: [Diagnostic] = []
        if options.all {
            let analysis = Analysis.run(project)
            if analysis.hasErrors {
                throw Diagnostic(at: nil, "the tree has errors; `cosci check` lists them")
            }
            graph = analysis.graph
            keys = analysis.keys.mapValues(\.key)
            selected = Set(graph.order)
            for id in selected { reasons[id] = ["--all → \(id)"] }
            context = PlanContext(base: nil, head: Building.headCommit(project) ?? "work tree", mergeBase: nil, platform: project.platform)
            diagnostics = analysis.diagnostics
        } else {
            var changes = options.changes
            if let shared = artifacts.shared { changes.summaries = shared }
            let (report, headSummary) = try ChangeDetection.affectedWithSummary(project, changes)
            if report.diagnostics.contains(where: { $0.severity == .error }) {
                throw Diagnostic(at: nil, "the tree has errors at head; `cosci check` lists them")
            }
            let head = SummaryGraph(headSummary)
            graph = head
            keys = head.keys
            selected = Set(report.set.affected.map(\.id))
            for a in report.set.affected { reasons[a.id] = a.reasons }
            if report.fallback != nil {
                selected = Set(graph.order)
                for id in selected where reasons[id] == nil { reasons[id] = ["--fallback all → \(id)"] }
            }
            context = PlanContext(
                base: report.base?.hex, head: report.head.hex, mergeBase: report.mergeBase?.hex, platform: project.platform)
            context.dirty = report.dirty
            context.shallow = report.shallow
            context.detached = report.detached
            context.fallback = report.fallback
            diagnostics = report.diagnostics
        }
        context.flavor = project.flavor
        context.remoteCache = options.remoteCache
        context.tree = project.pathInRepository ?? ""
        if let url = project.checkout?.originURL { context.repositoryURL = Redaction.url(url) }
        let cached = Set(keys.values.filter(artifacts.contains))
        let plan = Plan.make(
            graph: graph, keys: keys, selected: selected, reasons: reasons, cached: cached, durations: durations,
            shards: options.shards)
        return (plan, context, diagnostics)
    }

    static func readDurations(_ path: String) throws(Diagnostic) -> [String: Double] {
        let bytes = try ManifestFiles.read(path)
        guard var object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw Diagnostic(
                at: SourceLocation(file: path, line: 0), "expected a JSON object mapping category/name to seconds",
                hint: "for example {\"toolchain/yq\": 42.5}")
        }
        // A run's timings report (cosci.run-timings/v1) holds the map under "packages".
        if object["schema"] as? String == RunReport.timingsSchema, let packages = object["packages"] as? [String: Any] {
            object = packages
        }
        var out: [String: Double] = [:]
        for (k, v) in object {
            guard let n = v as? NSNumber else {
                throw Diagnostic(at: SourceLocation(file: path, line: 0), field: k, "expected a number of seconds")
            }
            out[k] = n.doubleValue
        }
        return out
    }
}

/// One flavor × platform of a matrix plan.
public struct PlanVariant: Sendable {
    public let plan: Plan
    public let context: PlanContext
}

extension Planning {
    /// Plans every flavor × platform that cosci.yaml declares (`flavors:`, `platforms:`), each package keyed
    /// per flavor and platform. A project without flavors plans its one configuration per platform.
    public static func planAll(
        _ flags: ProjectFlags, environment: [String: String], cwd: String, options: PlanOptions
    ) throws(Diagnostic) -> ([PlanVariant], [Diagnostic]) {
        let combinations = try variants(flags, environment: environment, cwd: cwd)
        var variants: [PlanVariant] = []
        var diagnostics: [Diagnostic] = []
        for (flavor, platform) in combinations {
            var f = flags
            f.flavor = flavor
            f.platform = platform
            let project = try Project.resolve(f, environment: environment, cwd: cwd)
            let (plan, context, d) = try Planning.plan(project, options)
            variants.append(PlanVariant(plan: plan, context: context))
            diagnostics += d
        }
        return (variants, diagnostics)
    }

    /// The flavor × platform combinations of the project, flavors and platforms in the order cosci.yaml
    /// sorts them (flavors by name, platforms as listed).
    public static func variants(
        _ flags: ProjectFlags, environment: [String: String], cwd: String
    ) throws(Diagnostic) -> [(flavor: String?, platform: String)] {
        var probe = flags
        probe.flavor = nil
        let base = try Project.resolve(probe, environment: environment.filter { $0.key != "COSCI_FLAVOR" }, cwd: cwd)
        let flavors: [String?] = base.config.flavors.isEmpty ? [nil] : base.config.flavors.keys.sorted().map { $0 }
        let platforms =
            flags.platform.map { [$0] } ?? (base.config.platforms.isEmpty ? [base.platform.description] : base.config.platforms)
        return flavors.flatMap { f in platforms.map { (f, $0) } }
    }
}
