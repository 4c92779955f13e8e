import CosciTestSupport
import Foundation
import Synchronization
import Testing

/// End to end: the built `cosci` binary builds the sample tree and publishes it to real registries, checked
/// with skopeo and umoci.
enum Cosci {
    /// A copy of the sample tree in a fresh git repository, committed at a fixed date. The caller removes it.
    static func sample() throws -> URL {
        let dir = try TestPaths.temporaryDirectory("cosci-publish")
        let fresh = try Sample.fresh()
        _ = try withExtendedLifetime(fresh) { try shell("cp -a '\(fresh.root.path)/.' '\(dir.path)/'") }
        return dir
    }

    /// A copy of the sample after `cosci run` (built once per test process). The caller removes it.
    static func built() throws -> URL { try Sample.builtCopy() }

    /// Runs cosci in `dir` as CI would (CI=true, HOME there).
    static func run(_ args: [String], in dir: URL, env: [String: String] = [:]) throws -> ProcessResult {
        try runCosci(args, cwd: dir, env: ["CI": "true", "HOME": dir.path].merging(env) { $1 })
    }

    static func skopeo(_ args: [String]) throws -> ProcessResult {
        try runTool("skopeo", args)
    }

    /// The manifest digest skopeo reports for an image.
    static func digest(_ reference: String, creds: String? = nil) throws -> String? {
        var args = ["inspect", "--tls-verify=false", "--format", "{{.Digest}}"]
        if let creds { args += ["--creds", creds] }
        let r = try skopeo(args + [reference])
        return r.status == 0 ? r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : nil
    }
}

@Suite(.serialized) struct PublishTests {
    @Test func publishesTheSampleRepositoryToARegistryAndALayout() throws {
        let registry = try LocalRegistry.start()
        defer { registry.stop() }
        let dir = try Cosci.sample()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try Cosci.run(["run"], in: dir)
        #expect(run.status == 0, "\(run.stderr)")

        let target = "docker://\(registry.host)/cos/sample"
        let first = try Cosci.run(["publish", "--to", target], in: dir)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("published revision 1 to \(target):"), "\(first.stdout)")
        #expect(!first.stdout.contains(" 0 blob(s) uploaded"))

        // skopeo sees the luet docker repository: package tags, metadata tags, index files.
        let tags = try Cosci.skopeo(["list-tags", "--tls-verify=false", target])
        let index = try String(contentsOf: dir.appendingPathComponent("dist/repository/repository.yaml"), encoding: .utf8)
        let archives = PublishedRepository.repoFiles(index).values.map(\.name)
        #expect(archives.count == 3)
        for tag in ["cos-system-0.8.14-21", "yq-toolchain-4.30.1", "cos-upgrade-utils-2.0", "luet-mtree-toolchain-0.0.9-rc1", "repository.yaml",
                    "dracut-initrd-system-0.1.0-4.metadata.yaml"] + archives {
            #expect(tags.stdout.contains("\"\(tag)\""), "\(tag) missing: \(tags.stdout)")
        }
        // By default a package image's one layer is gzip, which luet 0.35 and earlier read (they install an
        // empty package from a zstd layer): read the media type back as the client does.
        let metadata = try String(contentsOf: dir.appendingPathComponent("dist/repository/yq-toolchain-4.30.1.metadata.yaml"), encoding: .utf8)
        let sha = try #require(metadata.split(separator: "\n").first { $0.hasPrefix("  sha256: ") }).dropFirst(10)
        let manifest = try Cosci.skopeo(["inspect", "--raw", "--tls-verify=false", "\(target):yq-toolchain-4.30.1"])
        #expect(manifest.stdout.contains("\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\""), "\(manifest.stdout)")
        #expect(!manifest.stdout.contains("tar+zstd"), "\(manifest.stdout)")
        // With --layer-compression zstd, the layer is the artifact itself.
        let zstd = "docker://\(registry.host)/cos/sample-zstd"
        #expect(try Cosci.run(["publish", "--to", zstd, "--layer-compression", "zstd"], in: dir).status == 0)
        let inspect = try Cosci.skopeo(["inspect", "--tls-verify=false", "\(zstd):yq-toolchain-4.30.1"])
        #expect(inspect.stdout.contains("\"sha256:\(sha)\""), "\(inspect.stdout)")
        let zstdManifest = try Cosci.skopeo(["inspect", "--raw", "--tls-verify=false", "\(zstd):yq-toolchain-4.30.1"])
        #expect(zstdManifest.stdout.contains("tar+zstd"), "\(zstdManifest.stdout)")
        #expect(inspect.stdout.contains("\"io.cosci.package\": \"toolchain/yq@4.30.1\""), "\(inspect.stdout)")
        let raw = try Cosci.skopeo(["inspect", "--raw", "--tls-verify=false", "\(target):yq-toolchain-4.30.1"])
        #expect(raw.stdout.contains("\"io.cosci.key\":\"sha256:"), "the manifest carries the key: \(raw.stdout)")

        // Publishing the same thing again uploads nothing and moves no tag.
        let again = try Cosci.run(["publish", "--to", target], in: dir)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("0 tag(s) set"), "\(again.stdout)")
        #expect(again.stdout.contains("0 blob(s) uploaded (0 B)"), "\(again.stdout)")

        // Gzip layers for older clients: umoci unpacks them.
        let gz = "docker://\(registry.host)/cos/sample-gz"
        #expect(try Cosci.run(["publish", "--to", gz, "--layer-compression", "gzip"], in: dir).status == 0)
        let pulled = dir.appendingPathComponent("pulled")
        let copy = try Cosci.skopeo(["copy", "--src-tls-verify=false", "\(gz):yq-toolchain-4.30.1", "oci:\(pulled.path):yq"])
        #expect(copy.status == 0, "\(copy.stderr)")
        let bundle = dir.appendingPathComponent("bundle")
        let unpack = try runTool("umoci", ["unpack", "--rootless", "--image", "\(pulled.path):yq", bundle.path])
        #expect(unpack.status == 0, "\(unpack.stderr)")
        #expect(FileManager.default.isExecutableFile(atPath: bundle.appendingPathComponent("rootfs/usr/bin/yq").path))

        // The OCI layout target: skopeo re-hashes every blob when copying out of it.
        let layout = dir.appendingPathComponent("oci")
        #expect(try Cosci.run(["publish", "--to", "oci:\(layout.path)"], in: dir).status == 0)
        for tag in ["repository.yaml", "cos-system-0.8.14-21"] {
            let out = dir.appendingPathComponent("dir-\(tag)")
            let r = try Cosci.skopeo(["copy", "oci:\(layout.path):\(tag)", "dir:\(out.path)"])
            #expect(r.status == 0, "\(tag): \(r.stderr)")
        }
        #expect(try Cosci.digest("\(target):cos-system-0.8.14-21") == Cosci.digest("oci:\(layout.path):cos-system-0.8.14-21"),
                "the registry and the layout hold the same image")

        // Changing a package without bumping its version: publishing it again is refused unless forced.
        try "# changed without a version bump\n".appendLine(to: dir.appendingPathComponent("packages/utils/k9s/build.yaml"))
        #expect(try Cosci.run(["run"], in: dir).status == 0)
        let conflict = try Cosci.run(["publish", "--to", target], in: dir)
        #expect(conflict.status == 1)
        #expect(conflict.stderr.contains("already published in docker://\(registry.host)/cos/sample with another key"), "\(conflict.stderr)")
        #expect(conflict.stderr.contains("1 package version(s)"))
        #expect(conflict.stderr.contains("k9s-utils-0.25.18 (published key sha256:"))
        #expect(conflict.stderr.contains("cosci bump"))
        let forced = try Cosci.run(["publish", "--to", target, "--force"], in: dir)
        #expect(forced.status == 0, "\(forced.stderr)")
    }

    @Test(arguments: ["basic", "token"])
    func publishesWithCredentialsFromAnAuthFile(_ mode: String) throws {
        let registry = try LocalRegistry.start(auth: mode == "basic" ? .basic(user: "cosci", password: "s3cret-pw") : .token(user: "cosci", password: "s3cret-pw"))
        defer { registry.stop() }
        let dir = try Cosci.built()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try Cosci.run(["run"], in: dir).status == 0)
        let target = "docker://\(registry.host)/cos/private"

        let anonymous = try Cosci.run(["publish", "--to", target], in: dir)
        #expect(anonymous.status == 1)
        #expect(anonymous.stderr.contains("credentials"), "\(anonymous.stderr)")

        let auth = dir.appendingPathComponent("auth.json")
        try "{\"auths\": {\"\(registry.host)\": {\"auth\": \"\(Data("cosci:s3cret-pw".utf8).base64EncodedString())\"}}}"
            .write(to: auth, atomically: true, encoding: .utf8)
        let r = try Cosci.run(["publish", "--to", target, "--authfile", auth.path], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!(r.stdout + r.stderr).contains("s3cret-pw"))
        #expect(try Cosci.digest("\(target):repository.yaml", creds: "cosci:s3cret-pw") != nil)
        if mode == "token" { #expect(try registry.tokenRequests > 0) }
    }

    @Test func faultsAreRetriedAndAFailedPublishLeavesTheIndexAlone() throws {
        let registry = try LocalRegistry.start()
        defer { registry.stop() }
        let proxy = try FaultProxy.start(upstream: registry.host, seed: 3, rate429: 0.05, rate500: 0.05, rate503: 0.05, rateDrop: 0.05)
        defer { proxy.stop() }
        let dir = try Cosci.built()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try Cosci.run(["run"], in: dir).status == 0)

        // Through the faulty proxy, and directly: the same digests.
        let faulty = try Cosci.run(["publish", "--to", "docker://\(proxy.host)/cos/faulty"], in: dir)
        #expect(faulty.status == 0, "\(faulty.stderr)")
        #expect((try proxy.stats()["faults"] ?? 0) > 0)
        #expect(try Cosci.run(["publish", "--to", "docker://\(registry.host)/cos/clean"], in: dir).status == 0)
        let index = try String(contentsOf: dir.appendingPathComponent("dist/repository/repository.yaml"), encoding: .utf8)
        for tag in ["repository.yaml", "cos-system-0.8.14-21", try #require(PublishedRepository.repoFiles(index)["tree"]?.name)] {
            #expect(try Cosci.digest("docker://\(registry.host)/cos/faulty:\(tag)") == Cosci.digest("docker://\(registry.host)/cos/clean:\(tag)"))
        }

        // A new revision, and a registry that keeps failing uploads: the publish fails, clearly, and
        // repository.yaml still names revision 1.
        let before = try Cosci.digest("docker://\(registry.host)/cos/faulty:repository.yaml")
        try "# changed, then bumped\n".appendLine(to: dir.appendingPathComponent("packages/utils/k9s/build.yaml"))
        let bump = try Cosci.run(["bump", "utils/k9s"], in: dir)
        #expect(bump.status == 0, "\(bump.stderr)")
        #expect(try Cosci.run(["run"], in: dir).status == 0)
        try proxy.configure(rate503: 1, onlyMethods: ["PUT", "PATCH"])
        let failing = try Cosci.run(["publish", "--to", "docker://\(proxy.host)/cos/faulty", "--retries", "2"], in: dir)
        #expect(failing.status == 1)
        #expect(failing.stderr.contains("503"), "\(failing.stderr)")
        #expect(!failing.stderr.contains("_state"), "upload state is not printed")
        #expect(try Cosci.digest("docker://\(registry.host)/cos/faulty:repository.yaml") == before)
        try proxy.configure()
        let recovered = try Cosci.run(["publish", "--to", "docker://\(proxy.host)/cos/faulty"], in: dir)
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(try Cosci.digest("docker://\(registry.host)/cos/faulty:repository.yaml") != before)
    }

    @Test func fourShardsThroughARegistryCacheEqualOneProcess() throws {
        let registry = try LocalRegistry.start()
        defer { registry.stop() }
        let cache = "docker://\(registry.host)/cos/cache"
        let single = try Cosci.built()
        defer { try? FileManager.default.removeItem(at: single) }
        #expect(try Cosci.run(["run"], in: single).status == 0)

        let planner = try Cosci.sample()
        defer { try? FileManager.default.removeItem(at: planner) }
        let plan = try Cosci.run(["plan", "--all", "--shards", "4", "--cache", cache, "--report", "plan.json"], in: planner)
        #expect(plan.status == 0, "\(plan.stderr)")
        let planFile = planner.appendingPathComponent("plan.json").path
        // Four CI jobs at once: four clones, four local caches, one registry.
        let clones = try (0..<4).map { _ in try Cosci.sample() }
        let results = Mutex([Result<ProcessResult, any Error>?](repeating: nil, count: 4))
        let done = DispatchGroup()
        for i in 0..<4 {
            done.enter()
            Thread.detachNewThread {
                let r = Result {
                    try runCosci(
                        ["build", "--plan", planFile, "--shard", "\(i)/4", "--cache", cache, "--wait-timeout", "120"], cwd: clones[i],
                        env: ["CI": "true"], timeout: 900)
                }
                results.withLock { $0[i] = r }
                done.leave()
            }
        }
        done.wait()
        var built = 0
        for (i, r) in results.withLock({ $0 }).enumerated() {
            let shard = try #require(try r?.get())
            #expect(shard.status == 0, "shard \(i): \(shard.stdout)\n\(shard.stderr)")
            built += shard.stdout.split(separator: "\n").filter { $0.hasPrefix("built   ") }.count
            try? FileManager.default.removeItem(at: clones[i])
        }
        #expect(built == 26, "every package built once across the shards")

        // A fifth job assembles the repository from the shared cache: nothing to build, and the same bytes.
        let assemble = try Cosci.sample()
        defer { try? FileManager.default.removeItem(at: assemble) }
        let r = try Cosci.run(["run", "--cache", cache], in: assemble)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("nothing to build"), "\(r.stdout)")
        let files = try FileManager.default.contentsOfDirectory(atPath: single.appendingPathComponent("dist/repository").path)
        #expect(files.count > 50)
        for name in files {
            let a = try Data(contentsOf: single.appendingPathComponent("dist/repository/\(name)"))
            let b = try Data(contentsOf: assemble.appendingPathComponent("dist/repository/\(name)"))
            #expect(a == b, "\(name) differs between one process and four shards")
        }
    }
}

extension String {
    /// Appends this text to a file.
    func appendLine(to url: URL) throws {
        let h = try FileHandle(forWritingTo: url)
        h.seekToEndOfFile()
        h.write(Data(self.utf8))
        try h.close()
    }
}
