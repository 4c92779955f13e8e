import CosciManifest
import CosciModel
import CosciPlanner
import Foundation

extension Building {
    /// The packages a build targets, why, and (for a shard) the packages other shards build, which this one
    /// waits for instead of building.
    static func select(
        _ project: Project, _ analysis: Analysis, _ options: BuildOptions, cache: LocalCache
    ) throws(Diagnostic) -> (targets: [PackageID], reasons: [PackageID: [String]], awaited: Set<PackageID>) {
        var reasons: [PackageID: [String]] = [:]
        if !options.packages.isEmpty {
            var targets: [PackageID] = []
            for text in options.packages {
                for id in try analysis.packages(matching: text) where reasons[id] == nil {
                    targets.append(id)
                    reasons[id] = ["requested: \(text)"]
                }
            }
            return (targets, reasons, [])
        }
        if let planFile = options.planFile {
            return try fromPlan(planFile, analysis, shard: options.shard)
        }
        if options.all {
            for id in analysis.graph.order {
                let key = analysis.key(id)
                reasons[id] = [cache.contains(key) ? "in the cache" : "no artifact for key \(key.hex.prefix(12)) in the cache"]
            }
            return (analysis.graph.order, reasons, [])
        }
        let report = try ChangeDetection.affected(project, options.changes)
        if report.fallback != nil {
            for id in analysis.graph.order { reasons[id] = ["--fallback all → \(id)"] }
            return (analysis.graph.order, reasons, [])
        }
        let known = Set(analysis.graph.order)
        var targets: [PackageID] = []
        for a in report.set.affected where known.contains(a.id) {
            targets.append(a.id)
            reasons[a.id] = a.reasons
        }
        return (targets, reasons, [])
    }

    /// What differs between the plan's making and this run: the revision, the flavor, the platform — else the
    /// tree or its values (another directory, another --tree or --values).
    static func planDifference(_ plan: [String: Any], _ project: Project) -> String {
        var differences: [String] = []
        if let head = plan["head"] as? String, head != "work tree", let here = Building.headCommit(project), here != head {
            differences.append("it was made at commit \(head.prefix(12)), this checkout is at \(here.prefix(12))")
        }
        if let platform = plan["platform"] as? String, platform != project.platform.description {
            differences.append("it is for \(platform), this run for \(project.platform)")
        }
        let flavor = plan["flavor"] as? String
        if flavor != project.flavor {
            differences.append("it is for flavor \(flavor ?? "(none)"), this run for \(project.flavor ?? "(none)")")
        }
        if differences.isEmpty {
            return "the plan was made at this commit, flavor and platform, so from another tree or values: run in the same project (--tree \(project.root)) with the same --values as `cosci plan`"
        }
        return "the plan differs: " + differences.joined(separator: "; ")
    }

    /// Reads a plan file. Every package of the plan must have the key it has now: a plan made for another
    /// state of the tree is refused rather than half followed.
    static func fromPlan(
        _ file: String, _ analysis: Analysis, shard: (index: Int, count: Int)?
    ) throws(Diagnostic) -> (targets: [PackageID], reasons: [PackageID: [String]], awaited: Set<PackageID>) {
        let here = SourceLocation(file: file, line: 0)
        let bytes = try ManifestFiles.read(file)
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw Diagnostic(at: here, "not a JSON plan", hint: "write one with `cosci plan --report plan.json`")
        }
        guard object["schema"] as? String == Plan.schema, let packages = object["packages"] as? [[String: Any]] else {
            throw Diagnostic(at: here, field: "schema", "expected a \(Plan.schema) document", hint: "write one with `cosci plan --report plan.json`")
        }
        if let shard, let count = object["shards"] as? Int, count != shard.count {
            throw Diagnostic(
                at: here, field: "shards", "the plan has \(count) shard(s) but --shard says \(shard.index)/\(shard.count)",
                hint: "use --shard i/\(count)")
        }
        let byText = Dictionary(uniqueKeysWithValues: analysis.graph.order.map { ($0.description, $0) })
        var targets: [PackageID] = []
        var reasons: [PackageID: [String]] = [:]
        var awaited = Set<PackageID>()
        for p in packages where p["status"] as? String == "build" {
            guard let text = p["id"] as? String, let keyText = p["key"] as? String else {
                throw Diagnostic(at: here, field: "packages", "an entry lacks id or key")
            }
            guard let id = byText[text] else {
                throw Diagnostic(
                    at: here, field: "packages", "\(text) is in the plan but not in the tree",
                    hint: "the plan was made for another revision; run `cosci plan` again on this checkout")
            }
            let key = analysis.key(id)
            guard key.description == keyText else {
                throw Diagnostic(
                    at: here, field: "packages", "\(text) has key \(key) here but \(keyText) in the plan",
                    hint: planDifference(object, analysis.project) + "; run `cosci plan` again on this checkout")
            }
            let s = p["shard"] as? Int
            if let shard, s != shard.index {
                awaited.insert(id)
                continue
            }
            targets.append(id)
            reasons[id] = (p["reasons"] as? [String]) ?? []
        }
        return (targets, reasons, awaited)
    }
}
