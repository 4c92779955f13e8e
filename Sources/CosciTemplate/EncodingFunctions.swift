import CosciModel
import CosciYAML
import Foundation


extension Functions {
    static func encoding(_ function: Builtin, _ args: Arguments) throws(FunctionFailure) -> Datum {
        switch function {
        case .toYaml:
            try args.require(1)
            var text = try args.value(0).yamlText()
            if text.hasSuffix("\n") { text.removeLast() }
            return .value(.string(text))
        case .toJson, .toPrettyJson:
            try args.require(1)
            return .value(.string(htmlEscaped(json(try args.value(0), pretty: function == .toPrettyJson))))
        case .fromYaml:
            try args.require(1)
            return .value(fromYaml(try args.string(0)))
        case .fromJson:
            try args.require(1)
            do {
                var parser = JSONReader(Array(try args.string(0).utf8))
                let value = try parser.document()
                guard case .map = value else {
                    return .value(.map(["Error": .string("json: cannot unmarshal \(value.goKindName) into a map")]))
                }
                return .value(value)
            } catch {
                return .value(.map(["Error": .string(error.message)]))
            }
        case .semver:
            try args.require(1)
            return .value(try semanticVersion(try args.string(0)))
        case .b64enc:
            try args.require(1)
            return .value(.string(Data(try args.string(0).utf8).base64EncodedString()))
        case .b64dec:
            try args.require(1)
            let text = try args.string(0)
            guard let data = Data(base64Encoded: text) else {
                throw FunctionFailure("illegal base64 data in \(GoFormat.quote(text))")
            }
            return .value(.string(String(decoding: data, as: UTF8.self)))
        case .sha256sum:
            try args.require(1)
            return .value(.string(Digest.sha256(of: Array(try args.string(0).utf8)).hex))
        case .kindOf:
            try args.require(1)
            return .value(.string(args[0].storable.goKindName))
        case .kindIs:
            try args.require(2)
            return .value(.bool(try args.string(0) == args[1].storable.goKindName))
        case .typeOf:
            try args.require(1)
            return .value(.string(args[0].storable.goTypeName))
        case .typeIs:
            try args.require(2)
            return .value(.bool(try args.string(0) == args[1].storable.goTypeName))
        default:
            throw FunctionFailure("not an encoding function")
        }
    }

    /// Compact (or two-space indented) JSON with sorted keys, as `CanonicalJSON` writes it.
    static func json(_ value: Value, pretty: Bool) -> String {
        CanonicalJSON.encode(value, pretty: pretty)
    }

    /// Go's `json.Marshal` escapes `<`, `>`, `&`, U+2028 and U+2029 inside strings (they appear nowhere else in
    /// JSON text); `toRawJson` does not.
    static func htmlEscaped(_ json: String) -> String {
        guard json.unicodeScalars.contains(where: { "<>&\u{2028}\u{2029}".unicodeScalars.contains($0) }) else { return json }
        var out = ""
        for scalar in json.unicodeScalars {
            switch scalar {
            case "<": out += "\\u003c"
            case ">": out += "\\u003e"
            case "&": out += "\\u0026"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// helm's `fromYaml`: a map, an empty map for an empty document, or `{"Error": …}` when the text is not a
    /// YAML map.
    static func fromYaml(_ text: String) -> Value {
        do {
            guard let node = try YAMLNode.compose(text) else { return .map([:]) }
            let value = try Value(yaml: node)
            switch value {
            case .map: return value
            case .null: return .map([:])
            default: return .map(["Error": .string("yaml: cannot unmarshal \(value.goKindName) into a map")])
            }
        } catch {
            return .map(["Error": .string("yaml: \(error)")])
        }
    }

    /// Masterminds `semver.NewVersion`: `v?MAJOR[.MINOR[.PATCH]][-PRERELEASE][+METADATA]`.
    static func semanticVersion(_ text: String) throws(FunctionFailure) -> Value {
        var rest = Substring(text)
        if rest.first == "v" || rest.first == "V" { rest = rest.dropFirst() }
        var metadata = ""
        if let plus = rest.firstIndex(of: "+") {
            metadata = String(rest[rest.index(after: plus)...])
            rest = rest[..<plus]
        }
        var prerelease = ""
        if let dash = rest.firstIndex(of: "-") {
            prerelease = String(rest[rest.index(after: dash)...])
            rest = rest[..<dash]
        }
        let numbers = rest.split(separator: ".", omittingEmptySubsequences: false)
        func identifiersValid(_ s: String) -> Bool {
            s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
                !part.isEmpty && part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
            }
        }
        guard (1...3).contains(numbers.count),
            numbers.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            text.contains("-") == false || !prerelease.isEmpty, prerelease.isEmpty || identifiersValid(prerelease),
            text.contains("+") == false || !metadata.isEmpty, metadata.isEmpty || identifiersValid(metadata)
        else {
            throw FunctionFailure("invalid semantic version \(GoFormat.quote(text))")
        }
        var parts: [Int] = []
        for number in numbers {
            guard let value = Int(number) else { throw FunctionFailure("invalid semantic version \(GoFormat.quote(text))") }
            parts.append(value)
        }
        while parts.count < 3 { parts.append(0) }
        return .map([
            "Major": .int(parts[0]), "Minor": .int(parts[1]), "Patch": .int(parts[2]),
            "Prerelease": .string(prerelease), "Metadata": .string(metadata), "Original": .string(text),
        ])
    }
}

/// A strict JSON reader for `fromJson`: integers without fraction or exponent that fit become ints, other
/// numbers doubles.
struct JSONReader {
    private let bytes: [UInt8]
    private var p = 0
    private var depth = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func document() throws(FunctionFailure) -> Value {
        let value = try parseValue()
        skipSpace()
        guard p == bytes.count else { throw fail("invalid character after top-level value") }
        return value
    }

    private func fail(_ message: String) -> FunctionFailure { FunctionFailure("json: \(message) at offset \(p)") }

    private mutating func skipSpace() {
        while p < bytes.count, bytes[p] == 0x20 || bytes[p] == 0x0A || bytes[p] == 0x0D || bytes[p] == 0x09 { p += 1 }
    }

    private mutating func literal(_ word: String, _ value: Value) throws(FunctionFailure) -> Value {
        let w = Array(word.utf8)
        guard p + w.count <= bytes.count, bytes[p..<(p + w.count)].elementsEqual(w) else { throw fail("invalid literal") }
        p += w.count
        return value
    }

    private mutating func parseValue() throws(FunctionFailure) -> Value {
        skipSpace()
        guard p < bytes.count else { throw fail("unexpected end of input") }
        switch bytes[p] {
        case 0x7B: return try object()
        case 0x5B: return try array()
        case 0x22: return .string(try string())
        case 0x74: return try literal("true", .bool(true))
        case 0x66: return try literal("false", .bool(false))
        case 0x6E: return try literal("null", .null)
        default: return try number()
        }
    }

    private mutating func nest() throws(FunctionFailure) {
        depth += 1
        if depth > 200 { throw fail("nesting deeper than 200 levels") }
    }

    private mutating func object() throws(FunctionFailure) -> Value {
        try nest()
        defer { depth -= 1 }
        p += 1
        var map: [String: Value] = [:]
        skipSpace()
        if p < bytes.count, bytes[p] == 0x7D {
            p += 1
            return .map(map)
        }
        while true {
            skipSpace()
            guard p < bytes.count, bytes[p] == 0x22 else { throw fail("expected a string key") }
            let key = try string()
            skipSpace()
            guard p < bytes.count, bytes[p] == 0x3A else { throw fail("expected ':'") }
            p += 1
            map[key] = try parseValue()
            skipSpace()
            guard p < bytes.count else { throw fail("unexpected end of input") }
            if bytes[p] == 0x2C {
                p += 1
                continue
            }
            guard bytes[p] == 0x7D else { throw fail("expected ',' or '}'") }
            p += 1
            return .map(map)
        }
    }

    private mutating func array() throws(FunctionFailure) -> Value {
        try nest()
        defer { depth -= 1 }
        p += 1
        var items: [Value] = []
        skipSpace()
        if p < bytes.count, bytes[p] == 0x5D {
            p += 1
            return .list(items)
        }
        while true {
            items.append(try parseValue())
            skipSpace()
            guard p < bytes.count else { throw fail("unexpected end of input") }
            if bytes[p] == 0x2C {
                p += 1
                continue
            }
            guard bytes[p] == 0x5D else { throw fail("expected ',' or ']'") }
            p += 1
            return .list(items)
        }
    }

    private mutating func string() throws(FunctionFailure) -> String {
        p += 1
        var out: [UInt8] = []
        while true {
            guard p < bytes.count else { throw fail("unterminated string") }
            let b = bytes[p]
            p += 1
            if b == 0x22 { return String(decoding: out, as: UTF8.self) }
            if b < 0x20 { throw fail("control character in string") }
            guard b == 0x5C else {
                out.append(b)
                continue
            }
            guard p < bytes.count else { throw fail("unterminated string") }
            let e = bytes[p]
            p += 1
            switch e {
            case 0x22, 0x5C, 0x2F: out.append(e)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x75:
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code), p + 1 < bytes.count, bytes[p] == 0x5C, bytes[p + 1] == 0x75 {
                    p += 2
                    let low = try hex4()
                    code = (0xDC00..<0xE000).contains(low) ? 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00) : 0xFFFD
                }
                let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                out.append(contentsOf: String(Character(scalar)).utf8)
            default: throw fail("invalid escape")
            }
        }
    }

    private mutating func hex4() throws(FunctionFailure) -> UInt32 {
        guard p + 4 <= bytes.count else { throw fail("invalid \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[p]
            let digit: UInt32
            switch b {
            case 0x30...0x39: digit = UInt32(b - 0x30)
            case 0x61...0x66: digit = UInt32(b - 0x61 + 10)
            case 0x41...0x46: digit = UInt32(b - 0x41 + 10)
            default: throw fail("invalid \\u escape")
            }
            value = value * 16 + digit
            p += 1
        }
        return value
    }

    private mutating func number() throws(FunctionFailure) -> Value {
        let start = p
        var isInteger = true
        while p < bytes.count {
            let b = bytes[p]
            if (b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x2B {
                p += 1
            } else if b == 0x2E || b == 0x65 || b == 0x45 {
                isInteger = false
                p += 1
            } else {
                break
            }
        }
        let text = String(decoding: bytes[start..<p], as: UTF8.self)
        if isInteger, let i = Int(text) { return .int(i) }
        guard !text.isEmpty, let d = Double(text), d.isFinite else { throw fail("invalid number \(GoFormat.quote(text))") }
        return .double(d)
    }
}
