import Foundation

/// A structured value as YAML and JSON carry it: the data model of package definitions, values files,
/// rendered build specs and template data.
///
/// Maps keep no order of their own; every consumer that needs one (canonical JSON, template `range`,
/// `toYaml`) sorts keys by their UTF-8 bytes, as Go does, so output never depends on input order.
public enum Value: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([Value])
    case map([String: Value])

    /// The map's entries sorted by key bytes, or nil when this is not a map.
    public var sortedEntries: [(key: String, value: Value)]? {
        guard case .map(let m) = self else { return nil }
        return m.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
    }

    /// The string payload, or nil.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The map payload, or nil.
    public var mapValue: [String: Value]? {
        if case .map(let m) = self { return m }
        return nil
    }

    /// The list payload, or nil.
    public var listValue: [Value]? {
        if case .list(let l) = self { return l }
        return nil
    }

    /// Member lookup for maps; nil for a missing key or a non-map.
    public subscript(key: String) -> Value? {
        if case .map(let m) = self { return m[key] }
        return nil
    }

    /// A scalar as text (strings as they are, numbers and booleans as Go prints them); nil for
    /// null, lists and maps.
    public var scalarText: String? {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return Value.formatDouble(d)
        case .bool(let b): return b ? "true" : "false"
        case .null, .list, .map: return nil
        }
    }

    /// Formats a double deterministically: integral values below 1e21 without a fraction, others as Swift's
    /// shortest round-trip form. Template printing uses Go's exact `%v` instead (CosciTemplate.GoFormat).
    public static func formatDouble(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Inf" : "+Inf" }
        if d == d.rounded(), abs(d) < 1e21 {
            // Integral values print as integers, as JSON encoders do below 1e21 (exact decimal expansion).
            return abs(d) < 1e15 ? String(Int64(d)) : String(format: "%.0f", d)
        }
        return "\(d)"
    }

    /// Deep merge: keys of `overlay` win; nested maps merge recursively; lists and scalars replace.
    public func merging(_ overlay: Value) -> Value {
        guard case .map(var base) = self, case .map(let top) = overlay else { return overlay }
        for (k, v) in top {
            if let existing = base[k] {
                base[k] = existing.merging(v)
            } else {
                base[k] = v
            }
        }
        return .map(base)
    }
}
