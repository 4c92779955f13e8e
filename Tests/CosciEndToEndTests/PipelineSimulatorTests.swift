#if canImport(Glibc)
    import Glibc
#endif
import CosciTestSupport
import Foundation
import Testing

/// Runs what `cosci plan` renders as each CI would: the GitLab child pipeline (a job as soon as the jobs it
/// `needs:` have finished), the GitHub Actions workflow of `ci/github` with the rendered matrix (every shard at
/// once), and the Kubernetes Indexed Job (every index at once, each cloning the repository in its init
/// container). Every job runs in its own directory, sharing nothing but a registry cache on loopback; then the
/// publish job. The published repository must equal a one-process `cosci run`'s byte for byte, no package may
/// be built twice, and a failing job stops its dependents and the publish, leaving the published index as it was.
@Suite(.serialized) struct PipelineSimulatorTests {
    struct Job {
        let name: String
        let needs: [String]
        let script: String
        var environment: [String: String] = [:]
        /// A fresh clone of the sample (with the plan) to run in; else an empty directory (`$JOB_DIR`).
        var clones = true
    }

    /// A YAML document read with a parser that is not cosci's (PyYAML), as JSON.
    func yaml(_ text: String) throws -> Any {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-\(UUID().uuidString).yml")
        defer { try? FileManager.default.removeItem(at: file) }
        try text.write(to: file, atomically: true, encoding: .utf8)
        let r = try runTool("python3", ["-c", "import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))", file.path])
        guard r.status == 0 else { throw TestSupportError("PyYAML: \(r.stderr)") }
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
    }

    /// The jobs of a GitLab child pipeline.
    func gitlabJobs(_ text: String) throws -> [Job] {
        let doc = try #require(try yaml(text) as? [String: Any])
        return doc.compactMap { name, value -> Job? in
            guard let body = value as? [String: Any], let script = body["script"] as? [String] else { return nil }
            let needs = ((body["needs"] as? [Any]) ?? []).compactMap { need -> String? in
                guard let n = need as? [String: Any], n["pipeline"] == nil else { return nil }
                return n["job"] as? String
            }
            return Job(name: name, needs: needs, script: script.joined(separator: "\n"))
        }.sorted { $0.name < $1.name }
    }

    /// The pods of a Kubernetes Indexed Job: each runs the init container's script, then the container's, in
    /// its own directory standing for the pod's volumes (`/work` → `$JOB_DIR/work`, the plan ConfigMap at
    /// `/plan/plan.json`), with `JOB_COMPLETION_INDEX` and the containers' `env:`.
    func kubernetesJobs(_ text: String, plan: URL) throws -> [Job] {
        let job = try #require(try yaml(text) as? [String: Any])
        #expect(job["kind"] as? String == "Job" && job["apiVersion"] as? String == "batch/v1")
        let spec = try #require(job["spec"] as? [String: Any])
        #expect(spec["completionMode"] as? String == "Indexed")
        let completions = try #require(spec["completions"] as? Int)
        let pod = try #require((spec["template"] as? [String: Any])?["spec"] as? [String: Any])
        let containers = ((pod["initContainers"] as? [[String: Any]]) ?? []) + ((pod["containers"] as? [[String: Any]]) ?? [])
        #expect(containers.allSatisfy { ($0["image"] as? String)?.isEmpty == false })
        var env: [String: String] = [:]
        var lines: [String] = []
        for c in containers {
            for e in (c["env"] as? [[String: Any]]) ?? [] { if let n = e["name"] as? String, let v = e["value"] as? String { env[n] = v } }
            let mountsWork = ((c["volumeMounts"] as? [[String: Any]]) ?? []).contains { $0["mountPath"] as? String == "/work" }
            #expect(mountsWork, "every container sees the work volume")
            if let dir = c["workingDir"] as? String { lines.append("cd \"\(dir)\"") }
            lines += ((c["args"] as? [String]) ?? []).map { "(\($0))" }
        }
        env["REGISTRY_AUTH_FILE"] = nil  // the optional Secret is not mounted here
        let script = lines.joined(separator: "\n")
            .replacingOccurrences(of: "/plan/plan.json", with: plan.path)
            .replacingOccurrences(of: "/work", with: "$JOB_DIR/work")
        return (0..<completions).map { i in
            Job(name: "index-\(i)", needs: [], script: "mkdir -p \"$JOB_DIR/work\"\n" + script, environment: env.merging(["JOB_COMPLETION_INDEX": "\(i)"]) { $1 }, clones: false)
        }
    }

    /// A fresh clone of `repository` for one job, with the plan (the plan job's artifact).
    func clone(_ repository: URL, plan: URL?) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-job-\(UUID().uuidString)")
        let r = try runTool("git", ["clone", "-q", repository.path, dir.path])
        guard r.status == 0 else { throw TestSupportError("clone: \(r.stderr)") }
        if let plan { try FileManager.default.copyItem(at: plan, to: dir.appendingPathComponent("plan.json")) }
        return dir
    }

    /// Runs the jobs in `needs:` order, each wave at once (bash, as the runners do); returns each job's status and
    /// output. A job whose needs failed is skipped (-1). With `failFast` (GitHub's `fail-fast`, a Job's
    /// `maxFailedIndexes: 0`), the first job of a wave that fails stops the others of that wave (SIGTERM to
    /// their sessions: 143).
    func simulate(_ jobs: [Job], repository: URL, plan: URL?, failFast: Bool = false) throws -> [String: (status: Int32, stdout: String)] {
        var results: [String: (status: Int32, stdout: String)] = [:]
        var pending = jobs
        let logs = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-sim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: logs) }
        while !pending.isEmpty {
            let ready = pending.filter { job in job.needs.allSatisfy { results[$0] != nil } }
            #expect(!ready.isEmpty, "the pipeline has a cycle among \(pending.map(\.name))")
            if ready.isEmpty { break }
            pending.removeAll { job in ready.contains { $0.name == job.name } }
            var running: [(job: Job, process: Process, log: URL, dir: URL)] = []
            for job in ready {
                if job.needs.contains(where: { results[$0]?.status != 0 }) {
                    results[job.name] = (-1, "skipped: a job it needs failed")
                    continue
                }
                let dir: URL
                if job.clones {
                    dir = try clone(repository, plan: plan)
                } else {
                    dir = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-pod-\(UUID().uuidString)")
                    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                }
                // In a session of its own (so a stop reaches everything it started); its status goes to a file
                // when it ends.
                let log = logs.appendingPathComponent(UUID().uuidString + ".log")
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/bin/bash")
                p.arguments = [
                    "-c", #"setsid -w /bin/bash -c 'echo $$ > "$JOB_PID"; exec /bin/bash -eo pipefail -c "$JOB_SCRIPT"'; echo $? > "$JOB_STATUS""#,
                ]
                p.currentDirectoryURL = dir
                var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("COSCI_") }
                env["CI"] = "true"
                env["HOME"] = dir.path
                env["JOB_DIR"] = dir.path
                env["PATH"] = (TestPaths.cosci.path as NSString).deletingLastPathComponent + ":" + (env["PATH"] ?? "/usr/bin:/bin")
                env["JOB_SCRIPT"] = job.script
                env["JOB_STATUS"] = log.path + ".status"
                env["JOB_PID"] = log.path + ".pid"
                p.environment = env.merging(job.environment) { $1 }
                FileManager.default.createFile(atPath: log.path, contents: nil)
                let handle = try FileHandle(forWritingTo: log)
                p.standardOutput = handle
                p.standardError = handle
                p.standardInput = FileHandle.nullDevice
                try p.run()
                try handle.close()
                running.append((job, p, log, dir))
            }
            // Wait for the wave; with failFast, a failure stops the rest (their sessions get SIGTERM).
            func status(_ log: URL) -> Int32? {
                (try? String(contentsOf: URL(fileURLWithPath: log.path + ".status"), encoding: .utf8))
                    .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            }
            // A job may not have written its pid yet when another fails: it is stopped as soon as it has.
            var stopped: Set<pid_t> = []
            while running.contains(where: { status($0.log) == nil }) {
                if failFast && running.contains(where: { (status($0.log) ?? 0) != 0 }) {
                    for r in running where status(r.log) == nil {
                        let pid = (try? String(contentsOf: URL(fileURLWithPath: r.log.path + ".pid"), encoding: .utf8))
                            .flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
                        if let pid, stopped.insert(pid).inserted { kill(-pid, SIGTERM) }
                    }
                }
                usleep(50_000)
            }
            for r in running {
                // The job wrote its status as its last act: the wrapper is ending (a bounded wait: see waitUntilExit(atMost:)).
                r.process.waitUntilExit(atMost: 30)
                let text = (try? String(contentsOf: r.log, encoding: .utf8)) ?? ""
                results[r.job.name] = (status(r.log) ?? -2, text)
                try? FileManager.default.removeItem(at: r.dir)
            }
        }
        return results
    }

    /// Which job built which package (`built   ID` lines), from the jobs' output.
    func builtBy(_ results: [String: (status: Int32, stdout: String)]) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for (name, result) in results {
            for line in result.stdout.split(separator: "\n") where line.hasPrefix("built   ") {
                out[String(line.split(separator: " ")[1]), default: []].append(name)
            }
        }
        return out
    }

    /// Every file of `a` equals the same file of `b`.
    func expectSameRepository(_ a: URL, _ b: URL, _ what: String) throws {
        for file in try FileManager.default.contentsOfDirectory(atPath: a.path).sorted() {
            let x = try Data(contentsOf: a.appendingPathComponent(file))
            let y = try? Data(contentsOf: b.appendingPathComponent(file))
            #expect(x == y, "\(what): \(file) differs from a one-process run")
        }
    }

    /// Commits an edit in `repository` at the sample's date (artifacts carry SOURCE_DATE_EPOCH, which keys
    /// leave out: a one-process run from scratch equals the pipeline byte for byte only at the same epoch).
    func commitEdit(_ repository: URL, _ script: String, _ message: String) throws {
        let r = try runTool("/bin/sh", ["-ec", """
            cd '\(repository.path)'
            \(script)
            GIT_AUTHOR_DATE='@1700000000 +0000' GIT_COMMITTER_DATE='@1700000000 +0000' git -c user.name=T -c user.email=t@example.com commit -qam '\(message)'
            """])
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test("the GitLab child pipeline, run as GitLab runs it on a cold and a warm shared cache, publishes what one cosci run does", arguments: [1, 2, 4, 6])
    func gitlabPipeline(_ shards: Int) throws {
        let registry = try LocalRegistry.start()
        defer { registry.stop() }
        let cache = "docker://\(registry.host)/cos/cache"
        let sample = try Cosci.sample()
        defer { try? FileManager.default.removeItem(at: sample) }

        for round in ["cold", "warm", "edited", "broken"] {
            if round == "edited" {
                // A branch that edits one package: the plan holds what it affects, on the warm cache.
                try commitEdit(sample, "git checkout -q -b feature && printf '# tweak\\n' >> packages/toolchain/yq/build.yaml", "tweak yq")
            }
            if round == "broken" {
                try commitEdit(sample, "sed -i 's/^steps:$/steps:\\n- exit 3/' packages/toolchain/yq/build.yaml", "break yq")
            }
            // One process, for comparison.
            let single = try clone(sample, plan: nil)
            defer { try? FileManager.default.removeItem(at: single) }
            let alone = try Cosci.run(["run", "--no-images"], in: single)
            #expect((alone.status == 0) == (round != "broken"), "\(alone.stderr)")

            let planner = try clone(sample, plan: nil)
            defer { try? FileManager.default.removeItem(at: planner) }
            let selection = round == "edited" || round == "broken" ? ["--base", "origin/main"] : ["--all"]
            let rendered = try Cosci.run(["plan"] + selection + ["--shards", "\(shards)", "--cache", cache, "--format", "gitlab", "--report", "plan.json"], in: planner)
            #expect(rendered.status == 0, "\(rendered.stderr)")
            let planDoc = try JSONSerialization.jsonObject(with: try Data(contentsOf: planner.appendingPathComponent("plan.json"))) as? [String: Any]
            let planned = (planDoc?["counts"] as? [String: Int])?["build"] ?? -1
            let pipeline = try gitlabJobs(rendered.stdout)
            for job in pipeline where job.script.hasPrefix("cosci build") { #expect(job.script.contains("--cache \(cache)"), "\(job.script)") }
            let results = try simulate(pipeline, repository: sample, plan: planner.appendingPathComponent("plan.json"))
            let built = builtBy(results)
            #expect(built.values.allSatisfy { $0.count == 1 }, "\(round): built twice: \(built.filter { $0.value.count > 1 })")
            if round == "broken" {
                // The shard that builds yq fails; every shard that needs it is skipped; nothing is published.
                let failed = results.filter { $0.value.status > 0 }.map(\.key)
                #expect(failed.count == 1, "\(results.mapValues(\.status))")
                #expect(results.values.allSatisfy { $0.status == 0 || $0.status == -1 || $0.stdout.contains("exited with status 3") })
                continue
            }
            for (name, result) in results { #expect(result.status == 0, "\(round) \(name): \(result.stdout)") }
            #expect(built.count == planned, "\(round): the plan said \(planned), the jobs built \(built.count)")
            switch round {
            case "cold": #expect(planned == 26)
            case "warm": #expect(planned == 0 && built.isEmpty)
            default: #expect(planned > 0 && planned < 26 && built["toolchain/yq@4.30.1"] != nil, "\(built.keys.sorted())")
            }

            // The publish job: everything comes from the shared cache, nothing is built, the repository is the same.
            let publisher = try clone(sample, plan: nil)
            defer { try? FileManager.default.removeItem(at: publisher) }
            let publish = try Cosci.run(["run", "--no-images", "--cache", cache], in: publisher)
            #expect(publish.status == 0, "\(publish.stderr)")
            #expect(publish.stdout.contains("nothing to build") || publish.stdout.contains("0 built"), "\(publish.stdout)")
            try expectSameRepository(single.appendingPathComponent("dist/repository"), publisher.appendingPathComponent("dist/repository"), round)
        }
    }

    @Test("the Kubernetes Indexed Job, every pod at once cloning the repository, builds the plan once; one failing pod fails the Job", arguments: [3])
    func kubernetesJob(_ shards: Int) throws {
        let registry = try LocalRegistry.start()
        defer { registry.stop() }
        let cache = "docker://\(registry.host)/cos/cache"
        let sample = try Cosci.sample()
        defer { try? FileManager.default.removeItem(at: sample) }
        for round in ["cold", "edited", "broken"] {
            if round == "edited" { try commitEdit(sample, "printf '# tweak\\n' >> packages/toolchain/yq/build.yaml", "tweak yq") }
            if round == "broken" { try commitEdit(sample, "sed -i 's/^steps:$/steps:\\n- exit 3/' packages/toolchain/yq/build.yaml", "break yq") }
            let planner = try clone(sample, plan: nil)
            defer { try? FileManager.default.removeItem(at: planner) }
            let selection = round == "cold" ? ["--all"] : ["--base", "HEAD~1"]
            let rendered = try Cosci.run(["plan"] + selection + ["--shards", "\(shards)", "--cache", cache, "--format", "k8s", "--image", "cosci:test", "--report", "plan.json"], in: planner)
            #expect(rendered.status == 0, "\(rendered.stderr)")
            #expect(rendered.stdout.contains("name: cosci-build-") && rendered.stdout.contains("configMap:\n            name: cosci-build-"))
            let planned = ((try JSONSerialization.jsonObject(with: try Data(contentsOf: planner.appendingPathComponent("plan.json"))) as? [String: Any])?["counts"] as? [String: Int])?["build"] ?? -1
            let pods = try kubernetesJobs(rendered.stdout, plan: planner.appendingPathComponent("plan.json"))
            let results = try simulate(pods, repository: sample, plan: nil, failFast: true)
            let built = builtBy(results)
            #expect(built.values.allSatisfy { $0.count == 1 }, "\(round): built twice: \(built.filter { $0.value.count > 1 })")
            if round == "broken" {
                // maxFailedIndexes: 0 — one failed index fails the Job, and the publish step after it does not run.
                #expect(results.values.contains { $0.status != 0 && $0.stdout.contains("exited with status 3") }, "\(results.mapValues(\.stdout))")
                #expect(rendered.stdout.contains("maxFailedIndexes: 0"))
                continue
            }
            for (name, result) in results { #expect(result.status == 0, "\(round) \(name): \(result.stdout)") }
            #expect(built.count == planned, "\(round): the plan said \(planned), the pods built \(built.count)")
            if round == "cold" { #expect(planned == 26) } else { #expect(built["toolchain/yq@4.30.1"] != nil && planned < 26) }

            let single = try clone(sample, plan: nil)
            defer { try? FileManager.default.removeItem(at: single) }
            #expect(try Cosci.run(["run", "--no-images"], in: single).status == 0)
            let publisher = try clone(sample, plan: nil)
            defer { try? FileManager.default.removeItem(at: publisher) }
            let publish = try Cosci.run(["run", "--no-images", "--cache", cache], in: publisher)
            #expect(publish.status == 0 && (publish.stdout.contains("nothing to build") || publish.stdout.contains("0 built")), "\(publish.stdout)\(publish.stderr)")
            try expectSameRepository(single.appendingPathComponent("dist/repository"), publisher.appendingPathComponent("dist/repository"), round)
        }
    }

    /// The sample in `manifest/` of a repository, as `ci/github` expects it.
    func sampleRepository() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-gh-\(UUID().uuidString)")
        let manifest = TestPaths.packageRoot.appendingPathComponent("manifest").path
        let r = try runTool("/bin/sh", ["-ec", """
            mkdir -p '\(dir.path)/manifest'
            tar -C '\(manifest)' --exclude=.cosci --exclude=dist -cf - . | tar -C '\(dir.path)/manifest' -xf -
            cd '\(dir.path)' && git init -q -b main && git add -A
            GIT_AUTHOR_DATE='@1700000000 +0000' GIT_COMMITTER_DATE='@1700000000 +0000' git -c user.name=T -c user.email=t@example.com commit -qm sample
            """])
        guard r.status == 0 else { throw TestSupportError("cannot make the sample: \(r.stderr)") }
        return dir
    }

    /// The `run:` scripts of a workflow job's steps that call cosci, with the `${{ … }}` expressions given;
    /// a step whose `if:` the expressions make false is left out.
    func githubSteps(_ job: [String: Any], expressions: [String: String]) throws -> String {
        var lines: [String] = []
        for step in (job["steps"] as? [[String: Any]]) ?? [] {
            guard let run = step["run"] as? String,
                run.split(separator: "\n").contains(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix("cosci ") })
            else { continue }
            if let condition = step["if"] as? String {
                guard let value = expressions[condition] else { throw TestSupportError("no value for the condition \(condition)") }
                if value != "true" { continue }
            }
            lines.append(try substitute(run, expressions))
        }
        return lines.joined(separator: "\n")
    }

    /// Replaces every `${{ expression }}`; an expression without a value fails the test.
    func substitute(_ text: String, _ expressions: [String: String]) throws -> String {
        var out = text
        while let start = out.range(of: "${{"), let end = out.range(of: "}}", range: start.upperBound..<out.endIndex) {
            let expression = out[start.upperBound..<end.lowerBound].trimmingCharacters(in: .whitespaces)
            guard let value = expressions[expression] else { throw TestSupportError("no value for ${{ \(expression) }}") }
            out.replaceSubrange(start.lowerBound..<end.upperBound, with: value)
        }
        return out
    }

    @Test("ci/github/cosci-pipeline.yml with the rendered matrix: shards at once, publish only after every shard succeeded", arguments: [1, 4])
    func githubWorkflow(_ shards: Int) throws {
        let registry = try LocalRegistry.start()
        defer { registry.stop() }
        let repository = try sampleRepository()
        defer { try? FileManager.default.removeItem(at: repository) }
        let workflowText = try String(contentsOf: TestPaths.packageRoot.appendingPathComponent("ci/github/cosci-pipeline.yml"), encoding: .utf8)
            .replacingOccurrences(of: "--shards 8", with: "--shards \(shards)")
        let workflow = try #require(try yaml(workflowText) as? [String: Any])
        let jobs = try #require(workflow["jobs"] as? [String: [String: Any]])
        let (plan, build, publish) = (try #require(jobs["plan"]), try #require(jobs["build"]), try #require(jobs["publish"]))
        #expect(build["needs"] as? String == "plan" && (publish["needs"] as? [String]) == ["plan", "build"])
        let owner = "org"
        let published = "docker://\(registry.host)/\(owner)/cos-testing-green"
        var before = "0000000000000000000000000000000000000000"

        for round in ["cold", "warm", "edited", "broken"] {
            let previous = try runTool("git", ["-C", repository.path, "rev-parse", "HEAD"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            // A change to main is a release: what it alters gets new revisions (publishing refuses a version
            // already published with another key).
            let bump = "'\(TestPaths.cosci.path)' bump --tree manifest toolchain/yip --revdeps >/dev/null"
            if round == "edited" { try commitEdit(repository, "printf '# tweak\\n' >> manifest/packages/toolchain/yip/build.yaml && \(bump)", "tweak yip") }
            if round == "broken" { try commitEdit(repository, "sed -i 's/^steps:$/steps:\\n- exit 3/' manifest/packages/toolchain/yip/build.yaml && \(bump)", "break yip") }
            if round == "edited" || round == "broken" { before = previous }
            let indexBefore = try Cosci.digest("\(published):repository.yaml")
            // A push to main: the expressions GitHub would fill in.
            var expressions = [
                "github.event_name": "push", "github.event.before": before, "github.base_ref": "", "github.ref": "refs/heads/main",
                "github.repository_owner": owner, "github.ref_name": "main", "startsWith(github.ref, 'refs/tags/')": "false",
            ]
            let environment = ["COSCI_CACHE_REPO": try substitute((workflow["env"] as? [String: String])?["COSCI_CACHE_REPO"] ?? "", expressions)
                .replacingOccurrences(of: "ghcr.io", with: registry.host)]
            #expect(environment["COSCI_CACHE_REPO"] == "docker://\(registry.host)/\(owner)/cos-cache")

            // The plan job writes $GITHUB_OUTPUT and uploads plan.json.
            let planDir = try clone(repository, plan: nil)
            defer { try? FileManager.default.removeItem(at: planDir) }
            let planScript = try githubSteps(plan, expressions: expressions)
            var planEnv = environment
            planEnv["GITHUB_OUTPUT"] = planDir.appendingPathComponent("github-output").path
            planEnv["GITHUB_STEP_SUMMARY"] = planDir.appendingPathComponent("summary.md").path
            let planned = try simulate([Job(name: "plan", needs: [], script: "cd '\(planDir.path)'\n" + planScript, environment: planEnv, clones: false)], repository: repository, plan: nil)
            #expect(planned["plan"]?.status == 0, "\(round): \(planned["plan"]?.stdout ?? "")")
            var outputs: [String: String] = [:]
            for line in try String(contentsOf: planDir.appendingPathComponent("github-output"), encoding: .utf8).split(separator: "\n") {
                if let eq = line.firstIndex(of: "=") { outputs[String(line[..<eq])] = String(line[line.index(after: eq)...]) }
            }
            let summary = try String(contentsOf: planDir.appendingPathComponent("summary.md"), encoding: .utf8)
            #expect(summary.contains("## cosci plan"), "\(summary)")

            // The build job, once per matrix entry, all at once; skipped when the plan says build=false.
            var buildResult = "skipped"
            var results: [String: (status: Int32, stdout: String)] = [:]
            if outputs["build"] == "true" {
                let matrix = try #require(try JSONSerialization.jsonObject(with: Data((outputs["matrix"] ?? "").utf8)) as? [String: Any])
                let include = (matrix["include"] as? [[String: Any]]) ?? []
                #expect(!include.isEmpty && include.count <= 256)
                var matrixJobs: [Job] = []
                for entry in include {
                    var e = expressions
                    for (k, v) in entry { e["matrix.\(k)"] = "\(v)" }
                    e["fromJSON(needs.plan.outputs.matrix)"] = outputs["matrix"]
                    let script = try githubSteps(build, expressions: e)
                    #expect(script.contains("--cache \"$COSCI_CACHE_REPO\""), "\(script)")
                    matrixJobs.append(Job(name: "build (\(entry["shard"] ?? ""))", needs: [], script: script, environment: environment))
                }
                results = try simulate(matrixJobs, repository: repository, plan: planDir.appendingPathComponent("plan.json"), failFast: true)
                buildResult = results.values.allSatisfy { $0.status == 0 } ? "success" : "failure"
            }
            let built = builtBy(results)
            #expect(built.values.allSatisfy { $0.count == 1 }, "\(round): built twice: \(built.filter { $0.value.count > 1 })")
            let planDoc = try JSONSerialization.jsonObject(with: try Data(contentsOf: planDir.appendingPathComponent("plan.json"))) as? [String: Any]
            let count = (planDoc?["counts"] as? [String: Int])?["build"] ?? -1
            switch round {
            case "cold": #expect(count == 26 && built.count == 26 && buildResult == "success", "\(results.mapValues(\.stdout))")
            case "warm": #expect(count == 0 && outputs["build"] == "false" && buildResult == "skipped")
            case "edited":
                #expect(count > 0 && count < 26 && built.count == count && buildResult == "success", "\(results.mapValues(\.stdout))")
                #expect(built.keys.contains { $0.hasPrefix("toolchain/yip@") }, "\(built.keys.sorted())")
            default: #expect(buildResult == "failure" && results.values.contains { $0.stdout.contains("exited with status 3") })
            }

            // The publish job runs when its `if:` holds: only after every shard succeeded (or none had to run).
            expressions["needs.plan.result"] = "success"
            expressions["needs.build.result"] = buildResult
            let condition = try #require(publish["if"] as? String)
            let runs = condition.contains("needs.build.result == 'success' || needs.build.result == 'skipped'")
                && condition.contains("!cancelled()") && condition.contains("needs.plan.result == 'success'")
            #expect(runs, "the publish condition: \(condition)")
            if buildResult == "failure" {
                #expect(try Cosci.digest("\(published):repository.yaml") == indexBefore, "the published index is untouched")
                continue
            }
            let publisherDir = try clone(repository, plan: nil)
            defer { try? FileManager.default.removeItem(at: publisherDir) }
            let publishScript = try githubSteps(publish, expressions: expressions).replacingOccurrences(of: "ghcr.io", with: registry.host)
            var publishEnv = environment
            publishEnv["GITHUB_STEP_SUMMARY"] = publisherDir.appendingPathComponent("summary.md").path
            let ran = try simulate([Job(name: "publish", needs: [], script: "cd '\(publisherDir.path)'\n" + publishScript, environment: publishEnv, clones: false)], repository: repository, plan: nil)
            let out = ran["publish"]?.stdout ?? ""
            #expect(ran["publish"]?.status == 0, "\(round): \(out)")
            #expect(out.contains("nothing to build") || out.contains("0 built"), "the publish job builds nothing: \(out)")
            #expect(try Cosci.digest("\(published):repository.yaml") != nil)

            let single = try clone(repository, plan: nil)
            defer { try? FileManager.default.removeItem(at: single) }
            #expect(try Cosci.run(["run", "--tree", "manifest"], in: single).status == 0)
            try expectSameRepository(
                single.appendingPathComponent("manifest/dist/repository"), publisherDir.appendingPathComponent("manifest/dist/repository"), round)
        }
    }
}
