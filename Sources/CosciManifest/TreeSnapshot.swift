#if canImport(Glibc)
    import Glibc
#endif
import CosciModel

/// The kind of a file, as git records it.
public enum FileKind: Sendable, Hashable {
    case regular, executable, symlink
    /// A git submodule: keyed by the commit it pins (a commit's gitlink, or the checked-out HEAD of a work
    /// tree's submodule), as git records it.
    case submodule

    /// git's mode for the kind.
    public var gitMode: UInt32 {
        switch self {
        case .regular: return 0o100644
        case .executable: return 0o100755
        case .symlink: return 0o120000
        case .submodule: return 0o160000
        }
    }

    /// The kind for a git mode, or nil for modes that are not files.
    public init?(gitMode: UInt32) {
        switch gitMode {
        case 0o100644: self = .regular
        case 0o100755: self = .executable
        case 0o120000: self = .symlink
        case 0o160000: self = .submodule
        default: return nil
        }
    }
}

/// One file of a tree snapshot.
public struct SnapshotFile: Sendable, Hashable {
    /// Relative to the project root, `/`-separated.
    public let path: String
    public let kind: FileKind
    /// git's blob id when the snapshot already knows it (a commit's tree); nil for a work tree.
    public let blobID: String?

    public init(path: String, kind: FileKind, blobID: String?) {
        self.path = path
        self.kind = kind
        self.blobID = blobID
    }
}

/// A project as of one moment: the files of a work tree, or of a commit read from git's objects.
/// `files` lists the package tree; `read` also reaches other project files (values files).
/// The loader reads only what it needs: with known blob ids, only definitions, build specs and templates.
public protocol TreeSnapshot: Sendable {
    /// Every file of the package tree, paths relative to the project root, sorted by path bytes.
    var files: [SnapshotFile] { get }
    /// A file's bytes (a symlink's target for `.symlink`); `path` is relative to the project root.
    func read(_ path: String, kind: FileKind) throws(Diagnostic) -> [UInt8]
    /// A file's git blob id, for a file whose bytes the loader does not otherwise need.
    func blobID(_ path: String, kind: FileKind) throws(Diagnostic) -> String
}

extension TreeSnapshot {
    /// The blob id of the bytes `read` gives.
    public func blobID(_ path: String, kind: FileKind) throws(Diagnostic) -> String {
        FileSystemTree.blobID(of: try read(path, kind: kind))
    }
}

extension TreeSnapshot {
    /// Whether the loader will read this file's contents even when its blob id is known: definitions,
    /// build specs, and shared templates. A snapshot that has to preload contents preloads these.
    public static func loaderReads(_ path: String) -> Bool {
        let name = TreeLayout.name(path)
        if name == "definition.yaml" || name == "collection.yaml" || name == "build.yaml" { return true }
        return TreeLayout.isTemplate(path)
    }
}

/// The files of a project directory on disk.
public struct WorkTreeSnapshot: TreeSnapshot {
    public let projectRoot: String
    public let files: [SnapshotFile]
    /// `lstat` data of every file, by path, for the blob id cache.
    public let stamps: [String: FileStamp]

    /// Walks `projectRoot/tree` for each of `trees` (skipping `.git`); throws when one is not a readable
    /// directory. Files whose stamp matches `known` take their blob id from it instead of being read and
    /// hashed again.
    public init(projectRoot: String, trees: [String], known: BlobIDCache = BlobIDCache()) throws(Diagnostic) {
        self.projectRoot = projectRoot
        var out: [SnapshotFile] = []
        var stamps: [String: FileStamp] = [:]
        for tree in trees {
            let prefix = TreeLayout.prefix(tree)
            let top = prefix.isEmpty ? projectRoot : projectRoot + "/" + String(prefix.dropLast())
            guard FileSystemTree.isDirectory(top) else {
                throw Diagnostic(
                    at: SourceLocation(file: top, line: 0), "package tree not found or not a directory",
                    hint: "pass --tree DIR, or set `tree:` in cosci.yaml")
            }
            WorkTreeSnapshot.walk(projectRoot, relative: String(prefix.dropLast()), known: known, into: &out, stamps: &stamps)
        }
        if trees.count > 1 { out.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) } }
        files = out
        self.stamps = stamps
    }

    /// Only some package directories and files of the project (paths relative to the root): what a load of a
    /// few directories needs, without walking the whole tree. Absent ones are left out.
    public init(projectRoot: String, directories: [String], files: [String]) {
        self.projectRoot = projectRoot
        var out: [SnapshotFile] = []
        var stamps: [String: FileStamp] = [:]
        for dir in directories where FileSystemTree.isDirectory(projectRoot + "/" + dir) {
            WorkTreeSnapshot.walk(projectRoot, relative: dir, known: BlobIDCache(), into: &out, stamps: &stamps)
        }
        for path in files where !directories.contains(where: { path.hasPrefix($0 + "/") }) {
            var st = stat()
            guard lstat(projectRoot + "/" + path, &st) == 0, let kind = FileSystemTree.fileKind(st.st_mode) else { continue }
            out.append(SnapshotFile(path: path, kind: kind, blobID: nil))
            stamps[path] = FileStamp(st)
        }
        out.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        self.files = out
        self.stamps = stamps
    }

    private static func walk(
        _ root: String, relative: String, known: BlobIDCache, into out: inout [SnapshotFile], stamps: inout [String: FileStamp]
    ) {
        let dir = relative.isEmpty ? root : root + "/" + relative
        for entry in FileSystemTree.list(dir) {
            let child = relative.isEmpty ? entry.name : relative + "/" + entry.name
            if let kind = entry.kind {
                stamps[child] = entry.stamp
                let cached = kind == .submodule ? nil : known.blobID(for: child, stamp: entry.stamp)
                out.append(SnapshotFile(path: child, kind: kind, blobID: cached))
            } else {
                walk(root, relative: child, known: known, into: &out, stamps: &stamps)
            }
        }
    }

    public func read(_ path: String, kind: FileKind) throws(Diagnostic) -> [UInt8] {
        try FileSystemTree.read(path.hasPrefix("/") ? path : projectRoot + "/" + path, kind: kind)
    }

    /// Regular files are hashed as they are read, in blocks: a large file never sits in memory whole. A
    /// submodule's id is the commit checked out in it.
    public func blobID(_ path: String, kind: FileKind) throws(Diagnostic) -> String {
        let full = path.hasPrefix("/") ? path : projectRoot + "/" + path
        switch kind {
        case .symlink: return FileSystemTree.blobID(of: try FileSystemTree.read(full, kind: kind))
        case .submodule: return try FileSystemTree.submoduleHead(full)
        case .regular, .executable: return try FileSystemTree.blobID(ofFile: full)
        }
    }

    /// A blob id cache holding what this load learnt: every file of a loaded package with its stamp.
    public func blobIDs(from tree: LoadedTree) -> BlobIDCache {
        var cache = BlobIDCache()
        for pkg in tree.packages {
            let prefix = pkg.path == "." ? "" : pkg.path + "/"
            for entry in pkg.content {
                let path = prefix + entry.path
                // A submodule's directory stamp does not move when its HEAD does: never cached.
                if let stamp = stamps[path], entry.mode != FileKind.submodule.gitMode { cache.entries[path] = (stamp, entry.blobID) }
            }
        }
        return cache
    }
}

/// Blob ids of work tree files by path and `lstat` stamp, so an unchanged file is not read and hashed on
/// every run. As in git's index, a file modified within the second the cache was written is not trusted.
public struct BlobIDCache: Sendable {
    var entries: [String: (stamp: FileStamp, blob: String)] = [:]
    /// When the cache was written (seconds since the epoch).
    var writtenAt: Int64 = 0

    public init() {}

    public var count: Int { entries.count }

    func blobID(for path: String, stamp: FileStamp) -> String? {
        guard let e = entries[path], e.stamp == stamp, stamp.mtime < writtenAt - 1 else { return nil }
        return e.blob
    }

    static let magic = Array("cosci-blob-ids/1\n".utf8)

    /// Reads a cache file; anything unreadable gives an empty cache.
    public static func read(from path: String) -> BlobIDCache {
        guard let bytes = try? FileSystemTree.read(path), bytes.starts(with: magic) else { return BlobIDCache() }
        var r = BinaryReader(bytes: bytes, offset: magic.count)
        var cache = BlobIDCache()
        do {
            cache.writtenAt = Int64(try r.int())
            let n = try r.int()
            cache.entries.reserveCapacity(max(0, min(n, 1 << 24)))
            for _ in 0..<n {
                let path = try r.string()
                let stamp = FileStamp(
                    size: Int64(try r.int()), mtime: Int64(try r.int()), mtimeNanoseconds: Int64(try r.int()),
                    ctime: Int64(try r.int()), ctimeNanoseconds: Int64(try r.int()), inode: UInt64(bitPattern: Int64(try r.int())))
                cache.entries[path] = (stamp, try r.string())
            }
        } catch {
            return BlobIDCache()
        }
        return cache
    }

    /// Writes the cache atomically, stamped with the current time; false when it could not be written.
    @discardableResult
    public func write(to path: String) -> Bool {
        var w = BinaryWriter()
        w.bytes.append(contentsOf: BlobIDCache.magic)
        w.int(Int(time(nil)))
        w.int(entries.count)
        for (p, e) in entries.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            w.string(p)
            w.int(Int(e.stamp.size))
            w.int(Int(e.stamp.mtime))
            w.int(Int(e.stamp.mtimeNanoseconds))
            w.int(Int(e.stamp.ctime))
            w.int(Int(e.stamp.ctimeNanoseconds))
            w.int(Int(Int64(bitPattern: e.stamp.inode)))
            w.string(e.blob)
        }
        return FileSystemTree.writeAtomically(w.bytes, to: path)
    }
}

/// A tree from a commit: files with their blob ids, and the contents the loader reads, preloaded by whoever
/// read the object database (so this value is plain data, safe to share across threads).
public struct PreloadedSnapshot: TreeSnapshot {
    public let files: [SnapshotFile]
    /// Contents by path, for at least every file `loaderReads`.
    public let contents: [String: [UInt8]]
    /// Where the files came from, for messages (e.g. `commit 1a2b3c…`).
    public let origin: String

    public init(files: [SnapshotFile], contents: [String: [UInt8]], origin: String) {
        self.files = files.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        self.contents = contents
        self.origin = origin
    }

    public func read(_ path: String, kind: FileKind) throws(Diagnostic) -> [UInt8] {
        guard let bytes = contents[path] else {
            throw Diagnostic(at: SourceLocation(file: path, line: 0), "not found in \(origin)")
        }
        return bytes
    }
}

/// Where the packages and templates are in a list of files.
struct TreeLayout {
    struct PackageDirectory: Sendable {
        /// Relative to the project root ("" for the root itself).
        let relativePath: String
        let hasDefinition: Bool
        let hasCollection: Bool
        /// Files owned by this directory (nested package directories own theirs), paths relative to it.
        var files: [(relative: String, file: SnapshotFile)] = []
    }

    private(set) var packageDirectories: [PackageDirectory] = []
    /// `definition.yaml`, `collection.yaml` and `build.yaml` files that are symlinks: errors, never packages.
    private(set) var symlinkedSpecs: [String] = []
    /// Shared templates: `*.yaml` directly in a directory named `templates`, sorted by path bytes.
    private(set) var templateFiles: [SnapshotFile] = []

    static func prefix(_ tree: String) -> String { TreePaths.prefix(tree) }

    static func isTemplate(_ path: String) -> Bool {
        guard path.hasSuffix(".yaml"), let slash = path.lastIndex(of: "/") else { return false }
        let dir = path[..<slash]
        return dir == "templates" || dir.hasSuffix("/templates")
    }

    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }

    static func name(_ path: String) -> Substring {
        guard let slash = path.lastIndex(of: "/") else { return Substring(path) }
        return path[path.index(after: slash)...]
    }

    init(_ files: [SnapshotFile]) {
        // Names of the files in each directory.
        var names: [String: Set<Substring>] = [:]
        for f in files {
            let name = TreeLayout.name(f.path)
            guard name == "build.yaml" || name == "definition.yaml" || name == "collection.yaml" else { continue }
            if f.kind != .regular && f.kind != .executable {
                symlinkedSpecs.append(f.path)
                continue
            }
            names[TreeLayout.parent(f.path), default: []].insert(name)
        }
        var index: [String: Int] = [:]
        for (dir, set) in names.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) })
        where set.contains("build.yaml") && (set.contains("definition.yaml") || set.contains("collection.yaml")) {
            index[dir] = packageDirectories.count
            packageDirectories.append(
                PackageDirectory(
                    relativePath: dir, hasDefinition: set.contains("definition.yaml"),
                    hasCollection: set.contains("collection.yaml")))
        }
        // The nearest enclosing package directory owns a file; files come sorted, so runs share a directory.
        var lastDir: String?
        var lastOwner: (index: Int, dir: String)?
        for f in files {
            if TreeLayout.isTemplate(f.path) && (f.kind == .regular || f.kind == .executable) { templateFiles.append(f) }
            let parent = TreeLayout.parent(f.path)
            if parent != lastDir {
                lastDir = parent
                lastOwner = nil
                var dir = parent
                while true {
                    if let i = index[dir] {
                        lastOwner = (i, dir)
                        break
                    }
                    if dir.isEmpty { break }
                    dir = TreeLayout.parent(dir)
                }
            }
            if let (i, dir) = lastOwner {
                let rel = dir.isEmpty ? f.path : String(f.path.dropFirst(dir.count + 1))
                packageDirectories[i].files.append((rel, f))
            }
        }
        templateFiles.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
    }
}

/// Path helpers shared by every snapshot kind.
public enum TreePaths {
    /// Whether a path (relative to the project root) is a shared template: `*.yaml` directly in a directory
    /// named `templates`.
    public static func isTemplate(_ path: String) -> Bool { TreeLayout.isTemplate(path) }

    /// Whether a file name is one that makes a directory a package directory.
    public static func isPackageFile(_ path: String) -> Bool {
        let name = TreeLayout.name(path)
        return name == "build.yaml" || name == "definition.yaml" || name == "collection.yaml"
    }

    /// The tree setting as a path prefix: `packages` → `packages/`; `.` → ``.
    public static func prefix(_ tree: String) -> String {
        var t = tree
        while t.hasPrefix("./") { t.removeFirst(2) }
        while t.hasSuffix("/") { t.removeLast() }
        return (t.isEmpty || t == ".") ? "" : t + "/"
    }
}
