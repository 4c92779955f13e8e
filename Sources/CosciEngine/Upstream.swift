#if canImport(Glibc)
    import Glibc
#endif
import CosciArchive
import CosciFiles
import CosciManifest
import CosciModel
import CosciRegistry
import CosciRepository
import CosciYAML
import Foundation

/// The upstream repositories of a derivative (`cosci.yaml` `repositories:`), read as luet reads them: the
/// index (`repository.yaml`, or the `reference:` snapshot's), the metadata archive it names (checked against
/// the index's sha256), and each artifact's package, checksum and runtime requirements.
public struct UpstreamIndex: Sendable {
    public struct Repository: Sendable {
        public let config: RepositoryConfig
        /// The url that answered.
        public let url: String
        public let revision: Int
        /// The sha256 of the index file read: it names everything the repository offered.
        public let indexDigest: Digest
        public let packages: [UpstreamPackage]
    }

    /// The enabled repositories, in the order cosci.yaml lists them.
    public let repositories: [Repository]

    /// Every package of every repository.
    public var packages: [UpstreamPackage] { repositories.flatMap(\.packages) }

    public static let none = UpstreamIndex(repositories: [])
}

enum Upstream {
    /// Reads every enabled repository of the project. An unreachable or unreadable repository is an error
    /// naming it (exit 1: the environment, not the tree).
    static func read(_ project: Project, access: RegistryAccess = RegistryAccess()) throws(Diagnostic) -> UpstreamIndex {
        var repositories: [UpstreamIndex.Repository] = []
        for config in project.config.repositories where config.enabled {
            var problems: [String] = []
            var found: UpstreamIndex.Repository?
            for url in config.urls {
                do {
                    found = try read(config, url: url, project: project, access: access)
                    break
                } catch {
                    problems.append("\(url): \(error.message)")
                }
            }
            guard let found else {
                throw Diagnostic(
                    at: config.location, field: "repositories",
                    "cannot read the repository \(config.name): " + problems.joined(separator: "; "),
                    hint: "check its urls and that it is published (\(config.indexFile) at its root), or set `enable: false`",
                    kind: .environment)
            }
            repositories.append(found)
        }
        return UpstreamIndex(repositories: repositories)
    }

    static func read(
        _ config: RepositoryConfig, url: String, project: Project, access: RegistryAccess
    ) throws(Diagnostic) -> UpstreamIndex.Repository {
        let fetch: (String) throws(Diagnostic) -> [UInt8]
        let scratch = project.cacheRoot + "/upstream-\(getpid())"
        try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        switch config.kind {
        case .disk:
            let directory = url.hasPrefix("/") ? url : project.root + "/" + url
            fetch = { (name: String) throws(Diagnostic) -> [UInt8] in
                guard let data = FileManager.default.contents(atPath: directory + "/" + name) else {
                    throw Diagnostic(at: nil, "no \(name) in \(directory)")
                }
                return [UInt8](data)
            }
        case .http:
            let session = CurlSession()
            let base = url.hasSuffix("/") ? url : url + "/"
            fetch = { (name: String) throws(Diagnostic) -> [UInt8] in
                let response: HTTPResponse
                do { response = try session.perform(HTTPRequest(method: "GET", url: base + name)) } catch {
                    throw Diagnostic(at: nil, "GET \(base + name): \(error)")
                }
                guard response.status == 200 else { throw Diagnostic(at: nil, "GET \(base + name): HTTP \(response.status)") }
                return response.body
            }
        case .docker:
            let store = try Releasing.registryStore("docker://" + url, access)
            fetch = { (name: String) throws(Diagnostic) -> [UInt8] in
                try Releasing.readFile(store, tag: Tag.sanitized(name), scratch: scratch, member: name)
            }
        }
        let indexBytes = try fetch(config.indexFile)
        let description: RepositoryIndex.Description
        do { description = try RepositoryIndex.describe(String(decoding: indexBytes, as: UTF8.self), file: config.indexFile) } catch {
            throw Diagnostic(at: nil, error.description)
        }
        let metaBytes = try fetch(description.metaFile)
        if let expected = description.checksums[description.metaFile], Digest.sha256(of: metaBytes).hex != expected {
            throw Diagnostic(
                at: nil, "\(description.metaFile) does not match the sha256 \(config.indexFile) gives for it (\(expected))",
                hint: "the repository is being published or damaged: try again")
        }
        let metaPath = scratch + "/meta"
        do { try AtomicFile.write(metaPath, metaBytes) } catch { throw Diagnostic(at: nil, error.description) }
        let entries: Value
        do {
            guard let bytes = try TarArchive.read(member: "repository.meta.yaml", of: metaPath),
                let node = try YAMLNode.compose(String(decoding: bytes, as: UTF8.self))
            else { throw Diagnostic(at: nil, "\(description.metaFile) holds no repository.meta.yaml") }
            entries = try Value(yaml: node)
        } catch let d as Diagnostic {
            throw d
        } catch {
            throw Diagnostic(at: nil, "\(description.metaFile): \(error)")
        }
        var packages: [UpstreamPackage] = []
        for entry in entries["index"]?.listValue ?? [] {
            if let package = upstreamPackage(entry, config: config, revision: description.revision) { packages.append(package) }
        }
        return UpstreamIndex.Repository(
            config: config, url: url, revision: description.revision, indexDigest: Digest.sha256(of: indexBytes), packages: packages)
    }

    /// One index entry, as luet or cosci write it: the runtime package (else the compile spec's), the artifact's
    /// path and sha256. Entries without them are skipped (luet cannot install them either).
    static func upstreamPackage(_ entry: Value, config: RepositoryConfig, revision: Int) -> UpstreamPackage? {
        let spec = entry["compilespec"] ?? entry["compilationspec"]
        guard let package = entry["runtime"]?.mapValue ?? spec?["package"]?.mapValue,
            let name = package["name"]?.scalarText, let category = package["category"]?.scalarText,
            let versionText = package["version"]?.scalarText, let version = try? Version(versionText),
            let path = entry["path"]?.stringValue,
            let shaText = entry["checksums"]?["sha256"]?.stringValue, let sha = try? Digest(parsing: "sha256:" + shaText)
        else { return nil }
        func requirements(_ value: Value?) -> [Requirement] {
            (value?.listValue ?? []).compactMap { r in
                guard let name = r["name"]?.scalarText, let selector = try? VersionSelector(r["version"]?.scalarText ?? ">=0") else { return nil }
                return Requirement(category: r["category"]?.scalarText ?? "", name: name, selector: selector, location: nil)
            }
        }
        return UpstreamPackage(
            id: PackageID(category: category, name: name, version: version), repository: config.name, priority: config.priority,
            revision: revision, sha256: sha, path: path, requires: requirements(package["requires"]),
            provides: requirements(package["provides"]))
    }
}
