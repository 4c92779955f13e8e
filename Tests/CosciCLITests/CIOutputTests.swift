import CosciTestSupport
import Foundation
import Testing

/// What a build prints in CI, read as GitHub Actions and GitLab read it: each package's whole log right after
/// its line in a section of its own (collapsed when it passed, open when it failed), sections never
/// interleaved, progress counting only what this process builds, and no way for a build's output to issue a
/// workflow command.
@Suite(.serialized) struct CIOutput {
    /// GitHub's reading of a log: the groups (title → lines) and the annotations, honouring `::stop-commands::`.
    static func github(_ text: String) -> (groups: [String: [String]], errors: [String], commands: [String]) {
        var groups: [String: [String]] = [:]
        var errors: [String] = []
        var commands: [String] = []
        var open: String?
        var stopToken: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if let token = stopToken {
                if line == "::\(token)::" { stopToken = nil } else if let open { groups[open, default: []].append(line) }
                continue
            }
            if line.hasPrefix("::stop-commands::") { stopToken = String(line.dropFirst("::stop-commands::".count)); continue }
            if line.hasPrefix("::group::") {
                #expect(open == nil, "a group opened inside another: \(line)")
                open = String(line.dropFirst("::group::".count))
                groups[open!] = []
                continue
            }
            if line == "::endgroup::" { open = nil; continue }
            if line.hasPrefix("::error") { errors.append(line); continue }
            if line.hasPrefix("::") { commands.append(line) }
            if let open { groups[open, default: []].append(line) }
        }
        #expect(open == nil && stopToken == nil, "every group and stop-commands block is closed")
        return (groups, errors, commands)
    }

    @Test func githubGroupsHoldEachLogAndAFailureIsAnOpenAnnotatedLog() throws {
        let repo = try BuildRepo()
        defer { repo.remove() }
        // A build whose output tries to issue a workflow command, and one that fails.
        try repo.replace("packages/toolchain/yip/build.yaml", "steps:", "steps:\n- echo '::add-mask::leaked'; echo 'yip says hello'")
        try repo.replace("packages/utils/k9s/build.yaml", "steps:", "steps:\n- echo 'k9s is broken' && exit 4")
        let r = try repo.cosci(["build", "--all", "--keep-going", "--jobs", "4"], env: ["GITHUB_ACTIONS": "true"])
        #expect(r.status != 0)
        let read = Self.github(r.stderr)
        #expect(read.commands.isEmpty, "a build's output issued workflow commands: \(read.commands)")
        let yip = try #require(read.groups.first { $0.key.hasPrefix("log of toolchain/yip@") }?.value, "\(read.groups.keys.sorted())")
        #expect(yip.contains("yip says hello") && yip.contains("::add-mask::leaked"), "the group holds the whole log: \(yip)")
        #expect(!read.groups.values.joined().contains { $0.contains("k9s is broken") }, "the failing log is not in a collapsed group")
        #expect(!read.groups.keys.contains { $0.contains("utils/k9s") }, "the failed build is not in a collapsed group")
        #expect(read.errors.contains { $0.hasPrefix("::error title=cosci: utils/k9s@") }, "\(read.errors)")
        #expect(r.stderr.contains("k9s is broken"), "its log is shown")
        // Progress counts this process's builds: never beyond the total.
        for line in r.stderr.split(separator: "\n") where line.hasPrefix("[") {
            let parts = line.dropFirst().split(separator: "]")[0].split(separator: "/").compactMap { Int($0) }
            #expect(parts.count == 2 && parts[0] <= parts[1], "\(line)")
        }
    }

    @Test func gitlabSectionsAreCollapsedUnlessTheBuildFailed() throws {
        let repo = try BuildRepo()
        defer { repo.remove() }
        try repo.replace("packages/utils/k9s/build.yaml", "steps:", "steps:\n- echo 'k9s is broken' && exit 4")
        let r = try repo.cosci(["build", "--all", "--keep-going"], env: ["GITLAB_CI": "true"])
        #expect(r.status != 0)
        let lines = r.stderr.split(separator: "\n").map(String.init)
        let starts = lines.filter { $0.contains("section_start:") }
        let ends = lines.filter { $0.contains("section_end:") }
        #expect(starts.count == ends.count && starts.count >= 20, "\(starts.count) sections, \(ends.count) ends")
        #expect(starts.filter { $0.contains("[collapsed=false]") }.count == 1 && starts.contains { $0.contains("[collapsed=false]") && $0.contains("log of utils/k9s") })
        // Sections follow one another: each ends before the next starts.
        var depth = 0
        for line in lines {
            if line.contains("section_start:") { depth += 1 }
            if line.contains("section_end:") { depth -= 1 }
            #expect(depth == 0 || depth == 1, "sections interleave")
        }
    }
}

/// `cosci check` for CI: GitHub annotations and a GitLab code quality report, paths from the repository root.
@Suite(.serialized) struct CheckForCI {
    @Test func annotationsAndCodeQualityNameFilesFromTheRepositoryRoot() throws {
        // The project in manifest/ of a repository, as the ci/ templates expect, with one error.
        let root = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try BuildRepo.sh("""
            mkdir -p manifest && tar -C '\(CLI.packageRoot.path)/manifest' --exclude=.cosci --exclude=dist -cf - . | tar -C manifest -xf -
            mkdir -p manifest/packages/system/broken && printf 'name: broken\\ncategory: system\\nversion: "1.0"\\n' > manifest/packages/system/broken/definition.yaml
            printf 'requires:\\n- {category: none, name: such, version: ">=1"}\\nsteps: [true]\\n' > manifest/packages/system/broken/build.yaml
            git init -q -b main && git add -A && git -c user.name=T -c user.email=t@e commit -qm x
            """, cwd: root)
        let r = try CLI.run(["check", "--tree", "manifest", "--format", "github", "--code-quality", "cq.json"], cwd: root, env: ["CI": "true"])
        #expect(r.status == 2, "\(r.stdout)\(r.stderr)")
        let annotation = r.stdout.split(separator: "\n").first { $0.hasPrefix("::error ") }.map(String.init) ?? ""
        #expect(annotation.hasPrefix("::error file=manifest/packages/system/broken/build.yaml,line=2,title=cosci check"), "\(r.stdout)")
        #expect(annotation.contains("::missing dependency: system/broken@1.0 requires none/such >=1"), "\(annotation)")
        // GitLab's report: a JSON array of issues with a path from the repository root and a line.
        let data = try Data(contentsOf: root.appendingPathComponent("cq.json"))
        let issues = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        let issue = try #require(issues.first { ($0["description"] as? String)?.contains("none/such") == true })
        let location = issue["location"] as? [String: Any]
        #expect(location?["path"] as? String == "manifest/packages/system/broken/build.yaml")
        #expect((location?["lines"] as? [String: Any])?["begin"] as? Int == 2)
        #expect(issue["severity"] as? String == "major" && (issue["fingerprint"] as? String)?.count == 64)
        #expect(Set(issues.compactMap { $0["fingerprint"] as? String }).count == issues.count, "fingerprints are unique")
    }
}

/// Step summaries stay within what GitHub shows (1 MiB), and say what they left out.
@Suite(.serialized) struct SummaryLimit {
    @Test func aSummaryOfThousandsOfPackagesIsCutBelowOneMiBWithANote() throws {
        let root = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        // 4,500 packages with long names: the plan's table alone is well over 1 MiB.
        try BuildRepo.sh("""
            python3 -c '
            import os
            for i in range(1, 4501):
                d = "packages/p%d" % i
                os.makedirs(d)
                open(d + "/definition.yaml", "w").write("name: a-package-with-a-rather-long-name-to-fill-the-summary-table-of-a-ci-step-with-many-rows-%d\\ncategory: generated\\nversion: \\"1.0\\"\\n" % i)
                open(d + "/build.yaml", "w").write("steps: [true]\\n")
            '
            git init -q -b main && git add -A && git -c user.name=T -c user.email=t@e commit -qm many
            """, cwd: root)
        let r = try CLI.run(["plan", "--all", "--report", "plan.json", "--summary", "summary.md"], cwd: root, env: ["CI": "true"])
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try Data(contentsOf: root.appendingPathComponent("summary.md"))
        #expect(summary.count <= 1_000_000 && summary.count > 900_000, "\(summary.count) bytes")
        let text = String(decoding: summary, as: UTF8.self)
        #expect(text.hasPrefix("## cosci plan"))
        let last = text.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("> **Cut:** ") && last.contains("more line(s) are not shown") && last.contains("plan.json"), "\(last)")
        // Only whole lines are kept.
        let body = text.split(separator: "\n").dropLast().filter { $0.hasPrefix("| `generated/") }
        #expect(body.allSatisfy { $0.hasSuffix("|") })
    }
}

/// `--json` on the commands that act: one canonical document each on standard output, nothing else there.
@Suite(.serialized) struct ActingCommandsJSON {
    @Test func buildVerifyAndAssemblePrintTheirDocuments() throws {
        let repo = try BuildRepo.built()
        defer { repo.remove() }
        try repo.replace("packages/utils/k9s/build.yaml", "steps:", "steps:\n- true")
        let build = try repo.cosci(["build", "--all", "--json"])
        #expect(build.status == 0, "\(build.stderr)")
        let b = json(build.stdout)
        #expect(b["schema"] as? String == "cosci.run/v1" && b["result"] as? String == "success")
        #expect((b["counts"] as? [String: Int]) == ["built": 1, "cached": 25, "failed": 0, "skipped": 0], "\(b["counts"] ?? "")")

        let verify = try repo.cosci(["verify", "--rebuild", "--json", "utils/k9s", "toolchain/yip"])
        #expect(verify.status == 0, "\(verify.stderr)")
        let v = json(verify.stdout)
        #expect(v["schema"] as? String == "cosci.verify/v1" && v["reproducible"] as? Int == 2, "\(verify.stdout)")

        let assemble = try repo.cosci(["assemble", "--json"])
        #expect(assemble.status == 0, "\(assemble.stderr)")
        let a = json(assemble.stdout)
        let images = (a["images"] as? [[String: Any]]) ?? []
        #expect(a["schema"] as? String == "cosci.assemble/v1" && images.first?["name"] as? String == "cos", "\(assemble.stdout)")
        #expect((images.first?["digest"] as? String)?.hasPrefix("sha256:") == true)
    }
}
