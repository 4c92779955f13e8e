#if canImport(Glibc)
    import Glibc
#endif
import CosciModel
import CosciTemplate
import Dispatch

/// What to load: where the tree is and which values files apply.
public struct LoadOptions: Sendable {
    /// The project root: every path cosci prints is relative to it (so output does not depend on where
    /// the checkout lives).
    public var projectRoot: String
    /// The package tree, relative to the project root (`.` for the root itself).
    public var tree: String
    /// Values files, relative to the project root (or absolute), applied in order: later files win.
    public var valuesFiles: [String]
    /// How many threads read and render packages.
    public var jobs: Int

    public init(projectRoot: String, tree: String = ".", valuesFiles: [String] = [], jobs: Int = 0) {
        self.projectRoot = projectRoot
        self.tree = tree
        self.valuesFiles = valuesFiles
        self.jobs = jobs
    }
}

/// The result of loading a tree: every package that loaded, and every problem found (not just the first).
public struct LoadedTree: Sendable {
    /// Packages sorted by id.
    public let packages: [PackageSpec]
    /// Problems, sorted by location.
    public let diagnostics: [Diagnostic]
    /// The shared template files, relative to the project root, in the order they are prepended.
    public let templateFiles: [String]

    /// Whether any diagnostic is an error.
    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }
}

/// Loads a luet package tree: walks it, parses every `definition.yaml`/`collection.yaml`, renders every
/// `build.yaml` with `.Values` = the stanza merged with the values files (values files win) and the shared
/// templates, parses the rendered spec, and digests each package directory.
public enum TreeLoader {
    /// Loads the tree. Never throws: problems are diagnostics, and packages with problems are left out.
    public static func load(_ options: LoadOptions) -> LoadedTree {
        var diagnostics: [Diagnostic] = []
        let treePrefix = normalizedPrefix(options.tree)
        let fsTree: FileSystemTree
        do {
            fsTree = try FileSystemTree(root: join(options.projectRoot, options.tree))
        } catch {
            return LoadedTree(packages: [], diagnostics: [error], templateFiles: [])
        }

        // Values files: merged in order, later files win.
        var values = Value.map([:])
        for file in options.valuesFiles {
            do {
                let bytes = try FileSystemTree.read(join(options.projectRoot, file))
                let doc = try YAMLDocument(text: String(decoding: bytes, as: UTF8.self), file: file)
                guard let root = doc.root else { continue }
                guard case .mapping = root else {
                    diagnostics.append(
                        Diagnostic(
                            at: doc.location(of: root), "a values file must be a mapping, found \(root.kindName)"))
                    continue
                }
                values = values.merging(try root.value(in: doc))
            } catch {
                diagnostics.append(relabel(error, file: file))
            }
        }

        // Shared templates, parsed once.
        var shared: [ParsedTemplate] = []
        let templateFiles = fsTree.templateFiles.map { treePrefix + $0 }
        for (rel, shown) in zip(fsTree.templateFiles, templateFiles) {
            do {
                let bytes = try FileSystemTree.read(fsTree.absolute(rel))
                shared.append(try ParsedTemplate.parse(String(decoding: bytes, as: UTF8.self), file: shown))
            } catch let error as TemplateError {
                diagnostics.append(Diagnostic(at: SourceLocation(file: error.file, line: error.line), "template: \(error.message)"))
            } catch let error as Diagnostic {
                diagnostics.append(error)
            } catch {
                diagnostics.append(Diagnostic(at: SourceLocation(file: shown, line: 0), "\(error)"))
            }
        }
        let templates: TemplateSet
        do {
            templates = try TemplateSet(shared: shared)
        } catch {
            diagnostics.append(Diagnostic(at: SourceLocation(file: error.file, line: error.line), "template: \(error.message)"))
            templates = .empty
        }

        // Package directories, in parallel; each slot is written by exactly one iteration.
        let dirs = fsTree.packageDirectories
        let results = Slots<DirectoryResult>(count: dirs.count)
        let context = DirectoryContext(tree: fsTree, prefix: treePrefix, values: values, templates: templates)
        let workers = options.jobs > 0 ? options.jobs : ProcessorCount.online
        if workers <= 1 || dirs.count < 8 {
            for i in dirs.indices { results[i] = loadDirectory(dirs[i], context) }
        } else {
            let stride = max(1, dirs.count / (workers * 8))
            let chunks = (dirs.count + stride - 1) / stride
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                for i in (chunk * stride)..<min(dirs.count, (chunk + 1) * stride) {
                    results[i] = loadDirectory(dirs[i], context)
                }
            }
        }

        // Gather, and reject duplicate identities (luet silently keeps the first; we say so).
        var packages: [PackageSpec] = []
        var seen: [PackageID: SourceLocation] = [:]
        for result in results.values {
            guard let result else { continue }
            diagnostics.append(contentsOf: result.diagnostics)
            for pkg in result.packages {
                if let first = seen[pkg.id] {
                    diagnostics.append(
                        Diagnostic(
                            at: pkg.definedAt, "duplicate package \(pkg.id): already defined at \(first)",
                            hint: "rename it, change its version, or remove one of the two definitions"))
                } else {
                    seen[pkg.id] = pkg.definedAt
                    packages.append(pkg)
                }
            }
        }
        packages.sort { $0.id < $1.id }
        return LoadedTree(packages: packages, diagnostics: diagnostics.sorted(), templateFiles: templateFiles)
    }

    struct DirectoryContext: Sendable {
        let tree: FileSystemTree
        let prefix: String
        let values: Value
        let templates: TemplateSet
    }

    struct DirectoryResult: Sendable {
        var packages: [PackageSpec] = []
        var diagnostics: [Diagnostic] = []
    }

    /// Loads one package directory: its definition or collection, its build spec for each stanza, its content.
    static func loadDirectory(_ dir: FileSystemTree.PackageDirectory, _ ctx: DirectoryContext) -> DirectoryResult {
        var result = DirectoryResult()
        let shownDir = ctx.prefix + dir.relativePath
        let shown = { (name: String) in shownDir.isEmpty ? name : shownDir + "/" + name }
        let defName = dir.hasCollection ? "collection.yaml" : "definition.yaml"
        if dir.hasCollection && dir.hasDefinition {
            result.diagnostics.append(
                Diagnostic(
                    at: SourceLocation(file: shown("collection.yaml"), line: 0),
                    "the directory holds both definition.yaml and collection.yaml",
                    hint: "keep one: a collection's stanzas can hold the single definition"))
            return result
        }

        // Content: every owned file except collection.yaml, with git's blob id.
        var content: [ContentEntry] = []
        var definitionBytes: [UInt8]?
        var buildBytes: [UInt8]?
        for file in dir.files {
            let rel = dir.relativePath.isEmpty ? file.path : dir.relativePath + "/" + file.path
            do {
                let bytes = try FileSystemTree.read(ctx.tree.absolute(rel), kind: file.kind)
                if file.path == defName { definitionBytes = bytes }
                if file.path == "build.yaml" { buildBytes = bytes }
                if file.path == "collection.yaml" { continue }
                content.append(ContentEntry(path: file.path, mode: file.kind.gitMode, blobID: FileSystemTree.blobID(of: bytes)))
            } catch {
                result.diagnostics.append(relabel(error, file: shownDir + "/" + file.path))
            }
        }
        guard let definitionBytes, let buildBytes else { return result }
        let definitionFile = shown(defName)
        let buildFile = shown("build.yaml")

        // Stanzas.
        let doc: YAMLDocument
        do {
            doc = try YAMLDocument(text: String(decoding: definitionBytes, as: UTF8.self), file: definitionFile)
        } catch {
            result.diagnostics.append(error)
            return result
        }
        var stanzas: [(node: YAMLNode, field: String?)] = []
        if dir.hasCollection {
            guard let root = doc.root, case .mapping = root, let list = root.entry("packages"), case .sequence(let seq, _) = list
            else {
                result.diagnostics.append(
                    Diagnostic(
                        at: doc.location(of: doc.root), field: "packages",
                        "a collection must be a mapping with a `packages:` list of package definitions"))
                return result
            }
            stanzas = seq.enumerated().map { ($0.element, "packages[\($0.offset)]") }
        } else {
            guard let root = doc.root, case .mapping = root else {
                result.diagnostics.append(
                    Diagnostic(at: doc.location(of: doc.root), "a definition must be a mapping with name, category and version"))
                return result
            }
            stanzas = [(root, nil)]
        }

        // The build spec is parsed once per directory and rendered once per stanza.
        let template: ParsedTemplate
        do {
            template = try ParsedTemplate.parse(String(decoding: buildBytes, as: UTF8.self), file: buildFile)
        } catch {
            result.diagnostics.append(Diagnostic(at: SourceLocation(file: error.file, line: error.line), "template: \(error.message)"))
            return result
        }

        for (node, field) in stanzas {
            do {
                let stanza = try StanzaParser(doc: doc, node: node, fieldPrefix: field)
                let data = Value.map(["Values": stanza.value.merging(ctx.values)])
                let rendered: RenderedText
                do {
                    rendered = try ctx.templates.render(template, data: data)
                } catch {
                    throw Diagnostic(
                        at: SourceLocation(file: error.file, line: error.line), "template: \(error.message)",
                        hint: hint(forTemplateError: error.message, package: stanza.id))
                }
                var warnings: [Diagnostic] = []
                let build = try BuildSpecParser.parse(rendered, file: buildFile, package: stanza.id, warnings: &warnings)
                if stanzas.count == 1 || field == "packages[0]" { result.diagnostics.append(contentsOf: warnings) }
                result.packages.append(
                    PackageSpec(
                        id: stanza.id, path: shownDir.isEmpty ? "." : shownDir, definedAt: doc.location(of: node),
                        buildFile: buildFile, stanza: stanza.value, runtimeRequires: stanza.requires,
                        provides: stanza.provides + build.provides, build: build, content: content))
            } catch let error as Diagnostic {
                result.diagnostics.append(error)
            } catch {
                result.diagnostics.append(Diagnostic(at: doc.location(of: node), "\(error)"))
            }
        }
        return result
    }

    static func hint(forTemplateError message: String, package: PackageID) -> String? {
        if message.hasPrefix("no value for .Values.") {
            let key = message.dropFirst("no value for .Values.".count)
            return "define `\(key)` in the definition of \(package) or in a values file (--values/--flavor), or guard it with `default`"
        }
        if message.contains("not defined") {
            return "check the spelling; shared blocks must be defined in a templates/*.yaml file of the tree"
        }
        return nil
    }

    static func relabel(_ error: Error, file: String) -> Diagnostic {
        if let d = error as? Diagnostic {
            if let loc = d.location, loc.line > 0 { return d }
            return Diagnostic(d.severity, at: SourceLocation(file: file, line: d.location?.line ?? 0), field: d.field, d.message, hint: d.hint)
        }
        return Diagnostic(at: SourceLocation(file: file, line: 0), "\(error)")
    }

    static func join(_ a: String, _ b: String) -> String {
        if b.hasPrefix("/") { return b }
        if b == "." || b.isEmpty { return a }
        return a.hasSuffix("/") ? a + b : a + "/" + b
    }

    /// `packages` → `packages/`; `.` → ``.
    static func normalizedPrefix(_ tree: String) -> String {
        var t = tree
        while t.hasPrefix("./") { t.removeFirst(2) }
        while t.hasSuffix("/") { t.removeLast() }
        return (t.isEmpty || t == ".") ? "" : t + "/"
    }
}

/// Fixed-size result slots for a parallel loop, in memory allocated once. `@unchecked Sendable`: each index
/// is written by exactly one iteration of `DispatchQueue.concurrentPerform`, and reads happen after it returns
/// (its completion is the synchronization point).
final class Slots<T>: @unchecked Sendable {
    private let base: UnsafeMutablePointer<T?>
    let count: Int

    init(count: Int) {
        self.count = count
        base = .allocate(capacity: max(count, 1))
        base.initialize(repeating: nil, count: count)
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    subscript(i: Int) -> T? {
        get { base[i] }
        set { base[i] = newValue }
    }

    var values: [T?] { (0..<count).map { base[$0] } }
}

enum ProcessorCount {
    static var online: Int {
        #if canImport(Glibc)
            return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
            return 2
        #endif
    }
}
