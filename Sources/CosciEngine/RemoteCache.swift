#if canImport(Glibc)
    import Glibc
#endif
import CosciArchive
import CosciImage
import CosciModel
import CosciYAML
import CosciRegistry
import CosciRepository
import Foundation

/// The shared artifact cache in a registry repository (`--cache docker://HOST/REPO`) or an OCI layout: the
/// artifact of key `sha256:<hex>` is the manifest tagged `<hex>`, whose config is the artifact's
/// `metadata.yaml` and whose one layer is the artifact file, byte for byte. Which keys exist is learnt from
/// one tag listing, not one request per package. Read and written by the same code as publishing.
public struct RemoteCache: Sendable {
    public let store: any ImageStore

    public init(store: any ImageStore) {
        self.store = store
    }

    /// Every key present (one paginated tag listing).
    public func keys() throws(Diagnostic) -> Set<CacheKey> {
        do {
            return Set(try store.tags().compactMap { $0.count == 64 ? try? CacheKey(hex: $0) : nil })
        } catch {
            throw Diagnostic(at: nil, "cannot list the remote cache \(store.name): \(error)")
        }
    }

    /// Whether one key is present (a HEAD on its tag).
    public func contains(_ key: CacheKey) -> Bool {
        ((try? store.digest(ofTag: key.hex)) ?? nil) != nil
    }

    /// Copies the entry of `key` into the local cache.
    public func fetch(_ key: CacheKey, into local: LocalCache) throws(CacheError) {
        do {
            guard let bytes = try store.manifest(key.hex), let manifest = try? Manifest.decode(bytes), let layer = manifest.layers.first
            else { throw CacheError("the remote cache \(store.name) has no usable entry for \(key)") }
            let scratch = "\(local.root)/.fetch-\(key.hex.prefix(12))-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            try store.fetch(manifest.config.digest, to: scratch + "/metadata.yaml")
            let text = (try? String(contentsOfFile: scratch + "/metadata.yaml", encoding: .utf8)) ?? ""
            let metadata: ArtifactMetadata
            do { metadata = try ArtifactMetadata(yaml: text, file: "\(store.name):\(key.hex)") } catch {
                throw CacheError(error.description)
            }
            guard metadata.key == key, metadata.sha256 == layer.digest else {
                throw CacheError("the remote cache entry \(store.name):\(key.hex) describes another artifact (key \(metadata.key), sha256 \(metadata.sha256))")
            }
            try store.fetch(layer.digest, to: scratch + "/" + metadata.path)
            try local.store(key, artifact: scratch + "/" + metadata.path, metadata: metadata)
        } catch let e as CacheError {
            throw e
        } catch {
            throw CacheError("cannot fetch \(key) from \(store.name): \(error)")
        }
    }

    /// Stores an artifact under its key (blobs first, the tag last).
    public func push(_ key: CacheKey, artifact: String, metadata: ArtifactMetadata) throws(CacheError) {
        let yaml = Array(metadata.yamlText.utf8)
        let config = Blob(mediaType: MediaType.cosciMetadata, bytes: yaml)
        let layer = Blob(
            descriptor: Descriptor(mediaType: Publishing.layerMediaType(metadata.compression), digest: metadata.sha256, size: metadata.size),
            body: .file(path: artifact, offset: 0, length: metadata.size))
        let image = ImageJSON.manifest(
            config: config, layers: [layer],
            annotations: [Publishing.keyAnnotation: key.description, "org.opencontainers.image.title": metadata.id.fingerprint])
        do {
            _ = try store.push([config, layer])
            try store.putManifest(image)
            try store.tag([key.hex: image])
        } catch {
            throw CacheError("cannot store \(metadata.id) in the remote cache \(store.name): \(error)")
        }
    }

    /// The tag of a change-detection summary: `summary-<id hex>` (the id covers everything the summary
    /// depends on, so the tag names its content).
    static func summaryTag(_ id: Digest) -> String { "summary-" + id.hex }

    /// A saved summary's bytes (as `SummaryStore` keeps them, checksum first), or nil when there is none or
    /// it cannot be read: a summary is an optimisation, never an error.
    func summary(_ id: Digest, scratch: String) -> [UInt8]? {
        guard let bytes = try? store.manifest(Self.summaryTag(id)), let layer = (try? Manifest.decode(bytes))?.layers.first,
            layer.size < 512 << 20
        else { return nil }
        let file = "\(scratch)/.summary-\(id.hex.prefix(12))-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(file) }
        guard (try? store.fetch(layer.digest, to: file)) != nil, let data = FileManager.default.contents(atPath: file) else { return nil }
        return [UInt8](data)
    }

    /// Stores a summary's bytes under its tag, unless one is there already. Failing is not an error.
    func pushSummary(_ id: Digest, bytes: [UInt8]) {
        let tag = Self.summaryTag(id)
        if ((try? store.digest(ofTag: tag)) ?? nil) != nil { return }
        let config = Blob(mediaType: MediaType.cosciSummaryConfig, bytes: Array("{}".utf8))
        let layer = Blob(mediaType: MediaType.cosciSummary, bytes: bytes)
        let image = ImageJSON.manifest(config: config, layers: [layer], annotations: ["org.opencontainers.image.title": tag])
        _ = try? store.push([config, layer])
        try? store.putManifest(image)
        try? store.tag([tag: image])
    }
}

