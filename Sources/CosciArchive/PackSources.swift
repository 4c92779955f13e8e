internal import Glibc

/// Turns what is to be packed (a directory on disk, or generated files) into the sorted entries to write.
enum PackSources {
    /// The entries under `root` (not `root` itself), sorted by path bytes, with clamped mtimes. Sockets are
    /// skipped; a regular file already seen under another selected path (same device and inode) becomes a
    /// hardlink to the first such path in sorted order.
    /// With `sourceModes`, modes and owners are those git would record, not the disk's: 0755 for directories
    /// and for files with an execute bit, 0644 for other files, owner 0:0 (a source tree's modes depend on
    /// the umask of whoever checked it out). Owners in [ownerOffset, ownerOffset + 65536) are recorded less the offset.
    static func walk(
        _ root: String, epoch: Int64, sourceModes: Bool = false, ownerOffset: Int64 = 0, select: (String, Bool) -> Bool
    ) throws(ArchiveError) -> [PackItem] {
        var found: [(path: String, stat: stat)] = []
        try collect(root: root, relative: "", into: &found)
        found.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }

        struct FileID: Hashable {
            let device: UInt
            let inode: UInt
        }
        var firstPath: [FileID: String] = [:]
        var items: [PackItem] = []
        items.reserveCapacity(found.count)
        for (path, st) in found {
            let type = st.st_mode & S_IFMT
            if type == S_IFSOCK { continue }
            guard select(path, type == S_IFDIR) else { continue }
            var item = PackItem(
                path: path, kind: .file, mode: st.st_mode & 0o7777, uid: Int64(st.st_uid), gid: Int64(st.st_gid),
                mtime: min(Int64(st.st_mtim.tv_sec), epoch))
            if ownerOffset != 0 {
                let range = ownerOffset..<(ownerOffset + 65536)
                if range.contains(item.uid) { item.uid -= ownerOffset }
                if range.contains(item.gid) { item.gid -= ownerOffset }
            }
            if sourceModes {
                item.mode = type == S_IFDIR || (st.st_mode & 0o111) != 0 ? 0o755 : 0o644
                item.uid = 0
                item.gid = 0
            }
            let full = root + "/" + path
            switch type {
            case S_IFDIR:
                item.kind = .directory
            case S_IFLNK:
                item.kind = .symlink
                item.linkTarget = try readSymlink(full)
            case S_IFIFO:
                item.kind = .fifo
            case S_IFCHR, S_IFBLK:
                item.kind = type == S_IFCHR ? .characterDevice : .blockDevice
                item.device = UInt64(st.st_rdev)
            case S_IFREG:
                let id = FileID(device: st.st_dev, inode: st.st_ino)
                if st.st_nlink > 1, let first = firstPath[id] {
                    item.kind = .hardlink
                    item.linkTarget = first
                } else {
                    if st.st_nlink > 1 { firstPath[id] = path }
                    item.size = Int64(st.st_size)
                    item.content = .file(full)
                }
            default:
                continue  // no other file type exists on Linux
            }
            items.append(item)
        }
        return items
    }

    /// Entries for generated files and their parent directories (0755, owner 0:0), all with mtime `epoch`,
    /// sorted by path bytes. Paths must be relative, without empty, `.` or `..` components, and unique.
    static func generated(_ files: [MemoryFile], epoch: Int64) throws(ArchiveError) -> [PackItem] {
        // Sets of bytes, not of `String`: two spellings of `café` (NFC, NFD) are equal strings but different files.
        var directories: Set<[UInt8]> = []
        var paths: Set<[UInt8]> = []
        var items: [PackItem] = []
        for file in files {
            let components = file.path.split(separator: "/", omittingEmptySubsequences: false)
            let malformed = components.contains { $0.isEmpty || $0 == "." || $0 == ".." }
            if file.path.isEmpty || file.path.utf8.contains(0) || malformed {
                throw invalid(file.path, "not a relative path of non-empty components without \".\" or \"..\"")
            }
            guard file.mode & ~0o7777 == 0 else {
                throw invalid(file.path, "mode \(String(file.mode, radix: 8)) has bits beyond 0o7777")
            }
            guard paths.insert(Array(file.path.utf8)).inserted else { throw invalid(file.path, "given twice") }
            for end in components.indices.dropLast() {
                directories.insert(Array(components[...end].joined(separator: "/").utf8))
            }
            items.append(
                PackItem(
                    path: file.path, kind: .file, mode: file.mode, size: Int64(file.bytes.count), mtime: epoch,
                    content: .bytes(file.bytes)))
        }
        if let clash = directories.first(where: { paths.contains($0) }) {
            throw invalid(String(decoding: clash, as: UTF8.self), "is both a file and the parent directory of another file")
        }
        items += directories.map {
            PackItem(path: String(decoding: $0, as: UTF8.self), kind: .directory, mode: 0o755, mtime: epoch)
        }
        items.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        return items
    }

    /// Depth-first: every entry below `root/relative`, with its `lstat`.
    private static func collect(
        root: String, relative: String, into found: inout [(path: String, stat: stat)]
    ) throws(ArchiveError) {
        let directory = relative.isEmpty ? root : root + "/" + relative
        guard let stream = opendir(directory) else { throw systemError("opendir", directory) }
        defer { closedir(stream) }
        var names: [String] = []
        while true {
            errno = 0
            guard let dirent = readdir(stream) else {
                if errno != 0 { throw systemError("readdir", directory) }
                break
            }
            let name = try withUnsafeBytes(of: dirent.pointee.d_name) { (raw) throws(ArchiveError) -> String in
                let bytes = raw.prefix(while: { $0 != 0 })
                guard let name = String(validating: bytes, as: UTF8.self) else {
                    throw ArchiveError(
                        kind: .invalidInput, operation: "pack", subject: directory + "/" + String(decoding: bytes, as: UTF8.self),
                        message: "file name is not valid UTF-8", hint: "rename it; archive paths are UTF-8")
                }
                return name
            }
            if name != "." && name != ".." { names.append(name) }
        }
        for name in names {
            let path = relative.isEmpty ? name : relative + "/" + name
            var st = stat()
            guard lstat(root + "/" + path, &st) == 0 else { throw systemError("lstat", root + "/" + path) }
            found.append((path, st))
            if st.st_mode & S_IFMT == S_IFDIR {
                try collect(root: root, relative: path, into: &found)
            }
        }
    }

    private static func readSymlink(_ path: String) throws(ArchiveError) -> String {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count)
        guard n >= 0 else { throw systemError("readlink", path) }
        guard let target = String(validating: buffer[..<n], as: UTF8.self) else {
            throw ArchiveError(
                kind: .invalidInput, operation: "pack", subject: path, message: "symlink target is not valid UTF-8",
                hint: "archive link targets are UTF-8")
        }
        return target
    }

    private static func invalid(_ path: String, _ why: String) -> ArchiveError {
        ArchiveError(kind: .invalidInput, operation: "pack", subject: "generated file \"\(path)\"", message: why)
    }
}
