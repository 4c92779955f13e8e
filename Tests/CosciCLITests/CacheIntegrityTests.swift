import CosciTestSupport
import Foundation
import Testing

/// What a user must be able to rely on when the cache on disk is not what cosci wrote: every artifact is checked
/// against its metadata before use, a damaged entry is rebuilt, and nothing damaged reaches the repository.
@Suite(.serialized) struct CacheIntegrity {
    /// The ways an entry was found damaged, each applied to the artifact file of `utils/k9s`.
    enum Damage: String, CaseIterable {
        case zeroBytes, gzipRenamedZstd, extraEntries, fifo, setuidFile

        func apply(to artifact: URL, scratch: URL) throws {
            let path = artifact.path
            try FileManager.default.removeItem(at: artifact)
            switch self {
            case .zeroBytes:
                FileManager.default.createFile(atPath: path, contents: Data())
            case .gzipRenamedZstd:
                try BuildRepo.sh("mkdir -p '\(scratch.path)/g' && echo hi > '\(scratch.path)/g/f' && tar -C '\(scratch.path)/g' -czf '\(path)' .")
            case .extraEntries:
                try BuildRepo.sh("mkdir -p '\(scratch.path)/e/usr/bin' && echo evil > '\(scratch.path)/e/usr/bin/extra' && tar -C '\(scratch.path)/e' --zstd -cf '\(path)' .")
            case .fifo:
                try BuildRepo.sh("mkfifo '\(path)'")
            case .setuidFile:
                try BuildRepo.sh("mkdir -p '\(scratch.path)/s/bin' && cp /bin/true '\(scratch.path)/s/bin/sh' && chmod 4755 '\(scratch.path)/s/bin/sh' && tar -C '\(scratch.path)/s' --zstd -cf '\(path)' .")
            }
        }
    }

    static func artifact(_ repo: BuildRepo, _ name: String) throws -> URL {
        let cache = repo.path(".cosci/cache")
        let found = FileManager.default.enumerator(atPath: cache.path)?.compactMap { $0 as? String }
            .first { $0.hasSuffix("/" + name) }
        return cache.appendingPathComponent(try #require(found, "no \(name) in the cache"))
    }

    @Test(arguments: Damage.allCases)
    func aDamagedArtifactIsRebuiltAndNeverPublished(_ damage: Damage) throws {
        let repo = try BuildRepo.built()
        defer { repo.remove() }
        let name = "k9s-utils-0.25.18.package.tar.zst"
        let published = try String(contentsOf: repo.path("dist/repository/k9s-utils-0.25.18.metadata.yaml"), encoding: .utf8)
        try FileManager.default.removeItem(at: repo.path("dist"))

        try damage.apply(to: try Self.artifact(repo, name), scratch: repo.path(".scratch"))
        let verify = try repo.cosci(["cache", "verify", "--dry-run"])
        #expect(verify.status == 1, "\(verify.stdout) \(verify.stderr)")
        #expect(verify.stderr.contains("damaged utils/k9s@0.25.18"), "\(verify.stderr)")

        let second = try repo.cosci(["run"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("1 built, 25 cached"), "\(second.stdout)")
        let report = try repo.read("dist/report.json")
        #expect(report.contains("is damaged"), "the report says why k9s was rebuilt")
        // The repository holds the rebuilt artifact: its bytes are what its metadata says, as a client checks.
        #expect(try repo.read("dist/repository/k9s-utils-0.25.18.metadata.yaml") == published)
        let sum = try capture("/usr/bin/sha256sum", [repo.path("dist/repository/" + name).path])
        #expect(published.contains(String(sum.stdout.prefix(64))), "\(sum.stdout)")
        let clean = try repo.cosci(["cache", "verify"])
        #expect(clean.status == 0, "\(clean.stdout) \(clean.stderr)")
    }

    @Test func assembleRefusesADamagedArtifactNamingBothDigests() throws {
        let repo = try BuildRepo.built()
        defer { repo.remove() }
        let artifact = try Self.artifact(repo, "cos-system-0.8.14-21.package.tar.zst")
        var bytes = try Data(contentsOf: artifact)
        bytes[bytes.count / 2] ^= 0xff
        try bytes.write(to: artifact)
        let r = try repo.cosci(["assemble"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("is damaged: its sha256 is sha256:"), "\(r.stderr)")
        #expect(r.stderr.contains("its metadata says sha256:"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: artifact.path), "the damaged entry is removed")
    }
}
