import CosciModel
import CosciPlanner
import Foundation
import CosciTestSupport
import Testing

@testable import CosciEngine

/// The engine's tests drive a scratch repository holding a copy of a fixture tree.
typealias GitFixture = GitScratch

extension GitScratch {
    /// A copy of the fixture tree `tree` committed as "initial".
    convenience init(tree: String = "cos-style") throws {
        try self.init(copying: Paths.trees.appendingPathComponent(tree))
    }

    func project(flavor: String? = nil) throws -> Project {
        try Project.resolve(ProjectFlags(tree: root.path, flavor: flavor), environment: [:], cwd: root.path)
    }

    /// The oracle: `cosci list` keys of a plain checkout of `rev` (extracted with `git archive`).
    func listKeys(at rev: String, flavor: String? = nil) throws -> [String: String] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-checkout-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let tar = dir.appendingPathComponent("tree.tar")
        try git("archive", "-o", tar.path, rev)
        try shell("tar -xf '\(tar.path)' -C '\(dir.path)'")
        let project = try Project.resolve(ProjectFlags(tree: dir.path, flavor: flavor), environment: [:], cwd: dir.path)
        let analysis = Analysis.run(project)
        return Dictionary(uniqueKeysWithValues: analysis.keys.map { ($0.key.description, $0.value.key.description) })
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// One generated history step and what a user expects of it beyond the oracle.
struct Mutation: Sendable, CustomStringConvertible {
    let description: String
    let apply: @Sendable (GitFixture) throws -> Void
    /// Packages that must be affected (a subset check), and packages that must not be.
    var mustAffect: [String] = []
    var mustNotAffect: [String] = []
    var nothingAffected = false
    /// How the head must be had when only the base is saved (nil: not checked).
    var headOrigin: SideOrigin? = nil
}

/// main..HEAD with only main's summary saved: the head is derived from it, or loaded.
func derivedHeadReport(_ repo: GitFixture) throws -> AffectedReport {
    let project = try repo.project()
    try? FileManager.default.removeItem(atPath: project.summaryDirectory)
    _ = try ChangeDetection.affected(project, AffectedOptions(base: "main", head: "main"))
    return try ChangeDetection.affected(project, AffectedOptions(base: "main", head: "HEAD"))
}

let mutations: [Mutation] = [
    Mutation(description: "edit a build spec", apply: { try $0.replace("packages/toolchain/yip/build.yaml", "steps:\n", "steps:\n- echo more\n") },
             mustAffect: ["toolchain/yip@0.9.4-1", "system/cos@0.6.0"], mustNotAffect: ["toolchain/yq@4.30.1", "distro/base@0.20210719"],
             headOrigin: .derived),
    Mutation(description: "add a file to a package", apply: { try $0.write("packages/toolchain/yq/patch.diff", "--- a\n") },
             mustAffect: ["toolchain/yq@4.30.1", "toolchain/yq@4.25.2-2", "system/cos-wrapper@0.32-7"], headOrigin: .derived),
    Mutation(description: "rename a package directory, content identical", apply: { try $0.move("packages/installer", "packages/legacy-installer") },
             nothingAffected: true),
    Mutation(description: "move a package to another category", apply: {
        try $0.replace("packages/installer/definition.yaml", "category: \"utils\"", "category: \"tools\"")
        try $0.move("packages/installer", "packages/tools/installer")
    }, mustAffect: ["tools/installer@0.1"]),
    Mutation(description: "delete a collection stanza", apply: {
        try $0.replace("packages/toolchain/yq/collection.yaml", "- name: \"yq\"\n  category: \"toolchain\"\n  version: 4.30.1\n", "")
    }, mustNotAffect: ["toolchain/yq@4.25.2-2"]),
    Mutation(description: "change a values file", apply: { try $0.replace("values/green.yaml", "codename: \"green\"", "codename: \"emerald\"") },
             mustAffect: ["system/cos-setup@1:0.4.1", "distro/base@0.20210719"], mustNotAffect: ["utils/installer@0.1"], headOrigin: .loaded),
    Mutation(description: "add an unused value", apply: { try $0.write("values/green.yaml", try $0.read("values/green.yaml") + "unused: 1\n") },
             nothingAffected: true),
    Mutation(description: "change a shared template", apply: { try $0.replace("packages/templates/tools.yaml", "install -m 0755", "install -D -m 0755") },
             mustAffect: ["toolchain/yip@0.9.4-1"], mustNotAffect: ["distro/base@0.20210719", "toolchain/yq@4.30.1"]),
    Mutation(description: "bump a version", apply: { try $0.replace("packages/cos-setup/definition.yaml", "1:0.4.1", "1:0.4.2") },
             mustAffect: ["system/cos-setup@1:0.4.2", "system/cos@0.6.0"], headOrigin: .loaded),
    Mutation(description: "edit a dependency selector", apply: { try $0.replace("packages/cos-wrapper/build.yaml", "\"<4.30\"", "\">=4.30\"") },
             mustAffect: ["system/cos-wrapper@0.32-7"], mustNotAffect: ["toolchain/yq@4.25.2-2"], headOrigin: .loaded),
    Mutation(description: "comment-only edit of a definition", apply: { try $0.write("packages/installer/definition.yaml", try $0.read("packages/installer/definition.yaml") + "# a comment\n") },
             mustAffect: ["utils/installer@0.1"], mustNotAffect: ["system/cos@0.6.0"], headOrigin: .derived),
    Mutation(description: "bump one stanza of a collection", apply: { try $0.replace("packages/toolchain/yq/collection.yaml", "4.25.2-2", "4.25.2-3") },
             mustAffect: ["toolchain/yq@4.25.2-3"], mustNotAffect: ["toolchain/yq@4.30.1"]),
]

@Suite(.serialized) struct AffectedOracle {
    /// For each generated history step: the affected set equals the set of packages whose `cosci list` key
    /// differs between checkouts of base and head (plus packages new at head); removed ones are reported apart.
    @Test(arguments: mutations)
    func affectedEqualsKeyDifference(_ mutation: Mutation) throws {
        let repo = try GitFixture()
        try repo.git("checkout", "-q", "-b", "feature")
        try mutation.apply(repo)
        try repo.commitAll(mutation.description)

        let report = try ChangeDetection.affected(try repo.project(), AffectedOptions(base: "main", head: "HEAD"))
        let baseKeys = try repo.listKeys(at: "main"), headKeys = try repo.listKeys(at: "HEAD")
        let expected = Set(headKeys.filter { baseKeys[$0.key] != $0.value }.map(\.key))
        let actual = Set(report.set.affected.map(\.id.description))
        #expect(actual == expected, "\(mutation): extra \(actual.subtracting(expected)), missing \(expected.subtracting(actual))")
        let expectedRemoved = Set(baseKeys.keys).subtracting(headKeys.keys)
        #expect(Set(report.set.removed.map(\.id.description)) == expectedRemoved)
        for a in report.set.affected {
            #expect(a.key.description == headKeys[a.id.description])
            #expect(a.baseKey?.description == baseKeys[a.id.description])
            #expect(!a.reasons.isEmpty)
            #expect(a.reasons.allSatisfy { $0.contains(a.id.description) || $0.hasPrefix("also changed") })
        }
        // A second run finds the first run's memo and loads both sides in parallel: same answer.
        let warm = try ChangeDetection.affected(try repo.project(), AffectedOptions(base: "main", head: "HEAD"))
        #expect(CanonicalJSON.encode(warm.document(platform: .linuxAMD64)) == CanonicalJSON.encode(report.document(platform: .linuxAMD64)))
        // With only the base saved, the head is derived from it where the change allows: same answer again.
        let derived = try derivedHeadReport(repo)
        #expect(CanonicalJSON.encode(derived.document(platform: .linuxAMD64)) == CanonicalJSON.encode(report.document(platform: .linuxAMD64)))
        if let origin = mutation.headOrigin {
            #expect(derived.origins.first == origin, "\(mutation): head \(derived.origins)")
            // With nothing saved, the head is loaded and the base made from it the same way.
            #expect(report.origins == [.loaded, origin], "\(mutation): \(report.origins)")
        }
        for id in mutation.mustAffect { #expect(actual.contains(id), "\(mutation): \(id) should be affected") }
        for id in mutation.mustNotAffect { #expect(!actual.contains(id), "\(mutation): \(id) should not be affected") }
        if mutation.nothingAffected { #expect(actual.isEmpty && report.set.removed.isEmpty, "\(mutation): \(actual)") }
    }

    @Test func reasonChainNamesTheFileAndTheDependencyPath() throws {
        let repo = try GitFixture()
        try repo.git("checkout", "-q", "-b", "feature")
        try repo.write("packages/toolchain/yip/build.yaml", try repo.read("packages/toolchain/yip/build.yaml") + "# tweak\n")
        try repo.commitAll("tweak yip")
        let report = try ChangeDetection.affected(try repo.project(), AffectedOptions())
        let cos = try #require(report.set.affected.first { $0.id.description == "system/cos@0.6.0" })
        #expect(cos.reasons.first == "packages/toolchain/yip/build.yaml changed → toolchain/yip@0.9.4-1 → (build dependency) system/cos@0.6.0")
        #expect(report.base == report.mergeBase, "the default base is the merge-base with main")
        let values = try ChangeDetection.affected(try repo.project(), AffectedOptions())
        #expect(CanonicalJSON.encode(values.document(platform: .linuxAMD64)) == CanonicalJSON.encode(report.document(platform: .linuxAMD64)),
                "the report is byte-identical for the same inputs")
    }

    @Test func valuesChangeIsNamedInTheReason() throws {
        let repo = try GitFixture()
        try repo.git("checkout", "-q", "-b", "feature")
        try repo.replace("values/green.yaml", "codename: \"green\"", "codename: \"emerald\"")
        try repo.commitAll("codename")
        let report = try ChangeDetection.affected(try repo.project(), AffectedOptions(base: "main"))
        let setup = try #require(report.set.affected.first { $0.id.description == "system/cos-setup@1:0.4.1" })
        #expect(setup.reasons.first == "values/green.yaml changed → rendered build spec changed → system/cos-setup@1:0.4.1")
    }

    @Test func dirtyWorkTreeIsTheHead() throws {
        let repo = try GitFixture()
        try repo.git("checkout", "-q", "-b", "feature")
        try repo.write("packages/installer/notes.txt", "uncommitted\n")
        let clean = try ChangeDetection.affected(try repo.project(), AffectedOptions(dirty: false))
        #expect(clean.set.affected.isEmpty)
        let dirty = try ChangeDetection.affected(try repo.project(), AffectedOptions(dirty: true))
        #expect(dirty.dirty)
        #expect(dirty.set.affected.map(\.id.description) == ["utils/installer@0.1"])
        #expect(dirty.set.affected.first?.reasons == ["packages/installer/notes.txt added → utils/installer@0.1"])
    }
}

@Suite(.serialized) struct CloneShapes {
    @Test func missingBaseSaysWhatToFetch() throws {
        let repo = try GitFixture()
        #expect {
            try ChangeDetection.affected(try repo.project(), AffectedOptions(base: "origin/release-9"))
        } throws: { error in
            "\(error)".contains("cannot resolve base revision \"origin/release-9\"") && "\(error)".contains("git fetch")
        }
        let all = try ChangeDetection.affected(try repo.project(), AffectedOptions(base: "origin/release-9", fallbackAll: true))
        #expect(all.set.affected.count == 11)
        #expect(all.fallback?.contains("--fallback all") == true)
    }

    @Test func shallowCloneThatMissesTheMergeBase() throws {
        let repo = try GitFixture()
        try repo.git("checkout", "-q", "-b", "feature")
        for i in 0..<3 {
            try repo.write("packages/installer/n\(i).txt", "\(i)\n")
            try repo.commitAll("feature \(i)")
        }
        try repo.git("checkout", "-q", "main")
        try repo.write("values/orange.yaml", try repo.read("values/orange.yaml") + "extra: 1\n")
        try repo.commitAll("main moves on")
        let clone = repo.root.deletingLastPathComponent().appendingPathComponent("cosci-shallow-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: clone) }
        try repo.git("clone", "-q", "--depth", "1", "--no-single-branch", "--branch", "feature", "file://\(repo.root.path)", clone.path)
        let project = try Project.resolve(ProjectFlags(tree: clone.path), environment: [:], cwd: clone.path)
        #expect {
            try ChangeDetection.affected(project, AffectedOptions())
        } throws: { error in
            "\(error)".contains("shallow clone") && "\(error)".contains("--unshallow") && "\(error)".contains("--fallback all")
        }
        let all = try ChangeDetection.affected(project, AffectedOptions(fallbackAll: true))
        #expect(all.shallow)
        #expect(all.fallback != nil)
        #expect(all.set.affected.count == 11)
    }

    @Test func detachedHeadUsesTheDefaultBranch() throws {
        let repo = try GitFixture()
        try repo.git("checkout", "-q", "-b", "feature")
        try repo.write("packages/installer/x.txt", "x\n")
        try repo.commitAll("x")
        try repo.git("checkout", "-q", "--detach", "HEAD")
        let report = try ChangeDetection.affected(try repo.project(), AffectedOptions())
        #expect(report.detached)
        #expect(report.set.affected.map(\.id.description) == ["utils/installer@0.1"])
    }

    @Test func notARepository() throws {
        let project = try Project.resolve(
            ProjectFlags(tree: Paths.trees.appendingPathComponent("cos-style").path), environment: [:], cwd: "/")
        // The fixture lives inside cosci's own clone; copy it out to be outside any repository.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-norepo-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: URL(fileURLWithPath: project.root), to: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        let outside = try Project.resolve(ProjectFlags(tree: dir.path), environment: [:], cwd: dir.path)
        #expect { try ChangeDetection.affected(outside, AffectedOptions()) } throws: { "\($0)".contains("not inside a git repository") }
    }
}

@Suite(.serialized) struct FlavorMatrix {
    @Test func everyFlavorAndPlatformIsPlannedAndKeyedApart() throws {
        let repo = try GitFixture()
        try repo.replace("cosci.yaml", "platform: linux/amd64", "platforms: [linux/amd64, linux/arm64]")
        try repo.commitAll("two platforms")
        var options = PlanOptions()
        options.all = true
        let (variants, _) = try Planning.planAll(ProjectFlags(tree: repo.root.path), environment: [:], cwd: "/", options: options)
        #expect(variants.map { "\($0.context.flavor ?? "-") \($0.context.platform)" } == [
            "green linux/amd64", "green linux/arm64", "orange linux/amd64", "orange linux/arm64",
        ])
        let keys = variants.map { v in Set(v.plan.entries.map(\.key)) }
        #expect(keys[0].isDisjoint(with: keys[1]), "every key differs between platforms")
        #expect(keys[2].isDisjoint(with: keys[3]))
        func key(_ v: Int, _ id: String) -> String? { variants[v].plan.entries.first { $0.id.description == id }?.key.description }
        #expect(key(0, "distro/base@0.20210719") != key(2, "distro/base@0.20210719"), "a package reading flavor values differs per flavor")
        #expect(key(0, "utils/installer@0.1") == key(2, "utils/installer@0.1"), "one that reads none is shared across flavors")
        let github = MatrixRendererProbe.github(variants)
        #expect(github.contains(#""flavor":"orange""#) && github.contains(#""platform":"linux/arm64""#))
    }

    @Test func flavorAllIsOnlyForPlan() throws {
        let repo = try GitFixture()
        #expect(throws: Diagnostic.self) { try Project.resolve(ProjectFlags(tree: repo.root.path, flavor: "all"), environment: [:], cwd: "/") }
    }
}

import CosciPlanner

enum MatrixRendererProbe {
    static func github(_ variants: [PlanVariant]) -> String {
        MatrixRenderer(variants.map { PlanRenderer(plan: $0.plan, context: $0.context) }).github()
    }
}

@Suite(.serialized) struct RandomHistories {
    /// Seeded multi-commit histories: several mutations, each its own commit, compared end to end. Mutations
    /// that no longer apply (a file already moved) are skipped; the oracle still has to hold.
    @Test(arguments: 1...6)
    func affectedEqualsKeyDifferenceOverSeveralCommits(_ seed: Int) throws {
        var rng = SeededGenerator(seed: UInt64(seed))
        let repo = try GitFixture()
        try repo.git("checkout", "-q", "-b", "feature")
        var applied: [String] = []
        for _ in 0..<3 {
            let m = mutations[Int(rng.next() % UInt64(mutations.count))]
            if (try? m.apply(repo)) != nil {
                try repo.commitAll(m.description)
                applied.append(m.description)
            }
        }
        let report = try ChangeDetection.affected(try repo.project(), AffectedOptions(base: "main", head: "HEAD"))
        let baseKeys = try repo.listKeys(at: "main"), headKeys = try repo.listKeys(at: "HEAD")
        let expected = Set(headKeys.filter { baseKeys[$0.key] != $0.value }.map(\.key))
        #expect(Set(report.set.affected.map(\.id.description)) == expected, "seed \(seed): \(applied)")
        #expect(Set(report.set.removed.map(\.id.description)) == Set(baseKeys.keys).subtracting(headKeys.keys))
        let derived = try derivedHeadReport(repo)
        #expect(CanonicalJSON.encode(derived.document(platform: .linuxAMD64)) == CanonicalJSON.encode(report.document(platform: .linuxAMD64)),
                "seed \(seed): head \(derived.origins)")
    }
}

/// A small deterministic generator (SplitMix64) so that test histories are the same on every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct GitListingOrder {
    /// The loader expects files in path byte order; git's flattened tree order must give exactly that.
    @Test func gitTreeOrderIsPathByteOrder() throws {
        let repo = try GitFixture()
        for path in ["packages/foo.txt", "packages/foo/bar", "packages/foo0", "packages/a-b", "packages/a/x", "packages/Z"] {
            try repo.write(path, "x\n")
        }
        try repo.commitAll("names that sort differently as directories")
        let project = try repo.project()
        let git = try CosciGit.GitRepository(discoveringFrom: repo.root.path)
        let snapshot = try GitCommitSnapshot(
            repositoryPath: repo.root.path, repository: git, commit: try git.commit("HEAD"), projectPrefix: "",
            trees: project.trees, valuesFiles: [])
        let paths = snapshot.files.map(\.path)
        #expect(paths == paths.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        #expect(paths.contains("packages/foo/bar") && paths.contains("packages/foo0"))
    }
}

import CosciGit
