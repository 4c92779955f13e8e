import CosciImage
import CosciModel
import Foundation

/// A blob to push: its descriptor and where its bytes are.
public struct Blob: Sendable {
    public let descriptor: Descriptor
    public let body: HTTPRequest.Body

    public init(descriptor: Descriptor, body: HTTPRequest.Body) {
        self.descriptor = descriptor
        self.body = body
    }

    /// A blob held in memory.
    public init(mediaType: String, bytes: [UInt8]) {
        descriptor = Descriptor(mediaType: mediaType, digest: .sha256(of: bytes), size: Int64(bytes.count))
        body = .bytes(bytes)
    }
}

/// A single-manifest image ready to push: its blobs (config and layers) and the manifest bytes.
public struct ImageContent: Sendable {
    public let blobs: [Blob]
    public let manifest: [UInt8]
    public let mediaType: String

    public var digest: Digest { .sha256(of: manifest) }
    public var descriptor: Descriptor {
        Descriptor(mediaType: mediaType, digest: digest, size: Int64(manifest.count))
    }
}

/// Deterministic image JSON: canonical (sorted keys, no whitespace), `created` from the epoch, no host data.
public enum ImageJSON {
    /// A one-layer (or several-layer) image: config with `rootfs.diff_ids` and a history entry per layer, and
    /// its manifest.
    public static func image(
        layers: [(layer: Blob, diffID: Digest, createdBy: String)], platform: Platform, epoch: Int64,
        labels: [String: String], annotations: [String: String]
    ) -> ImageContent {
        let config = ImageConfig(
            platform: platform, epoch: epoch, layers: layers.map { ($0.diffID, $0.createdBy) }, labels: labels)
        let configBlob = Blob(mediaType: MediaType.config, bytes: config.json)
        return manifest(config: configBlob, layers: layers.map(\.layer), annotations: annotations)
    }

    /// A manifest over a config and layers.
    public static func manifest(config: Blob, layers: [Blob], annotations: [String: String]) -> ImageContent {
        let m = Manifest(config: config.descriptor, layers: layers.map(\.descriptor), annotations: annotations)
        return ImageContent(blobs: [config] + layers, manifest: m.json, mediaType: MediaType.manifest)
    }

    /// A multi-arch index over per-platform images (which must be stored first).
    public static func index(_ images: [(platform: Platform, image: ImageContent)], annotations: [String: String]) -> ImageContent {
        let index = ImageIndex(
            manifests: images.map { .init($0.image.descriptor, platform: IndexPlatform($0.platform)) }, annotations: annotations)
        return ImageContent(blobs: [], manifest: index.json, mediaType: MediaType.index)
    }
}
