import CosciTestSupport
import Foundation
import Testing

/// `tree:` as a list loads several directories into one tree, as luet's repeated `--tree`: a derivative keeps
/// its own packages beside another tree's, and every command sees both.
@Suite(.serialized) struct SeveralTrees {
    /// The sample with its `utils/` packages moved to a second tree, `overlay/`.
    static func split() throws -> BuildRepo {
        let repo = try BuildRepo()
        try BuildRepo.sh("mkdir -p overlay && git mv packages/utils overlay/utils", cwd: repo.root)
        try repo.replace("cosci.yaml", "tree: packages ", "tree: [packages, overlay] ")
        try repo.git("commit", "-q", "-am", "two trees")
        return repo
    }

    @Test func everyCommandSeesBothTreesAndTheRepositoryCarriesBoth() throws {
        let repo = try Self.split()
        defer { repo.remove() }
        let list = try repo.cosci(["list", "--json"])
        #expect(list.status == 0, "\(list.stderr)")
        let packages = (json(list.stdout)["packages"] as? [[String: Any]]) ?? []
        #expect(packages.count == 26, "both trees load: \(packages.count)")
        let paths = Set(packages.compactMap { $0["path"] as? String })
        #expect(paths.contains("overlay/utils/k9s") && paths.contains("packages/toolchain/yip"), "\(paths.sorted())")

        let config = Settings.settings(try repo.cosci(["config", "--json"]))["trees"]
        #expect(config?.value == "packages,overlay" && config?.source == "cosci.yaml", "\(String(describing: config))")

        let run = try repo.cosci(["run"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("26 built"), "\(run.stdout)")
        // The repository's compiler tree holds both trees, each under its own path.
        let index = try repo.read("dist/repository/repository.yaml")
        let compilerTree = try #require(liveFile("compilertree", in: index))
        let listing = try capture("/usr/bin/bsdtar", ["-tf", repo.path("dist/repository/" + compilerTree).path]).stdout
        #expect(listing.contains("overlay/utils/k9s/definition.yaml"), "\(listing)")
        #expect(listing.contains("packages/toolchain/yip/definition.yaml"))
        #expect(!listing.contains("dist/") && !listing.contains("cosci.yaml"), "only the trees: \(listing)")
    }

    @Test func anEditInTheSecondTreeIsAffectedAgainstTheBase() throws {
        let repo = try Self.split()
        defer { repo.remove() }
        // A summary of the base first, so the head is derived from it (the path that reads only changed dirs).
        #expect(try repo.cosci(["affected", "--base", "HEAD"]).status == 0)
        try repo.git("checkout", "-q", "-b", "feature")
        try repo.replace("overlay/utils/k9s/build.yaml", "steps:", "# tweak\nsteps:")
        try repo.git("commit", "-q", "-am", "tweak k9s")
        let r = try repo.cosci(["affected", "--base", "main", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let affected = (json(r.stdout)["affected"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
        #expect(affected.contains { $0.hasPrefix("utils/k9s@") }, "\(r.stdout)")
        #expect(!affected.contains { $0.hasPrefix("toolchain/yip@") })
        let text = try repo.cosci(["affected", "--base", "main"])
        #expect(text.stdout.contains("overlay/utils/k9s/build.yaml changed → utils/k9s@"), "\(text.stdout)")
    }

    @Test func overlappingOrDuplicatedTreesAreClearErrors() throws {
        let repo = try Self.split()
        defer { repo.remove() }
        try repo.replace("cosci.yaml", "tree: [packages, overlay] ", "tree:\n  - packages\n  - packages/toolchain\n")
        let overlap = try repo.cosci(["check"])
        #expect(overlap.status != 0)
        #expect(overlap.stderr.contains("cosci.yaml:4"), "the line of the item: \(overlap.stderr)")
        #expect(overlap.stderr.contains("tree[1]") && overlap.stderr.contains("overlaps \"packages\""), "\(overlap.stderr)")

        try repo.replace("cosci.yaml", "tree:\n  - packages\n  - packages/toolchain\n", "tree: [packages, overlay] ")
        try BuildRepo.sh("cp -r packages/toolchain/yip overlay/yip", cwd: repo.root)
        let duplicate = try repo.cosci(["check"])
        #expect(duplicate.status != 0)
        let said = duplicate.stdout + duplicate.stderr
        #expect(said.contains("duplicate package toolchain/yip@"), "\(said)")
        #expect(said.contains("packages/toolchain/yip/definition.yaml") && said.contains("overlay/yip/definition.yaml"), "names both trees' files: \(said)")
    }
}
