#if canImport(Glibc)
    import Glibc
#endif
import Foundation

/// Runs a program to completion with its output appended to a log file. Blocks the calling thread: call it
/// from the worker threads of the pool, never from the cooperative pool.
enum Subprocess {
    struct Result {
        let status: Int32
        /// True when the process was killed by a signal (`status` is then the signal number).
        let signalled: Bool
    }

    /// Runs `executable` with `arguments`; `environment` nil inherits ours. Standard input is /dev/null.
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, log: LogFile,
        directory: String? = nil
    ) throws(BuildFailure) -> Result {
        try run(executable, arguments, environment: environment, output: log.handle, directory: directory)
    }

    /// Same, with standard output and error going to `output`.
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, output: FileHandle,
        directory: String? = nil
    ) throws(BuildFailure) -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        do {
            try process.run()
        } catch {
            throw BuildFailure(.environment, "cannot start \(executable): \(error.localizedDescription)")
        }
        process.waitUntilExit()
        return Result(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal)
    }

    /// Runs a program and returns its standard output; nil when it cannot start or exits non-zero.
    static func output(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// Finds a program on PATH.
    static func which(_ name: String) -> String? { Executables.find(name) }
}

/// Finding the tools cosci runs (bwrap, podman, xorriso, …).
public enum Executables {
    /// A program on PATH, then in /usr/sbin and /sbin (where Debian puts some tools, such as mksquashfs, that a
    /// user's PATH may lack); nil when absent.
    public static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"]
        for dir in dirs {
            let candidate = "\(dir)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}

/// A package's build log: every line the backend and the steps print, in order.
public final class LogFile: @unchecked Sendable {
    // @unchecked: a log belongs to one build job; only that job's thread writes to it.
    let handle: FileHandle
    public let path: String

    /// Creates (truncates) the log at `path`.
    public init(path: String) throws(BuildFailure) {
        self.path = path
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
            throw BuildFailure(.environment, "cannot create the build log \(path)")
        }
        handle = h
    }

    /// Appends a line written by cosci itself (`==> …`).
    public func note(_ line: String) {
        handle.seekToEndOfFile()
        handle.write(Data(("==> " + line + "\n").utf8))
    }

    /// The last `count` lines of the log.
    public func tail(_ count: Int) -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let trimmed = lines.last == "" ? lines.dropLast() : lines[...]
        return trimmed.suffix(count).map(String.init)
    }

    deinit { try? handle.close() }
}
