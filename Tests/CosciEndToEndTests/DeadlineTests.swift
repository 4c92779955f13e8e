import CosciTestSupport
import Foundation
import Testing

/// A registry that answers slowly, never, or in pieces: publish ends, within its deadlines, with an error
/// naming the registry and what timed out — or succeeds, when retrying helps.
@Suite(.serialized) struct NetworkDeadlines {
    /// Runs cosci with a hard limit: a hang fails the test instead of holding the suite.
    static func bounded(_ args: [String], in dir: URL, limit: TimeInterval = 120) throws -> (status: Int32, stderr: String, seconds: Double) {
        let started = Date()
        let r = try runTool(TestPaths.cosci.path, args, env: ["CI": "true", "HOME": dir.path], timeout: limit, cwd: dir)
        return (r.status, r.stderr, Date().timeIntervalSince(started))
    }

    /// The sample, built (so publish has a repository to push).
    static func builtSample() throws -> URL {
        let dir = try Cosci.built()
        #expect(try Cosci.run(["run"], in: dir).status == 0)
        return dir
    }

    @Test(arguments: ["silent", "trickle"])
    func aSilentOrTricklingRegistryTimesOutNamingIt(_ kind: String) throws {
        let registry = try LocalRegistry.start()
        defer { registry.stop() }
        let proxy = try FaultProxy.start(upstream: registry.host)
        defer { proxy.stop() }
        let dir = try Self.builtSample()
        defer { try? FileManager.default.removeItem(at: dir) }
        try proxy.configure(rateSilent: kind == "silent" ? 1 : 0, rateTrickle: kind == "trickle" ? 1 : 0)
        let r = try Self.bounded(
            ["publish", "--to", "docker://\(proxy.host)/cos/slow", "--stall-timeout", "2", "--connect-timeout", "2", "--retries", "1"], in: dir)
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("timed out"), "\(r.stderr)")
        #expect(r.stderr.contains(proxy.host), "the error names the registry: \(r.stderr)")
        #expect(r.stderr.contains("less than 10240 bytes/s for 2 s"), "\(r.stderr)")
    }

    @Test func answersCutInTheirHeadersAreRetried() throws {
        let registry = try LocalRegistry.start()
        defer { registry.stop() }
        let proxy = try FaultProxy.start(upstream: registry.host)
        defer { proxy.stop() }
        let dir = try Self.builtSample()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Upload sessions (POST) cut short after the status line, three times.
        try proxy.configure(rateCut: 1, onlyMethods: ["POST"], maxFaults: 3)
        let r = try Self.bounded(["publish", "--to", "docker://\(proxy.host)/cos/cut"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect((try proxy.stats()["fault_cut"] ?? 0) == 3)
        #expect(try Cosci.digest("docker://\(registry.host)/cos/cut:repository.yaml") != nil)
    }

    @Test func aCredentialHelperThatNeverAnswersIsCutOff() throws {
        let registry = try LocalRegistry.start()
        defer { registry.stop() }
        let dir = try Cosci.built()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try Cosci.run(["run"], in: dir).status == 0)
        let bin = dir.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let helper = bin.appendingPathComponent("docker-credential-hang")
        try "#!/bin/sh\nexec sleep 600\n".write(to: helper, atomically: true, encoding: .utf8)
        chmod(helper.path, 0o755)
        let docker = dir.appendingPathComponent(".docker")
        try FileManager.default.createDirectory(at: docker, withIntermediateDirectories: true)
        try "{\"credHelpers\": {\"\(registry.host)\": \"hang\"}}".write(
            to: docker.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        let path = bin.path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let r = try runTool(
            TestPaths.cosci.path, ["publish", "--to", "docker://\(registry.host)/cos/helper", "--credential-helper-timeout", "2"],
            env: ["CI": "true", "HOME": dir.path, "PATH": path], timeout: 120, cwd: dir)
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("docker-credential-hang did not answer within 2 s for \(registry.host)"), "\(r.stderr)")
    }
}
