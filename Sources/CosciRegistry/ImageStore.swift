#if canImport(Glibc)
    import Glibc
#endif
import CosciImage
import CosciModel
import Foundation

/// Where images are stored: an OCI layout or a registry repository. Blocking calls; `push` runs uploads in
/// parallel itself.
public protocol ImageStore: Sendable {
    /// What the store is, for messages (`oci:dist/oci`, `docker://host/repo`).
    var name: String { get }
    /// Stores blobs that are not there yet; returns the bytes sent and how many were skipped.
    func push(_ blobs: [Blob]) throws(RegistryError) -> (bytes: Int64, skipped: Int)
    /// The manifest digest a tag names, or nil.
    func digest(ofTag tag: String) throws(RegistryError) -> Digest?
    /// The manifest digests of several tags (absent ones left out), looked up in parallel where that helps.
    func digests(ofTags tags: [String]) throws(RegistryError) -> [String: Digest]
    /// A manifest's bytes by tag or digest, or nil.
    func manifest(_ reference: String) throws(RegistryError) -> [UInt8]?
    /// Stores a manifest (its blobs must be there) by digest.
    func putManifest(_ image: ImageContent) throws(RegistryError)
    /// Points tags at stored manifests.
    func tag(_ tags: [String: ImageContent]) throws(RegistryError)
    /// Every tag.
    func tags() throws(RegistryError) -> [String]
    /// Fetches a blob into a file, verified.
    func fetch(_ digest: Digest, to path: String) throws(RegistryError)
}

/// An OCI layout as an image store.
public struct LayoutStore: ImageStore {
    public let layout: OCILayout
    public var name: String { "oci:\(layout.path)" }

    public init(path: String) throws(RegistryError) {
        layout = try OCILayout(path: path)
    }

    public func push(_ blobs: [Blob]) throws(RegistryError) -> (bytes: Int64, skipped: Int) {
        var bytes: Int64 = 0
        var skipped = 0
        for b in blobs {
            let n = try layout.put(b)
            if n == 0 && b.descriptor.size > 0 { skipped += 1 }
            bytes += n
        }
        return (bytes, skipped)
    }

    public func digest(ofTag tag: String) throws(RegistryError) -> Digest? { try layout.tags()[tag]?.digest }

    public func digests(ofTags tags: [String]) throws(RegistryError) -> [String: Digest] {
        let all = try layout.tags()
        var out: [String: Digest] = [:]
        for t in tags { if let d = all[t]?.digest { out[t] = d } }
        return out
    }

    public func manifest(_ reference: String) throws(RegistryError) -> [UInt8]? {
        if let d = try? Digest(parsing: reference) { return layout.read(d) }
        guard let d = try layout.tags()[reference]?.digest else { return nil }
        return layout.read(d)
    }

    public func putManifest(_ image: ImageContent) throws(RegistryError) {
        try layout.put(Blob(mediaType: image.mediaType, bytes: image.manifest))
    }

    public func tag(_ tags: [String: ImageContent]) throws(RegistryError) {
        try layout.setTags(tags.mapValues(\.descriptor))
    }

    public func tags() throws(RegistryError) -> [String] { try layout.tags().keys.sorted() }

    public func fetch(_ digest: Digest, to path: String) throws(RegistryError) {
        guard layout.hasBlob(digest) else {
            throw OCILayout.error("\(digest) is not in \(layout.path)")
        }
        do {
            try? FileManager.default.removeItem(atPath: path)
            try FileManager.default.copyItem(atPath: layout.blobPath(digest), toPath: path)
        } catch {
            throw OCILayout.error("cannot copy \(digest) to \(path): \(error)")
        }
    }
}

/// A registry repository as an image store. Keeps a few clients (libcurl handles with live connections)
/// for reuse; uploads run on `parallelism` threads.
public final class RegistryStore: ImageStore, @unchecked Sendable {
    // @unchecked: `idle` is only touched under `lock`; a client taken from it is used by one thread at a time.
    public let repository: RepositoryReference
    public let auth: RegistryAuth
    let options: RegistryOptions
    let parallelism: Int
    private let lock = NSLock()
    private var idle: [RegistryClient] = []

    public var name: String { "docker://\(repository)" }

    public init(repository: RepositoryReference, credentials: RegistryCredentials?, options: RegistryOptions, parallelism: Int = 4) {
        self.repository = repository
        self.auth = RegistryAuth(credentials: credentials)
        self.options = options
        self.parallelism = max(1, parallelism)
    }

    /// Runs `body` with a client of the pool.
    func withClient<T>(_ body: (RegistryClient) throws(RegistryError) -> T) throws(RegistryError) -> T {
        let client = lock.withLock { idle.popLast() } ?? RegistryClient(repository: repository, auth: auth, options: options)
        defer { lock.withLock { idle.append(client) } }
        return try body(client)
    }

    public func ping() throws(RegistryError) { try withClient { (c) throws(RegistryError) in try c.ping() } }

    public func push(_ blobs: [Blob]) throws(RegistryError) -> (bytes: Int64, skipped: Int) {
        let r = try push(blobs, mountFrom: [:])
        return (r.bytes, r.skipped)
    }

    /// Pushes blobs; a blob named in `mountFrom` is first offered as a mount from that repository of the same
    /// registry (a registry that will not mount opens an upload session instead, which the upload then uses).
    public func push(_ blobs: [Blob], mountFrom: [Digest: String]) throws(RegistryError) -> (bytes: Int64, skipped: Int, mounted: Int) {
        // Largest first, so the long uploads start early; the first failure stops new uploads.
        let ordered = blobs.sorted { $0.descriptor.size > $1.descriptor.size }
        let pushes = try parallelMap(ordered.count, width: parallelism) { i throws(RegistryError) in
            let b = ordered[i]
            return try withClient { (c) throws(RegistryError) in
                try c.pushBlob(b.descriptor.digest, size: b.descriptor.size, from: b.body, mountFrom: mountFrom[b.descriptor.digest])
            }
        }
        return (pushes.map(\.bytesSent).reduce(0, +), pushes.filter { $0 == .existed }.count, pushes.filter { $0 == .mounted }.count)
    }

    public func digest(ofTag tag: String) throws(RegistryError) -> Digest? {
        try withClient { (c) throws(RegistryError) in try c.manifestDigest(tag) }
    }

    public func manifest(_ reference: String) throws(RegistryError) -> [UInt8]? {
        try withClient { (c) throws(RegistryError) in try c.manifest(reference)?.bytes }
    }

    public func digests(ofTags tags: [String]) throws(RegistryError) -> [String: Digest] {
        let digests = try parallelMap(tags.count, width: parallelism) { i throws(RegistryError) in try digest(ofTag: tags[i]) }
        var out: [String: Digest] = [:]
        for (i, d) in digests.enumerated() {
            if let d { out[tags[i]] = d }
        }
        return out
    }

    public func putManifest(_ image: ImageContent) throws(RegistryError) {
        _ = try withClient { (c) throws(RegistryError) in
            try c.putManifest(image.manifest, mediaType: image.mediaType, reference: image.digest.description)
        }
    }

    /// Stores several manifests by digest, in parallel.
    public func putManifests(_ images: [ImageContent]) throws(RegistryError) {
        _ = try parallelMap(images.count, width: parallelism) { i throws(RegistryError) in try putManifest(images[i]) }
    }

    /// Tags in parallel (the order among them does not matter; callers tag the index in a later call).
    public func tag(_ tags: [String: ImageContent]) throws(RegistryError) {
        let list = tags.sorted(by: { $0.key < $1.key })
        _ = try parallelMap(list.count, width: parallelism) { i throws(RegistryError) in
            _ = try withClient { (c) throws(RegistryError) in
                try c.putManifest(list[i].value.manifest, mediaType: list[i].value.mediaType, reference: list[i].key)
            }
        }
    }

    public func tags() throws(RegistryError) -> [String] {
        try withClient { (c) throws(RegistryError) in try c.tags() }
    }

    /// Copies an image (by tag or digest) from another repository of the same registry under `tags`: blobs
    /// mounted (or, when the registry will not, downloaded and uploaded), the manifest put by digest, then the
    /// tags. Nothing is rebuilt or recompressed: the digest stays. `scratch` holds downloads.
    public func copy(_ reference: String, from source: RegistryStore, tags: [String], scratch: String) throws(RegistryError) -> Digest {
        guard let manifest = try source.manifest(reference) else {
            throw RegistryError(method: "GET", path: "/v2/\(source.repository.name)/manifests/\(reference)", status: 404, code: "MANIFEST_UNKNOWN", message: "not published", hint: "publish it first")
        }
        let mediaType = MediaTypeProbe.of(manifest) ?? MediaType.manifest
        let parsed = try? Manifest.decode(manifest)
        let descriptors = (parsed.map { [$0.config] + $0.layers }) ?? []
        for d in descriptors {
            try withClient { (c) throws(RegistryError) in
                if try c.blobSize(d.digest, scopes: c.pushScopes) != nil { return }
                if try c.mount(d.digest, from: source.repository.name) { return }
                let file = scratch + "/" + d.digest.hex
                try source.fetch(d.digest, to: file)
                defer { unlink(file) }
                _ = try c.pushBlob(d.digest, size: d.size, from: .file(path: file, offset: 0, length: d.size))
            }
        }
        let image = ImageContent(blobs: [], manifest: manifest, mediaType: mediaType)
        try putManifest(image)
        for tag in tags {
            _ = try withClient { (c) throws(RegistryError) in try c.putManifest(manifest, mediaType: mediaType, reference: tag) }
        }
        return image.digest
    }

    public func fetch(_ digest: Digest, to path: String) throws(RegistryError) {
        try withClient { (c) throws(RegistryError) in try c.downloadBlob(digest, to: path) }
    }
}
