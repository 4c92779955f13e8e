#if canImport(Glibc)
    import Glibc
#endif
import CosciFiles
import CosciImage
import CosciModel
import CosciRegistry
import Foundation

/// A base image as a build spec names it: `host[:port]/repo[:tag|@digest]` (Docker Hub names such as
/// `opensuse/leap:15.3` mean `registry-1.docker.io/opensuse/leap`), or `oci:PATH[:tag]` for a local layout.
public struct ImageReference: Sendable, Hashable, CustomStringConvertible {
    public enum Source: Sendable, Hashable {
        case registry(RepositoryReference)
        case layout(String)
    }

    public let source: Source
    /// A tag, or a digest (`sha256:…`).
    public let reference: String
    public let text: String

    public init(parsing text: String) throws(Diagnostic) {
        self.text = text
        func fail(_ why: String) -> Diagnostic {
            Diagnostic(at: nil, "invalid image reference \"\(text)\": \(why)", hint: "for example registry.example.com/os/base:1.0 or oci:base-layout:1.0")
        }
        if text.hasPrefix("oci:") {
            let rest = String(text.dropFirst(4))
            if let colon = rest.lastIndex(of: ":"), !rest[rest.index(after: colon)...].contains("/") {
                source = .layout(String(rest[..<colon]))
                reference = String(rest[rest.index(after: colon)...])
            } else {
                source = .layout(rest)
                reference = "latest"
            }
            return
        }
        var rest = text.hasPrefix("docker://") ? String(text.dropFirst(9)) : text
        var ref = "latest"
        if let at = rest.firstIndex(of: "@") {
            ref = String(rest[rest.index(after: at)...])
            rest = String(rest[..<at])
        } else if let colon = rest.lastIndex(of: ":"), !rest[rest.index(after: colon)...].contains("/") {
            ref = String(rest[rest.index(after: colon)...])
            rest = String(rest[..<colon])
        }
        var parts = rest.split(separator: "/").map(String.init)
        guard !parts.isEmpty else { throw fail("no repository") }
        var host = "registry-1.docker.io"
        if parts.count > 1, parts[0].contains(".") || parts[0].contains(":") || parts[0] == "localhost" {
            host = parts.removeFirst()
        } else if parts.count == 1 {
            parts.insert("library", at: 0)
        }
        let name = parts.joined(separator: "/")
        guard RepositoryReference.isValidName(name) else { throw fail("\"\(name)\" is not a valid repository name") }
        source = .registry(RepositoryReference(host: host, name: name))
        reference = ref
    }

    public var description: String { text }
}

/// Pulls base images with cosci's own client: resolves the reference (a platform's manifest out of an index),
/// downloads the layers into `<cache>/blobs/sha256/` (verified; kept for later builds) and returns them
/// bottom first.
public struct ImagePuller: Sendable {
    public let blobs: String
    public let access: RegistryAccess
    public let platform: Platform

    public init(cacheRoot: String, access: RegistryAccess, platform: Platform) {
        blobs = cacheRoot + "/blobs/sha256"
        self.access = access
        self.platform = platform
    }

    /// The manifest digest a reference names now (a registry HEAD, or the layout's index).
    public func resolve(_ image: ImageReference) throws(Diagnostic) -> Digest {
        if let d = try? Digest(parsing: image.reference) { return d }
        if case .layout(let path) = image.source, !FileManager.default.fileExists(atPath: path + "/index.json") {
            throw Diagnostic(
                at: nil, "the image \(image) does not exist: there is no OCI image layout at \(path)",
                hint: "write the layout there first (a Debian base: scripts/make-base --output \(path)), or fix the reference")
        }
        let store = try self.store(image)
        do {
            guard let d = try store.digest(ofTag: image.reference) else {
                if case .layout(let path) = image.source {
                    let tags = ((try? store.tags()) ?? []).sorted()
                    throw Diagnostic(
                        at: nil, "the image \(image) does not exist: the layout \(path) has no tag \(image.reference)",
                        hint: tags.isEmpty ? "the layout holds no tagged image" : "its tags: \(tags.joined(separator: ", "))")
                }
                throw Diagnostic(at: nil, "the image \(image) does not exist", hint: "check the name and tag, or push it first")
            }
            return d
        } catch let e as Diagnostic {
            throw e
        } catch {
            throw Diagnostic(at: nil, "cannot resolve the image \(image): \(error)")
        }
    }

    /// The layer files of the image (bottom first), pulling what is not cached, and the manifest digest.
    public func layers(_ image: ImageReference, digest pinned: Digest?) throws(Diagnostic) -> (digest: Digest, layers: [String]) {
        let store = try self.store(image)
        let digest: Digest
        if let pinned { digest = pinned } else { digest = try resolve(image) }
        do {
            guard var manifest = try store.manifest(digest.description) else {
                throw Diagnostic(at: nil, "the image \(image) has no manifest \(digest)", hint: "run `cosci lock` again")
            }
            if let child = try platformManifest(in: manifest) {
                guard let m = try store.manifest(child.description) else {
                    throw Diagnostic(at: nil, "the image index \(image) names \(child), which is missing")
                }
                manifest = m
            }
            try? FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
            var paths: [String] = []
            let layers: [Descriptor]
            do { layers = try Manifest.decode(manifest).layers } catch {
                throw Diagnostic(at: nil, "cannot pull the image \(image): \(error)", kind: .environment)
            }
            for layer in layers {
                let path = blobs + "/" + layer.digest.hex
                if !FileManager.default.fileExists(atPath: path) {
                    // Several builds may pull the same layer at once: each into its own file, then a rename.
                    let tmp = path + ".part-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
                    try store.fetch(layer.digest, to: tmp)
                    if rename(tmp, path) != 0 { unlink(tmp) }
                }
                paths.append(path)
            }
            return (digest, paths)
        } catch let e as Diagnostic {
            throw e
        } catch {
            throw Diagnostic(at: nil, "cannot pull the image \(image): \(error)")
        }
    }

    /// For an index, the manifest of this platform.
    func platformManifest(in bytes: [UInt8]) throws(Diagnostic) -> Digest? {
        guard let doc = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
            let manifests = doc["manifests"] as? [[String: Any]], doc["layers"] == nil
        else { return nil }
        for m in manifests {
            let p = m["platform"] as? [String: Any]
            if p?["os"] as? String == platform.os, p?["architecture"] as? String == platform.architecture,
                let d = (m["digest"] as? String).flatMap({ try? Digest(parsing: $0) })
            {
                return d
            }
        }
        throw Diagnostic(at: nil, "the image index has no manifest for \(platform)")
    }

    func store(_ image: ImageReference) throws(Diagnostic) -> any ImageStore {
        switch image.source {
        case .layout(let path): return try access.store("oci:" + path)
        case .registry(let repo): return try access.store("docker://\(repo)")
        }
    }
}

/// `cosci.lock`: the base images and upstream repositories a project is pinned to (canonical JSON, schema
/// `cosci.lock/v1`).
public struct LockFile: Sendable, Equatable {
    /// A repository pinned at one index: everything it offered then is what resolves.
    public struct Repository: Sendable, Equatable {
        /// The sha256 of the index file read.
        public var index: Digest
        public var revision: Int
        public var url: String
    }

    public var images: [String: Digest] = [:]
    public var repositories: [String: Repository] = [:]

    /// The file's name in the project root.
    public static let fileName = "cosci.lock"

    /// The lock file at `path`; empty when there is none. A file that is not a lock file is an error naming it
    /// and what is wrong: pins silently dropped would move keys.
    public static func read(_ path: String) throws(Diagnostic) -> LockFile {
        guard let data = FileManager.default.contents(atPath: path) else { return LockFile() }
        return try parse(data, file: LockFile.fileName)
    }

    /// The document as `cosci lock` writes it.
    private struct Document: Decodable {
        struct PinnedRepository: Decodable {
            let index: Digest
            let revision: Int
            let url: String
        }
        let images: [String: Digest]?
        let repositories: [String: PinnedRepository]?
    }

    /// A lock file's bytes (as read from disk or from a commit); `file` names it in errors.
    public static func parse(_ data: Data, file: String) throws(Diagnostic) -> LockFile {
        let doc: Document
        do { doc = try JSONDecoder().decode(Document.self, from: data) } catch {
            var field: String?
            var what = "not a lock file (JSON with `images` and `repositories`)"
            switch error as? DecodingError {
            case .dataCorrupted(let c)?:
                field = c.codingPath.isEmpty ? nil : c.codingPath.map(\.stringValue).joined(separator: ".")
                what = c.codingPath.isEmpty ? "not valid JSON" : c.debugDescription
            case .typeMismatch(_, let c)?, .valueNotFound(_, let c)?:
                field = c.codingPath.map(\.stringValue).joined(separator: ".")
                what = c.debugDescription
            case .keyNotFound(let key, let c)?:
                field = (c.codingPath + [key]).map(\.stringValue).joined(separator: ".")
                what = "missing"
            default: break
            }
            throw Diagnostic(
                at: SourceLocation(file: file, line: 0), field: field, "invalid lock file: \(what)",
                hint: "run `cosci lock` to write it again (or restore it from git)", kind: .tree)
        }
        var lock = LockFile()
        lock.images = doc.images ?? [:]
        for (name, r) in doc.repositories ?? [:] {
            lock.repositories[name] = Repository(index: r.index, revision: r.revision, url: r.url)
        }
        return lock
    }

    var document: Value {
        var doc: [String: Value] = [
            "schema": .string("cosci.lock/v1"),
            "images": .map(images.mapValues { .string($0.description) }),
        ]
        if !repositories.isEmpty {
            doc["repositories"] = .map(
                repositories.mapValues { .map(["index": .string($0.index.description), "revision": .int($0.revision), "url": .string($0.url)]) })
        }
        return .map(doc)
    }

    /// Writes the lock file atomically.
    public func write(to file: String) throws(Diagnostic) {
        do { try AtomicFile.write(file, Array((CanonicalJSON.encode(document, pretty: true) + "\n").utf8)) } catch {
            throw Diagnostic(at: nil, error.description)
        }
    }
}

/// `cosci lock`: pins every base image of the tree and every upstream repository.
public enum Locking {
    /// What `cosci lock` pinned.
    public struct Result: Sendable {
        public let images: [String: Digest]
        /// Each repository with its revision before (nil: newly pinned) and now.
        public let repositories: [(name: String, before: Int?, now: Int, index: Digest)]
    }

    /// Resolves each `image:` of the tree and pins each enabled repository at its current index, then writes
    /// `cosci.lock`. Repositories already pinned stay where they are unless named in `update` (nil: none;
    /// empty: all).
    public static func lock(_ project: Project, access: RegistryAccess, update: Set<String>? = nil) throws(Diagnostic) -> Result {
        var lock = try LockFile.read(project.lockFile)
        let enabled = project.config.enabledRepositories
        if let update {
            for name in update where !enabled.contains(where: { $0.name == name }) {
                throw Diagnostic(
                    at: nil, "no enabled repository named \(name) in cosci.yaml",
                    hint: "repositories: \(enabled.map(\.name).joined(separator: ", "))", kind: .usage)
            }
        }
        var keep = lock.repositories
        for name in keep.keys where update.map({ $0.isEmpty || $0.contains(name) }) ?? false { keep[name] = nil }
        let upstream = try Upstream.read(project, access: access, locked: keep)
        var moved: [(name: String, before: Int?, now: Int, index: Digest)] = []
        var pinned: [String: LockFile.Repository] = [:]
        for repository in upstream.repositories {
            let entry = LockFile.Repository(index: repository.indexDigest, revision: repository.revision, url: repository.url)
            pinned[repository.config.name] = entry
            moved.append((repository.config.name, lock.repositories[repository.config.name]?.revision, repository.revision, repository.indexDigest))
        }
        lock.repositories = pinned
        try lock.write(to: project.lockFile)
        // Base images, resolved against the tree as it resolves with the pinned repositories.
        let analysis = Analysis.run(project.with(lock: lock))
        if let first = analysis.diagnostics.first(where: { $0.severity == .error }) { throw first }
        let puller = ImagePuller(cacheRoot: project.cacheRoot, access: access, platform: project.platform)
        var images: [String: Digest] = [:]
        for spec in analysis.tree.packages {
            guard let text = spec.build.image, !text.isEmpty, images[text] == nil else { continue }
            images[text] = try puller.resolve(try ImageReference(parsing: text))
        }
        lock.images = images
        try lock.write(to: project.lockFile)
        return Result(images: images, repositories: moved.sorted { $0.name < $1.name })
    }

    /// Writes a lock file with these images, keeping the repositories it pins; returns what it wrote.
    @discardableResult
    public static func write(_ pinned: [String: Digest], to file: String) throws(Diagnostic) -> LockFile {
        var lock = try LockFile.read(file)
        lock.images = pinned
        try lock.write(to: file)
        return lock
    }
}
