internal import CCurl

/// libcurl facts.
public enum LibCurl {
    /// The linked libcurl's version and TLS backend, e.g. `7.88.1 (OpenSSL/3.0.19)`.
    public static var version: String {
        guard let info = ccurl_version_info() else { return "unknown" }
        let v = String(cString: info.pointee.version)
        let ssl = info.pointee.ssl_version.map { String(cString: $0) } ?? "no TLS"
        return "\(v) (\(ssl))"
    }
}
