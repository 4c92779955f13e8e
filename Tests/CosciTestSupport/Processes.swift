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
    let outURL = directory.appendingPathComponent("stdout")
    let errURL = directory.appendingPathComponent("stderr")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try executablePath(path))
    process.arguments = args
    process.environment = (environment ?? ProcessInfo.processInfo.environment).merging(env) { $1 }
    if let cwd { process.currentDirectoryURL = cwd }
    process.standardInput = FileHandle.nullDevice
    let outHandle = try createLogFile(outURL)
    let errHandle = try createLogFile(errURL)
    process.standardOutput = outHandle
    process.standardError = errHandle
    let exited = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in exited.signal() }
    do {
        try process.run()
    } catch {
        try? outHandle.close()
        try? errHandle.close()
        throw TestSupportError("cannot run \(path): \(error)")
    }
    try? outHandle.close()
    try? errHandle.close()
    if exited.wait(timeout: .now() + timeout) == .timedOut {
        // SIGKILL: the program may have inherited a signal mask that blocks SIGTERM.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        throw TestSupportError("\(path) \(args.joined(separator: " ")) still running after \(Int(timeout)) s; killed")
    }
    process.waitUntilExit()
    let out = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
    let err = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
    return ProcessResult(status: process.terminationStatus, stdout: out, stderr: err)
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
