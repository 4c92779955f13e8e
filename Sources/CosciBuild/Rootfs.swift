#if canImport(Glibc)
    import Glibc
#endif
import CosciArchive
import CosciModel
import Foundation

/// Daemonless container builds: the base image's layers (pulled by cosci's own registry client, handed over
/// as files) are unpacked in order with OCI whiteouts into a root filesystem, the build dependencies'
/// artifacts are layered on top, and each `prelude` and `steps` line runs as `sh -ec LINE` in bubblewrap with
/// that root filesystem as `/` (writable), a private `/tmp`, `/proc`, `/dev`, no network unless allowed, the
/// package's files at `/luetbuild`. The artifact is `package_dir`, the whole filesystem for `unpack: true`, or
/// what the steps added or modified (compared with the filesystem after the prelude).
public struct Rootfs: BuildBackend {
    public let name = "rootfs"
    public var sourceDateEpoch: Int64 = 0

    public init() {}

    public func unavailableReason() -> String? { Bubblewrap.unavailableReason() }

    public func unsupportedReason(_ job: BuildJob) -> String? {
        if job.baseImage == nil && job.dependencyArtifacts.isEmpty {
            return "it has no image: and no build dependencies, so there is no root filesystem to build in; set image: or use --backend host-sandbox"
        }
        if let c = job.spec.copy.first(where: { $0.image != nil }) {
            return "copy: from the image \(c.image ?? "") is not supported yet; copy from a package instead"
        }
        return nil
    }

    public func build(_ job: BuildJob, log: LogFile) throws(BuildFailure) -> BuildOutput {
        if let why = unsupportedReason(job) { throw BuildFailure(.unsupported, "\(job.id): \(why)") }
        let work = job.workDirectory
        let root = work + "/rootfs"
        try FileTree.makeDirectory(root)
        try FileTree.makeDirectory(work + "/tmp")
        let offset = SandboxUsers.ownerOffset
        for (i, layer) in job.baseLayers.enumerated() {
            log.note("image layer \(i + 1)/\(job.baseLayers.count): \((layer as NSString).lastPathComponent)")
            do {
                _ = try TarArchive.extract(layer, into: root, options: ExtractOptions(whiteouts: true, ownerOffset: offset))
            } catch {
                throw BuildFailure(.environment, "cannot unpack a layer of \(job.baseImage ?? "the base image"): \(error)")
            }
        }
        try FileTree.layerDependencies(job, into: root, log: log)
        // Mount points the sandbox needs exist before the prelude, so they are never part of a delta.
        for d in ["proc", "dev", "tmp", "luetbuild"] { try FileTree.makeDirectory(root + "/" + d) }
        try FileTree.copy(job.files, from: job.packageDirectory, to: root + "/luetbuild")
        try FileTree.placeCopies(job, log: log) { root + "/" + $0.destination.trimmingPrefix("/") }

        try FileTree.adopt(work, ownerOffset: offset)

        var options = [
            "--chdir", BuildJob.buildDirectory, "--clearenv",
            "--setenv", "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--setenv", "HOME", "/root", "--setenv", "SOURCE_DATE_EPOCH", String(sourceDateEpoch),
        ]
        for (k, v) in job.environment { options += ["--setenv", k, v] }
        let args: [SandboxArgument] = [
            .bind(host: root, target: "/", writable: true), .options(["--proc", "/proc", "--dev", "/dev"]),
            .bind(host: work + "/tmp", target: "/tmp", writable: true), .options(options),
        ]
        var before: [String: FileTree.Stamp] = [:]
        try Bubblewrap.run(job, arguments: args, log: log) { before = FileTree.snapshot(root) }
        if let dir = job.spec.packageDir {
            guard !dir.split(separator: "/").contains("..") else {
                throw BuildFailure(.spec, "\(job.id): package_dir \(dir) leaves the root filesystem")
            }
            let path = root + "/" + dir.trimmingPrefix("/")
            var st = stat()
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else {
                throw BuildFailure(.step, "\(job.id): package_dir \(dir) does not exist after the steps (create it in prelude or steps)")
            }
            return BuildOutput(root: path, changed: nil, ownerOffset: offset)
        }
        if job.spec.unpack { return BuildOutput(root: root, changed: nil, ownerOffset: offset) }
        return BuildOutput(root: root, changed: FileTree.changed(since: before, in: root), ownerOffset: offset)
    }
}
