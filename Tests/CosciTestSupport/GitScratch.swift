import Foundation

/// A scratch git repository driven by the `git` command line — the independent oracle for what libgit2
/// reads — optionally holding a copy of a tree. Every git command must succeed (its stderr is the error);
/// commits are made by a fixed author at fixed dates: `epoch` for every commit when given, else one minute
/// apart from 2026-01-01. The directory is removed when the fixture goes away.
public final class GitScratch: @unchecked Sendable {
    // @unchecked: `tick` is touched by the test that owns the fixture only.
    public let root: URL
    private let epoch: Int?
    private var tick = 0

    /// A repository on branch `main`; with `tree`, a copy of it (without `.cosci` and `dist`) committed as
    /// "initial", the files made under `umask` as a checkout on such a machine would be.
    public init(copying tree: URL? = nil, umask mask: String = "022", epoch: Int? = nil) throws {
        root = try TestPaths.temporaryDirectory("cosci-git")
        self.epoch = epoch
        if let tree {
            try shell(
                "umask \(mask) && tar -C '\(tree.path)' --exclude=./.cosci --exclude=./dist -cf - . | tar --no-same-permissions -C '\(root.path)' -xf -")
        }
        try git("init", "-q", "-b", "main")
        if tree != nil { try commitAll("initial") }
    }

    /// Takes over a directory that already holds a repository (removed with the fixture).
    public init(adopting directory: URL, epoch: Int? = nil) {
        root = directory
        self.epoch = epoch
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    /// Runs `git` in the repository (or `dir`); its stdout, trimmed.
    @discardableResult
    public func git(_ args: String..., in dir: URL? = nil) throws -> String {
        try git(args, in: dir)
    }

    @discardableResult
    public func git(_ args: [String], in dir: URL? = nil) throws -> String {
        tick += 1
        let date = epoch.map { "@\($0) +0000" } ?? "2026-01-01T00:\(String(format: "%02d", tick % 60)):00Z"
        let r = try runTool(
            "/usr/bin/git", args, cwd: dir ?? root,
            environment: [
                "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com", "GIT_COMMITTER_NAME": "Test",
                "GIT_COMMITTER_EMAIL": "test@example.com", "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date,
                "HOME": root.path, "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin",
            ])
        guard r.status == 0 else { throw TestSupportError("git \(args.joined(separator: " ")): \(r.stderr)") }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Commits everything (an empty commit when nothing changed); the new head's id.
    @discardableResult
    public func commitAll(_ message: String) throws -> String {
        try git("add", "-A")
        try git("commit", "-q", "--allow-empty", "-m", message)
        return try git("rev-parse", "HEAD")
    }

    public func path(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    public func write(_ relative: String, _ text: String, mode: Int = 0o644) throws {
        let url = path(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path)
    }

    public func read(_ relative: String) throws -> String {
        try String(contentsOf: path(relative), encoding: .utf8)
    }

    public func append(_ relative: String, _ text: String) throws {
        try write(relative, try read(relative) + text)
    }

    /// Replaces `old` (which must be there) with `new` in a file.
    public func replace(_ relative: String, _ old: String, _ new: String) throws {
        let text = try read(relative)
        guard text.contains(old) else { throw TestSupportError("\(relative) does not contain \(old)") }
        try write(relative, text.replacingOccurrences(of: old, with: new))
    }

    public func move(_ from: String, _ to: String) throws {
        let dest = path(to)
        try FileManager.default.createDirectory(at: dest.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: path(from), to: dest)
    }

    public func remove(_ relative: String) throws {
        try FileManager.default.removeItem(at: path(relative))
    }
}
