import CosciModel

/// Where a plan came from: the commits compared and the shape of the clone. Plain strings: the planner
/// does not know git.
public struct PlanContext: Sendable {
    public var base: String?
    public var head: String
    public var mergeBase: String?
    public var dirty = false
    public var shallow = false
    public var detached = false
    public var fallback: String?
    public var platform: Platform
    public var flavor: String?
    /// The shared cache the shards exchange artifacts through (`docker://HOST/REPO`), when the plan was made
    /// with one: every rendered shard gets it, so no shard waits for what it cannot receive.
    public var remoteCache: String?
    /// The project root relative to the repository root ("" at the root): rendered as `--tree`, so a shard
    /// that runs from the repository root finds the project.
    public var tree = ""

    /// The arguments every rendered `cosci build` of a shard carries besides the plan and the shard.
    var sharedArguments: String {
        var out = ""
        if !tree.isEmpty { out += " --tree \(tree)" }
        if let remoteCache { out += " --cache \(remoteCache)" }
        return out
    }

    public init(base: String?, head: String, mergeBase: String?, platform: Platform) {
        self.base = base
        self.head = head
        self.mergeBase = mergeBase
        self.platform = platform
    }
}

/// Renders a plan for machines (canonical JSON), for CI systems (GitHub Actions, GitLab, Kubernetes) and
/// for people (Markdown). Pure: values in, text out.
public struct PlanRenderer: Sendable {
    public let plan: Plan
    public let context: PlanContext

    /// GitHub Actions allows at most 256 jobs in a matrix.
    public static let githubMatrixLimit = 256
    /// GitLab allows at most 50 `needs:` per job.
    public static let gitlabNeedsLimit = 50

    public init(plan: Plan, context: PlanContext) {
        self.plan = plan
        self.context = context
    }

    /// Shards that have work, in order.
    var usedShards: [Int] { Array(Set(plan.builds.compactMap(\.shard))).sorted() }

    /// The canonical plan document (schema `cosci.plan/v1`).
    public func document() -> Value {
        let waits = plan.shardDependencies()
        var doc: [String: Value] = [
            "schema": .string(Plan.schema),
            "base": context.base.map(Value.string) ?? .null,
            "head": .string(context.head),
            "mergeBase": context.mergeBase.map(Value.string) ?? .null,
            "platform": .string(context.platform.description),
            "clone": .map(["shallow": .bool(context.shallow), "detached": .bool(context.detached), "dirty": .bool(context.dirty)]),
            "shards": .int(plan.shardCount),
            "packages": .list(
                plan.entries.map { e in
                    .map([
                        "id": .string(e.id.description), "key": .string(e.key.description), "status": .string(e.status.rawValue),
                        "reasons": .list(e.reasons.map(Value.string)), "deps": .list(e.dependencies.map { .string($0.description) }),
                        "wave": e.wave.map(Value.int) ?? .null, "shard": e.shard.map(Value.int) ?? .null,
                        "estimate": .double(e.estimate),
                    ])
                }),
            "counts": .map([
                "build": .int(plan.builds.count),
                "cached": .int(plan.entries.filter { $0.status == .cached }.count),
                "unchanged": .int(plan.entries.filter { $0.status == .unchanged }.count),
            ]),
            "shardPlan": .list(
                usedShards.map { s in
                    let pkgs = plan.packages(ofShard: s)
                    return .map([
                        "shard": .int(s), "packages": .list(pkgs.map { .string($0.id.description) }),
                        "estimate": .double(pkgs.map(\.estimate).reduce(0, +)),
                        "waitsFor": .list((waits[s] ?? []).map(Value.int)),
                    ])
                }),
        ]
        if let flavor = context.flavor { doc["flavor"] = .string(flavor) }
        if let fallback = context.fallback { doc["fallback"] = .string(fallback) }
        return .map(doc)
    }

    /// Lines for `$GITHUB_OUTPUT`: `build=true|false` and `matrix=<json>`. The matrix never has more than 256
    /// entries and is never empty: with nothing to build it holds one placeholder and `build=false`, so the
    /// workflow skips the build job (`if: needs.plan.outputs.build == 'true'`).
    public func github() -> String {
        let shards = usedShards
        let include: [Value]
        if shards.isEmpty {
            include = [.map(["shard": .int(-1), "of": .int(plan.shardCount), "packages": .string("")])]
        } else {
            include = shards.prefix(PlanRenderer.githubMatrixLimit).map { s in
                .map([
                    "shard": .int(s), "of": .int(plan.shardCount),
                    "packages": .string(plan.packages(ofShard: s).map(\.id.description).joined(separator: " ")),
                ])
            }
        }
        return "build=\(shards.isEmpty ? "false" : "true")\nmatrix=\(CanonicalJSON.encode(.map(["include": .list(include)])))\n"
    }

    /// A GitLab child pipeline: one job per shard, `needs:` on the shards whose packages it waits for (at most
    /// 50; beyond that the job falls back to waiting for the whole previous stage). With nothing to build, one
    /// job that says so (a child pipeline must have a job).
    public func gitlab(planFile: String = "plan.json", image: String = "$COSCI_IMAGE") -> String {
        var out = "# Generated by cosci plan --format gitlab. Trigger it as a child pipeline.\n"
        out += "stages: [build]\n\n"
        let shards = usedShards
        if shards.isEmpty {
            out += "nothing-to-build:\n  stage: build\n  image: \(image)\n  script:\n    - echo \"cosci: nothing to build (\(plan.entries.count) packages unchanged or cached)\"\n"
            return out
        }
        let deps = plan.shardDependencies()
        for s in shards {
            let pkgs = plan.packages(ofShard: s)
            out += "cosci-shard-\(s):\n  stage: build\n  image: \(image)\n"
            let needs = deps[s] ?? []
            if needs.count < PlanRenderer.gitlabNeedsLimit {
                out += "  needs:\n"
                out += "    - pipeline: $PARENT_PIPELINE_ID\n      job: cosci-plan\n"
                for n in needs { out += "    - job: cosci-shard-\(n)\n" }
            }
            out += "  variables:\n    COSCI_SHARD: \"\(s)/\(plan.shardCount)\"\n"
            out += "  script:\n    - cosci build --plan \(planFile) --shard \(s)/\(plan.shardCount)\(context.sharedArguments)\n"
            out += "  # \(pkgs.count) package(s): \(pkgs.prefix(5).map(\.id.description).joined(separator: ", "))\(pkgs.count > 5 ? ", …" : "")\n\n"
        }
        return out
    }

    /// A Kubernetes Indexed Job: one pod per shard; each reads `JOB_COMPLETION_INDEX` and builds that shard of
    /// the plan, which is mounted from a ConfigMap named `<name>-plan`.
    public func kubernetes(name: String = "cosci-build", image: String = "cosci:latest") -> String {
        let count = max(usedShards.count, 1)
        let shards = plan.shardCount
        return """
            # Generated by cosci plan --format k8s. \(plan.builds.count) package(s) to build on \(usedShards.count) shard(s).
            # Create the plan ConfigMap first: kubectl create configmap \(name)-plan --from-file=plan.json
            apiVersion: batch/v1
            kind: Job
            metadata:
              name: \(name)
            spec:
              completionMode: Indexed
              completions: \(count)
              parallelism: \(count)
              backoffLimitPerIndex: 1
              template:
                spec:
                  restartPolicy: Never
                  containers:
                    - name: cosci
                      image: \(image)
                      command: ["/bin/sh", "-c"]
                      args:
                        - cosci build --plan /plan/plan.json --shard "${JOB_COMPLETION_INDEX}/\(shards)"\(context.sharedArguments)
                      volumeMounts:
                        - name: plan
                          mountPath: /plan
                  volumes:
                    - name: plan
                      configMap:
                        name: \(name)-plan

            """
    }

    /// A Markdown summary for `$GITHUB_STEP_SUMMARY`.
    public func markdown() -> String {
        let builds = plan.builds
        var out = "## cosci plan\n\n"
        out += "base `\(context.base.map { String($0.prefix(12)) } ?? "none")` → head `\(String(context.head.prefix(12)))`"
        out += context.dirty ? " (with uncommitted changes)" : ""
        out += " · platform `\(context.platform)`\(context.flavor.map { " · flavor `\($0)`" } ?? "")\n\n"
        if let fallback = context.fallback { out += "> **Fallback:** \(fallback)\n\n" }
        let cached = plan.entries.filter { $0.status == .cached }.count
        let unchanged = plan.entries.filter { $0.status == .unchanged }.count
        out += "| build | cached | unchanged | shards |\n|---:|---:|---:|---:|\n"
        out += "| \(builds.count) | \(cached) | \(unchanged) | \(usedShards.count) of \(plan.shardCount) |\n\n"
        if builds.isEmpty {
            out += "Nothing to build.\n"
            return out
        }
        out += "| package | wave | shard | why |\n|---|---:|---:|---|\n"
        for e in builds.sorted(by: { ($0.wave ?? 0, $0.id) < ($1.wave ?? 0, $1.id) }) {
            let why = (e.reasons.first ?? "").replacingAll("|", with: "\\|")
            out += "| `\(e.id)` | \(e.wave ?? 0) | \(e.shard ?? 0) | \(why) |\n"
        }
        return out
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.range(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
