import Foundation
import Testing

/// A derivative whose upstream is a docker repository on a real registry: the sample published by cosci.
@Suite(.serialized) struct DerivativeRegistryTests {
    @Test("a derivative resolves against and builds on an upstream docker repository")
    func buildsOnARegistryRepository() throws {
        let registry = try LocalRegistry.start()
        defer { registry.stop() }
        let sample = try Cosci.sample()
        defer { try? FileManager.default.removeItem(at: sample) }
        #expect(try Cosci.run(["run"], in: sample).status == 0)
        let published = try Cosci.run(["publish", "--to", "docker://\(registry.host)/cos/sample"], in: sample)
        #expect(published.status == 0, "\(published.err)")

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-derivative-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = [
            "cosci.yaml": "tree: packages\nrepositories:\n- {name: cos, type: docker, urls: [\(registry.host)/cos/sample], enable: true}\n",
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
        #expect(git.status == 0, "\(git.err)")

        let explain = try Cosci.run(["explain", "system/os"], in: dir)
        #expect(explain.status == 0, "\(explain.err)")
        #expect(explain.out.contains("system/cos@0.8.14-21: from repository cos (revision 1)"), "\(explain.out)")
        let build = try Cosci.run(["build", "system/os"], in: dir)
        #expect(build.status == 0, "\(build.out)\(build.err)")
        let artifact = try runTool("/bin/sh", ["-ec", "cd '\(dir.path)' && tar -xOf $(find .cosci/cache -name 'os-system-1.0.package.tar.zst') etc/upstream-version"])
        #expect(artifact.out == "0.8.14-21\n", "the upstream system/cos image layer was the sysroot: \(artifact.out)\(artifact.err)")

        // The registry gone: a clear error naming the repository, exit 1.
        registry.stop()
        try FileManager.default.removeItem(at: dir.appendingPathComponent(".cosci"))
        let offline = try Cosci.run(["build", "system/os"], in: dir)
        #expect(offline.status == 1, "\(offline.err)")
        #expect(offline.err.contains("cannot read the repository cos"), "\(offline.err)")
    }
}
