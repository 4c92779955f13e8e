import CosciModel
import CosciTemplate
import CosciYAML

/// Raises package versions in definition files by editing text in place: only the version's own characters
/// change (or one line is added), so comments, key order, quoting and YAML anchors stay as they were.
public enum VersionEditor {
    /// The next revision: `1.2.3-4` → `1.2.3-5`, `0.32.0+2` → `0.32.0+3`, `1.2.3` → `1.2.3-1`; an epoch is kept.
    public static func bumped(_ version: Version) -> String {
        let text = version.text
        if let dash = text.lastIndex(of: "-"), let n = Int(text[text.index(after: dash)...]) {
            return String(text[..<dash]) + "-" + String(n + 1)
        }
        if let plus = text.lastIndex(of: "+"), let n = Int(text[text.index(after: plus)...]) {
            return String(text[..<plus]) + "+" + String(n + 1)
        }
        return text + "-1"
    }

    /// Why an edit could not be made.
    public struct EditError: Error, Sendable, CustomStringConvertible {
        public let file: String
        public let message: String
        public var description: String { "\(file): \(message)" }
    }

    /// Sets the version of the package `id` in `text` (a definition.yaml or collection.yaml) to `newVersion`.
    /// The stanza's own `version:` value is rewritten where it stands; a stanza that inherits its version
    /// through a merge key (`<<: *base`) gets its own `version:` line after the merge key, leaving the anchor
    /// (and the other stanzas that use it) untouched. The result is parsed again to check the edit.
    public static func setVersion(of id: PackageID, to newVersion: String, in text: String, file: String) throws(EditError)
        -> String
    {
        let root: YAMLNode?
        do { root = try YAMLNode.compose(text) } catch {
            throw EditError(file: file, message: "cannot parse: \(error)")
        }
        guard let root, let stanza = findStanza(id, in: root) else {
            throw EditError(file: file, message: "no stanza for \(id)")
        }
        // Siblings that inherit this stanza's version through an anchor would change with it: pin them to their
        // current version first (bottom-up, so earlier line numbers stay valid), then edit the pinned text.
        if ownEntry("version", of: stanza) != nil {
            let pins = inheritingSiblings(of: id, in: root)
            if !pins.isEmpty {
                var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                for (merge, version) in pins.sorted(by: { $0.merge.line > $1.merge.line }) {
                    lines.insert("\(String(repeating: " ", count: max(0, merge.column - 1)))version: \"\(version)\"", at: merge.line)
                }
                return try setVersion(of: id, to: newVersion, in: lines.joined(separator: "\n"), file: file)
            }
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if let own = ownEntry("version", of: stanza), case .scalar(let value) = own.value, case .scalar(let key) = own.key {
            // Rewrite the scalar in place, keeping its quoting.
            let i = value.line - 1
            guard i < lines.count else { throw EditError(file: file, message: "version line out of range") }
            let line = lines[i]
            let quote: String
            switch value.style {
            case .doubleQuoted: quote = "\""
            case .singleQuoted: quote = "'"
            default: quote = ""
            }
            let needle = quote + value.text + quote
            let startColumn = key.line == value.line ? key.column : 1
            let prefix = String(line.prefix(max(0, startColumn - 1)))
            let rest = String(line.dropFirst(max(0, startColumn - 1)))
            guard let r = rest.range(of: needle) else {
                throw EditError(file: file, message: "cannot find \(needle) on line \(value.line)")
            }
            lines[i] = prefix + rest.replacingCharacters(in: r, with: quote + newVersion + quote)
        } else if let merge = mergeKey(of: stanza) {
            // Inherited: add the stanza's own version after its merge key, at the same indentation.
            let indent = String(repeating: " ", count: max(0, merge.column - 1))
            lines.insert("\(indent)version: \"\(newVersion)\"", at: merge.line)
        } else {
            throw EditError(file: file, message: "\(id) has no version field to change")
        }
        let edited = lines.joined(separator: "\n")
        // Check: the stanza now carries the new version, and nothing else changed identity.
        guard let reparsed = try? YAMLNode.compose(edited),
            let newID = try? PackageID(
                category: id.category, name: id.name, version: Version(newVersion)),
            findStanza(newID, in: reparsed) != nil
        else {
            throw EditError(file: file, message: "the edited file does not define \(id.family)@\(newVersion); left unchanged")
        }
        return edited
    }

    /// The stanza defining `id`: the root mapping, or an entry of `packages:`.
    static func findStanza(_ id: PackageID, in root: YAMLNode) -> YAMLNode? {
        let candidates: [YAMLNode]
        if let packages = root.entry("packages"), case .sequence(let items, _) = packages {
            candidates = items
        } else {
            candidates = [root]
        }
        return candidates.first { node in
            node.entry("name")?.scalarText == id.name && node.entry("category")?.scalarText == id.category
                && node.entry("version")?.scalarText.flatMap { try? Version($0) }.map { $0.text == id.version.text } == true
        }
    }

    /// Stanzas of a collection, other than `id`'s, that take their version from a merge key and whose version
    /// would follow `id`'s: their merge key and current version.
    static func inheritingSiblings(of id: PackageID, in root: YAMLNode) -> [(merge: YAMLNode.Scalar, version: String)] {
        guard let packages = root.entry("packages"), case .sequence(let items, _) = packages else { return [] }
        return items.compactMap { node -> (YAMLNode.Scalar, String)? in
            guard ownEntry("version", of: node) == nil, let merge = mergeKey(of: node),
                let version = node.entry("version")?.scalarText, version == id.version.text,
                !(node.entry("name")?.scalarText == id.name && node.entry("category")?.scalarText == id.category)
            else { return nil }
            return (merge, version)
        }
    }

    static func ownEntry(_ key: String, of mapping: YAMLNode) -> YAMLNode.Pair? {
        guard case .mapping(let pairs, _) = mapping else { return nil }
        return pairs.first { if case .scalar(let k) = $0.key { k.text == key && !k.isMergeKey } else { false } }
    }

    static func mergeKey(of mapping: YAMLNode) -> YAMLNode.Scalar? {
        guard case .mapping(let pairs, _) = mapping else { return nil }
        for pair in pairs { if case .scalar(let k) = pair.key, k.isMergeKey { return k } }
        return nil
    }
}
