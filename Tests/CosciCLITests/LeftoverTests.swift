#if canImport(Glibc)
    import Glibc
#endif
import CosciTestSupport
import Foundation
import Testing

/// Every path below `root` whose name marks a temporary (`.tmp-`).
private func temporaries(under root: URL) -> [String] {
    (FileManager.default.enumerator(atPath: root.path)?.compactMap { $0 as? String } ?? [])
        .filter { ($0 as NSString).lastPathComponent.contains(".tmp-") }
}

/// A process id that is certainly gone: a child that ran and was reaped.
private func deadPID() throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/true")
    try p.run()
    p.waitUntilExit()
    return p.processIdentifier
}

@Suite(.serialized) struct Leftovers {
    @Test func gcRemovesWhatKilledRunsLeftAndNothingALiveProcessOwns() throws {
        let repo = try BuildRepo()
        defer { repo.remove() }
        #expect(try repo.cosci(["run"]).status == 0)
        let dead = try deadPID()
        let cache = repo.path(".cosci/cache")
        let prefix = try #require(try FileManager.default.contentsOfDirectory(atPath: cache.path).first { $0.count == 2 })
        // What a run killed at various moments leaves.
        let killed = [
            ".cosci/cache/\(prefix)/.\(String(repeating: "a", count: 64)).tmp-\(dead)-17/k9s.package.tar.zst",
            ".cosci/cache/.k9s.package.tar.zst.tmp-\(dead)-ABCDEF",
            ".cosci/work/k9s-utils-0.25.18-aa60d4d86130-\(dead)/luetbuild/big",
            ".cosci/publish-\(dead)/layer.tar.gz",
            ".cosci/cache/upstream-\(dead)/cos-system-0.8.14-21.package.tar.gz",
            "dist/.report.json.tmp-\(dead)-99",
            "dist/repository/.tree.tar.zst.tmp-\(dead)-XYZ123",
        ]
        // What a live process (this test) is writing: it stays.
        let live = ".cosci/cache/.other.tar.zst.tmp-\(getpid())-1"
        let liveDownload = ".cosci/cache/upstream-\(getpid())/repository.yaml"
        for rel in killed + [live, liveDownload] { try repo.write(rel, "partial") }
        try repo.write(".cosci/cache/locks/\(String(repeating: "b", count: 64)).lock", "")

        let gc = try repo.cosci(["cache", "gc"])
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(gc.stdout.contains("leftover(s) of interrupted runs removed"), "\(gc.stdout)")
        for rel in killed { #expect(!FileManager.default.fileExists(atPath: repo.path(rel).path), "\(rel) is still there") }
        #expect(!FileManager.default.fileExists(atPath: repo.path(".cosci/work/k9s-utils-0.25.18-aa60d4d86130-\(dead)").path))
        #expect(!FileManager.default.fileExists(atPath: repo.path(".cosci/publish-\(dead)").path))
        #expect(FileManager.default.fileExists(atPath: repo.path(live).path), "a live process's temporary was removed")
        #expect(FileManager.default.fileExists(atPath: repo.path(liveDownload).path), "a live process's download was removed")
        let locks = try FileManager.default.contentsOfDirectory(atPath: cache.appendingPathComponent("locks").path)
        #expect(!locks.contains { $0.hasPrefix("bbbb") }, "an unheld lock file stays: \(locks)")
        // The cache itself is intact.
        #expect(try repo.cosci(["cache", "verify"]).status == 0)
        #expect(try repo.cosci(["run"]).stdout.contains("nothing to build"))
    }

    @Test(.enabled(if: geteuid() == 0, "mounting a small tmpfs needs root"))
    func aRunStoppedByAFullDiskLeavesNoTemporariesAndTheNextOneSucceeds() throws {
        let repo = try BuildRepo()
        defer { repo.remove() }
        let disk = repo.path(".small")
        try FileManager.default.createDirectory(at: disk, withIntermediateDirectories: true)
        #expect(try capture("/bin/mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", disk.path]).status == 0)
        defer { _ = try? capture("/bin/umount", ["-l", disk.path]) }
        // Leave about 40 KiB: enough to start, not enough for the sample's artifacts.
        let filler = disk.appendingPathComponent("filler").path
        _ = try capture("/bin/sh", ["-c", "head -c $(( $(df --output=avail -B1 '\(disk.path)' | tail -1) - 40960 )) /dev/zero > '\(filler)'"])
        let cache = disk.appendingPathComponent("cache").path
        let full = try repo.cosci(["build", "--all", "--cache", cache, "--keep-going"])
        #expect(full.status != 0, "\(full.stdout)")
        #expect((full.stdout + full.stderr).contains("No space left on device"), "\(full.stdout) \(full.stderr)")
        #expect(temporaries(under: disk).isEmpty, "left behind: \(temporaries(under: disk))")

        try FileManager.default.removeItem(atPath: filler)
        let again = try repo.cosci(["build", "--all", "--cache", cache])
        #expect(again.status == 0, "\(again.stdout) \(again.stderr)")
        #expect(try repo.cosci(["cache", "verify", "--cache", cache]).status == 0)
    }
}
