import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Loopback registry fixtures: the real `docker-registry` (plain, htpasswd or token auth, the token
// server being `Fixtures/token_server.py`) and `Fixtures/fault_proxy.py` in front of it. Every child
// is a `Process` owned by its fixture and reaped by `stop()` (or `deinit`); the Python servers and the
// watchdog around `docker-registry` also exit on their own when this test process goes away.

/// A `docker-registry serve` on a free port of 127.0.0.1, in a private temporary directory.
///
/// `@unchecked Sendable`: everything is immutable after `start` except `stopped`, which `lock`
/// guards; the child processes are only terminated under `lock`.
public final class LocalRegistry: @unchecked Sendable {
    /// How the registry authenticates clients.
    public enum Auth {
        /// Anyone may push and pull.
        case none
        /// htpasswd (bcrypt) with one user; `WWW-Authenticate: Basic realm="cosci-test-realm"`.
        case basic(user: String, password: String)
        /// Bearer tokens from `token_server.py` (service `LocalRegistry.tokenService`, issuer
        /// `LocalRegistry.tokenIssuer`): the user gets every action asked for, anonymous clients `pull` only.
        case token(user: String, password: String)
    }

    /// The `service` of the token challenge (and the `aud` of the tokens) in `.token` mode.
    public static let tokenService = "cosci-test-registry"
    /// The `iss` of the tokens in `.token` mode.
    public static let tokenIssuer = "cosci-test-issuer"

    /// `127.0.0.1:PORT`: what a client puts in its URLs (`http://\(host)/v2/`).
    public let host: String
    /// A temporary directory holding the config, the storage, htpasswd, keys and logs; removed by `stop()`.
    public let directory: URL
    /// The token realm (`http://127.0.0.1:PORT/token`) in `.token` mode, else nil.
    public let tokenRealm: String?

    private let registry: ChildProcess
    private let tokenServer: ChildProcess?
    private let tokenServerHost: String?
    private let lock = NSLock()
    private var stopped = false  // guarded by `lock`

    private init(
        host: String, directory: URL, registry: ChildProcess, tokenServer: ChildProcess?, tokenServerHost: String?
    ) {
        self.host = host
        self.directory = directory
        self.registry = registry
        self.tokenServer = tokenServer
        self.tokenServerHost = tokenServerHost
        self.tokenRealm = tokenServerHost.map { "http://\($0)/token" }
    }

    deinit { stop() }

    /// Starts a registry (and in `.token` mode its token server) and returns once `GET /v2/` answers
    /// 200 or 401. A port lost to another process between choosing and binding is retried (5 ports).
    public static func start(auth: Auth = .none) throws -> LocalRegistry {
        let directory = try makeTemporaryDirectory(prefix: "cosci-registry")
        var tokenServer: ChildProcess?
        do {
            var authConfig = ""
            var tokenServerHost: String?
            switch auth {
            case .none:
                break
            case .basic(let user, let password):
                let htpasswd = try runTool("htpasswd", ["-Bbn", user, password])
                guard htpasswd.status == 0 else {
                    throw TestSupportError("htpasswd -Bbn exited \(htpasswd.status): \(htpasswd.stderr)")
                }
                let path = directory.appendingPathComponent("htpasswd")
                let entry = htpasswd.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + "\n"
                try Data(entry.utf8).write(to: path)
                authConfig = "auth: {htpasswd: {realm: cosci-test-realm, path: \(yamlQuoted(path.path))}}\n"
            case .token(let user, let password):
                let key = directory.appendingPathComponent("token.key")
                let cert = directory.appendingPathComponent("token.crt")
                let openssl = try runTool("openssl", [
                    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key.path, "-out", cert.path, "-days", "3650", "-subj", "/CN=cosci-test-token-issuer",
                ])
                guard openssl.status == 0 else {
                    throw TestSupportError("openssl req (token key) exited \(openssl.status): \(openssl.stderr)")
                }
                let users = directory.appendingPathComponent("users.json")
                try JSONSerialization.data(withJSONObject: [user: password]).write(to: users)
                let server = try ChildProcess(
                    executable: try executablePath("python3"),
                    arguments: [
                        fixturePath("token_server.py"), "--port", "0", "--key", key.path, "--cert", cert.path,
                        "--users", users.path, "--issuer", tokenIssuer, "--service", tokenService,
                    ],
                    stdout: directory.appendingPathComponent("token-server.out"),
                    stderr: directory.appendingPathComponent("token-server.log"))
                tokenServer = server
                let port = try server.awaitPortLine(named: "token_server.py")
                tokenServerHost = "127.0.0.1:\(port)"
                authConfig = """
                    auth: {token: {realm: "http://127.0.0.1:\(port)/token", service: \(tokenService), \
                    issuer: \(tokenIssuer), rootcertbundle: \(yamlQuoted(cert.path))}}

                    """
            }

            let logURL = directory.appendingPathComponent("registry.log")
            var lastFailure = ""
            for _ in 1...5 {
                let port = try freeLoopbackPort()
                let host = "127.0.0.1:\(port)"
                let config = directory.appendingPathComponent("config.yml")
                let yaml = """
                    version: 0.1
                    log: {level: info, accesslog: {disabled: false}}
                    storage: {filesystem: {rootdirectory: \(yamlQuoted(directory.appendingPathComponent("data").path))}, \
                    delete: {enabled: true}}
                    http: {addr: \(host), secret: local-test-secret, headers: {X-Content-Type-Options: [nosniff]}}

                    """ + authConfig
                try Data(yaml.utf8).write(to: config)
                // Only this config counts: no REGISTRY_* overrides from the environment.
                let environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("REGISTRY_") }
                let registry = try ChildProcess(
                    executable: try executablePath("python3"),
                    arguments: ["-c", watchdogProgram, try executablePath("docker-registry"), "serve", config.path],
                    environment: environment, stdout: logURL, stderr: logURL)
                switch waitUntilAnswering(host: host, process: registry) {
                case .ready:
                    return LocalRegistry(
                        host: host, directory: directory, registry: registry, tokenServer: tokenServer,
                        tokenServerHost: tokenServerHost)
                case .exited(let log) where log.contains("address already in use"):
                    lastFailure = log
                    continue
                case .exited(let log):
                    throw TestSupportError("docker-registry serve \(config.path) exited at start:\n\(log)")
                case .silent(let log):
                    registry.stop()
                    throw TestSupportError("docker-registry on \(host) did not answer GET /v2/ within 10 s:\n\(log)")
                }
            }
            throw TestSupportError("docker-registry found no free port in 5 attempts; last log:\n\(lastFailure)")
        } catch {
            tokenServer?.stop()
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    /// Stops the registry and the token server (SIGTERM, then waits for them) and removes `directory`.
    /// Safe to call more than once.
    public func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        registry.stop()
        tokenServer?.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Requests the token server has had on `/token` (granted or not); `.token` mode only.
    public var tokenRequests: Int {
        get throws {
            guard let tokenServerHost else {
                throw TestSupportError("tokenRequests: registry \(host) does not use token auth")
            }
            let stats = try loopbackJSON(host: tokenServerHost, method: "GET", path: "/stats")
            guard let count = stats["token_requests"] as? Int else {
                throw TestSupportError("token server /stats has no token_requests: \(stats)")
            }
            return count
        }
    }

    /// The registry's log so far (its access log and its stderr, one request per access-log line).
    public var log: String { (try? String(contentsOf: registry.stdout, encoding: .utf8)) ?? "" }

    /// The token server's log so far (requests and the access it granted), "" unless in `.token` mode.
    public var tokenServerLog: String {
        guard let tokenServer else { return "" }
        return (try? String(contentsOf: tokenServer.stderr, encoding: .utf8)) ?? ""
    }
}

/// `file_server.py` on a free port of 127.0.0.1, serving a directory (a luet `http` repository), optionally
/// behind Basic auth.
///
/// `Sendable`: immutable; the running server stops under its own lock.
public final class FileServer: Sendable {
    /// `http://127.0.0.1:PORT`.
    public let url: String
    private let server: RunningServer

    private init(url: String, server: RunningServer) {
        self.url = url
        self.server = server
    }

    deinit { stop() }

    public static func start(serving root: URL, user: String? = nil, password: String? = nil) throws -> FileServer {
        var arguments = ["--root", root.path]
        if let user, let password { arguments += ["--user", user, "--password", password] }
        let (server, port) = try RunningServer.start("file_server.py", arguments, directoryPrefix: "cosci-file-server")
        return FileServer(url: "http://127.0.0.1:\(port)", server: server)
    }

    /// One line per request so far: method, path, whether credentials came, status.
    public var log: String { server.log }

    /// Stops the server and removes its log directory. Safe to call more than once.
    public func stop() { server.stop() }
}

/// A fixture server (`file_server.py`, `fault_proxy.py`) that is running: its process and the temporary
/// directory holding its output, both gone after `stop()`.
///
/// `@unchecked Sendable`: everything is immutable except `stopped`, which `lock` guards; the process is only
/// stopped under `lock`.
public final class RunningServer: @unchecked Sendable {
    private let child: ChildProcess
    private let directory: URL
    private let lock = NSLock()
    private var stopped = false  // guarded by `lock`

    private init(child: ChildProcess, directory: URL) {
        self.child = child
        self.directory = directory
    }

    deinit { stop() }

    /// Starts `script` with `--port 0` and `arguments`, its output in a new temporary directory, and waits
    /// for its `PORT <n>` line. On failure nothing is left running or on disk.
    public static func start(_ script: String, _ arguments: [String], directoryPrefix: String) throws -> (RunningServer, port: Int) {
        let directory = try makeTemporaryDirectory(prefix: directoryPrefix)
        do {
            let child = try ChildProcess(
                executable: try executablePath("python3"), arguments: [fixturePath(script), "--port", "0"] + arguments,
                stdout: directory.appendingPathComponent("server.out"), stderr: directory.appendingPathComponent("server.log"))
            do {
                let port = try child.awaitPortLine(named: script)
                return (RunningServer(child: child, directory: directory), port)
            } catch {
                child.stop()
                throw error
            }
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    /// What the server wrote to stderr so far (its request log).
    public var log: String { (try? String(contentsOf: child.stderr, encoding: .utf8)) ?? "" }

    /// Stops the server (SIGTERM, then waits for it) and removes its directory. Safe to call more than once.
    public func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        child.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// `fault_proxy.py` on a free port of 127.0.0.1, forwarding to `upstream` and injecting faults.
///
/// `Sendable`: immutable; the running proxy stops under its own lock.
public final class FaultProxy: Sendable {
    /// `127.0.0.1:PORT`: what a client uses instead of the upstream.
    public let host: String
    /// The `HOST:PORT` requests are forwarded to.
    public let upstream: String

    private let server: RunningServer

    private init(host: String, upstream: String, server: RunningServer) {
        self.host = host
        self.upstream = upstream
        self.server = server
    }

    deinit { stop() }

    /// Starts the proxy and returns once it listens. Each eligible request draws once from a random
    /// source seeded with `seed`: with probability `rate429` it gets 429 TOOMANYREQUESTS with
    /// `Retry-After: retryAfter`, then `rate500` 500, `rate503` 503, `rateDrop` a dropped connection
    /// (the rates add up to at most 1). `onlyMethods` (empty: all) limits the eligible methods;
    /// `maxFaults` (0: no limit) stops injecting after that many faults; `failAll` answers every
    /// request 503.
    public static func start(
        upstream: String, seed: Int = 1, rate429: Double = 0, rate500: Double = 0, rate503: Double = 0,
        rateDrop: Double = 0, retryAfter: Int = 1, onlyMethods: [String] = [], failAll: Bool = false,
        maxFaults: Int = 0
    ) throws -> FaultProxy {
        var arguments = [
            "--upstream", upstream, "--seed", String(seed),
            "--rate-429", String(rate429), "--rate-500", String(rate500), "--rate-503", String(rate503),
            "--rate-drop", String(rateDrop), "--retry-after", String(retryAfter), "--max-faults", String(maxFaults),
        ]
        if !onlyMethods.isEmpty { arguments += ["--only-methods", onlyMethods.joined(separator: ",")] }
        if failAll { arguments.append("--fail-all") }
        let (server, port) = try RunningServer.start("fault_proxy.py", arguments, directoryPrefix: "cosci-fault-proxy")
        return FaultProxy(host: "127.0.0.1:\(port)", upstream: upstream, server: server)
    }

    /// Replaces the whole fault configuration (`POST /__config`): parameters left out go back to
    /// "no faults", so `configure()` alone switches every fault off. The fault budget (`maxFaults`)
    /// restarts; `seed` re-seeds the random source; `resetStats` zeroes the counters; `rateSilent`, `rateTrickle`
    /// and `rateCut` answer never, at about 100 bytes a second, or cut short in the headers; `onlyPathSuffix` limits
    /// faults to requests whose path ends with it.
    public func configure(
        rate429: Double = 0, rate500: Double = 0, rate503: Double = 0, rateDrop: Double = 0, rateSilent: Double = 0,
        rateTrickle: Double = 0, rateCut: Double = 0, retryAfter: Int = 1,
        onlyMethods: [String] = [], onlyPathSuffix: String = "", failAll: Bool = false, maxFaults: Int = 0, seed: Int? = nil,
        resetStats: Bool = false
    ) throws {
        var config: [String: Any] = [
            "rate_429": rate429, "rate_500": rate500, "rate_503": rate503, "rate_drop": rateDrop,
            "rate_silent": rateSilent, "rate_trickle": rateTrickle, "rate_cut": rateCut, "retry_after": retryAfter, "only_methods": onlyMethods, "only_path_suffix": onlyPathSuffix,
            "fail_all": failAll, "max_faults": maxFaults,
            "reset_stats": resetStats,
        ]
        if let seed { config["seed"] = seed }
        _ = try loopbackJSON(
            host: host, method: "POST", path: "/__config", body: try JSONSerialization.data(withJSONObject: config))
    }

    /// The proxy's counters (`GET /__stats`): `requests`, `forwarded`, `faults`, `fault_429`, `fault_500`,
    /// `fault_503`, `fault_drop`, `upstream_errors`, `locations_rewritten`, and `method_<METHOD>` per
    /// method seen (`method_PUT`). The control endpoints are not counted.
    public func stats() throws -> [String: Int] {
        let stats = try loopbackJSON(host: host, method: "GET", path: "/__stats")
        return stats.compactMapValues { $0 as? Int }
    }

    /// The proxy's request log so far (one line per request, injected faults marked).
    public var log: String { server.log }

    /// Stops the proxy (SIGTERM, then waits for it) and removes its log directory. Safe to call more than once.
    public func stop() { server.stop() }
}

// MARK: - Children

/// A child process with stdout and stderr going to files. Not thread-safe: owned by one fixture,
/// which serializes `stop()`.
private final class ChildProcess {
    public let process: Process
    public let stdout: URL
    public let stderr: URL

    /// Starts `executable`; `stdout` and `stderr` may be the same file.
    public init(
        executable: String, arguments: [String],
        environment: [String: String] = ProcessInfo.processInfo.environment, stdout: URL, stderr: URL
    ) throws {
        self.stdout = stdout
        self.stderr = stderr
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment.merging(["PYTHONUNBUFFERED": "1"]) { $1 }
        process.standardInput = FileHandle.nullDevice
        let out = try createLogFile(stdout)
        let err = stderr == stdout ? out : try createLogFile(stderr)
        defer {
            try? out.close()
            if err !== out { try? err.close() }
        }
        process.standardOutput = out
        process.standardError = err
        do {
            try process.run()
        } catch {
            throw TestSupportError("cannot start \(executable) \(arguments.joined(separator: " ")): \(error)")
        }
    }

    /// Terminates the process (SIGTERM, SIGKILL after 5 s) if it still runs, and waits for it.
    public func stop() {
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit(atMost: 30)
    }

    /// Waits (up to 10 s) for the `PORT <n>` line a fixture server prints once it listens.
    public func awaitPortLine(named name: String) throws -> Int {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let text = (try? String(contentsOf: stdout, encoding: .utf8)) ?? ""
            if let newline = text.firstIndex(of: "\n") {
                let line = text[..<newline]
                guard line.hasPrefix("PORT "), let port = Int(line.dropFirst(5)) else {
                    stop()
                    throw TestSupportError("\(name): expected `PORT <n>` first, got \(line.debugDescription)")
                }
                return port
            }
            if !process.isRunning {
                process.waitUntilExit(atMost: 30)
                throw TestSupportError(
                    "\(name) exited \(process.terminationStatus) before listening:\n\(contents(of: stderr))")
            }
            usleep(20_000)
        }
        stop()
        throw TestSupportError("\(name) printed no `PORT <n>` line within 10 s:\n\(contents(of: stderr))")
    }
}

private enum Readiness {
    case ready
    case exited(log: String)
    case silent(log: String)
}

/// Polls `GET /v2/` until the registry answers 200 or 401 as a registry (10 s at most).
private func waitUntilAnswering(host: String, process: ChildProcess) -> Readiness {
    let deadline = Date().addingTimeInterval(10)
    while Date() < deadline {
        if !process.process.isRunning {
            process.process.waitUntilExit(atMost: 30)
            return .exited(log: contents(of: process.stdout))
        }
        if let response = try? loopbackRequest(host: host, method: "GET", path: "/v2/", timeout: 1),
            response.status == 200 || response.status == 401,
            response.headers["docker-distribution-api-version"] == "registry/2.0"
        {
            return .ready
        }
        usleep(30_000)
    }
    return .silent(log: contents(of: process.stdout))
}

/// Runs `docker-registry` (argv[1:]) as its child: SIGTERM is passed on, and the registry is stopped
/// when the process that started the watchdog goes away (a crashed test) — Go servers cannot watch that.
/// It first unblocks all signals: children inherit the signal mask of the thread that spawned them.
private let watchdogProgram = """
    import os, signal, subprocess, sys, time
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    child = subprocess.Popen(sys.argv[1:])
    def stop(*_):
        child.terminate()
        try:
            child.wait(5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        os._exit(0)
    signal.signal(signal.SIGTERM, stop)
    parent = os.getppid()
    while child.poll() is None:
        if os.getppid() != parent:
            stop()
        time.sleep(0.2)
    sys.exit(child.returncode)
    """

// MARK: - Small helpers

/// The absolute path of a file in `Tests/CosciTestSupport/Fixtures`.
private func fixturePath(_ name: String, file: String = #filePath) -> String {
    URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent("Fixtures").appendingPathComponent(name).path
}


public func makeTemporaryDirectory(prefix: String) throws -> URL {
    var template = Array((NSTemporaryDirectory() as NSString).appendingPathComponent("\(prefix).XXXXXX").utf8CString)
    guard mkdtemp(&template) != nil else {
        throw TestSupportError("mkdtemp \(prefix): \(String(cString: strerror(errno)))")
    }
    return URL(fileURLWithPath: template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }, isDirectory: true)
}

/// Creates (or truncates) a file and opens it for writing.
public func createLogFile(_ url: URL) throws -> FileHandle {
    guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
        throw TestSupportError("cannot create \(url.path)")
    }
    return try FileHandle(forWritingTo: url)
}

private func contents(of url: URL) -> String {
    (try? String(contentsOf: url, encoding: .utf8)) ?? "(no log at \(url.path))"
}

/// A YAML double-quoted scalar for a path: `\` and `"` escaped (not JSON: YAML has no `\/`).
private func yamlQuoted(_ text: String) -> String {
    "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
}

#if os(Linux)
private let streamSocket = Int32(SOCK_STREAM.rawValue)
#else
private let streamSocket = SOCK_STREAM
#endif

private func loopbackAddress(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = in_addr_t(UInt32(0x7f00_0001).bigEndian)
    return address
}

/// A port that was free on 127.0.0.1 a moment ago (bound with port 0, read back, released).
private func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, streamSocket, 0)
    guard fd >= 0 else { throw TestSupportError("socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var address = loopbackAddress(port: 0)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw TestSupportError("bind 127.0.0.1:0: \(String(cString: strerror(errno)))") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw TestSupportError("getsockname: \(String(cString: strerror(errno)))") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// One HTTP/1.0 exchange with a loopback server (`host` = `127.0.0.1:PORT`), read to the end.
/// Header names come back lowercased. A raw socket: no proxy settings, no URLSession on Linux.
public func loopbackRequest(
    host: String, method: String, path: String, body: Data = Data(), headers extra: [String: String] = [:],
    timeout: TimeInterval = 5
) throws -> (status: Int, headers: [String: String], body: Data) {
    guard let colon = host.lastIndex(of: ":"), let port = Int(host[host.index(after: colon)...]),
        host[..<colon] == "127.0.0.1"
    else { throw TestSupportError("\(host): expected 127.0.0.1:PORT") }
    let fd = socket(AF_INET, streamSocket, 0)
    guard fd >= 0 else { throw TestSupportError("socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var limit = timeval(
        tv_sec: time_t(timeout), tv_usec: suseconds_t((timeout - timeout.rounded(.down)) * 1_000_000))
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    var address = loopbackAddress(port: port)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        throw TestSupportError("\(method) http://\(host)\(path): connect: \(String(cString: strerror(errno)))")
    }
    let requestHead =
        "\(method) \(path) HTTP/1.0\r\nHost: \(host)\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n"
        + extra.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)\r\n" }.joined() + "\r\n"
    var request = Data(requestHead.utf8)
    request.append(body)
    try request.withUnsafeBytes { raw in
        var sent = 0
        while sent < raw.count {
            let n = send(fd, raw.baseAddress! + sent, raw.count - sent, 0)
            guard n > 0 else {
                throw TestSupportError("\(method) http://\(host)\(path): send: \(String(cString: strerror(errno)))")
            }
            sent += n
        }
    }
    var response = Data()
    var buffer = [UInt8](repeating: 0, count: 16 * 1024)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n == 0 { break }
        guard n > 0 else {
            throw TestSupportError("\(method) http://\(host)\(path): recv: \(String(cString: strerror(errno)))")
        }
        response.append(contentsOf: buffer[0..<n])
    }
    guard let split = response.range(of: Data("\r\n\r\n".utf8)) else {
        throw TestSupportError("\(method) http://\(host)\(path): malformed response (\(response.count) bytes)")
    }
    let head = String(decoding: response[..<split.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
    let statusWords = head.first?.split(separator: " ") ?? []
    guard statusWords.count >= 2, let status = Int(statusWords[1]) else {
        throw TestSupportError("\(method) http://\(host)\(path): bad status line \(head.first ?? "")")
    }
    var headers: [String: String] = [:]
    for line in head.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return (status, headers, Data(response[split.upperBound...]))
}

/// A loopback request whose 200 answer is a JSON object.
private func loopbackJSON(host: String, method: String, path: String, body: Data = Data()) throws -> [String: Any] {
    let response = try loopbackRequest(host: host, method: method, path: path, body: body)
    let text = String(decoding: response.body, as: UTF8.self)
    guard response.status == 200 else {
        throw TestSupportError("\(method) http://\(host)\(path): \(response.status) \(text)")
    }
    guard let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any] else {
        throw TestSupportError("\(method) http://\(host)\(path): not a JSON object: \(text)")
    }
    return object
}
