import CosciModel

/// A value during evaluation: a `Value`, or the absence of one that remembers where it was looked up.
///
/// Missing values come from map lookups of absent keys (`.Values.kernel_package`, `index .Values "k"`);
/// they are falsy, flow through `default`/`if`/`and`…, and are an error only when printed or converted to text.
enum Datum: Sendable {
    case value(Value)
    /// An absent map entry; the payload is its path as written, e.g. `.Values.kernel_package`.
    case missing(String)
    /// A Go `time.Time` (`now`, `toDate`, `dateModify`); printed and stored as its `String()` form.
    case time(GoTime)

    static let null = Datum.value(.null)

    /// Go's truth: false, 0, "", empty list/map, null and missing are false.
    var isTrue: Bool {
        switch self {
        case .missing: return false
        case .time: return true
        case .value(let v): return v.isTrue
        }
    }

    /// Go's "empty" (sprig): the same as falsy.
    var isEmpty: Bool { !isTrue }

    /// The value to store inside a list or map: missing becomes null (as a nil interface does in Go).
    var storable: Value {
        switch self {
        case .missing: return .null
        case .time(let t): return .string(t.description)
        case .value(let v): return v
        }
    }

    /// True for null and missing (Go's nil).
    var isNil: Bool {
        switch self {
        case .missing, .value(.null): return true
        default: return false
        }
    }
}

extension Value {
    /// Go's truth for a value.
    var isTrue: Bool {
        switch self {
        case .null: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .list(let l): return !l.isEmpty
        case .map(let m): return !m.isEmpty
        }
    }

    /// The Go type name of the value as sprig sees it (`%T`, `typeOf`).
    var goTypeName: String {
        switch self {
        case .null: return "<nil>"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float64"
        case .string: return "string"
        case .list: return "[]interface {}"
        case .map: return "map[string]interface {}"
        }
    }

    /// The Go reflect kind (`kindOf`, `kindIs`).
    var goKindName: String {
        switch self {
        case .null: return "invalid"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float64"
        case .string: return "string"
        case .list: return "slice"
        case .map: return "map"
        }
    }

    /// A short description for error messages: the type and, for scalars, the value.
    var briefDescription: String {
        switch self {
        case .null: return "null"
        case .list: return "a list"
        case .map: return "a map"
        case .string(let s): return "string \(GoFormat.quote(s.count > 40 ? String(s.prefix(40)) + "…" : s))"
        default: return "\(goTypeName) \(GoFormat.text(self))"
        }
    }
}
