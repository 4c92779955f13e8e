/// A package's cache key (scheme `cosci-key/1`, DESIGN §5): what names its artifact in every cache tier.
///
/// It is spelled like a digest (`sha256:<hex>`) but it is not the checksum of any file: an artifact's sha256
/// is a `Digest`, its key a `CacheKey`, and the type system keeps the two apart. The one place a checksum
/// becomes a key is an upstream package's stand-in key, derived from its published artifact's sha256.
public struct CacheKey: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    /// The key's value, as a digest of the framed inputs.
    public let digest: Digest

    /// A key from the digest of its framed inputs (the planner's key computation).
    public init(_ digest: Digest) {
        self.digest = digest
    }

    /// A key from its 64 lowercase hex digits (how caches name files and tags).
    public init(hex: String) throws(Digest.ParseError) {
        digest = try Digest(hex: hex)
    }

    /// A key from `sha256:<hex>` (how reports and plan documents write it).
    public init(parsing text: String) throws(Digest.ParseError) {
        digest = try Digest(parsing: text)
    }

    /// The 64 lowercase hex digits.
    public var hex: String { digest.hex }

    /// `sha256:<hex>`.
    public var description: String { digest.description }

    public static func < (a: CacheKey, b: CacheKey) -> Bool { a.digest < b.digest }

    public init(from decoder: Decoder) throws {
        digest = try Digest(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        try digest.encode(to: encoder)
    }
}
