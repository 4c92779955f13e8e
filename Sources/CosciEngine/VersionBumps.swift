import CosciManifest
import CosciModel
import CosciPlanner
import Foundation

/// One version raised in a definition file.
public struct VersionBump: Sendable {
    public let id: PackageID
    public let newVersion: String
    /// The file edited, relative to the project root.
    public let file: String
}

/// `cosci bump` and the version check of `cosci check --base`.
public enum VersionBumps {
    /// Raises the revision of the named packages (and with `revdeps`, of every package whose key the change
    /// alters: their dependents, transitively), editing definition files in place.
    public static func bump(_ project: Project, references: [String], revdeps: Bool) throws(Diagnostic) -> [VersionBump] {
        let analysis = Analysis.run(project, useMemo: false)
        if analysis.hasErrors {
            throw Diagnostic(at: nil, "the tree has errors; `cosci check` lists them", hint: "fix them before bumping")
        }
        var targets = Set<PackageID>()
        for r in references { targets.formUnion(try analysis.packages(matching: r)) }
        if revdeps {
            let dependents = analysis.graph.dependents()
            var stack = Array(targets)
            while let id = stack.popLast() {
                for d in dependents[id] ?? [] where targets.insert(d).inserted { stack.append(d) }
            }
        }
        // Group by file, edit each file once, then write them all (each atomically).
        var byFile: [String: [PackageSpec]] = [:]
        for id in targets {
            guard let spec = analysis.graph.packages[id] else { continue }
            byFile[spec.definedAt.file, default: []].append(spec)
        }
        var edits: [(file: String, text: String)] = []
        var bumps: [VersionBump] = []
        for (file, specs) in byFile.sorted(by: { $0.key < $1.key }) {
            let path = project.root + "/" + file
            var text = String(decoding: try ManifestFiles.read(path), as: UTF8.self)
            for spec in specs.sorted(by: { $0.id < $1.id }) {
                let next = VersionEditor.bumped(spec.id.version)
                do {
                    text = try VersionEditor.setVersion(of: spec.id, to: next, in: text, file: file)
                } catch {
                    throw Diagnostic(at: spec.definedAt, field: "version", error.message)
                }
                bumps.append(VersionBump(id: spec.id, newVersion: next, file: file))
            }
            edits.append((path, text))
        }
        // A requirement that selects a bumped version and would not select the new one (an exact pin): the
        // tree would no longer resolve. Refuse before writing anything, naming where it is written.
        var broken: [String] = []
        let bumped = Dictionary(uniqueKeysWithValues: bumps.map { ($0.id, $0.newVersion) })
        for spec in analysis.graph.packages.values.sorted(by: { $0.id < $1.id }) {
            let requirements = spec.runtimeRequires + spec.build.requires + spec.build.copy.compactMap(\.package)
            for r in requirements {
                for (id, next) in bumped where id.category == r.category && id.name == r.name && r.selector.matches(id.version) {
                    guard let version = try? Version(next), !r.selector.matches(version) else { continue }
                    broken.append("\(spec.id) requires \(r)\(r.location.map { " (\($0))" } ?? ""), which \(id.family) \(next) would not satisfy")
                }
            }
        }
        if !broken.isEmpty {
            throw Diagnostic(
                at: nil, "bumping would break the tree: " + broken.sorted().prefix(5).joined(separator: "; ") + (broken.count > 5 ? "; …" : ""),
                hint: "widen those selectors (e.g. >=VERSION) or bump the packages together with them by hand; nothing was written",
                kind: .tree)
        }
        for (path, text) in edits {
            let temp = path + ".cosci-tmp"
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: temp))
                guard rename(temp, path) == 0 else { throw CocoaError(.fileWriteUnknown) }
            } catch {
                try? FileManager.default.removeItem(atPath: temp)
                throw Diagnostic(at: SourceLocation(file: path, line: 0), "cannot write: \(error)")
            }
        }
        return bumps.sorted { $0.id < $1.id }
    }

    /// Packages whose key changed since `base` while their version did not: cOS shipped such changes
    /// silently, because a published version is never rebuilt. The head side is the work tree.
    public static func unbumped(_ project: Project, base: String) throws(Diagnostic) -> [Diagnostic] {
        let (report, graph, _) = try ChangeDetection.affectedWithTree(project, AffectedOptions(base: base, dirty: true))
        return report.set.affected.filter { !$0.isNew }.compactMap { a -> Diagnostic? in
            let cause = a.reasons.first ?? "its cache key changed"
            return Diagnostic(
                at: graph.packages[a.id]?.definedAt, field: "version",
                "\(a.id): its cache key changed since \(base) but its version did not (\(cause))",
                hint: "raise it: cosci bump \(a.id.family) (with --revdeps for its dependents)")
        }
    }
}
