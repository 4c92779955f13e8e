import CosciTestSupport
import Foundation
import Testing

/// Every setting resolves the same way for every command: flag, then COSCI_<NAME>, then cosci.yaml, then the
/// default; `cosci config` shows which.
@Suite(.serialized) struct Settings {
    static func settings(_ r: ProcessResult) -> [String: (value: String, source: String)] {
        var out: [String: (String, String)] = [:]
        for s in ((try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["settings"] as? [[String: Any]]) ?? [] {
            if let n = s["name"] as? String, let v = s["value"] as? String, let src = s["source"] as? String { out[n] = (v, src) }
        }
        return out
    }

    @Test(arguments: [
        ("COSCI_FLAVOR", "flavor", "orange", "orange"), ("COSCI_PLATFORM", "platform", "linux/arm64", "linux/arm64"),
        ("COSCI_JOBS", "jobs", "3", "3"), ("COSCI_LOAD_JOBS", "load-jobs", "2", "2"), ("COSCI_CACHE", "cache", "/tmp/cosci-env-cache", "/tmp/cosci-env-cache"),
        ("COSCI_OUTPUT", "output", "/tmp/cosci-env-output", "/tmp/cosci-env-output"),
        ("COSCI_VALUES", "values", "extra.yaml", "extra.yaml"),
    ])
    func everyVariableIsReadAndShownWithItsSource(_ variable: String, _ name: String, _ value: String, _ shown: String) throws {
        let repo = try BuildRepo()
        defer { repo.remove() }
        try repo.write("extra.yaml", "extra: true\n")
        let r = try repo.cosci(["config", "--json"], env: [variable: value])
        #expect(r.status == 0, "\(r.stderr)")
        let s = try #require(Self.settings(r)[name])
        #expect(s.source == "environment", "\(name): \(s)")
        #expect(s.value.hasSuffix(shown), "\(name): \(s)")
    }

    @Test func aFlagWinsOverTheEnvironmentWhichWinsOverCosciYaml() throws {
        let repo = try BuildRepo()
        defer { repo.remove() }
        try repo.replace("cosci.yaml", "cache: .cosci/cache", "cache: .yaml-cache")
        let yaml = Self.settings(try repo.cosci(["config", "--json"]))["cache"]
        #expect(yaml?.source == "cosci.yaml" && yaml?.value == repo.path(".yaml-cache").path)
        let env = Self.settings(try repo.cosci(["config", "--json"], env: ["COSCI_CACHE": "env-cache"]))["cache"]
        #expect(env?.source == "environment" && env?.value == repo.path("env-cache").path)
        let flag = Self.settings(try repo.cosci(["config", "--json", "--cache", "flag-cache"], env: ["COSCI_CACHE": "env-cache"]))["cache"]
        #expect(flag?.source == "flag" && flag?.value == repo.path("flag-cache").path)
    }

    @Test func buildGcAndRunAgreeOnTheCacheAndOutputTheEnvironmentNames() throws {
        let repo = try BuildRepo()
        defer { repo.remove() }
        let cache = repo.path("elsewhere/cache").path, output = repo.path("elsewhere/out").path
        let env = ["COSCI_CACHE": cache, "COSCI_OUTPUT": output]
        #expect(try repo.cosci(["run"], env: env).status == 0)
        #expect(FileManager.default.fileExists(atPath: output + "/repository/repository.yaml"), "COSCI_OUTPUT is where run writes")
        #expect(!FileManager.default.fileExists(atPath: repo.path("dist").path))
        #expect(!FileManager.default.fileExists(atPath: repo.path(".cosci/cache").path))
        let ls = try repo.cosci(["cache", "ls"], env: env)
        #expect(ls.stdout.contains("26 artifact(s)"), "cache ls reads the cache build filled: \(ls.stdout)")
        let gc = try repo.cosci(["cache", "gc", "--max-size", "0", "--include-current"], env: env)
        #expect(gc.stdout.contains("26 artifact(s)"), "\(gc.stdout)")
        #expect(try repo.cosci(["cache", "ls"], env: env).stdout.contains("0 artifact(s)"))
    }
}
