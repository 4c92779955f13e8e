import CosciModel

/// The kind of a file, as git records it.
public enum FileKind: Sendable, Hashable {
    case regular, executable, symlink

    /// git's mode for the kind.
    public var gitMode: UInt32 {
        switch self {
        case .regular: return 0o100644
        case .executable: return 0o100755
        case .symlink: return 0o120000
        }
    }

    /// The kind for a git mode, or nil for modes that are not files.
    public init?(gitMode: UInt32) {
        switch gitMode {
        case 0o100644: self = .regular
        case 0o100755: self = .executable
        case 0o120000: self = .symlink
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
}

extension TreeSnapshot {
    /// Whether the loader will read this file's contents even when its blob id is known: definitions,
    /// build specs, and shared templates. A snapshot that has to preload contents preloads these.
    public static func loaderReads(_ path: String) -> Bool {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        if name == "definition.yaml" || name == "collection.yaml" || name == "build.yaml" { return true }
        return TreeLayout.isTemplate(path)
    }
}

/// The files of a project directory on disk.
public struct WorkTreeSnapshot: TreeSnapshot {
    public let projectRoot: String
    public let files: [SnapshotFile]

    /// Walks `projectRoot/tree` (skipping `.git`); throws when it is not a readable directory.
    public init(projectRoot: String, tree: String) throws(Diagnostic) {
        self.projectRoot = projectRoot
        let prefix = TreeLayout.prefix(tree)
        let top = prefix.isEmpty ? projectRoot : projectRoot + "/" + String(prefix.dropLast())
        guard FileSystemTree.isDirectory(top) else {
            throw Diagnostic(
                at: SourceLocation(file: prefix.isEmpty ? "." : String(prefix.dropLast()), line: 0),
                "package tree not found or not a directory", hint: "pass --tree DIR, or set `tree:` in cosci.yaml")
        }
        var out: [SnapshotFile] = []
        WorkTreeSnapshot.walk(projectRoot, relative: String(prefix.dropLast()), into: &out)
        files = out
    }

    private static func walk(_ root: String, relative: String, into out: inout [SnapshotFile]) {
        let dir = relative.isEmpty ? root : root + "/" + relative
        for entry in FileSystemTree.list(dir) {
            let child = relative.isEmpty ? entry.name : relative + "/" + entry.name
            if let kind = entry.kind {
                out.append(SnapshotFile(path: child, kind: kind, blobID: nil))
            } else {
                walk(root, relative: child, into: &out)
            }
        }
    }

    public func read(_ path: String, kind: FileKind) throws(Diagnostic) -> [UInt8] {
        try FileSystemTree.read(path.hasPrefix("/") ? path : projectRoot + "/" + path, kind: kind)
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
    /// Shared templates: `*.yaml` directly in a directory named `templates`, sorted by path bytes.
    private(set) var templateFiles: [SnapshotFile] = []

    /// `packages` → `packages/`; `.` → ``.
    static func prefix(_ tree: String) -> String {
        var t = tree
        while t.hasPrefix("./") { t.removeFirst(2) }
        while t.hasSuffix("/") { t.removeLast() }
        return (t.isEmpty || t == ".") ? "" : t + "/"
    }

    static func isTemplate(_ path: String) -> Bool {
        let parts = path.split(separator: "/")
        return parts.count >= 2 && parts[parts.count - 2] == "templates" && path.hasSuffix(".yaml")
    }

    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }

    init(_ files: [SnapshotFile]) {
        // Names of the files in each directory.
        var names: [String: Set<Substring>] = [:]
        for f in files where f.kind != .symlink {
            let dir = TreeLayout.parent(f.path)
            let name = f.path.split(separator: "/").last ?? Substring(f.path)
            names[dir, default: []].insert(name)
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
        for f in files {
            if TreeLayout.isTemplate(f.path) && f.kind != .symlink { templateFiles.append(f) }
            // The nearest enclosing package directory owns the file.
            var dir = TreeLayout.parent(f.path)
            while true {
                if let i = index[dir] {
                    let rel = dir.isEmpty ? f.path : String(f.path.dropFirst(dir.count + 1))
                    packageDirectories[i].files.append((rel, f))
                    break
                }
                if dir.isEmpty { break }
                dir = TreeLayout.parent(dir)
            }
        }
        templateFiles.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
    }
}
