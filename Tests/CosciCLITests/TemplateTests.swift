import CosciTestSupport
import Foundation
import Testing

/// Every cosci command line the CI templates in `ci/` and the rendered pipelines run exists: commands, flags
/// and their values parse (`COSCI_PARSE_ONLY=1`), with the CI's variables standing in as plain words.
@Suite struct Templates {
    /// `cosci …` command lines of a template, continuation lines joined, CI variables replaced.
    static func commandLines(_ text: String) -> [String] {
        let joined = text.replacingOccurrences(of: "\\\n", with: " ")
        var out: [String] = []
        for raw in joined.split(separator: "\n") {
            var line = raw.trimmingCharacters(in: .whitespaces)
            for prefix in ["- ", "run: "] where line.hasPrefix(prefix) { line = String(line.dropFirst(prefix.count)) }
            // A shell line that ends by exec'ing cosci (the Kubernetes Job picks its shard first).
            if let exec = line.range(of: "; exec cosci ") { line = String(line[line.index(exec.lowerBound, offsetBy: 7)...]) }
            guard line.hasPrefix("cosci "), !line.hasPrefix("cosci: ") else { continue }
            if let redirect = line.range(of: " >") { line = String(line[..<redirect.lowerBound]) }
            // Stand-ins: a shard for the matrix's shard/of, a word for every other variable.
            line = line.replacingOccurrences(of: #""\$\{\{ matrix\.shard \}\}/\$\{\{ matrix\.of \}\}""#, with: "0/2", options: .regularExpression)
            line = line.replacingOccurrences(of: #""\$\{JOB_COMPLETION_INDEX\}/([0-9]+)""#, with: "0/$1", options: .regularExpression)
            line = line.replacingOccurrences(of: #""\$1/([0-9]+)""#, with: "0/$1", options: .regularExpression)
            line = line.replacingOccurrences(of: #""?\$\{base_args\[@\]\}"?|\$base_args"#, with: "--all", options: .regularExpression)
            line = line.replacingOccurrences(of: #"\$\{\{[^}]*\}\}"#, with: "x", options: .regularExpression)
            line = line.replacingOccurrences(of: #"\$\{?[A-Z_]+\}?"#, with: "x", options: .regularExpression)
            line = line.replacingOccurrences(of: "\"", with: "")
            out.append(line)
        }
        return out
    }

    func parses(_ line: String) throws -> ProcessResult {
        let args = line.split(separator: " ").map(String.init).dropFirst()
        return try CLI.run(Array(args), env: ["COSCI_PARSE_ONLY": "1"])
    }

    @Test("the command lines of ci/github, ci/gitlab and ci/kubernetes parse")
    func ciTemplates() throws {
        var count = 0
        for file in ["ci/github/cosci-pipeline.yml", "ci/github/cosci-check.yml", "ci/gitlab/.gitlab-ci.yml", "ci/kubernetes/README.md"] {
            let text = try String(contentsOf: CLI.packageRoot.appendingPathComponent(file), encoding: .utf8)
            for line in Self.commandLines(text) {
                count += 1
                let r = try parses(line)
                #expect(r.status == 0, "\(file): \(line): \(r.stderr)")
            }
        }
        #expect(count >= 8, "the templates' command lines were found")
        // The lint itself catches a wrong flag.
        #expect(try parses("cosci build --plan plan.json --shards 0/2").status == 64)
    }

    @Test("the command lines of rendered pipelines parse")
    func renderedPipelines() throws {
        let repo = try BuildRepo()
        defer { repo.remove() }
        for format in ["gitlab", "k8s", "github"] {
            let r = try repo.cosci(["plan", "--all", "--shards", "3", "--format", format])
            #expect(r.status == 0, "\(r.stderr)")
            let lines = Self.commandLines(r.stdout)
            if format != "github" { #expect(!lines.isEmpty, "\(format): \(r.stdout)") }
            for line in lines {
                let p = try parses(line)
                #expect(p.status == 0, "\(format): \(line): \(p.stderr)")
            }
        }
    }

    /// A linter of `scripts/bootstrap --test` (`.build/pytools/bin/NAME`); nil outside CI when it is missing.
    static func linter(_ name: String) throws -> String? {
        let path = CLI.packageRoot.appendingPathComponent(".build/pytools/bin/\(name)").path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "\(name) is missing: run scripts/bootstrap --test"])
        }
        return nil
    }

    /// Runs a linter on files; its status and what it said.
    static func lint(_ tool: String, _ args: [String]) throws -> (status: Int32, stdout: String) {
        let r = try runTool(tool, args, timeout: 600)
        return (r.status, r.stdout + r.stderr)
    }

    @Test("the templates and rendered pipelines pass their CI's own schemas (check-jsonschema, kubernetes-validate --strict)")
    func schemas() throws {
        guard let jsonschema = try Self.linter("check-jsonschema"), let kubernetes = try Self.linter("kubernetes-validate") else {
            return  // not bootstrapped here (outside CI): scripts/bootstrap --test installs them
        }
        let root = CLI.packageRoot.path
        let github = try Self.lint(jsonschema, ["--builtin-schema", "vendor.github-workflows", root + "/ci/github/cosci-pipeline.yml", root + "/ci/github/cosci-check.yml"])
        #expect(github.status == 0, "\(github.stdout)")
        let gitlab = try Self.lint(jsonschema, ["--builtin-schema", "vendor.gitlab-ci", root + "/ci/gitlab/.gitlab-ci.yml"])
        #expect(gitlab.status == 0, "\(gitlab.stdout)")

        let repo = try BuildRepo()
        defer { repo.remove() }
        for (flags, name) in [(["--all", "--shards", "3"], "one"), (["--all", "--shards", "2", "--flavor", "all"], "matrix")] {
            for format in ["gitlab", "k8s"] {
                let r = try repo.cosci(["plan"] + flags + ["--format", format])
                #expect(r.status == 0, "\(r.stderr)")
                let file = repo.path("\(name)-\(format).yaml")
                try r.stdout.write(to: file, atomically: true, encoding: .utf8)
                let checked = format == "gitlab"
                    ? try Self.lint(jsonschema, ["--builtin-schema", "vendor.gitlab-ci", file.path])
                    : try Self.lint(kubernetes, ["--strict", "--kubernetes-version", "1.30.0", file.path])
                #expect(checked.status == 0, "\(name) \(format): \(checked.stdout)")
            }
        }
        // The linters catch a wrong field.
        let wrong = repo.path("wrong.yaml")
        try "apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\nspec: {completionz: 1, template: {spec: {containers: []}}}\n".write(to: wrong, atomically: true, encoding: .utf8)
        #expect(try Self.lint(kubernetes, ["--strict", wrong.path]).status != 0)
    }
}

