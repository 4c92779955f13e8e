import CosciTestSupport
import Foundation
import Testing

/// Change-detection summaries shared through the registry cache: a fresh CI runner's `cosci plan` reads the
/// base's summary that an earlier runner saved there, derives the head from it, and saves the head's in turn.
@Suite(.serialized) struct SummarySharingTests {
    func tags(_ registry: LocalRegistry, _ repository: String) throws -> [String] {
        let r = try Cosci.skopeo(["list-tags", "--tls-verify=false", "docker://\(registry.host)/\(repository)"])
        let doc = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        return (doc?["Tags"] as? [String]) ?? []
    }

    @Test func aFreshRunnerStartsFromTheSummaryAnotherRunnerSaved() throws {
        let registry = try LocalRegistry.start()
        defer { registry.stop() }
        let cache = "docker://\(registry.host)/cos/cache"
        let sample = try Cosci.sample()
        defer { try? FileManager.default.removeItem(at: sample) }
        func commit(_ script: String, _ message: String) throws -> String {
            let r = try runTool("/bin/sh", ["-ec", "cd '\(sample.path)' && \(script) && git -c user.name=T -c user.email=t@e commit -qam '\(message)' && git rev-parse HEAD"])
            #expect(r.status == 0, "\(r.stderr)")
            return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let a = try runTool("git", ["-C", sample.path, "rev-parse", "HEAD"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let b = try commit("printf '# one\\n' >> packages/toolchain/yip/build.yaml", "one")

        // Runner 1 plans A..B: both summaries go to the shared cache.
        let runner1 = try fresh(sample)
        defer { try? FileManager.default.removeItem(at: runner1) }
        let first = try Cosci.run(["plan", "--base", a, "--head", b, "--cache", cache], in: runner1)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try tags(registry, "cos/cache").filter { $0.hasPrefix("summary-") }.count == 2)

        // A new commit; runner 2 starts with nothing and plans B..C.
        let c = try commit("printf '# two\\n' >> packages/utils/k9s/build.yaml", "two")
        let runner2 = try fresh(sample)
        defer { try? FileManager.default.removeItem(at: runner2) }
        let logBefore = registry.log.count
        let second = try Cosci.run(["plan", "--base", b, "--head", c, "--cache", cache], in: runner2)
        #expect(second.status == 0, "\(second.stderr)")
        let requests = String(registry.log.dropFirst(logBefore))
        #expect(requests.contains("/v2/cos/cache/manifests/summary-"), "the base's summary came from the shared cache")
        let saved = try FileManager.default.contentsOfDirectory(atPath: runner2.appendingPathComponent(".cosci/cache/tree/summaries").path)
        #expect(saved.filter { $0.count == 64 }.count == 2, "B's fetched, C's derived: \(saved)")
        #expect(try tags(registry, "cos/cache").filter { $0.hasPrefix("summary-") }.count == 3, "C's summary is shared in turn")

        // The same plan as a runner without the shared summaries computes.
        let alone = try fresh(sample)
        defer { try? FileManager.default.removeItem(at: alone) }
        let third = try Cosci.run(["plan", "--base", b, "--head", c], in: alone)
        let packages = { (text: String) -> [String] in
            let doc = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
            return ((doc?["packages"] as? [[String: Any]]) ?? []).map { "\($0["id"] ?? "") \($0["key"] ?? "") \($0["status"] ?? "")" }
        }
        #expect(!packages(second.stdout).isEmpty && packages(second.stdout) == packages(third.stdout))

        // `cosci affected --cache` reads the shared summaries too: a fresh runner gets both sides from there.
        let runner3 = try fresh(sample)
        defer { try? FileManager.default.removeItem(at: runner3) }
        let logBeforeAffected = registry.log.count
        let affected = try Cosci.run(["affected", "--base", b, "--head", c, "--cache", cache, "--format", "names"], in: runner3)
        #expect(affected.status == 0 && affected.stdout.contains("utils/k9s@"), "\(affected.stdout)\(affected.stderr)")
        #expect(String(registry.log.dropFirst(logBeforeAffected)).components(separatedBy: "/manifests/summary-").count - 1 >= 2)
    }

    func fresh(_ sample: URL) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-runner-\(UUID().uuidString)")
        let r = try runTool("git", ["clone", "-q", sample.path, dir.path])
        guard r.status == 0 else { throw TestSupportError("clone: \(r.stderr)") }
        return dir
    }
}
