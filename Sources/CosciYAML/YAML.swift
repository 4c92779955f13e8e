import CosciModel
import Foundation


/// A YAML document that cannot become a `Value`: a non-scalar map key, a bad merge key, an unresolved alias.
public struct YAMLValueError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The 1-based line of the offending node, when known.
    public let line: Int?
    /// What is wrong.
    public let message: String

    /// Creates an error at `line`.
    public init(line: Int?, message: String) {
        self.line = line
        self.message = message
    }

    /// `line N: message`, or the message alone.
    public var description: String { line.map { "line \($0): \(message)" } ?? message }
}

extension Value {
    /// Converts a composed YAML node: plain scalars are typed as YAML 1.1 does (`yes`/`on` are booleans,
    /// `0755` is octal, `~` is null; see `YAMLScalar`), explicitly tagged scalars by their tag, and merge keys
    /// `<<: *a` or `<<: [*a, *b]` are resolved: explicit keys win over merged ones, and an earlier merged map
    /// wins over a later one.
    public init(yaml node: YAMLNode) throws(YAMLValueError) {
        switch node {
        case .scalar(let scalar):
            self = Value.scalar(scalar)
        case .sequence(let sequence, _):
            var items: [Value] = []
            items.reserveCapacity(sequence.count)
            for item in sequence { items.append(try Value(yaml: item)) }
            self = .list(items)
        case .mapping(let pairs, _):
            var map: [String: Value] = [:]
            map.reserveCapacity(pairs.count)
            var merged: [String: Value] = [:]
            for pair in pairs {
                guard case .scalar(let keyScalar) = pair.key else {
                    throw YAMLValueError(line: pair.key.line, message: "a map key must be a scalar")
                }
                if keyScalar.isMergeKey {
                    let sources: [YAMLNode]
                    switch pair.value {
                    case .mapping: sources = [pair.value]
                    case .sequence(let sequence, _): sources = sequence
                    default:
                        throw YAMLValueError(line: pair.value.line, message: "a merge key (<<) needs a map or a list of maps")
                    }
                    for source in sources {
                        guard case .mapping = source, case .map(let entries) = try Value(yaml: source) else {
                            throw YAMLValueError(line: source.line, message: "a merge key (<<) list may only hold maps")
                        }
                        for (k, v) in entries where merged[k] == nil { merged[k] = v }
                    }
                } else {
                    map[keyScalar.text] = try Value(yaml: pair.value)
                }
            }
            for (k, v) in merged where map[k] == nil { map[k] = v }
            self = .map(map)
        }
    }

    private static func scalar(_ scalar: YAMLNode.Scalar) -> Value {
        guard let tag = scalar.tag else {
            return scalar.style == .plain ? YAMLScalar.resolve(plain: scalar.text) : .string(scalar.text)
        }
        let typed = YAMLScalar.resolve(plain: scalar.text)
        switch tag {
        case "tag:yaml.org,2002:null": return .null
        case "tag:yaml.org,2002:bool": if case .bool = typed { return typed }
        case "tag:yaml.org,2002:int": if case .int = typed { return typed }
        case "tag:yaml.org,2002:float":
            switch typed {
            case .double: return typed
            case .int(let i): return .double(Double(i))
            default: break
            }
        default: break
        }
        return .string(scalar.text)
    }

    /// Block-style YAML as Go's yaml.v2 `Marshal` writes it: map keys sorted by UTF-8 bytes, lists at their
    /// key's indentation, multi-line strings as literal blocks, strings quoted only when they would read back
    /// as something else. Ends with a newline.
    public func yamlText() -> String {
        var writer = YAMLWriter()
        writer.document(self)
        return writer.out
    }
}

/// The emitter behind `Value.yamlText()`; quoting follows libyaml's scalar analysis.
struct YAMLWriter {
    var out = ""

    mutating func document(_ value: Value) {
        switch value {
        case .map(let m) where !m.isEmpty:
            mapping(value.sortedEntries ?? [], indent: 0, inline: false)
        case .list(let items) where !items.isEmpty:
            sequence(items, indent: 0, inline: false)
        case .string(let s) where Self.style(of: s, isKey: false) == .literal:
            literal(s, indent: 2)
        default:
            out += Self.inline(value)
            out += "\n"
        }
    }

    private mutating func spaces(_ n: Int) {
        out += String(repeating: " ", count: n)
    }

    /// Entries at `indent`; with `inline`, the first one continues the current line (after `- `).
    private mutating func mapping(_ entries: [(key: String, value: Value)], indent: Int, inline: Bool) {
        for (k, entry) in entries.enumerated() {
            if !(inline && k == 0) { spaces(indent) }
            out += Self.scalarText(entry.key, isKey: true)
            out += ":"
            switch entry.value {
            case .map(let m) where !m.isEmpty:
                out += "\n"
                mapping(entry.value.sortedEntries ?? [], indent: indent + 2, inline: false)
            case .list(let items) where !items.isEmpty:
                out += "\n"
                sequence(items, indent: indent, inline: false)
            case .string(let s) where Self.style(of: s, isKey: false) == .literal:
                out += " "
                literal(s, indent: indent + 2)
            default:
                out += " "
                out += Self.inline(entry.value)
                out += "\n"
            }
        }
    }

    private mutating func sequence(_ items: [Value], indent: Int, inline: Bool) {
        for (k, item) in items.enumerated() {
            if !(inline && k == 0) { spaces(indent) }
            out += "-"
            switch item {
            case .map(let m) where !m.isEmpty:
                out += " "
                mapping(item.sortedEntries ?? [], indent: indent + 2, inline: true)
            case .list(let nested) where !nested.isEmpty:
                out += " "
                sequence(nested, indent: indent + 2, inline: true)
            case .string(let s) where Self.style(of: s, isKey: false) == .literal:
                out += " "
                literal(s, indent: indent + 2)
            default:
                out += " "
                out += Self.inline(item)
                out += "\n"
            }
        }
    }

    /// `|`, `|-` or `|+` (with an indentation indicator when the text starts with a space or newline), then
    /// the lines at `indent`; empty lines stay empty.
    private mutating func literal(_ s: String, indent: Int) {
        let bytes = Array(s.utf8)
        out += "|"
        if let first = bytes.first, first == 0x20 || first == 0x0A { out += "2" }
        let trailingBreaks = bytes.reversed().prefix(while: { $0 == 0x0A }).count
        if trailingBreaks == 0 {
            out += "-"
        } else if trailingBreaks > 1 || trailingBreaks == bytes.count {
            out += "+"
        }
        out += "\n"
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        if trailingBreaks > 0 { lines.removeLast() }
        for line in lines {
            if !line.isEmpty {
                spaces(indent)
                out += String(decoding: line, as: UTF8.self)
            }
            out += "\n"
        }
    }

    static func inline(_ value: Value) -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d):
            if d.isNaN { return ".nan" }
            if d.isInfinite { return d < 0 ? "-.inf" : ".inf" }
            return GoFloat.format(d)
        case .string(let s): return scalarText(s, isKey: false)
        case .list: return "[]"
        case .map: return "{}"
        }
    }

    enum Style { case plain, singleQuoted, doubleQuoted, literal }

    static func scalarText(_ s: String, isKey: Bool) -> String {
        switch style(of: s, isKey: isKey) {
        case .plain: return s
        case .singleQuoted: return "'" + s.replacingOccurrences(of: "'", with: "''") + "'"
        case .doubleQuoted, .literal: return doubleQuoted(s)
        }
    }

    /// yaml.v2: strings with a newline ask for a literal block, strings that would resolve to another type for
    /// double quotes, others for plain style; libyaml then downgrades what the text does not allow.
    static func style(of s: String, isKey: Bool) -> Style {
        let analysis = Analysis(s)
        if analysis.otherBreaks { return .doubleQuoted }
        if s.utf8.contains(0x0A) {
            return !isKey && analysis.blockAllowed ? .literal : .doubleQuoted
        }
        if resolvesToNonString(s) { return .doubleQuoted }
        if analysis.blockPlainAllowed, !s.isEmpty { return .plain }
        return analysis.singleQuotedAllowed ? .singleQuoted : .doubleQuoted
    }

    /// Whether a plain scalar with this text would read back as something other than a string.
    static func resolvesToNonString(_ s: String) -> Bool {
        if s.isEmpty { return true }
        switch s {
        case "y", "Y", "n", "N", "<<", "=": return true
        default: break
        }
        return YAMLScalar.isNonString(plain: s)
    }

    /// libyaml's `yaml_emitter_analyze_scalar`, for block context.
    struct Analysis {
        var blockPlainAllowed = true
        var singleQuotedAllowed = true
        var blockAllowed = true
        /// Line breaks other than `\n` (`\r`, NEL, LS, PS): a reader would normalize them, so they are escaped.
        var otherBreaks = false

        init(_ s: String) {
            let scalars = Array(s.unicodeScalars)
            guard !scalars.isEmpty else {
                blockAllowed = false
                return
            }
            var blockIndicators = false
            var leadingSpace = false, leadingBreak = false, trailingSpace = false, trailingBreak = false
            var breakSpace = false, spaceBreak = false, previousSpace = false, previousBreak = false
            var lineBreaks = false, specialCharacters = false
            if s.hasPrefix("---") || s.hasPrefix("...") { blockIndicators = true }
            var precededByWhitespace = true
            for (k, c) in scalars.enumerated() {
                let next: Unicode.Scalar? = k + 1 < scalars.count ? scalars[k + 1] : nil
                let followedByWhitespace = next.map { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" } ?? true
                if k == 0 {
                    switch c {
                    case "#", ",", "[", "]", "{", "}", "&", "*", "!", "|", ">", "'", "\"", "%", "@", "`":
                        blockIndicators = true
                    case "?", ":":
                        if followedByWhitespace { blockIndicators = true }
                    case "-":
                        if followedByWhitespace { blockIndicators = true }
                    default: break
                    }
                } else {
                    switch c {
                    case ":":
                        if followedByWhitespace { blockIndicators = true }
                    case "#":
                        if precededByWhitespace { blockIndicators = true }
                    default: break
                    }
                }
                if !Self.isPrintable(c) { specialCharacters = true }
                let isBreak = c == "\n" || c == "\r" || c == "\u{85}" || c == "\u{2028}" || c == "\u{2029}"
                if isBreak {
                    lineBreaks = true
                    if c != "\n" { otherBreaks = true }
                }
                if c == " " {
                    if k == 0 { leadingSpace = true }
                    if k == scalars.count - 1 { trailingSpace = true }
                    if previousBreak { breakSpace = true }
                    previousSpace = true
                    previousBreak = false
                } else if isBreak {
                    if k == 0 { leadingBreak = true }
                    if k == scalars.count - 1 { trailingBreak = true }
                    if previousSpace { spaceBreak = true }
                    previousBreak = true
                    previousSpace = false
                } else {
                    previousSpace = false
                    previousBreak = false
                }
                precededByWhitespace = c == " " || c == "\t" || isBreak
            }
            if leadingSpace || leadingBreak || trailingSpace || trailingBreak { blockPlainAllowed = false }
            if trailingSpace { blockAllowed = false }
            if breakSpace {
                blockPlainAllowed = false
                singleQuotedAllowed = false
            }
            if spaceBreak || specialCharacters {
                blockPlainAllowed = false
                singleQuotedAllowed = false
                blockAllowed = false
            }
            if lineBreaks { blockPlainAllowed = false }
            if blockIndicators { blockPlainAllowed = false }
        }

        /// libyaml's `IS_PRINTABLE` (with Unicode output enabled, as yaml.v2 does).
        static func isPrintable(_ c: Unicode.Scalar) -> Bool {
            let v = c.value
            return v == 0x0A || (v >= 0x20 && v <= 0x7E) || v == 0x85 || (v >= 0xA0 && v <= 0xD7FF)
                || (v >= 0xE000 && v <= 0xFFFD && v != 0xFEFF) || (v >= 0x10000 && v <= 0x10FFFF)
        }
    }

    /// A double-quoted scalar with libyaml's escapes.
    static func doubleQuoted(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\0": out += "\\0"
            case "\u{07}": out += "\\a"
            case "\u{08}": out += "\\b"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\u{0B}": out += "\\v"
            case "\u{0C}": out += "\\f"
            case "\r": out += "\\r"
            case "\u{1B}": out += "\\e"
            case "\u{85}": out += "\\N"
            case "\u{2028}": out += "\\L"
            case "\u{2029}": out += "\\P"
            default:
                if Analysis.isPrintable(c) {
                    out.unicodeScalars.append(c)
                } else if c.value <= 0xFF {
                    out += "\\x" + hex(c.value, 2)
                } else if c.value <= 0xFFFF {
                    out += "\\u" + hex(c.value, 4)
                } else {
                    out += "\\U" + hex(c.value, 8)
                }
            }
        }
        return out + "\""
    }

    private static func hex(_ v: UInt32, _ width: Int) -> String {
        let digits = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
