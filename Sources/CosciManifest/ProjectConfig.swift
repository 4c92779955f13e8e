import CosciModel
import CosciYAML

/// The project configuration, `cosci.yaml` in the project root. Every field is optional; with no file at
/// all, the tree is the project root and nothing else is set.
///
/// ```yaml
/// tree: packages            # where package definitions are searched (relative to this file); a list of
///                           # directories loads them all into one tree, as luet's repeated --tree
/// values: [values/common.yaml]
/// flavors:
///   green: {values: [values/green.yaml]}
/// flavor: green             # the default flavor
/// platform: linux/amd64
/// platforms: [linux/amd64, linux/arm64]   # all platforms built; `platform` (else the first) is the default
/// cache: .cosci/cache
/// output: dist
/// images: images
/// channels: channels
/// environment: [CHANNEL]    # variables templates may read with env/expandenv; their values are inputs of the render
/// repositories:             # upstream repositories, as in luet's config (`RepositoryConfig`)
/// - {name: cos, type: docker, urls: [quay.io/costoolkit/releases-green], priority: 1}
/// ```
public struct ProjectConfig: Sendable, Hashable {
    /// The package trees, relative to the project root, in the order written (`tree:`, one or a list).
    public var trees = ["."]
    public var values: [String] = []
    public var flavors: [String: [String]] = [:]
    public var flavor: String?
    public var platform: String?
    /// Every platform the project builds for (`cosci plan --flavor all` plans each); the first is the default.
    public var platforms: [String] = []
    public var cache: String?
    public var output: String?
    public var images: String?
    public var channels: String?
    /// Environment variables templates may read (`env`, `expandenv`); reading any other is an error.
    public var environment: [String] = []
    /// Upstream package repositories (`RepositoryConfig`), in the order written.
    public var repositories: [RepositoryConfig] = []

    /// The repositories resolution searches: the enabled ones, in the order written.
    public var enabledRepositories: [RepositoryConfig] { repositories.filter(\.enabled) }

    /// The names of the repositories searched, for messages; nil when none is configured (the hint then says
    /// how to add one).
    public var searchedRepositories: [String]? {
        let names = enabledRepositories.map(\.name)
        return names.isEmpty ? nil : names
    }

    /// The file name looked for in the project root.
    public static let fileName = "cosci.yaml"
    static let knownKeys: Set<String> = [
        "tree", "values", "flavors", "flavor", "platform", "platforms", "cache", "output", "images", "channels",
        "environment", "repositories",
    ]

    public init() {}

    /// `tree:` as one directory or a list of them: each relative to the project root, none inside another (a
    /// file must belong to one tree).
    static func parseTrees(_ f: FieldReader, node: YAMLNode?, doc: YAMLDocument) throws(Diagnostic) -> [String] {
        guard let node, !node.isNull else { return ["."] }
        var items = [node]
        var isList = false
        if case .sequence(let seq, _) = node { (items, isList) = (seq, true) }
        let listed = isList ? try f.strings("tree") : [try f.requiredString("tree")]
        guard !listed.isEmpty else {
            throw Diagnostic(
                at: doc.location(of: node), field: "tree", "an empty list of trees",
                hint: "name at least one directory, or leave `tree:` out for the project root")
        }
        var prefixes: [String] = []
        for (i, tree) in listed.enumerated() {
            let field = isList ? "tree[\(i)]" : "tree"
            let at = doc.location(of: items[i])
            if tree.hasPrefix("/") || tree.split(separator: "/").contains("..") {
                throw Diagnostic(
                    at: at, field: field, "\"\(tree)\" is outside the project",
                    hint: "trees are directories inside the project root, given relative to cosci.yaml")
            }
            let prefix = TreePaths.prefix(tree)
            if let other = prefixes.firstIndex(where: { prefix.hasPrefix($0) || $0.hasPrefix(prefix) }) {
                throw Diagnostic(
                    at: at, field: field,
                    "\"\(tree)\" overlaps \"\(listed[other])\": every file must belong to one tree",
                    hint: "list directories side by side (e.g. packages and overlay), not one inside another")
            }
            prefixes.append(prefix)
        }
        return listed
    }

    /// Parses a `cosci.yaml`; `file` is the name used in diagnostics. Unknown keys are warnings.
    public static func parse(_ text: String, file: String) throws(Diagnostic) -> (ProjectConfig, [Diagnostic]) {
        var config = ProjectConfig()
        var warnings: [Diagnostic] = []
        let doc = try YAMLDocument(text: text, file: file)
        guard let root = doc.root else { return (config, []) }
        if root.isNull { return (config, []) }
        guard case .mapping = root else {
            throw Diagnostic(at: doc.location(of: root), "cosci.yaml must be a mapping, found \(root.kindName)")
        }
        for (key, keyNode, _) in root.resolvedEntries() where !knownKeys.contains(key) {
            warnings.append(
                Diagnostic(
                    .warning, at: doc.location(of: keyNode), field: key, "unknown setting (ignored)",
                    hint: "known settings: \(knownKeys.sorted().joined(separator: ", "))"))
        }
        let f = FieldReader(doc: doc, node: root, prefix: nil)
        config.trees = try parseTrees(f, node: root.entry("tree"), doc: doc)
        config.values = try f.strings("values")
        config.flavor = try f.optionalString("flavor")
        config.platform = try f.optionalString("platform")
        if let p = config.platform {
            do { _ = try Platform(parsing: p) } catch {
                throw Diagnostic(at: doc.location(of: root.entry("platform")), field: "platform", error.description)
            }
        }
        config.platforms = try f.strings("platforms")
        for (i, p) in config.platforms.enumerated() {
            do { _ = try Platform(parsing: p) } catch {
                throw Diagnostic(at: doc.location(of: root.entry("platforms")), field: "platforms[\(i)]", error.description)
            }
        }
        config.cache = try f.optionalString("cache")
        config.output = try f.optionalString("output")
        config.images = try f.optionalString("images")
        config.channels = try f.optionalString("channels")
        if let node = root.entry("repositories"), !node.isNull {
            config.repositories = try RepositoryConfig.parseList(node, doc: doc, warnings: &warnings)
        }
        config.environment = try f.strings("environment")
        for (i, name) in config.environment.enumerated() {
            let valid = !name.isEmpty && name.first.map { !$0.isNumber } == true
                && name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
            guard valid else {
                throw Diagnostic(
                    at: doc.location(of: root.entry("environment")), field: "environment[\(i)]",
                    "\"\(name)\" is not an environment variable name", hint: "use letters, digits and _, e.g. CHANNEL")
            }
        }
        if let flavors = root.entry("flavors") {
            guard case .mapping = flavors else {
                throw Diagnostic(
                    at: doc.location(of: flavors), field: "flavors",
                    "expected a mapping of flavor names to {values: [...]}, found \(flavors.kindName)")
            }
            for (name, _, body) in flavors.resolvedEntries() {
                guard case .mapping = body else {
                    throw Diagnostic(
                        at: doc.location(of: body), field: "flavors.\(name)", "expected a mapping with `values:`")
                }
                config.flavors[name] = try FieldReader(doc: doc, node: body, prefix: "flavors.\(name)").strings("values")
            }
        }
        if let flavor = config.flavor, config.flavors[flavor] == nil {
            throw Diagnostic(
                at: doc.location(of: root.entry("flavor")), field: "flavor", "flavor \"\(flavor)\" is not defined under `flavors:`",
                hint: config.flavors.isEmpty ? "define it under `flavors:`" : "defined flavors: \(config.flavors.keys.sorted().joined(separator: ", "))")
        }
        return (config, warnings)
    }
}
