#if canImport(Glibc)
    import Glibc
#endif
internal import CGit2
import CosciModel

/// A git object id (SHA-1 hex).
public struct ObjectID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let hex: String
    public var description: String { hex }
    /// The first 12 hex digits.
    public var short: String { String(hex.prefix(12)) }
    public static func < (a: ObjectID, b: ObjectID) -> Bool { a.hex < b.hex }

    /// An id from its 40 hex digits (not validated here; libgit2 rejects a bad one when it is used).
    public init(hex: String) {
        self.hex = hex
    }

    init(_ oid: UnsafePointer<git_oid>) {
        var buf = [CChar](repeating: 0, count: 41)
        git_oid_tostr(&buf, 41, oid)
        hex = String(cString: buf)
    }

    func withOID<T>(_ body: (UnsafePointer<git_oid>) throws(GitError) -> T) throws(GitError) -> T {
        var oid = git_oid()
        guard git_oid_fromstr(&oid, hex) == 0 else {
            throw GitError(code: -1, function: "git_oid_fromstr", subject: hex, message: "not an object id")
        }
        return try body(&oid)
    }
}

/// A libgit2 failure: the function, what it was applied to, libgit2's own message and code.
public struct GitError: Error, Sendable, CustomStringConvertible {
    public let code: Int32
    public let function: String
    public let subject: String
    public let message: String

    /// True when libgit2 said the object, reference or revision does not exist.
    public var isNotFound: Bool { code == GIT_ENOTFOUND.rawValue }

    public var description: String { "\(function)(\(subject)): \(message) [\(code)]" }
}

/// Checks a libgit2 return code, reading libgit2's thread-local message at once (no suspension point may come
/// between the call and this check).
@discardableResult
func check(_ rc: Int32, _ function: StaticString, _ subject: String) throws(GitError) -> Int32 {
    guard rc < 0 else { return rc }
    let message = git_error_last().map { String(cString: $0.pointee.message) } ?? "unknown error"
    throw GitError(code: rc, function: "\(function)", subject: subject, message: message)
}

/// One file of a commit's tree.
public struct TreeFile: Sendable, Hashable {
    /// Relative to the listed directory, `/`-separated.
    public let path: String
    /// git's file mode: 0o100644, 0o100755 or 0o120000 (submodules are skipped).
    public let mode: UInt32
    public let blob: ObjectID
}

/// One changed path between two trees, or between HEAD and the working tree.
public struct FileChange: Sendable, Hashable {
    public enum Status: String, Sendable {
        case added, deleted, modified, renamed, copied, typeChanged = "type-changed", untracked, ignored
    }

    public let status: Status
    /// The path before (equal to `newPath` unless renamed or copied).
    public let oldPath: String
    /// The path after.
    public let newPath: String
}

/// An open repository. Owns its `git_repository*`; not thread-safe, so deliberately not `Sendable`:
/// open one per task.
public final class GitRepository {
    private let raw: OpaquePointer
    private static let initialized: Int32 = git_libgit2_init()

    /// Opens the repository containing `path` (searching upwards, as `git` does).
    public init(discoveringFrom path: String) throws(GitError) {
        _ = GitRepository.initialized
        var handle: OpaquePointer?
        try check(git_repository_open_ext(&handle, path, 0, nil), "git_repository_open_ext", path)
        guard let handle else {
            throw GitError(code: -1, function: "git_repository_open_ext", subject: path, message: "no repository")
        }
        raw = handle
    }

    deinit { git_repository_free(raw) }

    /// The working directory (no trailing slash), or nil for a bare repository.
    public var workdir: String? {
        guard let p = git_repository_workdir(raw) else { return nil }
        var s = String(cString: p)
        while s.count > 1 && s.hasSuffix("/") { s.removeLast() }
        return s
    }

    /// The fetch URL of a remote (`origin`), or nil when there is no such remote.
    public func remoteURL(_ name: String) -> String? {
        var remote: OpaquePointer?
        guard git_remote_lookup(&remote, raw, name) == 0, let remote else { return nil }
        defer { git_remote_free(remote) }
        return git_remote_url(remote).map { String(cString: $0) }
    }

    /// Whether this is a shallow clone (its history may not reach a merge-base).
    public var isShallow: Bool { git_repository_is_shallow(raw) == 1 }

    /// Whether HEAD points at a commit rather than a branch.
    public var isHeadDetached: Bool { git_repository_head_detached(raw) == 1 }

    /// The short name of the branch HEAD points at, or nil when detached or unborn.
    public var currentBranch: String? {
        var ref: OpaquePointer?
        guard git_repository_head(&ref, raw) == 0, let ref else { return nil }
        defer { git_reference_free(ref) }
        guard git_reference_is_branch(ref) == 1, let name = git_reference_shorthand(ref) else { return nil }
        return String(cString: name)
    }

    /// Resolves any revspec (`HEAD~3`, a tag, a branch, `origin/main`, an id) to a commit.
    public func commit(_ revspec: String) throws(GitError) -> ObjectID {
        var object: OpaquePointer?
        try check(git_revparse_single(&object, raw, revspec), "git_revparse_single", revspec)
        defer { git_object_free(object) }
        var commit: OpaquePointer?
        try check(git_object_peel(&commit, object, GIT_OBJECT_COMMIT), "git_object_peel", revspec)
        defer { git_object_free(commit) }
        return ObjectID(git_object_id(commit))
    }

    /// The tags (short names, sorted) that point at a commit, annotated tags peeled.
    public func tags(pointingAt commit: ObjectID) throws(GitError) -> [String] {
        var names = git_strarray()
        try check(git_tag_list(&names, raw), "git_tag_list", "refs/tags")
        defer { git_strarray_dispose(&names) }
        var out: [String] = []
        for i in 0..<names.count {
            guard let p = names.strings[i] else { continue }
            let name = String(cString: p)
            if let id = try? self.commit("refs/tags/" + name), id == commit { out.append(name) }
        }
        return out.sorted()
    }

    /// Whether a revspec resolves to a commit.
    public func resolves(_ revspec: String) -> Bool {
        (try? commit(revspec)) != nil
    }

    /// The best common ancestor of two commits, or nil when their histories do not meet (here).
    public func mergeBase(_ a: ObjectID, _ b: ObjectID) throws(GitError) -> ObjectID? {
        var out = git_oid()
        let rc = try a.withOID { (pa) throws(GitError) in
            try b.withOID { (pb) throws(GitError) in git_merge_base(&out, raw, pa, pb) }
        }
        if rc == GIT_ENOTFOUND.rawValue { return nil }
        try check(rc, "git_merge_base", "\(a.short) \(b.short)")
        return ObjectID(&out)
    }

    /// The committer time of a commit, in seconds since the epoch.
    public func commitTime(_ id: ObjectID) throws(GitError) -> Int64 {
        try withCommit(id) { git_commit_time($0) }
    }

    private func withCommit<T>(_ id: ObjectID, _ body: (OpaquePointer) throws(GitError) -> T) throws(GitError) -> T {
        var commit: OpaquePointer?
        try id.withOID { (oid) throws(GitError) in
            try check(git_commit_lookup(&commit, raw, oid), "git_commit_lookup", id.hex)
        }
        defer { git_commit_free(commit) }
        return try body(commit!)
    }

    private func withTree<T>(_ commitID: ObjectID, _ body: (OpaquePointer) throws(GitError) -> T) throws(GitError) -> T {
        try withCommit(commitID) { (commit) throws(GitError) in
            var tree: OpaquePointer?
            try check(git_commit_tree(&tree, commit), "git_commit_tree", commitID.hex)
            defer { git_tree_free(tree) }
            return try body(tree!)
        }
    }

    /// Every file under `directory` (relative to the repository root; "" for the root) at a commit, straight
    /// from the tree objects: paths, modes and blob ids, no blob is read. An absent directory gives [].
    public func files(at commitID: ObjectID, under directory: String) throws(GitError) -> [TreeFile] {
        try withTree(commitID) { (root) throws(GitError) in
            var out: [TreeFile] = []
            if directory.isEmpty || directory == "." {
                try collect(root, prefix: "", into: &out)
                return out
            }
            var entry: OpaquePointer?
            let rc = git_tree_entry_bypath(&entry, root, directory)
            if rc == GIT_ENOTFOUND.rawValue { return [] }
            try check(rc, "git_tree_entry_bypath", directory)
            defer { git_tree_entry_free(entry) }
            guard git_tree_entry_type(entry) == GIT_OBJECT_TREE else { return [] }
            var sub: OpaquePointer?
            try check(git_tree_lookup(&sub, raw, git_tree_entry_id(entry)), "git_tree_lookup", directory)
            defer { git_tree_free(sub) }
            try collect(sub!, prefix: "", into: &out)
            return out
        }
    }

    private func collect(_ tree: OpaquePointer, prefix: String, into out: inout [TreeFile]) throws(GitError) {
        for i in 0..<git_tree_entrycount(tree) {
            if let entry = git_tree_entry_byindex(tree, i) { try collectFiles(raw, entry, prefix: prefix, into: &out) }
        }
    }

    /// The blob id of a file at a commit, or nil when the path is absent or not a file.
    public func blobID(at commitID: ObjectID, path: String) throws(GitError) -> ObjectID? {
        try entryID(at: commitID, path: path, type: GIT_OBJECT_BLOB)
    }

    /// The tree id of a directory at a commit ("" for the root), or nil when the path is absent or not a
    /// directory. Equal ids mean equal contents, down to every file's mode and bytes.
    public func treeID(at commitID: ObjectID, path: String) throws(GitError) -> ObjectID? {
        try entryID(at: commitID, path: path, type: GIT_OBJECT_TREE)
    }

    /// The id of the entry at `path` when it is of `type`; the root tree for "" or ".".
    private func entryID(at commitID: ObjectID, path: String, type: git_object_t) throws(GitError) -> ObjectID? {
        try withTree(commitID) { (root) throws(GitError) in
            if path.isEmpty || path == "." { return type == GIT_OBJECT_TREE ? ObjectID(git_tree_id(root)) : nil }
            var entry: OpaquePointer?
            let rc = git_tree_entry_bypath(&entry, root, path)
            if rc == GIT_ENOTFOUND.rawValue { return nil }
            try check(rc, "git_tree_entry_bypath", path)
            defer { git_tree_entry_free(entry) }
            guard git_tree_entry_type(entry) == type else { return nil }
            return ObjectID(git_tree_entry_id(entry))
        }
    }

    /// A blob's bytes, from the object database.
    public func blob(_ id: ObjectID) throws(GitError) -> [UInt8] {
        var blob: OpaquePointer?
        try id.withOID { (oid) throws(GitError) in try check(git_blob_lookup(&blob, raw, oid), "git_blob_lookup", id.hex) }
        defer { git_blob_free(blob) }
        let size = Int(git_blob_rawsize(blob))
        guard size > 0, let content = git_blob_rawcontent(blob) else { return [] }
        return Array(UnsafeRawBufferPointer(start: content, count: size))
    }

    /// The changes between two commits' trees, sorted by path bytes, with rename detection as `git diff -M`:
    /// a file deleted at one path and added with the same content at another is one rename, and so is one
    /// whose content is at least 50% similar (libgit2's similarity, run over the unpaired paths only).
    ///
    /// Subtrees with the same id at both sides are skipped without being read, as git does, so the cost
    /// follows the size of the change rather than the size of the tree.
    public func changes(from old: ObjectID, to new: ObjectID) throws(GitError) -> [FileChange] {
        try withTree(old) { (oldTree) throws(GitError) in
            try withTree(new) { (newTree) throws(GitError) in
                var walk = TreeDiff()
                try walk.compare(repository: raw, oldTree, newTree, prefix: "")
                let changes = walk.result()
                // Files moved and edited: libgit2's similarity detection, over just the unpaired paths.
                let added = changes.filter { $0.status == .added }.map(\.newPath)
                let deleted = changes.filter { $0.status == .deleted }.map(\.oldPath)
                guard !added.isEmpty, !deleted.isEmpty else { return changes }
                let renames = try similarRenames(oldTree, newTree, paths: added + deleted)
                guard !renames.isEmpty else { return changes }
                let from = Set(renames.map(\.oldPath)), to = Set(renames.map(\.newPath))
                let kept = changes.filter { c in
                    !(c.status == .added && to.contains(c.newPath)) && !(c.status == .deleted && from.contains(c.oldPath))
                }
                return (kept + renames).sorted { $0.newPath.utf8.lexicographicallyPrecedes($1.newPath.utf8) }
            }
        }
    }

    /// The renames libgit2 finds (content at least 50% similar, as `git diff -M`) among the given paths.
    private func similarRenames(_ oldTree: OpaquePointer, _ newTree: OpaquePointer, paths: [String]) throws(GitError) -> [FileChange] {
        var opts = git_diff_options()
        try check(git_diff_options_init(&opts, UInt32(GIT_DIFF_OPTIONS_VERSION)), "git_diff_options_init", "")
        opts.flags |= GIT_DIFF_DISABLE_PATHSPEC_MATCH.rawValue
        var diff: OpaquePointer?
        try withPathspec(paths) { (pathspec) throws(GitError) in
            opts.pathspec = pathspec
            try check(git_diff_tree_to_tree(&diff, raw, oldTree, newTree, &opts), "git_diff_tree_to_tree", "renames")
        }
        defer { git_diff_free(diff) }
        var find = git_diff_find_options()
        try check(git_diff_find_options_init(&find, UInt32(GIT_DIFF_FIND_OPTIONS_VERSION)), "git_diff_find_options_init", "")
        find.flags = GIT_DIFF_FIND_RENAMES.rawValue
        try check(git_diff_find_similar(diff, &find), "git_diff_find_similar", "")
        var out: [FileChange] = []
        for i in 0..<git_diff_num_deltas(diff) {
            if let d = git_diff_get_delta(diff, i)?.pointee, d.status == GIT_DELTA_RENAMED, let change = FileChange(d) { out.append(change) }
        }
        return out
    }

    /// Uncommitted changes: HEAD to index to working tree, untracked files included; ignored files too when
    /// `includeIgnored` (as `.ignored`). `under` limits the walk to one directory (relative to the root).
    public func workingTreeChanges(includeIgnored: Bool = false, under directory: String? = nil) throws(GitError) -> [FileChange] {
        var opts = git_status_options()
        try check(git_status_options_init(&opts, UInt32(GIT_STATUS_OPTIONS_VERSION)), "git_status_options_init", "")
        opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR
        opts.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED.rawValue | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS.rawValue
            | GIT_STATUS_OPT_RENAMES_HEAD_TO_INDEX.rawValue | GIT_STATUS_OPT_SORT_CASE_SENSITIVELY.rawValue
        if includeIgnored { opts.flags |= GIT_STATUS_OPT_INCLUDE_IGNORED.rawValue | GIT_STATUS_OPT_RECURSE_IGNORED_DIRS.rawValue }
        var list: OpaquePointer?
        let paths = directory.map { $0.isEmpty || $0 == "." ? [] : [$0] } ?? []
        if !paths.isEmpty { opts.flags |= GIT_STATUS_OPT_DISABLE_PATHSPEC_MATCH.rawValue }
        try withPathspec(paths) { (pathspec) throws(GitError) in
            opts.pathspec = pathspec
            try check(git_status_list_new(&list, raw, &opts), "git_status_list_new", workdir ?? "")
        }
        defer { git_status_list_free(list) }
        var out: [FileChange] = []
        for i in 0..<git_status_list_entrycount(list) {
            guard let entry = git_status_byindex(list, i)?.pointee else { continue }
            for delta in [entry.head_to_index, entry.index_to_workdir].compactMap({ $0?.pointee }) {
                if let change = FileChange(delta) { out.append(change) }
            }
        }
        return out
    }

}

@available(*, unavailable) extension GitRepository: Sendable {}

extension TreeFile {
    /// Whether a tree entry mode is listed as a file: regular, executable, symlink, or a submodule (0o160000,
    /// whose "blob" is the commit it pins) — not a directory.
    static func isFile(mode: UInt32) -> Bool { mode == 0o100644 || mode == 0o100755 || mode == 0o120000 || mode == 0o160000 }
}

/// Calls `body` with `paths` as a libgit2 pathspec (empty: no pathspec), valid only during the call.
private func withPathspec(_ paths: [String], _ body: (git_strarray) throws(GitError) -> Void) throws(GitError) {
    var strings: [UnsafeMutablePointer<CChar>?] = paths.map { strdup($0) }
    defer { for p in strings { free(p) } }
    try strings.withUnsafeMutableBufferPointer { (buffer) throws(GitError) in
        try body(paths.isEmpty ? git_strarray() : git_strarray(strings: buffer.baseAddress, count: buffer.count))
    }
}

/// Every file under a tree entry (the entry itself when it is a file), paths under `prefix`; a submodule
/// (0o160000) is one entry whose id is the commit it pins.
private func collectFiles(_ repository: OpaquePointer, _ entry: OpaquePointer, prefix: String, into out: inout [TreeFile]) throws(GitError) {
    let name = String(cString: git_tree_entry_name(entry))
    let path = prefix.isEmpty ? name : prefix + "/" + name
    let mode = UInt32(git_tree_entry_filemode(entry).rawValue)
    if git_tree_entry_type(entry) == GIT_OBJECT_TREE {
        var sub: OpaquePointer?
        try check(git_tree_lookup(&sub, repository, git_tree_entry_id(entry)), "git_tree_lookup", path)
        defer { git_tree_free(sub) }
        for k in 0..<git_tree_entrycount(sub) {
            if let child = git_tree_entry_byindex(sub, k) { try collectFiles(repository, child, prefix: path, into: &out) }
        }
    } else if TreeFile.isFile(mode: mode) {
        out.append(TreeFile(path: path, mode: mode, blob: ObjectID(git_tree_entry_id(entry))))
    }
}

/// A tree-to-tree comparison: the files each side has that the other lacks or holds differently.
struct TreeDiff {
    private var deleted: [TreeFile] = []
    private var added: [TreeFile] = []
    private var modified: [FileChange] = []

    /// Walks two trees in step (entries are sorted alike in both), descending only into subtrees whose ids differ.
    mutating func compare(repository: OpaquePointer, _ old: OpaquePointer, _ new: OpaquePointer, prefix: String) throws(GitError) {
        let oldCount = git_tree_entrycount(old), newCount = git_tree_entrycount(new)
        var i = 0, j = 0
        while i < oldCount || j < newCount {
            let a = i < oldCount ? git_tree_entry_byindex(old, i) : nil
            let b = j < newCount ? git_tree_entry_byindex(new, j) : nil
            let order: Int32 = a == nil ? 1 : b == nil ? -1 : git_tree_entry_cmp(a, b)
            if order < 0 {
                try collectFiles(repository, a!, prefix: prefix, into: &deleted)
                i += 1
            } else if order > 0 {
                try collectFiles(repository, b!, prefix: prefix, into: &added)
                j += 1
            } else {
                let (a, b) = (a!, b!)
                i += 1
                j += 1
                let sameID = git_oid_equal(git_tree_entry_id(a), git_tree_entry_id(b)) == 1
                let modeA = UInt32(git_tree_entry_filemode(a).rawValue), modeB = UInt32(git_tree_entry_filemode(b).rawValue)
                if sameID && modeA == modeB { continue }
                let name = String(cString: git_tree_entry_name(a))
                let path = prefix.isEmpty ? name : prefix + "/" + name
                // Same name and both directories (a directory sorts as `name/`, so a file never meets one here).
                if git_tree_entry_type(a) == GIT_OBJECT_TREE {
                    var oldSub: OpaquePointer?, newSub: OpaquePointer?
                    try check(git_tree_lookup(&oldSub, repository, git_tree_entry_id(a)), "git_tree_lookup", path)
                    defer { git_tree_free(oldSub) }
                    try check(git_tree_lookup(&newSub, repository, git_tree_entry_id(b)), "git_tree_lookup", path)
                    defer { git_tree_free(newSub) }
                    try compare(repository: repository, oldSub!, newSub!, prefix: path)
                    continue
                }
                guard TreeFile.isFile(mode: modeA), TreeFile.isFile(mode: modeB) else { continue }
                let kindChanged = (modeA == 0o120000) != (modeB == 0o120000)
                modified.append(FileChange(status: kindChanged ? .typeChanged : .modified, oldPath: path, newPath: path))
            }
        }
    }

    /// The changes, sorted by (new) path bytes; deletions and additions of the same content pair up as renames.
    func result() -> [FileChange] {
        var out = modified
        var unpaired: [String: [TreeFile]] = [:]
        for d in deleted { unpaired["\(d.blob.hex) \(d.mode == 0o120000)", default: []].append(d) }
        for (key, list) in unpaired { unpaired[key] = Array(list.reversed()) }  // popLast takes the first by path
        for a in added {
            let key = "\(a.blob.hex) \(a.mode == 0o120000)"
            if let from = unpaired[key]?.popLast() {
                out.append(FileChange(status: .renamed, oldPath: from.path, newPath: a.path))
            } else {
                out.append(FileChange(status: .added, oldPath: a.path, newPath: a.path))
            }
        }
        for list in unpaired.values {
            for d in list { out.append(FileChange(status: .deleted, oldPath: d.path, newPath: d.path)) }
        }
        return out.sorted { $0.newPath.utf8.lexicographicallyPrecedes($1.newPath.utf8) }
    }
}

extension FileChange {
    init?(_ d: git_diff_delta) {
        let status: Status
        switch d.status {
        case GIT_DELTA_ADDED: status = .added
        case GIT_DELTA_DELETED: status = .deleted
        case GIT_DELTA_MODIFIED: status = .modified
        case GIT_DELTA_RENAMED: status = .renamed
        case GIT_DELTA_COPIED: status = .copied
        case GIT_DELTA_TYPECHANGE: status = .typeChanged
        case GIT_DELTA_UNTRACKED: status = .untracked
        case GIT_DELTA_IGNORED: status = .ignored
        default: return nil
        }
        let old = d.old_file.path.map { String(cString: $0) } ?? ""
        let new = d.new_file.path.map { String(cString: $0) } ?? old
        self.init(status: status, oldPath: old.isEmpty ? new : old, newPath: new)
    }
}
