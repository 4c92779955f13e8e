import CosciModel
import Foundation

/// OCI media types cosci writes and reads.
public enum MediaType {
    public static let manifest = "application/vnd.oci.image.manifest.v1+json"
    public static let index = "application/vnd.oci.image.index.v1+json"
    public static let config = "application/vnd.oci.image.config.v1+json"
    public static let layerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
    /// A cache entry's artifact (stored as built, byte for byte) and its metadata.
    public static let cosciArtifact = "application/vnd.cosci.artifact.v1.tar"
    public static let cosciMetadata = "application/vnd.cosci.artifact.metadata.v1+yaml"
    /// A change-detection summary in a shared cache, and its (empty) config.
    public static let cosciSummary = "application/vnd.cosci.summary.v1"
    public static let cosciSummaryConfig = "application/vnd.cosci.summary.config.v1+json"
}

/// A content descriptor.
public struct Descriptor: Sendable, Hashable {
    public let mediaType: String
    public let digest: Digest
    public let size: Int64
    public var annotations: [String: String] = [:]

    public init(mediaType: String, digest: Digest, size: Int64, annotations: [String: String] = [:]) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.annotations = annotations
    }

    var value: Value {
        var m: [String: Value] = [
            "mediaType": .string(mediaType), "digest": .string(digest.description), "size": .int(Int(size)),
        ]
        if !annotations.isEmpty { m["annotations"] = .map(annotations.mapValues(Value.string)) }
        return .map(m)
    }
}

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
    /// RFC 3339 UTC time of an epoch.
    public static func timestamp(_ epoch: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(epoch)))
    }

    /// A one-layer (or several-layer) image: config with `rootfs.diff_ids` and a history entry per layer
    /// (builders that add layers on top, podman's among them, want one), and its manifest.
    public static func image(
        layers: [(layer: Blob, diffID: Digest, createdBy: String)], platform: Platform, epoch: Int64,
        labels: [String: String], annotations: [String: String]
    ) -> ImageContent {
        let created = timestamp(epoch)
        var config: [String: Value] = [
            "architecture": .string(platform.architecture),
            "os": .string(platform.os),
            "created": .string(created),
            "rootfs": .map(["type": .string("layers"), "diff_ids": .list(layers.map { .string($0.diffID.description) })]),
            "history": .list(layers.map { .map(["created": .string(created), "created_by": .string($0.createdBy)]) }),
            "config": .map(labels.isEmpty ? [:] : ["Labels": .map(labels.mapValues(Value.string))]),
        ]
        if let v = platform.variant { config["variant"] = .string(v) }
        let configBlob = Blob(mediaType: MediaType.config, bytes: Array(CanonicalJSON.encode(.map(config)).utf8))
        return manifest(config: configBlob, layers: layers.map(\.layer), annotations: annotations)
    }

    /// A manifest over a config and layers.
    public static func manifest(config: Blob, layers: [Blob], annotations: [String: String]) -> ImageContent {
        var m: [String: Value] = [
            "schemaVersion": .int(2),
            "mediaType": .string(MediaType.manifest),
            "config": config.descriptor.value,
            "layers": .list(layers.map(\.descriptor.value)),
        ]
        if !annotations.isEmpty { m["annotations"] = .map(annotations.mapValues(Value.string)) }
        return ImageContent(
            blobs: [config] + layers, manifest: Array(CanonicalJSON.encode(.map(m)).utf8), mediaType: MediaType.manifest)
    }

    /// A multi-arch index over per-platform images (which must be stored first).
    public static func index(_ images: [(platform: Platform, image: ImageContent)], annotations: [String: String]) -> ImageContent {
        let manifests: [Value] = images.map { entry in
            var p: [String: Value] = ["os": .string(entry.platform.os), "architecture": .string(entry.platform.architecture)]
            if let v = entry.platform.variant { p["variant"] = .string(v) }
            var d = entry.image.descriptor.value.mapValue ?? [:]
            d["platform"] = .map(p)
            return .map(d)
        }
        var m: [String: Value] = ["schemaVersion": .int(2), "mediaType": .string(MediaType.index), "manifests": .list(manifests)]
        if !annotations.isEmpty { m["annotations"] = .map(annotations.mapValues(Value.string)) }
        return ImageContent(blobs: [], manifest: Array(CanonicalJSON.encode(.map(m)).utf8), mediaType: MediaType.index)
    }

    /// The annotations of a manifest (to read back cosci's key from a published image).
    public static func annotations(ofManifest bytes: [UInt8]) -> [String: String] {
        guard let doc = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { return [:] }
        return (doc["annotations"] as? [String: String]) ?? [:]
    }

    /// The layer descriptors of a manifest.
    public static func layers(ofManifest bytes: [UInt8]) -> [Descriptor] {
        guard let doc = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { return [] }
        return ((doc["layers"] as? [[String: Any]]) ?? []).compactMap(descriptor)
    }

    /// The config descriptor of a manifest.
    public static func config(ofManifest bytes: [UInt8]) -> Descriptor? {
        guard let doc = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
            let c = doc["config"] as? [String: Any]
        else { return nil }
        return descriptor(c)
    }

    static func descriptor(_ d: [String: Any]) -> Descriptor? {
        guard let mt = d["mediaType"] as? String, let dt = d["digest"] as? String, let digest = try? Digest(parsing: dt),
            let size = (d["size"] as? NSNumber)?.int64Value
        else { return nil }
        return Descriptor(mediaType: mt, digest: digest, size: size, annotations: (d["annotations"] as? [String: String]) ?? [:])
    }
}
