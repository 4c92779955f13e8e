import CosciArchive
import CosciModel
import CosciYAML
import CosciRepository
import Foundation
import Testing

private func metadata(_ name: String, _ version: String, content: String) -> ArtifactMetadata {
    let id = PackageID(category: "test", name: name, version: try! Version(version))
    return ArtifactMetadata(
        id: id, path: ArtifactMetadata.fileName(id, .zstd), key: CacheKey(.sha256(of: Array("key \(name) \(version)".utf8))),
        sha256: .sha256(of: Array(content.utf8)), size: Int64(content.utf8.count), compression: .zstd, files: ["usr/", "usr/bin/\(name)"],
        spec: .map(["steps": .list([.string("make install")]), "package_dir": .string("/luetbuild/out")]),
        runtime: .map(["name": .string(name), "category": .string("test"), "version": .string(version), "license": .string("MIT")]),
        platform: .linuxAMD64, sourceDateEpoch: 1_700_000_000)
}

@Suite struct ArtifactMetadataFormat {
    @Test func roundTripsThroughItsYAML() throws {
        let m = metadata("tool", "1.2-3", content: "artifact bytes")
        let text = m.yamlText
        #expect(text.contains("compilespec:"))
        #expect(text.contains("  package_dir: /luetbuild/out"))
        #expect(text.contains("compressiontype: zstd"))
        #expect(text.contains("path: tool-test-1.2-3.package.tar.zst"))
        let parsed = try ArtifactMetadata(yaml: text, file: "tool.metadata.yaml")
        #expect(parsed == m)
        // The index spelling reads back the same.
        let entry = try ArtifactMetadata(parsing: m.indexEntry, file: "repository.meta.yaml")
        #expect(entry == m)
    }

    @Test func aDocumentWithoutCosciKeyIsAClearError() throws {
        let text = "path: x.package.tar.zst\ncompilespec:\n  package: {name: x, category: c, version: \"1\"}\nchecksums: {sha256: \(String(repeating: "a", count: 64))}\n"
        #expect {
            _ = try ArtifactMetadata(yaml: text, file: "x.metadata.yaml")
        } throws: { e in
            (e as? ArtifactMetadata.ParseError)?.description == "x.metadata.yaml: field cosci.key: missing (not written by cosci?)"
        }
    }
}

@Suite struct RepositoryIndexing {
    func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-repo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("tree/test/tool"), withIntermediateDirectories: true)
        try "name: tool\n".write(to: dir.appendingPathComponent("tree/test/tool/definition.yaml"), atomically: true, encoding: .utf8)
        return dir
    }

    @Test func revisionsGrowOnlyWhenTheIndexChangesAndOldVersionsStay() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let repo = dir.appendingPathComponent("repo").path
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        var options = RepositoryOptions()
        options.sourceDateEpoch = 1_700_000_000
        options.snapshot = "v1"
        let tree = dir.appendingPathComponent("tree").path

        let first = try RepositoryIndex.write(directory: repo, artifacts: [metadata("tool", "1.0", content: "a")], compilerTree: CompilerTree(root: tree, prefixes: [""]), options: options)
        #expect(first.revision == 1 && first.changed)
        let index = try String(contentsOfFile: repo + "/repository.yaml", encoding: .utf8)
        #expect(index.contains("last_update: \"1700000000\""))
        #expect(index.contains("revision: 1"))
        #expect(FileManager.default.fileExists(atPath: repo + "/v1-repository.yaml"))
        #expect(try String(contentsOfFile: repo + "/v1-repository.yaml", encoding: .utf8).contains("filename: v1-tree.tar.zst"))
        // repo_files name each archive by its content, and their checksums are the files' own.
        func live(_ base: String, _ index: String) throws -> String {
            let line = try #require(index.split(separator: "\n").first { $0.contains("filename: \(base).") })
            return String(line.split(separator: " ").last!)
        }
        for base in ["tree", "compilertree", "repository.meta.yaml"] {
            let name = try live(base, index)
            let data = try Data(contentsOf: URL(fileURLWithPath: repo + "/" + name))
            let sha = Digest.sha256(of: [UInt8](data))
            #expect(name == "\(base).\(sha.hex.prefix(16)).tar.zst")
            #expect(index.contains(sha.hex), "\(name) checksum")
        }
        let firstTree = try live("tree", index)

        let same = try RepositoryIndex.write(directory: repo, artifacts: [metadata("tool", "1.0", content: "a")], compilerTree: CompilerTree(root: tree, prefixes: [""]), options: options)
        #expect(same.revision == 1 && !same.changed)

        let second = try RepositoryIndex.write(directory: repo, artifacts: [metadata("tool", "1.1", content: "b")], compilerTree: CompilerTree(root: tree, prefixes: [""]), options: options)
        #expect(second.revision == 2)
        #expect(second.packages.map(\.description) == ["test/tool@1.0", "test/tool@1.1"], "the earlier version stays indexed")
        let index2 = try String(contentsOfFile: repo + "/repository.yaml", encoding: .utf8)
        let definitions = try TarArchive.list(repo + "/" + (try live("tree", index2))).map(\.path)
        // The previous index's archives stay (a reader may hold it); a third revision drops the first's.
        #expect(FileManager.default.fileExists(atPath: repo + "/" + firstTree))
        #expect(definitions.contains("test/tool/1.0/definition.yaml") && definitions.contains("test/tool/1.1/definition.yaml"))
        let (revision, artifacts, _) = try RepositoryIndex.existing(in: repo)
        #expect(revision == 2)
        #expect(artifacts.map(\.id.version.text) == ["1.0", "1.1"])
        let third = try RepositoryIndex.write(directory: repo, artifacts: [metadata("tool", "1.2", content: "c")], compilerTree: CompilerTree(root: tree, prefixes: [""]), options: options)
        #expect(third.revision == 3)
        #expect(!FileManager.default.fileExists(atPath: repo + "/" + firstTree))
        #expect(FileManager.default.fileExists(atPath: repo + "/" + (try live("tree", index2))))
    }

    @Test func aDamagedIndexSaysWhatToDo() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try "revision: [unclosed\n".write(to: dir.appendingPathComponent("repository.yaml"), atomically: true, encoding: .utf8)
        #expect {
            _ = try RepositoryIndex.existing(in: dir.path)
        } throws: { e in
            "\(e)".contains("repository.yaml") && "\(e)".contains("delete it to start a new repository")
        }
    }
}

/// A channel is installable on its own: the runtime closure of what it carries.
@Suite struct ChannelClosure {
    static func package(_ family: String, _ version: String, requires: [(String, String)] = [], provides: [String] = []) -> ArtifactMetadata {
        let parts = family.split(separator: "/").map(String.init)
        let id = PackageID(category: parts[0], name: parts[1], version: try! Version(version))
        func refs(_ list: [(String, String)]) -> Value {
            .list(list.map { f, v in
                let p = f.split(separator: "/").map(String.init)
                return .map(["category": .string(p[0]), "name": .string(p[1]), "version": .string(v)])
            })
        }
        var runtime: [String: Value] = ["name": .string(id.name), "category": .string(id.category), "version": .string(version)]
        if !requires.isEmpty { runtime["requires"] = refs(requires) }
        if !provides.isEmpty { runtime["provides"] = refs(provides.map { ($0, ">=0") }) }
        return ArtifactMetadata(
            id: id, path: ArtifactMetadata.fileName(id, .gzip), key: CacheKey(.sha256(of: Array(family.utf8))), sha256: .sha256(of: Array(version.utf8)),
            size: 1, compression: .gzip, files: [], spec: .map([:]), runtime: .map(runtime), platform: .linuxAMD64, sourceDateEpoch: 0)
    }

    @Test func requirementsComeAlongTransitivelyThroughProviders() {
        let wrapper = Self.package("system/cos-wrapper", "0.32-7", requires: [("toolchain/elemental-cli", ">=0.0.14")], provides: ["utils/installer"])
        let cli = Self.package("toolchain/elemental-cli", "0.0.15-4", requires: [("toolchain/yq", ">=4")])
        let oldCLI = Self.package("toolchain/elemental-cli", "0.0.13")
        let yq = Self.package("toolchain/yq", "4.30.1")
        let upgrade = Self.package("utils/cos-upgrade", "2.0", requires: [("utils/installer", ">=0")])
        let unrelated = Self.package("utils/k9s", "0.25.18")
        let (closure, missing) = RuntimeClosure.closure(of: [upgrade], among: [wrapper, cli, oldCLI, yq, upgrade, unrelated])
        #expect(missing.isEmpty)
        #expect(closure.map(\.id.description) == [
            "system/cos-wrapper@0.32-7", "toolchain/elemental-cli@0.0.15-4", "toolchain/yq@4.30.1", "utils/cos-upgrade@2.0",
        ])
    }

    @Test func whatNothingSatisfiesIsNamed() {
        let wrapper = Self.package("system/cos-wrapper", "0.32-7", requires: [("toolchain/elemental-cli", ">=1")])
        let cli = Self.package("toolchain/elemental-cli", "0.0.15-4")
        let (closure, missing) = RuntimeClosure.closure(of: [wrapper], among: [wrapper, cli])
        #expect(closure.map(\.id.description) == ["system/cos-wrapper@0.32-7"])
        #expect(missing.map(\.description) == ["system/cos-wrapper@0.32-7 requires toolchain/elemental-cli >=1"])
    }
}
