internal import CArchive
internal import Glibc

/// Decides, before libarchive writes anything, whether an entry may be extracted under `root`, and where.
///
/// Refused: absolute paths; `..` components (in the path or a hardlink's target); a path or hardlink target whose
/// parent directory on disk is a symlink (a link from the archive, or one already in the target); a directory entry
/// where the target has a symlink (libarchive would replace the link); device nodes unless allowed. libarchive's
/// `ARCHIVE_EXTRACT_SECURE_SYMLINKS` and `SECURE_NODOTDOT` check again while writing. Symlinks themselves may point
/// anywhere: they are created, never written through.
struct ExtractionGuard {
    /// The target directory, resolved (`realpath`), so that no component of it is a symlink.
    let root: [UInt8]
    let archive: String
    let options: ExtractOptions
    /// Relative directories already seen to be real directories (not links) on disk.
    private var verifiedDirectories: Set<[UInt8]> = []

    init(root: String, archive: String, options: ExtractOptions) {
        self.root = Array(root.utf8)
        self.archive = archive
        self.options = options
    }

    /// Where an admitted entry goes.
    struct Placement {
        let path: EntryPath
        /// Absolute, under `root`.
        let destination: [UInt8]
        /// The hardlink's target, absolute, under `root`.
        let hardlink: [UInt8]?
    }

    /// Where the entry goes, or nil for the archive's root entry (`./`), which is skipped so that the target
    /// directory keeps its own mode and owner.
    mutating func admit(_ entry: OpaquePointer) throws(ArchiveError) -> Placement? {
        guard let raw = archive_entry_pathname(entry) else { throw refuse("(unnamed)", "its name cannot be decoded") }
        let path = EntryPath(raw)
        if path.isRoot { return nil }
        try checkRelative(path, entry: path, what: "path")
        if let kind = entryKind(entry), kind == .characterDevice || kind == .blockDevice, !options.allowDevices {
            throw refuse(
                path.text, "it is a \(kind == .characterDevice ? "character" : "block") device node",
                hint: "pass ExtractOptions(allowDevices: true) to create device nodes")
        }
        try checkParents(of: path, entry: path)
        if entryKind(entry) == .directory, isSymlink(absolute(path)) {
            throw refuse(
                path.text, "it is a directory, and \"\(path.text)\" is a symlink in the target",
                hint: "replacing the link would drop what it points to, and nothing is extracted through a symlink")
        }
        var hardlink: [UInt8]?
        if let rawTarget = archive_entry_hardlink(entry) {
            let target = EntryPath(rawTarget)
            try checkRelative(target, entry: path, what: "hardlink target \"\(target.text)\"")
            if target.isRoot { throw refuse(path.text, "its hardlink target is the archive's root") }
            try checkParents(of: target, entry: path)
            hardlink = absolute(target)
        }
        return Placement(path: path, destination: absolute(path), hardlink: hardlink)
    }

    /// Records that `path` now holds what the entry made: anything but a directory there invalidates what was
    /// verified at and below it.
    mutating func wrote(_ path: EntryPath, kind: EntryKind?) {
        guard kind != .directory else { return }
        let bytes = path.relativeBytes
        guard verifiedDirectories.remove(bytes) != nil else { return }
        let below = bytes + [UInt8(ascii: "/")]
        verifiedDirectories = verifiedDirectories.filter { !$0.starts(with: below) }
    }

    private func absolute(_ path: EntryPath) -> [UInt8] {
        root + [UInt8(ascii: "/")] + path.relativeBytes
    }

    private func checkRelative(_ path: EntryPath, entry: EntryPath, what: String) throws(ArchiveError) {
        if path.isAbsolute {
            throw refuse(
                entry.text, "its \(what) is absolute", hint: "archive paths must be relative; the archive may be malicious")
        }
        if path.hasParentReference {
            throw refuse(
                entry.text, "its \(what) has a \"..\" component that leaves the target directory",
                hint: "the archive may be malicious")
        }
    }

    private func isSymlink(_ path: [UInt8]) -> Bool {
        var st = stat()
        return lstat(path: path, &st) == 0 && st.st_mode & S_IFMT == S_IFLNK
    }

    /// Refuses when a parent directory of `path` is a symlink on disk.
    private mutating func checkParents(of path: EntryPath, entry: EntryPath) throws(ArchiveError) {
        for count in stride(from: 1, to: path.components.count, by: 1) {
            let parent = path.prefix(count)
            if verifiedDirectories.contains(parent) { continue }
            var st = stat()
            // Missing: libarchive creates it, as a directory, and so everything below it.
            guard lstat(path: root + [UInt8(ascii: "/")] + parent, &st) == 0 else { return }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                verifiedDirectories.insert(parent)
            case S_IFLNK:
                throw refuse(
                    entry.text, "\"\(String(decoding: parent, as: UTF8.self))\" is a symlink, and nothing is extracted through a symlink",
                    hint: "the archive, or one extracted into the same directory before it, makes that path a link")
            default:
                return  // not a directory: libarchive reports it
            }
        }
    }

    private func refuse(_ entry: String, _ why: String, hint: String? = nil) -> ArchiveError {
        ArchiveError(kind: .refused, operation: "extract", subject: "\(archive): \(entry)", message: "refused: \(why)", hint: hint)
    }
}

/// `lstat` of a path given as bytes.
private func lstat(path: [UInt8], _ st: inout stat) -> Int32 {
    withCString(path) { lstat($0, &st) }
}
