import CosciModel
import CosciTestSupport
import Foundation
import Testing

/// A copy of a tree in a fresh git repository, committed with a fixed date (so SOURCE_DATE_EPOCH is fixed).
struct BuildRepo {
    let scratch: GitScratch
    var root: URL { scratch.root }
    static let epoch = Sample.epoch

    /// Copies `manifest/` (the sample tree) or a fixture tree.
    init(tree: URL = TestPaths.sample, umask mask: String = "022") throws {
        scratch = try GitScratch(copying: tree, umask: mask, epoch: Sample.epoch)
    }

    /// A copy of the sample as it is after one `cosci run` (its cache and dist included): built once per test
    /// process and copied, for tests that start from a built sample. Keys are the same in every copy (the
    /// commit's date is fixed and cache paths are relative).
    static func built() throws -> BuildRepo {
        BuildRepo(scratch: try Sample.built())
    }

    private init(scratch: GitScratch) { self.scratch = scratch }

    static func sh(_ script: String, cwd: URL? = nil) throws {
        try shell(script, cwd: cwd)
    }

    func git(_ args: String...) throws {
        try scratch.git(args)
    }

    func path(_ rel: String) -> URL { root.appendingPathComponent(rel) }

    func read(_ rel: String) throws -> String { try String(contentsOf: path(rel), encoding: .utf8) }

    func write(_ rel: String, _ text: String) throws {
        try FileManager.default.createDirectory(at: path(rel).deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: path(rel), atomically: true, encoding: .utf8)
    }

    func replace(_ rel: String, _ old: String, _ new: String) throws {
        let text = try read(rel)
        #expect(text.contains(old), "\(rel) should contain \(old)")
        try write(rel, text.replacingOccurrences(of: old, with: new))
    }

    /// Runs cosci in the repository, outside CI unless asked.
    func cosci(_ args: [String], env: [String: String] = [:]) throws -> ProcessResult {
        try CLI.run(args, cwd: root, env: ["CI": "true"].merging(env) { $1 })
    }

    /// Nothing to do: the directory goes with the last copy of the fixture.
    func remove() {}
}

/// The live file name `repository.yaml` gives for an archive (`tree`, `compilertree`, `repository.meta.yaml`):
/// `<base>.<16 hex>.tar.zst`.
func liveFile(_ base: String, in index: String) -> String? {
    let prefix = "filename: \(base)."
    for line in index.split(separator: "\n") {
        let text = line.trimmingCharacters(in: .whitespaces)
        let rest = text.dropFirst(prefix.count)
        if text.hasPrefix(prefix) && rest.count == 16 + 8 && rest.hasSuffix(".tar.zst") { return String(text.dropFirst(10)) }
    }
    return nil
}


/// Runs a program and returns its standard output (the oracles: bsdtar, sha256sum).
func capture(_ executable: String, _ args: [String], cwd: URL? = nil) throws -> ProcessResult {
    try runTool(executable, args, timeout: 600, cwd: cwd)
}

func json(_ text: String) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
}

@Suite(.serialized) struct RunCommand {
    @Test func runBuildsTheSampleTreeThenNothing() throws {
        let repo = try BuildRepo()
        defer { repo.remove() }
        let first = try repo.cosci(["run"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("26 built, 0 cached, 0 failed, 0 skipped (backend host-sandbox)"), "\(first.stdout)")
        #expect(first.stdout.contains("repository dist/repository: revision 1, 26 package version(s)"))
        // CI gets plain lines, no live view.
        #expect(first.stderr.contains("cosci: building 26 of 26 package(s) with host-sandbox"))
        #expect(!first.stderr.contains("\u{1B}[K"))

        // The artifacts, read by an independent tool.
        let yq = repo.path("dist/repository/yq-toolchain-4.30.1.package.tar.zst").path
        let listing = try capture("/usr/bin/bsdtar", ["-tvf", yq, "--numeric-owner"])
        #expect(listing.status == 0)
        #expect(listing.stdout.contains("-rwxr-xr-x  0 0"), "\(listing.stdout)")
        #expect(listing.stdout.contains("usr/bin/yq"))
        #expect(listing.stdout.contains("usr/share/doc/yq/SOURCE"))
        #expect(!listing.stdout.contains("luetbuild"), "package_dir is the artifact's root")
        // mtimes are clamped to the commit's time: 2023-11-14.
        #expect(listing.stdout.contains("Nov 14  2023"), "\(listing.stdout)")
        // system/cos squashes its runtime closure into a root filesystem (unpack: true with package_dir).
        let cos = try capture("/usr/bin/bsdtar", ["-tf", repo.path("dist/repository/cos-system-0.8.14-21.package.tar.zst").path])
        for path in ["etc/os-release", "usr/bin/yq", "boot/vmlinuz", "etc/cos-upgrade-image"] {
            #expect(cos.stdout.split(separator: "\n").contains(Substring(path)), "system/cos lacks \(path)")
        }
        // luet's metadata: checksum of the compressed file, the file list, the spec, the key.
        let metadata = try repo.read("dist/repository/yq-toolchain-4.30.1.metadata.yaml")
        let sha = try capture("/usr/bin/sha256sum", [yq]).stdout.prefix(64)
        #expect(metadata.contains("sha256: \(sha)"))
        #expect(metadata.contains("compressiontype: zstd"))
        #expect(metadata.contains("- usr/bin/yq"))
        #expect(metadata.contains("package_dir: /luetbuild/out"))
        #expect(metadata.contains("key: sha256:"))
        let index = try repo.read("dist/repository/repository.yaml")
        #expect(index.contains("revision: 1"))
        #expect(index.contains("last_update: \"\(BuildRepo.epoch)\""))
        // The index archives are named by their content; the index gives each name and checksum.
        let metaName = try #require(liveFile("repository.meta.yaml", in: index))
        #expect(metaName.hasPrefix("repository.meta.yaml.") && metaName.hasSuffix(".tar.zst") && metaName.count == 45, "\(metaName)")
        let head = try capture("/usr/bin/git", ["rev-parse", "HEAD"], cwd: repo.root).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(FileManager.default.fileExists(atPath: repo.path("dist/repository/\(head)-repository.yaml").path))
        let meta = try capture("/usr/bin/bsdtar", ["-xOf", repo.path("dist/repository/\(metaName)").path, "repository.meta.yaml"])
        #expect(meta.stdout.contains("compilationspec:"))
        #expect(meta.stdout.components(separatedBy: "\n- checksums:").count - 1 == 26)

        // Reports.
        let report = json(try repo.read("dist/report.json"))
        #expect(report["schema"] as? String == "cosci.run/v1")
        #expect((report["counts"] as? [String: Int])?["built"] == 26)
        let junit = try repo.read("dist/junit.xml")
        #expect(junit.components(separatedBy: "<testcase ").count - 1 == 26)
        #expect(try repo.read("dist/report.md").contains("## cosci run: success"))
        let timings = json(try repo.read("dist/report.timings.json"))
        // Durations by category/name (both toolchain/yq versions share one), what `plan` estimates from.
        #expect((timings["packages"] as? [String: Any])?.count == 25)

        // Nothing changed: nothing builds, the repository stays at revision 1.
        let second = try repo.cosci(["run"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("nothing to build: all 26 package(s) are in the cache"), "\(second.stdout)")
        #expect(second.stdout.contains("revision 1 (unchanged)"))
        // Cached packages pass in JUnit (built and tested before under the same key), marked by a property: a CI's
        // test view shows 26 passes, not 26 skips. Read with Python's XML parser, not ours.
        let junitCheck = try capture("/usr/bin/python3", ["-c", """
            import sys, xml.etree.ElementTree as ET
            s = ET.parse(sys.argv[1]).getroot().find('testsuite')
            cases = s.findall('testcase')
            print(len(cases), s.get('skipped'), s.get('failures'), sum(1 for c in cases if c.find('skipped') is not None),
                  sum(1 for c in cases for p in c.iter('property') if p.get('name') == 'cosci.status' and p.get('value') == 'cached'))
            """, repo.path("dist/junit.xml").path])
        #expect(junitCheck.stdout == "26 0 0 0 26\n", "testcases, skipped, failures, <skipped>, cached properties: \(junitCheck.stdout)")

        // A version bump: one package builds, the index keeps the old version too (revision 2).
        try repo.replace("packages/toolchain/shellkit/definition.yaml", "version: \"1.4.0\"", "version: \"1.4.1\"")
        try repo.git("commit", "-qam", "bump shellkit")
        let third = try repo.cosci(["run"])
        #expect(third.status == 0, "\(third.stderr)")
        #expect(third.stdout.contains("revision 2, 27 package version(s)"), "\(third.stdout)")
        let index2 = try repo.read("dist/repository/repository.yaml")
        let metaName2 = try #require(liveFile("repository.meta.yaml", in: index2))
        #expect(metaName2 != metaName)
        // The previous revision's archives stay for readers still holding the previous index.
        #expect(FileManager.default.fileExists(atPath: repo.path("dist/repository/\(metaName)").path))
        let meta2 = try capture("/usr/bin/bsdtar", ["-xOf", repo.path("dist/repository/\(metaName2)").path, "repository.meta.yaml"])
        #expect(meta2.stdout.contains("path: shellkit-toolchain-1.4.0.package.tar.zst"))
        #expect(meta2.stdout.contains("path: shellkit-toolchain-1.4.1.package.tar.zst"))
        let tree = try capture("/usr/bin/bsdtar", ["-tf", repo.path("dist/repository/\(try #require(liveFile("tree", in: index2)))").path])
        #expect(tree.stdout.contains("toolchain/shellkit/1.4.0/definition.yaml"))
        #expect(tree.stdout.contains("toolchain/shellkit/1.4.1/definition.yaml"))
    }

    @Test func identicalRunsGiveIdenticalBytesWhateverTheUmaskAndDirectory() throws {
        let a = try BuildRepo(umask: "022")
        let b = try BuildRepo(umask: "077")
        defer {
            a.remove()
            b.remove()
        }
        let ra = try a.cosci(["run"])
        let rb = try CLI.run(["run"], cwd: b.root, env: ["CI": "true"])
        #expect(ra.status == 0, "\(ra.stderr)")
        #expect(rb.status == 0, "\(rb.stderr)")
        #expect(try a.read("dist/report.json") == b.read("dist/report.json"), "canonical reports are byte-identical")
        let names = try FileManager.default.contentsOfDirectory(atPath: a.path("dist/repository").path)
            .filter { !$0.contains("repository.yaml") || $0 == "repository.yaml" }
        #expect(names.count > 50)
        for name in names.sorted() {
            let x = try Data(contentsOf: a.path("dist/repository/\(name)"))
            let y = try Data(contentsOf: b.path("dist/repository/\(name)"))
            #expect(x == y, "\(name) differs between the two builds")
        }
    }
}

@Suite(.serialized) struct MultiArch {
    @Test func severalPlatformsGiveOneIndexWhateverPlatformAssembles() throws {
        let repo = try BuildRepo()
        defer { repo.remove() }
        try repo.replace("cosci.yaml", "platform: linux/amd64\n", "platform: linux/amd64\nplatforms: [linux/amd64, linux/arm64]\n")
        try repo.git("commit", "-qam", "two platforms")
        #expect(try repo.cosci(["build", "--all"]).status == 0)
        let missing = try repo.cosci(["assemble"])
        #expect(missing.status == 2, "\(missing.stderr)")
        #expect(missing.stderr.contains("has no artifact for linux/arm64 in the cache"), "\(missing.stderr)")
        #expect(missing.stderr.contains("--platform linux/arm64"))
        #expect(try repo.cosci(["build", "--all", "--platform", "linux/arm64"]).status == 0)
        let amd = try repo.cosci(["assemble"])
        let arm = try repo.cosci(["assemble", "--platform", "linux/arm64"])
        #expect(amd.status == 0 && arm.status == 0, "\(amd.stderr)\(arm.stderr)")
        #expect(amd.stdout == arm.stdout, "one index, one digest")
        let raw = try capture("/usr/bin/skopeo", ["inspect", "--raw", "oci:\(repo.path("dist/images/cos").path):latest"])
        let index = json(raw.stdout)
        #expect(index["mediaType"] as? String == "application/vnd.oci.image.index.v1+json")
        let platforms = (index["manifests"] as? [[String: Any]] ?? []).compactMap { ($0["platform"] as? [String: String])?["architecture"] }
        #expect(platforms == ["amd64", "arm64"])
        let copy = try capture("/usr/bin/skopeo", ["copy", "--override-arch", "arm64", "oci:\(repo.path("dist/images/cos").path):latest", "oci:\(repo.path("arm").path):x"])
        #expect(copy.status == 0)
    }
}

@Suite(.serialized) struct BuildFailures {
    /// toolchain/shellkit is a dependency of most of the tree; distro/base and system/kernel do not need it.
    func brokenRepo() throws -> BuildRepo {
        let repo = try BuildRepo()
        try repo.replace(
            "packages/toolchain/shellkit/build.yaml", "steps:\n", "steps:\n- echo 'checking the toolchain'; echo 'no compiler found' >&2; exit 7\n")
        try repo.git("commit", "-qam", "break shellkit")
        return repo
    }

    @Test func failFastStopsAndPrintsTheLogTail() throws {
        let repo = try brokenRepo()
        defer { repo.remove() }
        let r = try repo.cosci(["build", "--all", "--build-jobs", "1"])
        #expect(r.status == 3, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stderr.contains("FAILED  toolchain/shellkit@1.4.0: step 1 of 4 exited with status 7"), "\(r.stderr)")
        #expect(r.stderr.contains("exited with status 7"))
        #expect(r.stderr.contains("  | no compiler found"), "the log tail is printed")
        #expect(r.stderr.contains("log: dist/logs/shellkit-toolchain-1.4.0.log"))
        #expect(r.stderr.contains("package(s): not started: the build of toolchain/shellkit@1.4.0 failed (fail-fast; --keep-going builds the rest)\n"), "\(r.stderr)")
        #expect(r.stderr.contains("system/cos@0.8.14-21"))
        #expect(r.stderr.hasSuffix("  | ==> FAILED: toolchain/shellkit@1.4.0: step 1 of 4 exited with status 7: echo 'checking the toolchain'; echo 'no compiler found' >&2; exit 7\n"), "the failure comes last, with its log tail")
        let log = try repo.read("dist/logs/shellkit-toolchain-1.4.0.log")
        #expect(log.contains("checking the toolchain"))
    }

    @Test func keepGoingBuildsWhatDoesNotDependOnTheFailure() throws {
        let repo = try brokenRepo()
        defer { repo.remove() }
        let r = try repo.cosci(["build", "--all", "--keep-going"])
        #expect(r.status == 3)
        #expect(r.stdout.contains("built   distro/base@0.20240612-3"), "\(r.stdout)")
        #expect(r.stdout.contains("built   system/kernel@5.14.21-3"))
        #expect(r.stderr.contains("package(s): depends on toolchain/shellkit@1.4.0, which failed\n"), "\(r.stderr)")
        #expect(r.stderr.contains("toolchain/yq@4.30.1"))
        // run refuses to write a repository with a hole in it.
        let run = try repo.cosci(["run", "--keep-going"])
        #expect(run.status == 3)
        #expect(run.stderr.contains("the repository was not written because a package failed"))
        #expect(!FileManager.default.fileExists(atPath: repo.path("dist/repository/repository.yaml").path))
        let report = json(try repo.read("dist/report.json"))
        #expect(report["result"] as? String == "failure")
        #expect(try repo.read("dist/junit.xml").contains("<failure message=\"toolchain/shellkit@1.4.0: step 1 of"))
    }

    @Test func aPackageTheBackendCannotBuildSaysWhichToUse() throws {
        let repo = try BuildRepo()
        defer { repo.remove() }
        try repo.replace("packages/distro/base/build.yaml", "steps:", "image: registry.example/base:1\nsteps:")
        let r = try repo.cosci(["build", "distro/base", "--backend", "host-sandbox"])
        #expect(r.status == 3)
        #expect(r.stderr.contains("cannot build with host-sandbox: it builds FROM the image registry.example/base:1"), "\(r.stderr)")
        #expect(r.stderr.contains("use --backend rootfs or podman"))
    }
}

@Suite(.serialized) struct CacheAndVerify {
    @Test func twoProcessesShareOneCacheAndBuildEachKeyOnce() throws {
        let repo = try BuildRepo()
        defer { repo.remove() }
        let procs = (0..<2).map { i in CLI.prepare(["build", "--all", "--output", "out\(i)"], cwd: repo.root) }
        for (p, _) in procs { try p.run() }
        var built = 0
        for (p, pipe) in procs {
            let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            try #require(p.waitUntilExit(atMost: 600), "cosci did not end")
            #expect(p.terminationStatus == 0, "\(out)")
            built += out.split(separator: "\n").filter { $0.hasPrefix("built   ") }.count
        }
        #expect(built == 26, "each of the 26 keys is built by exactly one of the two processes")
        let ls = try repo.cosci(["cache", "ls", "--json"])
        let entries = json(ls.stdout)["entries"] as? [[String: Any]] ?? []
        #expect(entries.count == 26)

        let dry = try repo.cosci(["cache", "gc", "--max-size", "0", "--dry-run"])
        #expect(dry.stdout.contains("0 artifact(s)"), "the current tree's artifacts are kept: \(dry.stdout)")
        let gc = try repo.cosci(["cache", "gc", "--max-size", "0", "--include-current"])
        #expect(gc.stdout.contains("26 artifact(s)"), "\(gc.stdout)")
        #expect((json(try repo.cosci(["cache", "ls", "--json"]).stdout)["entries"] as? [Any])?.count == 0)
    }

    @Test func shardsOfAPlanWaitForEachOtherInASharedCache() throws {
        let repo = try BuildRepo()
        defer { repo.remove() }
        let plan = try repo.cosci(["plan", "--all", "--shards", "3", "--report", "plan.json"])
        #expect(plan.status == 0, "\(plan.stderr)")
        let shardOf = Dictionary(
            uniqueKeysWithValues: (json(plan.stdout)["packages"] as? [[String: Any]] ?? []).compactMap { p in
                (p["id"] as? String).flatMap { id in (p["shard"] as? Int).map { (id, $0) } }
            })
        #expect(Set(shardOf.values).count == 3)
        let procs = (0..<3).map { i in CLI.prepare(["build", "--plan", "plan.json", "--shard", "\(i)/3", "--output", "out\(i)", "--wait-timeout", "120"], cwd: repo.root) }
        // Start the last shard first: it has to wait for what the others build.
        for (p, _) in procs.reversed() { try p.run() }
        var builtBy: [String: Int] = [:]
        for (i, (p, pipe)) in procs.enumerated() {
            let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            try #require(p.waitUntilExit(atMost: 600), "shard \(i) did not end")
            #expect(p.terminationStatus == 0, "shard \(i): \(out)")
            for line in out.split(separator: "\n") where line.hasPrefix("built   ") {
                builtBy[String(line.split(separator: " ")[1])] = i
            }
        }
        #expect(builtBy.count == 26, "every package built once: \(builtBy.keys.sorted())")
        #expect(builtBy == shardOf, "each package built by the shard the plan gave it")
        let stale = try repo.cosci(["build", "--plan", "plan.json", "--shard", "0/2"])
        #expect(stale.status == 2)
        #expect(stale.stderr.contains("the plan has 3 shard(s) but --shard says 0/2"))
    }

    @Test("a shard that needs another shard's packages and has no shared cache fails at once, naming the flag")
    func aShardWithoutASharedCacheFailsAtOnce() throws {
        let repo = try BuildRepo()
        defer { repo.remove() }
        try repo.replace("cosci.yaml", "cache: .cosci/cache\n", "")
        let plan = try repo.cosci(["plan", "--all", "--shards", "2", "--report", "plan.json"])
        #expect(plan.status == 0, "\(plan.stderr)")
        let waits = (json(plan.stdout)["shard_dependencies"] as? [String: Any]) ?? [:]
        let started = Date()
        let shard = try repo.cosci(["build", "--plan", "plan.json", "--shard", "1/2", "--wait-timeout", "60"])
        #expect(shard.status == 64, "\(shard.stderr) \(waits)")
        #expect(shard.stderr.contains("has no shared cache to receive them"), "\(shard.stderr)")
        #expect(shard.stderr.contains("--cache docker://HOST/REPO"))
        #expect(Date().timeIntervalSince(started) < 30, "it does not wait")
    }

    @Test("a plan used at another revision, or with other values, says exactly what differs")
    func aStalePlanSaysWhatDiffers() throws {
        let repo = try BuildRepo()
        defer { repo.remove() }
        #expect(try repo.cosci(["plan", "--all", "--report", "plan.json"]).status == 0)
        try repo.write("extra.yaml", "codename: \"emerald\"\n")
        let values = try repo.cosci(["build", "--plan", "plan.json", "--values", "extra.yaml"])
        #expect(values.status == 2)
        #expect(values.stderr.contains("made at this commit, flavor and platform, so from another tree or values"), "\(values.stderr)")
        try repo.replace("packages/toolchain/yq/build.yaml", "steps:\n", "steps:\n- echo moved\n")
        try repo.git("commit", "-qam", "move yq")
        let moved = try repo.cosci(["build", "--plan", "plan.json"])
        #expect(moved.status == 2)
        #expect(moved.stderr.contains("it was made at commit"), "\(moved.stderr)")
        #expect(moved.stderr.contains("this checkout is at"))
    }

    @Test func verifyFindsTheEntriesOfANonReproduciblePackage() throws {
        let repo = try BuildRepo()
        defer { repo.remove() }
        #expect(try repo.cosci(["build", "toolchain/luet", "distro/base"]).status == 0)
        let good = try repo.cosci(["verify", "--rebuild", "toolchain/luet", "distro/base"])
        #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
        #expect(good.stdout.contains("reproducible  toolchain/luet@0.32.0+2"))
        #expect(good.stdout.contains("2 of 2 package(s) reproducible"))

        // A step that writes the time of day into the artifact.
        try repo.replace("packages/distro/base/build.yaml", "steps:\n", "steps:\n- mkdir -p out/etc && date +%s%N > out/etc/build-stamp\n")
        #expect(try repo.cosci(["build", "distro/base"]).status == 0)
        let bad = try repo.cosci(["verify", "--rebuild", "distro/base"])
        #expect(bad.status == 3)
        #expect(bad.stdout.contains("DIFFERS       distro/base@0.20240612-3"), "\(bad.stdout)")
        #expect(bad.stdout.contains("etc/build-stamp: content"), "\(bad.stdout)")
    }

    @Test func repoIndexWritesARepositoryFromTheCache() throws {
        let repo = try BuildRepo()
        defer { repo.remove() }
        let missing = try repo.cosci(["repo", "index", "--to", "repo"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("26 package(s) have no artifact in"), "\(missing.stderr)")
        #expect(missing.stderr.contains("cosci build --all"))
        #expect(try repo.cosci(["build", "--all"]).status == 0)
        let r = try repo.cosci(["repo", "index", "--to", "repo", "--snapshot", "v1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("repo: revision 1, 26 package version(s)"))
        let index = try repo.read("repo/repository.yaml")
        let live = try ["tree", "compilertree"].map { try #require(liveFile($0, in: index)) }
        for file in ["repository.yaml", "v1-repository.yaml", "v1-tree.tar.zst"] + live {
            #expect(FileManager.default.fileExists(atPath: repo.path("repo/\(file)").path), "\(file) missing")
        }
        let snapshot = try repo.read("repo/v1-repository.yaml")
        #expect(snapshot.contains("filename: v1-tree.tar.zst"))
    }
}

/// Whether podman can build here (installed, runc, vfs); the podman tests are skipped, and say so, when not.
enum PodmanProbe {
    static let root = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-podman-probe").path

    static func configure(_ root: String) throws {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try """
            [containers]
            default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
            [engine]
            runtime = "runc"
            cgroup_manager = "cgroupfs"
            events_logger = "file"

            """.write(toFile: root + "/containers.conf", atomically: true, encoding: .utf8)
    }

    static func podman(_ root: String, _ args: [String]) throws -> (status: Int32, stdout: String) {
        let global = ["--root", root + "/storage", "--runroot", root + "/run", "--storage-driver", "vfs",
                      "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--runtime", "runc"]
        let r = try runTool("/usr/bin/podman", global + args, env: ["CONTAINERS_CONF": root + "/containers.conf"], timeout: 600)
        return (r.status, r.stdout + r.stderr)
    }

    /// Nil when podman works here, else why not.
    static let unavailable: String? = {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/podman") else { return "podman is not installed" }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/runc") || FileManager.default.isExecutableFile(atPath: "/usr/bin/runc")
        else { return "runc is not installed" }
        guard FileManager.default.isExecutableFile(atPath: "/bin/busybox") else { return "busybox-static is not installed" }
        do {
            try configure(root)
            let info = try podman(root, ["info"])
            return info.status == 0 ? nil : "`podman info` fails here: \(info.stdout.suffix(200))"
        } catch {
            return "\(error)"
        }
    }()
}

@Suite(.serialized) struct PodmanBackend {
    @Test(.enabled(if: PodmanProbe.unavailable == nil, "podman with runc and vfs cannot run on this machine"))
    func buildsDeltasPackageDirsAndWholeFilesystems() throws {
        let repo = try BuildRepo(tree: CLI.fixtures.appendingPathComponent("podman"))
        defer { repo.remove() }
        // A base image made from busybox, imported into the storage cosci uses (a short path: podman limits
        // the length of its run directory).
        let state = "/tmp/cosci-pt-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: state) }
        try PodmanProbe.configure(state)
        let rootfs = repo.path("base-rootfs")
        try BuildRepo.sh("""
            mkdir -p '\(rootfs.path)/bin' '\(rootfs.path)/etc' '\(rootfs.path)/tmp'
            cp /bin/busybox '\(rootfs.path)/bin/'
            for a in sh mkdir cp chmod printf echo cat ls; do ln -s busybox '\(rootfs.path)/bin/'$a; done
            echo hello > '\(rootfs.path)/etc/motd'
            tar -C '\(rootfs.path)' -cf '\(repo.path("base.tar").path)' .
            """)
        let imported = try PodmanProbe.podman(state, ["import", repo.path("base.tar").path, "localhost/cosci-test/busybox:1"])
        #expect(imported.status == 0, "\(imported.stdout)")

        let r = try repo.cosci(["build", "--all", "--backend", "podman"], env: ["COSCI_PODMAN_ROOT": state])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("3 built, 0 cached, 0 failed, 0 skipped (backend podman)"), "\(r.stdout)")

        func entries(_ glob: String) throws -> [String] {
            let cache = repo.path(".cosci/cache").path
            let find = try capture("/usr/bin/find", [cache, "-name", glob])
            let file = find.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            return try capture("/usr/bin/bsdtar", ["-tf", file]).stdout.split(separator: "\n").map(String.init)
        }
        // Delta: what the steps added (the script) and modified (/etc/motd), nothing of the image, no runtime leftovers.
        let hello = try entries("hello-base-1.0.package.tar.zst")
        #expect(hello.contains("usr/local/bin/hello"), "\(hello)")
        #expect(hello.contains("etc/motd"), "a modified file is kept: \(hello)")
        #expect(!hello.contains("bin/busybox"))
        #expect(!hello.contains { $0.hasPrefix("proc") || $0.hasPrefix("dev") || $0 == "etc/hostname" }, "\(hello)")
        // package_dir, built on the image of its dependency with that dependency's artifact layered in.
        let greeter = try entries("greeter-apps-0.2.package.tar.zst")
        #expect(greeter.contains("usr/bin/greet") && greeter.contains("greeting.txt"), "\(greeter)")
        // unpack: true — the whole filesystem, filtered.
        let whole = try entries("rootfs-system-3.1.package.tar.zst")
        #expect(whole.contains("bin/busybox") && whole.contains("etc/issue"), "\(whole)")
        #expect(!whole.contains { $0.hasPrefix("proc") || $0.hasPrefix("luetbuild") })
    }
}
