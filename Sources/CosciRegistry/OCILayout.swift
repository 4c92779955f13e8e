#if canImport(Glibc)
    import Glibc
#endif
import CosciFiles
import CosciImage
import CosciModel
import Foundation

/// An OCI image layout directory: `oci-layout`, `index.json` (one entry per tag, annotated
/// `org.opencontainers.image.ref.name`, sorted by tag), `blobs/sha256/<hex>`. Blobs are written to a temporary
/// file and renamed (a blob file always has its digest); `index.json` likewise, and last.
public struct OCILayout: Sendable {
    public let path: String
    static let refName = "org.opencontainers.image.ref.name"

    /// Opens (creating when missing) a layout.
    public init(path: String) throws(RegistryError) {
        self.path = path
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: path + "/blobs/sha256", withIntermediateDirectories: true)
            if !fm.fileExists(atPath: path + "/oci-layout") {
                try Self.atomicWrite(path + "/oci-layout", Array("{\"imageLayoutVersion\":\"1.0.0\"}".utf8))
            }
            if !fm.fileExists(atPath: path + "/index.json") {
                try Self.atomicWrite(path + "/index.json", Self.indexBytes([]))
            }
        } catch {
            throw Self.error("cannot create the OCI layout \(path): \(error)")
        }
    }

    static func error(_ message: String) -> RegistryError {
        RegistryError(method: "WRITE", path: "oci-layout", status: nil, code: nil, message: message, hint: nil)
    }

    public func blobPath(_ digest: Digest) -> String { "\(path)/blobs/sha256/\(digest.hex)" }

    public func hasBlob(_ digest: Digest) -> Bool {
        var st = stat()
        return stat(blobPath(digest), &st) == 0
    }

    /// Stores a blob unless present, verified on the way: the bytes written must have the descriptor's size and
    /// digest, so a file named by a digest always has it. Returns the bytes written (0 when it was there).
    @discardableResult
    public func put(_ blob: Blob) throws(RegistryError) -> Int64 {
        let target = blobPath(blob.descriptor.digest)
        if hasBlob(blob.descriptor.digest) { return 0 }
        let tmp = AtomicFile.temporaryPath(for: target)
        guard let out = FileHandle(forWritingAtPath: tmp) ?? {
            FileManager.default.createFile(atPath: tmp, contents: nil) ? FileHandle(forWritingAtPath: tmp) : nil
        }() else {
            throw Self.error("cannot write \(tmp): \(String(cString: strerror(errno)))")
        }
        var hasher = StreamingDigest()
        var written: Int64 = 0
        let source: String
        do {
            func emit(_ data: Data) throws {
                hasher.update(data)
                written += Int64(data.count)
                try out.write(contentsOf: data)
            }
            switch blob.body {
            case .bytes(let b):
                source = "generated content"
                try emit(Data(b))
            case .file(let p, let offset, let length):
                source = offset == 0 ? p : "\(p) at offset \(offset)"
                guard let input = FileHandle(forReadingAtPath: p) else {
                    throw Self.error("cannot read \(p): \(String(cString: strerror(errno)))")
                }
                defer { try? input.close() }
                try input.seek(toOffset: UInt64(offset))
                var remaining = length
                while remaining > 0, let data = try input.read(upToCount: Int(min(remaining, 1 << 20))), !data.isEmpty {
                    try emit(data)
                    remaining -= Int64(data.count)
                }
            case .none:
                source = "an empty body"
            }
            try out.close()
        } catch let e as RegistryError {
            try? out.close()
            unlink(tmp)
            throw e
        } catch {
            try? out.close()
            unlink(tmp)
            throw Self.error("cannot write \(target): \(error)")
        }
        let digest = hasher.finalize()
        guard written == blob.descriptor.size, digest == blob.descriptor.digest else {
            unlink(tmp)
            throw Self.error(
                "the blob from \(source) is \(written) bytes with digest \(digest), but its descriptor says \(blob.descriptor.size) bytes with digest \(blob.descriptor.digest); nothing was stored (the source changed or is damaged: build or fetch it again)")
        }
        guard rename(tmp, target) == 0 else {
            unlink(tmp)
            throw Self.error("cannot write \(target): \(String(cString: strerror(errno)))")
        }
        return blob.descriptor.size
    }

    /// The manifest descriptors by tag.
    public func tags() throws(RegistryError) -> [String: Descriptor] {
        guard let data = FileManager.default.contents(atPath: path + "/index.json") else {
            throw Self.error("\(path)/index.json is missing")
        }
        let index: ImageIndex
        do { index = try ImageIndex.decode(Array(data)) } catch { throw Self.error("\(path)/index.json: \(error)") }
        var out: [String: Descriptor] = [:]
        for entry in index.manifests {
            guard let tag = entry.descriptor.annotations[Self.refName] else { continue }
            out[tag] = entry.descriptor
        }
        return out
    }

    /// Points tags at manifests (already stored as blobs), rewriting `index.json` atomically.
    public func setTags(_ new: [String: Descriptor]) throws(RegistryError) {
        var all = try tags()
        for (tag, d) in new {
            var a = d.annotations
            a[Self.refName] = tag
            all[tag] = Descriptor(mediaType: d.mediaType, digest: d.digest, size: d.size, annotations: a)
        }
        let sorted = all.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map(\.value)
        do { try Self.atomicWrite(path + "/index.json", Self.indexBytes(sorted)) } catch {
            throw Self.error("cannot write \(path)/index.json: \(error)")
        }
    }

    /// The bytes of a stored blob.
    public func read(_ digest: Digest) -> [UInt8]? {
        FileManager.default.contents(atPath: blobPath(digest)).map { [UInt8]($0) }
    }

    static func indexBytes(_ manifests: [Descriptor]) -> [UInt8] {
        ImageIndex(manifests: manifests.map { ImageIndex.Entry($0) }).json
    }

    static func atomicWrite(_ path: String, _ bytes: [UInt8]) throws {
        try AtomicFile.write(path, bytes)
    }
}
