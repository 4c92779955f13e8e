#if canImport(Glibc)
    import Glibc
#endif
import CosciArchive
import CosciFiles
import CosciModel
import CosciYAML
import Foundation

/// What to write into a repository directory.
public struct RepositoryOptions: Sendable {
    public var name = "cosci"
    public var description = "Packages built by cosci"
    /// `disk` or `http`: both are a directory of files.
    public var type = "disk"
    /// The snapshot id: `<id>-repository.yaml` and friends are written beside the live files.
    public var snapshot: String?
    /// `last_update` and every mtime inside the generated archives.
    public var sourceDateEpoch: Int64 = 0

    public init() {}
}

/// What `RepositoryIndex.write` did.
public struct RepositoryResult: Sendable {
    public let revision: Int
    /// False when the index already described exactly these artifacts (nothing rewritten, revision kept).
    public let changed: Bool
    /// Packages in the index (earlier versions included).
    public let packages: [PackageID]
    /// Files written or confirmed, name → sha256, the index last.
    public let files: [(name: String, sha256: Digest)]
}

/// Why the repository could not be written.
public struct RepositoryError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The luet repository index of a directory of artifacts: `repository.yaml` (written last), the tree archive
/// (runtime definitions, `<category>/<name>/<version>/definition.yaml`), the compiler tree archive (the package
/// tree as built), the meta archive (`{index: [artifact metadata]}`), and snapshot copies. Versions already in
/// the index stay there.
///
/// The live archives are named by their content, `tree.<16 hex of sha256>.tar.zst` and likewise (luet reads the
/// names from `repo_files`, and a docker client asks for a tag of that name): a file, or a tag, once written is
/// never rewritten with other bytes, so a reader holding the current `repository.yaml` finds exactly what it
/// names while the next revision is written or published. The archives of the previous index stay (a reader
/// may still hold it); older ones are removed. Snapshot copies keep luet's names, `<snapshot>-tree.tar.zst`.
public enum RepositoryIndex {
    public static let indexFile = "repository.yaml"
    static let treeFile = "tree.tar.zst"
    static let compilerTreeFile = "compilertree.tar.zst"
    static let metaFile = "repository.meta.yaml.tar.zst"
    static let metaMember = "repository.meta.yaml"
    /// The base names of the three archives, in the order they are written.
    public static let archives = [treeFile, compilerTreeFile, metaFile]

    /// The live file name of an archive: its base name with the first 16 hex digits of its sha256 before
    /// `.tar.zst` (`tree.tar.zst` → `tree.0123456789abcdef.tar.zst`).
    public static func liveName(_ base: String, sha256: Digest) -> String {
        String(base.dropLast(".tar.zst".count)) + "." + sha256.hex.prefix(16) + ".tar.zst"
    }

    /// Whether `name` is a live archive of some revision (content-named, or luet's fixed name).
    static func isLiveArchive(_ name: String) -> Bool {
        for base in archives {
            if name == base { return true }
            let stem = String(base.dropLast(".tar.zst".count)) + "."
            guard name.hasPrefix(stem), name.hasSuffix(".tar.zst") else { continue }
            let middle = name.dropFirst(stem.count).dropLast(".tar.zst".count)
            if middle.count == 16 && middle.allSatisfy(\.isHexDigit) { return true }
        }
        return false
    }

    /// What a `repository.yaml` says: its revision, its `last_update`, and its `repo_files`.
    public struct Description: Sendable {
        public let revision: Int
        /// `last_update`, seconds since 1970.
        public let lastUpdate: Int64
        /// `repo_files` file names → sha256 hex.
        public let checksums: [String: String]
        /// `repo_files.meta.filename`.
        public let metaFile: String
    }

    /// Parses a `repository.yaml` (`file` names it in errors).
    public static func describe(_ text: String, file: String) throws(RepositoryError) -> Description {
        let doc: Value
        do {
            guard let node = try YAMLNode.compose(text) else { throw RepositoryError("\(file): empty") }
            doc = try Value(yaml: node)
        } catch let e as RepositoryError {
            throw e
        } catch {
            throw RepositoryError("\(file): \(error) (delete it to start a new repository)")
        }
        func integer(_ v: Value?) -> Int64 {
            if case .int(let i)? = v { return Int64(i) }
            return Int64(v?.scalarText ?? "") ?? 0
        }
        var sums: [String: String] = [:]
        var metaName = metaFile
        for (role, f) in doc["repo_files"]?.mapValue ?? [:] {
            if let name = f["filename"]?.stringValue {
                sums[name] = f["checksums"]?["sha256"]?.stringValue
                if role == "meta" { metaName = name }
            }
        }
        return Description(
            revision: Int(integer(doc["revision"])), lastUpdate: integer(doc["last_update"]), checksums: sums, metaFile: metaName)
    }

    /// Reads the index entries of an existing repository directory (none when there is no index).
    public static func existing(in directory: String) throws(RepositoryError) -> (revision: Int, artifacts: [ArtifactMetadata], files: [String: String]) {
        let index = directory + "/" + indexFile
        guard let text = try? String(contentsOfFile: index, encoding: .utf8) else { return (0, [], [:]) }
        let description = try describe(text, file: index)
        let revision = description.revision
        let sums = description.checksums
        let metaName = description.metaFile
        let metaPath = directory + "/" + metaName
        guard FileManager.default.fileExists(atPath: metaPath) else { return (revision, [], sums) }
        let bytes: [UInt8]
        do {
            guard let b = try TarArchive.read(member: metaMember, of: metaPath) else {
                throw RepositoryError("\(metaPath): no \(metaMember) inside")
            }
            bytes = b
        } catch let e as RepositoryError {
            throw e
        } catch {
            throw RepositoryError("\(metaPath): \(error)")
        }
        return (revision, try artifacts(inMeta: bytes, file: metaPath), sums)
    }

    /// The artifacts of a `repository.meta.yaml` document.
    public static func artifacts(inMeta bytes: [UInt8], file: String) throws(RepositoryError) -> [ArtifactMetadata] {
        let meta: Value
        do {
            guard let node = try YAMLNode.compose(String(decoding: bytes, as: UTF8.self)) else { return [] }
            meta = try Value(yaml: node)
        } catch {
            throw RepositoryError("\(file): \(metaMember): \(error)")
        }
        var artifacts: [ArtifactMetadata] = []
        for entry in meta["index"]?.listValue ?? [] {
            do { artifacts.append(try ArtifactMetadata(parsing: entry, file: file)) } catch {
                throw RepositoryError(error.description)
            }
        }
        return artifacts
    }

    /// The artifacts of a `repository.meta.yaml.tar.zst` archive.
    public static func artifacts(inMetaArchive path: String) throws(RepositoryError) -> [ArtifactMetadata] {
        let bytes: [UInt8]?
        do { bytes = try TarArchive.read(member: metaMember, of: path) } catch { throw RepositoryError("\(path): \(error)") }
        guard let bytes else { throw RepositoryError("\(path): no \(metaMember) inside") }
        return try artifacts(inMeta: bytes, file: path)
    }

    /// Writes the index for `artifacts` (whose files are already in `directory`), keeping earlier versions.
    /// - Parameter compilerTree: the package trees archived as `compilertree.tar.zst`.
    public static func write(
        directory: String, artifacts: [ArtifactMetadata], compilerTree: CompilerTree, options: RepositoryOptions
    ) throws(RepositoryError) -> RepositoryResult {
        let previous = try existing(in: directory)
        var byFingerprint: [String: ArtifactMetadata] = [:]
        for a in previous.artifacts { byFingerprint[a.id.fingerprint] = a }
        for a in artifacts { byFingerprint[a.id.fingerprint] = a }
        let all = byFingerprint.values.sorted { $0.id < $1.id }

        let pack = PackOptions(compression: .zstd, sourceDateEpoch: options.sourceDateEpoch)
        var sourcePack = pack
        sourcePack.sourceModes = true
        let scratch = directory + "/.cosci-index-\(getpid())"
        try? FileManager.default.removeItem(atPath: scratch)
        do { try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true) } catch {
            throw RepositoryError("cannot create \(scratch): \(error.localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        let metaText = Value.map(["index": .list(all.map(\.indexEntry))]).yamlText()
        let treeFiles = all.map { a in
            MemoryFile(
                path: "\(a.id.category)/\(a.id.name)/\(a.id.version.text)/definition.yaml",
                bytes: Array(a.package.yamlText().utf8))
        }
        var sums: [String: Digest] = [:]
        do {
            sums[metaFile] = try TarArchive.pack(
                files: [MemoryFile(path: metaMember, bytes: Array(metaText.utf8))], to: scratch + "/" + metaFile, options: pack
            ).sha256
            sums[treeFile] = try TarArchive.pack(files: treeFiles, to: scratch + "/" + treeFile, options: pack).sha256
            sums[compilerTreeFile] = try TarArchive.pack(
                directory: compilerTree.directory, to: scratch + "/" + compilerTreeFile, options: sourcePack, select: compilerTree.selects
            ).sha256
        } catch {
            throw RepositoryError("cannot write the repository archives: \(error)")
        }

        let live = Dictionary(uniqueKeysWithValues: archives.map { ($0, liveName($0, sha256: sums[$0]!)) })
        let unchanged = previous.revision > 0 && archives.allSatisfy { previous.files[live[$0]!] == sums[$0]?.hex }
        let revision = unchanged ? previous.revision : previous.revision + 1
        var written: [(String, Digest)] = []

        func move(_ name: String, as target: String) throws(RepositoryError) {
            let from = scratch + "/" + name, to = directory + "/" + target
            if rename(from, to) != 0 {
                throw RepositoryError("cannot move \(target) into \(directory): \(String(cString: strerror(errno)))")
            }
        }
        func copy(_ name: String, as target: String) throws(RepositoryError) {
            do { try AtomicFile.copy(scratch + "/" + name, to: directory + "/" + target) } catch {
                throw RepositoryError(error.description)
            }
        }

        // Snapshot copies first, then the live archives (new names: nothing a reader holds changes), then the
        // snapshot index, the live index last, and only then the archives no index names any more.
        if let snapshot = options.snapshot {
            for a in archives { try copy(a, as: "\(snapshot)-\(a)") ; written.append(("\(snapshot)-\(a)", sums[a]!)) }
        }
        if !unchanged {
            for a in archives { try move(a, as: live[a]!) }
        }
        for a in archives { written.append((live[a]!, sums[a]!)) }
        if let snapshot = options.snapshot {
            let text = indexDocument(options, revision: revision, sums: sums, names: { "\(snapshot)-\($0)" }).yamlText()
            try writeText(text, to: directory + "/\(snapshot)-\(indexFile)")
            written.append(("\(snapshot)-\(indexFile)", .sha256(of: Array(text.utf8))))
        }
        let text = indexDocument(options, revision: revision, sums: sums, names: { live[$0]! }).yamlText()
        if !unchanged {
            try writeText(text, to: directory + "/" + indexFile)
            let keep = Set(live.values).union(previous.files.keys)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            where isLiveArchive(name) && !keep.contains(name) {
                try? FileManager.default.removeItem(atPath: directory + "/" + name)
            }
        }
        written.append((indexFile, .sha256(of: Array(text.utf8))))
        return RepositoryResult(revision: revision, changed: !unchanged, packages: all.map(\.id), files: written)
    }

    /// The index document; `names` gives the file name of each archive (by base name).
    static func indexDocument(
        _ options: RepositoryOptions, revision: Int, sums: [String: Digest], names: (String) -> String
    ) -> Value {
        func file(_ name: String) -> Value {
            .map([
                "filename": .string(names(name)), "compressiontype": .string("zstd"),
                "checksums": .map(["sha256": .string(sums[name]!.hex)]),
            ])
        }
        return .map([
            "name": .string(options.name),
            "description": .string(options.description),
            "type": .string(options.type),
            "urls": .list([]),
            "priority": .int(1),
            "enable": .bool(true),
            "revision": .int(revision),
            "last_update": .string(String(options.sourceDateEpoch)),
            "repo_files": .map(["tree": file(treeFile), "compilertree": file(compilerTreeFile), "meta": file(metaFile)]),
        ])
    }

    static func writeText(_ text: String, to path: String) throws(RepositoryError) {
        do { try AtomicFile.write(path, Array(text.utf8)) } catch { throw RepositoryError(error.description) }
    }
}

/// The package trees a repository's `compilertree` archive holds: one tree is archived from its own directory
/// (paths relative to it); several, from the project root with each tree under its own path (luet loads every
/// directory of the archive, wherever it lies).
public struct CompilerTree: Sendable {
    /// The project root.
    public let root: String
    /// Each tree as a path prefix relative to the root: `packages/`, or `` for the root itself.
    public let prefixes: [String]

    public init(root: String, prefixes: [String]) {
        self.root = root
        self.prefixes = prefixes
    }

    /// The directory archived.
    var directory: String {
        guard prefixes.count == 1 else { return root }
        return prefixes[0].isEmpty ? root : root + "/" + String(prefixes[0].dropLast())
    }

    /// Whether a path under `directory` goes in: never the project's cache or output; with several trees,
    /// only paths inside a tree and the directories leading to one.
    func selects(_ path: String, isDirectory: Bool) -> Bool {
        if path.split(separator: "/").contains(where: { $0 == ".cosci" || $0 == "dist" }) { return false }
        guard prefixes.count > 1 else { return true }
        return prefixes.contains { prefix in
            (path + "/").hasPrefix(prefix) || (isDirectory && prefix.hasPrefix(path + "/"))
        }
    }
}
