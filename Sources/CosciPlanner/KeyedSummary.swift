import CosciModel

/// One side of a comparison, reduced to what change detection needs: every package's id and key, and per
/// package a record with its digests, its build dependencies and its directory listing; plus the load's
/// diagnostics and the input files (values, shared templates) it was rendered with.
///
/// It lives as bytes in a compact binary form, so that a side saved by an earlier run costs one read and a
/// walk over its index instead of loading, resolving and keying the tree again:
///
/// ```
/// magic "cosci-keyed-summary/5\n"
/// inputs (strings), render inputs (strings `name=value`), diagnostics
/// count, keyed count
/// per package, in position order (the keyed ones first, dependencies before dependents, then the others):
///     id as `category/name@version` with the lengths of category and name; key (32 bytes) or none;
///     record length, record: path, definition file, build file, image, content/stanza/spec/resolution
///     digests (32 bytes each), dependency positions, upstream packages (kind, repository, id, sha256),
///     directory listing (path, mode, blob id)
/// positions sorted by id bytes
/// ```
///
/// Reading decodes only the index (offsets, no strings); ids, keys and records are decoded when asked for,
/// which a comparison does for the packages whose keys differ.
public struct KeyedSummary: Sendable {
    /// The first line of the encoding; bump it whenever the layout changes.
    public static let magic = Array("cosci-keyed-summary/5\n".utf8)

    /// The encoding, from `start` on.
    public let bytes: [UInt8]
    public let start: Int
    /// How many packages the tree has, keyed or not.
    public let count: Int
    /// Packages at positions `0..<keyedCount` are keyed, in the graph's order (dependencies first).
    public let keyedCount: Int
    /// The values files and shared templates the tree was rendered with.
    public let inputs: Set<String>
    /// What the renders read besides files (`KeyedTree.renderInputs`): the summary holds only where those are
    /// the same.
    public let renderInputs: [String: String]
    /// Problems found loading the tree.
    public let diagnostics: [Diagnostic]
    /// Positions sorted by id bytes (the order of `PackageID`).
    public let sorted: [Int]
    /// Per position: where the id starts, its byte length, the lengths of category and name, where the key
    /// starts (-1 when not keyed) and where the record starts.
    private let idStart: [Int], idLength: [Int], categoryLength: [Int], nameLength: [Int]
    private let keyStart: [Int], recordStart: [Int], recordLength: [Int]

    /// Summarises a keyed tree.
    public init(_ tree: KeyedTree, diagnostics: [Diagnostic]) {
        let keyed = Set(tree.graph.order)
        let all = tree.graph.order + tree.graph.packages.keys.filter { !keyed.contains($0) }.sorted()
        var position: [PackageID: Int] = [:]
        position.reserveCapacity(all.count)
        for (i, id) in all.enumerated() { position[id] = i }

        var w = BinaryWriter()
        w.bytes.append(contentsOf: KeyedSummary.magic)
        w.strings(tree.inputs.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        w.strings(KeyedSummary.encoded(tree.renderInputs))
        w.int(diagnostics.count)
        for d in diagnostics { w.diagnostic(d) }
        w.int(all.count)
        w.int(tree.graph.order.count)
        var record = BinaryWriter()
        for id in all {
            guard let spec = tree.graph.packages[id] else { continue }
            w.string(id.description)
            w.int(id.category.utf8.count)
            w.int(id.name.utf8.count)
            if let key = tree.keys[id]?.key {
                w.bool(true)
                w.bytes.append(contentsOf: key.digest.rawBytes)
            } else {
                w.bool(false)
            }
            record.bytes.removeAll(keepingCapacity: true)
            KeyedSummary.encodeRecord(
                spec, dependencies: tree.graph.dependencies(of: id).compactMap { position[$0] },
                upstream: KeyedSummary.upstreamEntries(of: id, in: tree.graph), into: &record)
            w.int(record.bytes.count)
            w.bytes.append(contentsOf: record.bytes)
        }
        for i in all.indices.sorted(by: { all[$0].description.utf8.lexicographicallyPrecedes(all[$1].description.utf8) }) {
            w.int(i)
        }
        // Encoding then decoding keeps one reading path for fresh and saved summaries alike.
        do { try self.init(decoding: w.bytes) } catch { preconditionFailure("a summary does not decode what it encoded") }
    }

    static func encoded(_ renderInputs: [String: String]) -> [String] {
        renderInputs.map { $0.key + "=" + $0.value }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// The upstream packages `id` builds on, one text each: kind, repository, id, sha256 (NUL-separated).
    static func upstreamEntries(of id: PackageID, in graph: BuildGraph) -> [String] {
        var seen = Set<PackageID>()
        var out: [String] = []
        for r in graph.resolutions[id] ?? [] {
            guard let u = r.upstream, seen.insert(u.id).inserted else { continue }
            let kind: String
            switch r.kind {
            case .requires: kind = "requires"
            case .copy: kind = "copy"
            case .finalImage: kind = "final-image"
            }
            out.append([kind, u.repository, u.id.description, u.sha256.hex].joined(separator: "\u{0}"))
        }
        return out.sorted()
    }

    /// A package's record: path, files, image, digests, dependency positions, upstream packages, listing.
    static func encodeRecord(_ spec: PackageSpec, dependencies: [Int], upstream: [String] = [], into record: inout BinaryWriter) {
        record.string(spec.path)
        record.string(spec.definedAt.file)
        record.string(spec.buildFile)
        record.optional(spec.build.image)
        record.bytes.append(contentsOf: spec.contentDigest.rawBytes)
        record.bytes.append(contentsOf: spec.stanzaDigest.rawBytes)
        record.bytes.append(contentsOf: spec.specDigest.rawBytes)
        record.bytes.append(contentsOf: ResolutionInputs.digest(spec).rawBytes)
        record.int(dependencies.count)
        for d in dependencies { record.int(d) }
        record.strings(upstream)
        record.int(spec.content.count)
        for e in spec.content {
            record.string(e.path)
            record.int(Int(e.mode))
            record.string(e.blobID)
        }
    }

    /// Reads the index of a summary encoded in `bytes` from `start` on. Throws on anything that is not a whole summary of this format; the
    /// records are checked to lie inside the bytes, and are trusted beyond that (callers that read summaries
    /// from disk check a digest of the bytes first).
    public init(decoding bytes: [UInt8], from start: Int = 0) throws(BinaryReader.Malformed) {
        guard start >= 0, start <= bytes.count, bytes[start...].starts(with: KeyedSummary.magic) else { throw BinaryReader.Malformed() }
        var r = BinaryReader(bytes: bytes, offset: start + KeyedSummary.magic.count)
        inputs = Set(try r.strings())
        var renderInputs: [String: String] = [:]
        for pair in try r.strings() {
            guard let equals = pair.firstIndex(of: "=") else { throw BinaryReader.Malformed() }
            renderInputs[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        self.renderInputs = renderInputs
        diagnostics = try r.array { (r: inout BinaryReader) throws(BinaryReader.Malformed) in try r.diagnostic() }
        let count = try r.int(), keyedCount = try r.int()
        guard count >= 0, keyedCount >= 0, keyedCount <= count, count <= bytes.count else { throw BinaryReader.Malformed() }
        var idStart = [Int](repeating: 0, count: count), idLength = idStart, categoryLength = idStart, nameLength = idStart
        var keyStart = idStart, recordStart = idStart, recordLength = idStart
        for i in 0..<count {
            let n = try r.int()
            guard n > 0, r.offset + n <= bytes.count else { throw BinaryReader.Malformed() }
            idStart[i] = r.offset
            idLength[i] = n
            r.offset += n
            categoryLength[i] = try r.int()
            nameLength[i] = try r.int()
            guard categoryLength[i] >= 0, nameLength[i] >= 0, categoryLength[i] + nameLength[i] + 2 < n else {
                throw BinaryReader.Malformed()
            }
            if try r.bool() {
                guard r.offset + 32 <= bytes.count else { throw BinaryReader.Malformed() }
                keyStart[i] = r.offset
                r.offset += 32
            } else {
                guard i >= keyedCount else { throw BinaryReader.Malformed() }
                keyStart[i] = -1
            }
            let length = try r.int()
            guard length >= 0, r.offset + length <= bytes.count else { throw BinaryReader.Malformed() }
            recordStart[i] = r.offset
            recordLength[i] = length
            r.offset += length
        }
        var sorted = [Int](repeating: 0, count: count)
        for i in 0..<count {
            sorted[i] = try r.int()
            guard sorted[i] >= 0, sorted[i] < count else { throw BinaryReader.Malformed() }
        }
        guard r.atEnd else { throw BinaryReader.Malformed() }
        self.bytes = bytes
        self.start = start
        self.count = count
        self.keyedCount = keyedCount
        self.sorted = sorted
        self.idStart = idStart
        self.idLength = idLength
        self.categoryLength = categoryLength
        self.nameLength = nameLength
        self.keyStart = keyStart
        self.recordStart = recordStart
        self.recordLength = recordLength
    }

    /// The id at a position.
    public func id(at i: Int) -> PackageID {
        let start = idStart[i], c = categoryLength[i], n = nameLength[i]
        let category = String(decoding: bytes[start..<start + c], as: UTF8.self)
        let name = String(decoding: bytes[start + c + 1..<start + c + 1 + n], as: UTF8.self)
        let text = String(decoding: bytes[start + c + n + 2..<start + idLength[i]], as: UTF8.self)
        // Versions were valid when the summary was made, and the bytes were verified when read.
        guard let version = try? Version(text) else { preconditionFailure("the summary's id at \(i) does not decode") }
        return PackageID(category: category, name: name, version: version)
    }

    /// The key at a position; nil when the package could not be keyed.
    public func key(at i: Int) -> CacheKey? {
        let k = keyStart[i]
        return k < 0 ? nil : CacheKey(Digest(rawBytes: bytes[k..<k + 32]))
    }

    /// Byte order of the ids at `i` here and at `j` in `other`: negative, zero or positive.
    func compareIDs(_ i: Int, _ other: KeyedSummary, _ j: Int) -> Int {
        let a = bytes[idStart[i]..<idStart[i] + idLength[i]]
        let b = other.bytes[other.idStart[j]..<other.idStart[j] + other.idLength[j]]
        if a.elementsEqual(b) { return 0 }
        return a.lexicographicallyPrecedes(b) ? -1 : 1
    }

    /// Whether the package at `i` here has the same key as the one at `j` in `other` (both keyed).
    public func sameKey(_ i: Int, _ other: KeyedSummary, _ j: Int) -> Bool {
        let a = keyStart[i], b = other.keyStart[j]
        guard a >= 0, b >= 0 else { return false }
        return bytes[a..<a + 32].elementsEqual(other.bytes[b..<b + 32])
    }

    /// For each position of `head`, the position of the same id in `base`, or nil: one walk over both
    /// sorted lists.
    public static func match(base: KeyedSummary, head: KeyedSummary) -> [Int?] {
        var out = [Int?](repeating: nil, count: head.count)
        var i = 0, j = 0
        while i < base.sorted.count && j < head.sorted.count {
            let b = base.sorted[i], h = head.sorted[j]
            let order = base.compareIDs(b, head, h)
            if order == 0 {
                out[h] = b
                i += 1
                j += 1
            } else if order < 0 {
                i += 1
            } else {
                j += 1
            }
        }
        return out
    }

    /// The position of an id, or nil: a binary search over the ids' bytes.
    public func position(of id: PackageID) -> Int? {
        let target = Array(id.description.utf8)
        var low = 0, high = sorted.count
        while low < high {
            let middle = (low + high) / 2, p = sorted[middle]
            let candidate = bytes[idStart[p]..<idStart[p] + idLength[p]]
            if candidate.elementsEqual(target) { return p }
            if candidate.lexicographicallyPrecedes(target) { low = middle + 1 } else { high = middle }
        }
        return nil
    }

    /// The summary of a tree that differs from this one only inside the package directories `directories`,
    /// whose packages are now `replacements` (parsed afresh). nil unless those directories hold the same
    /// packages as before (by id), each keyed here and with the same resolution inputs (`ResolutionInputs`):
    /// then the graph and every position stay, keys are recomputed for the replaced packages and for every
    /// package downstream of a key that moved, and every other record is copied as it is.
    public func replacing(
        directories: Set<String>, with replacements: [PackageSpec], platform: Platform, images: [String: Digest],
        renderInputs added: [String: String] = [:]
    ) -> KeyedSummary? {
        let records = (0..<count).map(package(at:))
        var replaced: [Int: PackageSpec] = [:]
        for spec in replacements where directories.contains(spec.path) {
            guard let p = position(of: spec.id), p < keyedCount, replaced[p] == nil, records[p].path == spec.path,
                records[p].resolutionDigest == RawDigest(ResolutionInputs.digest(spec))
            else { return nil }
            replaced[p] = spec
        }
        for (p, record) in records.enumerated() where directories.contains(record.path) && replaced[p] == nil { return nil }

        // Keys in graph order, so a dependency's key is final before its dependents read it.
        var keys = (0..<count).map(key(at:))
        var moved = [Bool](repeating: false, count: count)
        for p in 0..<keyedCount {
            let record = records[p], spec = replaced[p]
            guard spec != nil || record.dependencies.contains(where: { moved[$0] }) else { continue }
            let dependencyKeys = record.dependencies.compactMap { keys[$0] }
            guard dependencyKeys.count == record.dependencies.count else { return nil }
            let key: CacheKey
            if let spec {
                key = CacheKeys.key(
                    platform: platform, specDigest: spec.specDigest, stanzaDigest: spec.stanzaDigest, contentDigest: spec.contentDigest,
                    image: CacheKeys.hashedImage(spec.build.image, images: images), dependencyKeys: dependencyKeys)
            } else {
                key = CacheKeys.key(
                    platform: platform, specDigest: record.specDigest.digest, stanzaDigest: record.stanzaDigest.digest,
                    contentDigest: record.contentDigest.digest, image: CacheKeys.hashedImage(record.image, images: images),
                    dependencyKeys: dependencyKeys)
            }
            if key != keys[p] {
                moved[p] = true
                keys[p] = key
            }
        }

        var w = BinaryWriter()
        w.bytes.append(contentsOf: KeyedSummary.magic)
        w.strings(inputs.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        w.strings(KeyedSummary.encoded(renderInputs.merging(added) { _, new in new }))
        w.int(diagnostics.count)
        for d in diagnostics { w.diagnostic(d) }
        w.int(count)
        w.int(keyedCount)
        var record = BinaryWriter()
        for p in 0..<count {
            w.int(idLength[p])
            w.bytes.append(contentsOf: bytes[idStart[p]..<idStart[p] + idLength[p]])
            w.int(categoryLength[p])
            w.int(nameLength[p])
            if let key = keys[p] {
                w.bool(true)
                w.bytes.append(contentsOf: key.digest.rawBytes)
            } else {
                w.bool(false)
            }
            if let spec = replaced[p] {
                record.bytes.removeAll(keepingCapacity: true)
                KeyedSummary.encodeRecord(spec, dependencies: records[p].dependencies, into: &record)
                w.int(record.bytes.count)
                w.bytes.append(contentsOf: record.bytes)
            } else {
                w.int(recordLength[p])
                w.bytes.append(contentsOf: bytes[recordStart[p]..<recordStart[p] + recordLength[p]])
            }
        }
        for p in sorted { w.int(p) }
        return try? KeyedSummary(decoding: w.bytes)
    }

    /// The package directory at a position (the record's first field, read alone).
    public func path(at i: Int) -> String {
        var r = BinaryReader(bytes: bytes, offset: recordStart[i])
        guard let path = try? r.string() else { preconditionFailure("the summary record at \(i) does not decode") }
        return path
    }

    /// The record at a position (its listing is read apart, by `content(at:)`).
    public func package(at i: Int) -> PackageSummary {
        var r = BinaryReader(bytes: bytes, offset: recordStart[i])
        // The index was checked and the bytes were verified when read, so a record that does not decode is a bug.
        do {
            let path = try r.string(), definitionFile = try r.string(), buildFile = try r.string()
            let image = try r.optional()
            let digests = r.offset
            r.offset += 128
            let deps = try r.array { (r: inout BinaryReader) throws(BinaryReader.Malformed) -> Int in try r.int() }
            let upstream = try r.strings().map(UpstreamDependency.init(entry:))
            return PackageSummary(
                position: i, key: keyStart[i] < 0 ? nil : RawDigest(bytes, at: keyStart[i]), path: path, definitionFile: definitionFile,
                buildFile: buildFile, image: image, contentDigest: RawDigest(bytes, at: digests),
                stanzaDigest: RawDigest(bytes, at: digests + 32), specDigest: RawDigest(bytes, at: digests + 64),
                resolutionDigest: RawDigest(bytes, at: digests + 96), dependencies: deps, upstream: upstream, contentStart: r.offset)
        } catch {
            preconditionFailure("the summary record at \(i) does not decode")
        }
    }

    /// The directory listing of a package.
    public func content(of package: PackageSummary) -> [ContentEntry] {
        var r = BinaryReader(bytes: bytes, offset: package.contentStart)
        do {
            return try r.array { (r: inout BinaryReader) throws(BinaryReader.Malformed) -> ContentEntry in
                let path = try r.string()
                let mode = try r.int()
                return ContentEntry(path: path, mode: UInt32(truncatingIfNeeded: mode), blobID: try r.string())
            }
        } catch {
            preconditionFailure("the listing of the summary record at \(package.position) does not decode")
        }
    }
}

/// A SHA-256 as four words: compared without being turned into text.
public struct RawDigest: Sendable, Hashable {
    let words: (UInt64, UInt64, UInt64, UInt64)

    init(_ digest: Digest) {
        self.init(digest.rawBytes, at: 0)
    }

    /// The digest as text.
    public var digest: Digest {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for w in [words.0, words.1, words.2, words.3] {
            for k in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: w >> UInt64(k))) }
        }
        return Digest(rawBytes: bytes)
    }

    init(_ bytes: [UInt8], at offset: Int) {
        func word(_ k: Int) -> UInt64 {
            var v: UInt64 = 0
            for b in bytes[offset + 8 * k..<offset + 8 * k + 8] { v = v << 8 | UInt64(b) }
            return v
        }
        words = (word(0), word(1), word(2), word(3))
    }

    public static func == (a: RawDigest, b: RawDigest) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }
}

/// What change detection needs of one package of a summary.
public struct PackageSummary: Sendable {
    /// Where it is in its summary.
    public let position: Int
    /// nil when the package could not be keyed (a missing dependency, a cycle).
    public let key: RawDigest?
    /// The package directory relative to the project root.
    public let path: String
    /// The file holding the package's definition stanza.
    public let definitionFile: String
    public let buildFile: String
    /// The base image as written (nil without `image:`).
    public let image: String?
    public let contentDigest: RawDigest
    public let stanzaDigest: RawDigest
    public let specDigest: RawDigest
    /// Digest of what resolution reads of the package (`ResolutionInputs`).
    public let resolutionDigest: RawDigest
    /// Positions of the distinct build dependencies, in id order.
    public let dependencies: [Int]
    /// The upstream packages it builds on, sorted.
    public let upstream: [UpstreamDependency]
    /// Where the directory listing starts (`KeyedSummary.content(of:)`).
    let contentStart: Int
}

/// An upstream package a summarised package builds on.
public struct UpstreamDependency: Sendable, Hashable {
    /// `requires`, `copy` or `final-image`.
    public let kind: String
    public let repository: String
    /// `category/name@version`.
    public let id: String
    public let sha256: String

    init(entry: String) {
        let parts = entry.split(separator: "\u{0}", omittingEmptySubsequences: false).map(String.init)
        kind = parts.count > 0 ? parts[0] : ""
        repository = parts.count > 1 ? parts[1] : ""
        id = parts.count > 2 ? parts[2] : ""
        sha256 = parts.count > 3 ? parts[3] : ""
    }

    /// `category/name`.
    public var family: String { String(id.prefix { $0 != "@" }) }
    /// The version text.
    public var version: String { id.firstIndex(of: "@").map { String(id[id.index(after: $0)...]) } ?? "" }
}
