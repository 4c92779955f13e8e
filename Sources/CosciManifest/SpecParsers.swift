import CosciModel
import CosciTemplate
import CosciYAML

/// Reads one definition stanza: identity, runtime requirements, provides, and the stanza as template values.
struct StanzaParser {
    let id: PackageID
    let value: Value
    let requires: [Requirement]
    let conflicts: [Requirement]
    let provides: [Requirement]

    /// The longest `name-category-version`: the artifact's file name (`.package.tar.zst` after it) and its
    /// temporary (`.<file>.tmp-<pid>-XXXXXX`) must stay within 255 bytes.
    static let maximumFileStem = 200

    init(doc: YAMLDocument, node: YAMLNode, fieldPrefix: String?) throws(Diagnostic) {
        let field = { (name: String) in fieldPrefix.map { "\($0).\(name)" } ?? name }
        guard case .mapping = node else {
            throw Diagnostic(
                at: doc.location(of: node), field: fieldPrefix,
                "a package definition must be a mapping with name, category and version, found \(node.kindName)")
        }
        let fields = FieldReader(doc: doc, node: node, prefix: fieldPrefix)
        let name = try fields.requiredString("name")
        let category = try fields.requiredString("category")
        let versionText = try fields.requiredString("version")
        for (label, text) in [("name", name), ("category", category), ("version", versionText)] {
            if let c = text.unicodeScalars.first(where: { $0.properties.generalCategory == .control || $0.properties.isWhitespace && $0 != " " }) {
                throw Diagnostic(
                    at: doc.location(of: node.entry(label)), field: field(label),
                    "the \(label) holds the control character U+\(String(c.value, radix: 16, uppercase: true).leftPadded(4))",
                    hint: "names, categories and versions become file names and image tags: use letters, digits, '.', '-', '_' and '+'")
            }
        }
        for (label, text) in [("name", name), ("category", category)] {
            if text.contains("/") || text.contains("@") || text.contains(" ") || text.isEmpty {
                throw Diagnostic(
                    at: doc.location(of: node.entry(label)), field: field(label),
                    "\"\(text)\" is not a valid \(label): it must be non-empty without '/', '@' or spaces")
            }
        }
        // `name-category-version` names the artifact (`….package.tar.zst`) and its temporaries on disk, where a
        // file name stops at 255 bytes.
        let fileStem = name.utf8.count + category.utf8.count + versionText.utf8.count + 2
        if fileStem > Self.maximumFileStem {
            throw Diagnostic(
                at: doc.location(of: node.entry("name")), field: field("name"),
                "name-category-version is \(fileStem) bytes; at most \(Self.maximumFileStem) fit in the artifact's file name",
                hint: "shorten the name, the category or the version")
        }
        let version: Version
        do {
            version = try Version(versionText)
        } catch {
            throw Diagnostic(
                at: doc.location(of: node.entry("version")), field: field("version"), error.description,
                hint: "versions look like 1.2.3, 1.2.3-2, 1.2.3+2 or 1:1.2.3")
        }
        id = PackageID(category: category, name: name, version: version)
        requires = try fields.requirements("requires")
        conflicts = try fields.requirements("conflicts")
        provides = try fields.requirements("provides")
        try fields.expect("labels", kind: "mapping")
        try fields.expect("annotations", kind: "mapping")
        try fields.expect("hidden", kind: "bool")
        value = try node.value(in: doc)
    }
}

/// Typed access to the fields of a YAML mapping, with errors that name file, line and field.
struct FieldReader {
    let doc: YAMLDocument
    let node: YAMLNode
    let prefix: String?

    func path(_ name: String) -> String { prefix.map { "\($0).\(name)" } ?? name }

    func requiredString(_ name: String) throws(Diagnostic) -> String {
        guard let n = node.entry(name) else {
            throw Diagnostic(at: doc.location(of: node), field: path(name), "missing required field `\(name)`")
        }
        return try scalar(n, path(name))
    }

    func optionalString(_ name: String) throws(Diagnostic) -> String? {
        guard let n = node.entry(name) else { return nil }
        if n.isNull { return nil }
        return try scalar(n, path(name))
    }

    func bool(_ name: String) throws(Diagnostic) -> Bool {
        guard let n = node.entry(name) else { return false }
        if n.isNull { return false }
        guard let b = n.boolValue else {
            throw Diagnostic(at: doc.location(of: n), field: path(name), "expected true or false, found \(describe(n))")
        }
        return b
    }

    func strings(_ name: String) throws(Diagnostic) -> [String] {
        guard let n = node.entry(name) else { return [] }
        switch n {
        case .scalar where n.isNull: return []
        case .sequence(let seq, _):
            var out: [String] = []
            for (i, item) in seq.enumerated() { out.append(try scalar(item, "\(path(name))[\(i)]")) }
            return out
        default:
            throw Diagnostic(at: doc.location(of: n), field: path(name), "expected a list of strings, found \(describe(n))")
        }
    }

    func expect(_ name: String, kind: String) throws(Diagnostic) {
        guard let n = node.entry(name) else { return }
        if n.isNull { return }
        let ok: Bool
        switch (kind, n) {
        case ("mapping", .mapping): ok = true
        case ("bool", .scalar): ok = n.boolValue != nil
        default: ok = false
        }
        if !ok { throw Diagnostic(at: doc.location(of: n), field: path(name), "expected a \(kind), found \(describe(n))") }
    }

    func requirements(_ name: String) throws(Diagnostic) -> [Requirement] {
        guard let n = node.entry(name) else { return [] }
        switch n {
        case .scalar where n.isNull: return []
        case .sequence(let seq, _):
            var out: [Requirement] = []
            for (i, item) in seq.enumerated() {
                out.append(try requirement(item, "\(path(name))[\(i)]"))
            }
            return out
        default:
            throw Diagnostic(
                at: doc.location(of: n), field: path(name),
                "expected a list of {name, category, version}, found \(describe(n))")
        }
    }

    func requirement(_ item: YAMLNode, _ itemPath: String) throws(Diagnostic) -> Requirement {
        guard case .mapping = item else {
            throw Diagnostic(
                at: doc.location(of: item), field: itemPath,
                "expected a mapping {name, category, version}, found \(describe(item))")
        }
        let sub = FieldReader(doc: doc, node: item, prefix: itemPath)
        let name = try sub.requiredString("name")
        // luet's package reference has an optional category (an empty string): `provides: [{name: grub-config}]`
        // loads there, so it loads here (it then names the package `grub-config` of no category).
        let category = try sub.optionalString("category") ?? ""
        let text = try sub.optionalString("version") ?? ">=0"
        do {
            return Requirement(
                category: category, name: name, selector: try VersionSelector(text.isEmpty ? ">=0" : text),
                location: doc.location(of: item))
        } catch {
            throw Diagnostic(
                at: doc.location(of: item.entry("version")), field: "\(itemPath).version", error.description,
                hint: "use an operator and a version: >=0, <2.0, =1.2.3, or a bare version")
        }
    }

    func scalar(_ n: YAMLNode, _ fieldPath: String) throws(Diagnostic) -> String {
        guard case .scalar(let s) = n, !n.isNull else {
            throw Diagnostic(at: doc.location(of: n), field: fieldPath, "expected a string, found \(describe(n))")
        }
        return s.text
    }

    func describe(_ n: YAMLNode) -> String {
        if case .scalar(let s) = n {
            return n.isNull ? "nothing (null)" : "\"\(s.text)\""
        }
        return n.kindName
    }
}

/// Reads a rendered `build.yaml` into a `BuildSpec`, mapping every error back to the template's line.
enum BuildSpecParser {
    /// The fields luet's compile spec knows; anything else is reported as a warning (likely a typo).
    static let knownFields: Set<String> = [
        "image", "requires", "requires_final_images", "conflicts", "provides", "prelude", "steps", "env",
        "package_dir", "unpack", "includes", "excludes", "retrieve", "copy", "subpackages", "seed", "build_options",
        "network",
    ]

    /// The build spec and the whole rendered document it was read from.
    static func parse(
        _ rendered: RenderedText, file: String, package: PackageID, warnings: inout [Diagnostic]
    ) throws(Diagnostic) -> (BuildSpec, document: Value) {
        let doc = try YAMLDocument(text: rendered.text, file: file) { line in
            // A YAML error at the end of input is reported past the last line: use the last line that has an origin.
            var l = line
            while l > 0 {
                if let origin = rendered.origin(ofOutputLine: l) { return origin }
                l -= 1
            }
            return SourceLocation(file: file, line: 0)
        }
        var spec = BuildSpec()
        // An empty document reads as an empty mapping (as the key has always hashed it).
        guard let root = doc.root, !root.isNull else { return (spec, .map([:])) }
        guard case .mapping = root else {
            throw Diagnostic(
                at: doc.location(of: root), "the rendered build spec of \(package) must be a mapping, found \(root.kindName)")
        }
        for (key, keyNode, _) in root.resolvedEntries() where !knownFields.contains(key) {
            warnings.append(
                Diagnostic(
                    .warning, at: doc.location(of: keyNode), field: key, "unknown build spec field (luet ignores it)",
                    hint: "known fields: \(knownFields.sorted().joined(separator: ", "))"))
        }
        let f = FieldReader(doc: doc, node: root, prefix: nil)
        spec.image = try f.optionalString("image")
        spec.requires = try f.requirements("requires")
        spec.requiresFinalImages = try f.bool("requires_final_images")
        spec.conflicts = try f.requirements("conflicts")
        spec.provides = try f.requirements("provides")
        spec.prelude = try f.strings("prelude")
        spec.steps = try f.strings("steps")
        spec.env = try f.strings("env")
        spec.packageDir = try f.optionalString("package_dir")
        spec.unpack = try f.bool("unpack")
        spec.includes = try f.strings("includes")
        spec.excludes = try f.strings("excludes")
        spec.retrieve = try f.strings("retrieve")
        if let copy = root.entry("copy") {
            guard case .sequence(let items, _) = copy else {
                if copy.isNull { return (spec, try root.value(in: doc)) }
                throw Diagnostic(at: doc.location(of: copy), field: "copy", "expected a list of copy entries, found \(f.describe(copy))")
            }
            for (i, item) in items.enumerated() {
                let path = "copy[\(i)]"
                guard case .mapping = item else {
                    throw Diagnostic(at: doc.location(of: item), field: path, "expected a mapping {package|image, source, destination}")
                }
                let sub = FieldReader(doc: doc, node: item, prefix: path)
                let pkg = try item.entry("package").map { n throws(Diagnostic) in try sub.requirement(n, "\(path).package") }
                let image = try sub.optionalString("image")
                guard (pkg == nil) != (image == nil) else {
                    throw Diagnostic(
                        at: doc.location(of: item), field: path, "a copy entry needs exactly one of `package` or `image`")
                }
                spec.copy.append(
                    CopySpec(
                        package: pkg, image: image, source: try sub.requiredString("source"),
                        destination: try sub.requiredString("destination")))
            }
        }
        return (spec, try root.value(in: doc))
    }
}

extension String {
    /// Left-padded with zeros to `width` characters.
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
