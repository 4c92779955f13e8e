/// A dependency on another package: `{category, name, version}` where `version` is a selector,
/// as written in `requires`, `conflicts`, `provides` and `copy[].package`.
public struct Requirement: Sendable, Hashable, CustomStringConvertible {
    public let category: String
    public let name: String
    public let selector: VersionSelector
    /// Where the requirement was written.
    public let location: SourceLocation?

    public init(category: String, name: String, selector: VersionSelector, location: SourceLocation?) {
        self.category = category
        self.name = name
        self.selector = selector
        self.location = location
    }

    /// `category/name` and the selector, e.g. `toolchain/yq >=0`.
    public var description: String { "\(category)/\(name) \(selector.text)" }

    /// `category/name`.
    public var family: String { "\(category)/\(name)" }
}

/// A `copy:` entry of a build spec: files taken from another package's artifact or from an image.
public struct CopySpec: Sendable, Hashable {
    /// The package to copy from, when the source is a package.
    public let package: Requirement?
    /// The image to copy from, when the source is an image.
    public let image: String?
    public let source: String
    public let destination: String

    public init(package: Requirement?, image: String?, source: String, destination: String) {
        self.package = package
        self.image = image
        self.source = source
        self.destination = destination
    }
}

/// The rendered `build.yaml` of one package, with its fields typed.
public struct BuildSpec: Sendable, Hashable {
    public var image: String?
    public var requires: [Requirement] = []
    public var requiresFinalImages = false
    public var conflicts: [Requirement] = []
    public var provides: [Requirement] = []
    public var copy: [CopySpec] = []
    public var prelude: [String] = []
    public var steps: [String] = []
    public var env: [String] = []
    public var packageDir: String?
    public var unpack = false
    public var includes: [String] = []
    public var excludes: [String] = []
    public var retrieve: [String] = []

    public init() {}
}

/// One file of a package directory as git would record it.
public struct ContentEntry: Sendable, Hashable {
    /// Path relative to the package directory, `/`-separated.
    public let path: String
    /// git's mode: `0o100644`, `0o100755` or `0o120000` (symlink).
    public let mode: UInt32
    /// git's blob id (SHA-1 hex) of the file's bytes (of the link target for a symlink).
    public let blobID: String

    public init(path: String, mode: UInt32, blobID: String) {
        self.path = path
        self.mode = mode
        self.blobID = blobID
    }

    /// The digest of a package directory: framed SHA-256 over `cosci-dir/1` and, for each entry sorted
    /// by path bytes, its path, its mode in octal and its blob id. The same for a git tree and a work tree.
    public static func directoryDigest(_ entries: [ContentEntry]) -> Digest {
        var h = FramedHasher()
        h.add("cosci-dir/1")
        for e in entries.sorted(by: { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }) {
            h.add(e.path)
            h.add(String(e.mode, radix: 8))
            h.add(e.blobID)
        }
        return h.finalize()
    }
}

/// A package as loaded from the tree: identity, its own definition stanza, its rendered build spec and
/// the digest of its directory. Everything the planner needs, nothing it has to read from disk.
///
/// A class, not a struct: specs are large, immutable once loaded, and shared by graphs, keys and reports,
/// so passing them around should not copy every field.
public final class PackageSpec: Sendable {
    public let id: PackageID
    /// The package directory relative to the project root, `/`-separated.
    public let path: String
    /// Where the package is defined: the definition file and the line of its stanza.
    public let definedAt: SourceLocation
    /// The build spec file (`<path>/build.yaml`).
    public let buildFile: String
    /// The documents a package was parsed from, as values.
    public struct Documents: Sendable {
        /// The package's own stanza (definition.yaml, or its entry of collection.yaml), merge keys resolved.
        public let stanza: Value
        /// The whole rendered build spec, as parsed: what the key's `spec` field hashes (volatile fields dropped).
        public let build: Value
    }

    /// The stanza and build document: present when the package was loaded from the tree; nil when it was
    /// restored from the load memo, which keeps only their digests (`stanzaDigest`, `specDigest`). What needs
    /// them (building, artifact metadata) loads without the memo.
    public let documents: Documents?
    /// Runtime `requires` of the definition.
    public let runtimeRequires: [Requirement]
    /// `provides` of the definition and the build spec.
    public let provides: [Requirement]
    public let build: BuildSpec
    /// The files of the package directory (nested package directories and `collection.yaml` excluded).
    public let content: [ContentEntry]
    /// `ContentEntry.directoryDigest(content)`.
    public let contentDigest: Digest
    /// SHA-256 of the canonical JSON of the rendered build spec (volatile fields dropped): the key's `spec` field.
    public let specDigest: Digest
    /// SHA-256 of the canonical JSON of the stanza: the key's `stanza` field.
    public let stanzaDigest: Digest

    /// Build spec fields that never affect the build's output and are left out of the key: luet-internal
    /// bookkeeping that a tool may write back.
    public static let volatileSpecFields: Set<String> = ["build_options", "seed"]

    /// Every stored field, given.
    private init(
        id: PackageID, path: String, definedAt: SourceLocation, buildFile: String, documents: Documents?,
        runtimeRequires: [Requirement], provides: [Requirement], build: BuildSpec, content: [ContentEntry],
        specDigest: Digest, stanzaDigest: Digest
    ) {
        self.id = id
        self.path = path
        self.definedAt = definedAt
        self.buildFile = buildFile
        self.documents = documents
        self.runtimeRequires = runtimeRequires
        self.provides = provides
        self.build = build
        self.content = content
        self.contentDigest = ContentEntry.directoryDigest(content)
        self.specDigest = specDigest
        self.stanzaDigest = stanzaDigest
    }

    /// Restores a package saved earlier (its digests are trusted as saved: they were computed from the same
    /// stanza and build spec).
    public convenience init(
        restoring id: PackageID, path: String, definedAt: SourceLocation, buildFile: String,
        runtimeRequires: [Requirement], provides: [Requirement], build: BuildSpec, specDigest: Digest, stanzaDigest: Digest
    ) {
        self.init(
            id: id, path: path, definedAt: definedAt, buildFile: buildFile, documents: nil, runtimeRequires: runtimeRequires,
            provides: provides, build: build, content: [], specDigest: specDigest, stanzaDigest: stanzaDigest)
    }

    /// The same package with another directory content (as when only non-definition files changed).
    public func with(content newContent: [ContentEntry]) -> PackageSpec {
        PackageSpec(
            id: id, path: path, definedAt: definedAt, buildFile: buildFile, documents: documents, runtimeRequires: runtimeRequires,
            provides: provides, build: build, content: newContent, specDigest: specDigest, stanzaDigest: stanzaDigest)
    }

    /// The canonical JSON that `specDigest` hashes (nil for a restored package).
    public var specJSON: [UInt8]? { documents.map { PackageSpec.canonicalJSON(ofBuild: $0.build) } }

    static func canonicalJSON(ofBuild document: Value) -> [UInt8] {
        var document = document
        if case .map(var m) = document {
            for f in PackageSpec.volatileSpecFields { m[f] = nil }
            document = .map(m)
        }
        return CanonicalJSON.bytes(document)
    }

    /// The canonical JSON that `stanzaDigest` hashes (nil for a restored package).
    public var stanzaJSON: [UInt8]? { documents.map { CanonicalJSON.bytes($0.stanza) } }

    /// A freshly loaded package, from its stanza and its rendered build document (`build` is what was parsed
    /// of it); the digests are computed here, where loading runs in parallel.
    public convenience init(
        id: PackageID, path: String, definedAt: SourceLocation, buildFile: String, stanza: Value,
        runtimeRequires: [Requirement], provides: [Requirement], build: BuildSpec, document: Value, content: [ContentEntry]
    ) {
        self.init(
            id: id, path: path, definedAt: definedAt, buildFile: buildFile, documents: Documents(stanza: stanza, build: document),
            runtimeRequires: runtimeRequires, provides: provides, build: build, content: content,
            specDigest: .sha256(of: PackageSpec.canonicalJSON(ofBuild: document)), stanzaDigest: .sha256(of: CanonicalJSON.bytes(stanza)))
    }
}

/// A path that changed between two states of the repository, relative to the project root.
public struct ChangedPath: Sendable, Hashable, Comparable {
    public enum Status: String, Sendable {
        case added, deleted, modified, renamed, copied, typeChanged = "type-changed", untracked
    }

    public let status: Status
    /// The path after the change (before it, for a deletion).
    public let path: String
    /// The path before a rename or copy.
    public let oldPath: String?

    public init(status: Status, path: String, oldPath: String? = nil) {
        self.status = status
        self.path = path
        self.oldPath = oldPath
    }

    public static func < (a: ChangedPath, b: ChangedPath) -> Bool {
        a.path.utf8.lexicographicallyPrecedes(b.path.utf8)
    }

    /// `path changed`, `path added`, `old renamed to path`, …
    public var sentence: String {
        switch status {
        case .added, .untracked: return "\(path) added"
        case .deleted: return "\(path) removed"
        case .modified, .typeChanged: return "\(path) changed"
        case .renamed: return "\(oldPath ?? "?") renamed to \(path)"
        case .copied: return "\(oldPath ?? "?") copied to \(path)"
        }
    }
}

/// A package published in an upstream repository (`cosci.yaml` `repositories:`), as its index describes it:
/// what a derivative's requirements resolve to when no package of its own tree matches.
public struct UpstreamPackage: Sendable, Hashable {
    public let id: PackageID
    /// The repository's name in `cosci.yaml`.
    public let repository: String
    /// The repository's priority (lower wins, as in luet).
    public let priority: Int
    /// The repository's index revision the package was read from.
    public let revision: Int
    /// The artifact's sha256: what identifies the upstream package in keys.
    public let sha256: Digest
    /// The artifact's file name in the repository.
    public let path: String
    /// Runtime requirements (the published runtime package's `requires`).
    public let requires: [Requirement]
    public let provides: [Requirement]
    /// The repository's index entry as published (what a repository that carries the package repeats).
    public let entry: Value

    public init(
        id: PackageID, repository: String, priority: Int, revision: Int, sha256: Digest, path: String, requires: [Requirement],
        provides: [Requirement], entry: Value = .null
    ) {
        self.entry = entry
        self.id = id
        self.repository = repository
        self.priority = priority
        self.revision = revision
        self.sha256 = sha256
        self.path = path
        self.requires = requires
        self.provides = provides
    }
}
