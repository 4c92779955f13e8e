import CosciModel

/// Plain-scalar typing for `YAMLNode`, by hand (regular expressions per scalar dominated load time over
/// thousands of packages). The YAML 1.1 rules, as Go's yaml.v2 applies them: null, booleans
/// (`yes`/`no`/`on`/`off` too), integers (decimal, `0x`, `0o`/leading-0 octal, `0b`, `_` separators,
/// sexagesimal), floats (`.inf`, `.nan`, exponents with or without a sign, as Go's yaml.v2 reads them), and the merge key `<<`.
/// Timestamps stay strings (Go's `interface{}` decoding keeps them as text), but are quoted on output. Quoted and block scalars are strings.
public enum YAMLScalar {
    /// A plain scalar's typed value under YAML 1.1.
    public static func resolve(plain s: String) -> Value {
        let u = Array(s.utf8)
        guard let first = u.first else { return .null }
        switch first {
        case UInt8(ascii: "~"):
            if u.count == 1 { return .null }
        case UInt8(ascii: "n"), UInt8(ascii: "N"):
            switch s {
            case "null", "Null", "NULL": return .null
            case "no", "No", "NO": return .bool(false)
            default: return .string(s)
            }
        case UInt8(ascii: "t"), UInt8(ascii: "T"):
            if s == "true" || s == "True" || s == "TRUE" { return .bool(true) }
            return .string(s)
        case UInt8(ascii: "f"), UInt8(ascii: "F"):
            if s == "false" || s == "False" || s == "FALSE" { return .bool(false) }
            return .string(s)
        case UInt8(ascii: "y"), UInt8(ascii: "Y"):
            if s == "yes" || s == "Yes" || s == "YES" { return .bool(true) }
            return .string(s)
        case UInt8(ascii: "o"), UInt8(ascii: "O"):
            switch s {
            case "on", "On", "ON": return .bool(true)
            case "off", "Off", "OFF": return .bool(false)
            default: return .string(s)
            }
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."):
            return number(s, u) ?? .string(s)
        default:
            break
        }
        return .string(s)
    }

    /// Whether a plain scalar with this text reads back as something other than the same string (a
    /// timestamp counts: YAML 1.1 readers such as Go's yaml.v2 turn `2001-12-14` into a time).
    public static func isNonString(plain s: String) -> Bool {
        if s == "<<" || looksLikeTimestamp(s) || yaml11Number(s) { return true }
        if case .string = resolve(plain: s) { return false }
        return true
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    /// Numbers of YAML 1.1's int and float types that Go's yaml.v2 reads as strings but YAML 1.1 readers
    /// (PyYAML, Ruby's Psych) retype: base 60 (`1:2.0` is 62.0, `1:20` is 80), underscores (`1_000`), binary
    /// (`0b101`), and floats without a leading digit (`.5`). Written quoted, they read back as the strings they are.
    static func yaml11Number(_ s: String) -> Bool {
        var u = Array(s.utf8)[...]
        if let f = u.first, f == UInt8(ascii: "+") || f == UInt8(ascii: "-") { u = u.dropFirst() }
        guard let first = u.first else { return false }
        let digitsOrUnderscore = { (c: UInt8) in isDigit(c) || c == UInt8(ascii: "_") }
        // Binary: 0b[01_]+
        if u.starts(with: Array("0b".utf8)), u.count > 2, u.dropFirst(2).allSatisfy({ $0 == 0x30 || $0 == 0x31 || $0 == UInt8(ascii: "_") }) {
            return true
        }
        // `.5`, `.5e3`
        if first == UInt8(ascii: "."), u.count > 1, isDigit(u[u.startIndex + 1]) { return true }
        guard isDigit(first) else { return false }
        // Base 60: [0-9][0-9_]*(:[0-5]?[0-9])+ optionally followed by .[0-9_]*
        if u.contains(UInt8(ascii: ":")) {
            var parts = u.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
            var fraction: ArraySlice<UInt8>?
            if let last = parts.last, let dot = last.firstIndex(of: UInt8(ascii: ".")) {
                fraction = last[(dot + 1)...]
                parts[parts.count - 1] = last[..<dot]
            }
            guard let head = parts.first, !head.isEmpty, head.allSatisfy(digitsOrUnderscore) else { return false }
            for part in parts.dropFirst() {
                guard (1...2).contains(part.count), part.allSatisfy(isDigit) else { return false }
                if part.count == 2, part.first! > UInt8(ascii: "5") { return false }
            }
            return fraction.map { $0.allSatisfy(digitsOrUnderscore) } ?? true
        }
        // Digits with underscores: 1_000, 1_0.5
        if u.contains(UInt8(ascii: "_")) {
            let pieces = u.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
            return pieces.count <= 2 && pieces.allSatisfy { $0.allSatisfy(digitsOrUnderscore) }
        }
        return false
    }

    /// `YYYY-M-D`, alone or followed by a time (`T`, `t` or space).
    static func looksLikeTimestamp(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard u.count >= 8, u[0..<4].allSatisfy(isDigit), u[4] == UInt8(ascii: "-") else { return false }
        var i = 5
        for part in 0..<2 {
            let start = i
            while i < u.count, isDigit(u[i]), i - start < 2 { i += 1 }
            guard i > start else { return false }
            if part == 0 {
                guard i < u.count, u[i] == UInt8(ascii: "-") else { return false }
                i += 1
            }
        }
        return i == u.count || u[i] == UInt8(ascii: "T") || u[i] == UInt8(ascii: "t") || u[i] == UInt8(ascii: " ")
    }

    private static func number(_ s: String, _ u: [UInt8]) -> Value? {
        var i = 0
        var negative = false
        if u[0] == UInt8(ascii: "+") || u[0] == UInt8(ascii: "-") {
            negative = u[0] == UInt8(ascii: "-")
            i = 1
        }
        let body = Array(u[i...])
        guard let b0 = body.first else { return nil }
        let text = String(decoding: body, as: UTF8.self)
        // .inf / .nan
        if b0 == UInt8(ascii: ".") {
            switch text {
            case ".inf", ".Inf", ".INF": return .double(negative ? -.infinity : .infinity)
            case ".nan", ".NaN", ".NAN": return i == 0 ? .double(.nan) : nil
            default: break
            }
        }
        let digits = text.replacingOccurrences(of: "_", with: "")
        func integer(_ t: Substring, radix: Int) -> Value? {
            guard !t.isEmpty, let v = Int(t, radix: radix) else { return nil }
            return .int(negative ? -v : v)
        }
        if text.hasPrefix("0x") { return integer(Substring(digits).dropFirst(2), radix: 16) }
        if text.hasPrefix("0b") { return integer(Substring(digits).dropFirst(2), radix: 2) }
        if text.hasPrefix("0o") { return integer(Substring(digits).dropFirst(2), radix: 8) }
        if body.allSatisfy({ isDigit($0) || $0 == UInt8(ascii: "_") }) {
            guard isDigit(b0) else { return nil }
            if b0 == UInt8(ascii: "0") && digits.count > 1 {
                return digits.allSatisfy({ $0 >= "0" && $0 <= "7" }) ? integer(Substring(digits), radix: 8) : nil
            }
            return integer(Substring(digits), radix: 10)
        }
        if body.contains(UInt8(ascii: ":")) {
            // Sexagesimal, e.g. 190:20:30: base-60 digits after the first.
            let parts = digits.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count > 1, let head = parts.first, !head.isEmpty, head.first != "0" || head == "0" else { return nil }
            var total = 0
            for (n, p) in parts.enumerated() {
                guard !p.isEmpty, p.allSatisfy(\.isASCII), p.allSatisfy(\.isNumber), let v = Int(p) else { return nil }
                if n > 0 && (v > 59 || p.count > 2) { return nil }
                // Many base-60 digits overflow: such a scalar stays a string (found by the fuzzer).
                let (shifted, overflow) = total.multipliedReportingOverflow(by: 60)
                let (sum, carry) = shifted.addingReportingOverflow(v)
                guard !overflow && !carry else { return nil }
                total = sum
            }
            return .int(negative ? -total : total)
        }
        // Float: digits [. digits] [e[+-]digits], or . digits [exponent]; at least one digit.
        var j = 0
        var sawDigit = false
        while j < body.count, isDigit(body[j]) || body[j] == UInt8(ascii: "_") { sawDigit = sawDigit || isDigit(body[j]); j += 1 }
        if j < body.count, body[j] == UInt8(ascii: ".") {
            j += 1
            while j < body.count, isDigit(body[j]) || body[j] == UInt8(ascii: "_") { sawDigit = sawDigit || isDigit(body[j]); j += 1 }
        }
        guard sawDigit else { return nil }
        if j < body.count, body[j] == UInt8(ascii: "e") || body[j] == UInt8(ascii: "E") {
            j += 1
            if j < body.count, body[j] == UInt8(ascii: "+") || body[j] == UInt8(ascii: "-") { j += 1 }
            let start = j
            while j < body.count, isDigit(body[j]) { j += 1 }
            guard j > start else { return nil }
        }
        guard j == body.count, let d = Double(digits) else { return nil }
        return .double(negative ? -d : d)
    }
}
