import CosciModel
import Foundation
import CosciTestSupport
import Testing

/// End-to-end tests: run the built `cosci` binary on fixture trees and check what a user sees —
/// stdout, stderr and the exit code.
enum CLI {
    static let packageRoot = TestPaths.packageRoot
    static let fixtures = TestPaths.trees

    static var binary: URL { TestPaths.cosci }

    static func run(_ args: [String], cwd: URL? = nil, env: [String: String] = [:]) throws -> ProcessResult {
        try runCosci(args, cwd: cwd, env: env)
    }

    /// A cosci process in CI mode, not started: standard output piped, standard error dropped (for tests that
    /// run several at once).
    static func prepare(_ args: [String], cwd: URL) -> (Process, Pipe) {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        p.currentDirectoryURL = cwd
        p.environment = ProcessInfo.processInfo.environment.merging(["CI": "true"]) { $1 }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        return (p, pipe)
    }

    /// A scratch directory removed by the caller.
    static func temporaryDirectory() throws -> URL { try TestPaths.temporaryDirectory("cosci-cli") }
}

@Suite(.serialized) struct ListCommand {
    @Test func jsonIsCanonicalAndIndependentOfLocation() throws {
        let tree = CLI.fixtures.appendingPathComponent("cos-style")
        let first = try CLI.run(["list", "--tree", tree.path, "--json"])
        #expect(first.status == 0, "\(first.stderr)")
        let second = try CLI.run(["list", "--tree", tree.path, "--json"])
        #expect(first.stdout == second.stdout)

        let copy = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: copy) }
        let moved = copy.appendingPathComponent("elsewhere")
        try FileManager.default.copyItem(at: tree, to: moved)
        let third = try CLI.run(["list", "--json"], cwd: moved)
        #expect(third.status == 0, "\(third.stderr)")
        #expect(third.stdout == first.stdout, "a copy of the tree in another directory lists byte-identically")

        let doc = try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: Any]
        #expect(doc?["schema"] as? String == "cosci.list/v1")
        let packages = try #require(doc?["packages"] as? [[String: Any]])
        let ids = packages.compactMap { $0["id"] as? String }
        #expect(ids.contains("system/cos@0.6.0"))
        #expect(ids.contains("recovery/cos-img@0.6.0"))
        #expect(ids == ids.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        let cos = try #require(packages.first { $0["id"] as? String == "system/cos@0.6.0" })
        #expect(cos["path"] as? String == "packages/cos")
        #expect((cos["key"] as? String)?.hasPrefix("sha256:") == true)
        #expect(cos["deps"] as? [String] == ["system/cos-setup@1:0.4.1", "system/cos-wrapper@0.32-7", "toolchain/yip@0.9.4-1"])
    }

    @Test func flavorChangesOnlyPackagesThatUseIt() throws {
        let tree = CLI.fixtures.appendingPathComponent("cos-style").path
        let green = try CLI.run(["list", "--tree", tree, "--json"])
        let orange = try CLI.run(["list", "--tree", tree, "--json", "--flavor", "orange"])
        #expect(green.status == 0 && orange.status == 0)
        func keys(_ s: String) throws -> [String: String] {
            let doc = try JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any]
            let packages = (doc?["packages"] as? [[String: Any]]) ?? []
            return Dictionary(uniqueKeysWithValues: packages.map { ($0["id"] as! String, $0["key"] as! String) })
        }
        let g = try keys(green.stdout), o = try keys(orange.stdout)
        #expect(g["distro/base@0.20210719"] != o["distro/base@0.20210719"])
        #expect(g["utils/installer@0.1"] == o["utils/installer@0.1"], "a package that reads no flavor value keeps its key")
        let env = try CLI.run(["list", "--tree", tree, "--json"], env: ["COSCI_FLAVOR": "orange"])
        #expect(env.stdout == orange.stdout, "COSCI_FLAVOR works like --flavor")
    }

    @Test func unknownFlavorIsAUsageError() throws {
        let r = try CLI.run(["list", "--tree", CLI.fixtures.appendingPathComponent("cos-style").path, "--flavor", "purple"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("unknown flavor \"purple\""))
        #expect(r.stderr.contains("known flavors: green, orange"))
    }
}

@Suite(.serialized) struct CheckCommand {
    @Test func reportsEveryProblemWithFileAndLine() throws {
        let r = try CLI.run(["check", "--tree", CLI.fixtures.appendingPathComponent("broken").path])
        #expect(r.status == 2)
        let expected = [
            "packages/bad-yaml/definition.yaml:4: error: YAML syntax",
            "packages/bad-template/build.yaml:2: error: template:",
            "packages/missing-value/build.yaml:3: error: template: no value for .Values.nope",
            "packages/unknown-func/build.yaml:2: error: template: function \"frobnicate\" not defined",
            "dependency cycle: broken/cycle-a@1.0 → broken/cycle-b@1.0 → broken/cycle-a@1.0",
            "packages/missing-dep/build.yaml:4: error: missing dependency: broken/missing-dep@1.0 requires nothing/nowhere >=1",
            "error: duplicate package broken/dup@1.0: already defined at packages/dup1/definition.yaml:1",
            "packages/bad-version/definition.yaml:3: error: version: invalid version \"1.0 beta\"",
            "packages/bad-rendered/build.yaml:3: error: YAML syntax",
            "packages/bad-field/build.yaml:1: error: steps: expected a list of strings",
        ]
        for line in expected {
            #expect(r.stdout.contains(line), "missing: \(line)\n--- output:\n\(r.stdout)")
        }
        #expect(r.stdout.contains("error(s)"))
        #expect(!r.stdout.contains("broken/ok"), "a good package raises nothing")
    }

    @Test func checkJSONListsDiagnostics() throws {
        let r = try CLI.run(["check", "--json", "--tree", CLI.fixtures.appendingPathComponent("broken").path])
        #expect(r.status == 2)
        let doc = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(doc?["schema"] as? String == "cosci.check/v1")
        #expect((doc?["errors"] as? Int ?? 0) >= 10)
    }

    @Test func cleanTreePasses() throws {
        let r = try CLI.run(["check", "--tree", CLI.fixtures.appendingPathComponent("cos-style").path])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("0 error(s)"))
    }

    @Test func listRefusesABrokenTree() throws {
        let r = try CLI.run(["list", "--tree", CLI.fixtures.appendingPathComponent("broken").path])
        #expect(r.status == 2)
        #expect(r.stderr.contains("`cosci check` lists them all"))
    }
}

@Suite(.serialized) struct ExplainAndGraph {
    @Test func explainShowsFieldsAndReasons() throws {
        let tree = CLI.fixtures.appendingPathComponent("cos-style").path
        let r = try CLI.run(["explain", "system/cos@0.6.0", "--tree", tree])
        #expect(r.status == 0, "\(r.stderr)")
        for fragment in ["key       sha256:", "platform  linux/amd64", "spec      sha256:", "stanza    sha256:",
                         "content   sha256:", "build.yaml", "setup.yaml", "image     (none)", "deps      3",
                         "system/cos-wrapper@0.32-7 provides utils/installer >=0"] {
            #expect(r.stdout.contains(fragment), "missing \(fragment)")
        }
        #expect(!r.stdout.contains("collection.yaml  "), "collection.yaml is not part of the content digest")
        #expect(!r.stdout.contains("recovery-img/"), "nested package directories are excluded")

        let json = try CLI.run(["explain", "toolchain/yq", "--tree", tree, "--json"])
        let doc = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((doc?["packages"] as? [Any])?.count == 2, "both versions of toolchain/yq are explained")
    }

    @Test func explainUnknownPackageSuggests() throws {
        let tree = CLI.fixtures.appendingPathComponent("cos-style").path
        let r = try CLI.run(["explain", "system/coss", "--tree", tree])
        #expect(r.status == 64, "a mistyped name is a usage error")
        #expect(r.stderr.contains("no package matches system/coss"))
        #expect(r.stderr.contains("did you mean: system/cos?"), "\(r.stderr)")
        // Bare names, as luet users type them.
        let bare = try CLI.run(["explain", "installer", "--tree", tree])
        #expect(bare.status == 0, "\(bare.stderr)")
        #expect(bare.stdout.contains("utils/installer@"), "\(bare.stdout.prefix(300))")
        let ambiguous = try CLI.run(["explain", "cos", "--tree", tree])
        #expect(ambiguous.status == 64)
        #expect(ambiguous.stderr.contains("cos names packages in several categories: recovery/cos, system/cos"), "\(ambiguous.stderr)")
        let typo = try CLI.run(["explain", "istaller", "--tree", tree])
        #expect(typo.status == 64)
        #expect(typo.stderr.contains("did you mean: installer?"), "\(typo.stderr)")
    }

    @Test func graphFormats() throws {
        let tree = CLI.fixtures.appendingPathComponent("cos-style").path
        let dot = try CLI.run(["graph", "--tree", tree])
        #expect(dot.status == 0)
        #expect(dot.stdout.hasPrefix("digraph cosci {"))
        #expect(dot.stdout.contains("\"system/cos@0.6.0\" -> \"toolchain/yip@0.9.4-1\" [style=dashed, label=\"copy\"];"))
        let json = try CLI.run(["graph", "--format", "json", "--tree", tree])
        let doc = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(doc?["schema"] as? String == "cosci.graph/v1")
        let bad = try CLI.run(["graph", "--format", "svg", "--tree", tree])
        #expect(bad.status == 64)
    }
}

/// A scratch git repository holding a copy of the `cos-style` fixture tree.
typealias ScratchRepo = GitScratch

extension GitScratch {
    convenience init() throws { try self.init(copying: CLI.fixtures.appendingPathComponent("cos-style")) }

    /// Nothing to do: the directory goes with the fixture.
    func remove() {}
}

@Suite(.serialized) struct ChangeCommands {
    @Test func affectedAndPlanOnABranch() throws {
        let repo = try ScratchRepo()
        defer { repo.remove() }
        try repo.git("checkout", "-q", "-b", "feature")
        try repo.append("packages/toolchain/yip/build.yaml", "# tweak\n")
        try repo.git("commit", "-q", "-am", "tweak yip")

        let text = try CLI.run(["affected"], cwd: repo.root, env: ["CI": "true"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("5 affected (0 new), 0 removed, 6 unchanged"), "\(text.stdout)")
        #expect(text.stdout.contains("packages/toolchain/yip/build.yaml changed → toolchain/yip@0.9.4-1 → (build dependency) system/cos@0.6.0"))

        let report = repo.root.appendingPathComponent("affected.json")
        let json = try CLI.run(["affected", "--json", "--report", report.path], cwd: repo.root, env: ["CI": "true"])
        #expect(json.status == 0)
        #expect(try String(contentsOf: report, encoding: .utf8) == json.stdout, "--report writes the same canonical JSON")
        let doc = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect(doc?["schema"] as? String == "cosci.affected/v1")
        // For scripts: the same packages, one per line, nothing else.
        let names = try CLI.run(["affected", "--format", "names"], cwd: repo.root, env: ["CI": "true"])
        let ids = ((doc?["affected"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }
        #expect(names.status == 0 && ids.count == 5)
        #expect(names.stdout == ids.map { $0 + "\n" }.joined(), "\(names.stdout)")

        let github = try CLI.run(["plan", "--format", "github", "--shards", "2"], cwd: repo.root, env: ["CI": "true"])
        #expect(github.status == 0)
        #expect(github.stdout.hasPrefix("build=true\nmatrix={\"include\":["))

        let summary = repo.root.appendingPathComponent("summary.md")
        let plan = try CLI.run(["plan", "--summary", summary.path], cwd: repo.root, env: ["CI": "true"])
        let planDoc = try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any]
        #expect(planDoc?["schema"] as? String == "cosci.plan/v1")
        // A cold cache: the 5 affected packages and the 4 unchanged ones they build on, each planned once.
        #expect((planDoc?["counts"] as? [String: Int])?["build"] == 9)
        #expect(try String(contentsOf: summary, encoding: .utf8).contains("| `toolchain/yip@0.9.4-1` |"))
    }

    @Test func nothingToBuildOnMain() throws {
        let repo = try ScratchRepo()
        defer { repo.remove() }
        let r = try CLI.run(["plan", "--format", "github"], cwd: repo.root, env: ["CI": "true"])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("build=false\n"))
        #expect(r.stderr.contains("nothing to build"))
    }

    @Test func missingBaseExitsWithAdvice() throws {
        let repo = try ScratchRepo()
        defer { repo.remove() }
        let r = try CLI.run(["affected", "--base", "origin/nope"], cwd: repo.root, env: ["CI": "true"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("cannot resolve base revision \"origin/nope\""))
        #expect(r.stderr.contains("--fallback all"))
        let all = try CLI.run(["affected", "--base", "origin/nope", "--fallback", "all"], cwd: repo.root, env: ["CI": "true"])
        #expect(all.status == 0)
        #expect(all.stdout.contains("fallback:"))
    }

    @Test func uncommittedChangesAreIncludedOnALaptop() throws {
        let repo = try ScratchRepo()
        defer { repo.remove() }
        try repo.append("packages/installer/build.yaml", "# local edit\n")
        let laptop = try CLI.run(["affected"], cwd: repo.root, env: ["CI": ""])
        #expect(laptop.stdout.contains("utils/installer@0.1"), "\(laptop.stdout)\(laptop.stderr)")
        let ci = try CLI.run(["affected"], cwd: repo.root, env: ["CI": "true"])
        #expect(!ci.stdout.contains("utils/installer@0.1"), "CI compares commits only")
    }
}
