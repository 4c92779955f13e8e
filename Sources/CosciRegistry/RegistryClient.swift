#if canImport(Glibc)
    import Glibc
#endif
import CosciModel
import Foundation

/// How cosci talks to registries.
public struct RegistryOptions: Sendable {
    /// Hosts reached over plain HTTP, or HTTPS without certificate verification (`--insecure-registry`).
    /// Loopback hosts always use plain HTTP.
    public var insecureHosts: Set<String> = []
    /// Attempts per request on 429, 408, 5xx and dropped connections (never on other 4xx).
    public var attempts = 6
    /// First backoff delay in seconds (doubled per attempt, with ±25 % jitter, capped at `maxDelay`).
    public var baseDelay = 0.2
    public var maxDelay = 10.0
    /// Blobs larger than this go up in chunks (PATCH), as do all blobs when the registry asks for a minimum chunk.
    public var chunkThreshold: Int64 = 64 << 20
    public var chunkSize: Int64 = 16 << 20
    /// Connection and stall deadlines of every transfer.
    public var http = HTTPOptions()

    public init() {}
}

/// A registry's answer that is not what was asked for. Says what failed, on what, and why, in the
/// registry's words, and what to do. Never holds a credential.
public struct RegistryError: Error, Sendable, CustomStringConvertible {
    public let method: String
    /// The path (no host, no query string: upload URLs carry signed state).
    public let path: String
    public let status: Int?
    /// The registry's error code (`MANIFEST_INVALID`, …) when it sent one.
    public let code: String?
    public let message: String
    public let hint: String?

    public var description: String {
        var s = "\(method) \(path): "
        if let status { s += "\(status) " }
        if let code { s += "\(code) " }
        s += message
        if let hint { s += " (\(hint))" }
        return s
    }
}

/// What happened to a blob on its way up.
public enum BlobPush: Sendable, Equatable {
    case existed
    case mounted
    case uploaded(bytes: Int64)

    public var bytesSent: Int64 {
        if case .uploaded(let n) = self { return n }
        return 0
    }
}

/// Authentication state shared by every client of one registry: the scheme learnt from the challenge and
/// the bearer tokens obtained, by scope set.
public final class RegistryAuth: @unchecked Sendable {
    // @unchecked: every mutable field is read and written under `lock`.
    private let lock = NSLock()
    let credentials: RegistryCredentials?
    private var challenge: Challenge?
    private var tokens: [String: String] = [:]
    /// Token requests made (tests count them).
    public private(set) var tokenRequests = 0

    struct Challenge {
        enum Scheme { case basic, bearer(realm: String, service: String?) }
        let scheme: Scheme
    }

    public init(credentials: RegistryCredentials?) {
        self.credentials = credentials
    }

    /// The Authorization header for a request needing `scopes`, if the scheme is known.
    func header(for scopes: [String]) -> String? {
        lock.withLock {
            guard let challenge else { return nil }
            switch challenge.scheme {
            case .basic: return credentials?.basicHeader
            case .bearer: return tokens[Self.key(scopes)].map { "Bearer " + $0 }
            }
        }
    }

    static func key(_ scopes: [String]) -> String { scopes.sorted().joined(separator: " ") }

    /// Learns the scheme from a 401 and, for bearer, fetches a token for `scopes` (plus the challenge's).
    func authenticate(_ response: HTTPResponse, scopes: [String], session: CurlSession, request: String) throws(RegistryError) {
        guard let header = response.header("www-authenticate") else {
            throw RegistryError(method: "GET", path: request, status: 401, code: "UNAUTHORIZED", message: "no WWW-Authenticate challenge", hint: "check registry credentials")
        }
        let parsed = Self.parseChallenge(header)
        lock.withLock { challenge = parsed }
        guard case .bearer(let realm, let service)? = parsed?.scheme else {
            if parsed == nil {
                throw RegistryError(method: "GET", path: request, status: 401, code: nil, message: "unsupported authentication challenge", hint: nil)
            }
            return
        }
        var all = scopes
        if let s = Self.parameter("scope", in: header) {
            for scope in s.split(separator: " ").map(String.init) where !all.contains(scope) { all.insert(scope, at: 0) }
        }
        var url = realm + (realm.contains("?") ? "&" : "?")
        var query: [String] = []
        if let service { query.append("service=" + Self.escape(service)) }
        for scope in all { query.append("scope=" + Self.escape(scope)) }
        if let c = credentials, c.username != "<token>" { query.append("account=" + Self.escape(c.username)) }
        url += query.joined(separator: "&")
        var headers: [(String, String)] = []
        if let c = credentials { headers.append(("Authorization", c.basicHeader)) }
        let reply: HTTPResponse
        do { reply = try session.perform(HTTPRequest(method: "GET", url: url, headers: headers)) } catch {
            throw RegistryError(method: "GET", path: Redaction.path(realm), status: nil, code: nil, message: "token request failed: \(error.message)", hint: nil)
        }
        lock.withLock { tokenRequests += 1 }
        guard reply.status == 200 else {
            throw RegistryError(
                method: "GET", path: Redaction.path(realm), status: reply.status, code: nil,
                message: "the token server refused \(all.joined(separator: " "))",
                hint: credentials == nil ? "no credentials were found for this registry; pass --authfile or log in" : "check registry credentials")
        }
        guard let answer = try? JSONDecoder().decode(RegistryAPI.Token.self, from: Data(reply.body)),
            let token = answer.token ?? answer.access_token
        else {
            throw RegistryError(method: "GET", path: Redaction.path(realm), status: reply.status, code: nil, message: "the token server's answer holds no token", hint: nil)
        }
        lock.withLock { tokens[Self.key(scopes)] = token }
    }

    static func parseChallenge(_ header: String) -> Challenge? {
        let lower = header.lowercased()
        if lower.hasPrefix("basic") { return Challenge(scheme: .basic) }
        if lower.hasPrefix("bearer"), let realm = parameter("realm", in: header) {
            return Challenge(scheme: .bearer(realm: realm, service: parameter("service", in: header)))
        }
        return nil
    }

    /// A `name="value"` parameter of a challenge.
    static func parameter(_ name: String, in header: String) -> String? {
        guard let r = header.range(of: name + "=\"", options: .caseInsensitive) else { return nil }
        let rest = header[r.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return String(rest[..<end])
    }

    static func escape(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? s
    }
}

/// A client for one repository of one registry. Owns a libcurl handle: one per task, not `Sendable`.
public final class RegistryClient {
    public let repository: RepositoryReference
    let auth: RegistryAuth
    let options: RegistryOptions
    let session: CurlSession
    let base: String

    /// Media types accepted for manifests: distribution answers 404 to OCI manifests without an OCI Accept.
    public static let manifestAccept = [
        "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json",
    ].joined(separator: ", ")

    public init(repository: RepositoryReference, auth: RegistryAuth, options: RegistryOptions) {
        self.repository = repository
        self.auth = auth
        self.options = options
        let insecure = options.insecureHosts.contains(repository.host)
        var http = options.http
        http.verifyTLS = !insecure
        session = CurlSession(options: http)
        base = ((repository.isLoopback || insecure) ? "http://" : "https://") + repository.host
    }

    var pullScope: String { "repository:\(repository.name):pull" }
    var pushScopes: [String] { ["repository:\(repository.name):pull,push"] }

    // MARK: Requests

    /// Sends a request with authentication and retries. `retry` false: transport failures and retryable
    /// statuses come back to the caller (blob uploads restart from a new session instead).
    func send(
        _ method: String, _ url: String, headers: [(String, String)] = [], body: HTTPRequest.Body = .none,
        scopes: [String], retry: Bool = true, sink: (() -> FileHandle?)? = nil
    ) throws(RegistryError) -> HTTPResponse {
        var attempt = 0
        var reauthenticated = false
        while true {
            attempt += 1
            var all = headers
            if let a = auth.header(for: scopes) { all.append(("Authorization", a)) }
            let request = HTTPRequest(method: method, url: url, headers: all, body: body)
            let response: HTTPResponse
            do {
                response = try session.perform(request, sink: sink?())
            } catch {
                if retry && error.retryable && attempt < options.attempts {
                    pause(attempt, nil)
                    continue
                }
                throw RegistryError(
                    method: method, path: Redaction.path(url), status: nil, code: nil, message: error.message,
                    hint: error.retryable ? "gave up after \(attempt) attempt(s)" : nil)
            }
            if response.status == 401 && !reauthenticated {
                reauthenticated = true
                try auth.authenticate(response, scopes: scopes, session: session, request: Redaction.path(url))
                attempt -= 1
                continue
            }
            if retry && Self.retryableStatus(response.status) && attempt < options.attempts {
                pause(attempt, response.header("retry-after"))
                continue
            }
            return response
        }
    }

    static func retryableStatus(_ status: Int) -> Bool {
        [408, 429, 500, 502, 503, 504].contains(status)
    }

    /// Sleeps before attempt `attempt + 1`: `Retry-After` when given (seconds), else exponential with jitter.
    func pause(_ attempt: Int, _ retryAfter: String?) { Self.pause(attempt, retryAfter, options) }

    /// The backoff every client of these options shares.
    static func pause(_ attempt: Int, _ retryAfter: String?, _ options: RegistryOptions) {
        var delay = min(options.maxDelay, options.baseDelay * pow(2, Double(attempt - 1)))
        delay *= Double.random(in: 0.75...1.25)
        if let retryAfter, let seconds = Double(retryAfter.trimmingCharacters(in: .whitespaces)) {
            delay = min(max(seconds, 0), 60)
        }
        usleep(UInt32(delay * 1_000_000))
    }

    /// A success status whose answer lacks a header it must carry: the answer was cut short (a dropped
    /// connection, a proxy). Carries no status, so it is retried like a dropped connection.
    func cutShort(_ method: String, _ url: String, _ r: HTTPResponse, missing header: String) -> RegistryError {
        RegistryError(
            method: method, path: Redaction.path(url), status: nil, code: nil,
            message: "\(r.status) without a \(header) header: the answer was cut short", hint: "retried; check the registry or a proxy in between")
    }

    func failure(_ method: String, _ url: String, _ r: HTTPResponse, hint: String? = nil) -> RegistryError {
        var code: String?
        var message = "unexpected answer"
        if let first = (try? JSONDecoder().decode(RegistryAPI.Errors.self, from: Data(r.body)))?.errors.first {
            code = first.code
            message = first.message ?? message
        } else if !r.body.isEmpty, r.body.count < 300 {
            message = String(decoding: r.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var h = hint
        if h == nil {
            switch r.status {
            case 401, 403: h = "check registry credentials"
            case 429: h = "the registry is rate-limiting; try again later"
            case 500...599: h = "the registry failed; gave up after \(options.attempts) attempts"
            default: h = nil
            }
        }
        return RegistryError(method: method, path: Redaction.path(url), status: r.status, code: code, message: message, hint: h)
    }

    // MARK: Operations

    /// `GET /v2/`: whether the registry answers (authenticating when it challenges).
    public func ping() throws(RegistryError) {
        let url = base + "/v2/"
        let r = try send("GET", url, scopes: [pullScope])
        guard r.status == 200 else { throw failure("GET", url, r) }
    }

    /// The size of a blob in the repository, or nil when absent.
    public func blobSize(_ digest: Digest, scopes: [String]? = nil) throws(RegistryError) -> Int64? {
        let url = "\(base)/v2/\(repository.name)/blobs/\(digest)"
        let r = try send("HEAD", url, scopes: scopes ?? [pullScope])
        if r.status == 404 { return nil }
        guard r.status == 200 else { throw failure("HEAD", url, r) }
        return Int64(r.header("content-length") ?? "") ?? 0
    }

    /// Downloads a blob to `path` (temp file + rename), verifying its digest.
    public func downloadBlob(_ digest: Digest, to path: String) throws(RegistryError) {
        let url = "\(base)/v2/\(repository.name)/blobs/\(digest)"
        let tmp = path + ".part-\(getpid())"
        defer { unlink(tmp) }
        let r = try send("GET", url, scopes: [pullScope]) {
            FileManager.default.createFile(atPath: tmp, contents: nil)
            return FileHandle(forWritingAtPath: tmp)
        }
        guard r.status == 200 else { throw failure("GET", url, r) }
        guard let actual = Digest.sha256(ofFile: tmp), actual == digest else {
            throw RegistryError(method: "GET", path: Redaction.path(url), status: 200, code: "DIGEST_INVALID", message: "the blob's content does not match its digest", hint: "the registry or a proxy corrupted it; try again")
        }
        guard rename(tmp, path) == 0 else {
            throw RegistryError(method: "GET", path: Redaction.path(url), status: nil, code: nil, message: "cannot write \(path)", hint: nil)
        }
    }

    /// Pushes a blob: skipped when present, mounted from `mountFrom` (another repository of the same registry)
    /// when possible, else uploaded (monolithic, or in chunks above the threshold or when the registry asks).
    /// A dropped or failed upload starts again from a new session.
    public func pushBlob(
        _ digest: Digest, size: Int64, from source: HTTPRequest.Body, mountFrom: String? = nil
    ) throws(RegistryError) -> BlobPush {
        var scopes = pushScopes
        if let mountFrom { scopes.append("repository:\(mountFrom):pull") }
        if try blobSize(digest, scopes: scopes) != nil { return .existed }
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try uploadOnce(digest, size: size, source: source, mountFrom: mountFrom, scopes: scopes)
            } catch {
                let transient = error.status.map(Self.retryableStatus) ?? true
                guard transient && attempt < options.attempts else { throw error }
                pause(attempt, nil)
            }
        }
    }

    private func uploadOnce(
        _ digest: Digest, size: Int64, source: HTTPRequest.Body, mountFrom: String?, scopes: [String]
    ) throws(RegistryError) -> BlobPush {
        var start = "\(base)/v2/\(repository.name)/blobs/uploads/"
        if let mountFrom { start += "?mount=\(digest)&from=\(mountFrom)" }
        let opened = try send("POST", start, scopes: scopes)
        if opened.status == 201 && mountFrom != nil { return .mounted }
        guard opened.status == 202, var location = opened.header("location").map(absolute) else {
            if opened.status == 202 { throw cutShort("POST", start, opened, missing: "Location") }
            throw failure("POST", start, opened)
        }
        let minimum = Int64(opened.header("oci-chunk-min-length") ?? "") ?? 0
        if size > options.chunkThreshold || minimum > 0 {
            let chunk = max(options.chunkSize, minimum)
            var offset: Int64 = 0
            while offset < size {
                let n = min(chunk, size - offset)
                let body: HTTPRequest.Body
                switch source {
                case .file(let path, let base, _): body = .file(path: path, offset: base + offset, length: n)
                case .bytes(let b): body = .bytes(Array(b[Int(offset)..<Int(offset + n)]))
                case .none: body = .none
                }
                let r = try send(
                    "PATCH", location,
                    headers: [("Content-Type", "application/octet-stream"), ("Content-Range", "\(offset)-\(offset + n - 1)")],
                    body: body, scopes: scopes, retry: false)
                guard r.status == 202, let next = r.header("location").map(absolute) else {
                    if r.status == 202 { throw cutShort("PATCH", location, r, missing: "Location") }
                    throw failure("PATCH", location, r)
                }
                location = next
                offset += n
            }
            let done = try send("PUT", withDigest(location, digest), body: .none, scopes: scopes, retry: false)
            guard done.status == 201 else { throw failure("PUT", location, done) }
            return .uploaded(bytes: size)
        }
        let r = try send(
            "PUT", withDigest(location, digest), headers: [("Content-Type", "application/octet-stream")], body: source,
            scopes: scopes, retry: false)
        guard r.status == 201 else {
            throw failure("PUT", location, r, hint: r.status == 400 ? "the uploaded bytes do not match \(digest)" : nil)
        }
        if let echoed = r.header("docker-content-digest"), echoed != digest.description {
            throw RegistryError(method: "PUT", path: Redaction.path(location), status: 201, code: "DIGEST_INVALID", message: "the registry stored \(echoed), not \(digest)", hint: nil)
        }
        return .uploaded(bytes: size)
    }

    /// Mounts a blob from another repository of the same registry. False when the registry would not (the
    /// upload session it opened instead is cancelled).
    public func mount(_ digest: Digest, from source: String) throws(RegistryError) -> Bool {
        let scopes = pushScopes + ["repository:\(source):pull"]
        let url = "\(base)/v2/\(repository.name)/blobs/uploads/?mount=\(digest)&from=\(source)"
        let r = try send("POST", url, scopes: scopes)
        if r.status == 201 { return true }
        if r.status == 202, let location = r.header("location").map(absolute) {
            _ = try? send("DELETE", location, scopes: scopes, retry: false)
            return false
        }
        throw failure("POST", url, r)
    }

    func absolute(_ location: String) -> String {
        location.hasPrefix("http://") || location.hasPrefix("https://") ? location : base + (location.hasPrefix("/") ? "" : "/") + location
    }

    func withDigest(_ location: String, _ digest: Digest) -> String {
        location + (location.contains("?") ? "&" : "?") + "digest=" + RegistryAuth.escape(digest.description)
    }

    /// Puts a manifest under a tag or its digest; checks the digest the registry reports.
    public func putManifest(_ bytes: [UInt8], mediaType: String, reference: String) throws(RegistryError) -> Digest {
        let url = "\(base)/v2/\(repository.name)/manifests/\(reference)"
        let r = try send("PUT", url, headers: [("Content-Type", mediaType)], body: .bytes(bytes), scopes: pushScopes)
        guard r.status == 201 else { throw failure("PUT", url, r) }
        let digest = Digest.sha256(of: bytes)
        if let echoed = r.header("docker-content-digest"), echoed != digest.description {
            throw RegistryError(method: "PUT", path: Redaction.path(url), status: 201, code: "DIGEST_INVALID", message: "the registry reports \(echoed) for a manifest whose digest is \(digest)", hint: nil)
        }
        return digest
    }

    /// The digest a tag (or digest) names, or nil when absent.
    public func manifestDigest(_ reference: String) throws(RegistryError) -> Digest? {
        let url = "\(base)/v2/\(repository.name)/manifests/\(reference)"
        let r = try send("HEAD", url, headers: [("Accept", Self.manifestAccept)], scopes: [pullScope])
        if r.status == 404 { return nil }
        guard r.status == 200 else { throw failure("HEAD", url, r) }
        guard let text = r.header("docker-content-digest"), let d = try? Digest(parsing: text) else {
            return try manifest(reference)?.digest
        }
        return d
    }

    /// A manifest's bytes and media type, or nil when absent; by digest, the bytes are verified.
    public func manifest(_ reference: String) throws(RegistryError) -> (bytes: [UInt8], mediaType: String, digest: Digest)? {
        let url = "\(base)/v2/\(repository.name)/manifests/\(reference)"
        let r = try send("GET", url, headers: [("Accept", Self.manifestAccept)], scopes: [pullScope])
        if r.status == 404 { return nil }
        guard r.status == 200 else { throw failure("GET", url, r) }
        let digest = Digest.sha256(of: r.body)
        if reference.hasPrefix("sha256:"), digest.description != reference {
            throw RegistryError(method: "GET", path: Redaction.path(url), status: 200, code: "DIGEST_INVALID", message: "the manifest's bytes do not match \(reference)", hint: nil)
        }
        return (r.body, r.header("content-type") ?? "", digest)
    }

    /// Every tag of the repository (following `Link` pagination); empty when the repository does not exist.
    public func tags(pageSize: Int = 1000) throws(RegistryError) -> [String] {
        var url = "\(base)/v2/\(repository.name)/tags/list?n=\(pageSize)"
        var out: [String] = []
        var seen = Set<String>()
        while true {
            let r = try send("GET", url, scopes: [pullScope])
            if r.status == 404 { return out }
            guard r.status == 200 else { throw failure("GET", url, r) }
            let list = try? JSONDecoder().decode(RegistryAPI.TagList.self, from: Data(r.body))
            for t in list?.tags ?? [] where seen.insert(t).inserted { out.append(t) }
            guard let link = r.header("link"), let open = link.firstIndex(of: "<"), let close = link.firstIndex(of: ">"),
                link.contains("rel=\"next\"")
            else { return out }
            url = absolute(String(link[link.index(after: open)..<close]))
        }
    }

}

extension Redaction {
    /// A URL's path only: no scheme, host, credentials or query (upload URLs carry signed `_state`).
    public static func path(_ url: String) -> String {
        var s = url
        if let r = s.range(of: "://") {
            s = String(s[r.upperBound...])
            s = s.firstIndex(of: "/").map { String(s[$0...]) } ?? "/"
        }
        if let q = s.firstIndex(of: "?") { s = String(s[..<q]) }
        return s
    }
}

/// The registry API's JSON answers cosci reads (distribution spec).
enum RegistryAPI {
    /// A token server's answer (`token`, or OAuth2's `access_token`).
    struct Token: Decodable {
        let token: String?
        let access_token: String?
    }

    /// An error answer: `{"errors": [{"code", "message"}]}`.
    struct Errors: Decodable {
        struct Entry: Decodable {
            let code: String?
            let message: String?
        }
        let errors: [Entry]
    }

    /// `GET /v2/NAME/tags/list` (tags may be null for a repository without any).
    struct TagList: Decodable {
        let tags: [String]?
    }
}
