internal import CArchive
internal import Crypto
import CosciModel
internal import Glibc

/// Reads an archive of any format and compression libarchive knows, entry by entry. Owns its libarchive handle
/// and a reusable 1 MiB buffer; not thread-safe.
final class TarReader {
    let path: String
    private let handle: ArchiveHandle
    private let buffer: UnsafeMutableRawBufferPointer

    /// Opens `path` for reading.
    init(path: String) throws(ArchiveError) {
        self.path = path
        handle = try ArchiveHandle(archive_read_new(), writer: false, function: "archive_read_new", subject: path)
        buffer = .allocate(byteCount: 1 << 20, alignment: 64)
        try handle.check(archive_read_support_filter_all(handle.raw), "archive_read_support_filter_all", path)
        try handle.check(archive_read_support_format_all(handle.raw), "archive_read_support_format_all", path)
        let rc = archive_read_open_filename(handle.raw, path, buffer.count)
        let code = archive_errno(handle.raw)
        if rc < ARCHIVE_WARN, [ENOENT, EACCES, EISDIR, ENOTDIR, ELOOP, ENAMETOOLONG].contains(code) {
            throw systemError("open", path, code)  // libarchive's message ("Failed to open '…'") leaves out why
        }
        try handle.check(rc, "archive_read_open_filename", path)
    }

    deinit { buffer.deallocate() }

    /// Calls `body` with each entry header (borrowed: valid only during the call) until it returns false or the
    /// archive ends. Content `body` does not read is skipped.
    func forEachEntry(_ body: (OpaquePointer) throws(ArchiveError) -> Bool) throws(ArchiveError) {
        while true {
            var entry: OpaquePointer?
            let rc = archive_read_next_header(handle.raw, &entry)
            if rc == ARCHIVE_EOF { return }
            try handle.check(rc, "archive_read_next_header", path)
            guard let entry, try body(entry) else { return }
        }
    }

    /// The SHA-256 hex of the current entry's content (holes of sparse files read as zeros).
    func contentDigest(_ subject: String) throws(ArchiveError) -> String {
        var hasher = SHA256()
        try readContent(subject) { hasher.update(bufferPointer: $0) }
        return Hex.encode(hasher.finalize())
    }

    /// The current entry's content.
    func content(_ subject: String) throws(ArchiveError) -> [UInt8] {
        var bytes: [UInt8] = []
        try readContent(subject) { bytes.append(contentsOf: $0) }
        return bytes
    }

    private func readContent(_ subject: String, _ consume: (UnsafeRawBufferPointer) -> Void) throws(ArchiveError) {
        while true {
            let n = try handle.check(count: archive_read_data(handle.raw, buffer.baseAddress, buffer.count), "archive_read_data", subject)
            if n == 0 { return }
            consume(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }

    /// Copies the current entry's content to a disk writer block by block (keeping holes of sparse files).
    func copyContent(to disk: ArchiveHandle, _ subject: String) throws(ArchiveError) {
        while true {
            var block: UnsafeRawPointer?
            var size = 0
            var offset: la_int64_t = 0
            let rc = archive_read_data_block(handle.raw, &block, &size, &offset)
            if rc == ARCHIVE_EOF { return }
            try handle.check(rc, "archive_read_data_block", subject)
            let written = archive_write_data_block(disk.raw, block, size, offset)
            try disk.check(Int32(clamping: written), "archive_write_data_block", subject)
        }
    }
}

@available(*, unavailable) extension TarReader: Sendable {}

/// An entry's path as stored, split into components; empty and `.` components (a leading `./`, a trailing `/`,
/// doubled slashes) are dropped, `..` is kept so that it can be refused. Bytes, not `String`: what is checked is
/// exactly what is written to disk.
struct EntryPath: Equatable {
    let isAbsolute: Bool
    let components: [[UInt8]]

    init(_ cString: UnsafePointer<CChar>) {
        let bytes = UnsafeRawBufferPointer(start: cString, count: strlen(cString))
        isAbsolute = bytes.first == UInt8(ascii: "/")
        components = bytes.split(separator: UInt8(ascii: "/")).map(Array.init).filter { $0 != [UInt8(ascii: ".")] }
    }

    /// The entry names the archive's root (`./`).
    var isRoot: Bool { components.isEmpty && !isAbsolute }
    var hasParentReference: Bool { components.contains([UInt8(ascii: "."), UInt8(ascii: ".")]) }

    /// The first `count` components joined with `/` (no leading slash).
    func prefix(_ count: Int) -> [UInt8] {
        Array(components.prefix(count).joined(separator: [UInt8(ascii: "/")]))
    }

    var relativeBytes: [UInt8] { prefix(components.count) }

    /// For listings and messages (invalid UTF-8 shown as U+FFFD).
    var text: String { (isAbsolute ? "/" : "") + String(decoding: relativeBytes, as: UTF8.self) }
}

/// An entry header as an `ArchiveEntryInfo`.
func entryInfo(_ entry: OpaquePointer, kind: EntryKind, path: EntryPath, digest: String?) -> ArchiveEntryInfo {
    let link: String? =
        switch kind {
        case .symlink: archive_entry_symlink(entry).map { String(cString: $0) }
        case .hardlink: archive_entry_hardlink(entry).map { EntryPath($0).text }
        default: nil
        }
    return ArchiveEntryInfo(
        path: path.text, kind: kind, mode: UInt32(archive_entry_perm(entry)) & 0o7777, uid: archive_entry_uid(entry),
        gid: archive_entry_gid(entry), size: kind == .file ? archive_entry_size(entry) : 0,
        mtime: Int64(archive_entry_mtime(entry)), linkTarget: link, contentDigest: digest)
}
