import CosciModel
import Foundation

/// Go's `fmt` rules for the values a template handles: `%v` printing, `Sprint`, `Sprintln`, `Sprintf`,
/// `strconv.Quote` and float64 formatting.
enum GoFormat {
    // MARK: %v

    /// A value as Go's `%v` prints it: lists `[a b]`, maps `map[k:v]` (sorted keys), null `<nil>`.
    static func text(_ value: Value) -> String {
        switch value {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return float(d)
        case .bool(let b): return b ? "true" : "false"
        default:
            var out = ""
            write(value, into: &out)
            return out
        }
    }

    /// Appends `%v` of `value`.
    static func write(_ value: Value, into out: inout String) {
        switch value {
        case .null: out += "<nil>"
        case .string(let s): out += s
        case .int(let i): out += String(i)
        case .double(let d): out += float(d)
        case .bool(let b): out += b ? "true" : "false"
        case .list(let items):
            out += "["
            for (k, item) in items.enumerated() {
                if k > 0 { out += " " }
                write(item, into: &out)
            }
            out += "]"
        case .map:
            out += "map["
            for (k, entry) in (value.sortedEntries ?? []).enumerated() {
                if k > 0 { out += " " }
                out += entry.key
                out += ":"
                write(entry.value, into: &out)
            }
            out += "]"
        }
    }

    // MARK: Floats

    /// Go's `strconv.FormatFloat(d, 'g', -1, 64)` (see `GoFloat`).
    static func float(_ d: Double) -> String { GoFloat.format(d) }

    // MARK: Quoting

    /// Go's `strconv.Quote`: double quotes, Go escapes, printable Unicode kept.
    static func quote(_ s: String) -> String {
        if s.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }) { return "\"" + s + "\"" }
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{07}": out += "\\a"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{0B}": out += "\\v"
            default:
                if isPrintable(scalar) {
                    out.unicodeScalars.append(scalar)
                } else if scalar.value < 0x80 {
                    out += "\\x" + hex(scalar.value, width: 2)
                } else if scalar.value < 0x10000 {
                    out += "\\u" + hex(scalar.value, width: 4)
                } else {
                    out += "\\U" + hex(scalar.value, width: 8)
                }
            }
        }
        out += "\""
        return out
    }

    /// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
    static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value < 0x80 { return scalar.value >= 0x20 && scalar.value < 0x7F }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator,
            .spaceSeparator:
            return false
        default:
            return true
        }
    }

    private static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    // MARK: Sprint family

    /// Go's `fmt.Sprint`: a space between operands when neither is a string.
    static func sprint(_ values: [Value]) -> String {
        var out = ""
        for (k, value) in values.enumerated() {
            if k > 0, !isString(values[k - 1]), !isString(value) { out += " " }
            write(value, into: &out)
        }
        return out
    }

    /// Go's `fmt.Sprintln`: spaces between all operands and a final newline.
    static func sprintln(_ values: [Value]) -> String {
        var out = ""
        for (k, value) in values.enumerated() {
            if k > 0 { out += " " }
            write(value, into: &out)
        }
        out += "\n"
        return out
    }

    private static func isString(_ value: Value) -> Bool {
        if case .string = value { return true }
        return false
    }

    // MARK: Sprintf

    private struct Spec {
        var minus = false, plus = false, sharp = false, space = false, zero = false
        var width: Int?
        var precision: Int?
    }

    /// Go's `fmt.Sprintf` for the verbs `%v %s %d %q %x %X %o %b %c %e %E %f %F %g %G %t %T %%`, flags
    /// `- + # 0 space`, widths and precisions (also `*`). Mismatches print as Go does: `%!d(string=x)`,
    /// `%!s(MISSING)`, `%!(EXTRA int=1)`.
    static func sprintf(_ format: String, _ args: [Value]) -> String {
        let f = Array(format.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(f.count + 16)
        var argIndex = 0
        var p = 0
        let n = f.count
        while p < n {
            let start = p
            while p < n, f[p] != 0x25 { p += 1 }
            if p > start { out.append(contentsOf: f[start..<p]) }
            if p >= n { break }
            p += 1  // %
            var spec = Spec()
            flags: while p < n {
                switch f[p] {
                case 0x2D: spec.minus = true; spec.zero = false
                case 0x2B: spec.plus = true
                case 0x23: spec.sharp = true
                case 0x20: spec.space = true
                case 0x30: spec.zero = !spec.minus
                default: break flags
                }
                p += 1
            }
            if p < n, f[p] == 0x2A {  // *
                p += 1
                // Go refuses widths and precisions beyond ±1e6 (fmt's tooLarge): %!(BADWIDTH), %!(BADPREC).
                if argIndex < args.count, case .int(let w) = args[argIndex], w.magnitude <= 1_000_000 {
                    spec.width = abs(w)
                    if w < 0 { spec.minus = true; spec.zero = false }
                } else {
                    out.append(contentsOf: "%!(BADWIDTH)".utf8)
                }
                argIndex += 1
            } else {
                var width = 0
                var hasWidth = false
                while p < n, f[p] >= 0x30, f[p] <= 0x39, width < 1_000_000 {
                    width = width * 10 + Int(f[p] - 0x30)
                    hasWidth = true
                    p += 1
                }
                if hasWidth { spec.width = width }
            }
            if p < n, f[p] == 0x2E {  // .
                p += 1
                if p < n, f[p] == 0x2A {
                    p += 1
                    if argIndex < args.count, case .int(let pr) = args[argIndex], pr >= 0, pr <= 1_000_000 {
                        spec.precision = pr
                    } else {
                        out.append(contentsOf: "%!(BADPREC)".utf8)
                    }
                    argIndex += 1
                } else {
                    var precision = 0
                    while p < n, f[p] >= 0x30, f[p] <= 0x39, precision < 1_000_000 {
                        precision = precision * 10 + Int(f[p] - 0x30)
                        p += 1
                    }
                    spec.precision = precision
                }
            }
            guard p < n else {
                out.append(contentsOf: "%!(NOVERB)".utf8)
                break
            }
            // The verb is one Unicode scalar.
            let verbStart = p
            p += 1
            while p < n, f[p] & 0xC0 == 0x80 { p += 1 }
            let verbText = String(decoding: f[verbStart..<p], as: UTF8.self)
            let verb = verbText.unicodeScalars.first ?? "?"
            if verb == "%" {
                out.append(0x25)
                continue
            }
            guard argIndex < args.count else {
                out.append(contentsOf: "%!\(verbText)(MISSING)".utf8)
                continue
            }
            let formatted = formatArgument(args[argIndex], verb: verb, spec: spec)
            out.append(contentsOf: formatted.utf8)
            argIndex += 1
        }
        if argIndex < args.count {
            out.append(contentsOf: "%!(EXTRA ".utf8)
            for (k, arg) in args[argIndex...].enumerated() {
                if k > 0 { out.append(contentsOf: ", ".utf8) }
                if case .null = arg {
                    out.append(contentsOf: "<nil>".utf8)
                } else {
                    out.append(contentsOf: "\(arg.goTypeName)=\(text(arg))".utf8)
                }
            }
            out.append(0x29)
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func badVerb(_ verb: Unicode.Scalar, _ value: Value) -> String {
        if case .null = value { return "%!\(verb)(<nil>)" }
        return "%!\(verb)(\(value.goTypeName)=\(text(value)))"
    }

    private static func formatArgument(_ value: Value, verb: Unicode.Scalar, spec: Spec) -> String {
        if verb == "T" { return pad(value.goTypeName, spec, numeric: false) }
        switch value {
        case .list(let items):
            var out = "["
            for (k, item) in items.enumerated() {
                if k > 0 { out += " " }
                out += formatArgument(item, verb: verb, spec: spec)
            }
            return out + "]"
        case .map:
            var out = "map["
            for (k, entry) in (value.sortedEntries ?? []).enumerated() {
                if k > 0 { out += " " }
                out += formatArgument(.string(entry.key), verb: verb, spec: spec)
                out += ":"
                out += formatArgument(entry.value, verb: verb, spec: spec)
            }
            return out + "]"
        case .null:
            return verb == "v" ? pad("<nil>", spec, numeric: false) : badVerb(verb, value)
        case .bool(let b):
            guard verb == "v" || verb == "t" else { return badVerb(verb, value) }
            return pad(b ? "true" : "false", spec, numeric: false)
        case .string(let s):
            switch verb {
            case "v", "s":
                var s = s
                if let precision = spec.precision, s.unicodeScalars.count > precision {
                    s = String(String.UnicodeScalarView(s.unicodeScalars.prefix(precision)))
                }
                return pad(s, spec, numeric: false)
            case "q":
                return pad(quote(s), spec, numeric: false)
            case "x", "X":
                var out = ""
                for (k, b) in s.utf8.enumerated() {
                    if spec.space, k > 0 { out += " " }
                    let h = String(b, radix: 16, uppercase: verb == "X")
                    out += h.count == 1 ? "0" + h : h
                }
                return pad(out, spec, numeric: false)
            default:
                return badVerb(verb, value)
            }
        case .int(let i):
            switch verb {
            case "v", "d": return integer(i, radix: 10, spec: spec)
            case "b": return integer(i, radix: 2, spec: spec)
            case "o", "O": return integer(i, radix: 8, spec: spec, prefix: verb == "O" ? "0o" : (spec.sharp ? "0" : ""))
            case "x": return integer(i, radix: 16, spec: spec, prefix: spec.sharp ? "0x" : "")
            case "X": return integer(i, radix: 16, spec: spec, prefix: spec.sharp ? "0X" : "", uppercase: true)
            case "c":
                guard let scalar = Unicode.Scalar(UInt32(clamping: max(0, i))) else { return pad("\u{FFFD}", spec, numeric: false) }
                return pad(String(Character(scalar)), spec, numeric: false)
            case "q":
                let scalar = Unicode.Scalar(UInt32(clamping: max(0, i))) ?? "\u{FFFD}"
                let quoted = quote(String(Character(scalar)))
                return pad("'" + quoted.dropFirst().dropLast().replacingOccurrences(of: "\\\"", with: "\"").replacingOccurrences(of: "'", with: "\\'") + "'", spec, numeric: false)
            case "U":
                let h = String(i, radix: 16, uppercase: true)
                return pad("U+" + String(repeating: "0", count: max(0, 4 - h.count)) + h, spec, numeric: false)
            default:
                return badVerb(verb, value)
            }
        case .double(let d):
            switch verb {
            case "v", "g", "G", "e", "E", "f", "F":
                return floatVerb(d, verb: verb, spec: spec)
            default:
                return badVerb(verb, value)
            }
        }
    }

    private static func integer(
        _ i: Int, radix: Int, spec: Spec, prefix: String = "", uppercase: Bool = false
    ) -> String {
        var digits = String(i.magnitude, radix: radix, uppercase: uppercase)
        if let precision = spec.precision {
            if precision == 0, i == 0 { digits = "" }
            if digits.count < precision { digits = String(repeating: "0", count: precision - digits.count) + digits }
        }
        let sign = i < 0 ? "-" : (spec.plus ? "+" : (spec.space ? " " : ""))
        var body = prefix + digits
        if spec.zero, spec.precision == nil, let width = spec.width, !spec.minus {
            let used = sign.count + body.count
            if used < width { body = prefix + String(repeating: "0", count: width - used) + digits }
        }
        return pad(sign + body, spec, numeric: true)
    }

    private static func floatVerb(_ d: Double, verb: Unicode.Scalar, spec: Spec) -> String {
        var spec = spec
        spec.precision = spec.precision.map { min($0, 1_000) }
        var body: String
        if d.isNaN {
            body = "NaN"
        } else if d.isInfinite {
            body = "Inf"
        } else {
            switch verb {
            case "v", "g", "G":
                if let precision = spec.precision {
                    body = String(format: "%.\(max(precision, 1))\(verb == "G" ? "G" : "g")", abs(d))
                } else {
                    body = float(abs(d))
                    if verb == "G" { body = body.uppercased() }
                }
            case "e", "E":
                body = String(format: "%.\(spec.precision ?? 6)\(verb)", abs(d))
            default:
                body = String(format: "%.\(spec.precision ?? 6)f", abs(d))
            }
        }
        let negative = d.sign == .minus && !d.isNaN
        let sign = negative ? "-" : (spec.plus || d.isInfinite ? "+" : (spec.space ? " " : ""))
        if spec.zero, let width = spec.width, !spec.minus, d.isFinite {
            let used = sign.count + body.count
            if used < width { body = String(repeating: "0", count: width - used) + body }
        }
        return pad(sign + body, spec, numeric: true)
    }

    /// Pads to the width with spaces (left, or right with `-`); zero padding is done by the number formatters.
    private static func pad(_ s: String, _ spec: Spec, numeric: Bool) -> String {
        guard let width = spec.width else { return s }
        let count = s.unicodeScalars.count
        guard count < width else { return s }
        let fill = String(repeating: spec.zero && !numeric && !spec.minus ? "0" : " ", count: width - count)
        return spec.minus ? s + fill : fill + s
    }
}
