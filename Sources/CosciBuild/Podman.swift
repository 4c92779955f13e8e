#if canImport(Glibc)
    import Glibc
#endif
import CosciArchive
import CosciModel
import Foundation

/// Builds with podman from a generated Containerfile, luet's two stages: a builder (`FROM image`, the
/// dependencies' artifacts layered on top, the package's files at `/luetbuild`, `env`, `prelude`) and the
/// package image (`FROM builder`, `steps`). Both are exported; the artifact is `package_dir` of the package
/// image, its whole filesystem for `unpack: true`, or else the files the steps added or modified.
///
/// Runs daemonless with the `vfs` storage driver and `runc` under a private storage root
/// (`<work root>/podman`), with its own containers.conf (ulimits that an unprivileged root can set,
/// cgroupfs, file events), and `--network none` unless the build may use the network.
public struct Podman: BuildBackend {
    public let name = "podman"
    /// Seconds since 1970 handed to the steps as `SOURCE_DATE_EPOCH`.
    public var sourceDateEpoch: Int64 = 0
    /// Where podman keeps its images and its configuration (nil: a directory under the system temp dir).
    public var stateDirectory: String?

    public init() {}

    public func unavailableReason() -> String? {
        guard Subprocess.which("podman") != nil else { return "podman is not installed (apt-get install podman runc)" }
        guard Subprocess.which("runc") != nil else { return "runc is not installed (apt-get install runc)" }
        guard let state = try? prepareState() else { return "cannot prepare podman's storage directory" }
        if Subprocess.output(Subprocess.which("podman")!, state.globalArguments + ["info"], environment: state.environment) == nil {
            return "`podman info` fails with the vfs storage driver and runc"
        }
        return nil
    }

    public func unsupportedReason(_ job: BuildJob) -> String? {
        if job.baseImage == nil {
            return "neither it nor its build dependencies name an image:, so a podman build would have no root filesystem; set image: or use --backend host-sandbox"
        }
        if let c = job.spec.copy.first(where: { $0.image != nil }) {
            return "copy: from the image \(c.image ?? "") is not supported yet; copy from a package instead"
        }
        return nil
    }

    struct State {
        let root: String
        let environment: [String: String]
        /// podman refuses a run root longer than 50 characters: `<root>/run` when short enough, else a
        /// directory under /tmp named by a hash of the root (so every cosci process on one root shares it).
        var runRoot: String {
            let own = root + "/run"
            if own.utf8.count <= 50 { return own }
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for b in root.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            return "/tmp/cosci-podman-\(String(h, radix: 16))"
        }
        var globalArguments: [String] {
            ["--root", root + "/storage", "--runroot", runRoot, "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
             "--events-backend", "file", "--runtime", "runc"]
        }
    }

    func prepareState() throws(BuildFailure) -> State {
        let root = ProcessInfo.processInfo.environment["COSCI_PODMAN_ROOT"].flatMap { $0.isEmpty ? nil : $0 } ?? stateDirectory
            ?? (NSTemporaryDirectory() + "cosci-podman-\(getuid())")
        try FileTree.makeDirectory(root)
        let conf = root + "/containers.conf"
        let text = """
            [containers]
            default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
            [engine]
            runtime = "runc"
            cgroup_manager = "cgroupfs"
            events_logger = "file"

            """
        if (try? String(contentsOfFile: conf, encoding: .utf8)) != text {
            do { try text.write(toFile: conf, atomically: true, encoding: .utf8) } catch {
                throw BuildFailure(.environment, "cannot write \(conf): \(error.localizedDescription)")
            }
        }
        var env = ProcessInfo.processInfo.environment
        env["CONTAINERS_CONF"] = conf
        return State(root: root, environment: env)
    }

    /// The Containerfile of a job: stage `builder` and the package stage.
    func containerfile(_ job: BuildJob) -> String {
        func json(_ s: String) -> String {
            var out = ""
            CanonicalJSON.writeString(s, into: &out)
            return out
        }
        var lines = ["FROM \(job.baseImage ?? "scratch") AS builder"]
        if !job.dependencyArtifacts.isEmpty { lines.append("COPY sysroot/ /") }
        lines.append("COPY luetbuild/ /luetbuild/")
        for (k, v) in job.environment { lines.append("ENV \(k)=\(json(v))") }
        lines.append("ENV SOURCE_DATE_EPOCH=\(sourceDateEpoch)")
        lines.append("WORKDIR /luetbuild")
        for p in job.spec.prelude { lines.append("RUN [\"/bin/sh\", \"-ec\", \(json(p))]") }
        lines.append("FROM builder")
        for s in job.spec.steps { lines.append("RUN [\"/bin/sh\", \"-ec\", \(json(s))]") }
        return lines.joined(separator: "\n") + "\n"
    }

    public func build(_ job: BuildJob, log: LogFile) throws(BuildFailure) -> BuildOutput {
        guard let podman = Subprocess.which("podman") else {
            throw BuildFailure(.environment, "podman is not installed (apt-get install podman runc)")
        }
        if let why = unsupportedReason(job) { throw BuildFailure(.unsupported, "\(job.id): \(why)") }
        let state = try prepareState()
        let work = job.workDirectory
        let context = work + "/context"
        try FileTree.makeDirectory(context + "/luetbuild")
        try FileTree.makeDirectory(context + "/sysroot")
        try FileTree.copy(job.files, from: job.packageDirectory, to: context + "/luetbuild")
        try FileTree.layerDependencies(job, into: context + "/sysroot", log: log)
        // Destinations land in the builder's filesystem through the sysroot layer.
        try FileTree.placeCopies(job, log: log) { context + "/sysroot/" + $0.destination.trimmingPrefix("/") }
        let file = work + "/Containerfile"
        do { try containerfile(job).write(toFile: file, atomically: true, encoding: .utf8) } catch {
            throw BuildFailure(.environment, "cannot write \(file)")
        }
        let tag = "localhost/cosci-build/\(job.id.imageTag.lowercased()):\(job.key.hex.prefix(16))"
        let network = job.network ? "host" : "none"
        func podmanRun(_ args: [String], _ what: String) throws(BuildFailure) {
            log.note("podman \(args.joined(separator: " "))")
            let r = try Subprocess.run(podman, state.globalArguments + args, environment: state.environment, log: log)
            if r.status != 0 { throw BuildFailure(.step, "\(job.id): \(what) failed (podman exit status \(r.status))") }
        }
        defer {
            for t in [tag, tag + "-builder"] {
                _ = Subprocess.output(podman, state.globalArguments + ["rmi", "-f", t], environment: state.environment)
            }
        }
        try podmanRun(
            ["build", "--network", network, "--pull=missing", "--target", "builder", "-t", tag + "-builder", "-f", file, context],
            "the builder stage (image and prelude)")
        try podmanRun(["build", "--network", network, "--pull=missing", "-t", tag, "-f", file, context], "the steps")

        let packageRoot = try export(tag, to: work + "/image", podman: podman, state: state, log: log)
        if let dir = job.spec.packageDir {
            let root = packageRoot + "/" + dir.trimmingPrefix("/")
            guard FileManager.default.fileExists(atPath: root) else {
                throw BuildFailure(.step, "\(job.id): package_dir \(dir) does not exist after the steps")
            }
            return BuildOutput(root: root, changed: nil)
        }
        if job.spec.unpack { return BuildOutput(root: packageRoot, changed: nil) }
        let builderRoot = try export(tag + "-builder", to: work + "/builder", podman: podman, state: state, log: log)
        // Two exported copies: compare without inodes, and leave out what the runtime itself left.
        let before = FileTree.snapshot(builderRoot).mapValues { $0.ignoringInode }
        let after = FileTree.snapshot(packageRoot).filter { !Self.runtimeLeftovers($0.key, $0.value) }.mapValues { $0.ignoringInode }
        return BuildOutput(root: packageRoot, changed: FileTree.changed(from: before, to: after))
    }

    /// What the container runtime itself leaves in an image that ran steps: mount points and empty files it
    /// bind-mounts over. Never part of a delta.
    static func runtimeLeftovers(_ path: String, _ stamp: FileTree.Stamp) -> Bool {
        let top = path.split(separator: "/").first.map(String.init) ?? path
        if ["dev", "proc", "sys", "run"].contains(top) { return true }
        if ["etc/hostname", "etc/hosts", "etc/resolv.conf", ".containerenv", "run/.containerenv"].contains(path) && stamp.size == 0 {
            return true
        }
        return false
    }

    /// Exports an image's filesystem (through a created, never started container) and unpacks it.
    private func export(
        _ image: String, to directory: String, podman: String, state: State, log: LogFile
    ) throws(BuildFailure) -> String {
        guard let id = Subprocess.output(podman, state.globalArguments + ["create", image, "/bin/true"], environment: state.environment)?
            .trimmingCharacters(in: .whitespacesAndNewlines), !id.isEmpty
        else { throw BuildFailure(.environment, "podman create \(image) failed") }
        defer { _ = Subprocess.output(podman, state.globalArguments + ["rm", "-f", id], environment: state.environment) }
        let tar = directory + ".tar"
        let r = try Subprocess.run(podman, state.globalArguments + ["export", "-o", tar, id], environment: state.environment, log: log)
        guard r.status == 0 else { throw BuildFailure(.environment, "podman export \(image) failed (exit status \(r.status))") }
        defer { try? FileManager.default.removeItem(atPath: tar) }
        do { _ = try TarArchive.extract(tar, into: directory, options: ExtractOptions(allowDevices: true)) } catch {
            throw BuildFailure(.environment, "cannot unpack the exported image \(image): \(error)")
        }
        return directory
    }
}

extension FileTree.Stamp {
    /// The same stamp with the inode cleared: an exported copy has other inodes but the same content stamps.
    var ignoringInode: FileTree.Stamp {
        FileTree.Stamp(
            mode: mode, size: size, mtimeSeconds: mtimeSeconds, mtimeNanoseconds: 0, inode: 0, uid: uid, gid: gid)
    }
}
