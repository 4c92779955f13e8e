import CosciTestSupport
import Foundation
import Testing

/// Issue-level flow of OS images: a base image made here (busybox, with a whiteout in its second layer) is
/// pushed to a loopback registry; packages build FROM it with the rootfs backend; an OS image and its ISO are
/// assembled; releases move a channel, roll it back; and a client finds and unpacks its upgrade.
@Suite(.serialized) struct OSImageTests {
    /// Writes a file, creating its directory.
    func write(_ root: URL, _ rel: String, _ text: String) throws {
        let url = root.appendingPathComponent(rel)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    func sh(_ script: String, in dir: URL) throws -> String {
        let r = try runTool("/bin/sh", ["-ec", "cd '\(dir.path)'\n" + script])
        guard r.status == 0 else { throw TestSupportError("shell failed: \(script)\n\(r.stderr)") }
        return r.stdout
    }

    /// A two-layer busybox image: the second layer deletes /etc/motd (a whiteout).
    func makeBase(in work: URL, push registry: String) throws {
        _ = try sh("""
            umoci init --layout base
            umoci new --image base:1
            umoci unpack --rootless --image base:1 bundle >/dev/null
            mkdir -p bundle/rootfs/bin bundle/rootfs/etc
            cp /bin/busybox bundle/rootfs/bin/
            for a in sh cat echo mkdir cp ls printf chmod rm; do ln -s busybox bundle/rootfs/bin/$a; done
            echo 'NAME=busybox-base' > bundle/rootfs/etc/os-release
            echo 'old banner' > bundle/rootfs/etc/motd
            umoci repack --image base:1 bundle
            rm -rf bundle && umoci unpack --rootless --image base:1 bundle >/dev/null
            rm bundle/rootfs/etc/motd
            umoci repack --image base:1 bundle
            skopeo copy -q --dest-tls-verify=false oci:base:1 docker://\(registry)/base/busybox:1
            """, in: work)
    }

    func makeTree(_ dir: URL, registry: String, appVersion: String) throws {
        try write(dir, "cosci.yaml", "tree: packages\nimages: images\nchannels: channels\n")
        try write(dir, "packages/os/definition.yaml", "name: os\ncategory: system\nversion: \"1.0\"\n")
        try write(dir, "packages/os/build.yaml", """
            image: \(registry)/base/busybox:1
            steps:
            - printf 'NAME=cosci-os\\nVERSION={{ .Values.version }}\\n' > /etc/os-release
            unpack: true
            excludes:
            - ^/luetbuild
            - ^/proc
            - ^/dev
            - ^/tmp

            """)
        try write(dir, "packages/app/definition.yaml", "name: app\ncategory: apps\nversion: \"\(appVersion)\"\n")
        try write(dir, "packages/app/build.yaml", """
            image: \(registry)/base/busybox:1
            steps:
            - mkdir -p /usr/bin && printf '#!/bin/sh\\necho app {{ .Values.version }}\\n' > /usr/bin/app && chmod 755 /usr/bin/app

            """)
        try write(dir, "images/os.yaml", """
            name: os
            description: "The test OS"
            base: system/os
            packages: [apps/app]
            layers: per-package
            labels:
              org.opencontainers.image.title: os
            iso:
              label: COSCI_TEST
              files:
                boot/README: iso-readme.txt

            """)
        try write(dir, "images/iso-readme.txt", "live image\n")
        try write(dir, "channels/stable.yaml", "name: stable\nrepository: os/releases\npackages: [\"system/*\", \"apps/*\"]\n")
    }

    @Test func rootfsBuildsImagesIsoReleasesAndUpgrades() throws {
        let registry = try LocalRegistry.start()
        defer { registry.stop() }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-os-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        try makeBase(in: work, push: registry.host)
        let tree = work.appendingPathComponent("tree")
        try makeTree(tree, registry: registry.host, appVersion: "1.0")
        _ = try sh("git init -q -b main && git add -A && GIT_AUTHOR_DATE='@1700000000 +0000' GIT_COMMITTER_DATE='@1700000000 +0000' git -c user.name=T -c user.email=t@e commit -qm one", in: tree)

        // Pin the base image, then build: image packages go to the rootfs backend.
        let lock = try Cosci.run(["lock"], in: tree)
        #expect(lock.status == 0, "\(lock.stderr)")
        #expect(try String(contentsOf: tree.appendingPathComponent("cosci.lock"), encoding: .utf8).contains("\(registry.host)/base/busybox:1"))
        let run = try Cosci.run(["run"], in: tree)
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("backend rootfs"), "\(run.stdout)")
        let osArtifact = tree.appendingPathComponent("dist/repository/os-system-1.0.package.tar.zst").path
        let entries = try runTool("bsdtar", ["-tf", osArtifact]).stdout.split(separator: "\n").map(String.init)
        #expect(entries.contains("bin/busybox") && entries.contains("etc/os-release"))
        #expect(!entries.contains("etc/motd"), "the base image's whiteout removed /etc/motd")
        let app = try runTool("bsdtar", ["-tf", tree.appendingPathComponent("dist/repository/app-apps-1.0.package.tar.zst").path]).stdout
        #expect(app.contains("usr/bin/app") && !app.contains("bin/busybox"), "a delta artifact: \(app)")

        // Assemble twice: the same digest; the ISO byte-identical; skopeo and umoci accept the image.
        let first = try Cosci.run(["assemble", "--iso", "--push", "docker://\(registry.host)/os-images"], in: tree)
        #expect(first.status == 0, "\(first.stderr)")
        let iso = tree.appendingPathComponent("dist/images/os-1.0.iso")
        let isoBytes = try Data(contentsOf: iso)
        sleep(1)  // a second later: any clock value that leaks into the ISO would show
        let second = try Cosci.run(["assemble", "--iso"], in: tree)
        #expect(second.status == 0)
        let digest = { (s: String) in s.split(separator: " ").first { $0.hasPrefix("sha256:") }.map(String.init) }
        #expect(digest(first.stdout) != nil && digest(first.stdout) == digest(second.stdout), "\(first.stdout)\n\(second.stdout)")
        #expect(try Data(contentsOf: iso) == isoBytes, "the ISO is byte-identical")
        let listing = try runTool("xorriso", ["-indev", iso.path, "-find", "/"])
        #expect(listing.stdout.contains("'/rootfs.squashfs'") && listing.stdout.contains("'/boot/README'"), "\(listing.stdout)")
        let layout = tree.appendingPathComponent("dist/images/os").path
        #expect(try Cosci.skopeo(["inspect", "oci:\(layout):1.0"]).status == 0)
        let bundle = work.appendingPathComponent("os-bundle")
        let unpacked = try runTool("umoci", ["unpack", "--rootless", "--image", "\(layout):1.0", bundle.path])
        #expect(unpacked.status == 0, "\(unpacked.stderr)")
        let ran = try runTool("bwrap", ["--bind", bundle.appendingPathComponent("rootfs").path, "/", "--proc", "/proc", "--dev", "/dev",
                                        "--unshare-all", "/bin/sh", "-c", "cat /etc/os-release; app"])
        #expect(ran.stdout.contains("NAME=cosci-os") && ran.stdout.contains("app 1.0"), "\(ran.stdout)\(ran.stderr)")

        // Publish (gzip layers, for older clients) and cut a release.
        let published = "docker://\(registry.host)/os/build"
        #expect(try Cosci.run(["publish", "--to", published, "--layer-compression", "gzip"], in: tree).status == 0)
        let v1 = try Cosci.run(["release", "--channel", "stable", "--from", published, "--snapshot", "v1"], in: tree)
        #expect(v1.status == 0, "\(v1.stderr)")
        #expect(v1.stdout.contains("2 added, 0 changed, 0 removed"), "\(v1.stdout)")
        let pointerV1 = try Cosci.digest("docker://\(registry.host)/os/releases:repository.yaml")

        // A new app version: the second release names exactly it.
        try makeTree(tree, registry: registry.host, appVersion: "1.1")
        _ = try sh("git add -A && git -c user.name=T -c user.email=t@e commit -qm two", in: tree)
        #expect(try Cosci.run(["run"], in: tree).status == 0)
        #expect(try Cosci.run(["publish", "--to", published, "--layer-compression", "gzip"], in: tree).status == 0)
        let v2 = try Cosci.run(["release", "--channel", "stable", "--from", published, "--snapshot", "v2"], in: tree)
        #expect(v2.status == 0, "\(v2.stderr)")
        #expect(v2.stdout.contains("1 added, 0 changed, 0 removed since v1"), "\(v2.stdout)")
        let notes = try String(contentsOf: tree.appendingPathComponent("dist/releases/stable-v2.md"), encoding: .utf8)
        #expect(notes.contains("| added | `apps/app` | 1.1 |"), "\(notes)")
        #expect(!notes.contains("system/os"), "\(notes)")
        #expect(try String(contentsOf: tree.appendingPathComponent("dist/releases/stable-v2.repo.yaml"), encoding: .utf8).contains("reference: v2-repository.yaml"))
        let pointerV2 = try Cosci.digest("docker://\(registry.host)/os/releases:repository.yaml")
        #expect(pointerV2 != pointerV1)

        // The installed system's side: read the channel, find the newest system/ package, pull it by digest.
        let client = work.appendingPathComponent("client")
        let found = try sh("""
            skopeo copy -q --src-tls-verify=false docker://\(registry.host)/os/releases:repository.yaml oci:idx:r
            umoci unpack --rootless --image idx:r idx-b >/dev/null
            meta=$(sed -n '/meta:/,/filename:/s/.*filename: //p' idx-b/rootfs/repository.yaml)
            skopeo copy -q --src-tls-verify=false "docker://\(registry.host)/os/releases:$meta" oci:meta:m
            umoci unpack --rootless --image meta:m meta-b >/dev/null
            bsdtar -xOf "meta-b/rootfs/$meta" repository.meta.yaml | sed -n 's/^  path: \\(os-system-[^ ]*\\)\\.package\\.tar\\.zst$/\\1/p' | sort -V | tail -1
            """, in: { try? FileManager.default.createDirectory(at: client, withIntermediateDirectories: true); return client }())
        let tag = found.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(tag == "os-system-1.0", "\(found)")
        let byDigest = try #require(try Cosci.digest("docker://\(registry.host)/os/releases:\(tag)"))
        let upgraded = try sh("""
            skopeo copy -q --src-tls-verify=false docker://\(registry.host)/os/releases@\(byDigest) oci:os:new
            umoci unpack --rootless --image os:new os-b >/dev/null
            cat os-b/rootfs/etc/os-release
            """, in: client)
        #expect(upgraded.contains("NAME=cosci-os"), "\(upgraded)")
        // The direct-reference path: an image pushed by `assemble --push`.
        let direct = try sh("""
            skopeo copy -q --src-tls-verify=false docker://\(registry.host)/os-images/os:1.0 oci:direct:d
            umoci unpack --rootless --image direct:d direct-b >/dev/null
            cat direct-b/rootfs/etc/os-release
            """, in: client)
        #expect(direct.contains("NAME=cosci-os"), "\(direct)")

        // Roll back: the channel names v1's index again, exactly.
        let back = try Cosci.run(["release", "--channel", "stable", "--from", published, "--rollback"], in: tree)
        #expect(back.status == 0, "\(back.stderr)")
        #expect(try Cosci.digest("docker://\(registry.host)/os/releases:repository.yaml") == pointerV1)
    }

    /// Steps run in the assembled root (the cOS `examples/standard` shape): what they write, make and remove is
    /// in the image, in a squashed image and as a layer of its own (whiteouts included) in a per-package one,
    /// byte for byte the same on a second assembly; a failing step names its spec line and leaves no image.
    @Test func imageStepsRunInTheAssembledRoot() throws {
        let registry = try LocalRegistry.start()
        defer { registry.stop() }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-steps-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        try makeBase(in: work, push: registry.host)
        let tree = work.appendingPathComponent("tree")
        try makeTree(tree, registry: registry.host, appVersion: "1.0")
        try FileManager.default.removeItem(at: tree.appendingPathComponent("images/os.yaml"))
        for layers in ["squashed", "per-package"] {
            try write(tree, "images/\(layers).yaml", """
                name: \(layers)
                base: system/os
                packages: [apps/app]
                layers: \(layers)
                overlay: files
                steps:
                  - mkdir -p /etc/cosci && app > /etc/cosci/app-version
                  - cat /etc/os-release /etc/banner > /etc/issue
                  - rm /etc/banner && rm -r /etc/drop
                """)
        }
        try write(tree, "images/files/etc/banner", "welcome\n")
        try write(tree, "images/files/etc/drop/me", "x\n")
        _ = try sh("git init -q -b main && git add -A && GIT_AUTHOR_DATE='@1700000000 +0000' GIT_COMMITTER_DATE='@1700000000 +0000' git -c user.name=T -c user.email=t@e commit -qm one", in: tree)
        #expect(try Cosci.run(["lock"], in: tree).status == 0)
        let run = try Cosci.run(["run"], in: tree)
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")

        for layers in ["squashed", "per-package"] {
            let layout = tree.appendingPathComponent("dist/images/\(layers)").path
            let bundle = work.appendingPathComponent("\(layers)-bundle")
            let unpacked = try runTool("umoci", ["unpack", "--rootless", "--image", "\(layout):1.0", bundle.path])
            #expect(unpacked.status == 0, "\(unpacked.stderr)")
            let root = bundle.appendingPathComponent("rootfs")
            #expect((try? String(contentsOf: root.appendingPathComponent("etc/cosci/app-version"), encoding: .utf8)) == "app 1.0\n", "\(layers)")
            let issue = (try? String(contentsOf: root.appendingPathComponent("etc/issue"), encoding: .utf8)) ?? ""
            #expect(issue.contains("NAME=cosci-os") && issue.contains("welcome"), "\(layers): \(issue)")
            #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("etc/banner").path), "\(layers): removed by a step")
            #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("etc/drop").path), "\(layers)")
        }
        // Per-package: the steps are the last layer, and hold only what they changed, with whiteouts.
        let manifest = try sh("skopeo inspect --raw oci:dist/images/per-package:1.0", in: tree)
        let layerDigests = (((try? JSONSerialization.jsonObject(with: Data(manifest.utf8)) as? [String: Any])?["layers"] as? [[String: Any]]) ?? []).compactMap { $0["digest"] as? String }
        #expect(layerDigests.count == 4, "os, app, overlay, steps: \(manifest)")
        let last = try #require(layerDigests.last).replacingOccurrences(of: "sha256:", with: "")
        let entries = try runTool("bsdtar", ["-tf", tree.appendingPathComponent("dist/images/per-package/blobs/sha256/\(last)").path]).stdout
            .split(separator: "\n").map(String.init)
        #expect(entries.contains("etc/cosci/app-version") && entries.contains("etc/issue"), "\(entries)")
        #expect(entries.contains("etc/.wh.banner") && entries.contains("etc/.wh.drop"), "whiteouts: \(entries)")
        #expect(!entries.contains("bin/busybox") && !entries.contains("etc/os-release"), "only what the steps changed: \(entries)")

        // Reproducible: the same digests again.
        let digests = { () throws -> [String] in
            try ["squashed", "per-package"].map { try self.sh("skopeo inspect --raw oci:dist/images/\($0):1.0 | sha256sum", in: tree) }
        }
        let before = try digests()
        #expect(try Cosci.run(["assemble"], in: tree).status == 0)
        #expect(try digests() == before)

        // A failing step: its line, its output, and the layout as it was.
        try write(tree, "images/squashed.yaml", """
            name: squashed
            base: system/os
            steps:
              - echo first
              - echo "no such thing" >&2; exit 3
            """)
        let failed = try Cosci.run(["assemble", "squashed"], in: tree)
        #expect(failed.status != 0)
        #expect(failed.stderr.contains("images/squashed.yaml:5") && failed.stderr.contains("steps[1]"), "\(failed.stderr)")
        #expect(failed.stderr.contains("exited with status 3") && failed.stderr.contains("no such thing"), "\(failed.stderr)")
        #expect(try digests() == before, "nothing half-written")
    }
}

