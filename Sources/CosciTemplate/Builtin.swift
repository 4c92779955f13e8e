/// Every function a template can call: Go's builtins and the sprig subset luet trees use.
///
/// Names are resolved at parse time, so an unknown function is a syntax error.
enum Builtin: UInt8, Sendable, CaseIterable {
    // Go builtins
    case and, or, not, eq, ne, lt, le, gt, ge, index, len, print, printf, println, slice
    // Maps and lists
    case get, set, unset, dict, list, has, hasKey, pluck, merge, first, last, rest, initial
    case append, push, prepend, concat, keys, values, uniq, sortAlpha, reverse, compact, without
    // Defaults and flow
    case defaultValue, empty, coalesce, ternary, fail, required
    // Strings
    case cat, quote, squote, replace, trim, trimAll, trimPrefix, trimSuffix, contains, hasPrefix, hasSuffix
    case split, splitList, join, upper, lower, title, repeatString, indent, nindent, substr, trunc, nospace
    case toString, regexMatch, regexReplaceAll, regexReplaceAllLiteral, regexFind, regexFindAll
    // Numbers
    case int, int64, atoi, float64, add, add1, sub, mul, div, mod, max, min
    // Encoding and types
    case toYaml, toJson, toPrettyJson, fromYaml, fromJson, include, semver
    case b64enc, b64dec, sha256sum, kindIs, kindOf, typeOf, typeIs

    /// The name templates use.
    var name: String {
        switch self {
        case .defaultValue: return "default"
        case .repeatString: return "repeat"
        default: return String(describing: self)
        }
    }

    /// Name → function, built once.
    static let byName: [String: Builtin] = {
        var table: [String: Builtin] = [:]
        for function in Builtin.allCases { table[function.name] = function }
        return table
    }()

    /// Sprig functions deliberately left out because their result depends on the clock, the environment
    /// or chance; calling one is a parse error that says so.
    static let nonReproducible: Set<String> = [
        "now", "date", "dateInZone", "date_in_zone", "dateModify", "date_modify", "mustDateModify", "ago",
        "htmlDate", "htmlDateInZone", "unixEpoch", "duration", "durationRound", "toDate", "mustToDate",
        "env", "expandenv", "getHostByName",
        "randAlphaNum", "randAlpha", "randAscii", "randNumeric", "randBytes", "randInt", "uuidv4",
        "genPrivateKey", "genCA", "genSelfSignedCert", "genSignedCert", "shuffle",
    ]

    /// The parse error for an unknown name.
    static func undefinedMessage(_ name: String) -> String {
        if nonReproducible.contains(name) {
            return "function \"\(name)\" not defined (cosci templates are reproducible: no clock, environment or randomness)"
        }
        return "function \"\(name)\" not defined"
    }
}
