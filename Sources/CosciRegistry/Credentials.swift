import Foundation

/// A username and password (or identity token) for a registry. The description never shows the secret.
public struct RegistryCredentials: Sendable, Hashable, CustomStringConvertible {
    public let username: String
    public let secret: String

    public init(username: String, secret: String) {
        self.username = username
        self.secret = secret
    }

    /// `Basic base64(user:secret)`.
    var basicHeader: String { "Basic " + Data("\(username):\(secret)".utf8).base64EncodedString() }

    public var description: String { "\(username):***" }
}

/// Why credentials could not be read.
public struct CredentialError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Finds credentials as docker and podman do: `--authfile`, then `$REGISTRY_AUTH_FILE`, `$DOCKER_CONFIG/config.json`
/// (else `~/.docker/config.json`), `$XDG_RUNTIME_DIR/containers/auth.json`, `~/.config/containers/auth.json`. Per
/// host: `credHelpers[host]`, else `credsStore`, else `auths[host]` (`auth` = base64 `user:pass`, or
/// `identitytoken`). Helpers run as `docker-credential-NAME get` with the server on standard input.
public struct CredentialStore: Sendable {
    public let files: [String]
    /// The file named by `--authfile`: an error when unreadable (the others are optional).
    let explicit: String?
    let environment: [String: String]

    /// Seconds a credential helper may take to answer.
    public var helperTimeout: TimeInterval = 30

    public init(authFile: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        var files: [String] = []
        if let authFile { files.append(authFile) }
        if let f = environment["REGISTRY_AUTH_FILE"], !f.isEmpty { files.append(f) }
        let home = environment["HOME"] ?? NSHomeDirectory()
        files.append((environment["DOCKER_CONFIG"].map { $0 + "/config.json" }) ?? home + "/.docker/config.json")
        if let x = environment["XDG_RUNTIME_DIR"], !x.isEmpty { files.append(x + "/containers/auth.json") }
        files.append(home + "/.config/containers/auth.json")
        self.files = files
        self.explicit = authFile
        self.environment = environment
    }

    /// Credentials for `host`, or nil for anonymous access. An explicit `--authfile` that cannot be read is
    /// an error; the default files are optional.
    public func credentials(for host: String) throws(CredentialError) -> RegistryCredentials? {
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                if file == explicit { throw CredentialError(message: "cannot read the auth file \(file)") }
                continue
            }
            guard let doc = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw CredentialError(message: "\(file): not a JSON object (expected docker's config.json format)")
            }
            if let helpers = doc["credHelpers"] as? [String: String], let helper = helpers[host] {
                return try runHelper(helper, host: host)
            }
            if let auths = doc["auths"] as? [String: Any], let entry = Self.entry(auths, host: host) {
                if let token = entry["identitytoken"] as? String, !token.isEmpty {
                    return RegistryCredentials(username: "<token>", secret: token)
                }
                if let auth = entry["auth"] as? String, let decoded = Data(base64Encoded: auth),
                    let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":")
                {
                    return RegistryCredentials(username: String(text[..<colon]), secret: String(text[text.index(after: colon)...]))
                }
                if let user = entry["username"] as? String, let pass = entry["password"] as? String {
                    return RegistryCredentials(username: user, secret: pass)
                }
            }
            if let store = doc["credsStore"] as? String, !store.isEmpty, let found = try? runHelper(store, host: host) {
                return found
            }
        }
        return nil
    }

    /// `auths` keys may carry a scheme or a path (`https://index.docker.io/v1/`): compare host parts.
    static func entry(_ auths: [String: Any], host: String) -> [String: Any]? {
        if let e = auths[host] as? [String: Any] { return e }
        for (key, value) in auths {
            var k = key
            if let r = k.range(of: "://") { k = String(k[r.upperBound...]) }
            if let slash = k.firstIndex(of: "/") { k = String(k[..<slash]) }
            if k == host, let e = value as? [String: Any] { return e }
        }
        return nil
    }

    func runHelper(_ name: String, host: String) throws(CredentialError) -> RegistryCredentials? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["docker-credential-\(name)", "get"]
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch {
            throw CredentialError(message: "cannot run docker-credential-\(name) for \(host)")
        }
        input.fileHandleForWriting.write(Data(host.utf8))
        try? input.fileHandleForWriting.close()
        // The helper gets a deadline: one that never answers must not hang a publish.
        let done = DispatchSemaphore(value: 0)
        let reader = HelperOutput()
        Thread {
            reader.data = output.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }.start()
        if done.wait(timeout: .now() + helperTimeout) == .timedOut {
            p.terminate()
            kill(p.processIdentifier, SIGKILL)
            throw CredentialError(
                message: "docker-credential-\(name) did not answer within \(Int(helperTimeout)) s for \(host) (check the helper, or use --authfile)")
        }
        p.waitUntilExit()
        let data = reader.data
        guard p.terminationStatus == 0 else { return nil }  // "credentials not found"
        struct HelperAnswer: Decodable {
            let Username: String
            let Secret: String
        }
        guard let answer = try? JSONDecoder().decode(HelperAnswer.self, from: data) else { throw CredentialError(message: "docker-credential-\(name) answered something other than {Username, Secret} for \(host)") }
        return RegistryCredentials(username: answer.Username, secret: answer.Secret)
    }
}

/// A helper's output, written by the reading thread before it signals, read after the wait.
private final class HelperOutput: @unchecked Sendable {
    // @unchecked: written once by the reader thread, read only after its semaphore signal (happens-before).
    var data = Data()
}
