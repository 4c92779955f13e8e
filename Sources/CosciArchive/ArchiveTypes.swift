import CosciModel
internal import Glibc

/// Compression of an artifact: the file name suffix after `.tar`.
public enum Compression: String, Sendable, CaseIterable {
    case zstd, gzip, none

    /// The suffix after `.tar`: `.zst`, `.gz` or nothing.
    public var suffix: String {
        switch self {
        case .zstd: ".zst"
        case .gzip: ".gz"
        case .none: ""
        }
    }
}

/// How `TarArchive.pack` writes an archive. Everything that could vary between machines is pinned:
/// zstd level 3, gzip level 6 without a header timestamp, pax (restricted) format.
public struct PackOptions: Sendable {
    /// The compression of the whole stream.
    public var compression: Compression = .zstd
    /// mtimes are clamped: min(mtime, epoch). Seconds since 1970.
    public var sourceDateEpoch: Int64
    /// zstd worker threads; nil: one per online processor. Any value ≥ 1 gives the same bytes (zstd's
    /// multi-threaded format does not depend on the number of workers, and a test pins that).
    public var zstdWorkers: Int?
    /// Record git's modes (0755/0644) and owner 0:0 instead of the disk's: for archives of source trees.
    public var sourceModes = false
    /// Subtracted from the disk's owners in [offset, offset + 65536) before they are recorded: a build sandbox's
    /// ids live on the host at an offset (`ExtractOptions.ownerOffset` adds it back). 0: owners as on disk.
    public var ownerOffset: Int64 = 0

    /// Options with the given compression and epoch.
    public init(compression: Compression = .zstd, sourceDateEpoch: Int64, zstdWorkers: Int? = nil, ownerOffset: Int64 = 0) {
        self.ownerOffset = ownerOffset
        self.compression = compression
        self.sourceDateEpoch = sourceDateEpoch
        self.zstdWorkers = zstdWorkers
    }
}

/// The type of an archive entry.
public enum EntryKind: String, Sendable, Hashable {
    case file, directory, symlink, hardlink, fifo
    case characterDevice = "char"
    case blockDevice = "block"
}

/// One entry of an archive, as written or as read.
public struct ArchiveEntryInfo: Sendable, Hashable {
    /// Relative, `/`-separated, without a leading `./`; directories without a trailing slash.
    public let path: String
    /// The entry's type; a second name for an already written file is a `.hardlink`.
    public let kind: EntryKind
    /// Permission bits including setuid, setgid and sticky (e.g. 0o755).
    public let mode: UInt32
    /// Numeric owner.
    public let uid: Int64
    /// Numeric group.
    public let gid: Int64
    /// Bytes of content: regular files only, else 0.
    public let size: Int64
    /// Modification time, seconds since 1970.
    public let mtime: Int64
    /// The symlink's target (verbatim) or the path a hardlink names.
    public let linkTarget: String?
    /// SHA-256 hex of the file's bytes: regular files only, when computed (`pack`, `list(_:digests: true)`).
    public let contentDigest: String?

    /// An entry from its fields.
    public init(
        path: String, kind: EntryKind, mode: UInt32, uid: Int64, gid: Int64, size: Int64, mtime: Int64,
        linkTarget: String? = nil, contentDigest: String? = nil
    ) {
        self.path = path
        self.kind = kind
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = size
        self.mtime = mtime
        self.linkTarget = linkTarget
        self.contentDigest = contentDigest
    }
}

/// What `pack` wrote.
public struct PackResult: Sendable {
    /// The entries, in archive order.
    public let entries: [ArchiveEntryInfo]
    /// SHA-256 of the output file (compressed), computed while writing.
    public let sha256: Digest
    /// Bytes of the output file.
    public let size: Int64

    /// A result from its parts (for test doubles of code that packs).
    public init(entries: [ArchiveEntryInfo], sha256: Digest, size: Int64) {
        self.entries = entries
        self.sha256 = sha256
        self.size = size
    }
}

/// An in-memory file for archives made of generated content (repository metadata).
public struct MemoryFile: Sendable {
    /// Relative, `/`-separated path inside the archive.
    public var path: String
    /// The file's content.
    public var bytes: [UInt8]
    /// Permission bits.
    public var mode: UInt32 = 0o644

    /// A file with the given path, content and mode.
    public init(path: String, bytes: [UInt8], mode: UInt32 = 0o644) {
        self.path = path
        self.bytes = bytes
        self.mode = mode
    }
}

/// How `TarArchive.extract` restores entries.
public struct ExtractOptions: Sendable {
    /// Device nodes are refused unless asked for.
    public var allowDevices = false
    /// Restore numeric owners (uid/gid from the archive, never looked up by name). Default: when running as root.
    public var preserveOwners: Bool
    /// Apply OCI layer whiteouts: `.wh.NAME` removes NAME from what earlier layers left, `.wh..wh..opq` empties
    /// its directory; the whiteout entries themselves are not written.
    public var whiteouts = false
    /// Added to every entry's uid and gid (owners are then restored whatever `preserveOwners` says): files
    /// unpacked for a build sandbox whose ids live on the host at this offset. 0: owners as archived.
    public var ownerOffset: Int64 = 0
    /// The most bytes of file content one extraction may write (entries' sizes added up); an archive that
    /// would write more is refused at the entry that crosses it. Runs of zero bytes are written as holes, so a
    /// sparse file takes on disk what it took when it was packed.
    public var maximumBytes: Int64 = ExtractOptions.defaultMaximumBytes
    /// 64 GiB.
    public static let defaultMaximumBytes: Int64 = 64 << 30

    /// Options; `preserveOwners` defaults to whether the process runs as root.
    public init(allowDevices: Bool = false, preserveOwners: Bool? = nil, whiteouts: Bool = false, ownerOffset: Int64 = 0) {
        self.allowDevices = allowDevices
        self.preserveOwners = preserveOwners ?? (geteuid() == 0)
        self.whiteouts = whiteouts
        self.ownerOffset = ownerOffset
    }
}

/// An archive operation that failed: what failed, on which file and entry, why (in libarchive's or the
/// system's words) and, when there is one, what to do.
public struct ArchiveError: Error, Sendable, CustomStringConvertible {
    /// Whose fault it is.
    public enum Kind: String, Sendable {
        /// libarchive reported an error (a corrupt archive, an unsupported format, a failed disk write).
        case library
        /// A system call failed (missing file, permissions, disk full).
        case system
        /// An archive entry was refused by safe extraction (it would write outside the target, or through a
        /// symlink, or is a device node): the archive is unsafe or needs different options.
        case refused
        /// The caller's input is not valid (a bad path for a generated file, a duplicate).
        case invalidInput = "invalid-input"
    }

    /// Whose fault it is.
    public let kind: Kind
    /// The libarchive or system function that failed, or the operation that refused (`extract`).
    public let operation: String
    /// The file, and the entry when there is one (`out.tar.zst: usr/bin/x`).
    public let subject: String
    /// libarchive's or the system's message, or why the entry was refused.
    public let message: String
    /// `archive_errno` or `errno`; 0 when neither applies.
    public let code: Int32
    /// What to do about it, when there is something specific.
    public let hint: String?

    /// An error from its parts.
    public init(kind: Kind, operation: String, subject: String, message: String, code: Int32 = 0, hint: String? = nil) {
        self.kind = kind
        self.operation = operation
        self.subject = subject
        self.message = message
        self.code = code
        self.hint = hint
    }

    /// `operation subject: message (hint)`.
    public var description: String {
        "\(operation) \(subject): \(message)" + (hint.map { " (\($0))" } ?? "")
    }
}
