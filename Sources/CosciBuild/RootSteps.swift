#if canImport(Glibc)
    import Glibc
#endif
import Foundation

/// Steps an OS image runs in its assembled root filesystem (`steps:` of an image spec, the cOS
/// `examples/standard` shape: `mkinitrd`, `systemctl enable`, …): each line as `sh -ec LINE` in bubblewrap with
/// that root as `/` (writable), a private `/tmp`, `/proc` and `/dev`, no network, `SOURCE_DATE_EPOCH` set.
public enum RootSteps {
    /// What the steps did to the root: paths written or made (directories only when new), and paths removed
    /// (only the topmost of a removed subtree), relative to the root.
    public struct Changes: Sendable, Equatable {
        public let changed: Set<String>
        public let removed: [String]
    }

    /// Runs `lines` in `root`; `subject` names the image in errors; the log gets each line and its output.
    /// Ownership is as before afterwards (when cosci runs as root, the sandbox's ids are shifted for the run).
    public static func run(
        _ lines: [String], in root: String, subject: String, epoch: Int64, scratch: String, log: LogFile
    ) throws(BuildFailure) -> Changes {
        if let why = Bubblewrap.unavailableReason() {
            throw BuildFailure(.environment, "\(subject): cannot run its steps: \(why)")
        }
        for d in ["proc", "dev", "tmp"] { try FileTree.makeDirectory(root + "/" + d) }
        let tmp = scratch + "/steps-tmp"
        try FileTree.makeDirectory(tmp)
        let offset = SandboxUsers.ownerOffset
        try FileTree.adopt(root, ownerOffset: offset)
        try FileTree.adopt(tmp, ownerOffset: offset)
        let options = [
            "--chdir", "/", "--clearenv",
            "--setenv", "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--setenv", "HOME", "/root", "--setenv", "SOURCE_DATE_EPOCH", String(epoch),
        ]
        let arguments: [SandboxArgument] = [
            .bind(host: root, target: "/", writable: true), .options(["--proc", "/proc", "--dev", "/dev"]),
            .bind(host: tmp, target: "/tmp", writable: true), .options(options),
        ]
        let before = FileTree.snapshot(root)
        try Bubblewrap.run(lines, phase: "step", of: subject, arguments: arguments, network: false, log: log)
        let after = FileTree.snapshot(root)
        try FileTree.release(root, ownerOffset: offset)
        let gone = Set(before.keys.filter { after[$0] == nil })
        let removed = gone.filter { path in
            guard let slash = path.lastIndex(of: "/") else { return true }
            return !gone.contains(String(path[..<slash]))
        }
        return Changes(
            changed: FileTree.changed(from: before, to: after),
            removed: removed.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
    }
}
