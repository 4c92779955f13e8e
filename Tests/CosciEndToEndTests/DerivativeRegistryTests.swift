import CosciTestSupport
import Foundation
import Testing

/// A derivative whose upstream is a docker repository on a real registry: the sample published by cosci.
@Suite(.serialized) struct DerivativeRegistryTests {
    @Test("a derivative resolves against and builds on an upstream docker repository")
    func buildsOnARegistryRepository() throws {
        let registry = try LocalRegistry.start()
        defer { registry.stop() }
        let sample = try Cosci.built()
        defer { try? FileManager.default.removeItem(at: sample) }
        #expect(try Cosci.run(["run"], in: sample).status == 0)
        let published = try Cosci.run(["publish", "--to", "docker://\(registry.host)/cos/sample"], in: sample)
        #expect(published.status == 0, "\(published.stderr)")

        let dir = try Self.derivative(repositories: "- {name: cos, type: docker, urls: [\(registry.host)/cos/sample], enable: true}")
        defer { try? FileManager.default.removeItem(at: dir) }

        let explain = try Cosci.run(["explain", "system/os"], in: dir)
        #expect(explain.status == 0, "\(explain.stderr)")
        #expect(explain.stdout.contains("system/cos@0.8.14-21: from repository cos (revision 1)"), "\(explain.stdout)")
        let build = try Cosci.run(["build", "system/os"], in: dir)
        #expect(build.status == 0, "\(build.stdout)\(build.stderr)")
        let artifact = try runTool("/bin/sh", ["-ec", "cd '\(dir.path)' && tar -xOf $(find .cosci/cache -name 'os-system-1.0.package.tar.zst') etc/upstream-version"])
        #expect(artifact.stdout == "0.8.14-21\n", "the upstream system/cos image layer was the sysroot: \(artifact.stdout)\(artifact.stderr)")

        // The registry gone: a clear error naming the repository, exit 1.
        registry.stop()
        try FileManager.default.removeItem(at: dir.appendingPathComponent(".cosci"))
        let offline = try Cosci.run(["build", "system/os"], in: dir)
        #expect(offline.status == 1, "\(offline.stderr)")
        #expect(offline.stderr.contains("cannot read the repository cos"), "\(offline.stderr)")
    }

    /// A one-package derivative in a fresh git repository: `system/os` copies a file of the upstream
    /// `system/cos` (its sysroot) into its artifact. `repositories` is the `repositories:` list of its cosci.yaml.
    static func derivative(repositories: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-derivative-\(UUID().uuidString)")
        let files = [
            "cosci.yaml": "tree: packages\nrepositories:\n\(repositories)\n",
            "packages/os/definition.yaml": "name: os\ncategory: system\nversion: \"1.0\"\n",
            "packages/os/build.yaml": """
                requires:
                - {category: system, name: cos, version: ">=0.8"}
                env:
                - SYSROOT=/cosci/sysroot
                prelude:
                - mkdir -p out/etc
                steps:
                - cp "$SYSROOT/etc/cos/version" out/etc/upstream-version
                package_dir: /luetbuild/out

                """,
        ]
        for (path, text) in files {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        let git = try runTool("/bin/sh", ["-ec", "cd '\(dir.path)' && git init -q -b main && git add -A && git -c user.name=T -c user.email=t@example.com commit -qm d"])
        guard git.status == 0 else { throw TestSupportError("git: \(git.stderr)") }
        return dir
    }

    @Test("an http repository behind Basic auth: read with the auth file's credentials, never shown; refused without them")
    func buildsOnAnHTTPRepository() throws {
        let sample = try Cosci.built()
        defer { try? FileManager.default.removeItem(at: sample) }
        #expect(try Cosci.run(["run"], in: sample).status == 0)
        let password = "s3cret-file-pw"
        let server = try FileServer.start(serving: sample.appendingPathComponent("dist/repository"), user: "reader", password: password)
        defer { server.stop() }
        let dir = try Self.derivative(repositories: "- {name: cos, type: http, urls: [\"\(server.url)\"], priority: 1}")
        defer { try? FileManager.default.removeItem(at: dir) }

        // No credentials: refused, exit 1, naming the repository and saying where credentials go.
        let refused = try Cosci.run(["build", "system/os"], in: dir)
        #expect(refused.status == 1, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("cannot read the repository cos") && refused.stderr.contains("401"), "\(refused.stderr)")
        #expect(refused.stderr.contains("auth file"), "\(refused.stderr)")

        // The auth file that publishing reads, by host.
        let host = String(server.url.dropFirst("http://".count))
        let auth = dir.appendingPathComponent("auth.json")
        let token = Data("reader:\(password)".utf8).base64EncodedString()
        try #"{"auths": {"\#(host)": {"auth": "\#(token)"}}}"#.write(to: auth, atomically: true, encoding: .utf8)
        let env = ["REGISTRY_AUTH_FILE": auth.path]
        let explain = try Cosci.run(["explain", "system/os"], in: dir, env: env)
        #expect(explain.status == 0, "\(explain.stderr)")
        #expect(explain.stdout.contains("system/cos@0.8.14-21: from repository cos (revision 1)"), "\(explain.stdout)")
        let build = try Cosci.run(["build", "system/os"], in: dir, env: env)
        #expect(build.status == 0, "\(build.stdout)\(build.stderr)")
        let artifact = try runTool("/bin/sh", ["-ec", "cd '\(dir.path)' && tar -xOf $(find .cosci/cache -name 'os-system-1.0.package.tar.zst') etc/upstream-version"])
        #expect(artifact.stdout == "0.8.14-21\n", "the upstream artifact came over HTTP: \(artifact.stdout)\(artifact.stderr)")
        #expect(server.log.contains("GET /repository.yaml with credentials"), "\(server.log)")
        #expect(server.log.contains(".package.tar.zst with credentials"), "the artifact too: \(server.log)")
        for output in [refused.stdout, refused.stderr, explain.stdout, explain.stderr, build.stdout, build.stderr] {
            #expect(!output.contains(password) && !output.contains(token), "no credential in any output")
        }

        // A missing file behind the URL (a wrong path): a clear 404 naming the repository.
        let wrong = try Self.derivative(repositories: "- {name: cos, type: http, urls: [\"\(server.url)/nope\"]}")
        defer { try? FileManager.default.removeItem(at: wrong) }
        let missing = try Cosci.run(["check"], in: wrong, env: env)
        #expect(missing.status == 1, "\(missing.stdout)\(missing.stderr)")
        let said = missing.stdout + missing.stderr
        #expect(said.contains("cannot read the repository cos") && said.contains("404 not found"), "\(said)")
    }

    @Test("examples/derivative on a published upstream: lock, re-release, lock --update, affected names the chain, run rebuilds exactly that")
    func theExampleFollowsAnUpstreamRelease() throws {
        let registry = try LocalRegistry.start()
        defer { registry.stop() }
        let upstream = "docker://\(registry.host)/cos/sample"
        let sample = try Cosci.built()
        defer { try? FileManager.default.removeItem(at: sample) }
        #expect(try Cosci.run(["run"], in: sample).status == 0)
        #expect(try Cosci.run(["publish", "--to", upstream], in: sample).status == 0)

        // The example, pointed at the registry instead of the sample's directory.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-example-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let example = TestPaths.packageRoot.appendingPathComponent("examples/derivative").path
        func commit(_ message: String) throws {
            let r = try runTool("/bin/sh", ["-ec", "cd '\(dir.path)' && git add -A && git -c user.name=T -c user.email=t@example.com commit -qm '\(message)'"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let copy = try runTool("/bin/sh", ["-ec", """
            mkdir -p '\(dir.path)' && tar -C '\(example)' --exclude=.cosci --exclude=dist -cf - . | tar -C '\(dir.path)' -xf -
            cd '\(dir.path)' && git init -q -b main
            sed -i 's#type: disk#type: docker#; s#urls: \\[../../manifest/dist/repository\\]#urls: [\(registry.host)/cos/sample]#' cosci.yaml
            grep -q 'type: docker' cosci.yaml && grep -q '\(registry.host)/cos/sample' cosci.yaml
            """])
        #expect(copy.status == 0, "\(copy.stderr)")
        let lock = try Cosci.run(["lock"], in: dir)
        #expect(lock.stdout.contains("repository cos  revision 1 (new)"), "\(lock.stdout)\(lock.stderr)")
        try commit("derivative, locked")
        let first = try Cosci.run(["run", "--with-upstream"], in: dir)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("3 built, 0 cached"), "\(first.stdout)")
        let published = try Cosci.run(["publish", "--to", "docker://\(registry.host)/sampleos/repo"], in: dir)
        #expect(published.status == 0, "\(published.stderr)")
        let tags = try Cosci.skopeo(["list-tags", "--tls-verify=false", "docker://\(registry.host)/sampleos/repo"])
        #expect(tags.stdout.contains("\"sampleOS-system-0.5.0\""), "\(tags.stdout)")
        #expect(tags.stdout.contains("\"shellkit-toolchain-"), "the upstream package its service needs at run time is carried: \(tags.stdout)")
        #expect(published.stdout.contains("1 mounted from the upstream repository"), "its layer is mounted from cos/sample, not uploaded again: \(published.stdout)")
        #expect(!tags.stdout.contains("\"cos-system-0.8.14-21\""), "build-time upstream packages are not carried")

        // Its channel: a release of the published repository, installable on its own.
        let cut = try Cosci.run(["release", "--channel", "stable", "--from", "docker://\(registry.host)/sampleos/repo", "--snapshot", "v1"], in: dir)
        #expect(cut.status == 0, "\(cut.stdout)\(cut.stderr)")
        let client = dir.appendingPathComponent(".client")
        try FileManager.default.createDirectory(at: client, withIntermediateDirectories: true)
        // What an installed system does: the channel's index → its metadata → every package's image by tag.
        let channel = "docker://\(registry.host)/sampleos/releases"
        let listed = try runTool("/bin/sh", ["-ec", """
            cd '\(client.path)'
            skopeo copy -q --src-tls-verify=false \(channel):repository.yaml oci:idx:r
            umoci unpack --rootless --image idx:r idx-b >/dev/null
            meta=$(sed -n '/meta:/,/filename:/s/.*filename: //p' idx-b/rootfs/repository.yaml)
            skopeo copy -q --src-tls-verify=false "\(channel):$meta" oci:meta:m
            umoci unpack --rootless --image meta:m meta-b >/dev/null
            for p in $(bsdtar -xOf "meta-b/rootfs/$meta" repository.meta.yaml | sed -n 's/^  path: \\(.*\\)\\.package\\.tar\\.[a-z]*$/\\1/p' | sort); do
              skopeo inspect --tls-verify=false "\(channel):$p" >/dev/null && echo "$p"
            done
            """])
        #expect(listed.status == 0, "\(listed.stderr)")
        let installable = listed.stdout.split(separator: "\n").map(String.init)
        #expect(installable.contains("sampleOS-system-0.5.0") && installable.contains { $0.hasPrefix("sampleOSService-app-") }, "\(installable)")
        #expect(installable.contains { $0.hasPrefix("shellkit-toolchain-") }, "the carried upstream package is in the channel: \(installable)")
        #expect(!installable.contains { $0.hasPrefix("cos-system-") }, "\(installable)")

        // Upstream re-releases system/cos.
        let edit = try runTool("/bin/sh", ["-ec", """
            cd '\(sample.path)' && sed -i '0,/^steps:$/s//steps:\\n- echo fixed > rootfs\\/etc\\/cos-fix/' packages/cos/build.yaml
            grep -q cos-fix packages/cos/build.yaml
            git -c user.name=T -c user.email=t@example.com commit -qam 'fix cos'
            """])
        #expect(edit.status == 0, "\(edit.stderr)")
        // A release bumps what changed (publishing refuses a version already published with another key).
        let bump = try Cosci.run(["bump", "system/cos", "recovery/cos", "system/cos-container", "recovery/cos-img", "recovery/cos-squash"], in: sample)
        #expect(bump.status == 0, "\(bump.stderr)")
        _ = try runTool("/bin/sh", ["-ec", "cd '\(sample.path)' && git -c user.name=T -c user.email=t@example.com commit -qam bump"])
        #expect(try Cosci.run(["run"], in: sample).status == 0)
        let release = try Cosci.run(["publish", "--to", upstream], in: sample)
        #expect(release.stdout.contains("published revision 2"), "\(release.stdout)\(release.stderr)")

        // The lock holds until it is moved; then exactly the OS package follows.
        #expect(try Cosci.run(["run"], in: dir).stdout.contains("nothing to build: all 3 package(s) are in the cache"))
        let update = try Cosci.run(["lock", "--update", "cos"], in: dir)
        #expect(update.stdout.contains("repository cos  revision 1 → 2"), "\(update.stdout)\(update.stderr)")
        try commit("move cos")
        let affected = try Cosci.run(["affected", "--base", "HEAD~1"], in: dir)
        #expect(affected.stdout.contains("1 affected (0 new)"), "\(affected.stdout)\(affected.stderr)")
        #expect(affected.stdout.contains("repository cos: system/cos 0.8.14-21 → 0.8.14-22 → (build dependency) system/sampleOS@0.5.0"), "\(affected.stdout)")
        let second = try Cosci.run(["run"], in: dir)
        #expect(second.stdout.contains("1 built, 2 cached"), "\(second.stdout)")
    }
}
