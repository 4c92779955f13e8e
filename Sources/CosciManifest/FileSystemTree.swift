#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import CosciFiles
import CosciModel
import Crypto

/// File system helpers for the loader: listing, reading, and git blob ids, with plain POSIX calls
/// (they run over tens of thousands of files).
enum FileSystemTree {
    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Directory entries sorted by name bytes; `kind` nil means a directory. `.git` and sockets,
    /// devices and FIFOs are skipped.
    static func list(_ path: String) -> [(name: String, kind: FileKind?, stamp: FileStamp)] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var out: [(String, FileKind?, FileStamp)] = []
        while let ent = readdir(dir) {
            let name = withUnsafePointer(to: ent.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." || name == ".git" { continue }
            var st = stat()
            guard lstat(path + "/" + name, &st) == 0 else { continue }
            let stamp = FileStamp(st)
            if let kind = fileKind(st.st_mode) {
                out.append((name, kind, stamp))
            } else if st.st_mode & S_IFMT == S_IFDIR {
                // A checked-out submodule holds `.git` (a file naming its git directory, or one): one entry.
                var git = stat()
                let isSubmodule = lstat(path + "/" + name + "/.git", &git) == 0
                out.append((name, isSubmodule ? .submodule : nil, stamp))
            }
        }
        out.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        return out
    }

    /// The kind of a file by its `lstat` mode; nil for directories and anything that is not a file or a link.
    static func fileKind(_ mode: mode_t) -> FileKind? {
        switch mode & S_IFMT {
        case S_IFREG: return (mode & 0o111) != 0 ? .executable : .regular
        case S_IFLNK: return .symlink
        default: return nil
        }
    }

    /// Reads a whole file (or a symlink's target for `.symlink`).
    static func read(_ path: String, kind: FileKind = .regular) throws(Diagnostic) -> [UInt8] {
        if kind == .symlink {
            var buf = [CChar](repeating: 0, count: 4096)
            let n = readlink(path, &buf, buf.count)
            guard n >= 0 else { throw ioError(path) }
            return buf[0..<n].map { UInt8(bitPattern: $0) }
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ioError(path) }
        defer { close(fd) }
        var st = stat()
        let expected = fstat(fd, &st) == 0 ? max(Int(st.st_size), 0) : 0
        // Read straight into a buffer of the file's size (plus room to notice a file that grew).
        var bytes = [UInt8](repeating: 0, count: expected + 1)
        var filled = 0
        while true {
            if filled == bytes.count { bytes.append(contentsOf: [UInt8](repeating: 0, count: max(4096, bytes.count))) }
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ioError(path)
            }
            if n == 0 { break }
            filled += n
        }
        bytes.removeSubrange(filled...)
        return bytes
    }

    private static func ioError(_ path: String) -> Diagnostic {
        Diagnostic(at: SourceLocation(file: path, line: 0), "cannot read: \(String(cString: strerror(errno)))")
    }

    /// git's blob id of a regular file, read and hashed in 1 MiB blocks. A file whose size changes while it is
    /// read is an error (hash it again once it is still).
    static func blobID(ofFile path: String) throws(Diagnostic) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ioError(path) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ioError(path) }
        let size = Int(st.st_size)
        var h = Insecure.SHA1()
        h.update(data: Array("blob \(size)\u{0}".utf8))
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ioError(path)
            }
            if n == 0 { break }
            total += n
            buffer.withUnsafeBytes { h.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[..<n])) }
        }
        guard total == size else {
            throw Diagnostic(
                at: SourceLocation(file: path, line: 0), "changed while it was read (\(size) bytes, then \(total))",
                hint: "run again once nothing writes to it")
        }
        return Hex.encode(h.finalize())
    }

    /// The commit checked out in the submodule at `path`: its `.git` (a directory, or a file `gitdir: DIR`), then
    /// `HEAD` (a commit id, or `ref: NAME` looked up loose, then in `packed-refs`).
    static func submoduleHead(_ path: String) throws(Diagnostic) -> String {
        func fail(_ why: String) -> Diagnostic {
            Diagnostic(
                at: SourceLocation(file: path, line: 0), "submodule: \(why)",
                hint: "run `git submodule update --init` so the package's submodule is checked out")
        }
        func text(_ file: String) -> String? {
            (try? read(file)).map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
        }
        var gitDir = path + "/.git"
        if !isDirectory(gitDir) {
            guard let link = text(gitDir), link.hasPrefix("gitdir:") else { throw fail("\(gitDir) names no git directory") }
            let target = link.dropFirst("gitdir:".count).trimmingCharacters(in: .whitespaces)
            gitDir = target.hasPrefix("/") ? target : path + "/" + target
        }
        guard let head = text(gitDir + "/HEAD") else { throw fail("cannot read \(gitDir)/HEAD") }
        func isCommitID(_ s: String) -> Bool { s.utf8.count == 40 && s.allSatisfy(\.isHexDigit) }
        if isCommitID(head) { return head.lowercased() }
        guard head.hasPrefix("ref:") else { throw fail("HEAD is neither a commit nor a ref") }
        let ref = head.dropFirst(4).trimmingCharacters(in: .whitespaces)
        // A linked git directory keeps its refs in the common directory when it has one.
        var dirs = [gitDir]
        if let common = text(gitDir + "/commondir") { dirs.append(common.hasPrefix("/") ? common : gitDir + "/" + common) }
        for dir in dirs {
            if let id = text(dir + "/" + ref), isCommitID(id) { return id.lowercased() }
            for line in (text(dir + "/packed-refs") ?? "").split(separator: "\n") {
                let parts = line.split(separator: " ")
                if parts.count == 2, parts[1] == ref, isCommitID(String(parts[0])) { return parts[0].lowercased() }
            }
        }
        throw fail("\(ref) does not resolve")
    }

    /// git's blob id: SHA-1 over `blob <size>\0` and the bytes.
    static func blobID(of bytes: [UInt8]) -> String {
        var h = Insecure.SHA1()
        h.update(data: Array("blob \(bytes.count)\u{0}".utf8))
        h.update(data: bytes)
        return Hex.encode(h.finalize())
    }
}

/// File reading for the layers above the loader (configuration, lock files), with the loader's errors.
public enum ManifestFiles {
    /// Reads a whole file; the error names the path and the system's reason.
    public static func read(_ path: String) throws(Diagnostic) -> [UInt8] {
        try FileSystemTree.read(path)
    }

    /// Reads a text file: UTF-8 (a byte order mark is dropped), no NUL bytes; errors name the line and column.
    public static func text(_ path: String, shown: String? = nil) throws(Diagnostic) -> String {
        try SourceText.decode(try FileSystemTree.read(path), file: shown ?? path)
    }
}

extension FileSystemTree {
    /// Writes bytes to a temporary file beside `path`, then renames it into place (creating directories).
    static func writeAtomically(_ bytes: [UInt8], to path: String) -> Bool {
        (try? AtomicFile.write(path, bytes)) != nil
    }

    /// `mkdir -p`.
    static func makeDirectories(_ path: String) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            mkdir(current, 0o755)
        }
    }
}

/// What `lstat` says about a file, enough to tell that it has not changed since its blob id was computed
/// (git's index uses the same fields).
public struct FileStamp: Sendable, Hashable {
    public let size: Int64
    public let mtime: Int64
    public let mtimeNanoseconds: Int64
    public let ctime: Int64
    public let ctimeNanoseconds: Int64
    public let inode: UInt64

    init(_ st: stat) {
        size = Int64(st.st_size)
        mtime = Int64(st.st_mtim.tv_sec)
        mtimeNanoseconds = Int64(st.st_mtim.tv_nsec)
        ctime = Int64(st.st_ctim.tv_sec)
        ctimeNanoseconds = Int64(st.st_ctim.tv_nsec)
        inode = UInt64(st.st_ino)
    }

    init(size: Int64, mtime: Int64, mtimeNanoseconds: Int64, ctime: Int64, ctimeNanoseconds: Int64, inode: UInt64) {
        self.size = size
        self.mtime = mtime
        self.mtimeNanoseconds = mtimeNanoseconds
        self.ctime = ctime
        self.ctimeNanoseconds = ctimeNanoseconds
        self.inode = inode
    }
}
