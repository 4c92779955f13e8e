#if canImport(Glibc)
    import Glibc
#endif
import CosciTestSupport
import Foundation
import Synchronization
import Testing

/// A luet client's view of a docker repository, read straight from the registry's API: what the current
/// `repository.yaml` names, and whether each of those names holds bytes with the checksum the index gives.
struct PublishedRepository {
    let host: String
    let repository: String

    static let accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"

    func get(_ path: String) throws -> (status: Int, body: Data) {
        let r = try loopbackRequest(
            host: host, method: "GET", path: "/v2/\(repository)/\(path)", headers: ["Accept": Self.accept], timeout: 30)
        return (r.status, r.body)
    }

    /// The digest of the first layer of the image tagged `tag`, or nil when there is no such tag.
    func layer(ofTag tag: String) throws -> String? {
        let r = try get("manifests/\(tag)")
        guard r.status == 200 else { return nil }
        let manifest = try #require(try JSONSerialization.jsonObject(with: r.body) as? [String: Any])
        let layers = try #require(manifest["layers"] as? [[String: Any]])
        return layers.first?["digest"] as? String
    }

    /// The file `name` from the one-layer image tagged by it (as luet's docker client reads repository files).
    func file(_ name: String) throws -> Data? {
        guard let digest = try layer(ofTag: name) else { return nil }
        let blob = try get("blobs/\(digest)")
        guard blob.status == 200 else { return nil }
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("layer-\(UUID().uuidString).tar.gz")
        try blob.body.write(to: tmp)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let out = try runTool("tar", ["-xzOf", tmp.path, name])
        return out.status == 0 ? Data(out.stdout.utf8) : nil
    }

    /// The bytes of `name` as a file (tar -O gives text; repository archives are binary, so read them raw).
    func binaryFile(_ name: String) throws -> Data? {
        guard let digest = try layer(ofTag: name) else { return nil }
        let blob = try get("blobs/\(digest)")
        guard blob.status == 200 else { return nil }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("layer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try blob.body.write(to: dir.appendingPathComponent("layer.tar.gz"))
        guard try runTool("tar", ["-xzf", dir.appendingPathComponent("layer.tar.gz").path, "-C", dir.path, name]).status == 0 else {
            return nil
        }
        return try Data(contentsOf: dir.appendingPathComponent(name))
    }

    /// `repo_files` of an index: role → (file name, sha256 hex).
    static func repoFiles(_ index: String) -> [String: (name: String, sha256: String)] {
        var out: [String: (String, String)] = [:]
        var role: String?
        var name = "", sum = ""
        func flush() { if let role, !name.isEmpty { out[role] = (name, sum) } }
        var inFiles = false
        for line in index.split(separator: "\n").map(String.init) {
            if !line.hasPrefix(" ") { flush(); role = nil; inFiles = line == "repo_files:"; continue }
            guard inFiles else { continue }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("  ") && !line.hasPrefix("   ") {
                flush()
                role = String(trimmed.dropLast())
                name = ""
                sum = ""
            } else if trimmed.hasPrefix("filename: ") {
                name = String(trimmed.dropFirst(10))
            } else if trimmed.hasPrefix("sha256: ") {
                sum = String(trimmed.dropFirst(8))
            }
        }
        flush()
        return out
    }

    /// Every inconsistency a client would meet reading the repository now: a file the index names that is
    /// missing or whose sha256 differs, and a package of the meta index whose artifact no tag holds.
    /// Returns the index's revision with the list.
    func inconsistencies() throws -> (revision: Int?, problems: [String]) {
        guard let index = try file("repository.yaml").map({ String(decoding: $0, as: UTF8.self) }) else {
            return (nil, ["no repository.yaml"])
        }
        let revision = index.split(separator: "\n").first { $0.hasPrefix("revision: ") }.flatMap { Int($0.dropFirst(10)) }
        var problems: [String] = []
        var meta: Data?
        for (role, f) in Self.repoFiles(index).sorted(by: { $0.key < $1.key }) {
            guard let bytes = try binaryFile(f.name) else {
                problems.append("\(role): \(f.name) is missing")
                continue
            }
            let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("file-\(UUID().uuidString)")
            try bytes.write(to: tmp)
            defer { try? FileManager.default.removeItem(at: tmp) }
            let sum = String(try runTool("sha256sum", [tmp.path]).stdout.prefix(64))
            if sum != f.sha256 { problems.append("\(role): \(f.name) has sha256 \(sum), the index says \(f.sha256)") }
            if role == "meta" { meta = bytes }
        }
        if let meta {
            // Every package the meta index lists must be fetchable as luet fetches it: the tag
            // name-category-version (only + made -), whose image carries the index entry's cache key.
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("meta-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            try meta.write(to: dir.appendingPathComponent("meta.tar.zst"))
            let text = try runTool("/bin/sh", ["-c", "zstd -dc '\(dir.path)/meta.tar.zst' | tar -xOf - repository.meta.yaml"]).stdout
            var entries: [(tag: String, key: String)] = []
            var key: String?
            for line in text.split(separator: "\n") {
                if line.hasPrefix("- ") { key = nil }
                if line.hasPrefix("    key: sha256:") { key = String(line.dropFirst("    key: ".count)) }
                if line.hasPrefix("  path: "), let k = key {
                    let fingerprint = line.dropFirst("  path: ".count).replacingOccurrences(of: ".package.tar.zst", with: "")
                    entries.append((fingerprint.replacingOccurrences(of: "+", with: "-"), k))
                }
            }
            for (tag, key) in entries {
                let r = try get("manifests/\(tag)")
                guard r.status == 200 else {
                    problems.append("no tag \(tag) for a package the index lists")
                    continue
                }
                let manifest = String(decoding: r.body, as: UTF8.self)
                if !manifest.contains("\"io.cosci.key\":\"\(key)\"") { problems.append("the tag \(tag) holds another build than key \(key)") }
            }
            if entries.isEmpty { problems.append("the meta index lists no package") }
        }
        return (revision, problems)
    }
}

@Suite(.serialized) struct KillPublishTests {
    /// Runs `cosci publish` and kills it (SIGKILL) when `when` says so, given the stderr seen so far and the
    /// seconds since it started. Returns whether it was killed before finishing.
    static func publish(_ dir: URL, _ target: String, killWhen when: @escaping @Sendable (String, Double) -> Bool) throws -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: TestPaths.cosci.path)
        p.arguments = ["publish", "--to", target]
        p.currentDirectoryURL = dir
        p.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("COSCI_") }.merging(["CI": "true"]) { $1 }
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let start = Date()
        let seen = Mutex("")
        let reader = Thread {
            while true {
                let d = err.fileHandleForReading.availableData
                if d.isEmpty { break }
                seen.withLock { $0 += String(decoding: d, as: UTF8.self) }
            }
        }
        reader.start()
        var killed = false
        while p.isRunning {
            if when(seen.withLock { $0 }, Date().timeIntervalSince(start)) {
                kill(p.processIdentifier, SIGKILL)
                killed = true
                break
            }
            usleep(2000)
        }
        guard p.waitUntilExit(atMost: 120) else { return false }
        return killed && p.terminationReason == .uncaughtSignal
    }

    @Test func aPublishKilledAnywhereLeavesEveryIndexedFileIntactAndARerunCompletes() throws {
        let registry = try LocalRegistry.start()
        defer { registry.stop() }
        let proxy = try FaultProxy.start(upstream: registry.host)
        defer { proxy.stop() }
        let dir = try Cosci.built()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try Cosci.run(["run"], in: dir).status == 0)
        let repo = PublishedRepository(host: registry.host, repository: "cos/kill")
        let direct = "docker://\(registry.host)/cos/kill"
        let first = try Cosci.run(["publish", "--to", direct], in: dir)
        #expect(first.status == 0, "\(first.stderr)")
        let initial = try repo.inconsistencies()
        #expect(initial.revision == 1 && initial.problems.isEmpty, "\(initial)")

        // Revision 2: a changed package with its version bumped, so every index archive changes.
        try "# changed, then bumped\n".appendLine(to: dir.appendingPathComponent("packages/utils/k9s/build.yaml"))
        #expect(try Cosci.run(["bump", "utils/k9s"], in: dir).status == 0)
        #expect(try Cosci.run(["run"], in: dir).status == 0)

        // The moment between the last file tag and repository.yaml: the registry refuses that one PUT.
        try proxy.configure(rate503: 1, onlyMethods: ["PUT"], onlyPathSuffix: "/manifests/repository.yaml")
        let refused = try Cosci.run(["publish", "--to", "docker://\(proxy.host)/cos/kill", "--retries", "1"], in: dir)
        #expect(refused.status == 1, "\(refused.stdout) \(refused.stderr)")
        let atIndex = try repo.inconsistencies()
        #expect(atIndex.revision == 1 && atIndex.problems.isEmpty, "every file tag moved, the index did not: \(atIndex)")
        try proxy.configure()

        // Killed on each phase's line, then at seeded random moments.
        var kills: [(String, @Sendable (String, Double) -> Bool)] = [
            ("at start", { _, _ in true }),
            ("after preparing", { e, _ in e.contains("prepared ") }),
            ("while pushing blobs", { e, _ in e.contains("pushing ") }),
            ("after the blobs", { e, _ in e.contains("blobs done") }),
        ]
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in 0..<6 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let at = Double(seed >> 40) / Double(1 << 24) * 1.5  // 0 to 1.5 s
            kills.append(("at \(Int(at * 1000)) ms (#\(i))", { _, t in t >= at }))
        }
        // Each kill starts over against what earlier ones left; the registry holds a mix of both revisions.
        let target = "docker://\(registry.host)/cos/kill"
        for (name, when) in kills {
            _ = try Self.publish(dir, target, killWhen: when)
            let state = try repo.inconsistencies()
            #expect(state.problems.isEmpty, "killed \(name): \(state.problems)")
            #expect(state.revision == 1 || state.revision == 2, "killed \(name): revision \(String(describing: state.revision))")
        }

        let rerun = try Cosci.run(["publish", "--to", target], in: dir)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        let final = try repo.inconsistencies()
        #expect(final.revision == 2 && final.problems.isEmpty, "\(final)")
    }
}
