import CosciModel
import CosciYAML
import Foundation

/// The rest of sprig's text function map (v3.2.1, as luet 0.35 vendors it) and luet's own additions: dates,
/// the environment, string case, numbers in floating point, paths, URLs, more maps and lists.
extension Functions {
    static func sprig(_ function: Builtin, _ args: Arguments, _ ambient: Ambient) throws(FunctionFailure) -> Datum {
        switch function {
        // MARK: Dates
        case .now:
            try args.require(0)
            return .time(ambient.now())
        case .date:
            try args.require(2)
            return string(GoLayout.format(time(args[1], ambient).shown(in: .utc), try args.string(0)))
        case .dateInZone:
            try args.require(3)
            let location = GoLocation(name: try args.string(2)) ?? .utc
            return string(GoLayout.format(time(args[1], ambient).shown(in: location), try args.string(0)))
        case .htmlDate:
            try args.require(1)
            return string(GoLayout.format(time(args[0], ambient).shown(in: .utc), "2006-01-02"))
        case .htmlDateInZone:
            try args.require(2)
            let location = GoLocation(name: try args.string(1)) ?? .utc
            return string(GoLayout.format(time(args[0], ambient).shown(in: location), "2006-01-02"))
        case .dateModify, .mustDateModify:
            try args.require(2)
            let t = try timeArgument(args, 1)
            do {
                return .time(t.adding(try GoDuration(parsing: try args.string(0))))
            } catch {
                if function == .mustDateModify { throw error }
                return .time(t)
            }
        case .ago:
            try args.require(1)
            let t: GoTime
            switch args[0] {
            case .time(let given): t = given
            case .value(.int(let seconds)): t = GoTime(seconds: Int64(seconds))
            default: t = ambient.now()
            }
            return string(ambient.now().since(t).roundedToSeconds().description)
        case .duration:
            try args.require(1)
            var n: Int64 = 0
            switch try args.value(0) {
            case .string(let s): n = Int64(s) ?? 0
            case .int(let i): n = Int64(i)
            default: n = 0
            }
            let (ns, overflow) = n.multipliedReportingOverflow(by: GoDuration.second)
            return string(GoDuration(nanoseconds: overflow ? ns : ns).description)
        case .durationRound:
            try args.require(1)
            var d: Int64 = 0
            switch args[0] {
            case .value(.string(let s)): d = (try? GoDuration(parsing: s))?.nanoseconds ?? 0
            case .value(.int(let i)): d = Int64(i)
            case .time(let t): d = ambient.now().since(t).nanoseconds
            default: d = 0
            }
            return string(roundedDuration(d))
        case .toDate, .mustToDate:
            try args.require(2)
            do {
                return .time(try GoLayout.parse(try args.string(0), try args.string(1)))
            } catch {
                if function == .mustToDate { throw error }
                return .time(.zero)
            }
        case .unixEpoch:
            try args.require(1)
            return string(String(try timeArgument(args, 0).seconds))

        // MARK: Environment
        case .env:
            try args.require(1)
            return string(try ambient.variable(try args.string(0)))
        case .expandenv:
            try args.require(1)
            // The shell's one-character specials ($$, $1, …) are never set in a build's environment: empty.
            return string(
                try expand(try args.string(0)) { name throws(FunctionFailure) in
                    name.count == 1 && "*#$@!?-0123456789".contains(name) ? "" : try ambient.variable(name)
                })

        // MARK: Strings
        case .abbrev:
            try args.require(2)
            let width = try args.integer(0)
            let s = try args.string(1)
            return string(width < 4 ? s : abbreviate(s, offset: 0, width: width))
        case .abbrevboth:
            try args.require(3)
            let left = try args.integer(0), right = try args.integer(1)
            let s = try args.string(2)
            if right < 4 || left > 0 && right < 7 { return string(s) }
            return string(abbreviate(s, offset: left, width: right))
        case .untitle:
            try args.require(1)
            return string(StringCase.uncapitalize(try args.string(0)))
        case .initials:
            try args.require(1)
            return string(StringCase.initials(try args.string(0)))
        case .swapcase:
            try args.require(1)
            return string(StringCase.swapCase(try args.string(0)))
        case .snakecase:
            try args.require(1)
            return string(StringCase.lowerCaseWords(try args.string(0), connector: "_"))
        case .kebabcase:
            try args.require(1)
            return string(StringCase.lowerCaseWords(try args.string(0), connector: "-"))
        case .camelcase:
            try args.require(1)
            return string(StringCase.camelCase(try args.string(0)))
        case .wrap:
            try args.require(2)
            return string(StringCase.wrap(try args.string(1), width: try args.integer(0), newline: "", wrapLongWords: false))
        case .wrapWith:
            try args.require(3)
            return string(StringCase.wrap(try args.string(2), width: try args.integer(0), newline: try args.string(1), wrapLongWords: true))
        case .plural:
            try args.require(3)
            return string(try args.integer(2) == 1 ? try args.string(0) : try args.string(1))
        case .sha1sum:
            try args.require(1)
            return string(SHA1.hex(Array(try args.string(0).utf8)))
        case .adler32sum:
            try args.require(1)
            var a: UInt32 = 1, b: UInt32 = 0
            for byte in try args.string(0).utf8 {
                a = (a + UInt32(byte)) % 65521
                b = (b + a) % 65521
            }
            return string(String(b << 16 | a))
        case .b32enc:
            try args.require(1)
            return string(Base32.encode(Array(try args.string(0).utf8)))
        case .b32dec:
            try args.require(1)
            return string(String(decoding: try Base32.decode(try args.string(0)), as: UTF8.self))
        case .splitn:
            try args.require(3)
            let separator = try args.string(0)
            let limit = try args.integer(1)
            let s = try args.string(2)
            if limit == 0 { return .value(.map([:])) }
            var parts = split(s, separator: separator)
            if limit > 0, parts.count > limit {
                let head = parts.prefix(limit - 1)
                let consumed = head.reduce(0) { $0 + $1.utf8.count + separator.utf8.count }
                parts = Array(head) + [String(decoding: Array(s.utf8)[consumed...], as: UTF8.self)]
            }
            var map: [String: Value] = [:]
            for (k, part) in parts.enumerated() { map["_\(k)"] = .string(part) }
            return .value(.map(map))
        case .toStrings:
            try args.require(1)
            return .value(.list(strings(args[0]).map(Value.string)))
        case .hello:
            try args.require(0)
            return string("Hello!")
        case .regexSplit:
            try args.require(3)
            let regex = try RegexCache.shared.regex(try args.string(0))
            let s = try args.string(1)
            let limit = try args.integer(2)
            if limit == 0 { return .value(.list([])) }
            if regex.pattern != "(?:)" && s.isEmpty { return .value(.list([.string("")])) }
            let utf16 = Array(s.utf16)
            var pieces: [Value] = []
            var begin = 0, end = 0
            for match in goMatches(of: regex, in: s) {
                if limit > 0 && pieces.count == limit - 1 { break }
                end = match.range.location
                if match.range.location + match.range.length != 0 {
                    pieces.append(.string(String(decoding: utf16[begin..<end], as: UTF16.self)))
                }
                begin = match.range.location + match.range.length
            }
            if end != utf16.count { pieces.append(.string(String(decoding: utf16[begin...], as: UTF16.self))) }
            return .value(.list(pieces))
        case .regexQuoteMeta:
            try args.require(1)
            var out = ""
            for c in try args.string(0) {
                if "\\.+*?()|[]{}^$".contains(c) { out.append("\\") }
                out.append(c)
            }
            return string(out)

        // MARK: Numbers
        case .seq:
            var params: [Int] = []
            for k in 0..<args.count { params.append(try args.integer(k)) }
            let range: [Int]
            // The end is inclusive: one step past it, refused where that would overflow.
            func past(_ end: Int, _ step: Int) throws(FunctionFailure) -> Int {
                let (v, overflow) = end.addingReportingOverflow(step)
                guard !overflow else { throw FunctionFailure("a sequence to \(end) is out of range") }
                return v
            }
            switch params.count {
            case 1:
                let step = params[0] < 1 ? -1 : 1
                range = try untilStep(1, try past(params[0], step), step)
            case 2:
                let step = params[1] < params[0] ? -1 : 1
                range = try untilStep(params[0], try past(params[1], step), step)
            case 3:
                let increment = params[2] < params[0] ? -1 : 1
                if params[2] < params[0] && params[1] > 0 { return string("") }
                range = try untilStep(params[0], try past(params[2], increment), params[1])
            default:
                return string("")
            }
            return string(range.map(String.init).joined(separator: " "))
        case .toDecimal:
            try args.require(1)
            let text = GoFormat.text(args[0].storable)
            return .value(.int(Int(text, radix: 8) ?? 0))
        case .until:
            try args.require(1)
            let count = try args.integer(0)
            return .value(.list(try untilStep(0, count, count < 0 ? -1 : 1).map(Value.int)))
        case .untilStep:
            try args.require(3)
            return .value(.list(try untilStep(try args.integer(0), try args.integer(1), try args.integer(2)).map(Value.int)))
        case .add1f, .addf, .subf, .divf, .mulf:
            if function == .add1f { try args.require(1) } else if function != .addf { try args.require(atLeast: 1) }
            var operands = args.items.map(toDouble)
            var result: Decimal
            switch function {
            case .add1f: operands.append(1); result = decimal(operands[0]); operands.removeFirst()
            case .addf: result = 0
            default: result = decimal(operands.removeFirst())
            }
            for x in operands {
                let d = decimal(x)
                switch function {
                case .subf: result -= d
                case .mulf: result *= d
                case .divf:
                    guard d != 0 else { throw FunctionFailure("decimal division by 0") }
                    result /= d
                default: result += d
                }
            }
            return .value(.double(Double(result.description) ?? .nan))
        case .maxf, .minf:
            try args.require(atLeast: 1)
            var best = toDouble(args[0])
            for item in args.items.dropFirst() {
                let v = toDouble(item)
                if best.isNaN || v.isNaN { best = .nan; continue }
                best = function == .maxf ? Swift.max(best, v) : Swift.min(best, v)
            }
            return .value(.double(best))
        case .ceil:
            try args.require(1)
            return .value(.double(toDouble(args[0]).rounded(.up)))
        case .floor:
            try args.require(1)
            return .value(.double(toDouble(args[0]).rounded(.down)))
        case .round:
            try args.require(2...3)
            let roundOn = args.count == 3 ? toDouble(args[2]) : 0.5
            let pow = Foundation.pow(10, Double(try args.integer(1)))
            let digit = pow * toDouble(args[0])
            let fraction = digit - digit.rounded(.towardZero)
            return .value(.double((fraction >= roundOn ? digit.rounded(.up) : digit.rounded(.down)) / pow))

        // MARK: Defaults, encodings, types
        case .all:
            return .value(.bool(args.items.allSatisfy { !$0.isEmpty }))
        case .any:
            return .value(.bool(args.items.contains { !$0.isEmpty }))
        case .toRawJson:
            try args.require(1)
            return string(CanonicalJSON.encode(try args.value(0), pretty: false))
        case .mustFromJson:
            try args.require(1)
            var parser = JSONReader(Array(try args.string(0).utf8))
            return .value(try parser.document())
        case .deepCopy:
            try args.require(1)
            return .value(try args.value(0))
        case .typeIsLike:
            try args.require(2)
            let target = try args.string(0)
            let type = args[1].storable.goTypeName
            return .value(.bool(type == target || type == "*" + target))
        case .deepEqual:
            try args.require(2)
            return .value(.bool(args[0].storable == args[1].storable))
        case .fromYamlArray:
            try args.require(1)
            do {
                guard let node = try YAMLNode.compose(try args.string(0)) else { return .value(.list([])) }
                switch try Value(yaml: node) {
                case .list(let items): return .value(.list(items))
                case .null: return .value(.list([]))
                case let other: return .value(.list([.string("yaml: cannot unmarshal \(other.goKindName) into an array")]))
                }
            } catch {
                return .value(.list([.string("yaml: \(error)")]))
            }
        case .fromJsonArray:
            try args.require(1)
            do {
                var parser = JSONReader(Array(try args.string(0).utf8))
                switch try parser.document() {
                case .list(let items): return .value(.list(items))
                case let other: return .value(.list([.string("json: cannot unmarshal \(other.goKindName) into an array")]))
                }
            } catch {
                return .value(.list([.string(error.message)]))
            }
        case .toToml:
            try args.require(1)
            return string(TOMLWriter.encode(try args.value(0)))

        // MARK: Maps and lists
        case .pick, .omit:
            try args.require(atLeast: 1)
            let map = try args.optionalMap(0) ?? [:]
            var names = Set<String>()
            for k in 1..<args.count { names.insert(try args.string(k)) }
            return .value(.map(map.filter { names.contains($0.key) == (function == .pick) }))
        case .mergeOverwrite:
            try args.require(atLeast: 1)
            var result = try args.optionalMap(0) ?? [:]
            for k in 1..<args.count { result = overwriting(result, with: try args.optionalMap(k) ?? [:]) }
            return .value(.map(result))
        case .dig:
            try args.require(atLeast: 3)
            var current = try args.map(args.count - 1)
            let fallback = args[args.count - 2]
            var keys: [String] = []
            for k in 0..<(args.count - 2) { keys.append(try args.string(k)) }
            for (k, key) in keys.enumerated() {
                guard let step = current[key] else { return fallback }
                if k == keys.count - 1 { return .value(step) }
                guard case .map(let next) = step else {
                    throw FunctionFailure("\(key) is \(step.briefDescription), not a map to dig into")
                }
                current = next
            }
            return fallback
        case .chunk:
            try args.require(2)
            let size = try args.integer(0)
            let items = try args.list(1)
            guard size > 0 else { throw FunctionFailure("chunk size must be positive, not \(size)") }
            var chunks: [Value] = []
            var k = 0
            while k < items.count {
                chunks.append(.list(Array(items[k..<Swift.min(k + size, items.count)])))
                k += size
            }
            return .value(.list(chunks))

        // MARK: Paths, URLs, certificates, versions
        case .base, .dir, .clean, .ext, .isAbs:
            try args.require(1)
            let path = try args.string(0)
            switch function {
            case .base: return string(GoPath.base(path))
            case .dir: return string(GoPath.dir(path))
            case .clean: return string(GoPath.clean(path))
            case .ext: return string(GoPath.ext(path))
            default: return .value(.bool(path.hasPrefix("/")))
            }
        case .urlParse:
            try args.require(1)
            return .value(.map(try GoURL.parse(try args.string(0)).mapValues(Value.string)))
        case .urlJoin:
            try args.require(1)
            var parts: [String: String] = [:]
            for (key, value) in try args.optionalMap(0) ?? [:] {
                guard case .string(let s) = value else {
                    throw FunctionFailure("unable to parse \(key) key, must be of type string, but \(value.goKindName) found")
                }
                parts[key] = s
            }
            return string(GoURL.join(parts))
        case .buildCustomCert:
            try args.require(2)
            var decoded: [String] = []
            for k in 0..<2 {
                guard let data = Data(base64Encoded: try args.string(k)) else {
                    throw FunctionFailure("unable to decode base64 \(k == 0 ? "certificate" : "private key")")
                }
                let text = String(decoding: data, as: UTF8.self)
                guard text.contains("-----BEGIN ") else {
                    throw FunctionFailure("unable to decode \(k == 0 ? "certificate" : "private key"): not PEM")
                }
                decoded.append(text)
            }
            return .value(.map(["Cert": .string(decoded[0]), "Key": .string(decoded[1])]))
        case .semverCompare:
            try args.require(2)
            return .value(.bool(try SemverConstraint(parsing: try args.string(0)).check(try SemverConstraint.Version(parsing: try args.string(1)))))
        default:
            throw FunctionFailure("not a sprig function")
        }
    }

    private static func string(_ s: String) -> Datum { .value(.string(s)) }

    /// sprig's date argument: a time, or seconds since the epoch; anything else is `time.Now()` (the epoch).
    private static func time(_ datum: Datum, _ ambient: Ambient) -> GoTime {
        switch datum {
        case .time(let t): return t
        case .value(.int(let seconds)): return GoTime(seconds: Int64(seconds))
        default: return ambient.now()
        }
    }

    /// A `time.Time` parameter: only a time.
    private static func timeArgument(_ args: Arguments, _ k: Int) throws(FunctionFailure) -> GoTime {
        guard case .time(let t) = args[k] else {
            throw FunctionFailure("argument \(k + 1) must be a time (from now or toDate), not \(args[k].storable.briefDescription)")
        }
        return t
    }

    /// sprig's `durationRound`: the largest whole unit, from years (365 days) down to seconds.
    static func roundedDuration(_ nanoseconds: Int64) -> String {
        let u = nanoseconds.magnitude
        let hour: UInt64 = 3_600_000_000_000
        let units: [(UInt64, String)] = [
            (hour * 24 * 365, "y"), (hour * 24 * 30, "mo"), (hour * 24, "d"), (hour, "h"), (60_000_000_000, "m"), (1_000_000_000, "s"),
        ]
        for (size, name) in units where u > size { return String(u / size) + name }
        return "0s"
    }

    /// `os.Expand`: `$NAME`, `${NAME}` and the shell's one-character specials.
    static func expand(_ s: String, _ lookup: (String) throws(FunctionFailure) -> String) throws(FunctionFailure) -> String {
        let bytes = Array(s.utf8)
        var out: [UInt8] = []
        var i = 0, j = 0
        func special(_ c: UInt8) -> Bool { "*#$@!?-0123456789".utf8.contains(c) }
        func alphanumeric(_ c: UInt8) -> Bool {
            c == 0x5F || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
        }
        var touched = false
        while j < bytes.count {
            if bytes[j] == UInt8(ascii: "$"), j + 1 < bytes.count {
                touched = true
                out += bytes[i..<j]
                let rest = bytes[(j + 1)...]
                var name: ArraySlice<UInt8> = []
                var width = 0
                if rest.first == UInt8(ascii: "{") {
                    if rest.count > 2, special(rest[rest.startIndex + 1]), rest[rest.startIndex + 2] == UInt8(ascii: "}") {
                        name = rest[(rest.startIndex + 1)..<(rest.startIndex + 2)]
                        width = 3
                    } else if let close = rest.dropFirst().firstIndex(of: UInt8(ascii: "}")) {
                        name = rest[(rest.startIndex + 1)..<close]
                        width = close - rest.startIndex + 1
                    } else {
                        width = 1
                    }
                } else if special(rest[rest.startIndex]) {
                    name = rest.prefix(1)
                    width = 1
                } else {
                    name = rest.prefix(while: alphanumeric)
                    width = name.count
                }
                if name.isEmpty && width > 0 {
                    // invalid syntax: the characters are dropped
                } else if name.isEmpty {
                    out.append(bytes[j])
                } else {
                    out += Array(try lookup(String(decoding: name, as: UTF8.self)).utf8)
                }
                j += width
                i = j + 1
            }
            j += 1
        }
        guard touched else { return s }
        if i < bytes.count { out += bytes[i...] }
        return String(decoding: out, as: UTF8.self)
    }

    /// goutils `AbbreviateFull`.
    static func abbreviate(_ s: String, offset start: Int, width: Int) -> String {
        let bytes = Array(s.utf8)
        func text(_ slice: ArraySlice<UInt8>) -> String { String(decoding: slice, as: UTF8.self) }
        if bytes.isEmpty || bytes.count <= width { return s }
        var offset = Swift.min(start, bytes.count)
        if bytes.count - offset < width - 3 { offset = bytes.count - (width - 3) }
        if offset <= 4 { return text(bytes[0..<(width - 3)]) + "..." }
        if width < 7 { return s }
        if offset + width - 3 < bytes.count {
            return "..." + abbreviate(text(bytes[offset...]), offset: 0, width: width - 3)
        }
        return "..." + text(bytes[(bytes.count - (width - 3))...])
    }

    /// sprig's `strslice`: a list's non-null items as text, null as nothing, anything else as one text.
    static func strings(_ datum: Datum) -> [String] {
        switch datum.storable {
        case .null: return []
        case .list(let items): return items.compactMap { $0 == .null ? nil : ($0.stringValue ?? GoFormat.text($0)) }
        case .string(let s): return [s]
        case let other: return [GoFormat.text(other)]
        }
    }

    /// sprig's `untilStep`, bounded.
    static func untilStep(_ start: Int, _ stop: Int, _ step: Int) throws(FunctionFailure) -> [Int] {
        if stop < start && step >= 0 || stop >= start && step <= 0 { return [] }
        let count = abs(Double(stop) - Double(start)) / Double(step.magnitude)
        guard count <= 1_000_000 else { throw FunctionFailure("a sequence of more than 1,000,000 numbers") }
        return Array(stride(from: start, to: stop, by: step))
    }

    private static func decimal(_ d: Double) -> Decimal { Decimal(string: "\(d)") ?? Decimal(d) }

    /// mergo's `MergeWithOverwrite`: values of `source` replace those of `destination`, except empty ones;
    /// maps merge key by key.
    static func overwriting(_ destination: [String: Value], with source: [String: Value]) -> [String: Value] {
        var result = destination
        for (key, value) in source {
            if case .map(let inner) = value, case .map(let existing)? = result[key] {
                result[key] = .map(overwriting(existing, with: inner))
            } else if value.isTrue || result[key] == nil {
                result[key] = value
            }
        }
        return result
    }
}

/// Go's `path` package, for slash-separated paths.
enum GoPath {
    static func clean(_ path: String) -> String {
        if path.isEmpty { return "." }
        let rooted = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if let last = parts.last, last != ".." { parts.removeLast() } else if !rooted { parts.append(part) }
                continue
            }
            parts.append(part)
        }
        let joined = parts.joined(separator: "/")
        if rooted { return "/" + joined }
        return joined.isEmpty ? "." : joined
    }

    static func base(_ path: String) -> String {
        if path.isEmpty { return "." }
        var p = Substring(path)
        while p.count > 1, p.hasSuffix("/") { p = p.dropLast() }
        if p == "/" { return "/" }
        if let slash = p.lastIndex(of: "/") { p = p[p.index(after: slash)...] }
        return p.isEmpty ? "/" : String(p)
    }

    static func dir(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return clean("") }
        return clean(String(path[...slash]))
    }

    static func ext(_ path: String) -> String {
        for index in path.indices.reversed() {
            if path[index] == "/" { break }
            if path[index] == "." { return String(path[index...]) }
        }
        return ""
    }
}

/// Go's `net/url` as sprig's `urlParse` and `urlJoin` use it.
enum GoURL {
    static func parse(_ raw: String) throws(FunctionFailure) -> [String: String] {
        var rest = Substring(raw)
        var fragment = ""
        if let hash = rest.firstIndex(of: "#") {
            fragment = unescape(String(rest[rest.index(after: hash)...]))
            rest = rest[..<hash]
        }
        var scheme = ""
        if let colon = rest.firstIndex(of: ":"), colon != rest.startIndex,
            rest[..<colon].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }),
            rest.first!.isLetter
        {
            scheme = rest[..<colon].lowercased()
            rest = rest[rest.index(after: colon)...]
        } else if let colon = rest.firstIndex(of: ":"), colon == rest.startIndex {
            throw FunctionFailure("unable to parse url: parse \(GoFormat.quote(raw)): missing protocol scheme")
        }
        var query = ""
        if let question = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: question)...])
            rest = rest[..<question]
        }
        var opaque = "", host = "", userinfo = "", path = ""
        if !scheme.isEmpty, !rest.hasPrefix("/") {
            opaque = String(rest)
        } else {
            if rest.hasPrefix("//") {
                rest = rest.dropFirst(2)
                let end = rest.firstIndex(of: "/") ?? rest.endIndex
                var authority = rest[..<end]
                rest = rest[end...]
                if let at = authority.lastIndex(of: "@") {
                    userinfo = String(authority[..<at])
                    authority = authority[authority.index(after: at)...]
                }
                host = unescape(String(authority))
            }
            path = unescape(String(rest))
        }
        var hostname = host
        if hostname.hasPrefix("["), let close = hostname.firstIndex(of: "]") {
            hostname = String(hostname[hostname.index(after: hostname.startIndex)..<close])
        } else if let colon = hostname.lastIndex(of: ":") {
            hostname = String(hostname[..<colon])
        }
        return [
            "scheme": scheme, "host": host, "hostname": hostname, "path": path, "query": query, "opaque": opaque,
            "fragment": fragment, "userinfo": userinfo,
        ]
    }

    static func join(_ parts: [String: String]) -> String {
        let scheme = parts["scheme"] ?? "", host = parts["host"] ?? "", path = parts["path"] ?? ""
        let query = parts["query"] ?? "", opaque = parts["opaque"] ?? "", fragment = parts["fragment"] ?? ""
        let userinfo = parts["userinfo"] ?? ""
        var out = ""
        if !scheme.isEmpty { out += scheme + ":" }
        if !opaque.isEmpty {
            out += opaque
        } else {
            if !scheme.isEmpty || !host.isEmpty || !userinfo.isEmpty {
                if !host.isEmpty || !path.isEmpty || !userinfo.isEmpty { out += "//" }
                if !userinfo.isEmpty { out += userinfo + "@" }
                out += host
            }
            if !path.isEmpty, !path.hasPrefix("/"), !host.isEmpty { out += "/" }
            out += escape(path, keeping: "/:@!$&'()*+,;=")
        }
        if !query.isEmpty { out += "?" + query }
        if !fragment.isEmpty { out += "#" + escape(fragment, keeping: "/:@!$&'()*+,;=?") }
        return out
    }

    private static func unescape(_ s: String) -> String { s.removingPercentEncoding ?? s }

    private static func escape(_ s: String, keeping: String) -> String {
        var allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        allowed.insert(charactersIn: keeping)
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
}

/// base32 (RFC 4648, padded), as Go's `base32.StdEncoding`.
enum Base32 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var k = 0
        while k < bytes.count {
            let chunk = Array(bytes[k..<min(k + 5, bytes.count)]) + Array(repeating: 0, count: max(0, k + 5 - bytes.count))
            var bits: UInt64 = 0
            for b in chunk { bits = bits << 8 | UInt64(b) }
            let symbols = [8, 2, 4, 5, 7, 8][min(bytes.count - k, 5)]
            for s in 0..<8 {
                out.append(s < symbols ? alphabet[Int((bits >> UInt64(35 - 5 * s)) & 31)] : UInt8(ascii: "="))
            }
            k += 5
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) throws(FunctionFailure) -> [UInt8] {
        let symbols = Array(text.utf8).filter { $0 != 0x0A && $0 != 0x0D }
        guard symbols.count % 8 == 0 else { throw FunctionFailure("illegal base32 data at input byte \(symbols.count / 8 * 8)") }
        var out: [UInt8] = []
        var k = 0
        while k < symbols.count {
            var bits: UInt64 = 0
            var used = 0
            for s in 0..<8 {
                let c = symbols[k + s]
                if c == UInt8(ascii: "=") {
                    bits <<= 5
                    continue
                }
                guard used == s, let v = alphabet.firstIndex(of: c) else { throw FunctionFailure("illegal base32 data at input byte \(k + s)") }
                bits = bits << 5 | UInt64(v)
                used += 1
            }
            let count = [0, 0, 1, 1, 2, 3, 3, 4, 5][used]
            guard used == 8 || k + 8 == symbols.count, [2, 4, 5, 7, 8].contains(used) else {
                throw FunctionFailure("illegal base32 data at input byte \(k + used)")
            }
            for b in 0..<count { out.append(UInt8((bits >> UInt64(32 - 8 * b)) & 0xFF)) }
            k += 8
        }
        return out
    }
}

/// SHA-1, for sprig's `sha1sum` (a checksum here, not a security measure).
enum SHA1 {
    static func hex(_ message: [UInt8]) -> String {
        var h: [UInt32] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0]
        var data = message
        data.append(0x80)
        while data.count % 64 != 56 { data.append(0) }
        let bits = UInt64(message.count) * 8
        for k in (0..<8).reversed() { data.append(UInt8((bits >> UInt64(8 * k)) & 0xFF)) }
        var w = [UInt32](repeating: 0, count: 80)
        for block in stride(from: 0, to: data.count, by: 64) {
            for t in 0..<16 {
                w[t] = (0..<4).reduce(UInt32(0)) { $0 << 8 | UInt32(data[block + 4 * t + $1]) }
            }
            for t in 16..<80 {
                let x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]
                w[t] = x << 1 | x >> 31
            }
            var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
            for t in 0..<80 {
                let f: UInt32, k: UInt32
                switch t {
                case 0..<20: (f, k) = ((b & c) | (~b & d), 0x5A82_7999)
                case 20..<40: (f, k) = (b ^ c ^ d, 0x6ED9_EBA1)
                case 40..<60: (f, k) = ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
                default: (f, k) = (b ^ c ^ d, 0xCA62_C1D6)
                }
                let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[t]
                (e, d, c, b, a) = (d, c, b << 30 | b >> 2, a, temp)
            }
            h[0] = h[0] &+ a
            h[1] = h[1] &+ b
            h[2] = h[2] &+ c
            h[3] = h[3] &+ d
            h[4] = h[4] &+ e
        }
        return h.map { word in
            let s = String(word, radix: 16)
            return String(repeating: "0", count: 8 - s.count) + s
        }.joined()
    }
}

/// luet's `toToml` (BurntSushi's encoder): keys sorted, plain keys first, then tables, nested tables indented.
enum TOMLWriter {
    static func encode(_ value: Value) -> String {
        guard case .map(let map) = value else { return "" }
        var out = ""
        write(map, path: [], into: &out)
        return out
    }

    private static func write(_ map: [String: Value], path: [String], into out: inout String) {
        let keys = map.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        let indent = String(repeating: "  ", count: max(0, path.count))
        func isTable(_ v: Value) -> Bool {
            if case .map = v { return true }
            if case .list(let items) = v, !items.isEmpty, items.allSatisfy({ if case .map = $0 { return true } else { return false } }) {
                return true
            }
            return false
        }
        for key in keys where !isTable(map[key]!) && map[key]! != .null {
            out += indent + quotedKey(key) + " = " + scalar(map[key]!) + "\n"
        }
        for key in keys where isTable(map[key]!) {
            let sub = path + [key]
            let headerIndent = String(repeating: "  ", count: max(0, sub.count - 1))
            let name = sub.map(quotedKey).joined(separator: ".")
            switch map[key]! {
            case .map(let inner):
                if !out.isEmpty { out += "\n" }
                out += headerIndent + "[" + name + "]\n"
                write(inner, path: sub, into: &out)
            case .list(let items):
                for item in items {
                    guard case .map(let inner) = item else { continue }
                    if !out.isEmpty { out += "\n" }
                    out += headerIndent + "[[" + name + "]]\n"
                    write(inner, path: sub, into: &out)
                }
            default: break
            }
        }
    }

    private static func quotedKey(_ key: String) -> String {
        let bare = !key.isEmpty && key.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
        return bare ? key : quoted(key)
    }

    private static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func scalar(_ v: Value) -> String {
        switch v {
        case .null: return "\"\""
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d):
            if d.isNaN { return "nan" }
            if d.isInfinite { return d < 0 ? "-inf" : "inf" }
            var text = GoFormat.text(.double(d))
            if !text.contains(".") && !text.contains("e") { text += ".0" }
            return text
        case .string(let s): return quoted(s)
        case .list(let items): return "[" + items.map(scalar).joined(separator: ", ") + "]"
        case .map(let m): return "{" + m.keys.sorted().map { quotedKey($0) + " = " + scalar(m[$0]!) }.joined(separator: ", ") + "}"
        }
    }
}
