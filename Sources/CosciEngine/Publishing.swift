#if canImport(Glibc)
    import Glibc
#endif
import CosciArchive
import CosciFiles
import CosciManifest
import CosciImage
import CosciModel
import CosciRegistry
import CosciRepository
import Foundation

/// What `cosci publish` was asked.
public struct PublishOptions: Sendable {
    /// `oci:PATH` or `docker://HOST/REPO`.
    public var target: String
    /// The luet repository directory to publish (default: `<output>/repository`).
    public var repository: String?
    /// Replace package versions published with another key.
    public var force = false
    /// Layers of package images: gzip by default, which every luet client reads — luet 0.35 and earlier
    /// (cOS v0.8 systems ship 0.32.5) read gzip layers only and install an empty package from a zstd one, with
    /// exit 0. A zstd artifact is rewritten (the tar bytes unchanged; kept in the cache's `layers/`); `.zstd`
    /// (or `nil`) uses the artifact as it is, the layer digest then being the artifact's sha256.
    public var layerCompression: Compression? = .gzip
    /// Receives one line per phase (images prepared, blobs to upload, manifests, tags, the index).
    public var progress: (@Sendable (String) -> Void)?
    public var registry = RegistryAccess()

    public init(target: String) {
        self.target = target
    }
}

/// How to reach registries: credentials and which hosts may skip TLS verification.
public struct RegistryAccess: Sendable {
    public var authFile: String?
    /// `--insecure-registry HOST`: plain HTTP or unverified TLS for these hosts only.
    public var insecureHosts: [String] = []
    /// Parallel uploads.
    public var parallelism = 4
    /// Attempts per request on 429, 5xx and dropped connections.
    public var attempts = 6
    /// Seconds to connect; seconds a transfer may stay below 10 KiB/s; seconds a credential helper may take.
    public var connectTimeout = 15
    public var stallTimeout = 20
    public var helperTimeout = 30

    public init() {}

    /// The options every registry and file client of this access shares.
    var registryOptions: RegistryOptions {
        var options = RegistryOptions()
        options.insecureHosts = Set(insecureHosts)
        options.attempts = max(1, attempts)
        options.http.connectTimeout = max(1, connectTimeout)
        options.http.stallTimeout = max(1, stallTimeout)
        return options
    }

    /// A client for plain HTTP(S) files under `url` (luet `http` repositories), with the auth file's
    /// credentials for its host.
    public func fileClient(for url: String) throws(Diagnostic) -> FileClient {
        let host = FileClient.host(of: url)
        var store = CredentialStore(authFile: authFile)
        store.helperTimeout = TimeInterval(helperTimeout)
        let credentials: RegistryCredentials?
        do { credentials = try store.credentials(for: host) } catch {
            throw Diagnostic(at: nil, error.description, hint: "fix or remove the file, or pass --authfile")
        }
        return FileClient(host: host, credentials: credentials, options: registryOptions)
    }

    /// Opens an image store for `target`.
    public func store(_ target: String) throws(Diagnostic) -> any ImageStore {
        let parsed: ImageTarget
        do { parsed = try ImageTarget(parsing: target) } catch { throw Diagnostic(at: nil, error.description) }
        switch parsed {
        case .layout(let path):
            do { return try LayoutStore(path: path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path) } catch {
                throw Diagnostic(at: nil, error.description)
            }
        case .registry(let repository):
            let credentials: RegistryCredentials?
            var store = CredentialStore(authFile: authFile)
            store.helperTimeout = TimeInterval(helperTimeout)
            do { credentials = try store.credentials(for: repository.host) } catch {
                throw Diagnostic(at: nil, error.description, hint: "fix or remove the file, or pass --authfile")
            }
            return RegistryStore(repository: repository, credentials: credentials, options: registryOptions, parallelism: parallelism)
        }
    }
}

/// What a publish did.
public struct PublishReport: Sendable {
    public let target: String
    public let images: Int
    public let blobsUploaded: Int
    public let blobsSkipped: Int
    /// Blobs mounted from an upstream repository of the same registry instead of uploaded.
    public let blobsMounted: Int
    public let bytesUploaded: Int64
    public let tagsSet: Int
    public let tagsUnchanged: Int
    /// Package versions already published with the same key but other bytes: left as they were.
    public let kept: [String]
    /// Package versions published with another key and replaced (`--force`): a reader of the previous index may
    /// have seen the new package before the new index.
    public let replaced: [String]
    public let revision: Int
}

/// `cosci publish`: a luet `docker` repository (or an OCI layout holding the same images) from a repository
/// directory. Each package is a one-layer image tagged `<name>-<category>-<version>` (its layer is the
/// artifact itself), each repository file a one-layer image tagged by its file name. Order: blobs, manifests
/// by digest, tags, and `repository.yaml` last, so a publish that dies midway leaves the published index
/// naming only complete content.
public enum Publishing {
    /// The annotation holding a package image's cache key.
    public static let keyAnnotation = "io.cosci.key"

    struct PlannedImage {
        let tag: String
        let image: ImageContent
        /// The key, for package images.
        let key: CacheKey?
    }

    public static func publish(_ project: Project, _ options: PublishOptions) throws(Diagnostic) -> PublishReport {
        let output = project.outputDirectory
        let dir = options.repository ?? output + "/" + Running.repositoryDirectory
        let existing: (revision: Int, artifacts: [ArtifactMetadata], files: [String: String])
        do { existing = try RepositoryIndex.existing(in: dir) } catch { throw Diagnostic(at: nil, error.description) }
        guard existing.revision > 0 else {
            throw Diagnostic(at: nil, "\(dir) holds no repository.yaml", hint: "run `cosci run` (or `cosci repo index --to DIR`) first")
        }
        // A luet client asks for exactly `name-category-version` with `+` made `-` (`Package.ImageID`): a package
        // whose tag that is not cannot be installed from a docker repository, so it is not published under another.
        let untaggable = existing.artifacts.filter { !$0.id.hasValidImageTag }
        if !untaggable.isEmpty {
            throw Diagnostic(
                at: nil,
                "luet cannot fetch \(untaggable.count) package(s) from a docker repository, because the tag it asks for is not a valid image tag: "
                    + untaggable.prefix(5).map { "\($0.id) (tag \($0.id.imageTag))" }.joined(separator: ", "),
                hint: "change their versions: luet turns only + into - (use 0.0.9-rc1, not 0.0.9~rc1; no epoch such as 1:); `cosci check` warns about them",
                kind: .tree)
        }
        let store = try options.registry.store(options.target)
        let staging = (project.cacheRoot as NSString).deletingLastPathComponent + "/publish-\(getpid())"
        try? FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: staging) }

        let epoch = (try? String(contentsOfFile: dir + "/" + RepositoryIndex.indexFile, encoding: .utf8))
            .flatMap { try? RepositoryIndex.describe($0, file: dir + "/" + RepositoryIndex.indexFile).lastUpdate } ?? 0
        let layers = project.cacheRoot + "/layers"
        for a in existing.artifacts where !FileManager.default.fileExists(atPath: dir + "/" + a.path) {
            throw Diagnostic(at: nil, "\(dir)/\(a.path) is in the repository index but missing", hint: "run `cosci run` again to restore it")
        }
        // Images are prepared on every core: layers are hashed (and rewritten when asked), small files packed.
        let artifacts = existing.artifacts
        let layerCompression = options.layerCompression
        let packages = try inParallel(artifacts.count) { i throws(Diagnostic) in
            try packageImage(artifacts[i], path: dir + "/" + artifacts[i].path, layerCompression: layerCompression, layers: layers)
        }
        // Repository files: metadata files, the archives, snapshots; repository.yaml is handled last.
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
        let fileNames = names.filter {
            ($0.hasSuffix(".metadata.yaml") || $0.hasSuffix(".tar.zst") && !$0.hasSuffix(".package.tar.zst")
                || $0.hasSuffix("-repository.yaml")) && !$0.hasPrefix(".")
        }
        let allFiles = fileNames + [RepositoryIndex.indexFile]
        let files = try inParallel(allFiles.count) { i throws(Diagnostic) in
            try fileImage(allFiles[i], in: dir, staging: staging, epoch: epoch)
        }

        options.progress?("prepared \(packages.count + files.count) image(s) for \(store.name)")
        // Package layers may already be in an upstream repository of the same registry (packages carried with
        // --with-upstream are its layers byte for byte): offered as mounts from the first such repository.
        var mountFrom: [Digest: String] = [:]
        if case .registry(let target)? = try? ImageTarget(parsing: options.target),
            let upstream = project.config.enabledRepositories.sorted(by: { $0.priority < $1.priority }).lazy
                .filter({ $0.kind == .docker }).flatMap(\.urls).compactMap({ try? ImageTarget(parsing: "docker://" + $0) })
                .compactMap({ if case .registry(let r) = $0, r.host == target.host, r.name != target.name { r.name } else { nil } }).first
        {
            for p in packages { for b in p.image.blobs where b.descriptor.mediaType != MediaType.config { mountFrom[b.descriptor.digest] = upstream } }
        }
        do {
            return try push(
                packages: packages, files: files, to: store, force: options.force, revision: existing.revision, mountFrom: mountFrom,
                progress: options.progress)
        } catch let d as Diagnostic {
            throw d
        } catch {
            throw Diagnostic(at: nil, "\(store.name): \(error)")
        }
    }

    static func push(
        packages: [PlannedImage], files: [PlannedImage], to store: any ImageStore, force: Bool, revision: Int,
        mountFrom: [Digest: String] = [:], progress: (@Sendable (String) -> Void)? = nil
    ) throws -> PublishReport {
        let present = Set(try store.tags())
        let published = try store.digests(ofTags: (packages + files).map(\.tag).filter(present.contains))
        var conflicts: [String] = []
        var kept: [String] = []
        var replaced: [String] = []
        var toTag: [PlannedImage] = []
        var unchanged = 0
        for p in packages + files {
            guard let digest = published[p.tag] else {
                toTag.append(p)
                continue
            }
            if digest == p.image.digest {
                unchanged += 1
                continue
            }
            if let key = p.key {
                let published = try store.manifest(digest.description).flatMap { try? Manifest.decode($0) }?.annotations?[keyAnnotation]
                if published == key.description && !force {
                    kept.append(p.tag)
                    continue
                }
                if published != key.description && !force {
                    conflicts.append("\(p.tag) (published key \(published ?? "unknown"), now \(key))")
                    continue
                }
                replaced.append(p.tag)
            }
            toTag.append(p)
        }
        if !conflicts.isEmpty {
            throw Diagnostic(
                at: nil, "\(conflicts.count) package version(s) are already published in \(store.name) with another key: "
                    + conflicts.prefix(5).joined(separator: "; ") + (conflicts.count > 5 ? "; …" : ""),
                hint: "bump their versions (`cosci bump`), or pass --force to replace them")
        }
        // Blobs, deduplicated, then manifests by digest, then tags, repository.yaml last.
        var blobs: [Digest: Blob] = [:]
        for p in toTag { for b in p.image.blobs { blobs[b.descriptor.digest] = b } }
        let total = blobs.values.reduce(Int64(0)) { $0 + $1.descriptor.size }
        progress?("\(unchanged) tag(s) already current; pushing \(blobs.count) blob(s) (\(total) bytes at most) for \(toTag.count) image(s)")
        let sorted = blobs.values.sorted { $0.descriptor.digest < $1.descriptor.digest }
        let (bytes, skipped, mounted) =
            if let registry = store as? RegistryStore, !mountFrom.isEmpty {
                try registry.push(sorted, mountFrom: mountFrom)
            } else {
                try { let r = try store.push(sorted); return (r.bytes, r.skipped, 0) }()
            }
        progress?(
            "blobs done: \(bytes) bytes uploaded, \(skipped) already there\(mounted > 0 ? ", \(mounted) mounted from the upstream repository" : ""); manifests and tags next, repository.yaml last")
        if let registry = store as? RegistryStore {
            try registry.putManifests(toTag.map(\.image))
        } else {
            for p in toTag { try store.putManifest(p.image) }
        }
        // Tags in three steps: every file an index names (packages, metadata, archives), then the snapshot
        // indexes, then repository.yaml: no index is reachable before what it names.
        func isIndex(_ tag: String) -> Bool { tag == RepositoryIndex.indexFile || tag.hasSuffix("-" + RepositoryIndex.indexFile) }
        let files = toTag.filter { !isIndex($0.tag) }
        let snapshots = toTag.filter { isIndex($0.tag) && $0.tag != RepositoryIndex.indexFile }
        let index = toTag.filter { $0.tag == RepositoryIndex.indexFile }
        for step in [files, snapshots, index] where !step.isEmpty {
            try store.tag(Dictionary(uniqueKeysWithValues: step.map { ($0.tag, $0.image) }))
        }
        return PublishReport(
            target: store.name, images: packages.count + files.count, blobsUploaded: blobs.count - skipped - mounted, blobsSkipped: skipped,
            blobsMounted: mounted,
            bytesUploaded: bytes, tagsSet: toTag.count, tagsUnchanged: unchanged, kept: kept, replaced: replaced, revision: revision)
    }

    /// A package image: the artifact as its one layer (by default without recompression: the layer digest is
    /// the artifact's sha256).
    static func packageImage(
        _ a: ArtifactMetadata, path: String, layerCompression: Compression?, layers: String
    ) throws(Diagnostic) -> PlannedImage {
        var layer: Blob
        let diffID: Digest
        if let wanted = layerCompression, wanted != a.compression {
            let converted = "\(layers)/\(a.sha256.hex)\(wanted.suffix).layer"
            let sums = converted + ".json"
            do {
                let result: RecompressResult
                if let data = FileManager.default.contents(atPath: sums),
                    let doc = try? JSONSerialization.jsonObject(with: data) as? [String: String],
                    let d = doc["digest"].flatMap({ try? Digest(parsing: $0) }), let u = doc["diffID"].flatMap({ try? Digest(parsing: $0) }),
                    let n = doc["size"].flatMap({ Int64($0) }), FileManager.default.fileExists(atPath: converted)
                {
                    result = RecompressResult(digest: d, size: n, uncompressedDigest: u)
                } else {
                    try? FileManager.default.createDirectory(atPath: layers, withIntermediateDirectories: true)
                    result = try TarArchive.recompress(path, to: converted, compression: wanted)
                    let doc = ["digest": result.digest.description, "diffID": result.uncompressedDigest.description, "size": String(result.size)]
                    try? AtomicFile.write(sums, Array(CanonicalJSON.encode(.map(doc.mapValues(Value.string))).utf8))
                }
                layer = Blob(
                    descriptor: Descriptor(mediaType: layerMediaType(wanted), digest: result.digest, size: result.size),
                    body: .file(path: converted, offset: 0, length: result.size))
                diffID = result.uncompressedDigest
            } catch {
                throw Diagnostic(at: nil, "cannot rewrite \(path) as a \(wanted.rawValue) layer: \(error)")
            }
        } else {
            // The uncompressed digest costs a decompression: remembered by the artifact's digest.
            let remembered = "\(layers)/\(a.sha256.hex).diffid"
            if a.compression == .none {
                diffID = a.sha256
            } else if let text = try? String(contentsOfFile: remembered, encoding: .utf8), let d = try? Digest(parsing: text) {
                diffID = d
            } else {
                do { diffID = try TarArchive.uncompressedDigest(path) } catch {
                    throw Diagnostic(at: nil, "\(path): \(error)")
                }
                try? FileManager.default.createDirectory(atPath: layers, withIntermediateDirectories: true)
                try? AtomicFile.write(remembered, Array(diffID.description.utf8))
            }
            layer = Blob(
                descriptor: Descriptor(mediaType: layerMediaType(a.compression), digest: a.sha256, size: a.size),
                body: .file(path: path, offset: 0, length: a.size))
        }
        let image = ImageJSON.image(
            layers: [(layer, diffID, "cosci: \(a.id) (key \(a.key))")], platform: a.platform, epoch: a.sourceDateEpoch,
            labels: ["io.cosci.package": a.id.description],
            annotations: [
                keyAnnotation: a.key.description, "org.opencontainers.image.title": a.id.fingerprint,
                "org.opencontainers.image.version": a.id.version.text,
                "org.opencontainers.image.created": ImageConfig.timestamp(a.sourceDateEpoch),
            ])
        return PlannedImage(tag: a.id.imageTag, image: image, key: a.key)
    }

    static func layerMediaType(_ c: Compression) -> String {
        switch c {
        case .zstd: return "application/vnd.oci.image.layer.v1.tar+zstd"
        case .gzip: return MediaType.layerGzip
        case .none: return "application/vnd.oci.image.layer.v1.tar"
        }
    }

    /// A repository file as a one-layer image: a gzip tar holding the file (luet's docker repositories).
    static func fileImage(_ name: String, in dir: String, staging: String, epoch: Int64) throws(Diagnostic) -> PlannedImage {
        guard let data = FileManager.default.contents(atPath: dir + "/" + name) else {
            throw Diagnostic(at: nil, "cannot read \(dir)/\(name)")
        }
        let layerPath = staging + "/" + name + ".layer.tar.gz"
        let packed: PackResult
        let diffID: Digest
        do {
            packed = try TarArchive.pack(
                files: [MemoryFile(path: name, bytes: [UInt8](data))], to: layerPath,
                options: PackOptions(compression: .gzip, sourceDateEpoch: epoch))
            diffID = try TarArchive.uncompressedDigest(layerPath)
        } catch {
            throw Diagnostic(at: nil, "cannot pack \(name) into a layer: \(error)")
        }
        let layer = Blob(
            descriptor: Descriptor(mediaType: MediaType.layerGzip, digest: packed.sha256, size: packed.size),
            body: .file(path: layerPath, offset: 0, length: packed.size))
        let image = ImageJSON.image(
            layers: [(layer, diffID, "cosci: \(name)")], platform: .linuxAMD64, epoch: epoch, labels: [:],
            annotations: ["org.opencontainers.image.title": name])
        return PlannedImage(tag: Tag.sanitized(name), image: image, key: nil)
    }

    /// `body(0..<count)` on every core, results in order; the first error is thrown.
    static func inParallel<T: Sendable>(_ count: Int, _ body: @Sendable (Int) throws(Diagnostic) -> T) throws(Diagnostic) -> [T] {
        try parallelMap(count, width: ProcessInfo.processInfo.activeProcessorCount, body)
    }
}
