import CosciModel

/// The implementations behind `Builtin`: values in, values out. `and`, `or` and `include` live in the
/// renderer (they evaluate lazily or render).
enum Functions {
    static func call(_ function: Builtin, _ args: Arguments, _ ambient: Ambient) throws(FunctionFailure) -> Datum {
        switch function {
        // MARK: Go builtins
        case .and, .or, .include:
            throw FunctionFailure("handled by the renderer")
        case .not:
            try args.require(1)
            return .value(.bool(!args[0].isTrue))
        case .eq:
            try args.require(atLeast: 2)
            for k in 1..<args.count where try equal(args[0], args[k], k) { return .value(.bool(true)) }
            return .value(.bool(false))
        case .ne:
            try args.require(2)
            return .value(.bool(!(try equal(args[0], args[1], 1))))
        case .lt, .le, .gt, .ge:
            try args.require(2)
            let order = try compare(args, function)
            switch function {
            case .lt: return .value(.bool(order < 0))
            case .le: return .value(.bool(order <= 0))
            case .gt: return .value(.bool(order > 0))
            default: return .value(.bool(order >= 0))
            }
        case .index:
            return try index(args) { "(value)" }
        case .len:
            try args.require(1)
            let v = try args.value(0)
            switch v {
            case .string(let s): return .value(.int(s.utf8.count))
            case .list(let l): return .value(.int(l.count))
            case .map(let m): return .value(.int(m.count))
            default: throw FunctionFailure("len of \(v.briefDescription)")
            }
        case .print:
            return .value(.string(GoFormat.sprint(try args.printable())))
        case .println:
            return .value(.string(GoFormat.sprintln(try args.printable())))
        case .printf:
            try args.require(atLeast: 1)
            let format = try args.string(0)
            var values = try args.printable()
            values.removeFirst()
            return .value(.string(GoFormat.sprintf(format, values)))
        case .slice:
            return try slice(args)

        // MARK: Maps and lists
        case .get:
            try args.require(2)
            let key = try args.string(1)
            return .value(try args.optionalMap(0)?[key] ?? .string(""))
        case .set:
            try args.require(3)
            var map = try args.optionalMap(0) ?? [:]
            map[try args.string(1)] = args[2].storable
            return .value(.map(map))
        case .unset:
            try args.require(2)
            var map = try args.optionalMap(0) ?? [:]
            map[try args.string(1)] = nil
            return .value(.map(map))
        case .dict:
            var map: [String: Value] = [:]
            var k = 0
            while k < args.count {
                let key = try args.text(k)
                map[key] = k + 1 < args.count ? args[k + 1].storable : .string("")
                k += 2
            }
            return .value(.map(map))
        case .list:
            return .value(.list(args.items.map(\.storable)))
        case .has:
            try args.require(2)
            guard case .value(let haystack) = args[1], haystack != .null else { return .value(.bool(false)) }
            guard case .list(let items) = haystack else {
                throw FunctionFailure("argument 2 must be a list, not \(haystack.briefDescription)")
            }
            return .value(.bool(items.contains(args[0].storable)))
        case .hasKey:
            try args.require(2)
            let key = try args.string(1)
            return .value(.bool(try args.optionalMap(0)?[key] != nil))
        case .pluck:
            try args.require(atLeast: 1)
            let key = try args.string(0)
            var found: [Value] = []
            for k in 1..<args.count {
                if let v = try args.optionalMap(k)?[key] { found.append(v) }
            }
            return .value(.list(found))
        case .merge:
            try args.require(atLeast: 1)
            var result: Value = .map([:])
            for k in stride(from: args.count - 1, through: 0, by: -1) {
                result = result.merging(.map(try args.optionalMap(k) ?? [:]))
            }
            return .value(result)
        case .first, .last:
            try args.require(1)
            let items = try args.list(0)
            return .value((function == .first ? items.first : items.last) ?? .null)
        case .rest, .initial:
            try args.require(1)
            let items = try args.list(0)
            if items.isEmpty { return .value(.list([])) }
            return .value(.list(Array(function == .rest ? items.dropFirst() : items.dropLast())))
        case .append, .push:
            try args.require(2)
            return .value(.list(try args.list(0) + [args[1].storable]))
        case .prepend:
            try args.require(2)
            return .value(.list([args[1].storable] + (try args.list(0))))
        case .concat:
            var items: [Value] = []
            for k in 0..<args.count { items += try args.list(k) }
            return .value(.list(items))
        case .keys:
            var keys: [String] = []
            for k in 0..<args.count { keys += (try args.optionalMap(k) ?? [:]).keys }
            keys.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            return .value(.list(keys.map(Value.string)))
        case .values:
            try args.require(1)
            let entries = Value.map(try args.optionalMap(0) ?? [:]).sortedEntries ?? []
            return .value(.list(entries.map(\.value)))
        case .uniq:
            try args.require(1)
            var seen = Set<Value>()
            return .value(.list(try args.list(0).filter { seen.insert($0).inserted }))
        case .sortAlpha:
            try args.require(1)
            let strings: [String]
            switch try args.value(0) {
            case .list(let items): strings = items.compactMap { $0 == .null ? nil : GoFormat.text($0) }
            case .null: strings = []
            default: strings = [try args.text(0)]
            }
            let sorted = strings.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            return .value(.list(sorted.map(Value.string)))
        case .reverse:
            try args.require(1)
            return .value(.list(try args.list(0).reversed()))
        case .compact:
            try args.require(1)
            return .value(.list(try args.list(0).filter(\.isTrue)))
        case .without:
            try args.require(atLeast: 1)
            let unwanted = args.items.dropFirst().map(\.storable)
            return .value(.list(try args.list(0).filter { !unwanted.contains($0) }))

        // MARK: Defaults and flow
        case .defaultValue:
            try args.require(atLeast: 1)
            if args.count == 1 || args[1].isEmpty { return args[0] }
            return args[1]
        case .empty:
            try args.require(1)
            return .value(.bool(args[0].isEmpty))
        case .coalesce:
            for item in args.items where item.isTrue { return item }
            return .null
        case .ternary:
            try args.require(3)
            return try args.bool(2) ? args[0] : args[1]
        case .fail:
            try args.require(1)
            throw FunctionFailure(try args.text(0))
        case .required:
            try args.require(2)
            let message = try args.string(0)
            switch args[1] {
            case .missing, .value(.null), .value(.string("")): throw FunctionFailure(message)
            default: return args[1]
            }

        // MARK: Strings, numbers, encodings
        case .cat, .quote, .squote, .replace, .trim, .trimAll, .trimPrefix, .trimSuffix, .contains, .hasPrefix,
            .hasSuffix, .split, .splitList, .join, .upper, .lower, .title, .repeatString, .indent, .nindent, .substr,
            .trunc, .nospace, .toString, .regexMatch, .regexReplaceAll, .regexReplaceAllLiteral, .regexFind,
            .regexFindAll:
            return try text(function, args)
        case .int, .int64, .atoi, .float64, .add, .add1, .sub, .mul, .div, .mod, .max, .min:
            return try number(function, args)
        case .toYaml, .toJson, .toPrettyJson, .fromYaml, .fromJson, .semver, .b64enc, .b64dec, .sha256sum,
            .kindIs, .kindOf, .typeOf, .typeIs:
            return try encoding(function, args)
        default:
            return try sprig(function, args, ambient)
        }
    }

    // MARK: Comparison

    /// Go's `eq` for one pair: nil equals only nil; numbers compare across int and double; different kinds
    /// are an error, as in Go.
    static func equal(_ a: Datum, _ b: Datum, _ position: Int) throws(FunctionFailure) -> Bool {
        if a.isNil || b.isNil { return a.isNil && b.isNil }
        guard case .value(let x) = a, case .value(let y) = b else { return false }
        switch (x, y) {
        case (.int(let i), .int(let j)): return i == j
        case (.int(let i), .double(let d)), (.double(let d), .int(let i)): return Double(i) == d
        case (.double(let d), .double(let e)): return d == e
        case (.string(let s), .string(let t)): return s.utf8.elementsEqual(t.utf8)
        case (.bool(let p), .bool(let q)): return p == q
        case (.list, .list), (.map, .map): return x == y
        default:
            throw FunctionFailure(
                "incompatible types for comparison: \(x.briefDescription) and \(y.briefDescription) (argument \(position + 1))")
        }
    }

    /// -1, 0 or 1; numbers compare numerically, strings by bytes; anything else is an error.
    static func compare(_ args: Arguments, _ function: Builtin) throws(FunctionFailure) -> Int {
        let x = try args.value(0)
        let y = try args.value(1)
        func order<T: Comparable>(_ p: T, _ q: T) -> Int { p < q ? -1 : (p == q ? 0 : 1) }
        switch (x, y) {
        case (.int(let i), .int(let j)): return order(i, j)
        case (.int(let i), .double(let d)): return order(Double(i), d)
        case (.double(let d), .int(let i)): return order(d, Double(i))
        case (.double(let d), .double(let e)): return order(d, e)
        case (.string(let s), .string(let t)):
            if s.utf8.elementsEqual(t.utf8) { return 0 }
            return s.utf8.lexicographicallyPrecedes(t.utf8) ? -1 : 1
        default:
            throw FunctionFailure("can't compare \(x.briefDescription) with \(y.briefDescription)")
        }
    }

    // MARK: index and slice

    /// `index x k1 k2 …`: lists by integer, maps by string (an absent key is a missing value), strings by byte.
    static func index(_ args: Arguments, describeBase: () -> String) throws(FunctionFailure) -> Datum {
        try args.require(atLeast: 1)
        var current = args[0]
        /// The path up to (not including) key `k`, built only when a message needs it.
        func path(before k: Int) -> String {
            var path = describeBase()
            for j in 1..<k { path += step(args.items[j]) }
            return path
        }
        func step(_ key: Datum) -> String {
            switch key {
            case .value(.string(let s)): return isIdentifier(s) ? ".\(s)" : "[\(GoFormat.quote(s))]"
            case .value(let v): return "[\(GoFormat.text(v))]"
            case .time(let t): return "[\(t.description)]"
            case .missing(let p): return "[\(p)]"
            }
        }
        for k in 1..<max(1, args.count) {
            let key = try args.value(k)
            switch current {
            case .missing(let p):
                current = .missing(p + step(args[k]))
            case .time:
                throw FunctionFailure("can't index \(path(before: k)): it is a time")
            case .value(.map(let map)):
                guard case .string(let name) = key else {
                    throw FunctionFailure("a map is indexed by a string, not \(key.briefDescription)")
                }
                current = map[name].map(Datum.value) ?? .missing(path(before: k) + step(args[k]))
            case .value(.list(let items)):
                let position = try args.integer(k)
                guard position >= 0, position < items.count else {
                    throw FunctionFailure("index out of range: \(position) (the list has \(items.count) items)")
                }
                current = .value(items[position])
            case .value(.string(let s)):
                guard case .int(let position) = key else {
                    throw FunctionFailure("can't index \(path(before: k)) (string \(GoFormat.quote(s))) with \(key.briefDescription)")
                }
                let bytes = Array(s.utf8)
                guard position >= 0, position < bytes.count else {
                    throw FunctionFailure("index out of range: \(position) (the string has \(bytes.count) bytes)")
                }
                current = .value(.int(Int(bytes[position])))
            case .value(let other):
                throw FunctionFailure("can't index \(path(before: k)): it is \(other.briefDescription)")
            }
        }
        return current
    }

    private static func isIdentifier(_ s: String) -> Bool {
        guard let first = s.utf8.first, !(first >= 0x30 && first <= 0x39) else { return false }
        return s.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
    }

    /// `slice x [i [j [k]]]` on lists and strings (strings by byte).
    static func slice(_ args: Arguments) throws(FunctionFailure) -> Datum {
        try args.require(1...4)
        let v = try args.value(0)
        var bounds: [Int] = []
        for k in 1..<args.count { bounds.append(try args.integer(k)) }
        func check(_ length: Int, allowsThird: Bool) throws(FunctionFailure) -> (Int, Int) {
            if bounds.count == 3, !allowsThird { throw FunctionFailure("cannot 3-index slice a string") }
            let low = bounds.count > 0 ? bounds[0] : 0
            let high = bounds.count > 1 ? bounds[1] : length
            let capacity = bounds.count > 2 ? bounds[2] : length
            guard low >= 0, low <= high, high <= capacity, capacity <= length else {
                throw FunctionFailure("slice bounds out of range: \(bounds) for length \(length)")
            }
            return (low, high)
        }
        switch v {
        case .list(let items):
            let (low, high) = try check(items.count, allowsThird: true)
            return .value(.list(Array(items[low..<high])))
        case .string(let s):
            let bytes = Array(s.utf8)
            let (low, high) = try check(bytes.count, allowsThird: false)
            return .value(.string(String(decoding: bytes[low..<high], as: UTF8.self)))
        default:
            throw FunctionFailure("can't slice \(v.briefDescription)")
        }
    }

    // MARK: Numbers

    /// sprig's `toInt64` (spf13/cast): ints as they are, doubles truncated, strings parsed (Go base prefixes,
    /// "1.0" accepted), booleans 1/0, anything else 0.
    static func toInt(_ datum: Datum) -> Int {
        guard case .value(let v) = datum else { return 0 }
        switch v {
        case .int(let i): return i
        case .double(let d): return d.isFinite && abs(d) < 9.2e18 ? Int(d) : 0
        case .bool(let b): return b ? 1 : 0
        case .string(var s):
            if let dot = s.firstIndex(of: "."), s[s.index(after: dot)...].allSatisfy({ $0 == "0" }) {
                s = String(s[..<dot])
            }
            return parseGoInteger(s) ?? 0
        default: return 0
        }
    }

    /// `strconv.ParseInt(s, 0, 64)`: sign, `0x`/`0o`/`0b`/leading-0 octal, underscores.
    static func parseGoInteger(_ text: String) -> Int? {
        var s = Substring(text)
        var sign = ""
        if s.first == "+" || s.first == "-" {
            sign = s.first == "-" ? "-" : ""
            s = s.dropFirst()
        }
        var radix = 10
        let lower = s.lowercased()
        if lower.hasPrefix("0x") {
            radix = 16
            s = s.dropFirst(2)
        } else if lower.hasPrefix("0o") {
            radix = 8
            s = s.dropFirst(2)
        } else if lower.hasPrefix("0b") {
            radix = 2
            s = s.dropFirst(2)
        } else if lower.hasPrefix("0"), lower.count > 1 {
            radix = 8
            s = s.dropFirst()
        }
        if radix != 10 || s.contains("_") {
            s = Substring(s.filter { $0 != "_" })
        }
        guard !s.isEmpty, s.first != "+", s.first != "-" else { return nil }
        return Int(sign + s, radix: radix)
    }

    static func toDouble(_ datum: Datum) -> Double {
        guard case .value(let v) = datum else { return 0 }
        switch v {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .bool(let b): return b ? 1 : 0
        case .string(let s): return Double(s.trimmingSpaces()) ?? 0
        default: return 0
        }
    }

    private static func number(_ function: Builtin, _ args: Arguments) throws(FunctionFailure) -> Datum {
        switch function {
        case .int, .int64:
            try args.require(1)
            return .value(.int(toInt(args[0])))
        case .atoi:
            try args.require(1)
            return .value(.int(Int(try args.string(0)) ?? 0))
        case .float64:
            try args.require(1)
            return .value(.double(toDouble(args[0])))
        case .add:
            var sum = 0
            for item in args.items { sum = sum &+ toInt(item) }
            return .value(.int(sum))
        case .add1:
            try args.require(1)
            return .value(.int(toInt(args[0]) &+ 1))
        case .sub:
            try args.require(2)
            return .value(.int(toInt(args[0]) &- toInt(args[1])))
        case .mul:
            try args.require(atLeast: 1)
            var product = 1
            for item in args.items { product = product &* toInt(item) }
            return .value(.int(product))
        case .div, .mod:
            try args.require(2)
            let divisor = toInt(args[1])
            guard divisor != 0 else { throw FunctionFailure("integer division by zero") }
            let dividend = toInt(args[0])
            if function == .div {
                return .value(.int(dividend.dividedReportingOverflow(by: divisor).partialValue))
            }
            return .value(.int(dividend.remainderReportingOverflow(dividingBy: divisor).partialValue))
        case .max, .min:
            try args.require(atLeast: 1)
            var best = toInt(args[0])
            for item in args.items.dropFirst() {
                let v = toInt(item)
                best = function == .max ? Swift.max(best, v) : Swift.min(best, v)
            }
            return .value(.int(best))
        default:
            throw FunctionFailure("not a number function")
        }
    }
}

extension String {
    /// Without leading and trailing Unicode white space (Go's `strings.TrimSpace`).
    func trimmingSpaces() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) ?? first
        return String(scalars[first...last])
    }
}
