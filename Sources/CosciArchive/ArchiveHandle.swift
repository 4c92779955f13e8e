internal import CArchive
internal import Glibc

/// Owns one `struct archive*` (a reader, a writer or a disk writer) and frees it in `deinit`. Not thread-safe,
/// so deliberately not `Sendable`: one per operation, used on one thread.
///
/// A writer's fallible end is `close()`, called explicitly; a writer dropped without it (an error path) is
/// marked failed first, so `archive_free` neither flushes nor writes the end of the archive.
final class ArchiveHandle {
    let raw: OpaquePointer
    private let isWriter: Bool
    private var closed = false

    /// Takes ownership of a fresh handle from `archive_read_new`, `archive_write_new` or `archive_write_disk_new`.
    init(_ raw: OpaquePointer?, writer: Bool, function: StaticString, subject: String) throws(ArchiveError) {
        guard let raw else {
            throw ArchiveError(kind: .system, operation: "\(function)", subject: subject, message: "out of memory", code: ENOMEM)
        }
        self.raw = raw
        self.isWriter = writer
    }

    deinit {
        if isWriter && !closed { archive_write_fail(raw) }
        archive_free(raw)
    }

    /// Checks a libarchive return code, reading libarchive's message for this handle at once. `ARCHIVE_WARN`
    /// counts as success (libarchive uses it for recoverable conditions such as a name stored as raw bytes).
    @discardableResult
    func check(_ rc: Int32, _ function: StaticString, _ subject: String) throws(ArchiveError) -> Int32 {
        guard rc < ARCHIVE_WARN else { return rc }
        throw libraryError(function, subject)
    }

    /// Checks a byte count returned by `archive_write_data`/`archive_read_data` (negative on error).
    @discardableResult
    func check(count: Int, _ function: StaticString, _ subject: String) throws(ArchiveError) -> Int {
        guard count < 0 else { return count }
        throw libraryError(function, subject)
    }

    /// Sets a filter or format option that must be understood (`ARCHIVE_OK`, not merely tolerated).
    func setFilterOption(_ module: String, _ key: String, _ value: String?, subject: String) throws(ArchiveError) {
        let rc = archive_write_set_filter_option(raw, module, key, value)
        guard rc == ARCHIVE_OK else {
            let e = libraryError("archive_write_set_filter_option", subject)
            throw ArchiveError(
                kind: .library, operation: e.operation, subject: e.subject,
                message: "\(module):\(key)=\(value ?? "(unset)"): \(e.message)", code: e.code,
                hint: "the linked libarchive (\(LibArchive.version)) lacks this option")
        }
    }

    /// Runs the writer's fallible end (`archive_write_close`): flushes compressors, writes the end of the archive
    /// or, for a disk writer, applies deferred directory permissions and times.
    func close(_ subject: String) throws(ArchiveError) {
        closed = true
        try check(archive_write_close(raw), "archive_write_close", subject)
    }

    private func libraryError(_ function: StaticString, _ subject: String) -> ArchiveError {
        let message = archive_error_string(raw).map { String(cString: $0) } ?? "unknown libarchive error"
        return ArchiveError(kind: .library, operation: "\(function)", subject: subject, message: message, code: archive_errno(raw))
    }
}

@available(*, unavailable) extension ArchiveHandle: Sendable {}

/// How libarchive converts entry names, pinned per thread with `uselocale` so that the process locale (`LANG`)
/// never changes an archive or a listing.
enum NameEncoding {
    /// Writing: names are UTF-8 and stored as such in pax headers (`LC_CTYPE` = C.UTF-8).
    case utf8
    /// Reading: names come out byte for byte as stored (`LC_CTYPE` = C). In a UTF-8 locale libarchive would
    /// normalize them to NFC, merging `café` spelled in NFD into the NFC spelling, a different file.
    case verbatim
}

/// Runs `body` with libarchive's name conversion pinned (`uselocale` is per thread; `body` must not suspend).
func withNames<T>(_ encoding: NameEncoding, _ body: () throws(ArchiveError) -> T) throws(ArchiveError) -> T {
    guard let locale = newlocale(LC_CTYPE_MASK, encoding == .utf8 ? "C.UTF-8" : "C", nil) else { return try body() }
    let previous = uselocale(locale)
    defer {
        uselocale(previous)
        freelocale(locale)
    }
    return try body()
}

/// libarchive's file type for an entry kind (a hardlink is a regular file with a link name).
func archiveFileType(_ kind: EntryKind) -> UInt32 {
    switch kind {
    case .file, .hardlink: CARCHIVE_AE_IFREG
    case .directory: CARCHIVE_AE_IFDIR
    case .symlink: CARCHIVE_AE_IFLNK
    case .fifo: CARCHIVE_AE_IFIFO
    case .characterDevice: CARCHIVE_AE_IFCHR
    case .blockDevice: CARCHIVE_AE_IFBLK
    }
}

/// The kind of a borrowed `archive_entry`, or nil for a type cosci does not store (a socket).
func entryKind(_ entry: OpaquePointer) -> EntryKind? {
    if archive_entry_hardlink(entry) != nil { return .hardlink }
    switch UInt32(archive_entry_filetype(entry)) {
    case CARCHIVE_AE_IFREG: return .file
    case CARCHIVE_AE_IFDIR: return .directory
    case CARCHIVE_AE_IFLNK: return .symlink
    case CARCHIVE_AE_IFIFO: return .fifo
    case CARCHIVE_AE_IFCHR: return .characterDevice
    case CARCHIVE_AE_IFBLK: return .blockDevice
    default: return nil
    }
}

/// A failed system call, in the system's words (`strerror`), read right after the call.
func systemError(_ function: StaticString, _ subject: String, _ code: Int32 = errno, hint: String? = nil) -> ArchiveError {
    ArchiveError(
        kind: .system, operation: "\(function)", subject: subject, message: String(cString: strerror(code)), code: code,
        hint: hint)
}

/// Calls `body` with `bytes` as a NUL-terminated C string (paths kept as bytes, never re-encoded).
func withCString<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
    (bytes + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) } }
}
