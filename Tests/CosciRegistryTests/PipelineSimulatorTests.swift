import Foundation
import Testing

/// Runs the GitLab child pipeline `cosci plan` renders as GitLab would: every job in its own clone, as soon
/// as the jobs it `needs:` have finished (jobs whose needs are met run at the same time), sharing nothing but
/// a registry cache on loopback; then a publish job. The published repository must equal a one-process
/// `cosci run`'s byte for byte, and no package may be built twice.
@Suite(.serialized) struct PipelineSimulatorTests {
    struct Job {
        let name: String
        let needs: [String]
        let script: [String]
    }

    /// The jobs of a rendered pipeline, read with a YAML parser that is not cosci's (PyYAML).
    func jobs(_ yaml: String) throws -> [Job] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-\(UUID().uuidString).yml")
        defer { try? FileManager.default.removeItem(at: file) }
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        let r = try runTool("python3", ["-c", "import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))", file.path])
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], "\(r.err)")
        return doc.compactMap { name, value -> Job? in
            guard let body = value as? [String: Any], let script = body["script"] as? [String] else { return nil }
            let needs = ((body["needs"] as? [Any]) ?? []).compactMap { need -> String? in
                guard let n = need as? [String: Any], n["pipeline"] == nil else { return nil }
                return n["job"] as? String
            }
            return Job(name: name, needs: needs, script: script)
        }.sorted { $0.name < $1.name }
    }

    /// A fresh clone of the sample for one job, with the plan (the plan job's artifact).
    func clone(_ sample: URL, plan: URL?) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-job-\(UUID().uuidString)")
        let r = try runTool("git", ["clone", "-q", sample.path, dir.path])
        guard r.status == 0 else { throw RegistryFixtureError("clone: \(r.err)") }
        if let plan { try FileManager.default.copyItem(at: plan, to: dir.appendingPathComponent("plan.json")) }
        return dir
    }

    /// Runs the jobs in `needs:` order, each wave in parallel; returns each job's output. A job that fails
    /// stops its dependents.
    func simulate(_ jobs: [Job], sample: URL, plan: URL) throws -> [String: (status: Int32, out: String)] {
        var results: [String: (status: Int32, out: String)] = [:]
        var pending = jobs
        while !pending.isEmpty {
            let ready = pending.filter { job in job.needs.allSatisfy { results[$0] != nil } }
            #expect(!ready.isEmpty, "the pipeline has a cycle among \(pending.map(\.name))")
            if ready.isEmpty { break }
            pending.removeAll { job in ready.contains { $0.name == job.name } }
            var running: [(Job, Process, Pipe, URL)] = []
            for job in ready {
                if job.needs.contains(where: { results[$0]?.status != 0 }) {
                    results[job.name] = (-1, "skipped: a job it needs failed")
                    continue
                }
                let dir = try clone(sample, plan: plan)
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/bin/sh")
                p.arguments = ["-ec", job.script.joined(separator: "\n")]
                p.currentDirectoryURL = dir
                var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("COSCI_") }
                env["CI"] = "true"
                env["HOME"] = dir.path
                env["PATH"] = (Cosci.binary as NSString).deletingLastPathComponent + ":" + (env["PATH"] ?? "/usr/bin:/bin")
                p.environment = env
                let out = Pipe()
                p.standardOutput = out
                p.standardError = out
                try p.run()
                running.append((job, p, out, dir))
            }
            for (job, p, out, dir) in running {
                let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                p.waitUntilExit()
                results[job.name] = (p.terminationStatus, text)
                try? FileManager.default.removeItem(at: dir)
            }
        }
        return results
    }

    @Test("the GitLab child pipeline, run as GitLab runs it on a cold and a warm shared cache, publishes what one cosci run does", arguments: [1, 2, 4, 6])
    func gitlabPipeline(_ shards: Int) throws {
        let registry = try LocalRegistry.start()
        defer { registry.stop() }
        let cache = "docker://\(registry.host)/cos/cache"
        let sample = try Cosci.sample()
        defer { try? FileManager.default.removeItem(at: sample) }

        for round in ["cold", "warm", "edited"] {
            if round == "edited" {
                // A branch that edits one package: the plan holds what it affects, on the warm cache. (Committed
                // at the sample's date: artifacts carry SOURCE_DATE_EPOCH, which keys leave out, so a one-process
                // run from scratch equals the pipeline byte for byte only at the same epoch.)
                let edit = try runTool("/bin/sh", ["-ec", """
                    cd '\(sample.path)' && git checkout -q -b feature
                    printf '# tweak\\n' >> packages/toolchain/yq/build.yaml
                    GIT_AUTHOR_DATE='@1700000000 +0000' GIT_COMMITTER_DATE='@1700000000 +0000' git -c user.name=T -c user.email=t@example.com commit -qam 'tweak yq'
                    """])
                #expect(edit.status == 0, "\(edit.err)")
            }
            // One process, for comparison.
            let single = try clone(sample, plan: nil)
            defer { try? FileManager.default.removeItem(at: single) }
            let alone = try Cosci.run(["run", "--no-images"], in: single)
            #expect(alone.status == 0, "\(alone.err)")

            let planner = try clone(sample, plan: nil)
            defer { try? FileManager.default.removeItem(at: planner) }
            let selection = round == "edited" ? ["--base", "origin/main"] : ["--all"]
            let rendered = try Cosci.run(["plan"] + selection + ["--shards", "\(shards)", "--cache", cache, "--format", "gitlab", "--report", "plan.json"], in: planner)
            #expect(rendered.status == 0, "\(rendered.err)")
            let planDoc = try JSONSerialization.jsonObject(with: try Data(contentsOf: planner.appendingPathComponent("plan.json"))) as? [String: Any]
            let planned = (planDoc?["counts"] as? [String: Int])?["build"] ?? -1
            let pipeline = try jobs(rendered.out)
            for job in pipeline { for line in job.script where line.hasPrefix("cosci build") { #expect(line.contains("--cache \(cache)"), "\(line)") } }
            let results = try simulate(pipeline, sample: sample, plan: planner.appendingPathComponent("plan.json"))
            var builtBy: [String: [String]] = [:]
            for (name, result) in results {
                #expect(result.status == 0, "\(round) \(name): \(result.out)")
                for line in result.out.split(separator: "\n") where line.hasPrefix("built   ") {
                    builtBy[String(line.split(separator: " ")[1]), default: []].append(name)
                }
            }
            #expect(builtBy.values.allSatisfy { $0.count == 1 }, "\(round): built twice: \(builtBy.filter { $0.value.count > 1 })")
            #expect(builtBy.count == planned, "\(round): the plan said \(planned), the jobs built \(builtBy.count)")
            switch round {
            case "cold": #expect(planned == 26)
            case "warm": #expect(planned == 0 && builtBy.isEmpty)
            default: #expect(planned > 0 && planned < 26 && builtBy["toolchain/yq@4.30.1"] != nil, "\(builtBy.keys.sorted())")
            }

            // The publish job: everything comes from the shared cache, nothing is built, the repository is the same.
            let publisher = try clone(sample, plan: nil)
            defer { try? FileManager.default.removeItem(at: publisher) }
            let publish = try Cosci.run(["run", "--no-images", "--cache", cache], in: publisher)
            #expect(publish.status == 0, "\(publish.err)")
            #expect(publish.out.contains("nothing to build") || publish.out.contains("0 built"), "\(publish.out)")
            for file in try FileManager.default.contentsOfDirectory(atPath: single.appendingPathComponent("dist/repository").path).sorted() {
                let a = try Data(contentsOf: single.appendingPathComponent("dist/repository/\(file)"))
                let b = try? Data(contentsOf: publisher.appendingPathComponent("dist/repository/\(file)"))
                #expect(a == b, "\(round): dist/repository/\(file) differs from a one-process run")
            }
        }
    }
}
