#if canImport(Glibc)
    import Glibc
#endif
import CosciArchive
import CosciModel
import Foundation

/// Builds on the host's own root filesystem, read-only, inside bubblewrap: the package's files in a writable
/// `/luetbuild` (the working directory), the build dependencies' artifacts unpacked read-only at
/// `/cosci/sysroot`, a private writable `/tmp`, a writable `package_dir`, no network unless allowed, and a
/// cleared environment (`PATH`, `HOME=/tmp`, `SOURCE_DATE_EPOCH`, the spec's `env`, `PACKAGE_*`).
///
/// Each prelude and step line runs as `sh -ec LINE` in a fresh sandbox over the same directories (luet runs
/// each as one `RUN`). The artifact is `package_dir`; without one, what the steps added or modified under
/// `/luetbuild` (the only writable place that outlives a build).
public struct HostSandbox: BuildBackend {
    public let name = "host-sandbox"
    /// Seconds since 1970 handed to the steps as `SOURCE_DATE_EPOCH`.
    public var sourceDateEpoch: Int64 = 0

    public init() {}

    public func unavailableReason() -> String? { Bubblewrap.unavailableReason() }

    public func unsupportedReason(_ job: BuildJob) -> String? {
        if let image = job.spec.image, !image.isEmpty {
            return "it builds FROM the image \(image), which host-sandbox cannot provide; use --backend rootfs or podman"
        }
        if let image = job.baseImage {
            return "it builds on the image \(image) of a build dependency, which host-sandbox cannot provide; use --backend rootfs or podman"
        }
        if let c = job.spec.copy.first(where: { $0.image != nil }) {
            return "its copy: takes \(c.source) from the image \(c.image ?? ""); use --backend podman"
        }
        if job.spec.unpack && job.spec.packageDir == nil {
            return "unpack: true without package_dir takes the whole filesystem, which is the host's under host-sandbox; set package_dir or use --backend rootfs or podman"
        }
        if let dir = job.spec.packageDir, Layout.mount(for: dir) == nil {
            return "package_dir \(dir) lies inside a read-only host directory; use a path under /luetbuild or a new top-level directory, or --backend podman"
        }
        for c in job.copies where Layout.hostPath(for: c.destination, job: job) == nil {
            return "copy: destination \(c.destination) is not writable under host-sandbox (use /luetbuild or package_dir)"
        }
        return nil
    }

    public func build(_ job: BuildJob, log: LogFile) throws(BuildFailure) -> BuildOutput {
        if let why = unsupportedReason(job) { throw BuildFailure(.unsupported, "\(job.id): \(why)") }
        let work = job.workDirectory
        let luetbuild = work + "/luetbuild"
        let sysroot = work + "/sysroot"
        for d in [luetbuild, sysroot, work + "/tmp", work + "/package"] { try FileTree.makeDirectory(d) }

        try FileTree.copy(job.files, from: job.packageDirectory, to: luetbuild)
        try FileTree.layerDependencies(job, into: sysroot, log: log)
        // unsupportedReason has checked that every destination is writable here.
        try FileTree.placeCopies(job, log: log) { Layout.hostPath(for: $0.destination, job: job)! }

        var mounts: [SandboxArgument] = []
        var packageRoot: String?
        if let dir = job.spec.packageDir {
            switch Layout.mount(for: dir)! {
            case .insideBuild(let rel):
                packageRoot = rel.isEmpty ? luetbuild : luetbuild + "/" + rel
            case .own:
                packageRoot = work + "/package"
                mounts.append(.bind(host: work + "/package", target: dir, writable: true))
            }
        }
        let offset = SandboxUsers.ownerOffset
        try FileTree.adopt(work, ownerOffset: offset)

        var before: [String: FileTree.Stamp] = [:]
        try Bubblewrap.run(job, arguments: sandboxArguments(job, work: work) + mounts, log: log) {
            if packageRoot == nil { before = FileTree.snapshot(luetbuild) }
        }
        if let packageRoot {
            var st = stat()
            guard stat(packageRoot, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
                throw BuildFailure(
                    .step, "\(job.id): package_dir \(job.spec.packageDir ?? "") does not exist after the steps (create it in prelude or steps)")
            }
            return BuildOutput(root: packageRoot, changed: nil, ownerOffset: offset)
        }
        let changed = FileTree.changed(since: before, in: luetbuild)
        return BuildOutput(root: luetbuild, changed: changed, ownerOffset: offset)
    }

    /// The sandbox shared by every line of a job.
    func sandboxArguments(_ job: BuildJob, work: String) -> [SandboxArgument] {
        var args = Bubblewrap.systemDirectories()
        if job.network, FileManager.default.fileExists(atPath: "/run/systemd/resolve") {
            args.append(.bind(host: "/run/systemd/resolve", target: "/run/systemd/resolve", writable: false))
        }
        args += [
            .options(["--proc", "/proc", "--dev", "/dev"]),
            .bind(host: work + "/tmp", target: "/tmp", writable: true),
            .bind(host: work + "/luetbuild", target: BuildJob.buildDirectory, writable: true),
            .bind(host: work + "/sysroot", target: BuildJob.sysrootDirectory, writable: false),
        ]
        var options = [
            "--chdir", BuildJob.buildDirectory,
            "--clearenv",
            "--setenv", "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--setenv", "HOME", "/tmp",
            "--setenv", "SOURCE_DATE_EPOCH", String(sourceDateEpoch),
        ]
        for (k, v) in job.environment { options += ["--setenv", k, v] }
        args.append(.options(options))
        return args
    }
}

/// Where sandbox paths live on the host, for a host-sandbox job.
enum Layout {
    enum Mount: Equatable {
        /// Under `/luetbuild`: the relative path inside it.
        case insideBuild(String)
        /// A directory of its own, bound at that path (a new top-level directory, or under /tmp).
        case own
    }

    /// How `package_dir` is provided, or nil when it would lie inside a read-only host directory.
    static func mount(for packageDir: String) -> Mount? {
        guard !packageDir.split(separator: "/").contains("..") else { return nil }
        let path = normalized(packageDir)
        if path == BuildJob.buildDirectory { return .insideBuild("") }
        if path.hasPrefix(BuildJob.buildDirectory + "/") {
            return .insideBuild(String(path.dropFirst(BuildJob.buildDirectory.count + 1)))
        }
        let parts = path.split(separator: "/")
        guard let top = parts.first else { return nil }
        if top == "tmp" && parts.count >= 2 { return .own }
        // A new top-level directory (bwrap creates its mount point on the sandbox's own root).
        let reserved: Set<Substring> = ["proc", "dev", "cosci", "luetbuild"]
        var st = stat()
        if parts.count == 1 && !reserved.contains(top) && lstat("/" + top, &st) != 0 { return .own }
        return nil
    }

    /// The host path behind a sandbox path that a build may write before it runs (copy: destinations).
    static func hostPath(for sandboxPath: String, job: BuildJob) -> String? {
        guard !sandboxPath.split(separator: "/").contains("..") else { return nil }
        let path = normalized(sandboxPath)
        let work = job.workDirectory
        if path.hasPrefix(BuildJob.buildDirectory + "/") {
            return work + "/luetbuild/" + path.dropFirst(BuildJob.buildDirectory.count + 1)
        }
        if path.hasPrefix("/tmp/") { return work + "/tmp/" + path.dropFirst(5) }
        if let dir = job.spec.packageDir.map(normalized), mount(for: dir) == .own, path.hasPrefix(dir + "/") {
            return work + "/package/" + path.dropFirst(dir.count + 1)
        }
        return nil
    }

    /// `/a/./b/` → `/a/b` (callers refuse `..` first).
    static func normalized(_ path: String) -> String {
        let parts = path.split(separator: "/").filter { $0 != "." }
        return "/" + parts.joined(separator: "/")
    }
}

extension String {
    func trimmingPrefix(_ prefix: Character) -> Substring {
        self.drop { $0 == prefix }
    }
}
