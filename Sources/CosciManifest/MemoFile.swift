#if canImport(Glibc)
    import Glibc
#endif
import CosciModel

/// The load memo on disk, so that a later run parses only the package directories whose inputs changed.
///
/// One file, written whole by every run (temp file + rename), in a compact binary form: a header naming the
/// format, then each entry's key, packages (without content: that is recomputed from the tree every time)
/// and diagnostics. A file that does not decode is ignored: the memo is only a cache.
extension LoadMemo {
    static let magic = Array("cosci-load-memo/3\n".utf8)

    /// Reads a memo file; an absent, unreadable or foreign file gives an empty memo.
    public static func read(from path: String) -> LoadMemo {
        guard let bytes = try? FileSystemTree.read(path), bytes.starts(with: magic) else { return LoadMemo() }
        var reader = BinaryReader(bytes: bytes, offset: magic.count)
        var memo = LoadMemo()
        do {
            let count = try reader.int()
            memo.entries.reserveCapacity(count)
            for _ in 0..<count {
                let key = try reader.string()
                let packages = try reader.array { (r: inout BinaryReader) throws(BinaryReader.Malformed) in try r.package() }
                let diagnostics = try reader.array { (r: inout BinaryReader) throws(BinaryReader.Malformed) in try r.diagnostic() }
                let pairs = try reader.array { (r: inout BinaryReader) throws(BinaryReader.Malformed) in (try r.string(), try r.string()) }
                let inputs = Dictionary(pairs, uniquingKeysWith: { _, last in last })
                memo.entries[key] = Entry(packages: packages, diagnostics: diagnostics, inputs: inputs)
            }
        } catch {
            return LoadMemo()
        }
        return memo
    }

    /// Merges another memo's entries into this one (its entries win).
    public func merging(_ other: LoadMemo) -> LoadMemo {
        var out = self
        out.entries.merge(other.entries) { _, new in new }
        return out
    }

    /// Writes the memo atomically. Errors are returned, not thrown: failing to save a cache is not fatal.
    @discardableResult
    public func write(to path: String) -> Bool {
        var w = BinaryWriter()
        w.bytes.append(contentsOf: LoadMemo.magic)
        w.int(entries.count)
        for (key, entry) in entries.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            w.string(key)
            w.int(entry.packages.count)
            for p in entry.packages { w.package(p) }
            w.int(entry.diagnostics.count)
            for d in entry.diagnostics { w.diagnostic(d) }
            w.int(entry.inputs.count)
            for (name, value) in entry.inputs.sorted(by: { $0.key < $1.key }) {
                w.string(name)
                w.string(value)
            }
        }
        return FileSystemTree.writeAtomically(w.bytes, to: path)
    }
}

extension BinaryWriter {
    mutating func requirement(_ r: Requirement) {
        string(r.category)
        string(r.name)
        string(r.selector.text)
        location(r.location)
    }

    mutating func requirements(_ list: [Requirement]) {
        int(list.count)
        for r in list { requirement(r) }
    }

    mutating func package(_ p: PackageSpec) {
        string(p.id.category)
        string(p.id.name)
        string(p.id.version.text)
        string(p.path)
        location(p.definedAt)
        string(p.buildFile)
        // The stanza and the rendered document are not kept: planning needs only their digests (kept below),
        // and they are most of a spec's size. Restored specs have no `documents`; the slot stays null.
        value(.null)
        requirements(p.runtimeRequires)
        requirements(p.provides)
        let b = p.build
        optional(b.image)
        requirements(b.requires)
        bool(b.requiresFinalImages)
        requirements(b.conflicts)
        requirements(b.provides)
        int(b.copy.count)
        for c in b.copy {
            if let pkg = c.package {
                bytes.append(1)
                requirement(pkg)
            } else {
                bytes.append(0)
            }
            optional(c.image)
            string(c.source)
            string(c.destination)
        }
        strings(b.prelude)
        strings(b.steps)
        strings(b.env)
        optional(b.packageDir)
        bool(b.unpack)
        strings(b.includes)
        strings(b.excludes)
        strings(b.retrieve)
        value(.null)
        string(p.specDigest.hex)
        string(p.stanzaDigest.hex)
    }

}

extension BinaryReader {
    mutating func requirement() throws(Malformed) -> Requirement {
        let category = try string(), name = try string(), selector = try string()
        let location = try location()
        guard let sel = try? VersionSelector(selector) else { throw Malformed() }
        return Requirement(category: category, name: name, selector: sel, location: location)
    }

    mutating func requirements() throws(Malformed) -> [Requirement] {
        try array { (r: inout BinaryReader) throws(Malformed) in try r.requirement() }
    }

    mutating func package() throws(Malformed) -> PackageSpec {
        let category = try string(), name = try string(), versionText = try string()
        guard let version = try? Version(versionText) else { throw Malformed() }
        let path = try string()
        guard let definedAt = try location() else { throw Malformed() }
        let buildFile = try string()
        _ = try value()
        let runtime = try requirements()
        let provides = try requirements()
        var b = BuildSpec()
        b.image = try optional()
        b.requires = try requirements()
        b.requiresFinalImages = try bool()
        b.conflicts = try requirements()
        b.provides = try requirements()
        b.copy = try array { (r: inout BinaryReader) throws(Malformed) in
            let pkg = try r.byte() == 1 ? try r.requirement() : nil
            let image = try r.optional()
            let source = try r.string()
            return CopySpec(package: pkg, image: image, source: source, destination: try r.string())
        }
        b.prelude = try strings()
        b.steps = try strings()
        b.env = try strings()
        b.packageDir = try optional()
        b.unpack = try bool()
        b.includes = try strings()
        b.excludes = try strings()
        b.retrieve = try strings()
        _ = try value()
        guard let specDigest = try? Digest(parsing: "sha256:" + string()),
            let stanzaDigest = try? Digest(parsing: "sha256:" + string())
        else { throw Malformed() }
        return PackageSpec(
            restoring: PackageID(category: category, name: name, version: version), path: path, definedAt: definedAt,
            buildFile: buildFile, runtimeRequires: runtime, provides: provides, build: b,
            specDigest: specDigest, stanzaDigest: stanzaDigest)
    }

}
