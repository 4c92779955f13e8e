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

/// Why bytes are not the OCI document they should be.
public struct ImageFormatError: Error, Sendable, CustomStringConvertible {
    public let description: String

    init(_ what: String, _ error: any Error) {
        var detail = "not JSON"
        switch error as? DecodingError {
        case .keyNotFound(let key, let c)?: detail = "missing \((c.codingPath + [key]).map(\.stringValue).joined(separator: "."))"
        case .typeMismatch(_, let c)?, .valueNotFound(_, let c)?, .dataCorrupted(let c)?:
            detail = c.codingPath.isEmpty ? "not JSON" : "\(c.codingPath.map(\.stringValue).joined(separator: ".")): \(c.debugDescription)"
        default: break
        }
        description = "invalid \(what): \(detail)"
    }
}

extension Decodable {
    /// Decodes an OCI document; `what` names it in the error.
    static func decodeOCI(_ bytes: some Collection<UInt8>, what: String) throws(ImageFormatError) -> Self {
        do { return try JSONDecoder().decode(Self.self, from: Data(bytes)) } catch { throw ImageFormatError(what, error) }
    }
}

/// A content descriptor.
public struct Descriptor: Sendable, Hashable, Codable {
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

    enum CodingKeys: String, CodingKey { case mediaType, digest, size, annotations }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mediaType = try c.decode(String.self, forKey: .mediaType)
        digest = try c.decode(Digest.self, forKey: .digest)
        size = try c.decode(Int64.self, forKey: .size)
        annotations = try c.decodeIfPresent([String: String].self, forKey: .annotations) ?? [:]
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(mediaType, forKey: .mediaType)
        try c.encode(digest, forKey: .digest)
        try c.encode(size, forKey: .size)
        if !annotations.isEmpty { try c.encode(annotations, forKey: .annotations) }
    }

    /// The descriptor as a canonical-JSON value (annotations only when there are some).
    public var value: Value {
        var m: [String: Value] = [
            "mediaType": .string(mediaType), "digest": .string(digest.description), "size": .int(Int(size)),
        ]
        if !annotations.isEmpty { m["annotations"] = .map(annotations.mapValues(Value.string)) }
        return .map(m)
    }
}

/// An image manifest (`application/vnd.oci.image.manifest.v1+json`).
public struct Manifest: Sendable, Codable {
    public var schemaVersion = 2
    public var mediaType: String? = MediaType.manifest
    public var config: Descriptor
    public var layers: [Descriptor]
    public var annotations: [String: String]?

    public init(config: Descriptor, layers: [Descriptor], annotations: [String: String] = [:]) {
        self.config = config
        self.layers = layers
        self.annotations = annotations.isEmpty ? nil : annotations
    }

    /// Reads a manifest.
    public static func decode(_ bytes: some Collection<UInt8>) throws(ImageFormatError) -> Manifest {
        try decodeOCI(bytes, what: "image manifest")
    }

    /// The canonical JSON cosci writes (sorted keys, no whitespace): the same manifest, the same bytes.
    public var json: [UInt8] {
        var m: [String: Value] = [
            "schemaVersion": .int(schemaVersion), "config": config.value, "layers": .list(layers.map(\.value)),
        ]
        if let mediaType { m["mediaType"] = .string(mediaType) }
        if let annotations, !annotations.isEmpty { m["annotations"] = .map(annotations.mapValues(Value.string)) }
        return Array(CanonicalJSON.encode(.map(m)).utf8)
    }
}

/// A platform, as an image index names it.
public struct IndexPlatform: Sendable, Codable, Equatable {
    public var os: String
    public var architecture: String
    public var variant: String?

    public init(_ platform: Platform) {
        os = platform.os
        architecture = platform.architecture
        variant = platform.variant
    }

    /// Whether this is `platform` (a variant is compared only when both name one).
    public func matches(_ platform: Platform) -> Bool {
        os == platform.os && architecture == platform.architecture
            && (variant == nil || platform.variant == nil || variant == platform.variant)
    }
}

/// An image index (`application/vnd.oci.image.index.v1+json`), also an OCI layout's `index.json`.
public struct ImageIndex: Sendable, Codable {
    /// A manifest of the index, with its platform when it is one image of a multi-arch index.
    public struct Entry: Sendable, Codable {
        public var descriptor: Descriptor
        public var platform: IndexPlatform?

        public init(_ descriptor: Descriptor, platform: IndexPlatform? = nil) {
            self.descriptor = descriptor
            self.platform = platform
        }

        enum CodingKeys: String, CodingKey { case platform }

        public init(from decoder: Decoder) throws {
            descriptor = try Descriptor(from: decoder)
            platform = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(IndexPlatform.self, forKey: .platform)
        }

        public func encode(to encoder: Encoder) throws {
            try descriptor.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encodeIfPresent(platform, forKey: .platform)
        }

        var value: Value {
            var d = descriptor.value.mapValue ?? [:]
            if let platform {
                var p: [String: Value] = ["os": .string(platform.os), "architecture": .string(platform.architecture)]
                if let v = platform.variant { p["variant"] = .string(v) }
                d["platform"] = .map(p)
            }
            return .map(d)
        }
    }

    public var schemaVersion = 2
    public var mediaType: String?
    public var manifests: [Entry]
    public var annotations: [String: String]?
    /// Whether the document had `layers` (a manifest read as an index by mistake).
    private var layers: [Descriptor]?

    public init(manifests: [Entry], mediaType: String? = MediaType.index, annotations: [String: String] = [:]) {
        self.manifests = manifests
        self.mediaType = mediaType
        self.annotations = annotations.isEmpty ? nil : annotations
    }

    /// Reads an index; a manifest (a document with `layers`) is not one.
    public static func decode(_ bytes: some Collection<UInt8>) throws(ImageFormatError) -> ImageIndex {
        let index: ImageIndex = try decodeOCI(bytes, what: "image index")
        guard index.layers == nil else {
            throw ImageFormatError("image index", DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "a manifest")))
        }
        return index
    }

    /// The canonical JSON cosci writes.
    public var json: [UInt8] {
        var m: [String: Value] = ["schemaVersion": .int(schemaVersion), "manifests": .list(manifests.map(\.value))]
        if let mediaType { m["mediaType"] = .string(mediaType) }
        if let annotations, !annotations.isEmpty { m["annotations"] = .map(annotations.mapValues(Value.string)) }
        return Array(CanonicalJSON.encode(.map(m)).utf8)
    }
}

/// An image configuration as cosci writes it: platform, creation time from the epoch, the layers' diff ids,
/// a history entry per layer (builders that add layers on top, podman's among them, want one), labels.
public struct ImageConfig: Sendable, Codable {
    public struct RootFS: Sendable, Codable {
        public var type = "layers"
        public var diff_ids: [Digest]
    }

    public struct History: Sendable, Codable {
        public var created: String
        public var created_by: String
    }

    public struct Settings: Sendable, Codable {
        public var Labels: [String: String]?
    }

    public var architecture: String
    public var os: String
    public var variant: String?
    public var created: String?
    public var rootfs: RootFS
    public var history: [History]?
    public var config: Settings?

    public init(platform: Platform, epoch: Int64, layers: [(diffID: Digest, createdBy: String)], labels: [String: String]) {
        let created = ImageConfig.timestamp(epoch)
        architecture = platform.architecture
        os = platform.os
        variant = platform.variant
        self.created = created
        rootfs = RootFS(diff_ids: layers.map(\.diffID))
        history = layers.map { History(created: created, created_by: $0.createdBy) }
        config = Settings(Labels: labels.isEmpty ? nil : labels)
    }

    /// Reads an image configuration.
    public static func decode(_ bytes: some Collection<UInt8>) throws(ImageFormatError) -> ImageConfig {
        try decodeOCI(bytes, what: "image configuration")
    }

    /// RFC 3339 UTC time of an epoch.
    public static func timestamp(_ epoch: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(epoch)))
    }

    /// The canonical JSON cosci writes.
    public var json: [UInt8] {
        var m: [String: Value] = [
            "architecture": .string(architecture), "os": .string(os),
            "rootfs": .map(["type": .string(rootfs.type), "diff_ids": .list(rootfs.diff_ids.map { .string($0.description) })]),
        ]
        if let created { m["created"] = .string(created) }
        if let history { m["history"] = .list(history.map { .map(["created": .string($0.created), "created_by": .string($0.created_by)]) }) }
        if let config { m["config"] = .map(config.Labels.map { ["Labels": .map($0.mapValues(Value.string))] } ?? [:]) }
        if let variant { m["variant"] = .string(variant) }
        return Array(CanonicalJSON.encode(.map(m)).utf8)
    }
}

/// The media type a manifest or index says it is (manifests of older writers may not say).
public struct MediaTypeProbe: Decodable {
    public let mediaType: String?

    /// The document's `mediaType`; nil when it has none or is not JSON.
    public static func of(_ bytes: some Collection<UInt8>) -> String? {
        (try? JSONDecoder().decode(MediaTypeProbe.self, from: Data(bytes)))?.mediaType
    }
}
