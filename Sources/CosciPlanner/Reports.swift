import CosciModel

/// Schema identifiers of the JSON documents cosci prints. A consumer checks `schema` before reading;
/// any incompatible change to a document's shape gets a new version.
public enum Schema {
    /// `cosci list --json`: `{schema, platform, packages: [{id, key, path, deps}]}`.
    public static let list = "cosci.list/v1"
    /// `cosci graph --format json`: `{schema, platform, nodes: [{id, key, path}], edges: [{from, to, kind}]}`.
    public static let graph = "cosci.graph/v1"
    /// `cosci explain --json`: `{schema, packages: [{id, key, scheme, fields…, dependencies: [...]}]}`.
    public static let explain = "cosci.explain/v1"
    /// `cosci check --json`: `{schema, packages, errors, warnings, diagnostics: [...]}`.
    public static let check = "cosci.check/v1"
}

/// Builds the documents of the inspection commands from a graph and its keys. Pure: values in, values out.
public struct TreeReports: Sendable {
    public let graph: BuildGraph
    public let keys: [PackageID: CacheKeyComponents]
    public let platform: Platform

    public init(graph: BuildGraph, keys: [PackageID: CacheKeyComponents], platform: Platform) {
        self.graph = graph
        self.keys = keys
        self.platform = platform
    }

    /// Keyed packages, sorted by id.
    public var ids: [PackageID] { graph.order.sorted() }

    /// The `cosci list` document.
    public func list() -> Value {
        let packages: [Value] = ids.compactMap { id in
            guard let spec = graph.packages[id], let key = keys[id] else { return nil }
            var entry: [String: Value] = [
                "id": .string(id.description),
                "key": .string(key.key.description),
                "path": .string(spec.path),
                "deps": .list(graph.dependencies(of: id).map { .string($0.description) }),
            ]
            // Only derivatives have upstream dependencies; other trees' documents stay as they were.
            let upstream = graph.upstreamDependencies(of: id)
            if !upstream.isEmpty { entry["upstream_deps"] = .list(upstream.map { .string($0.id.description) }) }
            return .map(entry)
        }
        var document: [String: Value] = [
            "schema": .string(Schema.list), "platform": .string(platform.description), "packages": .list(packages),
        ]
        if !graph.upstream.isEmpty {
            document["upstream"] = .list(graph.upstream.values.sorted { $0.id < $1.id }.map(TreeReports.upstreamEntry))
        }
        return .map(document)
    }

    /// An upstream package as the reports show it: where it comes from and what identifies it.
    static func upstreamEntry(_ u: UpstreamPackage) -> Value {
        .map([
            "id": .string(u.id.description), "repository": .string(u.repository), "revision": .int(u.revision),
            "sha256": .string(u.sha256.description), "path": .string(u.path),
        ])
    }

    /// `cosci list` as an aligned table: id, short key, path, dependency count.
    public func listTable() -> String {
        var rows: [[String]] = [["PACKAGE", "KEY", "PATH", "DEPS"]]
        for id in ids {
            guard let spec = graph.packages[id], let key = keys[id] else { continue }
            let upstream = graph.upstreamDependencies(of: id).count
            let deps = String(graph.dependencies(of: id).count) + (upstream > 0 ? " + \(upstream) upstream" : "")
            rows.append([id.description, String(key.key.hex.prefix(12)), spec.path, deps])
        }
        var text = TextTable.render(rows)
        if !graph.upstream.isEmpty {
            var used: [[String]] = [["FROM REPOSITORIES", "REPOSITORY", "REVISION", "SHA256"]]
            for u in graph.upstream.values.sorted(by: { $0.id < $1.id }) {
                used.append([u.id.description, u.repository, String(u.revision), String(u.sha256.hex.prefix(12))])
            }
            text += "\n" + TextTable.render(used)
        }
        return text
    }

    /// Edges from each package to its build dependencies, with how each came about.
    func edges() -> [(from: PackageID, to: PackageID, kind: String)] {
        var out: [(PackageID, PackageID, String)] = []
        for id in ids {
            var seen = Set<PackageID>()
            for r in graph.resolutions[id] ?? [] where seen.insert(r.chosen).inserted {
                out.append((id, r.chosen, TreeReports.kindName(r.kind)))
            }
        }
        return out.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
    }

    static func kindName(_ kind: DependencyKind) -> String {
        switch kind {
        case .requires: return "requires"
        case .copy: return "copy"
        case .finalImage: return "final-image"
        }
    }

    /// The `cosci graph --format json` document.
    public func graphDocument() -> Value {
        let nodes: [Value] = ids.compactMap { id in
            guard let spec = graph.packages[id], let key = keys[id] else { return nil }
            return .map(["id": .string(id.description), "key": .string(key.key.description), "path": .string(spec.path)])
        }
        let edges: [Value] = edges().map {
            .map(["from": .string($0.from.description), "to": .string($0.to.description), "kind": .string($0.kind)])
        }
        return .map([
            "schema": .string(Schema.graph), "platform": .string(platform.description), "nodes": .list(nodes),
            "edges": .list(edges),
        ])
    }

    /// The build graph in Graphviz dot: an edge points from a package to what it needs.
    public func graphDot() -> String {
        var out = "digraph cosci {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n"
        for id in ids {
            out += "  \(DotText.quote(id.description));\n"
        }
        for e in edges() {
            let style = e.kind == "requires" ? "" : " [style=dashed, label=\(DotText.quote(e.kind))]"
            out += "  \(DotText.quote(e.from.description)) -> \(DotText.quote(e.to.description))\(style);\n"
        }
        return out + "}\n"
    }

    /// The `cosci explain` document for the given packages.
    public func explain(_ selected: [PackageID]) -> Value {
        .map(["schema": .string(Schema.explain), "packages": .list(selected.compactMap(explainEntry))])
    }

    func explainEntry(_ id: PackageID) -> Value? {
        guard let spec = graph.packages[id], let k = keys[id] else { return nil }
        let deps: [Value] = (graph.resolutions[id] ?? []).map { r in
            var m: [String: Value] = [
                "requirement": .string(r.requirement.description),
                "kind": .string(TreeReports.kindName(r.kind)),
                "chosen": .string(r.chosen.description),
                "reason": .string(r.reason),
                "candidates": .list(r.candidates.map { .string($0.description) }),
            ]
            if let key = keys[r.chosen] { m["key"] = .string(key.key.description) }
            if let loc = r.requirement.location { m["at"] = .string(loc.description) }
            if case .finalImage(let via) = r.kind { m["via"] = .string(via.description) }
            return .map(m)
        }
        return .map([
            "id": .string(id.description),
            "key": .string(k.key.description),
            "scheme": .string(CacheKeyComponents.scheme),
            "path": .string(spec.path),
            "definedAt": .string(spec.definedAt.description),
            "platform": .string(k.platform.description),
            "spec": .map(["digest": .string(k.specDigest.description), "json": spec.specJSON.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null]),
            "stanza": .map(["digest": .string(k.stanzaDigest.description), "json": spec.stanzaJSON.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null]),
            "content": .map([
                "digest": .string(k.contentDigest.description),
                "files": .list(
                    spec.content.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }.map {
                        .map(["path": .string($0.path), "mode": .string(String($0.mode, radix: 8)), "blob": .string($0.blobID)])
                    }),
            ]),
            "image": .string(k.image),
            "dependencyKeys": .list(k.dependencyKeys.map { .map(["id": .string($0.id.description), "key": .string($0.key.description)]) }),
            "dependencies": .list(deps),
        ])
    }

    /// `cosci explain` as text: each field and sub-hash of the key, then each dependency and why it was chosen.
    public func explainText(_ selected: [PackageID]) -> String {
        var out = ""
        for id in selected {
            guard let spec = graph.packages[id], let k = keys[id] else { continue }
            out += "\(id)\n"
            out += "  key       \(k.key)   (\(CacheKeyComponents.scheme): framed SHA-256 of the fields below)\n"
            out += "  platform  \(k.platform)\n"
            out += "  spec      \(k.specDigest)   rendered \(spec.buildFile), canonical JSON\(spec.specJSON.map { ", \($0.count) bytes" } ?? "")\n"
            out += "  stanza    \(k.stanzaDigest)   \(spec.definedAt)\n"
            out += "  content   \(k.contentDigest)   \(spec.content.count) file(s) in \(spec.path)\n"
            for e in spec.content.sorted(by: { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }) {
                out += "              \(String(e.mode, radix: 8)) \(e.blobID)  \(e.path)\n"
            }
            out += "  image     \(k.image.isEmpty ? "(none)" : k.image)\n"
            out += "  deps      \(k.dependencyKeys.count)\n"
            for d in k.dependencyKeys {
                out += "              \(d.key)  \(d.id)\n"
            }
            let resolutions = graph.resolutions[id] ?? []
            if !resolutions.isEmpty {
                out += "  chosen because\n"
                for r in resolutions {
                    let via: String
                    if case .finalImage(let from) = r.kind { via = " (runtime dependency of \(from), requires_final_images)" } else { via = "" }
                    let at = r.requirement.location.map { "  [\($0)]" } ?? ""
                    out += "    \(TreeReports.kindName(r.kind)) \(r.requirement) → \(r.chosen): \(r.reason)\(via)\(at)\n"
                }
            }
        }
        return out
    }

    /// The `cosci check` document.
    public static func check(packages: Int, diagnostics: [Diagnostic]) -> Value {
        let list: [Value] = diagnostics.map { d in
            var m: [String: Value] = ["severity": .string(d.severity.rawValue), "message": .string(d.message)]
            if let loc = d.location {
                m["file"] = .string(loc.file)
                if loc.line > 0 { m["line"] = .int(loc.line) }
            }
            if let f = d.field { m["field"] = .string(f) }
            if let h = d.hint { m["hint"] = .string(h) }
            return .map(m)
        }
        return .map([
            "schema": .string(Schema.check),
            "packages": .int(packages),
            "errors": .int(diagnostics.filter { $0.severity == .error }.count),
            "warnings": .int(diagnostics.filter { $0.severity == .warning }.count),
            "diagnostics": .list(list),
        ])
    }

    /// `cosci check` as GitHub Actions workflow commands: one `::error`/`::warning` annotation per diagnostic,
    /// its file given from the repository root (`prefix` is the project's directory there, "" or `manifest/`).
    public static func githubAnnotations(_ diagnostics: [Diagnostic], prefix: String) -> String {
        let property = GitHubCommand.property, data = GitHubCommand.data
        var out = ""
        for d in diagnostics {
            var properties: [String] = []
            if let loc = d.location, !loc.file.isEmpty {
                properties.append("file=" + property(loc.file.hasPrefix("/") ? loc.file : prefix + loc.file))
                if loc.line > 0 { properties.append("line=\(loc.line)") }
            }
            properties.append("title=" + property("cosci check" + (d.field.map { ": \($0)" } ?? "")))
            let text = d.message + (d.hint.map { "\n" + $0 } ?? "")
            out += "::\(d.severity == .error ? "error" : "warning") \(properties.joined(separator: ","))::\(data(text))\n"
        }
        return out
    }

    /// `cosci check` as a GitLab code quality report (a JSON array of issues, paths from the repository root),
    /// for `artifacts: reports: codequality:`.
    public static func codeQuality(_ diagnostics: [Diagnostic], prefix: String) -> Value {
        .list(
            diagnostics.map { d in
                let path = d.location.map { $0.file.hasPrefix("/") ? $0.file : prefix + $0.file } ?? prefix + "cosci.yaml"
                let line = Swift.max(1, d.location?.line ?? 1)
                let description = d.message + (d.hint.map { " (\($0))" } ?? "")
                return .map([
                    "description": .string(description),
                    "check_name": .string("cosci/" + (d.field ?? d.kind.rawValue)),
                    "fingerprint": .string(Digest.sha256(of: Array("\(path):\(line):\(d.field ?? ""):\(d.message)".utf8)).hex),
                    "severity": .string(d.severity == .error ? "major" : "minor"),
                    "location": .map(["path": .string(path), "lines": .map(["begin": .int(line)])]),
                ])
            })
    }
}

/// Left-aligned columns separated by two spaces.
/// Escaping for GitHub Actions workflow commands (`::error file=…,title=…::message`).
public enum GitHubCommand {
    /// A command's message: `%`, CR and LF escaped.
    public static func data(_ s: String) -> String {
        s.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "\r", with: "%0D").replacingOccurrences(of: "\n", with: "%0A")
    }

    /// A property value: as `data`, and `:` and `,` too.
    public static func property(_ s: String) -> String {
        data(s).replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(of: ",", with: "%2C")
    }
}

public enum TextTable {
    public static func render(_ rows: [[String]]) -> String {
        let widths = (0..<(rows.map(\.count).max() ?? 0)).map { col in rows.map { col < $0.count ? $0[col].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}

enum DotText {
    static func quote(_ s: String) -> String {
        var out = "\""
        for c in s {
            if c == "\"" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out + "\""
    }
}

extension String {
    func padding(toLength n: Int, withPad pad: String, startingAt _: Int) -> String {
        count >= n ? self : self + String(repeating: pad, count: n - count)
    }
}
