import CosciArchive
import CosciModel
import CosciYAML

/// What is known about one built artifact: luet's `PackageArtifact`, plus cosci's key. Written as
/// `<name>-<category>-<version>.metadata.yaml` beside the artifact (luet spells these keys as yaml.v3 lowercases
/// Go field names: `compilespec`) and as an entry of `repository.meta.yaml` (JSON tag spelling: `compilationspec`).
public struct ArtifactMetadata: Sendable, Hashable {
    /// The schema of cosci's own section (`cosci:`).
    public static let schema = "cosci.artifact/v1"

    public let id: PackageID
    /// The artifact's file name (`name-category-version.package.tar.zst`).
    public let path: String
    public let key: CacheKey
    /// SHA-256 of the compressed file.
    public let sha256: Digest
    public let size: Int64
    public let compression: Compression
    /// The archive's entries (directories included), in archive order.
    /// What `files:` lists, as luet's compiler writes it (`genArtifact`, `PackageArtifact.FileList`): every
    /// entry but directories (so `luet reclaim` and `luet uninstall` claim a package's own files, not shared
    /// directories), and nothing for a hidden package.
    public static func fileList(_ entries: [ArchiveEntryInfo], hidden: Bool) -> [String] {
        hidden ? [] : entries.filter { $0.kind != .directory }.map(\.path)
    }

    public let files: [String]
    /// The rendered build spec, as hashed into the key.
    public let spec: Value
    /// The runtime definition: the package's stanza (name, category, version, requires, …).
    public let runtime: Value
    public let platform: Platform
    /// The `SOURCE_DATE_EPOCH` the artifact was built with (mtimes are clamped to it).
    public let sourceDateEpoch: Int64

    public init(
        id: PackageID, path: String, key: CacheKey, sha256: Digest, size: Int64, compression: Compression, files: [String],
        spec: Value, runtime: Value, platform: Platform, sourceDateEpoch: Int64
    ) {
        self.id = id
        self.path = path
        self.key = key
        self.sha256 = sha256
        self.size = size
        self.compression = compression
        self.files = files
        self.spec = spec
        self.runtime = runtime
        self.platform = platform
        self.sourceDateEpoch = sourceDateEpoch
    }

    /// The artifact file name luet uses: `name-category-version.package.tar` plus the compression suffix.
    public static func fileName(_ id: PackageID, _ compression: Compression) -> String {
        "\(id.fingerprint).package.tar\(compression.suffix)"
    }

    /// The metadata file name: `name-category-version.metadata.yaml`.
    public static func metadataFileName(_ id: PackageID) -> String { "\(id.fingerprint).metadata.yaml" }

    /// luet's `compressiontype` value.
    var compressionType: String {
        switch compression {
        case .zstd: return "zstd"
        case .gzip: return "gzip"
        case .none: return "none"
        }
    }

    /// The runtime package as luet serializes it: the definition, with identity fields from the id.
    var package: Value {
        var m = runtime.mapValue ?? [:]
        m["name"] = .string(id.name)
        m["category"] = .string(id.category)
        m["version"] = .string(id.version.text)
        return .map(m)
    }

    var platformValue: Value {
        var m: [String: Value] = ["os": .string(platform.os), "arch": .string(platform.architecture)]
        if let v = platform.variant { m["variant"] = .string(v) }
        return .map(m)
    }

    var cosciSection: Value {
        .map([
            "schema": .string(Self.schema), "key": .string(key.description), "size": .int(Int(size)),
            "source_date_epoch": .int(Int(sourceDateEpoch)),
        ])
    }

    /// The compile spec with its package, under either spelling.
    var compileSpec: Value {
        var m = spec.mapValue ?? [:]
        m["package"] = package
        return .map(m)
    }

    /// The `<fp>.metadata.yaml` document.
    public var document: Value { fields(compileSpecKey: "compilespec") }

    /// The entry of `repository.meta.yaml`'s `index` (JSON tag spelling).
    public var indexEntry: Value { fields(compileSpecKey: "compilationspec") }

    /// The fields of both spellings: they differ only in the compile spec's key.
    func fields(compileSpecKey: String) -> Value {
        .map([
            "path": .string(path),
            compileSpecKey: compileSpec,
            "checksums": .map(["sha256": .string(sha256.hex)]),
            "compressiontype": .string(compressionType),
            "files": .list(files.map(Value.string)),
            "runtime": package,
            "platform": platformValue,
            "cosci": cosciSection,
        ])
    }

    /// The YAML text of `document` (keys sorted; the same metadata always gives the same bytes).
    public var yamlText: String { document.yamlText() }

    /// Why a metadata document cannot be read.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let file: String
        public let message: String
        public var description: String { "\(file): \(message)" }
    }

    /// Reads a metadata document or an index entry (either spelling of the compile spec).
    public init(parsing value: Value, file: String) throws(ParseError) {
        func fail(_ m: String) -> ParseError { ParseError(file: file, message: m) }
        guard let m = value.mapValue else { throw fail("expected a map of artifact metadata") }
        guard let path = m["path"]?.stringValue else { throw fail("field path: missing") }
        let spec = m["compilespec"] ?? m["compilationspec"] ?? .map([:])
        guard let pkg = spec["package"]?.mapValue ?? m["runtime"]?.mapValue,
            let name = pkg["name"]?.scalarText, let category = pkg["category"]?.scalarText,
            let versionText = pkg["version"]?.scalarText
        else { throw fail("field compilespec.package: missing name, category or version") }
        let version: Version
        do { version = try Version(versionText) } catch { throw fail("field version: \(error)") }
        guard let shaText = m["checksums"]?["sha256"]?.stringValue, let sha = try? Digest(parsing: "sha256:" + shaText)
        else { throw fail("field checksums.sha256: missing or not 64 hex digits") }
        let cosci = m["cosci"]?.mapValue ?? [:]
        guard let keyText = cosci["key"]?.stringValue, let key = try? CacheKey(parsing: keyText) else {
            throw fail("field cosci.key: missing (not written by cosci?)")
        }
        var specMap = spec.mapValue ?? [:]
        specMap["package"] = nil
        let platformMap = m["platform"]?.mapValue ?? [:]
        self.init(
            id: PackageID(category: category, name: name, version: version), path: path, key: key, sha256: sha,
            size: Int64(cosci["size"].flatMap { if case .int(let i) = $0 { return i } else { return nil } } ?? 0),
            compression: Compression(luetName: m["compressiontype"]?.stringValue ?? "none"),
            files: m["files"]?.listValue?.compactMap(\.stringValue) ?? [],
            spec: .map(specMap), runtime: m["runtime"] ?? .map(pkg),
            platform: Platform(
                os: platformMap["os"]?.stringValue ?? "linux", architecture: platformMap["arch"]?.stringValue ?? "amd64",
                variant: platformMap["variant"]?.stringValue),
            sourceDateEpoch: Int64(cosci["source_date_epoch"].flatMap { if case .int(let i) = $0 { return i } else { return nil } } ?? 0))
    }

    /// Reads `<fp>.metadata.yaml` text.
    public init(yaml text: String, file: String) throws(ParseError) {
        let value: Value
        do {
            guard let node = try YAMLNode.compose(text) else { throw ParseError(file: file, message: "empty document") }
            value = try Value(yaml: node)
        } catch let e as ParseError {
            throw e
        } catch {
            throw ParseError(file: file, message: "\(error)")
        }
        try self.init(parsing: value, file: file)
    }
}

extension Compression {
    /// From luet's `compressiontype`.
    init(luetName: String) {
        switch luetName {
        case "zstd": self = .zstd
        case "gzip": self = .gzip
        default: self = .none
        }
    }
}
