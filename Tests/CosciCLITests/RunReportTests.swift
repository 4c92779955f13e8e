import Foundation
import Testing

/// The reports of `cosci run` state what really happened, stage by stage.
@Suite(.serialized) struct RunReportTruth {
    /// A loopback port nothing listens on (bound, then closed).
    static func closedPort() throws -> Int {
        let r = try capture("/usr/bin/python3", ["-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1]); s.close()"])
        return try #require(Int(r.out.trimmingCharacters(in: .whitespacesAndNewlines)))
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
