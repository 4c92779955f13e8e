import Foundation
import Testing

/// A derivative: its own tree on top of a published upstream repository (here the sample, built and indexed
/// as a disk repository), with nothing upstream in its tree.
@Suite struct Derivatives {
    func derivative(repositories: String) throws -> BuildRepo {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = [
            "cosci.yaml": "tree: packages\n" + repositories,
            "packages/sampleOS/definition.yaml": "name: sampleOS\ncategory: system\nversion: 0.5.0\nbrand_name: sampleOS\n",
            "packages/sampleOS/build.yaml": "requires:\n- {category: system, name: cos, version: \">=0-0\"}\n- {category: app, name: svc, version: \">=0-0\"}\nrequires_final_images: true\nunpack: true\nsteps:\n- echo {{ .Values.brand_name }} > /etc/brand\n",
            "packages/svc/definition.yaml": "name: svc\ncategory: app\nversion: \"1.0\"\n",
            "packages/svc/build.yaml": "steps: [true]\n",
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
        let artifact = try #require(cos["path"] as? String)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = ["\(repository)/\(artifact)"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        p.waitUntilExit()
        let sum = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64)
        #expect(cos["sha256"] as? String == "sha256:" + sum)
        let table = try repo.cosci(["list"]).stdout
        #expect(table.contains("1 + 1 upstream"), "\(table)")
        #expect(table.contains("FROM REPOSITORIES"), "\(table)")

        let explain = try repo.cosci(["explain", "sampleOS"])
        #expect(explain.stdout.contains("from repository cos (revision 1)"), "\(explain.stdout)")

        // Building on upstream artifacts is not there yet: a clear refusal, not a build without them.
        let build = try repo.cosci(["build", "system/sampleOS"])
        #expect(build.status == 1)
        #expect(build.stderr.contains("builds on upstream packages: system/cos@"), "\(build.stderr)")
        #expect(build.stderr.contains("not supported yet"))
        #expect(try repo.cosci(["build", "app/svc"]).status == 0, "a package of the derivative that needs only its tree builds")
    }

    @Test("a requirement nothing satisfies names the repositories; an unreadable repository is named; none configured says how to add one")
    func failures() throws {
        let unreachable = try derivative(repositories: "repositories:\n- name: cos\n  type: disk\n  urls: [/nonexistent/cos]\n")
        defer { unreachable.remove() }
        let r = try unreachable.cosci(["check"])
        #expect(r.status != 0)
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
