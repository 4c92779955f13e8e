import CosciTestSupport
import Foundation
import Testing

/// `publish --json` and `release --json`: the documents CI steps read (what was uploaded, mounted, released).
@Suite(.serialized) struct JSONDocumentTests {
    @Test func publishAndReleasePrintTheirDocuments() throws {
        let registry = try LocalRegistry.start()
        defer { registry.stop() }
        let sample = try Cosci.built()
        defer { try? FileManager.default.removeItem(at: sample) }
        #expect(try Cosci.run(["run"], in: sample).status == 0)
        let target = "docker://\(registry.host)/cos/published"
        let publish = try Cosci.run(["publish", "--to", target, "--json"], in: sample)
        #expect(publish.status == 0, "\(publish.stderr)")
        let p = try #require(try JSONSerialization.jsonObject(with: Data(publish.stdout.utf8)) as? [String: Any], "\(publish.stdout)")
        #expect(p["schema"] as? String == "cosci.publish/v1" && p["revision"] as? Int == 1)
        #expect(((p["blobs"] as? [String: Any])?["uploaded"] as? Int ?? 0) > 26, "\(p)")

        let release = try Cosci.run(["release", "--channel", "stable", "--from", target, "--snapshot", "v1", "--json"], in: sample)
        #expect(release.status == 0, "\(release.stderr)")
        let r = try #require(try JSONSerialization.jsonObject(with: Data(release.stdout.utf8)) as? [String: Any], "\(release.stdout)")
        #expect(r["schema"] as? String == "cosci.release/v1" && r["id"] as? String == "v1" && r["action"] as? String == "release")
        let changes = (r["changes"] as? [[String: Any]]) ?? []
        #expect(!changes.isEmpty && changes.allSatisfy { $0["kind"] as? String == "added" }, "\(changes)")
        #expect((r["pointer"] as? String) == (try Cosci.digest("docker://\(registry.host)/cos/releases-green:repository.yaml")))
    }
}
