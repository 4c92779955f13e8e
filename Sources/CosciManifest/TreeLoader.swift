#if canImport(Glibc)
    import Glibc
#endif
import CosciModel
import CosciTemplate
import CosciYAML
import Dispatch

/// What to load: where the tree is and which values files apply.
public struct LoadOptions: Sendable {
    /// The project root: every path cosci prints is relative to it (so output does not depend on where
    /// the checkout lives).
    public var projectRoot: String
    /// The package tree, relative to the project root (`.` for the root itself).
    /// The package trees, relative to the project root (`ProjectConfig.trees`).
    public var trees: [String]
    /// Values files, relative to the project root (or absolute), applied in order: later files win.
    public var valuesFiles: [String]
    /// How many threads read and render packages.
    public var jobs: Int
    /// The clock and the environment variables build specs may read when rendered.
    public var render: RenderEnvironment

    public init(
        projectRoot: String, trees: [String] = ["."], valuesFiles: [String] = [], jobs: Int = 0,
        render: RenderEnvironment = RenderEnvironment()
    ) {
        self.projectRoot = projectRoot
        self.trees = trees
        self.valuesFiles = valuesFiles
        self.jobs = jobs
        self.render = render
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
    /// The values files applied, in order.
    public let valuesFiles: [String]
    /// What a later load of a similar tree can reuse: per package directory, keyed by everything its parse
    /// depends on (directory, definition and build spec blobs, templates, values).
    public let memo: LoadMemo
    /// How many package directories were taken from the memo given to the load instead of being parsed.
    public let reused: Int
    /// How many files were read to compute their blob id (their id was not known beforehand).
    public let hashed: Int
    /// What the renders read besides the tree's files: `clock` → the epoch, `env:NAME` → a digest of the
    /// value (`RenderEnvironment.inputs(of:)`). Empty when no build spec looks at the clock or the environment.
    public var inputs: [String: String] = [:]

    /// Whether any diagnostic is an error.
    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    /// The result of a load that could not start (the tree is not there): one diagnostic, no packages.
    public static func failed(_ diagnostic: Diagnostic, valuesFiles: [String]) -> LoadedTree {
        LoadedTree(
            packages: [], diagnostics: [diagnostic], templateFiles: [], valuesFiles: valuesFiles, memo: LoadMemo(),
            reused: 0, hashed: 0)
    }
}

/// Parsed package directories by input key. A directory whose definition, build spec, templates and values
/// are unchanged is not read, rendered or parsed again; only its content digest is recomputed.
public struct LoadMemo: Sendable {
    struct Entry: Sendable {
        let packages: [PackageSpec]
        let diagnostics: [Diagnostic]
        /// What rendering read besides the files (`RenderEnvironment.inputs(of:)`): the entry is reused only
        /// where those read the same.
        var inputs: [String: String] = [:]
    }

    var entries: [String: Entry] = [:]

    public init() {}

    /// How many directories are remembered.
    public var count: Int { entries.count }
}

/// Loads a luet package tree: finds package directories and templates, parses every
/// `definition.yaml`/`collection.yaml`, renders every `build.yaml` with `.Values` = the stanza merged with the
/// values files (values files win) and the shared templates, parses the rendered spec, and digests each package
/// directory.
public enum TreeLoader {
    /// Names what loading yields for given inputs. Bump it whenever loading or parsing changes what a directory
    /// yields: it invalidates saved memos and summaries.
    /// 2: submodules are content (keyed by their commit); strict text (UTF-8, no NUL, control characters).
    public static let formatTag = "cosci-load/2"

    /// Loads the work tree on disk.
    public static func load(_ options: LoadOptions) -> LoadedTree {
        do {
            let snapshot = try WorkTreeSnapshot(projectRoot: options.projectRoot, trees: options.trees)
            return load(snapshot, options: options)
        } catch {
            return .failed(error, valuesFiles: options.valuesFiles)
        }
    }

    /// Loads a snapshot. Never throws: problems are diagnostics, and packages with problems are left out.
    /// Directories found in `memo` with the same inputs are reused without reading them.
    public static func load(_ snapshot: some TreeSnapshot, options: LoadOptions, memo: LoadMemo = LoadMemo()) -> LoadedTree {
        var diagnostics: [Diagnostic] = []
        let layout = TreeLayout(snapshot.files)
        for path in layout.symlinkedSpecs {
            diagnostics.append(
                Diagnostic(
                    at: SourceLocation(file: path, line: 0), "is a symlink; package definitions and build specs must be regular files",
                    hint: "replace the link with the file it points to (git records the link, not the file, so the package would not be keyed by its content)"))
        }

        // Values files: merged in order, later files win.
        var values = Value.map([:])
        for file in options.valuesFiles {
            do {
                let bytes = try snapshot.read(file, kind: .regular)
                let doc = try YAMLDocument(text: try SourceText.decode(bytes, file: file), file: file)
                guard let root = doc.root, !root.isNull else { continue }
                guard case .mapping = root else {
                    diagnostics.append(
                        Diagnostic(at: doc.location(of: root), "a values file must be a mapping, found \(root.kindName)"))
                    continue
                }
                values = values.merging(try root.value(in: doc))
            } catch {
                diagnostics.append(relabel(error, file: file))
            }
        }

        // Shared templates, parsed once. Their bytes and the values make the environment every render shares.
        var shared: [ParsedTemplate] = []
        var environment = FramedHasher()
        environment.add(TreeLoader.formatTag)
        environment.add(bytes: CanonicalJSON.bytes(values))
        // Which variables may be read (their values are inputs of the renders that read them).
        environment.add(options.render.variables.keys.sorted().joined(separator: ","))
        for file in layout.templateFiles {
            do {
                let bytes = try snapshot.read(file.path, kind: file.kind)
                environment.add(file.path)
                environment.add(bytes: bytes)
                shared.append(try ParsedTemplate.parse(try SourceText.decode(bytes, file: file.path), file: file.path))
            } catch let error as TemplateError {
                diagnostics.append(Diagnostic(at: SourceLocation(file: error.file, line: error.line), "template: \(error.message)"))
            } catch let error as Diagnostic {
                diagnostics.append(error)
            } catch {
                diagnostics.append(Diagnostic(at: SourceLocation(file: file.path, line: 0), "\(error)"))
            }
        }
        let templates: TemplateSet
        do {
            templates = try TemplateSet(shared: shared)
        } catch {
            diagnostics.append(Diagnostic(at: SourceLocation(file: error.file, line: error.line), "template: \(error.message)"))
            templates = .empty
        }

        // Package directories, in parallel.
        let dirs = layout.packageDirectories
        let context = DirectoryContext(
            snapshot: snapshot, values: values, templates: templates, environment: environment.finalize().hex, memo: memo,
            render: options.render)
        let workers = options.jobs > 0 ? options.jobs : ProcessorCount.online
        let loaded = parallelMap(dirs.count, width: dirs.count < 8 ? 1 : workers) { i in loadDirectory(dirs[i], context) }

        // Gather, and reject duplicate identities (luet silently keeps the first; we say so).
        var packages: [PackageSpec] = []
        var seen: [PackageID: SourceLocation] = [:]
        var nextMemo = LoadMemo()
        var reused = 0
        for slot in loaded {
            if slot.reused { reused += 1 }
            if let key = slot.key { nextMemo.entries[key] = slot.result }
            diagnostics.append(contentsOf: slot.result.diagnostics)
            for pkg in slot.result.packages {
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
        var inputs: [String: String] = [:]
        for slot in loaded { inputs.merge(slot.result.inputs) { a, _ in a } }
        return LoadedTree(
            packages: packages, diagnostics: Array(Set(diagnostics)).sorted(),
            templateFiles: layout.templateFiles.map(\.path), valuesFiles: options.valuesFiles, memo: nextMemo,
            reused: reused, hashed: dirs.reduce(0) { n, d in n + d.files.filter { $0.file.blobID == nil }.count }, inputs: inputs)
    }

    struct DirectoryContext: Sendable {
        let snapshot: any TreeSnapshot
        let values: Value
        let templates: TemplateSet
        /// Digest of the values and templates: part of every memo key.
        let environment: String
        let memo: LoadMemo
        /// The clock and environment variables renders may read.
        let render: RenderEnvironment
    }

    /// Loads one package directory: its definition or collection, its build spec for each stanza, its content.
    static func loadDirectory(
        _ dir: TreeLayout.PackageDirectory, _ ctx: DirectoryContext
    ) -> (key: String?, result: LoadMemo.Entry, reused: Bool) {
        var packages: [PackageSpec] = []
        var diagnostics: [Diagnostic] = []
        let shownDir = dir.relativePath
        let shown = { (name: String) in shownDir.isEmpty ? name : shownDir + "/" + name }
        let defName = dir.hasCollection ? "collection.yaml" : "definition.yaml"
        if dir.hasCollection && dir.hasDefinition {
            diagnostics.append(
                Diagnostic(
                    at: SourceLocation(file: shown("collection.yaml"), line: 0),
                    "the directory holds both definition.yaml and collection.yaml",
                    hint: "keep one: a collection's stanzas can hold the single definition"))
            return (nil, .init(packages: [], diagnostics: diagnostics), false)
        }

        // Content: every owned file except collection.yaml, with git's blob id (read and hashed unless known).
        var content: [ContentEntry] = []
        var definitionBytes: [UInt8]?
        var buildBytes: [UInt8]?
        var definitionBlob = "", buildBlob = ""
        for (rel, file) in dir.files {
            do {
                var blob = file.blobID
                if blob == nil {
                    if rel == defName || rel == "build.yaml" {
                        let bytes = try ctx.snapshot.read(file.path, kind: file.kind)
                        blob = FileSystemTree.blobID(of: bytes)
                        if rel == defName { definitionBytes = bytes } else { buildBytes = bytes }
                    } else {
                        // Only the id: a large file is hashed as it streams past.
                        blob = try ctx.snapshot.blobID(file.path, kind: file.kind)
                    }
                }
                if rel == defName { definitionBlob = blob ?? "" }
                if rel == "build.yaml" { buildBlob = blob ?? "" }
                if rel == "collection.yaml" { continue }
                content.append(ContentEntry(path: rel, mode: file.kind.gitMode, blobID: blob ?? ""))
            } catch {
                diagnostics.append(relabel(error, file: file.path))
            }
        }
        if !diagnostics.isEmpty { return (nil, .init(packages: [], diagnostics: diagnostics), false) }

        // Reuse: the same directory with the same definition, build spec, templates and values parses the same.
        let key = [shownDir, defName, definitionBlob, buildBlob, ctx.environment].joined(separator: "\u{0}")
        if let hit = ctx.memo.entries[key], ctx.render.matches(hit.inputs) {
            return (
                key, .init(packages: hit.packages.map { $0.with(content: content) }, diagnostics: hit.diagnostics, inputs: hit.inputs),
                true
            )
        }
        do {
            if definitionBytes == nil { definitionBytes = try ctx.snapshot.read(shown(defName), kind: .regular) }
            if buildBytes == nil { buildBytes = try ctx.snapshot.read(shown("build.yaml"), kind: .regular) }
        } catch {
            return (nil, .init(packages: [], diagnostics: [error]), false)
        }
        guard let definitionBytes, let buildBytes else { return (nil, .init(packages: [], diagnostics: diagnostics), false) }
        let definitionFile = shown(defName)
        let buildFile = shown("build.yaml")

        // Stanzas.
        let doc: YAMLDocument
        do {
            doc = try YAMLDocument(text: try SourceText.decode(definitionBytes, file: definitionFile), file: definitionFile)
        } catch {
            return (key, .init(packages: [], diagnostics: [error]), false)
        }
        diagnostics += doc.warnings
        var stanzas: [(node: YAMLNode, field: String?)] = []
        if dir.hasCollection {
            guard let root = doc.root, case .mapping = root, let list = root.entry("packages"), case .sequence(let seq, _) = list
            else {
                diagnostics.append(
                    Diagnostic(
                        at: doc.location(of: doc.root), field: "packages",
                        "a collection must be a mapping with a `packages:` list of package definitions"))
                return (key, .init(packages: [], diagnostics: diagnostics), false)
            }
            stanzas = seq.enumerated().map { ($0.element, "packages[\($0.offset)]") }
        } else {
            guard let root = doc.root, case .mapping = root else {
                diagnostics.append(
                    Diagnostic(at: doc.location(of: doc.root), "a definition must be a mapping with name, category and version"))
                return (key, .init(packages: [], diagnostics: diagnostics), false)
            }
            stanzas = [(root, nil)]
        }

        // The build spec is parsed once per directory and rendered once per stanza.
        let buildText: String
        do { buildText = try SourceText.decode(buildBytes, file: buildFile) } catch {
            diagnostics.append(error)
            return (key, .init(packages: [], diagnostics: diagnostics), false)
        }
        let template: ParsedTemplate
        do {
            template = try ParsedTemplate.parse(buildText, file: buildFile)
        } catch {
            diagnostics.append(Diagnostic(at: SourceLocation(file: error.file, line: error.line), "template: \(error.message)"))
            return (key, .init(packages: [], diagnostics: diagnostics), false)
        }

        // What the renders read of the clock and the environment; a render that fails may have read anything.
        var reads = RenderReads()
        for (node, field) in stanzas {
            do {
                let stanza = try StanzaParser(doc: doc, node: node, fieldPrefix: field)
                let data = Value.map(["Values": stanza.value.merging(ctx.values)])
                let rendered: RenderedText
                do {
                    rendered = try ctx.templates.render(template, data: data, environment: ctx.render)
                    reads.formUnion(rendered.reads)
                } catch {
                    reads.formUnion(RenderReads(clock: true, variables: Set(ctx.render.variables.keys)))
                    throw Diagnostic(
                        at: SourceLocation(file: error.file, line: error.line), "template: \(error.message)",
                        hint: hint(forTemplateError: error.message, package: stanza.id))
                }
                let (build, document) = try BuildSpecParser.parse(rendered, file: buildFile, package: stanza.id, warnings: &diagnostics)
                packages.append(
                    PackageSpec(
                        id: stanza.id, path: shownDir.isEmpty ? "." : shownDir, definedAt: doc.location(of: node),
                        buildFile: buildFile, stanza: stanza.value, runtimeRequires: stanza.requires,
                        provides: stanza.provides + build.provides, build: build, document: document, content: content))
            } catch let error as Diagnostic {
                diagnostics.append(error)
            } catch {
                diagnostics.append(Diagnostic(at: doc.location(of: node), "\(error)"))
            }
        }
        return (key, .init(packages: packages, diagnostics: diagnostics, inputs: ctx.render.inputs(of: reads)), false)
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
