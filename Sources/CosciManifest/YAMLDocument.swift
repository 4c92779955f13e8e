import CosciModel
import CosciTemplate
import CosciYAML

/// A parsed YAML document that remembers where its nodes came from, so that field errors can name
/// `file:line`. Lines of a rendered template are mapped back to the template source by `origin`.
struct YAMLDocument {
    let root: YAMLNode?
    let file: String
    /// Warnings about the text itself: keys given twice (the last one wins, as in luet).
    let warnings: [Diagnostic]
    /// Maps a line of the parsed text to the source location it came from (identity for plain files).
    let origin: @Sendable (Int) -> SourceLocation

    /// Parses `text`; a syntax error becomes a diagnostic at the offending line.
    init(text: String, file: String, origin: (@Sendable (Int) -> SourceLocation)? = nil) throws(Diagnostic) {
        self.file = file
        let origin = origin ?? { SourceLocation(file: file, line: $0) }
        self.origin = origin
        do {
            let (node, duplicates) = try YAMLNode.composeReporting(text)
            root = node
            warnings = duplicates.map { d in
                Diagnostic(
                    .warning, at: origin(d.line), field: d.key,
                    "given twice (also at line \(d.firstLine)); the last value wins, as in luet",
                    hint: "remove one of them")
            }
        } catch {
            throw Diagnostic(
                at: origin(error.line), "YAML syntax: \(error.message) (column \(error.column))",
                hint: "fix the YAML syntax (indentation, quoting, a missing ':')")
        }
    }

    /// The location of a node.
    func location(of node: YAMLNode?) -> SourceLocation {
        guard let node else { return SourceLocation(file: file, line: 0) }
        return origin(node.line)
    }
}

extension YAMLNode {
    /// True for an explicit or implicit null scalar (`~`, `null`, nothing).
    var isNull: Bool {
        guard case .scalar(let s) = self else { return false }
        if s.tag == "tag:yaml.org,2002:null" { return true }
        return s.tag == nil && s.style == .plain && YAMLScalar.resolve(plain: s.text) == .null
    }

    /// A plain `true`/`false` (or YAML 1.1 `yes`/`no`/`on`/`off`) scalar as a Bool.
    var boolValue: Bool? {
        guard case .scalar(let s) = self, s.style == .plain, case .bool(let b) = YAMLScalar.resolve(plain: s.text) else {
            return nil
        }
        return b
    }

    /// The text of a scalar, or nil.
    var scalarText: String? {
        if case .scalar(let s) = self { return s.text }
        return nil
    }

    /// Converts to a `Value`, with errors as diagnostics.
    func value(in doc: YAMLDocument) throws(Diagnostic) -> Value {
        do {
            return try Value(yaml: self)
        } catch {
            throw Diagnostic(at: error.line.map(doc.origin) ?? doc.location(of: self), error.message)
        }
    }

    /// The value of a mapping entry with a string key, merge keys included (explicit keys win).
    /// A key given twice takes its last value.
    func entry(_ key: String) -> YAMLNode? {
        guard case .mapping(let pairs, _) = self else { return nil }
        for pair in pairs.reversed() {
            if case .scalar(let k) = pair.key, k.text == key, !k.isMergeKey { return pair.value }
        }
        for merged in mergedMappings() {
            if let v = merged.entry(key) { return v }
        }
        return nil
    }

    /// The mappings merged into this one with `<<`, in priority order.
    func mergedMappings() -> [YAMLNode] {
        guard case .mapping(let pairs, _) = self else { return [] }
        var out: [YAMLNode] = []
        for pair in pairs {
            guard case .scalar(let k) = pair.key, k.isMergeKey else { continue }
            switch pair.value {
            case .mapping: out.append(pair.value)
            case .sequence(let items, _): out.append(contentsOf: items.filter { if case .mapping = $0 { true } else { false } })
            default: continue
            }
        }
        return out
    }

    /// The entries of a mapping with merge keys resolved: explicit entries first, then merged ones not
    /// already present.
    func resolvedEntries() -> [(key: String, keyNode: YAMLNode, value: YAMLNode)] {
        guard case .mapping(let pairs, _) = self else { return [] }
        var out: [(String, YAMLNode, YAMLNode)] = []
        var seen = Set<String>()
        for pair in pairs {
            guard case .scalar(let k) = pair.key, !k.isMergeKey else { continue }
            if seen.insert(k.text).inserted { out.append((k.text, pair.key, pair.value)) }
        }
        for merged in mergedMappings() {
            for (key, k, v) in merged.resolvedEntries() where seen.insert(key).inserted {
                out.append((key, k, v))
            }
        }
        return out
    }

    /// A short name of the node's kind for error messages.
    var kindName: String {
        switch self {
        case .scalar: return "a scalar"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }
}
