import CosciTestSupport
import Foundation
import Testing

/// A derivative: its own tree on top of a published upstream repository (here the sample, built and indexed
/// as a disk repository), with nothing upstream in its tree.
@Suite struct Derivatives {
    /// A tool's standard output.
    func output(_ tool: String, _ arguments: [String]) throws -> String {
        try runTool(tool, arguments, timeout: 600).stdout
    }

    func derivative(repositories: String) throws -> BuildRepo {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = [
            "cosci.yaml": "tree: packages\n" + repositories,
            "packages/sampleOS/definition.yaml": "name: sampleOS\ncategory: system\nversion: 0.5.0\nbrand_name: sampleOS\n",
            "packages/sampleOS/build.yaml": """
                requires:
                - {category: system, name: cos, version: ">=0-0"}
                - {category: app, name: svc, version: ">=0-0"}
                requires_final_images: true
                env:
                - SYSROOT=/cosci/sysroot
                prelude:
                - mkdir -p out/etc
                steps:
                - test -x "$SYSROOT/usr/bin/svc"
                - cp "$SYSROOT/etc/cos/version" out/etc/upstream-version
                - echo {{ .Values.brand_name }} > out/etc/brand
                package_dir: /luetbuild/out

                """,
            "packages/svc/definition.yaml": "name: svc\ncategory: app\nversion: \"1.0\"\n",
            "packages/svc/build.yaml": "prelude:\n- mkdir -p out/usr/bin\nsteps:\n- printf '#!/bin/sh\\necho svc\\n' > out/usr/bin/svc && chmod 755 out/usr/bin/svc\npackage_dir: /luetbuild/out\n",
        ]
        for (path, text) in files {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return try BuildRepo(tree: dir)
    }

    @Test("check, list, explain and build of a derivative against an upstream disk repository")
    func diskRepository() throws {
        let upstream = try BuildRepo.built()
        defer { upstream.remove() }
        let repository = upstream.path("dist/repository").path
        let repo = try derivative(repositories: "repositories:\n- name: cos\n  type: disk\n  urls: [\(repository)]\n  enable: true\n")
        defer { repo.remove() }

        let check = try repo.cosci(["check"])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")

        // The upstream package, with the digest of the artifact the repository holds (sha256sum is the oracle).
        let list = try repo.cosci(["list", "--json"])
        #expect(list.status == 0, "\(list.stderr)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])
        let used = try #require(doc["upstream"] as? [[String: Any]])
        let cos = try #require(used.first { ($0["id"] as? String)?.hasPrefix("system/cos@") == true })
        #expect(cos["repository"] as? String == "cos")
        #expect(cos["revision"] as? Int == 1)
        let artifactName = try #require(cos["path"] as? String)
        let sum = try output("/usr/bin/sha256sum", ["\(repository)/\(artifactName)"]).prefix(64)
        #expect(cos["sha256"] as? String == "sha256:" + sum)
        let table = try repo.cosci(["list"]).stdout
        #expect(table.contains("1 + 1 upstream"), "\(table)")
        #expect(table.contains("FROM REPOSITORIES"), "\(table)")

        let explain = try repo.cosci(["explain", "sampleOS"])
        #expect(explain.stdout.contains("from repository cos (revision 1)"), "\(explain.stdout)")

        // The build stands on the upstream artifact (fetched, verified, cached by its key) and its own svc.
        let build = try repo.cosci(["build", "system/sampleOS"])
        #expect(build.status == 0, "\(build.stdout)\(build.stderr)")
        let artifact = try #require(try output("/usr/bin/find", [repo.path(".cosci/cache").path, "-name", "sampleOS-system-0.5.0.package.tar.zst"])
            .split(separator: "\n").first.map(String.init))
        let version = try output("/usr/bin/tar", ["-xOf", artifact, "etc/upstream-version"])
        let upstreamVersion = try #require((cos["id"] as? String)?.split(separator: "@").last)
        #expect(version.trimmingCharacters(in: .whitespacesAndNewlines) == String(upstreamVersion), "the upstream system/cos was in the sysroot")
        #expect(try output("/usr/bin/tar", ["-xOf", artifact, "etc/brand"]) == "sampleOS\n")

        // A run builds and publishes only the derivative's own packages.
        let run = try repo.cosci(["run"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("repository dist/repository: revision 1, 2 package version(s)"), "\(run.stdout)")

        // An upstream artifact that does not match its index is refused, naming both digests.
        try FileManager.default.removeItem(at: repo.path(".cosci"))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(repository)/\(artifactName)"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0]))
        try handle.close()
        let damaged = try repo.cosci(["build", "system/sampleOS"])
        #expect(damaged.status == 1)
        #expect(damaged.stderr.contains("does not match its index"), "\(damaged.stderr)")
    }

    @Test("cosci.lock pins the upstream; --update moves it; affected names the upstream package that moved; run rebuilds only what uses it")
    func upstreamReRelease() throws {
        let upstream = try BuildRepo.built()
        defer { upstream.remove() }
        let repository = upstream.path("dist/repository").path
        let repo = try derivative(repositories: "repositories:\n- name: cos\n  type: disk\n  urls: [\(repository)]\n")
        defer { repo.remove() }
        let lock = try repo.cosci(["lock"])
        #expect(lock.status == 0, "\(lock.stderr)")
        #expect(lock.stdout.contains("repository cos  revision 1 (new)"), "\(lock.stdout)")
        try repo.git("add", "-A")
        try repo.git("commit", "-q", "-m", "lock")
        #expect(try repo.cosci(["run"]).status == 0)
        func key(_ id: String) throws -> String? {
            let doc = try JSONSerialization.jsonObject(with: Data(try repo.cosci(["list", "--json"]).stdout.utf8)) as? [String: Any]
            return (doc?["packages"] as? [[String: Any]])?.first { $0["id"] as? String == id }?["key"] as? String
        }
        let before = try key("system/sampleOS@0.5.0"), svcBefore = try key("app/svc@1.0")

        // Upstream re-releases system/cos.
        try upstream.replace("packages/cos/build.yaml", "\nsteps:\n", "\nsteps:\n- echo fixed > rootfs/etc/cos-fix\n")
        try upstream.git("commit", "-q", "-am", "fix cos")
        let release = try upstream.cosci(["run"])
        #expect(release.stdout.contains("revision 2"), "\(release.stdout)")

        // The lock holds: nothing upstream is re-resolved.
        #expect(try key("system/sampleOS@0.5.0") == before)
        let update = try repo.cosci(["lock", "--update", "cos"])
        #expect(update.stdout.contains("repository cos  revision 1 → 2"), "\(update.stdout)")
        try repo.git("commit", "-q", "-am", "move cos")
        #expect(try key("system/sampleOS@0.5.0") != before)
        #expect(try key("app/svc@1.0") == svcBefore)

        let affected = try repo.cosci(["affected", "--base", "HEAD~1"])
        #expect(affected.status == 0, "\(affected.stderr)")
        #expect(affected.stdout.contains("1 affected (0 new)"), "\(affected.stdout)")
        #expect(affected.stdout.contains("repository cos: system/cos@0.8.14-21 re-released"), "\(affected.stdout)")
        #expect(affected.stdout.contains("→ (build dependency) system/sampleOS@0.5.0"))
        let run = try repo.cosci(["run"])
        #expect(run.stdout.contains("1 built, 1 cached"), "\(run.stdout)")
    }

    @Test("examples/derivative builds on the sample's repository: its OS image holds the upstream files and its own")
    func theExample() throws {
        let upstream = try BuildRepo.built()
        defer { upstream.remove() }
        let repo = try BuildRepo(tree: CLI.packageRoot.appendingPathComponent("examples/derivative"))
        defer { repo.remove() }
        try repo.replace("cosci.yaml", "urls: [../../manifest/dist/repository]", "urls: [\(upstream.path("dist/repository").path)]")
        let check = try repo.cosci(["check", "--strict"])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        let run = try repo.cosci(["run"])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("3 built, 0 cached, 0 failed"), "\(run.stdout)")
        #expect(run.stdout.contains("repository dist/repository: revision 1, 3 package version(s)"), "only its own packages are published")
        #expect(run.stdout.contains("image sampleos:0.5.0"), "\(run.stdout)")
        // An image from upstream parts: the upstream system/cos and utils/k9s straight from the repository.
        #expect(run.stdout.contains("image cos-plus:0.8.14-21"), "\(run.stdout)")
        let plus = try output("/bin/sh", ["-c", "cd '\(repo.root.path)' && skopeo copy oci:dist/images/cos-plus:0.8.14-21 dir:plus >/dev/null && for f in plus/*; do tar -tzf \"$f\" 2>/dev/null; done"])
        for path in ["etc/cos/version", "usr/bin/k9s", "usr/bin/sampleos-service", "etc/motd"] {
            #expect(plus.contains(path), "\(path) is not in cos-plus")
        }
        #expect(run.stdout.contains("image cos-plus:0.8.14-21  sha256:") && run.stdout.contains("4 layer(s)"), "three packages and the overlay: \(run.stdout)")
        // The OS image's one layer (read with skopeo and tar, not cosci): upstream files plus the derivative's.
        let layout = repo.path("dist/images/sampleos").path
        let copied = repo.path("image-dir").path
        _ = try output("/usr/bin/skopeo", ["copy", "oci:\(layout):0.5.0", "dir:\(copied)"])
        let listing = try output("/bin/sh", ["-c", "for f in '\(copied)'/*; do tar -tzf \"$f\" 2>/dev/null; done"])
        for path in ["etc/cos/version", "etc/os-release", "usr/bin/sampleos-service", "usr/share/selinux/sampleos/sampleOS.te"] {
            #expect(listing.contains(path), "\(path) is not in the image")
        }
        let release = try output("/bin/sh", ["-c", "for f in '\(copied)'/*; do tar -xzOf \"$f\" etc/os-release 2>/dev/null; done"])
        #expect(release.contains("PRETTY_NAME=\"sampleOS v0.5.0\""), "\(release)")

        // --with-upstream: the repository also carries what its packages need at run time from upstream (the
        // service's shellkit), with the upstream definition, so it installs on its own.
        let carried = try repo.cosci(["repo", "index", "--to", "carried", "--with-upstream"])
        #expect(carried.stdout.contains("carried: revision 1, 4 package version(s)"), "\(carried.stdout)\(carried.stderr)")
        let shellkit = try repo.read("carried/shellkit-toolchain-1.4.0.metadata.yaml")
        #expect(shellkit.contains("name: shellkit"), "\(shellkit)")
        let shellkitFile = try #require(try output("/bin/sh", ["-c", "cd '\(repo.root.path)/carried' && ls shellkit-toolchain-1.4.0.package.tar.*"]).split(separator: "\n").first)
        let upstreamFile = upstream.path("dist/repository/\(shellkitFile)").path
        #expect(try output("/usr/bin/cmp", [upstreamFile, repo.path("carried/\(shellkitFile)").path]).isEmpty, "the upstream artifact, byte for byte")
        #expect(!FileManager.default.fileExists(atPath: repo.path("carried/cos-system-0.8.14-21.metadata.yaml").path), "only what is needed at run time")
    }

    @Test("a requirement nothing satisfies names the repositories; an unreadable repository is named; none configured says how to add one")
    func failures() throws {
        let unreachable = try derivative(repositories: "repositories:\n- name: cos\n  type: disk\n  urls: [/nonexistent/cos]\n")
        defer { unreachable.remove() }
        let r = try unreachable.cosci(["check"])
        #expect(r.status == 1, "an unreadable repository is an environment failure")
        #expect(r.stdout.contains("cannot read the repository cos: /nonexistent/cos: no repository.yaml"), "\(r.stdout)")
        #expect(r.stdout.contains("(searched the tree and cos)"), "\(r.stdout)")

        let bare = try derivative(repositories: "")
        defer { bare.remove() }
        let none = try bare.cosci(["check"])
        #expect(none.status == 2)
        #expect(none.stdout.contains("add that under `repositories:` in cosci.yaml"), "\(none.stdout)")

        let typo = try derivative(repositories: "repositories:\n- name: cos\n  type: oci\n  urls: [x]\n")
        defer { typo.remove() }
        let bad = try typo.cosci(["check"])
        #expect(bad.status == 2)
        #expect((bad.stdout + bad.stderr).contains("cosci.yaml:4"), "\(bad.stdout)\(bad.stderr)")
        #expect((bad.stdout + bad.stderr).contains("unknown repository type \"oci\""))
    }
}
