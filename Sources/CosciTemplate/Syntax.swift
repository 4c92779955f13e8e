import CosciModel

// The parsed form of a template: immutable, Sendable, shared by every render.
// Variables are resolved at parse time to slots of the enclosing body's frame (`$` is slot 0).

/// A sequence of nodes plus the number of variable slots its frame needs, and the source bytes its text
/// chunks and pipeline texts point into (shared by every body of one file, not copied).
struct Body: Sendable {
    var nodes: [Node]
    var slotCount: Int
    let source: [UInt8]

    /// Go's `IsEmptyTree`: only white space text (a define like this never replaces another).
    var isBlank: Bool {
        nodes.allSatisfy { node in
            if case .text(let text) = node {
                return source[text.start..<text.end].allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
            }
            return false
        }
    }
}

/// Literal text: the bytes `start..<end` of the body's source; `line` is the line of the first byte.
struct TextChunk: Sendable {
    let start: Int
    let end: Int
    let line: Int
}

/// One executable piece of a body. Payloads are references or small values, so walking a body retains
/// at most one object per node.
enum Node: Sendable {
    /// Text copied to the output.
    case text(TextChunk)
    /// `{{pipeline}}`: printed unless it declares or assigns variables.
    case action(Pipeline)
    /// `{{if}}`; `else if` chains are nested ifs in `elseBody`.
    case conditional(Conditional)
    /// `{{with}}`; `else with` chains are nested withs in `elseBody`.
    case with(Conditional)
    /// `{{range}}`.
    case range(Loop)
    /// `{{template "name" pipeline}}` (also the call half of `{{block}}`).
    case template(TemplateCall)
    /// `{{break}}`.
    case breakLoop
    /// `{{continue}}`.
    case continueLoop
}

/// The shared shape of `if` and `with`.
final class Conditional: Sendable {
    let pipeline: Pipeline
    let body: [Node]
    let elseBody: [Node]

    init(pipeline: Pipeline, body: [Node], elseBody: [Node]) {
        self.pipeline = pipeline
        self.body = body
        self.elseBody = elseBody
    }
}

/// `{{range}}`: the pipeline's declarations are the per-iteration variables.
final class Loop: Sendable {
    let pipeline: Pipeline
    let body: [Node]
    let elseBody: [Node]

    init(pipeline: Pipeline, body: [Node], elseBody: [Node]) {
        self.pipeline = pipeline
        self.body = body
        self.elseBody = elseBody
    }
}

/// A call of a named template.
final class TemplateCall: Sendable {
    let name: String
    let pipeline: Pipeline?
    let line: Int

    init(name: String, pipeline: Pipeline?, line: Int) {
        self.name = name
        self.pipeline = pipeline
        self.line = line
    }
}

/// `[decl :=] command | command …`.
final class Pipeline: Sendable {
    /// Line of the pipeline's first token.
    let line: Int
    /// Where the pipeline is written in the body's source (for `… is null`).
    let sourceRange: Range<Int>
    /// Slots written with the result (`$x :=` declares a slot, `$x =` names an outer one).
    let declarations: [Int]
    let commands: [Command]

    init(line: Int, sourceRange: Range<Int>, declarations: [Int], commands: [Command]) {
        self.line = line
        self.sourceRange = sourceRange
        self.declarations = declarations
        self.commands = commands
    }
}

/// One stage of a pipeline: a function call, or a single operand.
final class Command: Sendable {
    enum Head: Sendable {
        case function(Builtin)
        case operand(Expression)
    }
    let head: Head
    let arguments: [Expression]
    let line: Int

    init(head: Head, arguments: [Expression], line: Int) {
        self.head = head
        self.arguments = arguments
        self.line = line
    }
}

/// An operand.
indirect enum Expression: Sendable {
    /// `.`
    case dot
    /// `.a.b` on dot.
    case field([String])
    /// `$x.a.b` (`$` is slot 0).
    case variable(slot: Int, name: String, fields: [String])
    /// `(pipeline).a.b`; `text` is the parenthesized source, for paths.
    case chain(Pipeline, fields: [String], text: String)
    /// A constant (`nil` is `.value(.null)`).
    case literal(Datum)
    /// `(pipeline)`.
    case pipeline(Pipeline)
    /// A function name used as an argument: called with no arguments.
    case function(Builtin)
}

/// A `define` or `block` body.
final class Definition: Sendable {
    let name: String
    let body: Body
    let file: String
    let line: Int

    init(name: String, body: Body, file: String, line: Int) {
        self.name = name
        self.body = body
        self.file = file
        self.line = line
    }
}
