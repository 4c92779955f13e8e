/// Canonical JSON: object keys sorted by UTF-8 bytes, no insignificant white space (or a fixed
/// two-space indentation when `pretty`), strings escaped minimally and deterministically.
/// The same value always gives the same bytes; cache keys and reports rely on that.
public enum CanonicalJSON {
    /// Encodes `value`; `pretty` adds newlines and two-space indentation, still deterministic.
    public static func encode(_ value: Value, pretty: Bool = false) -> String {
        var out = ""
        out.reserveCapacity(256)
        write(value, into: &out, pretty: pretty, depth: 0)
        return out
    }

    static func write(_ value: Value, into out: inout String, pretty: Bool, depth: Int) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isFinite { out += Value.formatDouble(d) } else { out += "null" }
        case .string(let s): writeString(s, into: &out)
        case .list(let items):
            if items.isEmpty { out += "[]"; return }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                if pretty { newline(&out, depth + 1) }
                write(item, into: &out, pretty: pretty, depth: depth + 1)
            }
            if pretty { newline(&out, depth) }
            out += "]"
        case .map:
            let entries = value.sortedEntries ?? []
            if entries.isEmpty { out += "{}"; return }
            out += "{"
            for (i, entry) in entries.enumerated() {
                if i > 0 { out += "," }
                if pretty { newline(&out, depth + 1) }
                writeString(entry.key, into: &out)
                out += pretty ? ": " : ":"
                write(entry.value, into: &out, pretty: pretty, depth: depth + 1)
            }
            if pretty { newline(&out, depth) }
            out += "}"
        }
    }

    private static func newline(_ out: inout String, _ depth: Int) {
        out += "\n"
        out += String(repeating: "  ", count: depth)
    }

    /// Writes a JSON string literal: `"` and `\` escaped, control characters as `\n`, `\t`, … or `\u00XX`.
    public static func writeString(_ s: String, into out: inout String) {
        out += "\""
        // Fast path: nothing to escape.
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            out += s
            out += "\""
            return
        }
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
