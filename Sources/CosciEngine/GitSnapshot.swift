import CosciGit
import CosciManifest
import CosciModel
import Foundation

/// A project as of a commit, read straight from git's object database: the file list comes from tree
/// objects (no blob is read for it), and the loader's reads go to a repository handle behind a lock.
struct GitCommitSnapshot: TreeSnapshot {
    let files: [SnapshotFile]
    let commit: ObjectID
    /// Blob ids of the project files the loader may read besides the tree (values files), by path.
    let extraBlobs: [String: String]
    /// Blob ids of `files` by path.
    let index: [String: String]
    let reader: LockedBlobReader

    /// Lists `projectPrefix + tree` at `commit` for each of `trees`; `valuesFiles` are looked up too.
    init(repositoryPath: String, repository: GitRepository, commit: ObjectID, projectPrefix: String, trees: [String], valuesFiles: [String])
        throws(GitError)
    {
        var files: [SnapshotFile] = []
        for tree in trees {
            let treePrefix = TreePaths.prefix(tree)
            let listed = try repository.files(at: commit, under: projectPrefix + String(treePrefix.dropLast()))
            // Git's tree order, flattened, is the byte order of full paths (a directory sorts as its name plus
            // "/"), so one tree's listing needs no sort.
            files += listed.compactMap { f in
                FileKind(gitMode: f.mode).map { SnapshotFile(path: treePrefix + f.path, kind: $0, blobID: f.blob.hex) }
            }
        }
        if trees.count > 1 { files.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) } }
        try self.init(repositoryPath: repositoryPath, repository: repository, commit: commit, projectPrefix: projectPrefix, files: files, valuesFiles: valuesFiles)
    }

    /// Only some directories and files of the project at `commit` (paths relative to the project root): what a
    /// load of a few package directories needs, without listing the whole tree.
    init(
        repositoryPath: String, repository: GitRepository, commit: ObjectID, projectPrefix: String, directories: [String], files extraFiles: [String],
        valuesFiles: [String]
    ) throws(GitError) {
        var files: [SnapshotFile] = []
        for dir in directories {
            for f in try repository.files(at: commit, under: projectPrefix + dir) {
                if let kind = FileKind(gitMode: f.mode) { files.append(SnapshotFile(path: dir + "/" + f.path, kind: kind, blobID: f.blob.hex)) }
            }
        }
        for path in extraFiles where !directories.contains(where: { path.hasPrefix($0 + "/") }) {
            if let blob = try repository.blobID(at: commit, path: projectPrefix + path) {
                files.append(SnapshotFile(path: path, kind: .regular, blobID: blob.hex))
            }
        }
        files.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        try self.init(repositoryPath: repositoryPath, repository: repository, commit: commit, projectPrefix: projectPrefix, files: files, valuesFiles: valuesFiles)
    }

    private init(
        repositoryPath: String, repository: GitRepository, commit: ObjectID, projectPrefix: String, files: [SnapshotFile], valuesFiles: [String]
    ) throws(GitError) {
        self.files = files
        var extra: [String: String] = [:]
        for file in valuesFiles where !file.hasPrefix("/") {
            if let blob = try repository.blobID(at: commit, path: projectPrefix + file) { extra[file] = blob.hex }
        }
        extraBlobs = extra
        index = Dictionary(files.map { ($0.path, $0.blobID ?? "") }, uniquingKeysWith: { a, _ in a })
        self.commit = commit
        reader = LockedBlobReader(repositoryPath: repositoryPath)
    }

    func read(_ path: String, kind: FileKind) throws(Diagnostic) -> [UInt8] {
        if path.hasPrefix("/") { return try ManifestFiles.read(path) }
        let blob = extraBlobs[path] ?? index[path]
        guard let blob else {
            throw Diagnostic(at: SourceLocation(file: path, line: 0), "not found in commit \(commit.short)")
        }
        do {
            return try reader.blob(ObjectID(hex: blob))
        } catch {
            throw Diagnostic(at: SourceLocation(file: path, line: 0), "cannot read from commit \(commit.short): \(error)")
        }
    }

}

/// Reads blobs for several loader threads through one repository handle.
/// `@unchecked Sendable`: `lock` serialises every use of `repository`, which is opened lazily under it.
final class LockedBlobReader: @unchecked Sendable {
    private let repositoryPath: String
    private let lock = NSLock()
    private var repository: GitRepository?

    init(repositoryPath: String) {
        self.repositoryPath = repositoryPath
    }

    func blob(_ id: ObjectID) throws(GitError) -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        if repository == nil { repository = try GitRepository(discoveringFrom: repositoryPath) }
        return try repository!.blob(id)
    }
}
