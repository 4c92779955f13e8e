import CosciTestSupport
import Foundation
import Testing

/// The registry fixtures checked with independent tools (skopeo, curl), so that a broken fixture fails
/// here rather than as a mysterious client failure elsewhere.
@Suite(.serialized) struct FixtureTests {
    @Test func plainRegistryTakesASkopeoPushWithTheDigestKept() throws {
        let work = try WorkDirectory()
        let layout = try makeLayout(in: work.url)
        let registry = try LocalRegistry.start()
        defer { registry.stop() }

        let copy = try skopeo(["copy", "--dest-tls-verify=false", "oci:\(layout.path):v1", "docker://\(registry.host)/fixture/hello:v1"])
        #expect(copy.status == 0, "skopeo copy: \(copy.stderr)\nregistry log:\n\(registry.log)")
        let inspect = try skopeo(["inspect", "--tls-verify=false", "docker://\(registry.host)/fixture/hello:v1"])
        #expect(try reportedDigest(inspect) == layout.manifestDigest, "\(inspect.stderr)")
        let raw = try skopeo(["inspect", "--raw", "--tls-verify=false", "docker://\(registry.host)/fixture/hello:v1"])
        #expect(Data(raw.stdout.utf8) == layout.manifest)
        #expect(registry.log.contains("\"PUT /v2/fixture/hello/manifests/v1 "), "the access log shows the manifest push")
        #expect(throws: TestSupportError.self) { try registry.tokenRequests }

        let directory = registry.directory
        registry.stop()
        #expect(!FileManager.default.fileExists(atPath: directory.path))
        let ping = try curl(["-o", "/dev/null", "-w", "%{http_code}", "http://\(registry.host)/v2/"])
        #expect(ping.stdout == "000", "stop() leaves nothing listening on \(registry.host)")
    }

    @Test func basicAuthRegistryTakesPushesOnlyWithCredentials() throws {
        let work = try WorkDirectory()
        let layout = try makeLayout(in: work.url)
        let registry = try LocalRegistry.start(auth: .basic(user: "cosci", password: "s3cret"))
        defer { registry.stop() }
        let source = "oci:\(layout.path):v1"
        let target = "docker://\(registry.host)/fixture/hello:v1"

        let ping = try curl(["-D", "-", "-o", "/dev/null", "http://\(registry.host)/v2/"])
        #expect(ping.stdout.hasPrefix("HTTP/1.1 401"))
        #expect(headerValue("www-authenticate", in: ping.stdout) == "Basic realm=\"cosci-test-realm\"")

        let anonymous = try skopeo(["copy", "--dest-tls-verify=false", "--dest-no-creds", source, target])
        #expect(anonymous.status != 0)
        #expect(anonymous.stderr.contains("authentication required") || anonymous.stderr.contains("unauthorized"), "\(anonymous.stderr)")
        let wrong = try skopeo(["copy", "--dest-tls-verify=false", "--dest-creds", "cosci:wrong", source, target])
        #expect(wrong.status != 0)

        let copy = try skopeo(["copy", "--dest-tls-verify=false", "--dest-creds", "cosci:s3cret", source, target])
        #expect(copy.status == 0, "skopeo copy: \(copy.stderr)\nregistry log:\n\(registry.log)")
        let inspect = try skopeo(["inspect", "--tls-verify=false", "--creds", "cosci:s3cret", target])
        #expect(try reportedDigest(inspect) == layout.manifestDigest, "\(inspect.stderr)")
    }

    @Test func tokenAuthRegistryGrantsPushToUsersAndPullToAnyone() throws {
        let work = try WorkDirectory()
        let layout = try makeLayout(in: work.url)
        let registry = try LocalRegistry.start(auth: .token(user: "cosci", password: "s3cret"))
        defer { registry.stop() }
        let source = "oci:\(layout.path):v1"
        let target = "docker://\(registry.host)/fixture/hello:v1"
        let realm = try #require(registry.tokenRealm)

        let ping = try curl(["-D", "-", "-o", "/dev/null", "http://\(registry.host)/v2/"])
        #expect(headerValue("www-authenticate", in: ping.stdout) == "Bearer realm=\"\(realm)\",service=\"\(LocalRegistry.tokenService)\"")
        #expect(try registry.tokenRequests == 0)

        let anonymous = try skopeo(["copy", "--dest-tls-verify=false", "--dest-no-creds", source, target])
        #expect(anonymous.status != 0)
        #expect(anonymous.stderr.contains("denied"), "\(anonymous.stderr)")
        let afterAnonymous = try registry.tokenRequests
        #expect(afterAnonymous > 0, "skopeo asked for an anonymous token")

        let copy = try skopeo(["copy", "--dest-tls-verify=false", "--dest-creds", "cosci:s3cret", source, target])
        #expect(copy.status == 0, "skopeo copy: \(copy.stderr)\ntoken server:\n\(registry.tokenServerLog)\nregistry:\n\(registry.log)")
        #expect(try registry.tokenRequests > afterAnonymous)
        let inspect = try skopeo(["inspect", "--tls-verify=false", "--no-creds", target])
        #expect(try reportedDigest(inspect) == layout.manifestDigest, "anonymous pull: \(inspect.stderr)")

        // The token endpoint itself: wrong credentials are refused, several scopes are granted at once.
        let query = "?service=\(LocalRegistry.tokenService)&scope=repository:fixture/hello:pull,push&scope=repository:other:pull"
        let refused = try curl(["-o", "/dev/null", "-w", "%{http_code}", "-u", "cosci:wrong", realm + query])
        #expect(refused.stdout == "401")
        let granted = try curl(["-u", "cosci:s3cret", realm + query])
        let reply = try #require(try JSONSerialization.jsonObject(with: Data(granted.stdout.utf8)) as? [String: Any])
        #expect(reply["expires_in"] as? Int == 300)
        #expect(reply["issued_at"] is String)
        let token = try #require(reply["token"] as? String)
        #expect(reply["access_token"] as? String == token)
        let access = try #require(try claims(of: token)["access"] as? [[String: Any]])
        #expect(access.map { "\($0["name"] ?? ""):\(($0["actions"] as? [String] ?? []).joined(separator: ","))" }
            == ["fixture/hello:pull,push", "other:pull"])
        #expect(!registry.tokenServerLog.contains("s3cret"), "the token server never logs a password")
    }

    @Test func faultProxyInjectsConfiguredFaults() throws {
        let registry = try LocalRegistry.start()
        defer { registry.stop() }
        let proxy = try FaultProxy.start(upstream: registry.host, failAll: true)
        defer { proxy.stop() }
        let ping = "http://\(proxy.host)/v2/"

        #expect(try statusCodes(ping, count: 3) == ["503", "503", "503"])
        try proxy.configure()
        let passed = try curl(["-D", "-", "-o", "/dev/null", ping])
        #expect(passed.stdout.hasPrefix("HTTP/1.1 200"))
        #expect(headerValue("docker-distribution-api-version", in: passed.stdout) == "registry/2.0")

        try proxy.configure(rate429: 1, retryAfter: 2)
        let limited = try curl(["-D", "-", ping])
        #expect(limited.stdout.hasPrefix("HTTP/1.1 429"))
        #expect(headerValue("retry-after", in: limited.stdout) == "2")
        #expect(limited.stdout.contains("\"code\": \"TOOMANYREQUESTS\""), "\(limited.stdout)")
        let head = try curl(["-I", ping])
        #expect(head.status == 0 && head.stdout.hasPrefix("HTTP/1.1 429"), "HEAD gets headers and no body: \(head.stderr)")

        try proxy.configure(rate503: 1, onlyMethods: ["PUT", "PATCH"])
        #expect(try statusCodes(ping, count: 2) == ["200", "200"])
        try proxy.configure(rate500: 1, maxFaults: 2)
        #expect(try statusCodes(ping, count: 4) == ["500", "500", "200", "200"])

        try proxy.configure(rate503: 0.5, seed: 7)
        let first = try statusCodes(ping, count: 12)
        try proxy.configure(rate503: 0.5, seed: 7)
        #expect(try statusCodes(ping, count: 12) == first, "the same seed gives the same faults")
        #expect(first.contains("200") && first.contains("503"), "\(first)")

        #expect(throws: TestSupportError.self, "rates adding up to more than 1 are refused") {
            try proxy.configure(rate429: 0.7, rate503: 0.7)
        }
        let counted = try proxy.stats()
        #expect(counted["fault_429"] == 2 && counted["fault_500"] == 2 && counted["fault_drop"] == 0, "\(counted)")
        #expect(counted["fault_503"] == 3 + 2 * first.filter { $0 == "503" }.count, "\(counted)")

        try proxy.configure(rateDrop: 1, resetStats: true)
        let dropped = try curl(["-o", "/dev/null", "-w", "%{http_code}", ping])
        #expect(dropped.status == 52 && dropped.stdout == "000", "a dropped GET is an empty reply (curl \(dropped.status))")
        let work = try WorkDirectory()
        let body = work.url.appendingPathComponent("body")
        try Data(repeating: 0x61, count: 512 * 1024).write(to: body)
        let droppedPut = try curl(["-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "--data-binary", "@\(body.path)", ping])
        #expect(droppedPut.status != 0 && droppedPut.stdout == "000", "a dropped PUT gets no answer (curl \(droppedPut.status))")

        let stats = try proxy.stats()
        #expect(stats["fault_drop"] == 2)
        #expect(stats["requests"] == 2)
        #expect(stats["method_PUT"] == 1)
        #expect(stats["forwarded"] == 0)
    }

    @Test func faultProxyForwardsPushesChunkedBodiesAndHeads() throws {
        let work = try WorkDirectory()
        let layout = try makeLayout(in: work.url)
        let registry = try LocalRegistry.start(auth: .basic(user: "cosci", password: "s3cret"))
        defer { registry.stop() }
        let proxy = try FaultProxy.start(upstream: registry.host)
        defer { proxy.stop() }

        // skopeo follows the registry's absolute upload Locations: they must lead back through the proxy.
        let copy = try skopeo([
            "copy", "--dest-tls-verify=false", "--dest-creds", "cosci:s3cret", "oci:\(layout.path):v1",
            "docker://\(proxy.host)/fixture/hello:v1",
        ])
        #expect(copy.status == 0, "skopeo copy through the proxy: \(copy.stderr)\nproxy log:\n\(proxy.log)")
        let inspect = try skopeo(["inspect", "--tls-verify=false", "--creds", "cosci:s3cret", "docker://\(registry.host)/fixture/hello:v1"])
        #expect(try reportedDigest(inspect) == layout.manifestDigest, "\(inspect.stderr)")
        let afterCopy = try proxy.stats()
        #expect(afterCopy["method_PUT"] ?? 0 >= 2 && afterCopy["faults"] == 0 && afterCopy["upstream_errors"] == 0, "\(afterCopy)")

        // A blob upload by hand with a chunked PATCH body, then HEAD and GET of the blob.
        let blob = work.url.appendingPathComponent("blob")
        try Data((0..<(300 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }).write(to: blob)
        let digest = "sha256:" + (try sha256(of: blob))
        let base = "http://\(proxy.host)/v2/fixture/chunked"
        let auth = ["-u", "cosci:s3cret"]
        let start = try curl(auth + ["-X", "POST", "-o", "/dev/null", "-w", "%{http_code}\n%header{location}", base + "/blobs/uploads/"])
        let started = start.stdout.split(separator: "\n").map(String.init)
        #expect(started.first == "202", "\(start.stdout)\n\(proxy.log)")
        let session = try #require(started.last)
        #expect(session.hasPrefix("http://\(proxy.host)/v2/fixture/chunked/blobs/uploads/"), "Location names the proxy")
        let patch = try curl(auth + [
            "-X", "PATCH", "-H", "Transfer-Encoding: chunked", "-H", "Content-Type: application/octet-stream",
            "--data-binary", "@\(blob.path)", "-o", "/dev/null", "-w", "%{http_code}\n%header{location}", session,
        ])
        let patched = patch.stdout.split(separator: "\n").map(String.init)
        #expect(patched.first == "202", "\(patch.stdout)\n\(registry.log)")
        let next = try #require(patched.last)
        let put = try curl(auth + ["-X", "PUT", "--data-binary", "", "-o", "/dev/null", "-w", "%{http_code}", next + "&digest=" + digest])
        #expect(put.stdout == "201", "\(registry.log)")

        let head = try curl(auth + ["-I", "-w", "%{size_download}", base + "/blobs/" + digest])
        #expect(head.stdout.hasPrefix("HTTP/1.1 200"))
        #expect(headerValue("content-length", in: head.stdout) == "\(300 * 1024)")
        #expect(head.stdout.hasSuffix("\r\n\r\n0"), "HEAD has no body")
        let pulled = work.url.appendingPathComponent("pulled")
        let get = try curl(auth + ["-o", pulled.path, "-w", "%{http_code}", base + "/blobs/" + digest])
        #expect(get.stdout == "200")
        #expect(try Data(contentsOf: pulled) == Data(contentsOf: blob))
    }
}

// MARK: - Helpers

/// A tiny OCI image layout (one tar+gzip layer holding `hello.txt`), written by hand.
private struct Layout {
    let path: String
    let manifest: Data
    let manifestDigest: String
}

private func makeLayout(in directory: URL) throws -> Layout {
    let root = directory.appendingPathComponent("layout")
    let blobs = root.appendingPathComponent("blobs/sha256")
    let rootfs = directory.appendingPathComponent("rootfs")
    try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: rootfs, withIntermediateDirectories: true)
    try Data("hello from the cosci registry fixtures\n".utf8).write(to: rootfs.appendingPathComponent("hello.txt"))

    let tarball = directory.appendingPathComponent("layer.tar")
    let tar = try runTool("tar", [
        "--sort=name", "--mtime=@1700000000", "--owner=0", "--group=0", "--numeric-owner", "--format=ustar",
        "-C", rootfs.path, "-cf", tarball.path, "hello.txt",
    ])
    try #require(tar.status == 0, "tar: \(tar.stderr)")
    let diffID = "sha256:" + (try sha256(of: tarball))
    // Compressed: skopeo would gzip an uncompressed layer on its way to a registry, changing the digests.
    let gzip = try runTool("gzip", ["-n", "-9", tarball.path])
    try #require(gzip.status == 0, "gzip: \(gzip.stderr)")
    let layer = try Data(contentsOf: directory.appendingPathComponent("layer.tar.gz"))

    func store(_ data: Data) throws -> String {
        let file = directory.appendingPathComponent("blob.tmp")
        try data.write(to: file)
        let hex = try sha256(of: file)
        try FileManager.default.moveItem(at: file, to: blobs.appendingPathComponent(hex))
        return "sha256:" + hex
    }
    let layerDigest = try store(layer)
    let config = Data("""
        {"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["\(diffID)"]}}
        """.utf8)
    let configDigest = try store(config)
    let manifest = Data("""
        {"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",\
        "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"\(configDigest)","size":\(config.count)},\
        "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"\(layerDigest)","size":\(layer.count)}]}
        """.utf8)
    let manifestDigest = try store(manifest)
    let index = """
        {"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[\
        {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"\(manifestDigest)","size":\(manifest.count),\
        "annotations":{"org.opencontainers.image.ref.name":"v1"}}]}
        """
    try Data(index.utf8).write(to: root.appendingPathComponent("index.json"))
    try Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8).write(to: root.appendingPathComponent("oci-layout"))
    return Layout(path: root.path, manifest: manifest, manifestDigest: manifestDigest)
}

/// The hex SHA-256 of a file, from `sha256sum` (an oracle independent of the code under test).
private func sha256(of file: URL) throws -> String {
    let result = try runTool("sha256sum", [file.path])
    let hex = String(result.stdout.prefix { $0 != " " })
    try #require(result.status == 0 && hex.count == 64, "sha256sum: \(result.stderr)")
    return hex
}

private func skopeo(_ arguments: [String]) throws -> ProcessResult {
    try runTool("skopeo", arguments, timeout: 60)
}

/// curl, quiet, never through an environment proxy, never hanging long.
private func curl(_ arguments: [String]) throws -> ProcessResult {
    try runTool("curl", ["--silent", "--show-error", "--noproxy", "*", "--max-time", "20"] + arguments, timeout: 30)
}

/// The status codes of `count` GETs of `url`, made one after another on one curl connection.
private func statusCodes(_ url: String, count: Int) throws -> [String] {
    let result = try curl(["-w", "%{http_code}\n"] + Array(repeating: ["-o", "/dev/null", url], count: count).flatMap { $0 })
    return result.stdout.split(separator: "\n").map(String.init)
}

/// The first value of a header in `curl -D -` / `curl -I` output.
private func headerValue(_ name: String, in headers: String) -> String? {
    for line in headers.components(separatedBy: "\r\n") {
        guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == name else { continue }
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return nil
}

private func reportedDigest(_ inspect: ProcessResult) throws -> String? {
    guard inspect.status == 0 else { return nil }
    let object = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any]
    return object?["Digest"] as? String
}

/// The claims of a JWT (its middle part, base64url).
private func claims(of token: String) throws -> [String: Any] {
    let parts = token.split(separator: ".")
    try #require(parts.count == 3, "a JWS has three parts")
    var payload = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    payload += String(repeating: "=", count: (4 - payload.count % 4) % 4)
    let data = try #require(Data(base64Encoded: payload))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

/// A fresh temporary directory, removed when released.
private final class WorkDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-fixture-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}
