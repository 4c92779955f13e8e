/// Every function a template can call: Go's builtins, sprig's text function map (v3.2) and luet's additions.
///
/// Names are resolved at parse time, so an unknown function is a syntax error. The clock is the build's epoch
/// and the environment is what `cosci.yaml` allows (`RenderEnvironment`); functions that can only be
/// non-reproducible (randomness, key generation, network) are refused at parse time with the reason.
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
    // Dates: `now` is the build's epoch, shown in UTC
    case now, date, dateInZone, dateModify, mustDateModify, ago, duration, durationRound, htmlDate, htmlDateInZone
    case toDate, mustToDate, unixEpoch
    // Environment: only the variables cosci.yaml names
    case env, expandenv
    // More strings
    case abbrev, abbrevboth, untitle, initials, swapcase, snakecase, camelcase, kebabcase, wrap, wrapWith, plural
    case sha1sum, adler32sum, b32enc, b32dec, splitn, toStrings, hello, regexSplit, regexQuoteMeta
    // More numbers
    case seq, toDecimal, until, untilStep, add1f, addf, subf, divf, mulf, maxf, minf, ceil, floor, round
    // More defaults, encodings, maps and lists
    case all, any, toRawJson, mustFromJson, deepCopy, typeIsLike, deepEqual, fromYamlArray, fromJsonArray, toToml
    case pick, omit, mergeOverwrite, dig, chunk
    // Paths, URLs, certificates, versions
    case base, dir, clean, ext, isAbs, urlParse, urlJoin, buildCustomCert, semverCompare

    /// The name templates use.
    var name: String {
        switch self {
        case .defaultValue: return "default"
        case .repeatString: return "repeat"
        default: return String(describing: self)
        }
    }

    /// sprig's other names for the same function. A `must…` variant is the function itself: cosci's
    /// functions already fail where sprig's would panic or return a zero value silently (except `mustToDate`,
    /// `mustDateModify` and `mustFromJson`, which differ from their plain forms and are functions of their own).
    static let aliases: [String: Builtin] = [
        "date_in_zone": .dateInZone, "date_modify": .dateModify, "must_date_modify": .mustDateModify, "trimall": .trimAll,
        "biggest": .max, "tuple": .list, "mustCompact": .compact, "mustDeepCopy": .deepCopy, "mustMerge": .merge,
        "mustMergeOverwrite": .mergeOverwrite, "mustAppend": .append, "mustPush": .push, "mustPrepend": .prepend,
        "mustFirst": .first, "mustRest": .rest, "mustLast": .last, "mustInitial": .initial, "mustReverse": .reverse,
        "mustUniq": .uniq, "mustWithout": .without, "mustHas": .has, "mustSlice": .slice, "mustChunk": .chunk,
        "mustToJson": .toJson, "mustToPrettyJson": .toPrettyJson, "mustToRawJson": .toRawJson,
        "mustRegexMatch": .regexMatch, "mustRegexFind": .regexFind, "mustRegexFindAll": .regexFindAll,
        "mustRegexReplaceAll": .regexReplaceAll, "mustRegexReplaceAllLiteral": .regexReplaceAllLiteral,
        "mustRegexSplit": .regexSplit, "osBase": .base, "osClean": .clean, "osDir": .dir, "osExt": .ext, "osIsAbs": .isAbs,
    ]

    /// Name → function, built once.
    static let byName: [String: Builtin] = {
        var table: [String: Builtin] = aliases
        for function in Builtin.allCases { table[function.name] = function }
        return table
    }()

    /// Sprig functions whose result can only differ from one render to the next (chance, fresh keys and
    /// certificates, salts, the network): refused at parse time, with what to do instead.
    static let nonReproducible: [String: String] = {
        var table: [String: String] = [:]
        let random = "its result is random; put a fixed value in a values file (--values) instead"
        for name in ["randAlphaNum", "randAlpha", "randAscii", "randNumeric", "randBytes", "randInt", "shuffle"] { table[name] = random }
        table["uuidv4"] = "it makes a new random UUID each render; put a fixed UUID in a values file instead"
        let keys = "it generates a new key or certificate each render; make it once, keep it in the tree, read it with buildCustomCert"
        for name in ["genPrivateKey", "genCA", "genCAWithKey", "genSelfSignedCert", "genSelfSignedCertWithKey", "genSignedCert", "genSignedCertWithKey"] {
            table[name] = keys
        }
        let salted = "its output is salted with random bytes; hash or encrypt in a build step, not in the spec"
        for name in ["bcrypt", "htpasswd", "encryptAES"] { table[name] = salted }
        table["getHostByName"] = "it asks the network; write the address in a values file instead"
        return table
    }()

    /// Sprig functions cosci does not implement, with the reason.
    static let unsupported: [String: String] = [
        "decryptAES": "cosci does not carry AES; decrypt in a build step",
        "derivePassword": "cosci does not carry scrypt; derive it in a build step",
    ]

    /// The parse error for an unknown name.
    static func undefinedMessage(_ name: String) -> String {
        if let why = nonReproducible[name] {
            return "function \"\(name)\" not defined: cosci templates are reproducible and \(why)"
        }
        if let why = unsupported[name] { return "function \"\(name)\" not supported: \(why)" }
        return "function \"\(name)\" not defined"
    }
}
