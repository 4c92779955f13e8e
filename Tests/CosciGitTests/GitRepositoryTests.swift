import CosciGit
import Foundation
import CosciTestSupport
import Testing

/// The libgit2 adapter against repositories the `git` command line made: what it reads is what git says.
@Suite struct GitRepositoryReads {
    @Test func headTimeFilesAndBlobsAreWhatGitRecorded() throws {
        let s = try GitScratch(epoch: 1_700_000_000)
        try s.write("packages/tool/definition.yaml", "name: tool\n")
        try s.write("packages/tool/run.sh", "#!/bin/sh\n", mode: 0o755)
        try s.write("README", "hello\n")
        let first = try s.commitAll("first")
        // Opened from a subdirectory, as cosci is from a project below the repository root.
        let repo = try GitRepository(discoveringFrom: s.root.path + "/packages/tool")
        #expect(repo.workdir == (s.root.path as NSString).resolvingSymlinksInPath || repo.workdir == s.root.path)
        let head = try repo.commit("HEAD")
        #expect(head.hex == first)
        #expect(try repo.commitTime(head) == 1_700_000_000)
        let files = try repo.files(at: head, under: "packages/tool")
        #expect(files.map(\.path) == ["definition.yaml", "run.sh"])
        #expect(files.first { $0.path == "run.sh" }?.mode == 0o100755)
        #expect(files.first { $0.path == "definition.yaml" }?.blob.hex == (try s.git("rev-parse", "HEAD:packages/tool/definition.yaml")))
        let blob = try #require(try repo.blobID(at: head, path: "README"))
        #expect(String(decoding: try repo.blob(blob), as: UTF8.self) == "hello\n")
        #expect(try repo.blobID(at: head, path: "missing") == nil)
        #expect(try repo.files(at: head, under: "nowhere").isEmpty)
    }

    @Test func changesBetweenCommitsAndInTheWorkTree() throws {
        let s = try GitScratch()
        try s.write("a/keep", "same\n")
        try s.write("a/edit", "one\n")
        try s.write("a/gone", "bye\n")
        try s.write("a/move-me", String(repeating: "a long enough body for rename detection\n", count: 20))
        let first = try s.commitAll("first")
        try s.write("a/edit", "two\n")
        try FileManager.default.removeItem(atPath: s.root.path + "/a/gone")
        try s.git("mv", "a/move-me", "a/moved")
        try s.write("a/new", "new\n")
        let second = try s.commitAll("second")
        let repo = try GitRepository(discoveringFrom: s.root.path)
        let changes = try repo.changes(from: ObjectID(hex: first), to: ObjectID(hex: second))
        let byPath = Dictionary(uniqueKeysWithValues: changes.map { ($0.newPath, $0) })
        #expect(byPath["a/edit"]?.status == .modified)
        #expect(byPath["a/gone"]?.status == .deleted)
        #expect(byPath["a/new"]?.status == .added)
        #expect(byPath["a/moved"]?.status == .renamed && byPath["a/moved"]?.oldPath == "a/move-me")
        #expect(byPath["a/keep"] == nil)
        // Uncommitted: an edit and an untracked file.
        try s.write("a/keep", "changed\n")
        try s.write("a/untracked", "x\n")
        let local = Dictionary(uniqueKeysWithValues: try repo.workingTreeChanges().map { ($0.newPath, $0.status) })
        #expect(local["a/keep"] == .modified)
        #expect(local["a/untracked"] == .untracked)
        #expect(local.count == 2, "\(local)")
    }

    @Test func mergeBaseTagsRemotesAndState() throws {
        let s = try GitScratch()
        try s.write("f", "1\n")
        let base = try s.commitAll("base")
        try s.git("checkout", "-q", "-b", "topic")
        try s.write("f", "2\n")
        let topic = try s.commitAll("topic")
        try s.git("checkout", "-q", "main")
        try s.write("g", "3\n")
        let main = try s.commitAll("main")
        try s.git("tag", "v1.0", topic)
        try s.git("tag", "-a", "-m", "annotated", "v1.1", topic)
        try s.git("remote", "add", "origin", "https://user:secret@git.example/org/os.git")
        let repo = try GitRepository(discoveringFrom: s.root.path)
        #expect(try repo.mergeBase(ObjectID(hex: topic), ObjectID(hex: main))?.hex == base)
        #expect(try repo.tags(pointingAt: ObjectID(hex: topic)).sorted() == ["v1.0", "v1.1"])
        #expect(try repo.commit("v1.1").hex == topic, "an annotated tag peels to its commit")
        #expect(try repo.commit("main~1").hex == base)
        #expect(repo.remoteURL("origin") == "https://user:secret@git.example/org/os.git")
        #expect(repo.remoteURL("upstream") == nil)
        #expect(repo.currentBranch == "main" && !repo.isHeadDetached && !repo.isShallow)
        #expect(!repo.resolves("no-such-ref"))
        #expect(throws: GitError.self) { try repo.commit("no-such-ref") }
        try s.git("checkout", "-q", "--detach", topic)
        #expect(try GitRepository(discoveringFrom: s.root.path).isHeadDetached)
    }

    @Test func outsideARepositoryIsAnErrorNotACrash() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-nogit-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: GitError.self) { try GitRepository(discoveringFrom: dir) }
    }
}
