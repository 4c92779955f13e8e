import CosciModel

/// Builds the syntax tree from tokens, with Go's grammar and scoping: variables declared inside a control
/// structure end at its `{{end}}`; `define` and `block` bodies start a fresh scope with only `$`.
struct Parser {
    private let bytes: [UInt8]
    private let file: String
    private let tokens: [Token]
    private var i = 0
    private var scope: [(name: String, slot: Int)] = [("$", 0)]
    private var slotCount = 1
    private var rangeDepth = 0
    private var nesting = 0
    private(set) var definitions: [String: Definition] = [:]

    /// How deep parentheses and `else if` chains may nest before the parser refuses (it recurses).
    static let maximumNesting = 100

    init(bytes: [UInt8], file: String, tokens: [Token]) {
        self.bytes = bytes
        self.file = file
        self.tokens = tokens
    }

    private enum Item {
        case node(Node)
        case end(line: Int)
        case elseClause(line: Int)
    }

    // MARK: Helpers

    private var current: Token { tokens[i] }

    private mutating func advance() {
        if tokens[i].kind != .eof { i += 1 }
    }

    private func error(_ message: String, line: Int) -> TemplateError {
        TemplateError(file: file, line: line, message: message)
    }

    private func text(_ t: Token) -> String { String(decoding: bytes[t.start..<t.end], as: UTF8.self) }

    private func describe(_ t: Token) -> String {
        switch t.kind {
        case .eof: return "end of input"
        case .text: return "text"
        case .rightDelim: return "\"}}\""
        case .leftDelim: return "\"{{\""
        default:
            let s = text(t)
            return GoFormat.quote(s.count > 30 ? String(s.prefix(30)) + "…" : s)
        }
    }

    private func unexpected(_ t: Token, in context: String) -> TemplateError {
        error("unexpected \(describe(t)) in \(context)", line: t.line)
    }

    private mutating func expect(_ kind: Token.Kind, in context: String) throws(TemplateError) {
        guard current.kind == kind else { throw unexpected(current, in: context) }
        advance()
    }

    private func lookup(_ name: String) -> Int? {
        for entry in scope.reversed() where entry.name == name { return entry.slot }
        return nil
    }

    private mutating func enterNesting(line: Int) throws(TemplateError) {
        nesting += 1
        if nesting > Self.maximumNesting {
            throw error("nested more than \(Self.maximumNesting) levels deep", line: line)
        }
    }

    // MARK: Structure

    /// Parses the whole file: top-level nodes; definitions land in `definitions`.
    mutating func parseFile() throws(TemplateError) -> Body {
        var nodes: [Node] = []
        while current.kind != .eof {
            if current.kind == .leftDelim, tokens[i + 1].kind == .keywordDefine {
                let line = current.line
                i += 2
                try parseDefinition(line: line)
                continue
            }
            switch try textOrAction() {
            case .node(let node): nodes.append(node)
            case .end(let line): throw error("unexpected {{end}}: no block is open", line: line)
            case .elseClause(let line): throw error("unexpected {{else}}: no {{if}}, {{with}} or {{range}} is open", line: line)
            }
        }
        return Body(nodes: nodes, slotCount: slotCount, source: bytes)
    }

    private mutating func withFreshScope<T>(_ body: (inout Parser) throws(TemplateError) -> T) throws(TemplateError) -> T {
        let saved = (scope, slotCount, rangeDepth)
        scope = [("$", 0)]
        slotCount = 1
        rangeDepth = 0
        defer { (scope, slotCount, rangeDepth) = saved }
        return try body(&self)
    }

    private mutating func parseDefinition(line: Int) throws(TemplateError) {
        let name = try templateName(in: "define clause")
        try expect(.rightDelim, in: "define clause")
        let body = try withFreshScope { (p: inout Parser) throws(TemplateError) -> Body in
            let (nodes, terminator) = try p.itemList(context: "define", openedAt: line)
            if case .elseClause(let elseLine) = terminator {
                throw p.error("unexpected {{else}} in {{define \(GoFormat.quote(name))}}", line: elseLine)
            }
            return Body(nodes: nodes, slotCount: p.slotCount, source: p.bytes)
        }
        try register(Definition(name: name, body: body, file: file, line: line))
    }

    /// Go's rule inside one source: a second non-empty definition of a name is an error; an empty one
    /// never replaces a non-empty one.
    private mutating func register(_ definition: Definition) throws(TemplateError) {
        if let existing = definitions[definition.name] {
            if definition.body.isBlank { return }
            if !existing.body.isBlank {
                throw error(
                    "template \(GoFormat.quote(definition.name)) is defined twice (first at line \(existing.line))",
                    line: definition.line)
            }
        }
        definitions[definition.name] = definition
    }

    private mutating func templateName(in context: String) throws(TemplateError) -> String {
        let t = current
        guard t.kind == .string || t.kind == .rawString else {
            throw error("\(context): the template name must be a quoted string, found \(describe(t))", line: t.line)
        }
        advance()
        return try stringLiteral(t)
    }

    private mutating func textOrAction() throws(TemplateError) -> Item {
        let t = current
        switch t.kind {
        case .text:
            advance()
            return .node(.text(TextChunk(start: t.start, end: t.end, line: t.line)))
        case .leftDelim:
            advance()
            return try action(line: t.line)
        default:
            throw unexpected(t, in: "input")
        }
    }

    private mutating func action(line: Int) throws(TemplateError) -> Item {
        let t = current
        switch t.kind {
        case .keywordBlock:
            advance()
            return .node(try blockControl(line: line))
        case .keywordBreak, .keywordContinue:
            let word = t.kind == .keywordBreak ? "break" : "continue"
            advance()
            try expect(.rightDelim, in: "{{\(word)}}")
            guard rangeDepth > 0 else { throw error("{{\(word)}} outside {{range}}", line: t.line) }
            return .node(t.kind == .keywordBreak ? .breakLoop : .continueLoop)
        case .keywordElse:
            advance()
            if current.kind == .keywordIf || current.kind == .keywordWith { return .elseClause(line: t.line) }
            try expect(.rightDelim, in: "{{else}}")
            return .elseClause(line: t.line)
        case .keywordEnd:
            advance()
            try expect(.rightDelim, in: "{{end}}")
            return .end(line: t.line)
        case .keywordIf:
            advance()
            return .node(.conditional(try control("if", line: line, openedAt: line)))
        case .keywordWith:
            advance()
            return .node(.with(try control("with", line: line, openedAt: line)))
        case .keywordRange:
            advance()
            let c = try control("range", line: line, openedAt: line)
            return .node(.range(Loop(pipeline: c.pipeline, body: c.body, elseBody: c.elseBody)))
        case .keywordTemplate:
            advance()
            let name = try templateName(in: "template clause")
            if current.kind == .rightDelim {
                advance()
                return .node(.template(TemplateCall(name: name, pipeline: nil, line: line)))
            }
            let pipeline = try self.pipeline(context: "template clause", end: .rightDelim)
            return .node(.template(TemplateCall(name: name, pipeline: pipeline, line: line)))
        case .keywordDefine:
            throw error("{{define}} is only allowed at the top level, not inside another action", line: t.line)
        default:
            return .node(.action(try pipeline(context: "command", end: .rightDelim)))
        }
    }

    /// Nodes up to `{{end}}` or `{{else}}`; the end of input means the block opened at `openedAt` is unclosed.
    private mutating func itemList(context: String, openedAt: Int) throws(TemplateError) -> ([Node], Item) {
        var nodes: [Node] = []
        while true {
            if current.kind == .eof {
                throw error("unclosed {{\(context)}}: no matching {{end}} before the end of the file", line: openedAt)
            }
            let item = try textOrAction()
            switch item {
            case .node(let node): nodes.append(node)
            case .end, .elseClause: return (nodes, item)
            }
        }
    }

    private mutating func control(_ context: String, line: Int, openedAt: Int) throws(TemplateError) -> Conditional {
        try enterNesting(line: line)
        defer { nesting -= 1 }
        let mark = scope.count
        defer { scope.removeSubrange(mark...) }
        let pipeline = try self.pipeline(context: context, end: .rightDelim)
        if context == "range" { rangeDepth += 1 }
        let (body, terminator) = try itemList(context: context, openedAt: openedAt)
        if context == "range" { rangeDepth -= 1 }
        var elseBody: [Node] = []
        if case .elseClause(let elseLine) = terminator {
            if context == "if", current.kind == .keywordIf {
                advance()
                elseBody = [.conditional(try control("if", line: elseLine, openedAt: openedAt))]
            } else if context == "with", current.kind == .keywordWith {
                advance()
                elseBody = [.with(try control("with", line: elseLine, openedAt: openedAt))]
            } else {
                if current.kind == .keywordIf || current.kind == .keywordWith {
                    throw error("{{else \(text(current))}} is not allowed in {{\(context)}}", line: elseLine)
                }
                let (nodes, second) = try itemList(context: context, openedAt: openedAt)
                if case .elseClause(let secondLine) = second {
                    throw error("a second {{else}} in one {{\(context)}}: expected {{end}}", line: secondLine)
                }
                elseBody = nodes
            }
        }
        return Conditional(pipeline: pipeline, body: body, elseBody: elseBody)
    }

    private mutating func blockControl(line: Int) throws(TemplateError) -> Node {
        try enterNesting(line: line)
        defer { nesting -= 1 }
        let name = try templateName(in: "block clause")
        let pipeline = try self.pipeline(context: "block clause", end: .rightDelim)
        let body = try withFreshScope { (p: inout Parser) throws(TemplateError) -> Body in
            let (nodes, terminator) = try p.itemList(context: "block", openedAt: line)
            if case .elseClause(let elseLine) = terminator {
                throw p.error("unexpected {{else}} in {{block \(GoFormat.quote(name))}}", line: elseLine)
            }
            return Body(nodes: nodes, slotCount: p.slotCount, source: p.bytes)
        }
        try register(Definition(name: name, body: body, file: file, line: line))
        return .template(TemplateCall(name: name, pipeline: pipeline, line: line))
    }

    // MARK: Pipelines

    private mutating func pipeline(context: String, end: Token.Kind) throws(TemplateError) -> Pipeline {
        let first = current
        var names: [Token] = []
        var isAssignment = false
        while current.kind == .variable {
            let after = tokens[i + 1]
            if after.kind == .declare || after.kind == .assign {
                names.append(current)
                isAssignment = after.kind == .assign
                i += 2
                break
            }
            if after.kind == .comma {
                guard context == "range" else {
                    throw error("only {{range}} can declare two variables", line: after.line)
                }
                guard names.isEmpty else { throw error("too many declarations in {{range}}", line: after.line) }
                names.append(current)
                i += 2
                guard current.kind == .variable else {
                    throw error("range can only initialize variables, found \(describe(current))", line: current.line)
                }
                continue
            }
            if !names.isEmpty {
                throw error("expected \":=\" or \"=\" after \(describe(current))", line: current.line)
            }
            break
        }

        var commands: [Command] = []
        var endedWithPipe = false
        while true {
            let t = current
            if t.kind == end {
                if endedWithPipe { throw error("missing command after \"|\"", line: t.line) }
                break
            }
            switch t.kind {
            case .bool, .char, .dot, .field, .identifier, .number, .nilValue, .rawString, .string, .variable, .leftParen:
                let (command, pipe) = try self.command(end: end, stage: commands.count + 1)
                commands.append(command)
                endedWithPipe = pipe
            default:
                throw unexpected(t, in: context)
            }
        }
        let lastEnd = i > 0 ? tokens[i - 1].end : first.start
        advance()  // the end token
        guard !commands.isEmpty else { throw error("missing value for \(context)", line: first.line) }

        var slots: [Int] = []
        for variable in names {
            let name = text(variable)
            if isAssignment {
                guard let slot = lookup(name) else {
                    throw error("undefined variable \(GoFormat.quote(name))", line: variable.line)
                }
                slots.append(slot)
            } else {
                let slot = slotCount
                slotCount += 1
                scope.append((name, slot))
                slots.append(slot)
            }
        }
        return Pipeline(
            line: first.line, sourceRange: first.start..<max(first.start, lastEnd), declarations: slots,
            commands: commands)
    }

    /// One command; returns it and whether it ended with `|`.
    private mutating func command(end: Token.Kind, stage: Int) throws(TemplateError) -> (Command, Bool) {
        let line = current.line
        let headStart = current.start
        var operands: [Expression] = []
        var headEnd = headStart
        var endedWithPipe = false
        while true {
            guard let operand = try operand() else { throw unexpected(current, in: "operand") }
            if operands.isEmpty { headEnd = tokens[i - 1].end }
            operands.append(operand)
            let t = current
            if t.kind == end { break }
            if t.kind == .pipe {
                advance()
                endedWithPipe = true
                break
            }
            if t.spaceBefore { continue }
            throw unexpected(t, in: "operand")
        }
        let head = operands[0]
        if case .function(let function) = head {
            operands.removeFirst()
            return (Command(head: .function(function), arguments: operands, line: line), endedWithPipe)
        }
        if case .literal(.value(.null)) = head, operands.count == 1, stage == 1 {
            throw error("nil is not a command", line: line)
        }
        let headText = String(decoding: bytes[headStart..<headEnd], as: UTF8.self)
        if operands.count > 1 {
            throw error("can't give arguments to non-function \(headText)", line: line)
        }
        if stage > 1 {
            throw error("can't pipe into non-function \(headText) (pipeline stage \(stage))", line: line)
        }
        return (Command(head: .operand(head), arguments: [], line: line), endedWithPipe)
    }

    private mutating func operand() throws(TemplateError) -> Expression? {
        let t = current
        var expression: Expression
        switch t.kind {
        case .identifier:
            let name = text(t)
            guard let function = Builtin.byName[name] else {
                throw error(Builtin.undefinedMessage(name), line: t.line)
            }
            advance()
            expression = .function(function)
        case .dot:
            advance()
            expression = .dot
        case .nilValue:
            advance()
            expression = .literal(.null)
        case .variable:
            let name = text(t)
            guard let slot = lookup(name) else {
                throw error("undefined variable \(GoFormat.quote(name))", line: t.line)
            }
            advance()
            expression = .variable(slot: slot, name: name, fields: [])
        case .field:
            advance()
            expression = .field([String(decoding: bytes[(t.start + 1)..<t.end], as: UTF8.self)])
        case .bool:
            advance()
            expression = .literal(.value(.bool(bytes[t.start] == 0x74)))
        case .number:
            advance()
            expression = .literal(.value(try number(t)))
        case .char:
            advance()
            expression = .literal(.value(.int(try character(t))))
        case .string, .rawString:
            advance()
            expression = .literal(.value(.string(try stringLiteral(t))))
        case .leftParen:
            try enterNesting(line: t.line)
            defer { nesting -= 1 }
            advance()
            expression = .pipeline(try pipeline(context: "parenthesized pipeline", end: .rightParen))
        default:
            return nil
        }
        guard current.kind == .field, !current.spaceBefore else { return expression }
        if case .field(var names) = expression {
            // The common `.Values.a.b`: one array for the whole chain.
            while current.kind == .field, !current.spaceBefore {
                names.append(String(decoding: bytes[(current.start + 1)..<current.end], as: UTF8.self))
                advance()
            }
            return .field(names)
        }
        var fields: [String] = []
        while current.kind == .field, !current.spaceBefore {
            fields.append(String(decoding: bytes[(current.start + 1)..<current.end], as: UTF8.self))
            advance()
        }
        if !fields.isEmpty {
            switch expression {
            case .field(let names):
                expression = .field(names + fields)
            case .variable(let slot, let name, _):
                expression = .variable(slot: slot, name: name, fields: fields)
            case .pipeline(let pipeline):
                let receiver = String(decoding: bytes[t.start..<tokens[i - 1 - fields.count].end], as: UTF8.self)
                expression = .chain(pipeline, fields: fields, text: receiver)
            case .function:
                throw error("can't take a field of function \(text(t)): use parentheses, as in (\(text(t)) …).field", line: t.line)
            default:
                throw error("unexpected field after \(GoFormat.quote(text(t)))", line: t.line)
            }
        }
        return expression
    }

    // MARK: Literals

    /// Go's number constants: an integer unless the text has a fraction or exponent (hex without `p` is an integer).
    private func number(_ t: Token) throws(TemplateError) -> Value {
        let raw = text(t)
        let clean = String(raw.unicodeScalars.filter { $0 != "_" })
        var body = Substring(clean)
        var negative = false
        if body.first == "+" || body.first == "-" {
            negative = body.first == "-"
            body = body.dropFirst()
        }
        let lower = body.lowercased()
        let isHex = lower.hasPrefix("0x")
        let isFloat = isHex ? lower.contains("p") : lower.contains(where: { $0 == "." || $0 == "e" })
        if !isFloat {
            var digits = Substring(lower)
            var radix = 10
            if lower.hasPrefix("0x") {
                radix = 16
                digits = digits.dropFirst(2)
            } else if lower.hasPrefix("0o") {
                radix = 8
                digits = digits.dropFirst(2)
            } else if lower.hasPrefix("0b") {
                radix = 2
                digits = digits.dropFirst(2)
            } else if lower.hasPrefix("0"), lower.count > 1 {
                radix = 8
                digits = digits.dropFirst()
            }
            if !digits.isEmpty, let value = Int((negative ? "-" : "") + digits, radix: radix) {
                return .int(value)
            }
            if !digits.isEmpty, digits.allSatisfy({ ($0.hexDigitValue ?? radix) < radix }) {
                throw error("number \(raw) does not fit in a 64-bit integer", line: t.line)
            }
            throw error("bad number syntax: \(GoFormat.quote(raw))", line: t.line)
        }
        var floatText = clean
        if floatText.hasSuffix(".") { floatText += "0" }
        if floatText.hasPrefix(".") || floatText.hasPrefix("-.") || floatText.hasPrefix("+.") {
            floatText = floatText.replacingFirstDot()
        }
        guard let value = Double(floatText) else {
            throw error("bad number syntax: \(GoFormat.quote(raw))", line: t.line)
        }
        return .double(value)
    }

    private func character(_ t: Token) throws(TemplateError) -> Int {
        let content = try unescape(t, from: t.start + 1, to: t.end - 1, quote: 0x27)
        let scalars = String(decoding: content, as: UTF8.self).unicodeScalars
        guard scalars.count == 1, let scalar = scalars.first else {
            throw error("malformed character constant: \(text(t))", line: t.line)
        }
        return Int(scalar.value)
    }

    private func stringLiteral(_ t: Token) throws(TemplateError) -> String {
        if t.kind == .rawString {
            return String(decoding: bytes[(t.start + 1)..<(t.end - 1)], as: UTF8.self)
        }
        let content = bytes[(t.start + 1)..<(t.end - 1)]
        if !content.contains(0x5C) { return String(decoding: content, as: UTF8.self) }
        return String(decoding: try unescape(t, from: t.start + 1, to: t.end - 1, quote: 0x22), as: UTF8.self)
    }

    /// Go's escapes: `\a \b \f \n \r \t \v \\ \" \'`, `\xHH`, `\NNN` (octal), `\uHHHH`, `\UHHHHHHHH`.
    private func unescape(_ t: Token, from start: Int, to end: Int, quote: UInt8) throws(TemplateError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(end - start)
        var p = start
        func bad() -> TemplateError { error("invalid escape in \(text(t))", line: t.line) }
        func hexValue(_ count: Int) throws(TemplateError) -> UInt32 {
            guard p + count <= end else { throw bad() }
            var value: UInt32 = 0
            for k in 0..<count {
                guard let digit = hexDigit(bytes[p + k]) else { throw bad() }
                value = value * 16 + digit
            }
            p += count
            return value
        }
        while p < end {
            let b = bytes[p]
            p += 1
            guard b == 0x5C else {
                out.append(b)
                continue
            }
            guard p < end else { throw bad() }
            let e = bytes[p]
            p += 1
            switch e {
            case 0x61: out.append(0x07)  // a
            case 0x62: out.append(0x08)  // b
            case 0x66: out.append(0x0C)  // f
            case 0x6E: out.append(0x0A)  // n
            case 0x72: out.append(0x0D)  // r
            case 0x74: out.append(0x09)  // t
            case 0x76: out.append(0x0B)  // v
            case 0x5C: out.append(0x5C)
            case quote: out.append(quote)
            case 0x78:  // x
                out.append(UInt8(try hexValue(2)))
            case 0x30...0x37:  // octal
                guard p + 2 <= end else { throw bad() }
                var value = UInt32(e - 0x30)
                for k in 0..<2 {
                    let d = bytes[p + k]
                    guard d >= 0x30, d <= 0x37 else { throw bad() }
                    value = value * 8 + UInt32(d - 0x30)
                }
                p += 2
                guard value <= 255 else { throw bad() }
                out.append(UInt8(value))
            case 0x75, 0x55:  // u U
                let value = try hexValue(e == 0x75 ? 4 : 8)
                guard let scalar = Unicode.Scalar(value) else { throw bad() }
                out.append(contentsOf: String(Character(scalar)).utf8)
            default:
                throw bad()
            }
        }
        return out
    }

    private func hexDigit(_ b: UInt8) -> UInt32? {
        switch b {
        case 0x30...0x39: return UInt32(b - 0x30)
        case 0x61...0x66: return UInt32(b - 0x61 + 10)
        case 0x41...0x46: return UInt32(b - 0x41 + 10)
        default: return nil
        }
    }
}

extension String {
    /// ".5" → "0.5", "-.5" → "-0.5" (Swift's `Double(_:)` wants a leading digit).
    fileprivate func replacingFirstDot() -> String {
        if hasPrefix(".") { return "0" + self }
        return String(prefix(1)) + "0" + dropFirst()
    }
}
