import CosciModel
import CosciTemplate
import Yams

/// A parsed YAML document that remembers where its nodes came from, so that field errors can name
/// `file:line`. Lines of a rendered template are mapped back to the template source by `origin`.
struct YAMLDocument {
    let root: Node?
    let file: String
    /// Maps a line of the parsed text to the source location it came from (identity for plain files).
    let origin: @Sendable (Int) -> SourceLocation

    /// Parses `text`; a syntax error becomes a diagnostic at the offending line.
    init(text: String, file: String, origin: (@Sendable (Int) -> SourceLocation)? = nil) throws(Diagnostic) {
        self.file = file
        let origin = origin ?? { SourceLocation(file: file, line: $0) }
        self.origin = origin
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw YAMLDocument.diagnostic(for: error, origin: origin, file: file)
        } catch {
            throw Diagnostic(at: SourceLocation(file: file, line: 0), "YAML: \(error)")
        }
    }

    static func diagnostic(for error: YamlError, origin: (Int) -> SourceLocation, file: String) -> Diagnostic {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
            let .composer(context, problem, mark, _):
            let ctx = context.map { "\($0.text) " } ?? ""
            return Diagnostic(
                at: origin(mark.line), "YAML syntax: \(ctx)\(problem) (column \(mark.column))",
                hint: "fix the YAML syntax (indentation, quoting, a missing ':')")
        case let .reader(problem, _, _, _):
            return Diagnostic(at: SourceLocation(file: file, line: 0), "YAML: \(problem)")
        default:
            return Diagnostic(at: SourceLocation(file: file, line: 0), "YAML: \(error)")
        }
    }

    /// The location of a node.
    func location(of node: Node?) -> SourceLocation {
        guard let mark = node?.mark else { return SourceLocation(file: file, line: 0) }
        return origin(mark.line)
    }
}

extension Node {
    /// True for an explicit or implicit null scalar (`~`, `null`, nothing).
    var isNull: Bool {
        guard case .scalar = self else { return false }
        return tag.rawValue == Tag.Name.null.rawValue
    }

    /// Converts to a `Value` (merge keys resolved; scalars typed by YAML's resolution).
    func value(in doc: YAMLDocument) throws(Diagnostic) -> CosciModel.Value {
        do {
            return try CosciModel.Value(yamlNode: self)
        } catch let error as YAMLValueError {
            throw Diagnostic(at: error.line.map(doc.origin) ?? doc.location(of: self), error.message)
        } catch {
            throw Diagnostic(at: doc.location(of: self), "\(error)")
        }
    }

    /// The value of a mapping entry with a string key, merge keys included (explicit keys win).
    func entry(_ key: String) -> Node? {
        guard case .mapping(let m) = self else { return nil }
        for (k, v) in m where k.string == key && !k.isMergeKey { return v }
        for merged in mergedMappings() {
            if let v = merged.entry(key) { return v }
        }
        return nil
    }

    /// True for `<<` (plain or tagged `!!merge`).
    var isMergeKey: Bool {
        guard case .scalar(let s) = self else { return false }
        return s.string == "<<" && (s.tag.rawValue == Tag.Name.merge.rawValue || s.style == .plain)
    }

    /// The mappings merged into this one with `<<`, in priority order.
    func mergedMappings() -> [Node] {
        guard case .mapping(let m) = self else { return [] }
        var out: [Node] = []
        for (k, v) in m where k.isMergeKey {
            switch v {
            case .mapping: out.append(v)
            case .sequence(let seq): out.append(contentsOf: seq.filter { if case .mapping = $0 { true } else { false } })
            default: continue
            }
        }
        return out
    }

    /// The entries of a mapping with merge keys resolved: explicit entries first, then merged ones not
    /// already present. Keys are strings as written.
    func resolvedEntries() -> [(key: String, keyNode: Node, value: Node)] {
        guard case .mapping(let m) = self else { return [] }
        var out: [(String, Node, Node)] = []
        var seen = Set<String>()
        for (k, v) in m where !k.isMergeKey {
            let key = k.string ?? ""
            if seen.insert(key).inserted { out.append((key, k, v)) }
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
        case .alias: return "an alias"
        }
    }
}
