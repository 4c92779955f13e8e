import CosciGit
import CosciModel
import CosciPlanner
import CosciTemplate
import Foundation
import Testing

@testable import CosciEngine

/// Saved summaries of analysed commits: a later run reads them instead of loading the trees, and must give
/// the same answer as a run that loads everything; a damaged or stale summary is never used.
@Suite(.serialized) struct SavedSummaries {
    func summaryFiles(_ project: Project) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: project.summaryDirectory)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    func document(_ report: AffectedReport) -> String { CanonicalJSON.encode(report.document(platform: .linuxAMD64)) }

    @Test func aSecondRunReadsTheSavedSidesAndAgrees() throws {
        let repo = try GitFixture()
        try repo.git("checkout", "-q", "-b", "feature")
        try repo.replace("packages/toolchain/yip/build.yaml", "steps:\n", "steps:\n- echo more\n")
        try repo.commitAll("edit yip")
        let project = try repo.project()
        let options = AffectedOptions(base: "main", head: "HEAD")

        let cold = try ChangeDetection.affected(project, options)
        #expect(summaryFiles(project).count == 2, "one summary per side")
        #expect(!cold.set.affected.isEmpty)
        let warm = try ChangeDetection.affected(project, options)
        #expect(document(warm) == document(cold))

        // A damaged file (one byte flipped) is ignored, and replaced by a good one.
        let victim = project.summaryDirectory + "/" + summaryFiles(project)[0]
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: victim)))
        bytes[bytes.count / 2] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: victim))
        let repaired = try ChangeDetection.affected(project, options)
        #expect(document(repaired) == document(cold))
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: victim))) != bytes, "the damaged summary was written again")
        #expect(try ChangeDetection.affected(project, options).set.affected.map(\.id) == cold.set.affected.map(\.id))
    }

    @Test func aValuesFileOutsideTheRepositoryIsPartOfTheSummaryID() throws {
        let repo = try GitFixture()
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-values-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: outside) }
        try Data("codename: \"green\"\n".utf8).write(to: outside)
        try repo.git("checkout", "-q", "-b", "feature")
        try repo.write("packages/cos-setup/definition.yaml", try repo.read("packages/cos-setup/definition.yaml") + "# note\n")
        try repo.commitAll("note")
        func project() throws -> Project {
            try Project.resolve(ProjectFlags(tree: repo.root.path, values: [outside.path]), environment: [:], cwd: repo.root.path)
        }
        let options = AffectedOptions(base: "main", head: "HEAD")
        let first = try ChangeDetection.affected(try project(), options)

        // The values file changes outside git: keys move on both sides, so no saved side may be reused.
        try Data("codename: \"emerald\"\n".utf8).write(to: outside)
        let second = try ChangeDetection.affected(try project(), options)
        try FileManager.default.removeItem(atPath: try project().summaryDirectory)
        let fresh = try ChangeDetection.affected(try project(), options)
        #expect(document(second) == document(fresh), "a changed values file is never served from a saved summary")
        #expect(document(second) != document(first), "the keys follow the values file")
    }

    @Test("summaries of trees that read the clock hold for their epoch only; others are shared across epochs")
    func clockReadingTreesAndEpochs() throws {
        let repo = try GitFixture()
        try repo.git("checkout", "-q", "-b", "feature")
        try repo.replace("packages/toolchain/yip/build.yaml", "steps:\n", "steps:\n- echo more\n")
        try repo.commitAll("edit yip")
        func project(_ epoch: Int64) throws -> Project {
            try Project.resolve(ProjectFlags(tree: repo.root.path), environment: ["SOURCE_DATE_EPOCH": String(epoch)], cwd: repo.root.path)
        }
        let options = AffectedOptions(base: "main", head: "HEAD")
        // No spec reads the clock: a run at another epoch reads both saved sides.
        _ = try ChangeDetection.affected(try project(1_700_000_000), options)
        #expect(try ChangeDetection.affected(try project(1_800_000_000), options).origins == [.saved, .saved])

        // A spec that stamps the date: summaries saved at one epoch are not used at another.
        try FileManager.default.removeItem(atPath: try project(0).summaryDirectory)
        try repo.write("packages/stamp/definition.yaml", "name: stamp\ncategory: utils\nversion: 1\n")
        try repo.write("packages/stamp/build.yaml", "env:\n- DATE={{ now | date \"2006-01-02\" }}\nsteps: [true]\n")
        try repo.git("checkout", "-q", "main")
        try repo.commitAll("a stamped package")
        try repo.git("checkout", "-q", "feature")
        try repo.git("merge", "-q", "--no-edit", "main")
        let first = try ChangeDetection.affected(try project(1_700_000_000), options)
        #expect(try ChangeDetection.affected(try project(1_700_000_000), options).origins == [.saved, .saved])
        let later = try ChangeDetection.affected(try project(1_800_000_000), options)
        #expect(later.origins.first == .loaded && !later.origins.contains(.saved), "saved at another epoch: loaded again (the base derived from it)")
        try FileManager.default.removeItem(atPath: try project(0).summaryDirectory)
        let fresh = try ChangeDetection.affected(try project(1_800_000_000), options)
        #expect(document(later) == document(fresh))
        #expect(Set(first.set.affected.map(\.id.description)) == Set(later.set.affected.map(\.id.description)),
            "both sides render at the same epoch, so the date does not make the package affected")
    }

    @Test func aWorkTreeHeadIsMadeFromTheCommitUnderIt() throws {
        let repo = try GitFixture()
        try repo.git("checkout", "-q", "-b", "feature")
        try repo.replace("packages/toolchain/yip/build.yaml", "steps:\n", "steps:\n- echo more\n")
        try repo.write(".gitignore", "*.log\n")
        try repo.commitAll("edit yip, ignore logs")
        // Uncommitted: a tracked file edited, an untracked file, an ignored file inside a package directory
        // (a work tree load reads it, so it counts), a file deleted.
        try repo.write("packages/base/definition.yaml", try repo.read("packages/base/definition.yaml") + "# local\n")
        try repo.write("packages/installer/notes.txt", "uncommitted\n")
        try repo.write("packages/cos-setup/build.log", "ignored, but in the directory\n")
        try repo.remove("packages/toolchain/yip/yip.sh")
        let project = try repo.project()
        let options = AffectedOptions(base: "main", dirty: true)

        let loaded = try ChangeDetection.affected(project, options)
        #expect(loaded.origins == [.loaded, .loaded], "nothing saved: both loaded")
        let affected = Set(loaded.set.affected.map(\.id.description))
        #expect(affected.isSuperset(of: ["distro/base@0.20210719", "utils/installer@0.1", "system/cos-setup@1:0.4.1", "toolchain/yip@0.9.4-1"]))

        // The base is saved now; the commit under the work tree is derived from it, the work tree from that.
        let derived = try ChangeDetection.affected(project, options)
        #expect(derived.origins == [.derived, .saved])
        #expect(document(derived) == document(loaded))
        // And with the commit under the work tree saved too.
        let again = try ChangeDetection.affected(project, options)
        #expect(again.origins == [.derived, .saved])
        #expect(document(again) == document(loaded))

        // A package directory that appears in the work tree moves the graph: the work tree is loaded.
        try repo.write("packages/extra/definition.yaml", "name: extra\ncategory: utils\nversion: 1.0\n")
        try repo.write("packages/extra/build.yaml", "steps:\n- true\n")
        let grown = try ChangeDetection.affected(project, options)
        #expect(grown.origins.first == .loaded)
        #expect(grown.set.affected.contains { $0.id.description == "utils/extra@1.0" })
    }

    @Test func onlyTheMostRecentlyUsedAreKept() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-summaries-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (graph, _) = BuildGraph.resolve([])
        let summary = KeyedSummary(KeyedTree(graph: graph, keys: [:], inputs: ["values/a.yaml"]), diagnostics: [])
        let store = SummaryStore(directory: dir, kept: 3)
        let ids = (0..<5).map { Digest.sha256(of: Array("summary \($0)".utf8)) }
        for id in ids.prefix(3) {
            store.write(summary, id: id)
            usleep(20_000)
        }
        #expect(store.read(ids[0], rendering: RenderEnvironment())?.inputs == ["values/a.yaml"], "reading marks the first as recently used")
        usleep(20_000)
        store.write(summary, id: ids[3])
        store.write(summary, id: ids[4])
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: dir))
        #expect(left == Set([ids[0], ids[3], ids[4]].map(\.hex)), "the two least recently used were forgotten")
    }
}

@Suite(.serialized) struct TreeDiffAgainstGit {
    /// `GitRepository.changes` against `git diff --name-status -M` over a commit holding every kind of change,
    /// renames exact and edited.
    @Test func changesMatchGitWithRenames() throws {
        let repo = try GitFixture()
        try repo.write("packages/notes/long.txt", (1...40).map { "line \($0) of a long file\n" }.joined())
        try repo.commitAll("a long file")
        let base = try repo.git("rev-parse", "HEAD")
        try repo.write("packages/installer/definition.yaml", try repo.read("packages/installer/definition.yaml") + "# edited\n")
        try repo.write("packages/new/notes.txt", "a new file\n")
        try repo.remove("packages/cos-setup/build.yaml")
        try repo.move("packages/cos/recovery-img", "packages/recovery-img")  // a directory moved unchanged
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: repo.root.appendingPathComponent("packages/base/build.yaml").path)
        try repo.remove("packages/toolchain/yip/yip.sh")
        try FileManager.default.createSymbolicLink(
            atPath: repo.root.appendingPathComponent("packages/toolchain/yip/yip.sh").path, withDestinationPath: "../yq/build.yaml")
        // Moved and edited: most lines kept.
        try repo.move("packages/notes/long.txt", "packages/docs/long.txt")
        try repo.write("packages/docs/long.txt", try repo.read("packages/docs/long.txt") + "one more line\n")
        try repo.commitAll("every kind of change")
        let head = try repo.git("rev-parse", "HEAD")

        let git = try GitRepository(discoveringFrom: repo.root.path)
        let ours = try git.changes(from: ObjectID(hex: base), to: ObjectID(hex: head)).map { change -> String in
            let letter = ["added": "A", "deleted": "D", "modified": "M", "renamed": "R", "type-changed": "T"][change.status.rawValue] ?? "?"
            return change.status == .renamed ? "\(letter)\t\(change.oldPath)\t\(change.newPath)" : "\(letter)\t\(change.newPath)"
        }
        let theirs = try repo.git("diff", "--name-status", "-M", base, head).split(separator: "\n").map { line -> String in
            let fields = line.split(separator: "\t").map(String.init)
            return ([String(fields[0].prefix(1))] + fields.dropFirst()).joined(separator: "\t")
        }
        #expect(ours.sorted() == theirs.sorted())
        #expect(ours.contains("R\tpackages/cos/recovery-img/build.yaml\tpackages/recovery-img/build.yaml"))
        #expect(ours.contains("T\tpackages/toolchain/yip/yip.sh"))
        #expect(ours.contains("R\tpackages/notes/long.txt\tpackages/docs/long.txt"), "a file moved and edited")
        #expect(ours.contains("M\tpackages/base/build.yaml"), "a mode change is a modification")
        #expect(try git.changes(from: ObjectID(hex: head), to: ObjectID(hex: head)).isEmpty)
    }
}
