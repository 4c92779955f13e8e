#if canImport(Glibc)
    import Glibc
#endif
import CosciArchive
import Foundation

/// File-system helpers of the build: staging the package directory, and the before/after comparison that finds
/// what the steps added or modified.
enum FileTree {
    /// Creates a directory and its parents.
    static func makeDirectory(_ path: String) throws(BuildFailure) {
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        } catch {
            throw BuildFailure(.environment, "cannot create \(path): \(error.localizedDescription)")
        }
    }

    /// Copies `files` (relative paths) from `source` to `destination`, keeping symlinks. Regular files get the
    /// mode git records (0755 when executable, else 0644), not whatever the checkout's umask left: the key
    /// hashes git's mode, so the build must see the same.
    static func copy(_ files: [String], from source: String, to destination: String) throws(BuildFailure) {
        for rel in files {
            let from = source + "/" + rel
            let to = destination + "/" + rel
            try makeDirectory((to as NSString).deletingLastPathComponent)
            try copyItem(from, to)
            var st = stat()
            if lstat(to, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG {
                chmod(to, (st.st_mode & 0o100) != 0 ? 0o755 : 0o644)
            }
        }
    }

    /// Copies one file, directory or symlink (recursively), replacing what is at `to`.
    static func copyItem(_ from: String, _ to: String) throws(BuildFailure) {
        var st = stat()
        if lstat(to, &st) == 0 { try? FileManager.default.removeItem(atPath: to) }
        do {
            try FileManager.default.copyItem(atPath: from, toPath: to)
        } catch {
            throw BuildFailure(.environment, "cannot copy \(from) to \(to): \(error.localizedDescription)")
        }
    }

    /// Unpacks the build dependencies' artifacts into `root`, in order (later ones over earlier ones).
    static func layerDependencies(_ job: BuildJob, into root: String, log: LogFile) throws(BuildFailure) {
        for artifact in job.dependencyArtifacts {
            log.note("layer \((artifact as NSString).lastPathComponent)")
            let options = ExtractOptions(ownerOffset: SandboxUsers.ownerOffset)
            do { _ = try TarArchive.extract(artifact, into: root, options: options) } catch {
                throw BuildFailure(.environment, "cannot unpack the dependency \(artifact): \(error)")
            }
        }
    }

    /// Places each `copy:` source, taken from its package's artifact, at the host path `target` gives for its
    /// destination. A destination with a `..` component is the spec's error.
    static func placeCopies(
        _ job: BuildJob, log: LogFile, target: (ResolvedCopy) -> String
    ) throws(BuildFailure) {
        for (i, c) in job.copies.enumerated() {
            guard !c.destination.split(separator: "/").contains("..") else {
                throw BuildFailure(.spec, "\(job.id): copy: destination \(c.destination) leaves the build's filesystem")
            }
            let scratch = job.workDirectory + "/copy-\(i)"
            let options = ExtractOptions(ownerOffset: SandboxUsers.ownerOffset)
            do { _ = try TarArchive.extract(c.artifact, into: scratch, options: options) } catch {
                throw BuildFailure(.environment, "cannot unpack \(c.artifact) for copy: \(error)")
            }
            let source = scratch + "/" + c.source.trimmingPrefix("/")
            var st = stat()
            guard lstat(source, &st) == 0 else {
                throw BuildFailure(.step, "\(job.id): copy: \(c.source) is not in the artifact of \(c.package)")
            }
            let destination = target(c)
            log.note("copy \(c.package):\(c.source) → \(c.destination)")
            try makeDirectory((destination as NSString).deletingLastPathComponent)
            try copyItem(source, destination)
            try? FileManager.default.removeItem(atPath: scratch)
        }
    }

    /// Hands everything under `root` (and `root`) that cosci made to the sandbox's users: owners below
    /// `ownerOffset` are raised by it (entries unpacked with the offset already are left as they are). Modes are
    /// restored after the change of owner (which clears setuid and setgid bits). Nothing to do when the offset is 0.
    static func adopt(_ root: String, ownerOffset: Int64) throws(BuildFailure) {
        guard ownerOffset != 0 else { return }
        let offset = UInt32(ownerOffset)
        try remapOwners(root, { $0 < offset ? $0 &+ offset : nil }, failure: { "cannot hand \($0) to the build sandbox" })
    }

    /// Undoes `adopt`: ids shifted up by `ownerOffset` are shifted back down (what the sandbox's root made is
    /// owned by root again).
    static func release(_ root: String, ownerOffset: Int64) throws(BuildFailure) {
        guard ownerOffset != 0 else { return }
        let offset = UInt32(ownerOffset)
        let range = offset..<(offset &+ SandboxUsers.count)
        try remapOwners(root, { range.contains($0) ? $0 &- offset : nil }, failure: { "cannot take \($0) back from the sandbox" })
    }

    /// Changes the owner and group of `root` and everything under it by `map` (nil: an id left as it is),
    /// restoring modes a change of owner clears; `failure` names the first path that could not be changed.
    private static func remapOwners(_ root: String, _ map: (UInt32) -> UInt32?, failure: (String) -> String) throws(BuildFailure) {
        func shift(_ path: String, _ st: stat) -> Bool {
            let uid = map(st.st_uid), gid = map(st.st_gid)
            guard uid != nil || gid != nil else { return true }
            guard lchown(path, uid ?? st.st_uid, gid ?? st.st_gid) == 0 else { return false }
            if (st.st_mode & S_IFMT) != S_IFLNK && (st.st_mode & 0o6000) != 0 { chmod(path, st.st_mode & 0o7777) }
            return true
        }
        var st = stat()
        var failed: String?
        if lstat(root, &st) == 0, !shift(root, st) { failed = root }
        walk(root, "") { rel, st in
            if failed == nil, !shift(root + "/" + rel, st) { failed = root + "/" + rel }
        }
        if let failed {
            throw BuildFailure(.environment, failure(failed) + ": \(String(cString: strerror(errno)))")
        }
    }

    /// What identifies a file's state closely enough to see a modification.
    struct Stamp: Equatable {
        let mode: UInt32
        let size: Int64
        let mtimeSeconds: Int
        let mtimeNanoseconds: Int
        let inode: UInt64
        let uid: UInt32
        let gid: UInt32
    }

    /// Every path under `root` (relative) with its stamp.
    static func snapshot(_ root: String) -> [String: Stamp] {
        var out: [String: Stamp] = [:]
        walk(root, "") { rel, st in
            out[rel] = Stamp(
                mode: st.st_mode, size: Int64(st.st_size), mtimeSeconds: st.st_mtim.tv_sec,
                mtimeNanoseconds: st.st_mtim.tv_nsec, inode: UInt64(st.st_ino), uid: st.st_uid, gid: st.st_gid)
        }
        return out
    }

    /// The paths under `root` that are new or whose stamp differs from `before` (directories only when new).
    static func changed(since before: [String: Stamp], in root: String) -> Set<String> {
        changed(from: before, to: snapshot(root))
    }

    /// The paths of `after` that are new or whose stamp differs from `before` (directories only when new).
    static func changed(from before: [String: Stamp], to after: [String: Stamp]) -> Set<String> {
        var out = Set<String>()
        for (path, stamp) in after {
            guard let old = before[path] else {
                out.insert(path)
                continue
            }
            let isDirectory = (stamp.mode & S_IFMT) == S_IFDIR
            if !isDirectory && old != stamp { out.insert(path) }
        }
        return out
    }

    private static func walk(_ root: String, _ rel: String, _ visit: (String, stat) -> Void) {
        let dirPath = rel.isEmpty ? root : root + "/" + rel
        guard let dir = opendir(dirPath) else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            let childRel = rel.isEmpty ? name : rel + "/" + name
            var st = stat()
            guard lstat(root + "/" + childRel, &st) == 0 else { continue }
            visit(childRel, st)
            if (st.st_mode & S_IFMT) == S_IFDIR { walk(root, childRel, visit) }
        }
    }
}
