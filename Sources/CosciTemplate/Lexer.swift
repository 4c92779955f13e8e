/// One lexical item of a template source. `start..<end` are byte offsets into the source.
struct Token {
    enum Kind: UInt8 {
        case text, leftDelim, rightDelim
        case identifier, field, variable, dot
        case string, rawString, char, number, bool, nilValue
        case leftParen, rightParen, pipe, declare, assign, comma, other
        case keywordBlock, keywordBreak, keywordContinue, keywordDefine, keywordElse, keywordEnd
        case keywordIf, keywordRange, keywordTemplate, keywordWith
        case eof
    }
    let kind: Kind
    let start: Int
    let end: Int
    /// 1-based line of the token's first byte.
    let line: Int
    /// Whether white space separates this token from the previous one inside an action.
    let spaceBefore: Bool
}

/// Splits a template source into tokens, Go's `text/template/parse` lexer on UTF-8 bytes.
///
/// Trim markers (`{{- ` and ` -}}`) are applied here: the neighbouring text loses its adjacent white space.
/// Comments produce no token.
struct Lexer {
    private let bytes: [UInt8]
    private let file: String
    private var pos = 0
    private var line = 1
    private(set) var tokens: [Token] = []

    init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
        tokens.reserveCapacity(bytes.count / 4)
    }

    private static let openBrace: UInt8 = 0x7B  // {
    private static let closeBrace: UInt8 = 0x7D  // }
    private static let minus: UInt8 = 0x2D

    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

    /// Letters, digits, `_` and every non-ASCII byte (Unicode letters, as Go allows in identifiers).
    static func isAlphaNumeric(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x5F || b >= 0x80
    }

    private func byte(at i: Int) -> UInt8? { i < bytes.count ? bytes[i] : nil }

    private func isRightDelim(at i: Int) -> Bool { byte(at: i) == Self.closeBrace && byte(at: i + 1) == Self.closeBrace }

    /// ` -}}` at `i` (any white space byte, then `-}}`).
    private func isTrimmedRightDelim(at i: Int) -> Bool {
        guard let b = byte(at: i), Self.isSpace(b) else { return false }
        return byte(at: i + 1) == Self.minus && isRightDelim(at: i + 2)
    }

    private func error(_ message: String, line: Int) -> TemplateError {
        TemplateError(file: file, line: line, message: message)
    }

    private mutating func emit(_ kind: Token.Kind, _ start: Int, _ end: Int, line: Int, spaceBefore: Bool = false) {
        tokens.append(Token(kind: kind, start: start, end: end, line: line, spaceBefore: spaceBefore))
    }

    /// Lexes the whole source; the last token is `.eof`.
    mutating func run() throws(TemplateError) {
        var trimLeadingSpace = false
        let n = bytes.count
        while pos < n {
            // Text up to the next "{{".
            var delim = pos
            var newlines = 0
            while delim < n {
                let b = bytes[delim]
                if b == Self.openBrace, delim + 1 < n, bytes[delim + 1] == Self.openBrace { break }
                if b == 0x0A { newlines += 1 }
                delim += 1
            }
            let trimsLeft = delim < n && byte(at: delim + 2) == Self.minus && (byte(at: delim + 3).map(Self.isSpace) ?? false)
            var textStart = pos
            var textLine = line
            var textEnd = delim
            if trimLeadingSpace {
                while textStart < textEnd, Self.isSpace(bytes[textStart]) {
                    if bytes[textStart] == 0x0A { textLine += 1 }
                    textStart += 1
                }
            }
            if trimsLeft {
                while textEnd > textStart, Self.isSpace(bytes[textEnd - 1]) { textEnd -= 1 }
            }
            if textStart < textEnd { emit(.text, textStart, textEnd, line: textLine) }
            line += newlines
            pos = delim
            if pos >= n { break }

            // An action or a comment.
            let actionLine = line
            pos += 2
            if trimsLeft {
                if bytes[pos + 1] == 0x0A { line += 1 }
                pos += 2
            }
            if byte(at: pos) == 0x2F, byte(at: pos + 1) == 0x2A {  // "/*"
                trimLeadingSpace = try lexComment(openedAt: actionLine)
                continue
            }
            emit(.leftDelim, delim, pos, line: actionLine)
            trimLeadingSpace = try lexInsideAction(openedAt: actionLine)
        }
        emit(.eof, n, n, line: line)
    }

    /// Skips `/* … */` and the closing delimiter; returns whether it carried a trim marker.
    private mutating func lexComment(openedAt actionLine: Int) throws(TemplateError) -> Bool {
        pos += 2
        let n = bytes.count
        while true {
            guard pos + 1 < n else { throw error("unclosed comment", line: actionLine) }
            if bytes[pos] == 0x2A, bytes[pos + 1] == 0x2F { break }
            if bytes[pos] == 0x0A { line += 1 }
            pos += 1
        }
        pos += 2
        if isTrimmedRightDelim(at: pos) {
            if bytes[pos] == 0x0A { line += 1 }
            pos += 4
            return true
        }
        if isRightDelim(at: pos) {
            pos += 2
            return false
        }
        throw error("comment ends before closing delimiter", line: line)
    }

    /// Lexes tokens up to and including the right delimiter; returns whether it carried a trim marker.
    private mutating func lexInsideAction(openedAt actionLine: Int) throws(TemplateError) -> Bool {
        var parenDepth = 0
        var spaceBefore = false
        let n = bytes.count
        while true {
            if isRightDelim(at: pos) {
                if parenDepth > 0 { throw error("unclosed left parenthesis", line: line) }
                emit(.rightDelim, pos, pos + 2, line: line, spaceBefore: spaceBefore)
                pos += 2
                return false
            }
            guard pos < n else {
                throw error("unclosed action: no \"}}\" before the end of the file", line: actionLine)
            }
            let start = pos
            let startLine = line
            let b = bytes[pos]
            if Self.isSpace(b) {
                while pos < n, Self.isSpace(bytes[pos]) {
                    if isTrimmedRightDelim(at: pos) { break }
                    if bytes[pos] == 0x0A { line += 1 }
                    pos += 1
                }
                if isTrimmedRightDelim(at: pos) {
                    if parenDepth > 0 { throw error("unclosed left parenthesis", line: line) }
                    if bytes[pos] == 0x0A { line += 1 }
                    emit(.rightDelim, pos, pos + 4, line: line, spaceBefore: true)
                    pos += 4
                    return true
                }
                spaceBefore = true
                continue
            }
            let kind: Token.Kind
            switch b {
            case 0x3D:  // =
                pos += 1
                kind = .assign
            case 0x3A:  // :
                guard byte(at: pos + 1) == 0x3D else { throw error("expected \":=\" after \":\"", line: line) }
                pos += 2
                kind = .declare
            case 0x7C:  // |
                pos += 1
                kind = .pipe
            case 0x2C:  // ,
                pos += 1
                kind = .comma
            case 0x28:  // (
                pos += 1
                parenDepth += 1
                kind = .leftParen
            case 0x29:  // )
                pos += 1
                parenDepth -= 1
                if parenDepth < 0 { throw error("unexpected right parenthesis", line: line) }
                kind = .rightParen
            case 0x22:  // "
                try lexQuoted(closing: 0x22, what: "quoted string")
                kind = .string
            case 0x27:  // '
                try lexQuoted(closing: 0x27, what: "character constant")
                kind = .char
            case 0x60:  // `
                pos += 1
                while true {
                    guard pos < n else { throw error("unterminated raw quoted string", line: startLine) }
                    if bytes[pos] == 0x60 { break }
                    if bytes[pos] == 0x0A { line += 1 }
                    pos += 1
                }
                pos += 1
                kind = .rawString
            case 0x24:  // $
                pos += 1
                while pos < n, Self.isAlphaNumeric(bytes[pos]) { pos += 1 }
                try expectTerminator(after: start)
                kind = .variable
            case 0x2E where !(byte(at: pos + 1).map { $0 >= 0x30 && $0 <= 0x39 } ?? false):  // . not followed by a digit
                pos += 1
                while pos < n, Self.isAlphaNumeric(bytes[pos]) { pos += 1 }
                try expectTerminator(after: start)
                kind = pos - start == 1 ? .dot : .field
            case 0x2B, 0x2D, 0x2E, 0x30...0x39:  // + - . digit
                try lexNumber()
                kind = .number
            default:
                if Self.isAlphaNumeric(b) {
                    while pos < n, Self.isAlphaNumeric(bytes[pos]) { pos += 1 }
                    try expectTerminator(after: start)
                    kind = Self.keyword(bytes[start..<pos])
                } else if b >= 0x21 && b < 0x7F {
                    pos += 1
                    kind = .other
                } else {
                    throw error("unrecognized character in action: byte 0x\(String(b, radix: 16))", line: line)
                }
            }
            emit(kind, start, pos, line: startLine, spaceBefore: spaceBefore)
            spaceBefore = false
        }
    }

    private static func keyword(_ word: ArraySlice<UInt8>) -> Token.Kind {
        switch word.count {
        case 2 where word.elementsEqual("if".utf8): return .keywordIf
        case 3 where word.elementsEqual("end".utf8): return .keywordEnd
        case 3 where word.elementsEqual("nil".utf8): return .nilValue
        case 4 where word.elementsEqual("else".utf8): return .keywordElse
        case 4 where word.elementsEqual("with".utf8): return .keywordWith
        case 4 where word.elementsEqual("true".utf8): return .bool
        case 5 where word.elementsEqual("false".utf8): return .bool
        case 5 where word.elementsEqual("range".utf8): return .keywordRange
        case 5 where word.elementsEqual("block".utf8): return .keywordBlock
        case 5 where word.elementsEqual("break".utf8): return .keywordBreak
        case 6 where word.elementsEqual("define".utf8): return .keywordDefine
        case 8 where word.elementsEqual("template".utf8): return .keywordTemplate
        case 8 where word.elementsEqual("continue".utf8): return .keywordContinue
        default: return .identifier
        }
    }

    /// Go's `atTerminator`: what may follow an identifier, field or variable.
    private func expectTerminator(after start: Int) throws(TemplateError) {
        guard let b = byte(at: pos) else { return }
        if Self.isSpace(b) || isRightDelim(at: pos) { return }
        switch b {
        case 0x2E, 0x2C, 0x7C, 0x3A, 0x29, 0x28: return  // . , | : ) (
        default:
            let word = String(decoding: bytes[start..<pos], as: UTF8.self)
            let bad = String(decoding: [b], as: UTF8.self)
            throw error("bad character \(GoFormat.quote(bad)) after \(GoFormat.quote(word))", line: line)
        }
    }

    /// A quoted string or character constant; escapes are checked by the parser.
    private mutating func lexQuoted(closing: UInt8, what: String) throws(TemplateError) {
        let startLine = line
        pos += 1
        while true {
            guard pos < bytes.count, bytes[pos] != 0x0A else {
                throw error("unterminated \(what)", line: startLine)
            }
            let b = bytes[pos]
            if b == 0x5C {  // backslash
                pos += 2
                continue
            }
            pos += 1
            if b == closing { return }
        }
    }

    /// Go's `scanNumber`.
    private mutating func lexNumber() throws(TemplateError) {
        let start = pos
        func accept(_ set: String) -> Bool {
            if let b = byte(at: pos), set.utf8.contains(b) {
                pos += 1
                return true
            }
            return false
        }
        func acceptRun(_ set: String) {
            while let b = byte(at: pos), set.utf8.contains(b) { pos += 1 }
        }
        _ = accept("+-")
        var digits = "0123456789_"
        if accept("0") {
            if accept("xX") {
                digits = "0123456789abcdefABCDEF_"
            } else if accept("oO") {
                digits = "01234567_"
            } else if accept("bB") {
                digits = "01_"
            }
        }
        acceptRun(digits)
        if accept(".") { acceptRun(digits) }
        if digits.utf8.count == 11, accept("eE") {
            _ = accept("+-")
            acceptRun("0123456789_")
        }
        if digits.utf8.count == 23, accept("pP") {
            _ = accept("+-")
            acceptRun("0123456789_")
        }
        let hasDigit = bytes[start..<pos].contains { $0 >= 0x30 && $0 <= 0x39 }
        if !hasDigit || (byte(at: pos).map(Self.isAlphaNumeric) ?? false) {
            while let b = byte(at: pos), Self.isAlphaNumeric(b) { pos += 1 }
            let text = String(decoding: bytes[start..<max(pos, start + 1)], as: UTF8.self)
            throw error("bad number syntax: \(GoFormat.quote(text))", line: line)
        }
    }
}
