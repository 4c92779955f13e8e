import CosciModel
import CosciYAML

/// An upstream package repository a derivative builds on, in luet's own config shape
/// (`repositories:` of `.luet.yaml`), so users can paste theirs into `cosci.yaml`:
///
/// ```yaml
/// repositories:
/// - name: cos
///   type: docker                  # docker, http or disk
///   urls: [quay.io/costoolkit/releases-green]
///   priority: 1                   # lower wins, as in luet (default 9999)
///   reference: 20220101-repository.yaml   # a snapshot's index instead of repository.yaml
///   enable: true                  # false skips it (as in luet); absent means enabled
/// ```
public struct RepositoryConfig: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case docker, http, disk
    }

    public var name: String
    public var kind: Kind
    /// Where the repository is: registry repositories (`host/path`), base URLs, or directories (relative to
    /// the project root, or absolute). The first that answers is used.
    public var urls: [String]
    /// Lower wins when several repositories hold a matching package (luet's order).
    public var priority: Int
    /// The index file to read instead of `repository.yaml` (a snapshot's `<id>-repository.yaml`).
    public var reference: String?
    public var enabled: Bool
    /// Where the entry is written.
    public var location: SourceLocation

    /// luet's priority when none is given.
    public static let defaultPriority = 9999

    /// The index file read: `reference`, else `repository.yaml`.
    public var indexFile: String { reference ?? "repository.yaml" }

    public init(
        name: String, kind: Kind, urls: [String], priority: Int = RepositoryConfig.defaultPriority, reference: String? = nil,
        enabled: Bool = true, location: SourceLocation
    ) {
        self.name = name
        self.kind = kind
        self.urls = urls
        self.priority = priority
        self.reference = reference
        self.enabled = enabled
        self.location = location
    }

    static let knownKeys: Set<String> = [
        "name", "description", "type", "urls", "priority", "reference", "enable", "cached", "auth", "verify", "arch", "mode",
        "treepath", "metapath",
    ]

    /// Parses `repositories:`; errors name the file, line and field.
    static func parseList(_ node: YAMLNode, doc: YAMLDocument, warnings: inout [Diagnostic]) throws(Diagnostic) -> [RepositoryConfig] {
        guard case .sequence(let items, _) = node else {
            throw Diagnostic(
                at: doc.location(of: node), field: "repositories",
                "expected a list of repositories ({name, type, urls}), found \(node.kindName)",
                hint: "paste the `repositories:` list of your luet config")
        }
        var out: [RepositoryConfig] = []
        var names: Set<String> = []
        for (i, item) in items.enumerated() {
            let field = "repositories[\(i)]"
            guard case .mapping = item else {
                throw Diagnostic(at: doc.location(of: item), field: field, "expected a mapping with name, type and urls, found \(item.kindName)")
            }
            for (key, keyNode, _) in item.resolvedEntries() where !knownKeys.contains(key) {
                warnings.append(
                    Diagnostic(.warning, at: doc.location(of: keyNode), field: "\(field).\(key)", "unknown repository setting (ignored)"))
            }
            let f = FieldReader(doc: doc, node: item, prefix: field)
            let name = try f.requiredString("name")
            guard names.insert(name).inserted else {
                throw Diagnostic(at: doc.location(of: item), field: "\(field).name", "a second repository named \(name)", hint: "give each repository its own name")
            }
            let typeText = try f.requiredString("type")
            guard let kind = Kind(rawValue: typeText) else {
                throw Diagnostic(
                    at: doc.location(of: item.entry("type")), field: "\(field).type", "unknown repository type \"\(typeText)\"",
                    hint: "one of: \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let urls = try f.strings("urls")
            guard !urls.isEmpty else {
                throw Diagnostic(at: doc.location(of: item), field: "\(field).urls", "a repository needs at least one url", hint: "e.g. urls: [quay.io/costoolkit/releases-green]")
            }
            var priority = defaultPriority
            if let text = try f.optionalString("priority") {
                guard let p = Int(text) else {
                    throw Diagnostic(at: doc.location(of: item.entry("priority")), field: "\(field).priority", "expected an integer, found \(text)")
                }
                priority = p
            }
            let enabled = item.entry("enable") == nil ? true : try f.bool("enable")
            out.append(
                RepositoryConfig(
                    name: name, kind: kind, urls: urls, priority: priority, reference: try f.optionalString("reference"), enabled: enabled,
                    location: doc.location(of: item)))
        }
        return out
    }
}
