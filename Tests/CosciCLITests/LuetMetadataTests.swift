import CosciTestSupport
import Foundation
import Testing

/// What cosci writes into a repository reads back, with a YAML 1.1 reader and luet's rules, as luet wrote it.
@Suite(.serialized) struct LuetMetadata {
    /// PyYAML (a YAML 1.1 reader, as many tools around luet repositories are), when this machine has it.
    static let python: String? = {
        for candidate in ["/usr/bin/python3", "/usr/local/bin/python3"] + (ProcessInfo.processInfo.environment["PATH"] ?? "")
            .split(separator: ":").map({ "\($0)/python3" })
        where FileManager.default.isExecutableFile(atPath: candidate) {
            if (try? capture(candidate, ["-c", "import yaml"]))?.status == 0 { return candidate }
        }
        return nil
    }()

    @Test(.enabled(if: python != nil, "no python3 with PyYAML here"))
    func versionsReadBackAsStringsInAYAML11Reader() throws {
        let repo = try BuildRepo.built()
        defer { repo.remove() }
        // Every version a YAML 1.1 reader reads stays a string (a plain 1:2.0 would be the number 62.0; the
        // quoting itself is pinned by the YAML tests).
        let script = """
            import sys, yaml, glob
            bad = []
            for f in glob.glob(sys.argv[1] + '/*.metadata.yaml'):
                doc = yaml.safe_load(open(f))
                for where in (doc['runtime'], doc['compilespec']['package']):
                    if not isinstance(where['version'], str): bad.append((f, where['version']))
            print('retyped:', bad)
            """
        let r = try capture(Self.python!, ["-c", script, repo.path("dist/repository").path])
        #expect(r.status == 0)
        #expect(r.stdout.contains("retyped: []"), "\(r.stdout)")
    }

    @Test func filesListsWhatLuetListsNoDirectoriesAndNothingForHiddenPackages() throws {
        let repo = try BuildRepo.built()
        defer { repo.remove() }
        // Every entry of the artifact but directories, in order.
        let artifact = repo.path("dist/repository/k9s-utils-0.25.18.package.tar.zst").path
        let listing = try capture("/usr/bin/bsdtar", ["-tvf", artifact])
        let expected = listing.stdout.split(separator: "\n").filter { !$0.hasPrefix("d") }.map { String($0.split(separator: " ").last!) }
        let metadata = try repo.read("dist/repository/k9s-utils-0.25.18.metadata.yaml")
        let files = metadata.components(separatedBy: "\nfiles:\n").last!.split(separator: "\n").prefix { $0.hasPrefix("- ") }.map { String($0.dropFirst(2)) }
        #expect(!expected.isEmpty && files == expected, "\(files) vs \(expected)")
        // distro/base is hidden: luet lists no files for it.
        let base = try repo.read("dist/repository/base-distro-0.20240612-3.metadata.yaml")
        #expect(base.contains("\nfiles: []\n"), "\(base.prefix(400))")
    }
}

@Suite(.serialized) struct LuetTagRefusal {
    @Test func aPackageLuetCannotTagIsRefusedByPublishAndWarnedByCheck() throws {
        let repo = try BuildRepo()
        defer { repo.remove() }
        try repo.replace("packages/utils/k9s/definition.yaml", "0.25.18", "0.25.18~beta1")
        try repo.git("commit", "-qam", "a tilde")
        let check = try repo.cosci(["check"])
        #expect(check.stdout.contains("by the tag k9s-utils-0.25.18~beta1, which is not a valid image tag"), "\(check.stdout)")
        #expect(try repo.cosci(["check", "--strict"]).status == 2)
        #expect(try repo.cosci(["run"]).status == 0)
        let publish = try repo.cosci(["publish", "--to", "oci:out"])
        #expect(publish.status == 2, "\(publish.stderr)")
        #expect(publish.stderr.contains("utils/k9s@0.25.18~beta1 (tag k9s-utils-0.25.18~beta1)"), "\(publish.stderr)")
        #expect(!FileManager.default.fileExists(atPath: repo.path("out/index.json").path), "nothing was published")
    }
}
