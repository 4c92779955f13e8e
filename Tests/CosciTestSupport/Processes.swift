import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// How a program ended: its exit status and what it wrote.
public struct ProcessResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// Runs a program to completion: the one way tests run programs. `path` is a path or a name looked up in
/// `PATH`; `env` is added to `environment` (this process's environment unless given); stdin is /dev/null;
/// stdout and stderr go to files (a chatty program cannot fill a pipe nobody reads yet). A program still
/// running after `timeout` seconds is killed and reported as an error.
@discardableResult
public func runTool(
    _ path: String, _ args: [String], env: [String: String] = [:], timeout: TimeInterval = 120, cwd: URL? = nil,
    environment: [String: String]? = nil
) throws -> ProcessResult {
    let directory = try makeTemporaryDirectory(prefix: "cosci-run-tool")
    defer { try? FileManager.default.removeItem(at: directory) }
    let outPath = directory.appendingPathComponent("stdout").path
    let errPath = directory.appendingPathComponent("stderr").path
    let executable = try executablePath(path)
    let variables = (environment ?? ProcessInfo.processInfo.environment).merging(env) { $1 }
    // posix_spawn and waitpid on this one pid, not Foundation's Process: its shared child monitor can miss an
    // exit when many tests start programs at once, leaving the caller waiting on a zombie.
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    // Nothing else of the test process's (files, sockets, pipes other tests hold open) reaches the child: a leaked
    // descriptor changes what a program sees (mmdebstrap fails with one). glibc 2.34's addclosefrom_np is looked up
    // at run time, as Swift does not see its declaration.
    if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
        typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        _ = unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, 3)
    }
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    // Children start with no signal blocked (the test runner's threads may block some) and default handlers.
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attributes, &none)
    var all = sigset_t()
    sigfillset(&all)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    // A working directory through sh (glibc's addchdir is not visible to Swift): `cd DIR && exec PROGRAM ARGS`.
    let program = cwd == nil ? executable : "/bin/sh"
    let arguments = cwd.map { ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", $0.path, executable] + args } ?? ([executable] + args)
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        for p in argv { free(p) }
        for p in envp { free(p) }
    }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, program, &actions, &attributes, argv, envp)
    guard spawned == 0 else { throw TestSupportError("cannot run \(path): \(String(cString: strerror(spawned)))") }
    let deadline = Date().addingTimeInterval(timeout)
    var status: Int32 = 0
    var delay: useconds_t = 1000
    while true {
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid { break }
        if r < 0 && errno != EINTR { throw TestSupportError("waitpid \(path): \(String(cString: strerror(errno)))") }
        if Date() >= deadline {
            kill(pid, SIGKILL)
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            throw TestSupportError("\(path) \(args.joined(separator: " ")) still running after \(Int(timeout)) s; killed")
        }
        usleep(delay)
        delay = min(delay * 2, 20_000)
    }
    // WIFEXITED / WEXITSTATUS, and 128 + the signal for a program killed by one (as a shell reports it).
    let exitStatus: Int32 = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
    let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
    return ProcessResult(status: exitStatus, stdout: out, stderr: err)
}

/// `sh -ec SCRIPT`, which must succeed; its stdout.
@discardableResult
public func shell(_ script: String, cwd: URL? = nil, env: [String: String] = [:]) throws -> String {
    let r = try runTool("/bin/sh", ["-ec", script], env: env, timeout: 600, cwd: cwd)
    guard r.status == 0 else { throw TestSupportError("shell exited \(r.status): \(script)\n\(r.stderr)") }
    return r.stdout
}

/// A fixture or helper that could not do its job: what failed, and the output that says why.
public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// `name` if it holds a `/`, else its first executable match in `PATH`.
func executablePath(_ name: String) throws -> String {
    if name.contains("/") { return name }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for directory in path.split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    throw TestSupportError("\(name) not found in PATH (\(path)); `scripts/bootstrap --test` installs what the tests use")
}

/// Where the tests find the project and the binary under test.
public enum TestPaths {
    /// The package's root directory.
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// `Tests/Fixtures/trees`: the fixture trees.
    public static let trees = packageRoot.appendingPathComponent("Tests/Fixtures/trees")
    /// The sample tree (`manifest/`).
    public static let sample = packageRoot.appendingPathComponent("manifest")

    /// The `cosci` binary under test: `COSCI_BIN`, else the product next to the test bundle, else
    /// `.build/debug/cosci`.
    public static var cosci: URL {
        if let override = ProcessInfo.processInfo.environment["COSCI_BIN"] { return URL(fileURLWithPath: override) }
        let bundleDir = Bundle.main.bundleURL.deletingLastPathComponent()
        for candidate in [bundleDir.appendingPathComponent("cosci"), packageRoot.appendingPathComponent(".build/debug/cosci")]
        where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate
        }
        return packageRoot.appendingPathComponent(".build/debug/cosci")
    }

    /// A fresh scratch directory; the caller removes it.
    public static func temporaryDirectory(_ prefix: String = "cosci-test") throws -> URL {
        try makeTemporaryDirectory(prefix: prefix)
    }
}

/// Runs the `cosci` binary under test: the environment without any `COSCI_*` of the caller's, plus `env`.
public func runCosci(
    _ args: [String], cwd: URL? = nil, env: [String: String] = [:], timeout: TimeInterval = 1800
) throws -> ProcessResult {
    let inherited = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("COSCI_") }
    return try runTool(TestPaths.cosci.path, args, env: env, timeout: timeout, cwd: cwd, environment: inherited)
}

extension Process {
    /// Waits at most `seconds` for the process to end; whether it ended. Foundation learns of a child's end from a
    /// shared monitor that can miss one when many children end at once: a bounded wait keeps a suite from hanging
    /// on it (read `terminationStatus` only when this returned true).
    @discardableResult
    public func waitUntilExit(atMost seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while isRunning {
            if Date() >= deadline { return false }
            usleep(10_000)
        }
        return true
    }
}
