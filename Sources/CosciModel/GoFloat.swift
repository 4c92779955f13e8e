/// Go's float formatting, shared by template output (`%v`, `print`) and the YAML writer (yaml.v2 uses it).
public enum GoFloat {
    /// The shortest decimal digits that round-trip `d` (positive, finite, non-zero) and the position of the
    /// decimal point: `d = 0.DIGITS × 10^point`.
    static func shortestDigits(_ d: Double) -> (digits: [UInt8], point: Int) {
        let text = Array(abs(d).description.utf8)
        var mantissa = text[...]
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == 0x65 || $0 == 0x45 }) {
            mantissa = text[..<e]
            exponent = Int(String(decoding: text[(e + 1)...], as: UTF8.self)) ?? 0
        }
        var digits: [UInt8] = []
        var point = 0
        var seenDot = false
        for b in mantissa {
            if b == 0x2E {
                seenDot = true
                continue
            }
            digits.append(b)
            if !seenDot { point += 1 }
        }
        point += exponent
        while let first = digits.first, first == 0x30 {
            digits.removeFirst()
            point -= 1
        }
        while let last = digits.last, last == 0x30 { digits.removeLast() }
        return (digits, point)
    }

    /// Go's `strconv.FormatFloat(d, 'g', -1, 64)`, which `%v` and yaml.v2 use: `1e+06`, `123456`, `0.0001`, `1e-05`.
    public static func format(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Inf" : "+Inf" }
        if d == 0 { return d.sign == .minus ? "-0" : "0" }
        let (digits, point) = shortestDigits(d)
        var out = d < 0 ? "-" : ""
        let exponent = point - 1
        if exponent < -4 || exponent >= 6 {
            // %e with the shortest digits.
            out.unicodeScalars.append(Unicode.Scalar(digits[0]))
            if digits.count > 1 {
                out += "."
                out += String(decoding: digits[1...], as: UTF8.self)
            }
            out += exponent < 0 ? "e-" : "e+"
            let magnitude = abs(exponent)
            if magnitude < 10 { out += "0" }
            out += String(magnitude)
            return out
        }
        // %f with just enough fraction digits.
        if point <= 0 {
            out += "0."
            out += String(repeating: "0", count: -point)
            out += String(decoding: digits, as: UTF8.self)
        } else if point >= digits.count {
            out += String(decoding: digits, as: UTF8.self)
            out += String(repeating: "0", count: point - digits.count)
        } else {
            out += String(decoding: digits[..<point], as: UTF8.self)
            out += "."
            out += String(decoding: digits[point...], as: UTF8.self)
        }
        return out
    }
}
