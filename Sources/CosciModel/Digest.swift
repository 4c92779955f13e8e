import Crypto
import Foundation

/// A content digest, `sha256:<64 lowercase hex>`. Validated on construction.
public struct Digest: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    /// The 64 lowercase hex characters.
    public let hex: String

    /// Why a string is not a digest.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let text: String
        public var description: String { "invalid digest \"\(text)\": expected sha256:<64 lowercase hex digits>" }
    }

    public init(parsing text: String) throws(ParseError) {
        guard text.hasPrefix("sha256:") else { throw ParseError(text: text) }
        do { try self.init(hex: String(text.dropFirst(7))) } catch { throw ParseError(text: text) }
    }

    /// A digest from its 64 lowercase hex digits alone (as caches store it).
    public init(hex: String) throws(ParseError) {
        guard hex.utf8.count == 64, hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw ParseError(text: hex)
        }
        self.hex = hex
    }

    /// A digest from its 32 bytes.
    public init<B: Collection>(rawBytes: B) where B.Element == UInt8 {
        precondition(rawBytes.count == 32, "a SHA-256 digest has 32 bytes")
        self.hex = Hex.encode(rawBytes)
    }

    /// The 32 bytes the hex digits spell.
    public var rawBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        var high: UInt8 = 0
        for (i, c) in hex.utf8.enumerated() {
            let nibble = c <= 0x39 ? c - 0x30 : c - 0x61 + 10
            if i % 2 == 0 { high = nibble } else { out.append(high << 4 | nibble) }
        }
        return out
    }

    /// The digest of a finished SHA-256.
    public init(_ digest: SHA256.Digest) {
        self.hex = Hex.encode(digest)
    }

    /// The SHA-256 of `bytes`.
    public static func sha256(of bytes: [UInt8]) -> Digest {
        var h = SHA256()
        h.update(data: bytes)
        return Digest(h.finalize())
    }

    /// The SHA-256 of a byte sequence.
    public static func sha256<B: Sequence>(of bytes: B) -> Digest where B.Element == UInt8 {
        var h = SHA256()
        h.update(data: Array(bytes))
        return Digest(h.finalize())
    }

    /// The SHA-256 of a file's bytes, read in 1 MiB blocks (never the whole file in memory); nil when it cannot be read.
    public static func sha256(ofFile path: String) -> Digest? {
        guard let h = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? h.close() }
        var hasher = SHA256()
        do {
            while let data = try h.read(upToCount: 1 << 20), !data.isEmpty { hasher.update(data: data) }
        } catch {
            return nil
        }
        return Digest(hasher.finalize())
    }

    public var description: String { "sha256:\(hex)" }

    public static func < (a: Digest, b: Digest) -> Bool { a.hex < b.hex }

    public init(from decoder: Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        do { self = try Digest(parsing: s) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// Lowercase hexadecimal encoding.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Encodes bytes as lowercase hex.
    public static func encode<B: Sequence>(_ bytes: B) -> String where B.Element == UInt8 {
        encode(Array(bytes))
    }

    /// Encodes bytes as lowercase hex.
    public static func encode<B: Collection>(_ bytes: B) -> String where B.Element == UInt8 {
        if let text = bytes.withContiguousStorageIfAvailable(encode(buffer:)) { return text }
        return Array(bytes).withUnsafeBufferPointer(encode(buffer:))
    }

    private static func encode(buffer: UnsafeBufferPointer<UInt8>) -> String {
        String(unsafeUninitializedCapacity: buffer.count * 2) { out in
            digits.withUnsafeBufferPointer { d in
                for (i, b) in buffer.enumerated() {
                    out[2 * i] = d[Int(b >> 4)]
                    out[2 * i + 1] = d[Int(b & 0x0F)]
                }
            }
            return buffer.count * 2
        }
    }
}

/// Length-framed SHA-256: every field is written as an 8-byte big-endian length followed by its bytes,
/// so no two different field sequences can produce the same byte stream (`["ab","c"]` ≠ `["a","bc"]`).
public struct FramedHasher {
    private var hasher = SHA256()

    public init() {}

    /// Adds one field.
    public mutating func add(_ field: String) {
        add(bytes: Array(field.utf8))
    }

    /// Adds one field of raw bytes.
    public mutating func add(bytes: [UInt8]) {
        var length = UInt64(bytes.count).bigEndian
        withUnsafeBytes(of: &length) { hasher.update(bufferPointer: $0) }
        hasher.update(data: bytes)
    }

    /// Adds a named field: the name, then the value, each framed.
    public mutating func add(_ name: String, _ value: String) {
        add(name)
        add(value)
    }

    /// Finishes and returns the digest.
    public func finalize() -> Digest { Digest(hasher.finalize()) }
}

/// A SHA-256 computed as bytes stream past (a blob being copied, a file being read in blocks).
public struct StreamingDigest {
    private var hasher = SHA256()

    public init() {}

    /// Adds the next bytes.
    public mutating func update<D: DataProtocol>(_ bytes: D) { hasher.update(data: bytes) }

    /// The digest of every byte added.
    public func finalize() -> Digest { Digest(hasher.finalize()) }
}
