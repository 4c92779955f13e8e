/// The word-level string functions sprig takes from goutils (`untitle`, `initials`, `swapcase`, `wrap`) and
/// xstrings (`snakecase`, `kebabcase`, `camelcase`), with their rules.
enum StringCase {
    private static func isSpace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace }
    private static func isUpper(_ c: Unicode.Scalar) -> Bool { c.properties.isUppercase && c.properties.generalCategory == .uppercaseLetter }
    private static func isLower(_ c: Unicode.Scalar) -> Bool { c.properties.generalCategory == .lowercaseLetter }
    private static func isTitle(_ c: Unicode.Scalar) -> Bool { c.properties.generalCategory == .titlecaseLetter }
    private static func isLetter(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }
    private static func isNumber(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }
    private static func isPunct(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
            .finalPunctuation, .otherPunctuation:
            return true
        default: return false
        }
    }
    private static func lower(_ c: Unicode.Scalar) -> String { c.properties.lowercaseMapping }
    private static func upper(_ c: Unicode.Scalar) -> String { c.properties.uppercaseMapping }
    private static func title(_ c: Unicode.Scalar) -> String { c.properties.titlecaseMapping }

    /// goutils `Uncapitalize`: the first letter of each space-separated word lower-cased.
    static func uncapitalize(_ s: String) -> String {
        var out = ""
        var next = true
        for c in s.unicodeScalars {
            if isSpace(c) {
                next = true
                out.unicodeScalars.append(c)
            } else if next {
                out += lower(c)
                next = false
            } else {
                out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// goutils `Initials`: the first byte of each space-separated word (bytes, as goutils reads them).
    static func initials(_ s: String) -> String {
        var out = ""
        var gap = true
        for byte in s.utf8 {
            let c = Unicode.Scalar(byte)
            if isSpace(c) {
                gap = true
            } else if gap {
                out.unicodeScalars.append(c)
                gap = false
            }
        }
        return out
    }

    /// goutils `SwapCase`: upper and title case to lower; lower to title after a space, else to upper.
    static func swapCase(_ s: String) -> String {
        var out = ""
        var whitespace = true
        for c in s.unicodeScalars {
            if isUpper(c) || isTitle(c) {
                out += lower(c)
                whitespace = false
            } else if isLower(c) {
                out += whitespace ? title(c) : upper(c)
                whitespace = false
            } else {
                out.unicodeScalars.append(c)
                whitespace = isSpace(c)
            }
        }
        return out
    }

    /// goutils `WrapCustom`, on bytes.
    static func wrap(_ s: String, width: Int, newline: String, wrapLongWords: Bool) -> String {
        let str = Array(s.utf8)
        if str.isEmpty { return "" }
        let newLine = Array((newline.isEmpty ? "\n" : newline).utf8)
        let wrapLength = max(1, width)
        var offset = 0
        var out: [UInt8] = []
        while str.count - offset > wrapLength {
            if str[offset] == 0x20 {
                offset += 1
                continue
            }
            let end = min(wrapLength + offset + 1, str.count)
            if let space = str[offset..<end].lastIndex(of: 0x20), space >= offset {
                out += str[offset..<space] + newLine
                offset = space + 1
            } else if wrapLongWords {
                out += str[offset..<(offset + wrapLength)] + newLine
                offset += wrapLength
            } else if let space = str[(wrapLength + offset)...].firstIndex(of: 0x20) {
                out += str[offset..<space] + newLine
                offset = space + 1
            } else {
                out += str[offset...]
                offset = str.count
            }
        }
        if offset < str.count { out += str[offset...] }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isConnector(_ c: Unicode.Scalar) -> Bool { c == "-" || c == "_" || isSpace(c) }
    private static func isAlphabet(_ c: Unicode.Scalar) -> Bool { isLetter(c) }

    /// xstrings `ToCamelCase`: words separated by spaces, `_` and `-` joined, each capitalised.
    static func camelCase(_ s: String) -> String {
        let scalars = Array(s.unicodeScalars)
        if scalars.isEmpty { return "" }
        var out = ""
        var k = 0
        var r0: Unicode.Scalar = " "
        var upperFirst = ""
        while k < scalars.count {
            r0 = scalars[k]
            k += 1
            if !isConnector(r0) {
                upperFirst = upper(r0)
                break
            }
            out.unicodeScalars.append(r0)
        }
        if k >= scalars.count {
            // As xstrings does: the last rune is written again, even a connector already written.
            return out + (upperFirst.isEmpty ? String(r0) : upperFirst)
        }
        var current = upperFirst
        var r1: Unicode.Scalar
        while k < scalars.count {
            r1 = r0
            let previous = current
            r0 = scalars[k]
            k += 1
            if isConnector(r0) && isConnector(r1) {
                out += previous
                current = String(r0)
                continue
            }
            if isConnector(r1) {
                current = upper(r0)
            } else {
                current = lower(r0)
                out += previous
            }
        }
        return out + current
    }

    private enum Word { case invalid, number, upperCase, alphabet, connector, punct, other }

    /// xstrings' `nextWord`.
    private static func nextWord(_ s: ArraySlice<Unicode.Scalar>) -> (Word, ArraySlice<Unicode.Scalar>, ArraySlice<Unicode.Scalar>) {
        guard let first = s.first else { return (.invalid, [], []) }
        var i = s.startIndex + 1
        let kind: Word
        func advance(while condition: (Unicode.Scalar) -> Bool) {
            while i < s.endIndex, condition(s[i]) { i += 1 }
        }
        if isConnector(first) {
            kind = .connector
            advance(while: isConnector)
        } else if isPunct(first) {
            kind = .punct
            advance(while: isPunct)
        } else if isUpper(first) {
            kind = .upperCase
            if i < s.endIndex {
                if isUpper(s[i]) {
                    advance(while: isUpper)
                    // "HTTPStatus": "HTTP" and "Status".
                    if i < s.endIndex, isAlphabet(s[i]) { i -= 1 }
                } else if isAlphabet(s[i]) {
                    advance { isAlphabet($0) && !isUpper($0) }
                }
            }
        } else if isAlphabet(first) {
            kind = .alphabet
            advance { isAlphabet($0) && !isUpper($0) }
        } else if isNumber(first) {
            kind = .number
            advance(while: isNumber)
        } else {
            kind = .other
            advance { !(isConnector($0) || isAlphabet($0) || isNumber($0) || isPunct($0)) }
        }
        return (kind, s[s.startIndex..<i], s[i...])
    }

    private static func lowered(_ kind: Word, _ word: ArraySlice<Unicode.Scalar>, _ connector: Unicode.Scalar, into out: inout String) {
        guard kind == .upperCase || kind == .connector else {
            out.unicodeScalars.append(contentsOf: word)
            return
        }
        for c in word {
            if isConnector(c) { out.unicodeScalars.append(connector) } else if isUpper(c) { out += lower(c) } else { out.unicodeScalars.append(c) }
        }
    }

    /// xstrings' `camelCaseToLowerCase` (`ToSnakeCase` with `_`, `ToKebabCase` with `-`).
    static func lowerCaseWords(_ s: String, connector: Unicode.Scalar) -> String {
        let all = ArraySlice(Array(s.unicodeScalars))
        if all.isEmpty { return "" }
        var out = ""
        var (kind, word, remaining) = nextWord(all)
        while !remaining.isEmpty {
            if kind != .connector { lowered(kind, word, connector, into: &out) }
            let previous = kind
            let last = word
            (kind, word, remaining) = nextWord(remaining)
            switch previous {
            case .number:
                while kind == .alphabet || kind == .number {
                    lowered(kind, word, connector, into: &out)
                    (kind, word, remaining) = nextWord(remaining)
                }
                if kind != .invalid && kind != .punct { out.unicodeScalars.append(connector) }
            case .connector:
                lowered(previous, last, connector, into: &out)
            case .punct:
                break
            default:
                if kind != .number {
                    if kind != .connector && kind != .punct { out.unicodeScalars.append(connector) }
                    break
                }
                if remaining.isEmpty { break }
                let number = word
                (kind, word, remaining) = nextWord(remaining)
                // "Bld4Floor" → "bld4_floor": the number belongs to the word before.
                if kind != .alphabet {
                    lowered(.number, number, connector, into: &out)
                    if kind != .connector && kind != .punct { out.unicodeScalars.append(connector) }
                    break
                }
                // "HTTP2xx" → "http_2xx".
                out.unicodeScalars.append(connector)
                lowered(.number, number, connector, into: &out)
                while kind == .alphabet || kind == .number {
                    lowered(kind, word, connector, into: &out)
                    (kind, word, remaining) = nextWord(remaining)
                }
                if kind != .invalid && kind != .connector && kind != .punct { out.unicodeScalars.append(connector) }
            }
        }
        lowered(kind, word, connector, into: &out)
        return out
    }
}
