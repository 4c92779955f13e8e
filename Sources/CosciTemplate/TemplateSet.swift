import CosciModel

/// One parsed source file (parse once, render many times). Sendable, immutable.
public struct ParsedTemplate: Sendable {
    /// The file name given to `parse(_:file:)`; errors and line origins name it.
    public let file: String
    let root: Body
    let definitions: [String: Definition]

    /// Parses `text`; a syntax error, an unknown function or an undefined variable is a `TemplateError`
    /// naming `file` and the line.
    public static func parse(_ text: String, file: String) throws(TemplateError) -> ParsedTemplate {
        let bytes = Array(text.utf8)
        var lexer = Lexer(bytes: bytes, file: file)
        try lexer.run()
        var parser = Parser(bytes: bytes, file: file, tokens: lexer.tokens)
        let root = try parser.parseFile()
        return ParsedTemplate(file: file, root: root, definitions: parser.definitions)
    }

    /// The names this file defines with `define` or `block`, sorted.
    public var definedNames: [String] { definitions.keys.sorted() }
}

/// A definition from a shared source, with the index of that source (for the line map).
struct SharedDefinition: Sendable {
    let definition: Definition
    let fileIndex: Int
}

/// Shared templates (e.g. every templates/*.yaml of a tree) whose `define`/`block` bodies every render can call,
/// and whose top-level text is emitted before the main template's output (luet concatenates them in front of build.yaml).
public struct TemplateSet: Sendable {
    private let shared: [ParsedTemplate]
    private let sharedFiles: [String]
    private let definitions: [String: SharedDefinition]

    /// Collects the shared sources' definitions; for a name defined twice the later source wins (an empty
    /// body never replaces a non-empty one), as Go's repeated `Parse` does.
    public init(shared: [ParsedTemplate]) throws(TemplateError) {
        self.init(collecting: shared)
    }

    private init(collecting shared: [ParsedTemplate]) {
        self.shared = shared
        self.sharedFiles = shared.map(\.file)
        var definitions: [String: SharedDefinition] = [:]
        for (index, template) in shared.enumerated() {
            for (name, definition) in template.definitions {
                if definition.body.isBlank, definitions[name] != nil { continue }
                definitions[name] = SharedDefinition(definition: definition, fileIndex: index)
            }
        }
        self.definitions = definitions
    }

    /// A set without shared templates.
    public static let empty = TemplateSet(collecting: [])

    /// Renders the shared sources' top level (in order) and then `main`, with `data` as `.`/`$`.
    /// `main`'s own definitions take precedence over shared ones of the same name. `environment` is what the
    /// clock and environment functions read; the result says what they did read.
    public func render(
        _ main: ParsedTemplate, data: Value, environment: RenderEnvironment = RenderEnvironment()
    ) throws(TemplateError) -> RenderedText {
        let renderer = Renderer(
            main: main.definitions, shared: definitions, mainFileIndex: shared.count, capacity: 2048, environment: environment)
        do throws(RenderError) {
            for (index, template) in shared.enumerated() where !template.root.nodes.isEmpty {
                try renderer.render(template.root, data: data, file: template.file, fileIndex: index)
            }
            try renderer.render(main.root, data: data, file: main.file, fileIndex: shared.count)
        } catch {
            throw error.templateError
        }
        return RenderedText(
            text: String(decoding: renderer.output, as: UTF8.self), origins: renderer.origins,
            sharedFiles: sharedFiles, mainFile: main.file, reads: renderer.ambient.reads)
    }
}

/// Rendered output plus, for every output line, the source line that produced its first character
/// (so a YAML error in the output can be reported at build.yaml:LINE).
public struct RenderedText: Sendable {
    /// The output.
    public let text: String
    /// What the render read of its environment (the clock, environment variables).
    public let reads: RenderReads
    private let origins: [UInt64]
    private let sharedFiles: [String]
    private let mainFile: String

    init(text: String, origins: [UInt64], sharedFiles: [String], mainFile: String, reads: RenderReads) {
        self.text = text
        self.reads = reads
        self.origins = origins
        self.sharedFiles = sharedFiles
        self.mainFile = mainFile
    }

    /// The number of output lines (a final line without a newline counts).
    public var lineCount: Int { origins.count }

    /// The source location of a 1-based output line's first character (an empty line: of its newline);
    /// nil past the end.
    public func origin(ofOutputLine line: Int) -> SourceLocation? {
        guard line >= 1, line <= origins.count else { return nil }
        let packed = origins[line - 1]
        let fileIndex = Int(packed >> 32)
        let sourceLine = Int(packed & 0xFFFF_FFFF)
        return SourceLocation(file: fileIndex < sharedFiles.count ? sharedFiles[fileIndex] : mainFile, line: sourceLine)
    }
}
