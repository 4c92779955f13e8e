#if canImport(Glibc)
    import Glibc
#endif
import Foundation

/// Plain HTTP(S) downloads, for luet `http` repositories: the registry client's transport, credentials (Basic,
/// from the same auth file, by host), TLS verification (off only for `insecureHosts`) and retries (408, 429,
/// 5xx and dropped connections, with backoff). Errors never carry a credential or a URL's userinfo.
public struct FileClient {
    let session: CurlSession
    let credentials: RegistryCredentials?
    let options: RegistryOptions

    /// A client for files under `host` (`files.example.com[:port]`).
    public init(host: String, credentials: RegistryCredentials?, options: RegistryOptions) {
        var http = options.http
        http.verifyTLS = !options.insecureHosts.contains(host)
        session = CurlSession(options: http)
        self.credentials = credentials
        self.options = options
    }

    /// `host[:port]` of a URL, as credentials and `insecureHosts` name it.
    public static func host(of url: String) -> String {
        let origin = Redaction.origin(url)
        guard let scheme = origin.range(of: "://") else { return origin }
        return String(origin[scheme.upperBound...])
    }

    /// GETs `url`: the body in memory, or written to `file` (truncated before each attempt). A status other
    /// than 200 after the retries is an error naming it.
    public func get(_ url: String, to file: String? = nil) throws(RegistryError) -> [UInt8] {
        var attempt = 0
        while true {
            attempt += 1
            var headers: [(String, String)] = []
            if let credentials { headers.append(("Authorization", credentials.basicHeader)) }
            var sink: FileHandle?
            if let file {
                guard FileManager.default.createFile(atPath: file, contents: nil), let handle = FileHandle(forWritingAtPath: file) else {
                    throw RegistryError(method: "GET", path: Redaction.url(url), status: nil, code: nil, message: "cannot write \(file)", hint: nil)
                }
                sink = handle
            }
            defer { try? sink?.close() }
            let response: HTTPResponse
            do {
                response = try session.perform(HTTPRequest(method: "GET", url: url, headers: headers), sink: sink)
            } catch {
                if error.retryable && attempt < options.attempts {
                    pause(attempt, nil)
                    continue
                }
                throw RegistryError(
                    method: "GET", path: Redaction.url(url), status: nil, code: nil, message: error.message,
                    hint: error.retryable ? "gave up after \(attempt) attempt(s)" : nil)
            }
            if RegistryClient.retryableStatus(response.status) && attempt < options.attempts {
                pause(attempt, response.header("retry-after"))
                continue
            }
            guard response.status == 200 else {
                let hint: String? =
                    switch response.status {
                    case 401, 403: credentials == nil ? "add credentials for \(Self.host(of: url)) to the auth file (--authfile)" : "the credentials for \(Self.host(of: url)) were refused"
                    case 404: "check the repository's url"
                    default: nil
                    }
                let message =
                    switch response.status {
                    case 401: "unauthorized"
                    case 403: "forbidden"
                    case 404: "not found"
                    default: "unexpected answer"
                    }
                throw RegistryError(method: "GET", path: Redaction.url(url), status: response.status, code: nil, message: message, hint: hint)
            }
            return response.body
        }
    }

    func pause(_ attempt: Int, _ retryAfter: String?) { RegistryClient.pause(attempt, retryAfter, options) }
}
