import CosciModel

/// A failure while rendering, before it becomes a `TemplateError`: `callSite` names the outermost
/// `template`/`include` call it happened under, so an error inside a shared template still points at the
/// line of the main template that called it.
struct RenderError: Error {
    let file: String
    let line: Int
    let message: String
    var callSite: String?

    var templateError: TemplateError {
        TemplateError(file: file, line: line, message: callSite.map { "\(message) (in \($0))" } ?? message)
    }
}

/// Executes parsed bodies into UTF-8 bytes and records, for every output line, the source line of its
/// first byte. One renderer serves one `TemplateSet.render` call; it is not shared between threads.
final class Renderer {
    /// How deep `template`/`include` calls may nest.
    static let maximumDepth = 100
    /// How deep bodies may nest in all (blocks inside blocks, across template calls). Rendering recurses:
    /// a level takes about 0.4 KiB of stack in a release build and 2.9 KiB in a debug build, so this fits a
    /// 512 KiB thread stack (release) and an 8 MiB one (debug).
    static let maximumNesting = 500

    private let mainDefinitions: [String: Definition]
    private let sharedDefinitions: [String: SharedDefinition]
    private let mainFileIndex: Int
    // A renderer is used by one thread and never hands out overlapping accesses to these buffers, so the
    // dynamic exclusivity checks (a tenth of the render time) are switched off for them.
    @exclusivity(unchecked) private(set) var output: [UInt8] = []
    /// One entry per output line: file index in the high 32 bits, line in the low 32.
    @exclusivity(unchecked) private(set) var origins: [UInt64] = []
    @exclusivity(unchecked) private var atLineStart = true
    @exclusivity(unchecked) private var variables: [Datum] = []
    @exclusivity(unchecked) private var depth = 0
    @exclusivity(unchecked) private var nesting = 0

    private struct Frame {
        let file: String
        let fileIndex: Int
        let base: Int
        let source: [UInt8]
    }

    private enum Flow {
        case normal, breakLoop, continueLoop
    }

    /// The clock and environment variables of this render, and what it read of them.
    let ambient: Ambient

    init(
        main: [String: Definition], shared: [String: SharedDefinition], mainFileIndex: Int, capacity: Int,
        environment: RenderEnvironment
    ) {
        self.ambient = Ambient(environment)
        self.mainDefinitions = main
        self.sharedDefinitions = shared
        self.mainFileIndex = mainFileIndex
        output.reserveCapacity(capacity)
        origins.reserveCapacity(capacity / 24 + 4)
        variables.reserveCapacity(16)
    }

    /// Renders a top-level body with `data` as `.` and `$`.
    func render(_ body: Body, data: Value, file: String, fileIndex: Int) throws(RenderError) {
        try run(body, dot: .value(data), frameFile: file, fileIndex: fileIndex)
    }

    private func run(_ body: Body, dot: Datum, frameFile: String, fileIndex: Int) throws(RenderError) {
        let base = variables.count
        variables.append(dot)
        if body.slotCount > 1 {
            variables.append(contentsOf: repeatElement(Datum.null, count: body.slotCount - 1))
        }
        defer { variables.removeSubrange(base...) }
        _ = try walk(body.nodes, dot: dot, Frame(file: frameFile, fileIndex: fileIndex, base: base, source: body.source))
    }

    // MARK: Output

    @inline(__always)
    private static func pack(_ fileIndex: Int, _ line: Int) -> UInt64 {
        UInt64(UInt32(truncatingIfNeeded: fileIndex)) << 32 | UInt64(UInt32(truncatingIfNeeded: line))
    }

    /// Text from the source: each line break advances the source line.
    private func emit(_ chunk: TextChunk, _ frame: Frame) {
        frame.source.withUnsafeBufferPointer { buffer in
            append(UnsafeBufferPointer(rebasing: buffer[chunk.start..<chunk.end]), fileIndex: frame.fileIndex, line: chunk.line, advancing: true)
        }
    }

    /// Action output: every line of it comes from the action's line.
    private func emit(_ text: String, fileIndex: Int, line: Int) {
        var text = text
        text.withUTF8 { buffer in
            append(buffer, fileIndex: fileIndex, line: line, advancing: false)
        }
    }

    private func append(_ buffer: UnsafeBufferPointer<UInt8>, fileIndex: Int, line: Int, advancing: Bool) {
        let count = buffer.count
        guard count > 0 else { return }
        var line = line
        if atLineStart {
            origins.append(Self.pack(fileIndex, line))
            atLineStart = false
        }
        for k in 0..<count where buffer[k] == 0x0A {
            if advancing { line += 1 }
            if k + 1 < count {
                origins.append(Self.pack(fileIndex, line))
            } else {
                atLineStart = true
            }
        }
        output.append(contentsOf: buffer)
    }

    // MARK: Nodes

    /// Executes nodes in order. Kept small (each kind of node has its own method) because it recurses.
    private func walk(_ nodes: [Node], dot: Datum, _ frame: Frame) throws(RenderError) -> Flow {
        for node in nodes {
            let flow: Flow
            switch node {
            case .text(let chunk):
                emit(chunk, frame)
                continue
            case .action(let pipeline):
                try action(pipeline, dot: dot, frame)
                continue
            case .conditional(let c):
                flow = try conditional(c, dot: dot, frame)
            case .with(let c):
                flow = try with(c, dot: dot, frame)
            case .range(let loop):
                flow = try range(loop, dot: dot, frame)
            case .template(let call):
                try template(call, dot: dot, frame)
                continue
            case .breakLoop:
                return .breakLoop
            case .continueLoop:
                return .continueLoop
            }
            if case .normal = flow { continue }
            return flow
        }
        return .normal
    }

    /// Walks a nested body, within the nesting budget.
    private func nested(_ nodes: [Node], dot: Datum, _ frame: Frame, line: Int) throws(RenderError) -> Flow {
        if nodes.isEmpty { return .normal }
        nesting += 1
        defer { nesting -= 1 }
        guard nesting <= Self.maximumNesting else {
            throw failure("blocks and template calls nest more than \(Self.maximumNesting) levels deep", frame, line)
        }
        return try walk(nodes, dot: dot, frame)
    }

    private func action(_ pipeline: Pipeline, dot: Datum, _ frame: Frame) throws(RenderError) {
        let value = try evaluate(pipeline, dot: dot, frame)
        if pipeline.declarations.isEmpty { try print(value, pipeline, frame) }
    }

    private func conditional(_ c: Conditional, dot: Datum, _ frame: Frame) throws(RenderError) -> Flow {
        let value = try evaluate(c.pipeline, dot: dot, frame)
        return try nested(value.isTrue ? c.body : c.elseBody, dot: dot, frame, line: c.pipeline.line)
    }

    private func with(_ c: Conditional, dot: Datum, _ frame: Frame) throws(RenderError) -> Flow {
        let value = try evaluate(c.pipeline, dot: dot, frame)
        if value.isTrue { return try nested(c.body, dot: value, frame, line: c.pipeline.line) }
        return try nested(c.elseBody, dot: dot, frame, line: c.pipeline.line)
    }

    private func template(_ call: TemplateCall, dot: Datum, _ frame: Frame) throws(RenderError) {
        var data = Datum.null
        if let pipeline = call.pipeline { data = try evaluate(pipeline, dot: dot, frame) }
        try callTemplate(call.name, data: data, line: call.line, frame)
    }

    private func print(_ value: Datum, _ pipeline: Pipeline, _ frame: Frame) throws(RenderError) {
        switch value {
        case .missing(let path):
            throw failure("no value for \(path)", frame, pipeline.line)
        case .time(let t):
            emit(t.description, fileIndex: frame.fileIndex, line: pipeline.line)
        case .value(.null):
            let source = String(decoding: frame.source[pipeline.sourceRange], as: UTF8.self)
            throw failure("\(source) is null", frame, pipeline.line)
        case .value(.string(let s)):
            emit(s, fileIndex: frame.fileIndex, line: pipeline.line)
        case .value(let v):
            emit(GoFormat.text(v), fileIndex: frame.fileIndex, line: pipeline.line)
        }
    }

    private func range(_ loop: Loop, dot: Datum, _ frame: Frame) throws(RenderError) -> Flow {
        let pipeline = loop.pipeline
        let value = try evaluateCommands(pipeline, dot: dot, frame)
        let slots = pipeline.declarations
        func iterate(_ key: Value, _ element: Value) throws(RenderError) -> Bool {
            if slots.count == 1 {
                variables[frame.base + slots[0]] = .value(element)
            } else if slots.count == 2 {
                variables[frame.base + slots[0]] = .value(key)
                variables[frame.base + slots[1]] = .value(element)
            }
            if case .breakLoop = try nested(loop.body, dot: .value(element), frame, line: pipeline.line) { return false }
            return true
        }
        switch value {
        case .missing, .value(.null):
            break
        case .time:
            throw failure("range can't iterate over a time", frame, pipeline.line)
        case .value(.list(let items)) where !items.isEmpty:
            for (k, item) in items.enumerated() where !(try iterate(.int(k), item)) { break }
            return .normal
        case .value(.map(let map)) where !map.isEmpty:
            for entry in Value.map(map).sortedEntries ?? [] where !(try iterate(.string(entry.key), entry.value)) {
                break
            }
            return .normal
        case .value(.int(let count)) where count > 0:
            if slots.count > 1 {
                throw failure("can't declare two variables when ranging over an integer", frame, pipeline.line)
            }
            for k in 0..<count where !(try iterate(.int(k), .int(k))) { break }
            return .normal
        case .value(.list), .value(.map), .value(.int):
            break
        case .value(let other):
            throw failure("range can't iterate over \(other.briefDescription)", frame, pipeline.line)
        }
        return try nested(loop.elseBody, dot: dot, frame, line: pipeline.line)
    }

    private func callTemplate(_ name: String, data: Datum, line: Int, _ frame: Frame) throws(RenderError) {
        let definition: Definition
        let fileIndex: Int
        if let found = mainDefinitions[name] {
            definition = found
            fileIndex = mainFileIndex
        } else if let found = sharedDefinitions[name] {
            definition = found.definition
            fileIndex = found.fileIndex
        } else {
            throw failure("template \(GoFormat.quote(name)) not defined", frame, line)
        }
        guard depth < Self.maximumDepth else {
            throw failure(
                "calling template \(GoFormat.quote(name)) exceeds the maximum nesting depth of \(Self.maximumDepth) (endless recursion?)",
                frame, line)
        }
        depth += 1
        nesting += 1
        defer {
            depth -= 1
            nesting -= 1
        }
        guard nesting <= Self.maximumNesting else {
            throw failure("blocks and template calls nest more than \(Self.maximumNesting) levels deep", frame, line)
        }
        do throws(RenderError) {
            try run(definition.body, dot: data, frameFile: definition.file, fileIndex: fileIndex)
        } catch {
            var error = error
            error.callSite = "template \(GoFormat.quote(name)) called at \(frame.file):\(line)"
            throw error
        }
    }

    // MARK: Pipelines

    private func failure(_ message: String, _ frame: Frame, _ line: Int) -> RenderError {
        RenderError(file: frame.file, line: line, message: message, callSite: nil)
    }

    private func evaluate(_ pipeline: Pipeline, dot: Datum, _ frame: Frame) throws(RenderError) -> Datum {
        let value = try evaluateCommands(pipeline, dot: dot, frame)
        for slot in pipeline.declarations { variables[frame.base + slot] = value }
        return value
    }

    private func evaluateCommands(_ pipeline: Pipeline, dot: Datum, _ frame: Frame) throws(RenderError) -> Datum {
        var value: Datum = .null
        var piped = false
        for command in pipeline.commands {
            value = try evaluate(command, dot: dot, frame, final: piped ? value : nil)
            piped = true
        }
        return value
    }

    private func evaluate(_ command: Command, dot: Datum, _ frame: Frame, final: Datum?) throws(RenderError) -> Datum {
        switch command.head {
        case .operand(let expression):
            return try evaluate(expression, dot: dot, frame, line: command.line)
        case .function(let function):
            return try call(function, command.arguments, final: final, dot: dot, frame, line: command.line)
        }
    }

    private func evaluate(_ expression: Expression, dot: Datum, _ frame: Frame, line: Int) throws(RenderError) -> Datum {
        switch expression {
        case .dot:
            return dot
        case .literal(let value):
            return value
        case .field(let fields):
            return try access(dot, fields, receiver: "", frame, line)
        case .variable(let slot, let name, let fields):
            let value = variables[frame.base + slot]
            return fields.isEmpty ? value : try access(value, fields, receiver: name, frame, line)
        case .chain(let pipeline, let fields, let text):
            return try access(try evaluate(pipeline, dot: dot, frame), fields, receiver: text, frame, line)
        case .pipeline(let pipeline):
            return try evaluate(pipeline, dot: dot, frame)
        case .function(let function):
            return try call(function, [], final: nil, dot: dot, frame, line: line)
        }
    }

    /// `.a.b.c` on `base`: an absent key gives a missing value naming the path; a field of a missing value
    /// is missing too; a field of anything but a map is an error.
    private func access(_ base: Datum, _ fields: [String], receiver: String, _ frame: Frame, _ line: Int) throws(RenderError) -> Datum {
        var current = base
        for (k, name) in fields.enumerated() {
            switch current {
            case .missing(let path):
                current = .missing(path + "." + name)
            case .time(let t):
                guard let field = t.field(name) else {
                    throw failure("can't evaluate field \(name) of a time (cosci knows Year, Month, Day, Hour, Minute, Second, Nanosecond, YearDay, Weekday, Unix, UnixNano, UTC)", frame, line)
                }
                current = field
            case .value(.map(let map)):
                if let found = map[name] {
                    current = .value(found)
                } else {
                    current = .missing(Self.path(receiver, fields, through: k))
                }
            case .value(let other):
                let owner = Self.path(receiver, fields, through: k - 1)
                let what = other == .null ? "null" : "\(other.briefDescription), not a map"
                throw failure("can't evaluate field \(name) of \(owner): it is \(what)", frame, line)
            }
        }
        return current
    }

    private static func path(_ receiver: String, _ fields: [String], through k: Int) -> String {
        if k < 0 { return receiver.isEmpty ? "." : receiver }
        var path = receiver
        for field in fields[...k] {
            path += "."
            path += field
        }
        return path
    }

    /// How an expression reads in a path, for `index` misses.
    private static func describe(_ expression: Expression, _ source: [UInt8]) -> String {
        switch expression {
        case .dot: return "."
        case .field(let fields): return path("", fields, through: fields.count - 1)
        case .variable(_, let name, let fields): return path(name, fields, through: fields.count - 1)
        case .chain(_, let fields, let text): return path(text, fields, through: fields.count - 1)
        case .pipeline(let pipeline): return "(\(String(decoding: source[pipeline.sourceRange], as: UTF8.self)))"
        case .function(let function): return function.name
        case .literal(.value(let v)): return v.stringValue.map(GoFormat.quote) ?? GoFormat.text(v)
        case .literal(.missing(let path)): return path
        case .literal(.time(let t)): return t.description
        }
    }

    // MARK: Calls

    private func call(
        _ function: Builtin, _ expressions: [Expression], final: Datum?, dot: Datum, _ frame: Frame, line: Int
    ) throws(RenderError) -> Datum {
        let count = expressions.count + (final == nil ? 0 : 1)
        func argument(_ k: Int) throws(RenderError) -> Datum {
            if k < expressions.count { return try evaluate(expressions[k], dot: dot, frame, line: line) }
            return final ?? .null
        }
        switch function {
        case .and, .or:
            guard count > 0 else {
                throw failure("\(function.name): wrong number of arguments: want at least 1, got 0", frame, line)
            }
            var value: Datum = .null
            for k in 0..<count {
                value = try argument(k)
                if value.isTrue != (function == .and) { return value }
            }
            return value
        default:
            break
        }

        var arguments: [Datum] = []
        arguments.reserveCapacity(count)
        for expression in expressions { arguments.append(try evaluate(expression, dot: dot, frame, line: line)) }
        if let final { arguments.append(final) }

        if function == .include { return try include(arguments, frame, line) }
        do throws(FunctionFailure) {
            switch function {
            case .index:
                return try Functions.index(Arguments(arguments)) {
                    expressions.first.map { Self.describe($0, frame.source) } ?? "(piped value)"
                }
            case .set, .unset:
                let result = try Functions.call(function, Arguments(arguments), ambient)
                // sprig mutates the map in place; with values, write the result back to the variable.
                if case .variable(let slot, _, let fields)? = expressions.first, fields.isEmpty {
                    variables[frame.base + slot] = result
                }
                return result
            default:
                return try Functions.call(function, Arguments(arguments), ambient)
            }
        } catch {
            let message = function == .fail ? error.message : "\(function.name): \(error.message)"
            throw failure(message, frame, line)
        }
    }

    /// `include "name" data`: renders a definition into a string. Errors inside it keep their own location.
    private func include(_ arguments: [Datum], _ frame: Frame, _ line: Int) throws(RenderError) -> Datum {
        let name: String
        do throws(FunctionFailure) {
            let args = Arguments(arguments)
            try args.require(2)
            name = try args.string(0)
        } catch {
            throw failure("include: \(error.message)", frame, line)
        }
        var savedOutput: [UInt8] = []
        var savedOrigins: [UInt64] = []
        swap(&savedOutput, &output)
        swap(&savedOrigins, &origins)
        let savedAtLineStart = atLineStart
        atLineStart = true
        defer {
            swap(&savedOutput, &output)
            swap(&savedOrigins, &origins)
            atLineStart = savedAtLineStart
        }
        try callTemplate(name, data: arguments[1], line: line, frame)
        return .value(.string(String(decoding: output, as: UTF8.self)))
    }
}
