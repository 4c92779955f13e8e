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
    static let magic = Array("cosci-load-memo/2\n".utf8)

    /// Reads a memo file; an absent, unreadable or foreign file gives an empty memo.
    public static func read(from path: String) -> LoadMemo {
        guard let bytes = try? FileSystemTree.read(path), bytes.starts(with: magic) else { return LoadMemo() }
        var reader = ByteReader(bytes: bytes, offset: magic.count)
        var memo = LoadMemo()
        do {
            let count = try reader.int()
            memo.entries.reserveCapacity(count)
            for _ in 0..<count {
                let key = try reader.string()
                let packages = try reader.array { (r: inout ByteReader) throws(ByteReader.Malformed) in try r.package() }
                let diagnostics = try reader.array { (r: inout ByteReader) throws(ByteReader.Malformed) in try r.diagnostic() }
                memo.entries[key] = Entry(packages: packages, diagnostics: diagnostics)
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
        var w = ByteWriter()
        w.bytes.append(contentsOf: LoadMemo.magic)
        w.int(entries.count)
        for (key, entry) in entries.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            w.string(key)
            w.int(entry.packages.count)
            for p in entry.packages { w.package(p) }
            w.int(entry.diagnostics.count)
            for d in entry.diagnostics { w.diagnostic(d) }
        }
        return FileSystemTree.writeAtomically(w.bytes, to: path)
    }
}

struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func int(_ v: Int) {
        var u = UInt64(bitPattern: Int64(v))
        // zig-zag is not needed: negative numbers are rare (Value ints); they take 10 bytes.
        repeat {
            var byte = UInt8(u & 0x7F)
            u >>= 7
            if u != 0 { byte |= 0x80 }
            bytes.append(byte)
        } while u != 0
    }

    mutating func string(_ s: String) {
        int(s.utf8.count)
        bytes.append(contentsOf: s.utf8)
    }

    mutating func optional(_ s: String?) {
        if let s {
            bytes.append(1)
            string(s)
        } else {
            bytes.append(0)
        }
    }

    mutating func bool(_ b: Bool) { bytes.append(b ? 1 : 0) }

    mutating func strings(_ list: [String]) {
        int(list.count)
        for s in list { string(s) }
    }

    mutating func location(_ l: SourceLocation?) {
        guard let l else { return bytes.append(0) }
        bytes.append(1)
        string(l.file)
        int(l.line)
    }

    mutating func value(_ v: Value) {
        switch v {
        case .null: bytes.append(0)
        case .bool(let b): bytes.append(b ? 2 : 1)
        case .int(let i):
            bytes.append(3)
            int(i)
        case .double(let d):
            bytes.append(4)
            int(Int(bitPattern: UInt(d.bitPattern)))
        case .string(let s):
            bytes.append(5)
            string(s)
        case .list(let items):
            bytes.append(6)
            int(items.count)
            for item in items { value(item) }
        case .map(let m):
            bytes.append(7)
            int(m.count)
            for (k, item) in m {
                string(k)
                value(item)
            }
        }
    }

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
        // and they are most of a spec's size. Restored specs carry `.null` there.
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

    mutating func diagnostic(_ d: Diagnostic) {
        bool(d.severity == .error)
        location(d.location)
        optional(d.field)
        string(d.message)
        optional(d.hint)
    }
}

struct ByteReader {
    struct Malformed: Error {}

    let bytes: [UInt8]
    var offset: Int

    mutating func byte() throws(Malformed) -> UInt8 {
        guard offset < bytes.count else { throw Malformed() }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func int() throws(Malformed) -> Int {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { break }
            shift += 7
            guard shift < 64 else { throw Malformed() }
        }
        return Int(Int64(bitPattern: result))
    }

    mutating func string() throws(Malformed) -> String {
        let n = try int()
        guard n >= 0, offset + n <= bytes.count else { throw Malformed() }
        defer { offset += n }
        return String(decoding: bytes[offset..<offset + n], as: UTF8.self)
    }

    mutating func optional() throws(Malformed) -> String? {
        try byte() == 1 ? try string() : nil
    }

    mutating func bool() throws(Malformed) -> Bool { try byte() == 1 }

    mutating func array<T>(_ element: (inout ByteReader) throws(Malformed) -> T) throws(Malformed) -> [T] {
        let n = try int()
        guard n >= 0, n <= bytes.count else { throw Malformed() }
        var out: [T] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try element(&self)) }
        return out
    }

    mutating func strings() throws(Malformed) -> [String] { try array { (r: inout ByteReader) throws(Malformed) in try r.string() } }

    mutating func location() throws(Malformed) -> SourceLocation? {
        guard try byte() == 1 else { return nil }
        let file = try string()
        return SourceLocation(file: file, line: try int())
    }

    mutating func value() throws(Malformed) -> Value {
        switch try byte() {
        case 0: return .null
        case 1: return .bool(false)
        case 2: return .bool(true)
        case 3: return .int(try int())
        case 4: return .double(Double(bitPattern: UInt64(UInt(bitPattern: try int()))))
        case 5: return .string(try string())
        case 6: return .list(try array { (r: inout ByteReader) throws(Malformed) in try r.value() })
        case 7:
            let n = try int()
            guard n >= 0, n <= bytes.count else { throw Malformed() }
            var m: [String: Value] = [:]
            m.reserveCapacity(n)
            for _ in 0..<n {
                let k = try string()
                m[k] = try value()
            }
            return .map(m)
        default: throw Malformed()
        }
    }

    mutating func requirement() throws(Malformed) -> Requirement {
        let category = try string(), name = try string(), selector = try string()
        let location = try location()
        guard let sel = try? VersionSelector(selector) else { throw Malformed() }
        return Requirement(category: category, name: name, selector: sel, location: location)
    }

    mutating func requirements() throws(Malformed) -> [Requirement] {
        try array { (r: inout ByteReader) throws(Malformed) in try r.requirement() }
    }

    mutating func package() throws(Malformed) -> PackageSpec {
        let category = try string(), name = try string(), versionText = try string()
        guard let version = try? Version(versionText) else { throw Malformed() }
        let path = try string()
        guard let definedAt = try location() else { throw Malformed() }
        let buildFile = try string()
        let stanza = try value()
        let runtime = try requirements()
        let provides = try requirements()
        var b = BuildSpec()
        b.image = try optional()
        b.requires = try requirements()
        b.requiresFinalImages = try bool()
        b.conflicts = try requirements()
        b.provides = try requirements()
        b.copy = try array { (r: inout ByteReader) throws(Malformed) in
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
        b.document = try value()
        guard let specDigest = try? Digest(parsing: "sha256:" + string()),
            let stanzaDigest = try? Digest(parsing: "sha256:" + string())
        else { throw Malformed() }
        return PackageSpec(
            restoring: PackageID(category: category, name: name, version: version), path: path, definedAt: definedAt,
            buildFile: buildFile, stanza: stanza, runtimeRequires: runtime, provides: provides, build: b,
            specDigest: specDigest, stanzaDigest: stanzaDigest)
    }

    mutating func diagnostic() throws(Malformed) -> Diagnostic {
        let isError = try bool()
        let location = try location()
        let field = try optional()
        let message = try string()
        return Diagnostic(isError ? .error : .warning, at: location, field: field, message, hint: try optional())
    }
}
