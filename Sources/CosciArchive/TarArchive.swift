internal import CArchive
import CosciModel
internal import Glibc

/// Reproducible tar archives (pack), listing, member reads and safe extraction, over libarchive. Every call is
/// synchronous and blocking: run it off the cooperative pool. Calls on different archives may run in parallel.
public enum TarArchive {
    /// Reproducible archive of the directory `root` (its contents, not `root` itself), written to a temp file next to
    /// `output` (mode 0644) and renamed. `select(relativePath, isDirectory)` is called for every entry and decides which are
    /// written; an unselected directory is still descended into (and is not implied by selected descendants).
    public static func pack(
        directory root: String, to output: String, options: PackOptions, select: (String, Bool) -> Bool = { _, _ in true }
    ) throws(ArchiveError) -> PackResult {
        try withNames(.utf8) { () throws(ArchiveError) in
            try write(
                PackSources.walk(
                    root, epoch: options.sourceDateEpoch, sourceModes: options.sourceModes, ownerOffset: options.ownerOffset,
                    select: select),
                to: output, options: options)
        }
    }

    /// Same, for generated files; their parent directories are added (mode 0755, uid/gid 0, mtime = epoch).
    public static func pack(files: [MemoryFile], to output: String, options: PackOptions) throws(ArchiveError) -> PackResult {
        try withNames(.utf8) { () throws(ArchiveError) in
            try write(PackSources.generated(files, epoch: options.sourceDateEpoch), to: output, options: options)
        }
    }

    /// A layer of what changed in a root filesystem: the `changed` paths (relative to `root`) with the
    /// directories leading to them, and an OCI whiteout (`DIR/.wh.NAME`, empty) for each `removed` path.
    public static func packLayer(
        directory root: String, changed: Set<String>, removed: [String], to output: String, options: PackOptions
    ) throws(ArchiveError) -> PackResult {
        func parent(_ path: String) -> String { path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "" }
        var parents = Set<String>()
        for path in changed.sorted() + removed {
            var dir = parent(path)
            while !dir.isEmpty, parents.insert(dir).inserted { dir = parent(dir) }
        }
        return try withNames(.utf8) { () throws(ArchiveError) in
            var items = try PackSources.walk(
                root, epoch: options.sourceDateEpoch, sourceModes: options.sourceModes, ownerOffset: options.ownerOffset
            ) { path, _ in changed.contains(path) || parents.contains(path) }
            for path in removed {
                let dir = parent(path)
                let name = String(path.dropFirst(dir.isEmpty ? 0 : dir.count + 1))
                items.append(
                    PackItem(
                        path: (dir.isEmpty ? "" : dir + "/") + ".wh." + name, kind: .file, mode: 0o644,
                        mtime: options.sourceDateEpoch, content: .bytes([])))
            }
            items.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
            return try write(items, to: output, options: options)
        }
    }

    /// Entries of an archive (any format and compression libarchive reads), optionally with content digests.
    /// The archive's root entry (`./`) and sockets are not listed.
    public static func list(_ path: String, digests: Bool = false) throws(ArchiveError) -> [ArchiveEntryInfo] {
        try withNames(.verbatim) { () throws(ArchiveError) in
            let reader = try TarReader(path: path)
            var entries: [ArchiveEntryInfo] = []
            try reader.forEachEntry { (entry) throws(ArchiveError) in
                guard let raw = archive_entry_pathname(entry) ?? archive_entry_pathname_utf8(entry) else {
                    throw ArchiveError(
                        kind: .library, operation: "archive_entry_pathname", subject: path, message: "an entry's name cannot be decoded")
                }
                let name = EntryPath(raw)
                guard !name.isRoot, let kind = entryKind(entry) else { return true }
                let digest = digests && kind == .file ? try reader.contentDigest("\(path): \(name.text)") : nil
                entries.append(entryInfo(entry, kind: kind, path: name, digest: digest))
                return true
            }
            return entries
        }
    }

    /// Safe extraction into `directory` (created if missing; existing files are replaced, as when layering several
    /// artifacts into one sysroot). Restores permissions and mtimes, and numeric owners when asked. Refuses, before
    /// writing it, any entry that would land outside `directory` or go through a symlink, and device nodes unless
    /// allowed (see `ExtractionGuard`); entries before a refused one stay extracted. Returns the entries written.
    public static func extract(
        _ path: String, into directory: String, options: ExtractOptions = ExtractOptions()
    ) throws(ArchiveError) -> Int {
        try withNames(.verbatim) { () throws(ArchiveError) in
            let root = try makeDirectory(directory)
            let reader = try TarReader(path: path)
            let disk = try ArchiveHandle(archive_write_disk_new(), writer: true, function: "archive_write_disk_new", subject: root)
            // Entries are written at absolute paths under the resolved target (archive_write_disk works relative to
            // the process's working directory, which is not ours to change), so SECURE_NOABSOLUTEPATHS cannot be
            // set: `ExtractionGuard` has refused absolute entries before the rewrite.
            var flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SPARSE
            flags |= ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT
            if options.preserveOwners || options.ownerOffset != 0 { flags |= ARCHIVE_EXTRACT_OWNER }
            try disk.check(archive_write_disk_set_options(disk.raw, flags), "archive_write_disk_set_options", root)
            var safety = ExtractionGuard(root: root, archive: path, options: options)
            var count = 0
            var bytes: Int64 = 0
            try reader.forEachEntry { (entry) throws(ArchiveError) in
                guard let placement = try safety.admit(entry) else { return true }
                bytes += max(0, archive_entry_size(entry))
                if bytes > options.maximumBytes {
                    throw ArchiveError(
                        kind: .refused, operation: "extract", subject: "\(path): \(placement.path.text)",
                        message: "refused: the archive would write more than \(options.maximumBytes) bytes",
                        hint: "the archive may be a decompression bomb; raise ExtractOptions.maximumBytes if it is genuine")
                }
                if options.whiteouts, let last = placement.path.components.last, last.starts(with: Array(".wh.".utf8)) {
                    try Whiteout.apply(name: last, at: placement.destination, archive: path, entry: placement.path.text)
                    return true
                }
                let subject = "\(path): \(placement.path.text)"
                withCString(placement.destination) { archive_entry_copy_pathname(entry, $0) }
                if options.ownerOffset != 0 {
                    archive_entry_set_uid(entry, archive_entry_uid(entry) + options.ownerOffset)
                    archive_entry_set_gid(entry, archive_entry_gid(entry) + options.ownerOffset)
                }
                if let hardlink = placement.hardlink { withCString(hardlink) { archive_entry_copy_hardlink(entry, $0) } }
                try disk.check(archive_write_header(disk.raw, entry), "archive_write_header", subject)
                if archive_entry_size(entry) > 0 { try reader.copyContent(to: disk, subject) }
                try disk.check(archive_write_finish_entry(disk.raw), "archive_write_finish_entry", subject)
                safety.wrote(placement.path, kind: entryKind(entry))
                count += 1
                return true
            }
            try disk.close(root)
            return count
        }
    }

    /// The bytes of the first regular-file member named `member` (a leading `./` is ignored), or nil if absent.
    public static func read(member: String, of path: String) throws(ArchiveError) -> [UInt8]? {
        try withNames(.verbatim) { () throws(ArchiveError) in
            let wanted = member.withCString { EntryPath($0) }
            let reader = try TarReader(path: path)
            var found: [UInt8]?
            try reader.forEachEntry { (entry) throws(ArchiveError) in
                guard let raw = archive_entry_pathname(entry), EntryPath(raw) == wanted, entryKind(entry) == .file else {
                    return true
                }
                found = try reader.content("\(path): \(member)")
                return false
            }
            return found
        }
    }

    private static func write(_ items: [PackItem], to output: String, options: PackOptions) throws(ArchiveError) -> PackResult {
        let file = try AtomicOutput(destination: output)
        let writer = try TarWriter(output: file, options: options)
        var entries: [ArchiveEntryInfo] = []
        entries.reserveCapacity(items.count)
        for item in items {
            entries.append(try writer.add(item))
        }
        try writer.finish()
        let (sha256, size) = try file.commit()
        return PackResult(entries: entries, sha256: sha256, size: size)
    }

    /// `mkdir -p directory`, then its real path (no symlink components, as `SECURE_SYMLINKS` checks all of them).
    private static func makeDirectory(_ directory: String) throws(ArchiveError) -> String {
        var partial = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            partial += "/" + component
            if mkdir(partial, 0o755) != 0 && errno != EEXIST { throw systemError("mkdir", partial) }
        }
        guard let resolved = realpath(directory, nil) else { throw systemError("realpath", directory) }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// OCI layer whiteouts (image-spec `layer.md`): applied to what earlier layers extracted.
enum Whiteout {
    static let opaque = Array(".wh..wh..opq".utf8)

    /// `destination` is where the whiteout entry itself would land (already checked to be inside the root and
    /// not below a symlink).
    static func apply(name: [UInt8], at destination: [UInt8], archive: String, entry: String) throws(ArchiveError) {
        let path = String(decoding: destination, as: UTF8.self)
        let parent = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
        if name == opaque {
            for n in children(parent) { try remove(parent + "/" + n, archive: archive, entry: entry) }
            return
        }
        let hidden = String(decoding: name.dropFirst(4), as: UTF8.self)
        guard !hidden.isEmpty, hidden != ".", hidden != "..", !hidden.contains("/") else {
            throw ArchiveError(kind: .refused, operation: "extract", subject: "\(archive): \(entry)", message: "a whiteout that names no file")
        }
        try remove(parent + "/" + hidden, archive: archive, entry: entry)
    }

    static func children(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let e = readdir(dir) {
            let n = withUnsafePointer(to: e.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) } }
            if n != "." && n != ".." { names.append(n) }
        }
        return names
    }

    /// Removes a file, link or directory tree without following symlinks.
    static func remove(_ path: String, archive: String, entry: String) throws(ArchiveError) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for n in children(path) { try remove(path + "/" + n, archive: archive, entry: entry) }
            guard rmdir(path) == 0 else {
                throw ArchiveError(kind: .system, operation: "rmdir", subject: "\(archive): \(entry)", message: String(cString: strerror(errno)), code: errno)
            }
        } else if unlink(path) != 0 {
            throw ArchiveError(kind: .system, operation: "unlink", subject: "\(archive): \(entry)", message: String(cString: strerror(errno)), code: errno)
        }
    }
}
