#if canImport(Glibc)
    import Glibc
#endif
import CosciArchive
import CosciFiles
import CosciModel
import CosciYAML
import CosciRepository
import Foundation
import Synchronization

/// The local artifact cache: a content-addressed directory. The artifact of key `sha256:<hex>` lives in
/// `<root>/<hex[0..<2]>/<hex>/`: the artifact file and `metadata.yaml`. An entry is assembled in a temporary
/// directory beside it and renamed into place, so an entry that exists is complete.
///
/// Safe for several cosci processes at once: building a key holds `<root>/locks/<hex>.lock` (flock), so a
/// second process waits and then finds the artifact; `gc` holds `<root>/locks/gc.lock` exclusively while
/// builds hold it shared.
public struct LocalCache: Sendable {
    public let root: String

    public init(root: String) {
        self.root = root
    }

    /// Where the artifact of `key` lives.
    public func directory(for key: CacheKey) -> String {
        "\(root)/\(key.hex.prefix(2))/\(key.hex)"
    }

    /// Whether a complete artifact for `key` is present.
    public func contains(_ key: CacheKey) -> Bool {
        var st = stat()
        return stat(directory(for: key) + "/metadata.yaml", &st) == 0
    }

    /// The metadata of the artifact of `key`, or nil when absent.
    public func metadata(for key: CacheKey) throws(CacheError) -> ArtifactMetadata? {
        let file = directory(for: key) + "/metadata.yaml"
        guard let data = FileManager.default.contents(atPath: file) else { return nil }
        do {
            return try ArtifactMetadata(yaml: String(decoding: data, as: UTF8.self), file: file)
        } catch {
            throw CacheError("\(error) (delete \(directory(for: key)) and build again)")
        }
    }

    /// The artifact file of `key`'s entry, verified against its metadata (a regular file of that size and
    /// sha256) before anyone uses it; nil when there is no entry. A damaged entry is removed from the cache and
    /// reported as an error naming the file and both digests (a build then makes it again).
    public func artifact(for key: CacheKey) throws(CacheError) -> (path: String, metadata: ArtifactMetadata)? {
        guard let m = try metadata(for: key) else { return nil }
        let path = directory(for: key) + "/" + m.path
        if let damage = ArtifactCheck.damage(of: path, expected: m) {
            evict(key)
            throw CacheError(
                "the cached artifact \(path) of \(m.id) is damaged: \(damage); it was removed from the cache (build it again)")
        }
        return (path, m)
    }

    /// Whether a complete entry for `key` is present and its artifact verifies (a damaged one is removed, so that
    /// what follows builds it again). `reason` receives what was wrong with a removed entry.
    public func containsVerified(_ key: CacheKey, reason: (String) -> Void = { _ in }) -> Bool {
        guard contains(key) else { return false }
        do { return try artifact(for: key) != nil } catch {
            reason(error.message)
            return false
        }
    }

    /// Removes `key`'s entry: renamed aside first, so no reader sees half of it.
    public func evict(_ key: CacheKey) {
        let dir = directory(for: key)
        let aside = AtomicFile.temporaryPath(for: dir)
        if rename(dir, aside) == 0 { try? FileManager.default.removeItem(atPath: aside) }
    }

    /// Removes what killed or failed runs left: temporaries of dead processes in the cache (entries being
    /// stored or evicted, layers, summaries), their build work directories, publish, release and upstream
    /// download scratch directories, lock files nobody holds, and temporaries in `outputs` (reports, the repository). Safe
    /// while other cosci processes run: only what a dead process owns, or an unheld lock, goes.
    public func removeLeftovers(outputs: [String] = []) -> [String] {
        let fm = FileManager.default
        var removed: [String] = []
        var directories = [root, root + "/layers", root + "/tree"] + outputs.flatMap { [$0, $0 + "/" + Running.repositoryDirectory] }
        for name in (try? fm.contentsOfDirectory(atPath: root)) ?? [] where name.count == 2 { directories.append(root + "/" + name) }
        for name in (try? fm.contentsOfDirectory(atPath: root + "/tree")) ?? [] { directories.append(root + "/tree/" + name) }
        for dir in directories { removed += Leftovers.sweep(dir) }
        // Upstream downloads in progress (`upstream-<pid>`, next to the kept indexes in `upstream/`).
        removed += Leftovers.sweep(root) { $0.hasPrefix("upstream-") ? Leftovers.trailingOwner($0) : nil }
        for dir in outputs + outputs.map({ $0 + "/" + Running.repositoryDirectory }) {
            removed += Leftovers.sweep(dir) { $0.hasPrefix(".cosci-index-") ? Leftovers.trailingOwner($0) : nil }
        }
        let state = (root as NSString).deletingLastPathComponent
        removed += Leftovers.sweep(state + "/work", owner: Leftovers.trailingOwner)
        removed += Leftovers.sweep(state) {
            $0.hasPrefix("publish-") || $0.hasPrefix("release-") ? Leftovers.trailingOwner($0) : nil
        }
        let locks = root + "/locks"
        for name in ((try? fm.contentsOfDirectory(atPath: locks)) ?? []).sorted() where name.hasSuffix(".lock") && name != "gc.lock" {
            if FileLock.removeIfUnheld(locks + "/" + name) { removed.append(locks + "/" + name) }
        }
        return removed.sorted()
    }

    /// Every entry checked against its metadata: the damaged ones, with what is wrong. With `evict`, they are removed.
    public func verifyAll(evict: Bool) -> [(entry: Entry, damage: String)] {
        var out: [(Entry, String)] = []
        for e in entries() {
            guard let m = try? metadata(for: e.key) else { continue }
            if let damage = ArtifactCheck.damage(of: directory(for: e.key) + "/" + m.path, expected: m) {
                out.append((e, damage))
                if evict { self.evict(e.key) }
            }
        }
        return out
    }

    /// Stores a built artifact: moves `artifact` into a new entry with its metadata, atomically. When another
    /// process stored the same key meanwhile, its entry is kept (same key, same content).
    public func store(_ key: CacheKey, artifact: String, metadata: ArtifactMetadata) throws(CacheError) {
        let final = directory(for: key)
        let parent = (final as NSString).deletingLastPathComponent
        let temp = AtomicFile.temporaryPath(for: final)
        do {
            try FileManager.default.createDirectory(atPath: temp, withIntermediateDirectories: true)
        } catch {
            throw CacheError("cannot create \(temp): \(error.localizedDescription)")
        }
        if rename(artifact, temp + "/" + metadata.path) != 0 {
            // Another file system: copy instead.
            do { try FileManager.default.copyItem(atPath: artifact, toPath: temp + "/" + metadata.path) } catch {
                try? FileManager.default.removeItem(atPath: temp)
                throw CacheError("cannot store \(artifact) in the cache: \(error.localizedDescription)")
            }
        }
        do { try AtomicFile.write(temp + "/metadata.yaml", Array(metadata.yamlText.utf8)) } catch {
            try? FileManager.default.removeItem(atPath: temp)
            throw CacheError("cannot write the metadata of \(metadata.id): \(error)")
        }
        if rename(temp, final) != 0 {
            let err = errno
            try? FileManager.default.removeItem(atPath: temp)
            if contains(key) { return }  // stored meanwhile by another process
            throw CacheError("cannot move the entry of \(metadata.id) into \(final): \(String(cString: strerror(err)))")
        }
        touch(key)
    }

    /// Records that `key` was used now (what `gc` trims by).
    public func touch(_ key: CacheKey) {
        let stamp = directory(for: key) + "/used"
        let fd = open(stamp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if fd >= 0 { close(fd) }
    }

    /// Takes the lock of `key` (blocking until another process releases it).
    public func lock(_ key: CacheKey) throws(CacheError) -> FileLock {
        try FileLock(path: "\(root)/locks/\(key.hex).lock", exclusive: true)
    }

    /// The shared side of the gc lock, held by every build.
    public func buildLock() throws(CacheError) -> FileLock {
        try FileLock(path: "\(root)/locks/gc.lock", exclusive: false)
    }

    /// One entry, for `cosci cache ls`.
    public struct Entry: Sendable {
        public let key: CacheKey
        public let id: PackageID
        public let file: String
        public let size: Int64
        /// Seconds since 1970 of the last use (build or lookup by `run`).
        public let lastUsed: Int64
    }

    /// Every complete entry, sorted by package id, then key.
    public func entries() -> [Entry] {
        var out: [Entry] = []
        let fm = FileManager.default
        for prefix in ((try? fm.contentsOfDirectory(atPath: root)) ?? []).sorted() where prefix.count == 2 {
            for hex in ((try? fm.contentsOfDirectory(atPath: root + "/" + prefix)) ?? []).sorted() {
                guard let key = try? CacheKey(hex: hex), let m = try? metadata(for: key) else { continue }
                var st = stat()
                let dir = directory(for: key)
                let size: Int64 = stat(dir + "/" + m.path, &st) == 0 ? Int64(st.st_size) : 0
                let used: Int64 = stat(dir + "/used", &st) == 0 ? Int64(st.st_mtim.tv_sec) : 0
                out.append(Entry(key: key, id: m.id, file: m.path, size: size, lastUsed: used))
            }
        }
        return out.sorted { ($0.id, $0.key) < ($1.id, $1.key) }
    }

    /// Removes entries: those not used for `olderThan` seconds, then the least recently used until the cache is
    /// at most `maxSize` bytes. Keys in `keep` stay whatever their age. Returns the removed entries.
    public func collectGarbage(
        maxSize: Int64?, olderThan: Int64?, keep: Set<CacheKey>, now: Int64, dryRun: Bool
    ) throws(CacheError) -> [Entry] {
        let lock = try FileLock(path: "\(root)/locks/gc.lock", exclusive: true)
        defer { withExtendedLifetime(lock) {} }
        var entries = entries().filter { !keep.contains($0.key) }.sorted { ($0.lastUsed, $0.key) < ($1.lastUsed, $1.key) }
        var total = self.entries().reduce(Int64(0)) { $0 + $1.size }
        var removed: [Entry] = []
        func remove(_ e: Entry) {
            if !dryRun { try? FileManager.default.removeItem(atPath: directory(for: e.key)) }
            removed.append(e)
            total -= e.size
        }
        if let olderThan {
            for e in entries where now - e.lastUsed > olderThan { remove(e) }
            entries.removeAll { e in removed.contains { $0.key == e.key } }
        }
        if let maxSize {
            for e in entries where total > maxSize { remove(e) }
        }
        return removed
    }
}

/// The check of an artifact file against its metadata.
public enum ArtifactCheck {
    /// What is wrong with the file at `path` for metadata `expected` (kind, size, sha256), or nil when it is that
    /// artifact. Verified files are remembered for the life of the process by device, inode, size and change time,
    /// so a run hashes each artifact once.
    public static func damage(of path: String, expected: ArtifactMetadata) -> String? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return "it is missing (\(String(cString: strerror(errno))))" }
        guard st.st_mode & S_IFMT == S_IFREG else { return "it is not a regular file" }
        guard Int64(st.st_size) == expected.size else {
            return "its size is \(st.st_size) bytes, its metadata says \(expected.size)"
        }
        let identity = FileIdentity(
            path: path, device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
            changed: Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec), sha256: expected.sha256)
        if verified.withLock({ $0.contains(identity) }) { return nil }
        guard let actual = Digest.sha256(ofFile: path) else { return "it cannot be read" }
        guard actual == expected.sha256 else { return "its sha256 is \(actual), its metadata says \(expected.sha256)" }
        verified.withLock { _ = $0.insert(identity) }
        return nil
    }

    private struct FileIdentity: Hashable {
        let path: String
        let device: UInt64
        let inode: UInt64
        let size: Int64
        let changed: Int64
        let sha256: Digest
    }

    private static let verified = Mutex<Set<FileIdentity>>([])
}

/// Why the cache could not be read or written.
public struct CacheError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// An advisory lock on a file (flock), released on deinit.
public final class FileLock: @unchecked Sendable {
    // @unchecked: the descriptor is only closed, once, in deinit.
    let fd: Int32

    /// Opens (creating) `path` and takes the lock, waiting for it.
    public init(path: String, exclusive: Bool) throws(CacheError) {
        try? FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        // A lock file may be removed (by gc) between open and flock: then lock the new one instead.
        while true {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw CacheError("cannot open the lock \(path): \(String(cString: strerror(errno)))") }
            while flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0 {
                if errno == EINTR { continue }
                let err = errno
                close(fd)
                throw CacheError("cannot lock \(path): \(String(cString: strerror(err)))")
            }
            if Self.isCurrent(fd, path) {
                self.fd = fd
                return
            }
            close(fd)
        }
    }

    /// Whether the open file `fd` is still the file at `path`.
    private static func isCurrent(_ fd: Int32, _ path: String) -> Bool {
        var held = stat(), named = stat()
        return fstat(fd, &held) == 0 && stat(path, &named) == 0 && held.st_ino == named.st_ino && held.st_dev == named.st_dev
    }

    /// Removes the lock file at `path` when no process holds it; true when removed.
    static func removeIfUnheld(_ path: String) -> Bool {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0, isCurrent(fd, path) else { return false }
        return unlink(path) == 0
    }

    deinit { close(fd) }
}
