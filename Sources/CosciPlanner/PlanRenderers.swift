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
    /// Where the repository is cloned from (the `origin` remote, without credentials), for renderers whose
    /// jobs start without a checkout (Kubernetes).
    public var repositoryURL: String?

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
    var usedShards: [Int] { Array(Set(plan.builds.map(\.shard))).sorted() }

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
                    var placement: (wave: Value, shard: Value) = (.null, .null)
                    if case .build(let wave, let shard) = e.status { placement = (.int(wave), .int(shard)) }
                    return .map([
                        "id": .string(e.id.description), "key": .string(e.key.description), "status": .string(e.status.name),
                        "reasons": .list(e.reasons.map(Value.string)), "deps": .list(e.dependencies.map { .string($0.description) }),
                        "wave": placement.wave, "shard": placement.shard, "estimate": .double(e.estimate),
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
                        "estimate": .double(pkgs.map(\.entry.estimate).reduce(0, +)),
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

    /// The name a rendered Kubernetes Job gets by default: `cosci-build-` and the head commit's first 10 hex
    /// digits (a DNS-1123 label, so plans of different commits do not collide in one namespace).
    public var defaultJobName: String { "cosci-build-" + String(context.head.prefix(10)).lowercased() }

    /// A Kubernetes Indexed Job: one pod per shard with work. An init container clones the repository at the
    /// plan's head commit (`repositoryURL`); the pod `JOB_COMPLETION_INDEX` builds the index-th shard that has
    /// work, from the plan mounted from the ConfigMap `<name>-plan`, through the shared cache, with the
    /// registry credentials of the optional Secret `<name>-registry` (a docker `config.json`). The pods run as
    /// an unprivileged user in a user namespace of their own with the filters off that would stop bubblewrap
    /// from making its sandboxes. One failed shard fails the Job (`maxFailedIndexes: 0`).
    public func kubernetes(name: String? = nil, image: String = "cosci:latest", variantArguments: String = "") -> String {
        let name = name ?? defaultJobName
        let shards = usedShards
        let count = max(shards.count, 1)
        let list = shards.isEmpty ? "-1" : shards.map(String.init).joined(separator: " ")
        let command = shards.isEmpty
            ? "echo \"cosci: nothing to build (\(plan.entries.count) packages unchanged or cached)\""
            : "set -- \(list); shift \"$JOB_COMPLETION_INDEX\"; exec cosci build --plan /plan/plan.json\(variantArguments) --shard \"$1/\(plan.shardCount)\"\(context.sharedArguments)"
        let clone = context.repositoryURL.map { url in
            "git clone --quiet \"$COSCI_GIT_URL\" /work/src && git -C /work/src checkout --quiet --detach \(context.head)"
        }
        var out = """
            # Generated by cosci plan --format k8s. \(plan.builds.count) package(s) to build on \(shards.count) shard(s).
            # Before applying it:\(clone == nil ? "\n# (no checkout: the plan was made in a clone without an `origin` remote, so the image must hold the tree in /work)" : "")
            #   kubectl create configmap \(name)-plan --from-file=plan.json
            #   kubectl create secret generic \(name)-registry --from-file=config.json=$HOME/.docker/config.json   # optional: a private cache
            apiVersion: batch/v1
            kind: Job
            metadata:
              name: \(name)
              labels:
                app.kubernetes.io/name: cosci
                app.kubernetes.io/component: build
            spec:
              completionMode: Indexed
              completions: \(count)
              parallelism: \(count)
              backoffLimitPerIndex: 1
              maxFailedIndexes: 0
              ttlSecondsAfterFinished: 86400
              template:
                metadata:
                  labels:
                    app.kubernetes.io/name: cosci
                    app.kubernetes.io/component: build
                spec:
                  restartPolicy: Never
                  # bubblewrap makes a user namespace and mounts /proc for every build step: the pod gets a user
                  # namespace of its own (so /proc may be unmasked) and no seccomp or AppArmor filter against unshare.
                  hostUsers: false
                  securityContext:
                    runAsUser: 1000
                    runAsGroup: 1000
                    fsGroup: 1000
                    seccompProfile:
                      type: Unconfined

            """
        if let clone, let url = context.repositoryURL {
            out += """
                      initContainers:
                        - name: checkout
                          image: \(image)
                          command: ["/bin/sh", "-ec"]
                          args:
                            - \(clone)
                          env:
                            - name: COSCI_GIT_URL
                              value: \(Self.yamlQuoted(url))
                          volumeMounts:
                            - name: work
                              mountPath: /work

                """
        }
        out += """
                  containers:
                    - name: cosci
                      image: \(image)
                      workingDir: \(clone == nil ? "/work" : "/work/src")
                      command: ["/bin/sh", "-ec"]
                      args:
                        - \(command)
                      env:
                        - name: CI
                          value: "true"
                        - name: REGISTRY_AUTH_FILE
                          value: /auth/config.json
                      securityContext:
                        allowPrivilegeEscalation: false
                        procMount: Unmasked
                        appArmorProfile:
                          type: Unconfined
                      volumeMounts:
                        - name: work
                          mountPath: /work
                        - name: plan
                          mountPath: /plan
                        - name: registry
                          mountPath: /auth
                          readOnly: true
                  volumes:
                    - name: work
                      emptyDir: {}
                    - name: plan
                      configMap:
                        name: \(name)-plan
                    - name: registry
                      secret:
                        secretName: \(name)-registry
                        optional: true

            """
        return out
    }

    /// A YAML double-quoted scalar.
    static func yamlQuoted(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
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
        for e in builds.sorted(by: { ($0.wave, $0.id) < ($1.wave, $1.id) }) {
            let why = (e.reasons.first ?? "").replacingAll("|", with: "\\|")
            out += "| `\(e.id)` | \(e.wave) | \(e.shard) | \(why) |\n"
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
