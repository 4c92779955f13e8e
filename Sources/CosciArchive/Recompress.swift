internal import CArchive
import CosciModel
internal import struct Crypto.SHA256
internal import Glibc

/// A compressed stream with its digests: what an OCI layer descriptor and its `diff_id` need.
public struct RecompressResult: Sendable {
    /// SHA-256 of the output file (the layer digest).
    public let digest: Digest
    public let size: Int64
    /// SHA-256 of the uncompressed stream (the layer's `diff_id`).
    public let uncompressedDigest: Digest

    public init(digest: Digest, size: Int64, uncompressedDigest: Digest) {
        self.digest = digest
        self.size = size
        self.uncompressedDigest = uncompressedDigest
    }
}

extension TarArchive {
    /// Rewrites a compressed tar (any compression libarchive reads) with another compression, the tar bytes
    /// unchanged: how an artifact becomes an OCI layer (gzip level 6, no timestamp). Written to a temp file
    /// beside `output` and renamed.
    public static func recompress(
        _ path: String, to output: String, compression: Compression
    ) throws(ArchiveError) -> RecompressResult {
        let reader = try rawReader(path)

        let tmp = output + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let writer = try ArchiveHandle(archive_write_new(), writer: true, function: "archive_write_new", subject: output)
        switch compression {
        case .gzip:
            try writer.check(archive_write_add_filter_gzip(writer.raw), "archive_write_add_filter_gzip", output)
            try writer.setFilterOption("gzip", "timestamp", nil, subject: output)
            try writer.setFilterOption("gzip", "compression-level", "6", subject: output)
        case .zstd:
            try writer.check(archive_write_add_filter_zstd(writer.raw), "archive_write_add_filter_zstd", output)
            try writer.setFilterOption("zstd", "compression-level", "3", subject: output)
            try writer.setFilterOption("zstd", "threads", String(TarWriter.zstdWorkers(nil)), subject: output)
        case .none:
            break
        }
        try writer.check(archive_write_set_format_raw(writer.raw), "archive_write_set_format_raw", output)
        try writer.check(archive_write_set_bytes_in_last_block(writer.raw, 1), "archive_write_set_bytes_in_last_block", output)
        try writer.check(archive_write_open_filename(writer.raw, tmp), "archive_write_open_filename", output)
        var ok = false
        defer { if !ok { unlink(tmp) } }
        let out = archive_entry_new()
        defer { archive_entry_free(out) }
        archive_entry_set_filetype(out, CARCHIVE_AE_IFREG)
        archive_entry_set_pathname(out, "layer")
        try writer.check(archive_write_header(writer.raw, out), "archive_write_header", output)

        var raw = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        try forEachBlock(reader, path, &buffer) { (block) throws(ArchiveError) in
            raw.update(bufferPointer: block)
            try writer.check(count: archive_write_data(writer.raw, block.baseAddress, block.count), "archive_write_data", output)
        }
        try writer.close(output)

        // Hash what was written.
        guard let file = fopen(tmp, "rb") else {
            throw ArchiveError(kind: .system, operation: "fopen", subject: tmp, message: String(cString: strerror(errno)), code: errno)
        }
        var compressed = SHA256()
        var size: Int64 = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if n == 0 { break }
            size += Int64(n)
            buffer.withUnsafeBytes { compressed.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        fclose(file)
        guard rename(tmp, output) == 0 else {
            throw ArchiveError(kind: .system, operation: "rename", subject: output, message: String(cString: strerror(errno)), code: errno)
        }
        ok = true
        return RecompressResult(digest: Digest(compressed.finalize()), size: size, uncompressedDigest: Digest(raw.finalize()))
    }
}

extension TarArchive {
    /// SHA-256 of the decompressed stream of a compressed file (an OCI layer's `diff_id`).
    public static func uncompressedDigest(_ path: String) throws(ArchiveError) -> Digest {
        let reader = try rawReader(path)
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        try forEachBlock(reader, path, &buffer) { (block) throws(ArchiveError) in hasher.update(bufferPointer: block) }
        return Digest(hasher.finalize())
    }

    /// A reader of a file's decompressed bytes (any compression libarchive reads), positioned at the data.
    static func rawReader(_ path: String) throws(ArchiveError) -> ArchiveHandle {
        let reader = try ArchiveHandle(archive_read_new(), writer: false, function: "archive_read_new", subject: path)
        try reader.check(archive_read_support_filter_all(reader.raw), "archive_read_support_filter_all", path)
        try reader.check(archive_read_support_format_raw(reader.raw), "archive_read_support_format_raw", path)
        try reader.check(archive_read_open_filename(reader.raw, path, 1 << 20), "archive_read_open_filename", path)
        var entry: OpaquePointer?
        try reader.check(archive_read_next_header(reader.raw, &entry), "archive_read_next_header", path)
        return reader
    }

    /// Reads the decompressed bytes block by block into `buffer`, handing each block to `body`.
    static func forEachBlock(
        _ reader: ArchiveHandle, _ path: String, _ buffer: inout [UInt8],
        _ body: (UnsafeRawBufferPointer) throws(ArchiveError) -> Void
    ) throws(ArchiveError) {
        while true {
            let read = buffer.withUnsafeMutableBytes { archive_read_data(reader.raw, $0.baseAddress, $0.count) }
            let n = try reader.check(count: read, "archive_read_data", path)
            if n == 0 { return }
            var failure: ArchiveError?
            buffer.withUnsafeBytes { all in
                do throws(ArchiveError) { try body(UnsafeRawBufferPointer(rebasing: all[0..<n])) } catch { failure = error }
            }
            if let failure { throw failure }
        }
    }
}
