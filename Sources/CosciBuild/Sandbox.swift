#if canImport(Glibc)
    import Glibc
#endif
internal import CSandbox
import Foundation

/// The ids a build sandbox's users have on the host.
///
/// When cosci runs as root, every step runs as root of a user namespace whose ids 0…65535 are the host's
/// `hostBase`…`hostBase + 65535`: the capabilities a step holds there (package managers chown, create users,
/// set modes) reach only what that namespace owns, never the host's mounts; the host's root-owned files are,
/// to a step, owned by nobody (so `/root`, `/etc/shadow` and credential files stay closed); a setuid-root file
/// a step makes is setuid to an unused id on the host. Files cosci hands a sandbox are shifted up by
/// `ownerOffset`, and the artifact records what the steps wrote shifted down again. As another user, bubblewrap
/// maps that user alone, and nothing is shifted.
public enum SandboxUsers {
    /// The host id of the sandbox's root when cosci runs as root.
    public static let hostBase: UInt32 = 1_000_000_000
    /// How many ids the sandbox has (0 to count - 1).
    public static let count: UInt32 = 65_536

    /// What the host adds to a sandbox's ids: `hostBase` when cosci runs as root, else 0.
    public static var ownerOffset: Int64 { geteuid() == 0 ? Int64(hostBase) : 0 }
}

/// One piece of a bubblewrap command line: a host directory shown in the sandbox, or options as they are.
enum SandboxArgument {
    /// `host` at `target`, writable or read-only.
    case bind(host: String, target: String, writable: Bool)
    /// Options passed as they are (`--proc /proc`, `--setenv K V`, …).
    case options([String])
}

/// What the bubblewrap backends share: the check that sandboxes can be made here, and running a job's lines.
enum Bubblewrap {
    /// Why bubblewrap cannot sandbox here, or nil.
    static func unavailableReason() -> String? {
        guard Subprocess.which("bwrap") != nil else { return "bubblewrap is not installed (apt-get install bubblewrap)" }
        guard let null = FileHandle(forWritingAtPath: "/dev/null") else { return "cannot open /dev/null" }
        do {
            let result = try execute(systemDirectories(), network: false, command: ["/bin/true"], output: null)
            return result.status == 0 ? nil : "bwrap cannot create a sandbox here (user namespaces disabled?)"
        } catch {
            return error.message
        }
    }

    /// The host's directories a step sees, read-only, when they exist: the system's programs, libraries and
    /// configuration, and nothing else (no home directories, no `/root`, no checkout, no `/var`).
    static let hostDirectories = ["bin", "etc", "lib", "lib32", "lib64", "libx32", "sbin", "usr"]

    /// `hostDirectories` as sandbox arguments: read-only binds, and symlinks (merged /usr) as symlinks.
    static func systemDirectories() -> [SandboxArgument] {
        var args: [SandboxArgument] = []
        for name in hostDirectories {
            let path = "/" + name
            var st = stat()
            guard lstat(path, &st) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFLNK:
                if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path) {
                    args.append(.options(["--symlink", target, path]))
                }
            case S_IFDIR:
                args.append(.bind(host: path, target: path, writable: false))
            default:
                continue
            }
        }
        return args
    }

    /// Runs each line as `sh -ec LINE` in a fresh sandbox made by `arguments`; `beforeSteps` runs between the
    /// prelude and the steps (the delta snapshot). The umask is set inside the sandbox: libarchive flips the
    /// process umask to 0 for an instant while it unpacks on another worker thread, and a sandbox started at that
    /// instant would inherit it.
    static func run(
        _ job: BuildJob, arguments: [SandboxArgument], log: LogFile, beforeSteps: () -> Void
    ) throws(BuildFailure) {
        for (phase, lines) in [("prelude", job.spec.prelude), ("step", job.spec.steps)] {
            if phase == "step" { beforeSteps() }
            try run(lines, phase: phase, of: job.id.description, arguments: arguments, network: job.network, log: log)
        }
    }

    /// Runs each line as `sh -ec LINE` in a fresh sandbox; the first that fails throws, naming `subject`, the
    /// phase and the line.
    static func run(
        _ lines: [String], phase: String, of subject: String, arguments: [SandboxArgument], network: Bool, log: LogFile
    ) throws(BuildFailure) {
        for (i, line) in lines.enumerated() {
            let first = line.split(separator: "\n").first.map(String.init) ?? ""
            log.note("\(phase) \(i + 1)/\(lines.count): \(first)")
            let result = try execute(
                arguments, network: network,
                command: ["/bin/sh", "-c", "umask 022 && exec /bin/sh -ec \"$1\"", "sh", line],
                output: log.handle)
            if result.status != 0 {
                let how = result.signalled ? "was killed by signal \(result.status)" : "exited with status \(result.status)"
                throw BuildFailure(.step, "\(subject): \(phase) \(i + 1) of \(lines.count) \(how): \(first)")
            }
        }
    }

    /// Capabilities a step keeps inside the sandbox's user namespace when cosci runs as root: what package
    /// managers need (ownership, modes, users, chroot), not `CAP_SYS_ADMIN` (no remounting, even of what the
    /// namespace owns).
    static let keptCapabilities = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETFCAP", "CAP_SETPCAP", "CAP_SYS_CHROOT", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE",
    ]

    /// Runs `command` in one sandbox; blocks until it ends.
    static func execute(
        _ arguments: [SandboxArgument], network: Bool, command: [String], output: FileHandle
    ) throws(BuildFailure) -> Subprocess.Result {
        guard let bwrap = Subprocess.which("bwrap") else {
            throw BuildFailure(.environment, "bubblewrap is not installed (apt-get install bubblewrap)")
        }
        let asRoot = geteuid() == 0
        var args = ["--die-with-parent", "--new-session"]
        if asRoot {
            // Already in a user namespace of our own (the helper made it); bubblewrap must not nest another that
            // maps root alone.
            args += ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try", "--cap-drop", "ALL"]
            for cap in keptCapabilities { args += ["--cap-add", cap] }
            if !network { args.append("--unshare-net") }
        } else {
            args.append("--unshare-all")
            if network { args.append("--share-net") }
        }
        // As root, every host directory is reached through the helper's staging mounts (/tmp/N), so a parent
        // closed to others (a checkout under /root) does not hide it from the sandbox's root.
        var sources: [String] = []
        for argument in arguments {
            switch argument {
            case .options(let options):
                args += options
            case .bind(let host, let target, let writable):
                var source = host
                if asRoot {
                    source = "\(stagingDirectory)/\(sources.count)"
                    sources.append(host)
                }
                args += [writable ? "--bind" : "--ro-bind", source, target]
            }
        }
        args += ["--"] + command
        guard asRoot else {
            return try Subprocess.run(bwrap, args, environment: [:], output: output)
        }
        return try spawnInUserNamespace(bwrap, args, sources: sources, output: output)
    }

    /// Where the helper mounts the host directories, in its own mount namespace.
    static let stagingDirectory = "/tmp"

    private static func spawnInUserNamespace(
        _ executable: String, _ arguments: [String], sources: [String], output: FileHandle
    ) throws(BuildFailure) -> Subprocess.Result {
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let sourceCopies = sources.map { strdup($0) }
        defer {
            for p in argv { free(p) }
            for p in sourceCopies { free(p) }
        }
        let envp: [UnsafeMutablePointer<CChar>?] = [nil]
        var pid: pid_t = 0
        var stage: Int32 = 0
        let rc = sourceCopies.map { UnsafePointer($0) }.withUnsafeBufferPointer { sourcePointers in
            argv.withUnsafeBufferPointer { argvPointer in
                envp.withUnsafeBufferPointer { envpPointer in
                    cosci_spawn_sandboxed(
                        executable, argvPointer.baseAddress, envpPointer.baseAddress, output.fileDescriptor,
                        sourcePointers.baseAddress, Int32(sources.count), stagingDirectory,
                        SandboxUsers.hostBase, SandboxUsers.count, &pid, &stage)
                }
            }
        }
        guard rc == 0 else {
            let step: String
            switch UInt32(stage) {
            case COSCI_SANDBOX_OPEN_SOURCE.rawValue: step = "open a directory to show in the sandbox"
            case COSCI_SANDBOX_MOUNT_NAMESPACE.rawValue: step = "create a mount namespace"
            case COSCI_SANDBOX_STAGE_MOUNT.rawValue: step = "mount the sandbox's directories"
            case COSCI_SANDBOX_USER_NAMESPACE.rawValue: step = "create a user namespace (are user namespaces disabled?)"
            case COSCI_SANDBOX_ID_MAP.rawValue: step = "write the user namespace's id maps"
            default: step = "start bubblewrap"
            }
            throw BuildFailure(.environment, "cannot \(step): \(String(cString: strerror(rc)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw BuildFailure(.environment, "waitpid: \(String(cString: strerror(errno)))") }
        }
        // WIFSIGNALED / WTERMSIG / WEXITSTATUS are macros Swift does not import.
        let signal = status & 0x7f
        if signal != 0 && signal != 0x7f { return Subprocess.Result(status: signal, signalled: true) }
        return Subprocess.Result(status: (status >> 8) & 0xff, signalled: false)
    }
}
