internal import CCurl
import Foundation

/// One HTTP request, as plain values.
public struct HTTPRequest: Sendable {
    public enum Body: Sendable {
        case none
        case bytes([UInt8])
        /// `length` bytes of a file from `offset`: blobs are streamed from disk, never held in memory.
        case file(path: String, offset: Int64, length: Int64)

        var length: Int64 {
            switch self {
            case .none: return 0
            case .bytes(let b): return Int64(b.count)
            case .file(_, _, let n): return n
            }
        }
    }

    public var method: String
    public var url: String
    /// Header lines in order; names as sent.
    public var headers: [(String, String)]
    public var body: Body

    public init(method: String, url: String, headers: [(String, String)] = [], body: Body = .none) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }

    /// The first value of a header (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

/// One HTTP response: the status, the headers (names lowercased), the body (unless it went to a file).
public struct HTTPResponse: Sendable {
    public let status: Int
    public let headers: [String: [String]]
    public let body: [UInt8]
    /// The URL after redirects.
    public let url: String

    public init(status: Int, headers: [String: [String]], body: [UInt8], url: String) {
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url
    }

    /// The first value of a header.
    public func header(_ name: String) -> String? { headers[name.lowercased()]?.first }
}

/// A failure below HTTP: no connection, a dropped connection, TLS, a timeout.
public struct TransportError: Error, Sendable, CustomStringConvertible {
    /// libcurl's code (`CURLcode`).
    public let code: Int
    public let message: String
    /// Whether trying again may help (connection refused, reset, timeouts, partial transfers).
    public let retryable: Bool
    public var description: String { message }
}

/// Settings of a transport.
public struct HTTPOptions: Sendable {
    /// Verify TLS certificates (on unless a registry is named insecure).
    public var verifyTLS = true
    /// Seconds to establish a connection (TCP and TLS).
    public var connectTimeout: Int = 15
    /// A transfer slower than `lowSpeedLimit` bytes a second for this many seconds is abandoned (a silent
    /// server, or one that trickles): it fails, naming the registry, and is retried like a dropped connection.
    public var stallTimeout: Int = 20
    /// Bytes a second below which a transfer counts as stalled.
    public var lowSpeedLimit: Int = 10 << 10
    public var userAgent = "cosci"

    public init() {}
}

/// A libcurl easy handle: one per task, reused for consecutive requests so connections are kept alive. Not
/// thread-safe, deliberately not `Sendable`.
public final class CurlSession {
    private let handle: UnsafeMutableRawPointer
    let options: HTTPOptions

    private static let globalInit: Void = { _ = curl_global_init(CCURL_GLOBAL_DEFAULT) }()

    public init(options: HTTPOptions = HTTPOptions()) {
        _ = Self.globalInit
        handle = curl_easy_init()
        self.options = options
    }

    deinit { curl_easy_cleanup(handle) }

    /// Performs a request. The response body goes to memory, or appended to `sink` when given (a file
    /// handle open for writing; used for blob downloads).
    public func perform(_ request: HTTPRequest, sink: FileHandle? = nil) throws(TransportError) -> HTTPResponse {
        curl_easy_reset(handle)
        let state = TransferState(body: request.body, sink: sink)
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        for (name, value) in request.headers {
            headerList = curl_slist_append(headerList, "\(name): \(value)")
        }
        // curl adds `Expect: 100-continue` to uploads; registries answer it, but it costs a round trip.
        headerList = curl_slist_append(headerList, "Expect:")

        try setup(request, headerList: headerList, state: state)
        let rc = withExtendedLifetime(state) {
            let context = Unmanaged.passUnretained(state).toOpaque()
            _ = ccurl_setopt_pointer(handle, CURLOPT_WRITEDATA, context)
            _ = ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, context)
            _ = ccurl_setopt_pointer(handle, CURLOPT_READDATA, context)
            _ = ccurl_setopt_pointer(handle, CURLOPT_SEEKDATA, context)
            return curl_easy_perform(handle)
        }
        if let error = state.readError {
            throw TransportError(code: Int(CURLE_READ_ERROR.rawValue), message: "\(error) (\(Redaction.origin(request.url)))", retryable: false)
        }
        guard rc == CURLE_OK else {
            var text = String(cString: curl_easy_strerror(rc))
            if rc == CURLE_OPERATION_TIMEDOUT {
                text = "timed out: no connection within \(options.connectTimeout) s, or less than \(options.lowSpeedLimit) bytes/s for \(options.stallTimeout) s"
            }
            throw TransportError(
                code: Int(rc.rawValue), message: "\(text) (\(Redaction.origin(request.url)))",
                retryable: Self.retryable(rc))
        }
        var status = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var effective: UnsafeMutablePointer<CChar>?
        _ = ccurl_getinfo_string(handle, CURLINFO_EFFECTIVE_URL, &effective)
        return HTTPResponse(
            status: status, headers: state.finalHeaders, body: state.received,
            url: effective.map { String(cString: $0) } ?? request.url)
    }

    private func setup(
        _ request: HTTPRequest, headerList: UnsafeMutablePointer<curl_slist>?, state: TransferState
    ) throws(TransportError) {
        func ok(_ rc: CURLcode, _ what: String) throws(TransportError) {
            guard rc == CURLE_OK else {
                throw TransportError(
                    code: Int(rc.rawValue), message: "curl_easy_setopt(\(what)): \(String(cString: curl_easy_strerror(rc)))",
                    retryable: false)
            }
        }
        try ok(ccurl_setopt_string(handle, CURLOPT_URL, request.url), "URL")
        try ok(ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1), "NOSIGNAL")
        try ok(ccurl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList), "HTTPHEADER")
        try ok(ccurl_setopt_string(handle, CURLOPT_USERAGENT, options.userAgent), "USERAGENT")
        try ok(ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, options.connectTimeout), "CONNECTTIMEOUT")
        try ok(ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, options.lowSpeedLimit), "LOW_SPEED_LIMIT")
        try ok(ccurl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, options.stallTimeout), "LOW_SPEED_TIME")
        // Redirects (blob downloads from storage backends); libcurl drops Authorization on a change of host.
        try ok(ccurl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, request.method == "GET" || request.method == "HEAD" ? 1 : 0), "FOLLOWLOCATION")
        try ok(ccurl_setopt_long(handle, CURLOPT_MAXREDIRS, 5), "MAXREDIRS")
        try ok(ccurl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, options.verifyTLS ? 1 : 0), "SSL_VERIFYPEER")
        try ok(ccurl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, options.verifyTLS ? 2 : 0), "SSL_VERIFYHOST")
        try ok(ccurl_setopt_data_cb(handle, CURLOPT_WRITEFUNCTION, writeCallback), "WRITEFUNCTION")
        try ok(ccurl_setopt_data_cb(handle, CURLOPT_HEADERFUNCTION, headerCallback), "HEADERFUNCTION")
        switch request.method {
        case "HEAD":
            try ok(ccurl_setopt_long(handle, CURLOPT_NOBODY, 1), "NOBODY")
        case "GET":
            break
        default:
            if case .none = request.body, request.method == "POST" {
                try ok(ccurl_setopt_long(handle, CURLOPT_POST, 1), "POST")
                try ok(ccurl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, 0), "POSTFIELDSIZE")
                try ok(ccurl_setopt_string(handle, CURLOPT_POSTFIELDS, ""), "POSTFIELDS")
            } else {
                try ok(ccurl_setopt_long(handle, CURLOPT_UPLOAD, 1), "UPLOAD")
                try ok(ccurl_setopt_off(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(request.body.length)), "INFILESIZE")
                try ok(ccurl_setopt_data_cb(handle, CURLOPT_READFUNCTION, readCallback), "READFUNCTION")
                try ok(ccurl_setopt_seek_cb(handle, seekCallback), "SEEKFUNCTION")
                try ok(ccurl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method), "CUSTOMREQUEST")
            }
        }
    }

    static func retryable(_ rc: CURLcode) -> Bool {
        switch rc {
        case CURLE_COULDNT_CONNECT, CURLE_OPERATION_TIMEDOUT, CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING,
            CURLE_PARTIAL_FILE, CURLE_COULDNT_RESOLVE_HOST, CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_SSL_CONNECT_ERROR:
            return true
        default:
            return false
        }
    }
}

/// What one transfer reads and writes, reached from the C callbacks through an unretained pointer.
private final class TransferState {
    var received: [UInt8] = []
    /// Header blocks: a new one starts at each status line (redirects, 100 Continue).
    var headerBlocks: [[String: [String]]] = []
    let sink: FileHandle?
    var readError: String?
    // Body source.
    let bytes: [UInt8]
    var offset = 0
    let file: FileHandle?
    var fileRemaining: Int64 = 0
    var fileStart: Int64 = 0
    var fileLength: Int64 = 0

    init(body: HTTPRequest.Body, sink: FileHandle?) {
        self.sink = sink
        switch body {
        case .none:
            bytes = []
            file = nil
        case .bytes(let b):
            bytes = b
            file = nil
        case .file(let path, let offset, let length):
            bytes = []
            let handle = FileHandle(forReadingAtPath: path)
            if let handle {
                try? handle.seek(toOffset: UInt64(offset))
            } else {
                readError = "cannot open \(path)"
            }
            file = handle
            fileRemaining = length
            fileStart = offset
            fileLength = length
        }
    }

    deinit { try? file?.close() }

    var finalHeaders: [String: [String]] {
        headerBlocks.last ?? [:]
    }
}

private let writeCallback: ccurl_data_cb = { ptr, size, count, context in
    let n = size * count
    guard let ptr, let context else { return 0 }
    let state = Unmanaged<TransferState>.fromOpaque(context).takeUnretainedValue()
    let buffer = UnsafeRawBufferPointer(start: ptr, count: n)
    if let sink = state.sink {
        sink.write(Data(buffer))
    } else {
        state.received.append(contentsOf: buffer)
    }
    return n
}

private let headerCallback: ccurl_data_cb = { ptr, size, count, context in
    let n = size * count
    guard let ptr, let context else { return 0 }
    let state = Unmanaged<TransferState>.fromOpaque(context).takeUnretainedValue()
    let line = String(decoding: UnsafeRawBufferPointer(start: ptr, count: n), as: UTF8.self)
        .trimmingCharacters(in: .whitespacesAndNewlines)
    if line.hasPrefix("HTTP/") {
        state.headerBlocks.append([:])
        state.received.removeAll()
    } else if let colon = line.firstIndex(of: ":"), !state.headerBlocks.isEmpty {
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        state.headerBlocks[state.headerBlocks.count - 1][name, default: []].append(value)
    }
    return n
}

private let readCallback: ccurl_data_cb = { ptr, size, count, context in
    let capacity = size * count
    guard let ptr, let context else { return CCURL_READFUNC_ABORT }
    let state = Unmanaged<TransferState>.fromOpaque(context).takeUnretainedValue()
    if let file = state.file {
        let want = Int(min(Int64(capacity), state.fileRemaining))
        if want == 0 { return 0 }
        guard let data = try? file.read(upToCount: want), !data.isEmpty else {
            state.readError = "the file ended early"
            return CCURL_READFUNC_ABORT
        }
        data.copyBytes(to: UnsafeMutableRawBufferPointer(start: ptr, count: data.count))
        state.fileRemaining -= Int64(data.count)
        return data.count
    }
    let n = min(capacity, state.bytes.count - state.offset)
    if n > 0 {
        state.bytes.withUnsafeBytes { src in
            UnsafeMutableRawPointer(ptr).copyMemory(from: src.baseAddress! + state.offset, byteCount: n)
        }
        state.offset += n
    }
    return n
}

private let seekCallback: ccurl_seek_cb = { context, offset, origin in
    guard let context, origin == SEEK_SET else { return 2 }  // CURL_SEEKFUNC_CANTSEEK
    let state = Unmanaged<TransferState>.fromOpaque(context).takeUnretainedValue()
    let position = Int64(offset)
    if let file = state.file {
        guard position >= 0, position <= state.fileLength, (try? file.seek(toOffset: UInt64(state.fileStart + position))) != nil else {
            return 1  // CURL_SEEKFUNC_FAIL
        }
        state.fileRemaining = state.fileLength - position
        return 0
    }
    guard offset >= 0, Int(offset) <= state.bytes.count else { return 1 }
    state.offset = Int(offset)
    return 0  // CURL_SEEKFUNC_OK
}

/// Keeps secrets out of text: URLs lose their user info; messages name a request's origin or path, never its
/// query (upload URLs carry signed state).
public enum Redaction {
    /// `scheme://host[:port]` of a URL, without credentials.
    public static func origin(_ url: String) -> String {
        let clean = self.url(url)
        guard let scheme = clean.range(of: "://") else { return clean }
        let rest = clean[scheme.upperBound...]
        return String(clean[..<scheme.upperBound]) + String(rest[..<(rest.firstIndex(of: "/") ?? rest.endIndex)])
    }

    /// `https://user:pass@host/x?_state=…` → `https://host/x?_state=…` (upload state is not a secret, passwords are).
    public static func url(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let hostEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<hostEnd]
        guard let at = authority.lastIndex(of: "@") else { return url }
        return String(url[..<scheme.upperBound]) + String(authority[authority.index(after: at)...]) + String(rest[hostEnd...])
    }
}
