import CosciGit
import Foundation
import Testing

/// The libgit2 adapter against repositories the `git` command line made: what it reads is what git says.
@Suite struct GitRepositoryReads {
    /// A scratch repository, driven with the real `git`; every command must succeed.
    final class Scratch {
        let root: String

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-git-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            try git("init", "-q", "-b", "main")
            try git("config", "user.email", "test@example.com")
            try git("config", "user.name", "test")
            try git("config", "commit.gpgsign", "false")
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        @discardableResult
        func git(_ args: String..., env: [String: String] = [:]) throws -> String {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/git")
            p.arguments = ["-C", root] + args
            p.environment = ProcessInfo.processInfo.environment.merging(env) { _, b in b }
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            let errors = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else {
                throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "git \(args): \(String(decoding: errors, as: UTF8.self))"])
            }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func write(_ path: String, _ text: String, mode: Int = 0o644) throws {
            let full = root + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: full, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: full)
        }

        func commit(_ message: String, time: Int) throws -> String {
            try git("add", "-A")
            try git("commit", "-q", "-m", message, env: ["GIT_COMMITTER_DATE": "\(time) +0000", "GIT_AUTHOR_DATE": "\(time) +0000"])
            return try git("rev-parse", "HEAD")
        }
    }

    @Test func headTimeFilesAndBlobsAreWhatGitRecorded() throws {
        let s = try Scratch()
        try s.write("packages/tool/definition.yaml", "name: tool\n")
        try s.write("packages/tool/run.sh", "#!/bin/sh\n", mode: 0o755)
        try s.write("README", "hello\n")
        let first = try s.commit("first", time: 1_700_000_000)
        // Opened from a subdirectory, as cosci is from a project below the repository root.
        let repo = try GitRepository(discoveringFrom: s.root + "/packages/tool")
        #expect(repo.workdir == (s.root as NSString).resolvingSymlinksInPath || repo.workdir == s.root)
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
        let s = try Scratch()
        try s.write("a/keep", "same\n")
        try s.write("a/edit", "one\n")
        try s.write("a/gone", "bye\n")
        try s.write("a/move-me", String(repeating: "a long enough body for rename detection\n", count: 20))
        let first = try s.commit("first", time: 1_700_000_000)
        try s.write("a/edit", "two\n")
        try FileManager.default.removeItem(atPath: s.root + "/a/gone")
        try s.git("mv", "a/move-me", "a/moved")
        try s.write("a/new", "new\n")
        let second = try s.commit("second", time: 1_700_000_100)
        let repo = try GitRepository(discoveringFrom: s.root)
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
        let s = try Scratch()
        try s.write("f", "1\n")
        let base = try s.commit("base", time: 1_700_000_000)
        try s.git("checkout", "-q", "-b", "topic")
        try s.write("f", "2\n")
        let topic = try s.commit("topic", time: 1_700_000_100)
        try s.git("checkout", "-q", "main")
        try s.write("g", "3\n")
        let main = try s.commit("main", time: 1_700_000_200)
        try s.git("tag", "v1.0", topic)
        try s.git("tag", "-a", "-m", "annotated", "v1.1", topic)
        try s.git("remote", "add", "origin", "https://user:secret@git.example/org/os.git")
        let repo = try GitRepository(discoveringFrom: s.root)
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
        #expect(try GitRepository(discoveringFrom: s.root).isHeadDetached)
    }

    @Test func outsideARepositoryIsAnErrorNotACrash() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-nogit-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: GitError.self) { try GitRepository(discoveringFrom: dir) }
    }
}
