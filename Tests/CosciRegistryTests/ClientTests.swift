import CosciImage
import CosciModel
import CosciRegistry
import CosciTestSupport
import Foundation
import Testing

private func options(attempts: Int = 6) -> RegistryOptions {
    var o = RegistryOptions()
    o.attempts = attempts
    o.baseDelay = 0.05
    o.maxDelay = 0.5
    return o
}

private func client(_ host: String, _ name: String, credentials: RegistryCredentials? = nil, options o: RegistryOptions = options()) -> RegistryClient {
    RegistryClient(
        repository: RepositoryReference(host: host, name: name), auth: RegistryAuth(credentials: credentials), options: o)
}

/// A small image: config + one layer of `bytes`.
private func image(_ text: String) -> ImageContent {
    let layer = Blob(mediaType: MediaType.layerGzip, bytes: Array(text.utf8))
    return ImageJSON.image(
        layers: [(layer, layer.descriptor.digest, "test")], platform: .linuxAMD64, epoch: 1_700_000_000, labels: [:],
        annotations: ["t": text])
}

private func push(_ c: RegistryClient, _ img: ImageContent, tag: String) throws {
    for b in img.blobs { _ = try c.pushBlob(b.descriptor.digest, size: b.descriptor.size, from: b.body) }
    _ = try c.putManifest(img.manifest, mediaType: img.mediaType, reference: tag)
}

@Suite(.serialized) struct RegistryClientTests {
    @Test func pushesAndReadsBackBlobsManifestsAndTags() throws {
        let registry = try LocalRegistry.start()
        defer { registry.stop() }
        let c = client(registry.host, "cosci/client")
        try c.ping()
        let img = image("hello")
        let layer = img.blobs[1]
        #expect(try c.blobSize(layer.descriptor.digest) == nil)
        #expect(try c.pushBlob(layer.descriptor.digest, size: layer.descriptor.size, from: layer.body) == .uploaded(bytes: 5))
        #expect(try c.pushBlob(layer.descriptor.digest, size: layer.descriptor.size, from: layer.body) == .existed)
        try push(c, img, tag: "v1")
        #expect(try c.manifestDigest("v1") == img.digest)
        let fetched = try #require(try c.manifest("v1"))
        #expect(fetched.bytes == img.manifest)
        #expect(fetched.mediaType == MediaType.manifest)
        #expect(try c.manifest("nope") == nil)

        // skopeo, an independent client, sees the same digest.
        let inspect = try runTool("skopeo", ["inspect", "--tls-verify=false", "docker://\(registry.host)/cosci/client:v1"])
        #expect(inspect.stdout.contains(img.digest.description), "\(inspect.stderr)")

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-blob-\(UUID())")
        defer { try? FileManager.default.removeItem(at: dir) }
        try c.downloadBlob(layer.descriptor.digest, to: dir.path)
        #expect(try String(contentsOf: dir, encoding: .utf8) == "hello")
    }

    @Test func chunkedUploadsAndTagPagination() throws {
        let registry = try LocalRegistry.start()
        defer { registry.stop() }
        var o = options()
        o.chunkThreshold = 1000
        o.chunkSize = 700
        let c = client(registry.host, "cosci/chunks", options: o)
        let bytes = (0..<5000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let digest = Digest.sha256(of: bytes)
        #expect(try c.pushBlob(digest, size: 5000, from: .bytes(bytes)) == .uploaded(bytes: 5000))
        #expect(registry.log.contains("PATCH /v2/cosci/chunks/blobs/uploads/"), "uploaded in chunks")
        #expect(try c.blobSize(digest) == 5000)

        for i in 0..<7 { try push(c, image("img-\(i)"), tag: "t\(i)") }
        // distribution 2.8 ignores `n`; the client follows Link headers when a registry sends them.
        #expect(Set(try c.tags(pageSize: 3)) == Set((0..<7).map { "t\($0)" }))
        #expect(try client(registry.host, "cosci/absent").tags().isEmpty)
    }

    @Test func basicAndTokenAuthWithCredentialsFromAnAuthFile() throws {
        for auth in [LocalRegistry.Auth.basic(user: "cosci", password: "s3cret"), .token(user: "cosci", password: "s3cret")] {
            let registry = try LocalRegistry.start(auth: auth)
            defer { registry.stop() }
            let file = registry.directory.appendingPathComponent("auth.json")
            let b64 = Data("cosci:s3cret".utf8).base64EncodedString()
            try "{\"auths\": {\"\(registry.host)\": {\"auth\": \"\(b64)\"}}}".write(to: file, atomically: true, encoding: .utf8)
            let credentials = try CredentialStore(authFile: file.path, environment: ["HOME": "/nonexistent"]).credentials(for: registry.host)
            #expect(credentials == RegistryCredentials(username: "cosci", secret: "s3cret"))

            let c = client(registry.host, "cosci/private", credentials: credentials)
            try push(c, image("secret image"), tag: "v1")
            #expect(try c.manifestDigest("v1") == image("secret image").digest)

            // Without credentials: refused, with a hint, and no secret in the message.
            let anonymous = client(registry.host, "cosci/private")
            do {
                try push(anonymous, image("x"), tag: "v2")
                Issue.record("an anonymous push must fail")
            } catch {
                let text = "\(error)"
                #expect(text.contains("401") || text.contains("refused"), "\(text)")
                #expect(text.contains("credentials"), "\(text)")
            }
            // Wrong password: the error never shows it.
            let wrong = client(registry.host, "cosci/private", credentials: RegistryCredentials(username: "cosci", secret: "hunter2-wrong"))
            do {
                try push(wrong, image("y"), tag: "v3")
                Issue.record("a push with a wrong password must fail")
            } catch {
                #expect(!"\(error)".contains("hunter2"), "\(error)")
            }
            if case .token = auth { #expect(try registry.tokenRequests > 0) }
        }
    }

    @Test func crossRepositoryMountNeedsNoUpload() throws {
        let registry = try LocalRegistry.start(auth: .token(user: "cosci", password: "s3cret"))
        defer { registry.stop() }
        let creds = RegistryCredentials(username: "cosci", secret: "s3cret")
        let a = client(registry.host, "cosci/a", credentials: creds)
        let bytes = Array(repeating: UInt8(9), count: 4096)
        let digest = Digest.sha256(of: bytes)
        #expect(try a.pushBlob(digest, size: 4096, from: .bytes(bytes)) == .uploaded(bytes: 4096))
        let b = client(registry.host, "cosci/b", credentials: creds)
        #expect(try b.pushBlob(digest, size: 4096, from: .bytes(bytes), mountFrom: "cosci/a") == .mounted)
        #expect(try b.blobSize(digest) == 4096)
    }

    @Test func retriesThrough429And5xxAndDroppedConnectionsButNotOther4xx() throws {
        let registry = try LocalRegistry.start()
        defer { registry.stop() }
        let proxy = try FaultProxy.start(upstream: registry.host, seed: 7, rate429: 0.1, rate503: 0.15, rateDrop: 0.15, retryAfter: 1)
        defer { proxy.stop() }
        let c = client(proxy.host, "cosci/faults", options: options(attempts: 12))
        let started0 = Date()
        for i in 0..<6 { try push(c, image("faulty-\(i)"), tag: "f\(i)") }
        let took = Date().timeIntervalSince(started0)
        let stats = try proxy.stats()
        #expect((stats["faults"] ?? 0) > 0, "faults were injected: \(stats)\n\(proxy.log.suffix(2000))")
        #expect(took < 30, "retries took \(took) s: \(stats)\n\(proxy.log.suffix(3000))")
        // What went through is intact.
        let direct = client(registry.host, "cosci/faults")
        for i in 0..<6 { #expect(try direct.manifestDigest("f\(i)") == image("faulty-\(i)").digest) }

        // Persistent faults: a clear error after the attempts, naming the status.
        try proxy.configure(failAll: true)
        let started = Date()
        do {
            try push(client(proxy.host, "cosci/faults", options: options(attempts: 3)), image("never"), tag: "never")
            Issue.record("a push through a failing registry must fail")
        } catch {
            #expect("\(error)".contains("503"), "\(error)")
        }
        #expect(Date().timeIntervalSince(started) < 30)

        // A 400 is not retried: a wrong digest fails at once.
        try proxy.configure()
        let before = try proxy.stats()["requests"] ?? 0
        #expect(throws: RegistryError.self) {
            _ = try c.pushBlob(Digest.sha256(of: [1, 2, 3]), size: 3, from: .bytes([4, 5, 6]))
        }
        let after = try proxy.stats()["requests"] ?? 0
        #expect(after - before <= 3, "HEAD, POST, PUT — no retry of the 400 (\(after - before) requests)")
    }
}

@Suite struct ReferencesAndLayouts {
    @Test func targetsParse() throws {
        #expect(try ImageTarget(parsing: "oci:dist/oci") == .layout(path: "dist/oci"))
        #expect(try ImageTarget(parsing: "docker://127.0.0.1:5000/cos/releases-green") == .registry(RepositoryReference(host: "127.0.0.1:5000", name: "cos/releases-green")))
        #expect(throws: ImageTarget.ParseError.self) { try ImageTarget(parsing: "docker://host/UPPER") }
        #expect(throws: ImageTarget.ParseError.self) { try ImageTarget(parsing: "http://host/x") }
        #expect(Tag.sanitized("cos-upgrade-utils-1:2.0") == "cos-upgrade-utils-1-2.0")
        #expect(Tag.isValid(Tag.sanitized("dracut-initrd-system-0.1.0+4.metadata.yaml")))
        #expect(Redaction.url("https://u:p@host/v2/x?_state=abc") == "https://host/v2/x?_state=abc")
        #expect(Redaction.path("http://127.0.0.1:5000/v2/a/blobs/uploads/uuid?_state=secret") == "/v2/a/blobs/uploads/uuid")
    }

    @Test func aLayoutValidatesWithSkopeo() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-layout-\(UUID())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try LayoutStore(path: dir.path)
        let img = image("layout content")
        _ = try store.push(img.blobs)
        try store.putManifest(img)
        try store.tag(["v1": img])
        #expect(try store.digest(ofTag: "v1") == img.digest)
        // skopeo re-hashes every blob when it copies to dir:.
        let out = dir.appendingPathComponent("copy")
        let r = try runTool("skopeo", ["copy", "oci:\(dir.path):v1", "dir:\(out.path)"])
        #expect(r.status == 0, "\(r.stderr)")
    }
}
