#if canImport(Glibc)
    import Glibc
#endif
import CosciArchive
import CosciFiles
import CosciManifest
import CosciImage
import CosciModel
import CosciPlanner
import CosciRegistry
import CosciRepository
import CosciYAML
import Foundation

/// The upstream repositories of a derivative (`cosci.yaml` `repositories:`), read as luet reads them: the
/// index (`repository.yaml`, or the `reference:` snapshot's), the metadata archive it names (checked against
/// the index's sha256), and each artifact's package, checksum and runtime requirements.
public struct UpstreamIndex: Sendable {
    public struct Repository: Sendable {
        public let config: RepositoryConfig
        /// The url that answered.
        public let url: String
        public let revision: Int
        /// The sha256 of the index file read: it names everything the repository offered.
        public let indexDigest: Digest
        public let packages: [UpstreamPackage]
    }

    /// The enabled repositories, in the order cosci.yaml lists them.
    public let repositories: [Repository]

    /// Every package of every repository.
    public var packages: [UpstreamPackage] { repositories.flatMap(\.packages) }

    public static let none = UpstreamIndex(repositories: [])
}

enum Upstream {
    /// Reads every enabled repository of the project. A repository pinned in `locked` (by default the lock
    /// file's) is read at the pinned index — from the local copy kept when it was first read, else from the
    /// repository if it still serves that index; one that moved is an error naming `cosci lock --update`.
    /// An unreachable or unreadable repository is an error naming it (exit 1: the environment, not the tree).
    static func read(
        _ project: Project, access: RegistryAccess = RegistryAccess(), locked: [String: LockFile.Repository]? = nil
    ) throws(Diagnostic) -> UpstreamIndex {
        let pins = locked ?? project.lockedRepositories
        var repositories: [UpstreamIndex.Repository] = []
        for config in project.config.enabledRepositories {
            var problems: [String] = []
            var found: UpstreamIndex.Repository?
            if let pin = pins[config.name], let kept = try? read(config, url: pin.url, project: project, access: access, pin: pin, offline: true) {
                repositories.append(kept)
                continue
            }
            for url in config.urls {
                do {
                    found = try read(config, url: url, project: project, access: access, pin: pins[config.name], offline: false)
                    break
                } catch {
                    // A pinned repository that moved is not a url problem: no other url can help.
                    if error.location != nil { throw error }
                    problems.append("\(url): \(error.message)")
                }
            }
            guard let found else {
                throw Diagnostic(
                    at: config.location, field: "repositories",
                    "cannot read the repository \(config.name): " + problems.joined(separator: "; "),
                    hint: "check its urls and that it is published (\(config.indexFile) at its root), or set `enable: false`",
                    kind: .environment)
            }
            repositories.append(found)
        }
        return UpstreamIndex(repositories: repositories)
    }

    /// A scratch directory of this process for downloads (removed by the caller when done).
    static func scratchDirectory(_ project: Project) -> String {
        let scratch = project.cacheRoot + "/upstream-\(getpid())"
        try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        return scratch
    }

    /// Where read indexes are kept, by the sha256 of the index file: `<cache>/upstream/<hex>/{index,meta}`.
    static func keptDirectory(_ project: Project, _ index: Digest) -> String { project.cacheRoot + "/upstream/" + index.hex }

    static func read(
        _ config: RepositoryConfig, url: String, project: Project, access: RegistryAccess, pin: LockFile.Repository?, offline: Bool
    ) throws(Diagnostic) -> UpstreamIndex.Repository {
        var fetch: (String) throws(Diagnostic) -> [UInt8]
        let scratch = scratchDirectory(project)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        switch config.kind {
        case .disk:
            let directory = url.hasPrefix("/") ? url : project.root + "/" + url
            fetch = { (name: String) throws(Diagnostic) -> [UInt8] in
                guard let data = FileManager.default.contents(atPath: directory + "/" + name) else {
                    throw Diagnostic(at: nil, "no \(name) in \(directory)")
                }
                return [UInt8](data)
            }
        case .http:
            let client = try access.fileClient(for: url)
            let base = url.hasSuffix("/") ? url : url + "/"
            fetch = { (name: String) throws(Diagnostic) -> [UInt8] in
                do throws(RegistryError) { return try client.get(base + name) } catch { throw Diagnostic(at: nil, error.description) }
            }
        case .docker:
            let store = try Releasing.registryStore("docker://" + url, access)
            fetch = { (name: String) throws(Diagnostic) -> [UInt8] in
                try Releasing.readFile(store, tag: Tag.sanitized(name), scratch: scratch, member: name)
            }
        }
        // A pinned index kept locally is read from there, whatever the repository serves now.
        let kept = pin.map { keptDirectory(project, $0.index) }
        var indexBytes: [UInt8]
        if let kept, let data = FileManager.default.contents(atPath: kept + "/index"), Digest.sha256(of: [UInt8](data)) == pin?.index {
            indexBytes = [UInt8](data)
            let live = fetch
            fetch = { (name: String) throws(Diagnostic) -> [UInt8] in
                if let meta = FileManager.default.contents(atPath: kept + "/meta") { return [UInt8](meta) }
                return try live(name)
            }
        } else if offline {
            throw Diagnostic(at: nil, "the pinned index of \(config.name) is not kept here")
        } else {
            indexBytes = try fetch(config.indexFile)
            if let pin, Digest.sha256(of: indexBytes) != pin.index {
                let now = (try? RepositoryIndex.describe(String(decoding: indexBytes, as: UTF8.self), file: config.indexFile).revision) ?? 0
                throw Diagnostic(
                    at: config.location, field: "repositories",
                    "the repository \(config.name) moved since cosci.lock pinned it (revision \(pin.revision) → \(now)), and its pinned index is not kept on this machine",
                    hint: "run `cosci lock --update \(config.name)` to move to revision \(now) (and commit cosci.lock), or pin a snapshot with `reference:`",
                    kind: .environment)
            }
        }
        let description: RepositoryIndex.Description
        do { description = try RepositoryIndex.describe(String(decoding: indexBytes, as: UTF8.self), file: config.indexFile) } catch {
            throw Diagnostic(at: nil, error.description)
        }
        let metaBytes = try fetch(description.metaFile)
        if let expected = description.checksums[description.metaFile], Digest.sha256(of: metaBytes).hex != expected {
            throw Diagnostic(
                at: nil, "\(description.metaFile) does not match the sha256 \(config.indexFile) gives for it (\(expected))",
                hint: "the repository is being published or damaged: try again")
        }
        let metaPath = scratch + "/meta"
        do { try AtomicFile.write(metaPath, metaBytes) } catch { throw Diagnostic(at: nil, error.description) }
        // Kept by the index's digest, so a lock can be honoured later without the repository.
        let keep = keptDirectory(project, Digest.sha256(of: indexBytes))
        if !FileManager.default.fileExists(atPath: keep + "/meta") {
            try? FileManager.default.createDirectory(atPath: keep, withIntermediateDirectories: true)
            try? AtomicFile.write(keep + "/index", indexBytes)
            try? AtomicFile.write(keep + "/meta", metaBytes)
        }
        let entries: Value
        do {
            guard let bytes = try TarArchive.read(member: "repository.meta.yaml", of: metaPath),
                let node = try YAMLNode.compose(String(decoding: bytes, as: UTF8.self))
            else { throw Diagnostic(at: nil, "\(description.metaFile) holds no repository.meta.yaml") }
            entries = try Value(yaml: node)
        } catch let d as Diagnostic {
            throw d
        } catch {
            throw Diagnostic(at: nil, "\(description.metaFile): \(error)")
        }
        var packages: [UpstreamPackage] = []
        for entry in entries["index"]?.listValue ?? [] {
            if let package = upstreamPackage(entry, config: config, revision: description.revision) { packages.append(package) }
        }
        return UpstreamIndex.Repository(
            config: config, url: url, revision: description.revision, indexDigest: Digest.sha256(of: indexBytes), packages: packages)
    }

    /// One index entry, as luet or cosci write it: the runtime package (else the compile spec's), the artifact's
    /// path and sha256. Entries without them are skipped (luet cannot install them either).
    static func upstreamPackage(_ entry: Value, config: RepositoryConfig, revision: Int) -> UpstreamPackage? {
        let spec = entry["compilespec"] ?? entry["compilationspec"]
        guard let package = entry["runtime"]?.mapValue ?? spec?["package"]?.mapValue,
            let name = package["name"]?.scalarText, let category = package["category"]?.scalarText,
            let versionText = package["version"]?.scalarText, let version = try? Version(versionText),
            let path = entry["path"]?.stringValue,
            let shaText = entry["checksums"]?["sha256"]?.stringValue, let sha = try? Digest(parsing: "sha256:" + shaText)
        else { return nil }
        func requirements(_ value: Value?) -> [Requirement] {
            (value?.listValue ?? []).compactMap { r in
                guard let name = r["name"]?.scalarText, let selector = try? VersionSelector(r["version"]?.scalarText ?? ">=0") else { return nil }
                return Requirement(category: r["category"]?.scalarText ?? "", name: name, selector: selector, location: nil)
            }
        }
        return UpstreamPackage(
            id: PackageID(category: category, name: name, version: version), repository: config.name, priority: config.priority,
            revision: revision, sha256: sha, path: path, requires: requirements(package["requires"]),
            provides: requirements(package["provides"]), entry: entry)
    }
}

extension Upstream {
    /// An upstream package's metadata as cosci's cache and repositories keep it: its published definition
    /// (`runtime`, with its requirements) and compile spec, its files, under its upstream key.
    static func metadata(_ package: UpstreamPackage, path: String, sha256: Digest, size: Int64, platform: Platform) -> ArtifactMetadata {
        let compileSpec = package.entry["compilespec"] ?? package.entry["compilationspec"]
        var spec = compileSpec?.mapValue ?? [:]
        let definition = package.entry["runtime"] ?? compileSpec?["package"]
            ?? .map(["name": .string(package.id.name), "category": .string(package.id.category), "version": .string(package.id.version.text)])
        spec["package"] = nil
        let compression: Compression = path.hasSuffix(".zst") ? .zstd : path.hasSuffix(".gz") ? .gzip : .none
        return ArtifactMetadata(
            id: package.id, path: path, key: CacheKeys.upstreamKey(package), sha256: sha256, size: size, compression: compression,
            files: package.entry["files"]?.listValue?.compactMap(\.stringValue) ?? [], spec: .map(spec), runtime: definition,
            platform: platform, sourceDateEpoch: 0)
    }

    /// The upstream packages `artifacts` need at run time and the tree does not hold (the runtime closure, as a
    /// luet client resolves it on install), fetched into the cache: what `--with-upstream` adds to a repository
    /// so it is installable on its own.
    static func runtimeClosure(
        of artifacts: [(ArtifactMetadata, String)], analysis: Analysis, cache: LocalCache, access: RegistryAccess
    ) throws(Diagnostic) -> [(ArtifactMetadata, String)] {
        let own = Set(artifacts.map(\.0.id))
        let offered = analysis.upstream.packages.filter { !own.contains($0.id) }
        let placeholders = offered.map { metadata($0, path: $0.path, sha256: $0.sha256, size: 0, platform: analysis.project.platform) }
        let (closure, _) = RuntimeClosure.closure(of: artifacts.map(\.0), among: artifacts.map(\.0) + placeholders)
        var out: [(ArtifactMetadata, String)] = []
        for m in closure where !own.contains(m.id) {
            guard let package = offered.first(where: { $0.id == m.id }) else { continue }
            try fetch(package, from: analysis.upstream, into: cache, project: analysis.project, access: access)
            do {
                guard let found = try cache.artifact(for: CacheKeys.upstreamKey(package)) else { continue }
                out.append((found.metadata, found.path))
            } catch {
                throw Diagnostic(at: nil, error.message, kind: .environment)
            }
        }
        return out
    }

    /// Brings an upstream package's artifact into the local cache under its key (`CacheKeys.upstreamKey`),
    /// unless a verified copy is there: from a disk or HTTP repository the artifact file, checked against the
    /// index's sha256; from a docker repository the package image's layer, checked against its digest by the
    /// registry client. Used by builds exactly as a built dependency's artifact.
    static func fetch(
        _ package: UpstreamPackage, from index: UpstreamIndex, into cache: LocalCache, project: Project, access: RegistryAccess
    ) throws(Diagnostic) {
        let key = CacheKeys.upstreamKey(package)
        if cache.containsVerified(key) { return }
        guard let repository = index.repositories.first(where: { $0.config.name == package.repository }) else {
            throw Diagnostic(at: nil, "internal error: \(package.id) names the repository \(package.repository), which was not read", kind: .bug)
        }
        let scratch = scratchDirectory(project)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let url = repository.url
        let where_ = "\(package.id) from the repository \(package.repository) (\(url))"
        var fileName = package.path
        let file: String
        switch repository.config.kind {
        case .disk:
            let directory = url.hasPrefix("/") ? url : project.root + "/" + url
            file = scratch + "/" + fileName
            do { try FileManager.default.copyItem(atPath: directory + "/" + package.path, toPath: file) } catch {
                throw Diagnostic(at: nil, "cannot fetch \(where_): \(error.localizedDescription)", kind: .environment)
            }
        case .http:
            file = scratch + "/" + fileName
            let target = (url.hasSuffix("/") ? url : url + "/") + package.path
            let client = try access.fileClient(for: url)
            do throws(RegistryError) { _ = try client.get(target, to: file) } catch {
                throw Diagnostic(at: nil, "cannot fetch \(where_): \(error)", kind: .environment)
            }
        case .docker:
            let store = try Releasing.registryStore("docker://" + url, access)
            do {
                guard let bytes = try store.manifest(package.id.imageTag), let layer = (try? Manifest.decode(bytes))?.layers.first else {
                    throw Diagnostic(at: nil, "cannot fetch \(where_): no image \(package.id.imageTag)", kind: .environment)
                }
                fileName = ArtifactMetadata.fileName(package.id, .gzip)
                file = scratch + "/" + fileName
                try store.fetch(layer.digest, to: file)
            } catch let d as Diagnostic {
                throw d
            } catch {
                throw Diagnostic(at: nil, "cannot fetch \(where_): \(error)", kind: .environment)
            }
        }
        guard let sha = Digest.sha256(ofFile: file) else { throw Diagnostic(at: nil, "cannot read \(file)", kind: .environment) }
        if repository.config.kind != .docker, sha != package.sha256 {
            throw Diagnostic(
                at: nil, "\(where_) does not match its index: sha256 \(sha.hex), the index says \(package.sha256.hex)",
                hint: "the repository is being published or damaged: try again", kind: .environment)
        }
        var st = stat()
        _ = stat(file, &st)
        let metadata = Upstream.metadata(package, path: fileName, sha256: sha, size: Int64(st.st_size), platform: project.platform)
        do { try cache.store(key, artifact: file, metadata: metadata) } catch {
            throw Diagnostic(at: nil, "cannot store \(package.id) in the cache: \(error.message)", kind: .environment)
        }
    }
}
