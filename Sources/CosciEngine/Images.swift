#if canImport(Glibc)
    import Glibc
#endif
import CosciFiles
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
        let store = try self.store(image)
        do {
            guard let d = try store.digest(ofTag: image.reference) else {
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
            for layer in ImageJSON.layers(ofManifest: manifest) {
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

/// `cosci lock`: pins every base image of the tree.
public enum Locking {
    /// Resolves each `image:` of the tree and writes `cosci.lock` (canonical JSON, schema `cosci.lock/v1`).
    public static func lock(_ project: Project, access: RegistryAccess) throws(Diagnostic) -> [String: Digest] {
        let analysis = Analysis.run(project)
        if let first = analysis.diagnostics.first(where: { $0.severity == .error }) { throw first }
        let puller = ImagePuller(cacheRoot: project.cacheRoot, access: access, platform: project.platform)
        var pinned: [String: Digest] = [:]
        for spec in analysis.tree.packages {
            guard let text = spec.build.image, !text.isEmpty, pinned[text] == nil else { continue }
            pinned[text] = try puller.resolve(try ImageReference(parsing: text))
        }
        try write(pinned, to: project.lockFile)
        return pinned
    }

    /// Writes a lock file (canonical JSON, schema `cosci.lock/v1`).
    public static func write(_ pinned: [String: Digest], to file: String) throws(Diagnostic) {
        let doc = Value.map([
            "schema": .string("cosci.lock/v1"),
            "images": .map(pinned.mapValues { .string($0.description) }),
        ])
        do { try AtomicFile.write(file, Array((CanonicalJSON.encode(doc, pretty: true) + "\n").utf8)) } catch {
            throw Diagnostic(at: nil, error.description)
        }
    }
}
