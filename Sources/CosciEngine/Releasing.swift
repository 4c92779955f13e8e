#if canImport(Glibc)
    import Glibc
#endif
import CosciArchive
import CosciFiles
import CosciGit
import CosciManifest
import CosciImage
import CosciModel
import CosciYAML
import CosciRegistry
import CosciRepository
import Foundation

/// What `cosci release` was asked.
public struct ReleaseOptions: Sendable {
    public var channel: String
    /// The published repository to release from: `docker://HOST/REPO` (what `cosci publish` wrote).
    public var from: String
    /// The snapshot id (default: the git tag at HEAD, else the head commit).
    public var snapshot: String?
    /// Move the channel back to its previous release.
    public var rollback = false
    /// Release even when a carried package needs at run time what the published repository does not hold (the
    /// notes list what is missing); by default that fails, naming it.
    public var allowPartial = false
    public var registry = RegistryAccess()

    public init(channel: String, from: String) {
        self.channel = channel
        self.from = from
    }
}

/// A package version in release notes.
public struct ReleaseChange: Sendable, Hashable {
    public enum Kind: String, Sendable { case added, changed, removed }
    public let kind: Kind
    public let id: PackageID
    public let sha256: Digest
}

/// What a release did.
public struct ReleaseResult: Sendable {
    public let channel: String
    public let id: String
    /// `docker://HOST/REPO` of the channel.
    public let target: String
    public let revision: Int
    /// The manifest the channel's `repository.yaml` tag now names.
    public let pointer: Digest
    public let previous: String?
    public let changes: [ReleaseChange]
    public let notes: String?
    public let repositoryFile: String?
}

/// Release channels: a release copies what is published (by digest, never rebuilt) into the channel's
/// repository as a snapshot `<id>-…`, then moves the channel's `repository.yaml` tag to it with one manifest
/// PUT. The channel keeps a log (`cosci-releases`, a one-layer image holding JSON) that rollback reads.
public enum Releasing {
    static let logTag = "cosci-releases"

    public static func release(_ project: Project, _ options: ReleaseOptions) throws(Diagnostic) -> ReleaseResult {
        let channel = try channelSpec(project, options.channel)
        let source = try registryStore(options.from, options.registry)
        let target = try registryStore("docker://\(source.repository.host)/\(channel.repository)", options.registry)
        let output = project.outputDirectory
        let scratch = (project.cacheRoot as NSString).deletingLastPathComponent + "/release-\(getpid())"
        try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var log = try readLog(target, scratch: scratch)

        if options.rollback {
            guard log.count >= 2 else {
                throw Diagnostic(at: nil, "the channel \(channel.name) has \(log.count) release(s): nothing to roll back to")
            }
            let current = log.removeLast()
            let previous = log.last!
            let pointer = try movePointer(target, toSnapshot: previous.id, scratch: scratch, epoch: previous.epoch)
            try writeLog(target, log, scratch: scratch, epoch: previous.epoch)
            return ReleaseResult(
                channel: channel.name, id: previous.id, target: "docker://\(target.repository)", revision: previous.revision,
                pointer: pointer, previous: current.id, changes: [], notes: nil, repositoryFile: nil)
        }

        let id: String
        if let given = options.snapshot { id = Tag.sanitized(given) } else { id = Tag.sanitized(try defaultSnapshot(project)) }
        if log.contains(where: { $0.id == id }) {
            throw Diagnostic(at: nil, "\(channel.name) already has a release \(id)", hint: "pass another --snapshot, or --rollback")
        }
        // What is published: its index and metadata.
        let published = try readFile(source, tag: RepositoryIndex.indexFile, scratch: scratch)
        let description = try describe(published, "\(source.name):\(RepositoryIndex.indexFile)")
        let epoch = description.lastUpdate
        let metaName = description.metaFile
        let metaArchive = scratch + "/published-meta"
        try writeBytes(try readFile(source, tag: Tag.sanitized(metaName), scratch: scratch), to: metaArchive)
        let offered = try readIndex(metaArchive)
        let carried = offered.filter { channel.carries($0.id.family) }
        guard !carried.isEmpty else {
            throw Diagnostic(at: nil, "\(options.from) holds no package that the channel \(channel.name) carries (\(channel.packages.joined(separator: ", ")))")
        }
        // A channel is installable on its own: what its packages need at run time comes along.
        let (artifacts, missing) = RuntimeClosure.closure(of: carried, among: offered)
        if !missing.isEmpty && !options.allowPartial {
            throw Diagnostic(
                at: SourceLocation(file: channel.file, line: 0), field: "packages",
                "the channel \(channel.name) would not be installable: nothing in \(options.from) satisfies "
                    + missing.prefix(5).map { $0.description }.joined(separator: "; ") + (missing.count > 5 ? "; …" : ""),
                hint: "publish those packages first, or pass --allow-partial to release without them (the notes say so)")
        }

        // The channel's new index: its earlier releases' packages plus these, as snapshot files.
        let work = scratch + "/index"
        try? FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        var previousArtifacts: [ArtifactMetadata] = []
        if let last = log.last {
            try writeBytes(try readFile(target, tag: "\(last.id)-\(RepositoryIndex.indexFile)", scratch: scratch, member: "\(last.id)-\(RepositoryIndex.indexFile)"), to: work + "/" + RepositoryIndex.indexFile)
            let seeded = [UInt8](FileManager.default.contents(atPath: work + "/" + RepositoryIndex.indexFile) ?? Data())
            let prevMeta = try describe(seeded, "\(target.name):\(last.id)-\(RepositoryIndex.indexFile)").metaFile
            try writeBytes(try readFile(target, tag: Tag.sanitized(prevMeta), scratch: scratch, member: prevMeta), to: work + "/" + prevMeta)
            previousArtifacts = try readIndex(work + "/" + prevMeta)
        }
        var repoOptions = RepositoryOptions()
        repoOptions.name = channel.name
        repoOptions.description = channel.description ?? "cosci channel \(channel.name)"
        repoOptions.type = "docker"
        repoOptions.snapshot = id
        repoOptions.sourceDateEpoch = epoch
        let written: RepositoryResult
        do {
            written = try RepositoryIndex.write(
                directory: work, artifacts: artifacts, compilerTree: project.compilerTree, options: repoOptions)
        } catch {
            throw Diagnostic(at: nil, "cannot write the channel index: \(error)")
        }

        // Copy the package images and their metadata images, by digest.
        do {
            for a in artifacts {
                let tag = a.id.imageTag
                if try target.digest(ofTag: tag) == nil {
                    _ = try target.copy(tag, from: source, tags: [tag], scratch: scratch)
                }
                let meta = Tag.sanitized(ArtifactMetadata.metadataFileName(a.id))
                if try target.digest(ofTag: meta) == nil {
                    _ = try target.copy(meta, from: source, tags: [meta], scratch: scratch)
                }
            }
        } catch {
            throw Diagnostic(at: nil, "cannot copy packages into \(channel.repository): \(error)")
        }
        // The snapshot files, then the pointer (one PUT), then the log.
        let staging = scratch + "/staging"
        try? FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        var images: [String: ImageContent] = [:]
        for name in RepositoryIndex.archives + [RepositoryIndex.indexFile] {
            let file = "\(id)-\(name)"
            let planned = try Publishing.fileImage(file, in: work, staging: staging, epoch: epoch)
            images[planned.tag] = planned.image
        }
        do {
            _ = try target.push(images.values.flatMap(\.blobs))
            for image in images.values { try target.putManifest(image) }
            try target.tag(images)
        } catch {
            throw Diagnostic(at: nil, "cannot publish the snapshot \(id) to \(channel.repository): \(error)")
        }
        let pointer = try movePointer(target, toSnapshot: id, scratch: scratch, epoch: epoch)
        log.append(LogEntry(id: id, revision: written.revision, epoch: epoch))
        try writeLog(target, log, scratch: scratch, epoch: epoch)

        // Release notes and a luet repository file pinned to the snapshot.
        let changes = diff(previousArtifacts, artifacts)
        let dir = output + "/releases"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let notesFile = "\(dir)/\(channel.name)-\(id).md"
        let repoFile = "\(dir)/\(channel.name)-\(id).repo.yaml"
        var notes = notesText(channel: channel, id: id, previous: log.dropLast().last?.id, changes: changes, target: target)
        let pulledIn = artifacts.filter { !channel.carries($0.id.family) }
        if !pulledIn.isEmpty {
            notes += "\nAlso carried, as runtime requirements of the channel's packages: "
                + pulledIn.map { "`\($0.id)`" }.joined(separator: ", ") + ".\n"
        }
        if !missing.isEmpty {
            notes += "\n**Partial release** (--allow-partial): not installable on its own; missing: "
                + missing.map { $0.description }.joined(separator: "; ") + ".\n"
        }
        let repoYAML = Value.map([
            "name": .string(channel.name), "description": .string(channel.description ?? channel.name),
            "type": .string("docker"), "urls": .list([.string("\(target.repository)")]),
            "reference": .string("\(id)-\(RepositoryIndex.indexFile)"), "priority": .int(1), "enable": .bool(true),
            "cached": .bool(true),
        ]).yamlText()
        do {
            try AtomicFile.write(notesFile, Array(notes.utf8))
            try AtomicFile.write(repoFile, Array(repoYAML.utf8))
        } catch {
            throw Diagnostic(at: nil, error.description)
        }
        return ReleaseResult(
            channel: channel.name, id: id, target: "docker://\(target.repository)", revision: written.revision, pointer: pointer,
            previous: log.dropLast().last?.id, changes: changes, notes: notesFile, repositoryFile: repoFile)
    }

    // MARK: Pieces

    struct LogEntry: Sendable {
        let id: String
        let revision: Int
        let epoch: Int64
    }

    static func channelSpec(_ project: Project, _ name: String) throws(Diagnostic) -> ChannelSpec {
        guard let dir = project.config.channels else {
            throw Diagnostic(
                at: SourceLocation(file: project.configFile ?? project.root + "/cosci.yaml", line: 0), field: "channels",
                "the project declares no channels directory", hint: "add `channels: channels` to cosci.yaml")
        }
        let channels = try ChannelSpec.load(directory: dir, projectRoot: project.root)
        guard let c = channels.first(where: { $0.name == name }) else {
            throw Diagnostic(
                at: SourceLocation(file: dir, line: 0), "no channel named \(name)",
                hint: "channels: \(channels.map(\.name).joined(separator: ", "))")
        }
        return c
    }

    static func registryStore(_ target: String, _ access: RegistryAccess) throws(Diagnostic) -> RegistryStore {
        guard let store = try access.store(target) as? RegistryStore else {
            throw Diagnostic(at: nil, "releases go to registries: \(target) is not docker://HOST/REPO")
        }
        return store
    }

    static func defaultSnapshot(_ project: Project) throws(Diagnostic) -> String {
        guard let repo = try? GitRepository(discoveringFrom: project.root), let head = try? repo.commit("HEAD") else {
            throw Diagnostic(at: nil, "no git repository here to name the snapshot", hint: "pass --snapshot ID")
        }
        return ((try? repo.tags(pointingAt: head)) ?? []).last ?? head.hex
    }

    /// The bytes of the file carried by a one-layer file image (`tag`), read out of its layer.
    static func readFile(_ store: RegistryStore, tag: String, scratch: String, member: String? = nil) throws(Diagnostic) -> [UInt8] {
        do {
            guard let bytes = try store.manifest(tag), let manifest = try? Manifest.decode(bytes), let layer = manifest.layers.first else {
                throw Diagnostic(at: nil, "\(store.name) has no \(tag)", hint: "publish the repository there first (cosci publish)")
            }
            let file = scratch + "/" + layer.digest.hex
            try store.fetch(layer.digest, to: file)
            defer { unlink(file) }
            let wanted = member ?? manifest.annotations?["org.opencontainers.image.title"] ?? tag
            guard let bytes = try TarArchive.read(member: wanted, of: file) else {
                throw Diagnostic(at: nil, "the image \(store.name):\(tag) does not hold \(wanted)")
            }
            return bytes
        } catch let d as Diagnostic {
            throw d
        } catch {
            throw Diagnostic(at: nil, "cannot read \(tag) from \(store.name): \(error)")
        }
    }

    static func writeBytes(_ bytes: [UInt8], to path: String) throws(Diagnostic) {
        do { try AtomicFile.write(path, bytes) } catch { throw Diagnostic(at: nil, error.description) }
    }

    static func describe(_ bytes: [UInt8], _ file: String) throws(Diagnostic) -> RepositoryIndex.Description {
        do { return try RepositoryIndex.describe(String(decoding: bytes, as: UTF8.self), file: file) } catch {
            throw Diagnostic(at: nil, error.description)
        }
    }

    static func readIndex(_ metaArchive: String) throws(Diagnostic) -> [ArtifactMetadata] {
        do { return try RepositoryIndex.artifacts(inMetaArchive: metaArchive) } catch {
            throw Diagnostic(at: nil, "cannot read the published index: \(error)")
        }
    }

    /// Points the channel's `repository.yaml` tag at the snapshot: one manifest PUT of an image whose file is
    /// named `repository.yaml` and holds the snapshot's index (which names the snapshot's files).
    static func movePointer(_ target: RegistryStore, toSnapshot id: String, scratch: String, epoch: Int64) throws(Diagnostic) -> Digest {
        let content = try readFile(target, tag: "\(id)-\(RepositoryIndex.indexFile)", scratch: scratch, member: "\(id)-\(RepositoryIndex.indexFile)")
        let dir = scratch + "/pointer"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try writeBytes(content, to: dir + "/" + RepositoryIndex.indexFile)
        let planned = try Publishing.fileImage(RepositoryIndex.indexFile, in: dir, staging: dir, epoch: epoch)
        do {
            _ = try target.push(planned.image.blobs)
            try target.putManifest(planned.image)
            try target.tag([RepositoryIndex.indexFile: planned.image])
        } catch {
            throw Diagnostic(at: nil, "cannot move \(target.name):repository.yaml: \(error)")
        }
        return planned.image.digest
    }

    static func readLog(_ target: RegistryStore, scratch: String) throws(Diagnostic) -> [LogEntry] {
        let exists = ((try? target.digest(ofTag: logTag)) ?? nil) != nil
        guard exists else { return [] }
        let bytes = try readFile(target, tag: logTag, scratch: scratch, member: "releases.json")
        guard let list = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [[String: Any]] else {
            throw Diagnostic(at: nil, "\(target.name):\(logTag) is not a release log")
        }
        return list.compactMap { e in
            guard let id = e["id"] as? String else { return nil }
            return LogEntry(id: id, revision: (e["revision"] as? Int) ?? 0, epoch: Int64((e["epoch"] as? Int) ?? 0))
        }
    }

    static func writeLog(_ target: RegistryStore, _ log: [LogEntry], scratch: String, epoch: Int64) throws(Diagnostic) {
        let dir = scratch + "/log"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let json = CanonicalJSON.encode(.list(log.map { .map(["id": .string($0.id), "revision": .int($0.revision), "epoch": .int(Int($0.epoch))]) }), pretty: true)
        try writeBytes(Array((json + "\n").utf8), to: dir + "/releases.json")
        let planned = try Publishing.fileImage("releases.json", in: dir, staging: dir, epoch: epoch)
        do {
            _ = try target.push(planned.image.blobs)
            try target.putManifest(planned.image)
            try target.tag([logTag: planned.image])
        } catch {
            throw Diagnostic(at: nil, "cannot write \(target.name):\(logTag): \(error)")
        }
    }

    static func diff(_ before: [ArtifactMetadata], _ after: [ArtifactMetadata]) -> [ReleaseChange] {
        let old = Dictionary(before.map { ($0.id.fingerprint, $0) }, uniquingKeysWith: { a, _ in a })
        let new = Dictionary(after.map { ($0.id.fingerprint, $0) }, uniquingKeysWith: { a, _ in a })
        var out: [ReleaseChange] = []
        for (fp, a) in new {
            if let b = old[fp] {
                if b.sha256 != a.sha256 { out.append(ReleaseChange(kind: .changed, id: a.id, sha256: a.sha256)) }
            } else {
                out.append(ReleaseChange(kind: .added, id: a.id, sha256: a.sha256))
            }
        }
        for (fp, b) in old where new[fp] == nil { out.append(ReleaseChange(kind: .removed, id: b.id, sha256: b.sha256)) }
        return out.sorted { ($0.id, $0.kind.rawValue) < ($1.id, $1.kind.rawValue) }
    }

    static func notesText(channel: ChannelSpec, id: String, previous: String?, changes: [ReleaseChange], target: RegistryStore) -> String {
        var s = "# \(channel.name) \(id)\n\n"
        s += "Channel repository: `\(target.repository)`; snapshot `\(id)-repository.yaml`"
        s += previous.map { "; previous release `\($0)`.\n\n" } ?? "; first release.\n\n"
        if changes.isEmpty {
            s += "No package changed since the previous release.\n"
            return s
        }
        s += "| change | package | version | sha256 |\n|---|---|---|---|\n"
        for c in changes {
            s += "| \(c.kind.rawValue) | `\(c.id.family)` | \(c.id.version.text) | `\(c.sha256.hex.prefix(12))` |\n"
        }
        return s
    }
}

