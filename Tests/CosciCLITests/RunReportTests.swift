import CosciTestSupport
import Foundation
import Testing

/// The reports of `cosci run` state what really happened, stage by stage.
@Suite(.serialized) struct RunReportTruth {
    /// A loopback port nothing listens on (bound, then closed).
    static func closedPort() throws -> Int {
        let r = try capture("/usr/bin/python3", ["-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1]); s.close()"])
        return try #require(Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    @Test func aFailedPublishIsAFailedRunInEveryReport() throws {
        let repo = try BuildRepo()
        defer { repo.remove() }
        let target = "docker://127.0.0.1:\(try Self.closedPort())/cos/sample"
        let r = try repo.cosci(["run", "--publish", target, "--insecure-registry", "127.0.0.1", "--retries", "1"])
        #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains("127.0.0.1"), "\(r.stderr)")
        let report = json(try repo.read("dist/report.json"))
        #expect(report["result"] as? String == "failure")
        let stages = (report["stages"] as? [[String: Any]]) ?? []
        #expect(stages.map { $0["name"] as? String } == ["build", "repository", "images", "publish"])
        #expect(stages.map { $0["result"] as? String } == ["success", "success", "success", "failure"])
        let markdown = try repo.read("dist/report.md")
        #expect(markdown.contains("## cosci run: failure"), "\(markdown.prefix(300))")
        #expect(markdown.contains("| publish | failure |"))
    }

    @Test func aFailedBuildSkipsTheLaterStages() throws {
        let repo = try BuildRepo()
        defer { repo.remove() }
        try repo.replace("packages/utils/k9s/build.yaml", "steps:", "steps:\n- exit 9")
        try repo.git("commit", "-qam", "break k9s")
        let r = try repo.cosci(["run", "--publish", "oci:out"])
        #expect(r.status == 3, "\(r.stderr)")
        let report = json(try repo.read("dist/report.json"))
        #expect(report["result"] as? String == "failure")
        let stages = (report["stages"] as? [[String: Any]]) ?? []
        #expect(stages.map { $0["result"] as? String } == ["failure", "skipped", "skipped", "skipped"])
        #expect(!FileManager.default.fileExists(atPath: repo.path("out").path), "nothing was published")
    }
}

/// Memory stays bounded whatever the size of a package's files.
@Suite(.serialized) struct LargeFiles {
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/time"), "GNU time is not installed"))
    func aLargeWorkTreeFileIsHashedAsItStreams() throws {
        let repo = try BuildRepo()
        defer { repo.remove() }
        // 1 GiB (a hole on disk): hashing it whole in memory would need more than a gigabyte.
        let big = repo.path("packages/utils/k9s/big.bin").path
        #expect(try capture("/usr/bin/truncate", ["-s", "1G", big]).status == 0)
        let measured = repo.path(".maxrss").path
        let r = try capture(
            "/usr/bin/time", ["-o", measured, "-f", "maxrss-kb=%M", "/bin/sh", "-c", "\(CLI.binary.path) affected --dirty --json 2>&1"],
            cwd: repo.root)
        #expect(r.status == 0, "\(r.stdout.suffix(500))")
        #expect(r.stdout.contains("utils/k9s@0.25.18"), "the untracked file makes k9s affected: \(r.stdout.suffix(500))")
        let line = try #require(try String(contentsOfFile: measured, encoding: .utf8).split(separator: "\n").last { $0.hasPrefix("maxrss-kb=") })
        let kb = try #require(Int(line.dropFirst(10)))
        #expect(kb < 400_000, "cosci used \(kb) KiB for a 1 GiB file")
    }
}

/// The fuzz corpus replays without a crash: every input a fuzzer once found interesting stays a regression test.
@Suite struct FuzzCorpus {
    @Test func theCorpusReplaysCleanly() throws {
        let replayer = CLI.binary.deletingLastPathComponent().appendingPathComponent("cosci-fuzz")
        try #require(FileManager.default.isExecutableFile(atPath: replayer.path), "build it: swift build (scripts/test does)")
        let corpus = CLI.packageRoot.appendingPathComponent("Tests/Fixtures/fuzz-corpus")
        let count = try FileManager.default.contentsOfDirectory(atPath: corpus.path).count
        #expect(count >= 50)
        let r = try capture(replayer.path, [corpus.path])
        #expect(r.status == 0)
        #expect(r.stdout.contains("replayed \(count) input(s)"), "\(r.stdout)")
    }
}
