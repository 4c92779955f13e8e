import CosciTestSupport
import Foundation
import Testing

/// Run in the wrong place, cosci says so instead of doing nothing (or the wrong thing) successfully.
@Suite(.serialized) struct WrongPlace {
    @Test func anEmptyDirectoryIsATreeErrorNotAnEmptySuccess() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for command in [["run"], ["check"], ["list"], ["plan", "--all"]] {
            let r = try CLI.run(command, cwd: dir, env: ["CI": "true"])
            #expect(r.status == 2, "\(command): \(r.stdout) \(r.stderr)")
            #expect(r.stderr.contains("no package tree here"), "\(command): \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("dist").path), "nothing was written")
    }

    @Test func aProjectBelowIsNamedInTheHint() throws {
        // The repository's root: cosci.yaml is in manifest/, and Tests/Fixtures hold other trees.
        let r = try CLI.run(["check"], cwd: CLI.packageRoot, env: ["CI": "true"])
        #expect(r.status == 64, "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains("did you mean --tree manifest?"), "\(r.stderr)")
        // From inside the project, cosci.yaml is found upward as git finds .git.
        let inside = try CLI.run(["list"], cwd: CLI.packageRoot.appendingPathComponent("manifest/packages/toolchain"), env: ["CI": "true"])
        #expect(inside.status == 0, "\(inside.stderr)")
        #expect(inside.stdout.contains("toolchain/yq@4.30.1"))
    }

    @Test func aDamagedLockFileIsAnErrorNamingTheFieldNotAnEmptyLock() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pkg = dir.appendingPathComponent("packages/tool")
        try FileManager.default.createDirectory(at: pkg, withIntermediateDirectories: true)
        try "name: tool\ncategory: utils\nversion: \"1.0\"\n".write(to: pkg.appendingPathComponent("definition.yaml"), atomically: true, encoding: .utf8)
        try "image: alpine:3.19\nsteps: [\"true\"]\n".write(to: pkg.appendingPathComponent("build.yaml"), atomically: true, encoding: .utf8)
        try "tree: packages\n".write(to: dir.appendingPathComponent("cosci.yaml"), atomically: true, encoding: .utf8)
        let lock = dir.appendingPathComponent("cosci.lock")
        // A pin that does not read would silently key `alpine:3.19` by its tag: every key would move.
        try #"{"images": {"alpine:3.19": "sha256:not-a-digest"}, "schema": "cosci.lock/v1"}"#.write(to: lock, atomically: true, encoding: .utf8)
        for command in [["list"], ["plan", "--all"], ["build", "--all"]] {
            let r = try CLI.run(command, cwd: dir, env: ["CI": "true"])
            #expect(r.status == 2, "\(command): \(r.stdout) \(r.stderr)")
            #expect(r.stderr.contains("cosci.lock"), "\(r.stderr)")
            #expect(r.stderr.contains("images.alpine:3.19"), "the field is named: \(r.stderr)")
            #expect(r.stderr.contains("cosci lock"), "says how to mend it: \(r.stderr)")
        }
        try "not json".write(to: lock, atomically: true, encoding: .utf8)
        let r = try CLI.run(["list"], cwd: dir, env: ["CI": "true"])
        #expect(r.status == 2 && r.stderr.contains("invalid lock file: not valid JSON"), "\(r.stderr)")
    }

    @Test func buildJobsIsJobsOnBuildCommands() throws {
        let help = try CLI.run(["run", "--help"])
        #expect(help.stdout.contains("-j, --jobs, --build-jobs <n>"), "\(help.stdout)")
        #expect(help.stdout.contains("Parallel builds"))
        #expect(help.stdout.contains("--load-jobs <n>"))
    }

    /// The bootable example before `scripts/make-base`: its base layout is missing. The error names the path and
    /// how to make it; with the layout there but another tag asked for, it lists the tags there are.
    @Test func aMissingBaseLayoutIsNamedWithHowToMakeIt() throws {
        let project = try GitScratch(copying: CLI.packageRoot.appendingPathComponent("examples/bootable"), epoch: Sample.epoch)
        let missing = try CLI.run(["lock"], cwd: project.root, env: ["CI": "true"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("there is no OCI image layout at .cosci/base"), "\(missing.stderr)")
        #expect(missing.stderr.contains("scripts/make-base --output .cosci/base"), "\(missing.stderr)")
        try project.write(".cosci/base/oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}")
        try project.write(
            ".cosci/base/index.json",
            "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:\(String(repeating: "a", count: 64))\",\"size\":2,\"annotations\":{\"org.opencontainers.image.ref.name\":\"trixie\"}}]}")
        let wrongTag = try CLI.run(["lock"], cwd: project.root, env: ["CI": "true"])
        #expect(wrongTag.stderr.contains("the layout .cosci/base has no tag bookworm"), "\(wrongTag.stderr)")
        #expect(wrongTag.stderr.contains("its tags: trixie"), "\(wrongTag.stderr)")
    }
}

@Suite struct DidYouMean {
    @Test(arguments: [("afected", "affected"), ("biuld", "build"), ("cache-gc", nil as String?)])
    func anUnknownCommandSuggestsTheNearestOne(_ typed: String, _ suggested: String?) throws {
        let r = try CLI.run([typed])
        #expect(r.status == 64)
        #expect(r.stderr.contains("unknown command '\(typed)'"), "\(r.stderr)")
        if let suggested { #expect(r.stderr.contains("Did you mean '\(suggested)'?"), "\(r.stderr)") }
    }
}

/// Flags mean the same wherever they appear, and appear only where they mean something.
@Suite struct ConsistentFlags {
    @Test func uploadsOnlyWhereSomethingIsUploaded() throws {
        for command in ["plan", "lock", "verify"] {
            #expect(!(try CLI.run([command, "--help"]).stdout.contains("--uploads")), "\(command) has --uploads")
        }
        for command in ["publish", "build", "run", "assemble", "release"] {
            #expect(try CLI.run([command, "--help"]).stdout.contains("--uploads"), "\(command) lacks --uploads")
        }
    }

    @Test func cacheAndOutputHaveOneHelpEverywhere() throws {
        for command in [["assemble"], ["cache", "ls"], ["cache", "gc"], ["config"], ["release"]] {
            let help = try CLI.run(command + ["--help"]).stdout.replacingOccurrences(of: "\n", with: " ")
                .split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            if help.contains("--output <dir>") {
                #expect(help.contains("The output directory for logs, the repository, images and reports (default: COSCI_OUTPUT"), "\(command)")
            }
            if help.contains("--cache <dir>") {
                #expect(help.contains("The local artifact cache directory (default: COSCI_CACHE"), "\(command)")
            }
        }
    }
}
