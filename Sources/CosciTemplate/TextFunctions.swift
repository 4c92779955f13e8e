import CosciModel
import Foundation

extension Functions {
    /// Largest string `repeat`, `indent` and friends will build (a runaway template fails instead of eating memory).
    static let maximumStringBytes = 64 << 20

    static func text(_ function: Builtin, _ args: Arguments) throws(FunctionFailure) -> Datum {
        switch function {
        case .cat:
            let present = args.items.compactMap { item -> Value? in
                if case .value(let v) = item, v != .null { return v }
                return nil
            }
            return string(present.map(GoFormat.text).joined(separator: " "))
        case .quote, .squote:
            var parts: [String] = []
            for k in 0..<args.count {
                let v = try args.value(k)
                if v == .null { continue }
                let s = v.stringValue ?? GoFormat.text(v)
                parts.append(function == .quote ? GoFormat.quote(s) : "'\(s)'")
            }
            return string(parts.joined(separator: " "))
        case .replace:
            try args.require(3)
            return string(try replaceAll(in: try args.string(2), try args.string(0), with: try args.string(1)))
        case .trim:
            try args.require(1)
            return string(try args.string(0).trimmingSpaces())
        case .trimAll:
            try args.require(2)
            let cutset = Set(try args.string(0).unicodeScalars)
            let scalars = try args.string(1).unicodeScalars
            guard let first = scalars.firstIndex(where: { !cutset.contains($0) }) else { return string("") }
            let last = scalars.lastIndex(where: { !cutset.contains($0) }) ?? first
            return string(String(scalars[first...last]))
        case .trimPrefix:
            try args.require(2)
            let prefix = try args.string(0), s = try args.string(1)
            return string(s.utf8.starts(with: prefix.utf8) ? String(decoding: s.utf8.dropFirst(prefix.utf8.count), as: UTF8.self) : s)
        case .trimSuffix:
            try args.require(2)
            let suffix = try args.string(0), s = try args.string(1)
            return string(s.utf8.reversed().starts(with: suffix.utf8.reversed()) ? String(decoding: s.utf8.dropLast(suffix.utf8.count), as: UTF8.self) : s)
        case .contains:
            try args.require(2)
            return .value(.bool(byteRanges(of: try args.string(0), in: try args.string(1), limit: 1).count == 1))
        case .hasPrefix:
            try args.require(2)
            return .value(.bool(try args.string(1).utf8.starts(with: try args.string(0).utf8)))
        case .hasSuffix:
            try args.require(2)
            return .value(.bool(try args.string(1).utf8.reversed().starts(with: try args.string(0).utf8.reversed())))
        case .split, .splitList:
            try args.require(2)
            let parts = split(try args.string(1), separator: try args.string(0))
            if function == .splitList { return .value(.list(parts.map(Value.string))) }
            var map: [String: Value] = [:]
            for (k, part) in parts.enumerated() { map["_\(k)"] = .string(part) }
            return .value(.map(map))
        case .join:
            try args.require(2)
            let separator = try args.string(0)
            let v = try args.value(1)
            switch v {
            case .list(let items):
                return string(items.filter { $0 != .null }.map { $0.stringValue ?? GoFormat.text($0) }.joined(separator: separator))
            case .null:
                return string("")
            default:
                return string(try args.text(1))
            }
        case .upper:
            try args.require(1)
            return string(try args.string(0).uppercased())
        case .lower:
            try args.require(1)
            return string(try args.string(0).lowercased())
        case .title:
            try args.require(1)
            return string(title(try args.string(0)))
        case .repeatString:
            try args.require(2)
            let count = try args.integer(0), s = try args.string(1)
            guard count >= 0 else { throw FunctionFailure("negative repeat count \(count)") }
            guard s.utf8.count.multipliedReportingOverflow(by: count).partialValue <= maximumStringBytes else {
                throw FunctionFailure("the result would exceed \(maximumStringBytes >> 20) MiB")
            }
            return string(String(repeating: s, count: count))
        case .indent, .nindent:
            try args.require(2)
            let width = try args.integer(0), s = try args.string(1)
            guard width >= 0, width <= 10_000 else { throw FunctionFailure("indent width \(width) is out of range") }
            let pad = String(repeating: " ", count: width)
            let indented = pad + (try replaceAll(in: s, "\n", with: "\n" + pad))
            return string(function == .nindent ? "\n" + indented : indented)
        case .substr:
            try args.require(3)
            let start = try args.integer(0), end = try args.integer(1)
            let bytes = Array(try args.string(2).utf8)
            let low = start < 0 ? 0 : start
            let high = end < 0 || end > bytes.count ? bytes.count : end
            guard low <= high, low <= bytes.count else {
                throw FunctionFailure("substring bounds [\(start):\(end)] out of range for \(bytes.count) bytes")
            }
            return string(String(decoding: bytes[low..<high], as: UTF8.self))
        case .trunc:
            try args.require(2)
            let length = try args.integer(0)
            let bytes = Array(try args.string(1).utf8)
            if length < 0, bytes.count + length >= 0 {
                return string(String(decoding: bytes[(bytes.count + length)...], as: UTF8.self))
            }
            if length >= 0, bytes.count > length { return string(String(decoding: bytes[..<length], as: UTF8.self)) }
            return string(String(decoding: bytes, as: UTF8.self))
        case .nospace:
            try args.require(1)
            return string(String(String.UnicodeScalarView(try args.string(0).unicodeScalars.filter { !$0.properties.isWhitespace })))
        case .toString:
            try args.require(1)
            return string(try args.text(0))
        case .regexMatch:
            try args.require(2)
            let regex = try RegexCache.shared.regex(try args.string(0))
            let s = try args.string(1)
            return .value(.bool(regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil))
        case .regexReplaceAll, .regexReplaceAllLiteral:
            try args.require(3)
            let regex = try RegexCache.shared.regex(try args.string(0))
            return string(replaceMatches(of: regex, in: try args.string(1), with: try args.string(2), literal: function == .regexReplaceAllLiteral))
        case .regexFind:
            try args.require(2)
            let regex = try RegexCache.shared.regex(try args.string(0))
            let s = try args.string(1)
            guard let match = regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)),
                let range = Range(match.range, in: s)
            else { return string("") }
            return string(String(s[range]))
        case .regexFindAll:
            try args.require(3)
            let regex = try RegexCache.shared.regex(try args.string(0))
            let s = try args.string(1)
            let limit = try args.integer(2)
            var found: [Value] = []
            for match in goMatches(of: regex, in: s) {
                if limit >= 0, found.count >= limit { break }
                if let range = Range(match.range, in: s) { found.append(.string(String(s[range]))) }
            }
            return .value(.list(found))
        default:
            throw FunctionFailure("not a string function")
        }
    }

    private static func string(_ s: String) -> Datum { .value(.string(s)) }

    // MARK: Byte-level string helpers (Go compares bytes, not canonical equivalence)

    /// Byte offsets of non-overlapping occurrences of `needle` (non-empty) in `haystack`.
    static func byteRanges(of needle: String, in haystack: String, limit: Int = .max) -> [Range<Int>] {
        let n = Array(needle.utf8), h = Array(haystack.utf8)
        guard !n.isEmpty else { return limit > 0 ? [0..<0] : [] }
        guard h.count >= n.count else { return [] }
        var found: [Range<Int>] = []
        var p = 0
        let first = n[0]
        while p + n.count <= h.count, found.count < limit {
            if h[p] == first, h[p..<(p + n.count)].elementsEqual(n) {
                found.append(p..<(p + n.count))
                p += n.count
            } else {
                p += 1
            }
        }
        return found
    }

    /// Go's `strings.ReplaceAll`, including an empty `old` (inserts `new` around every character).
    static func replaceAll(in s: String, _ old: String, with new: String) throws(FunctionFailure) -> String {
        if old.isEmpty {
            var out = new
            for scalar in s.unicodeScalars {
                out.unicodeScalars.append(scalar)
                out += new
            }
            return out
        }
        let ranges = byteRanges(of: old, in: s)
        if ranges.isEmpty { return s }
        let bytes = Array(s.utf8)
        let newBytes = Array(new.utf8)
        let size = bytes.count + ranges.count * (newBytes.count - old.utf8.count)
        guard size <= maximumStringBytes else { throw FunctionFailure("the result would exceed \(maximumStringBytes >> 20) MiB") }
        var out: [UInt8] = []
        out.reserveCapacity(size)
        var p = 0
        for range in ranges {
            out.append(contentsOf: bytes[p..<range.lowerBound])
            out.append(contentsOf: newBytes)
            p = range.upperBound
        }
        out.append(contentsOf: bytes[p...])
        return String(decoding: out, as: UTF8.self)
    }

    /// Go's `strings.Split`: an empty separator splits into characters (Unicode scalars).
    static func split(_ s: String, separator: String) -> [String] {
        if separator.isEmpty { return s.unicodeScalars.map { String(Character($0)) } }
        let bytes = Array(s.utf8)
        var parts: [String] = []
        var p = 0
        for range in byteRanges(of: separator, in: s) {
            parts.append(String(decoding: bytes[p..<range.lowerBound], as: UTF8.self))
            p = range.upperBound
        }
        parts.append(String(decoding: bytes[p...], as: UTF8.self))
        return parts
    }

    /// Go's `strings.Title`: upper-cases the first letter of every word; words are separated by anything but
    /// letters, digits, `_` and marks.
    static func title(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        var previousIsSeparator = true
        for scalar in s.unicodeScalars {
            if previousIsSeparator {
                out.append(contentsOf: scalar.properties.titlecaseMapping.unicodeScalars)
            } else {
                out.append(scalar)
            }
            previousIsSeparator = isSeparator(scalar)
        }
        return String(out)
    }

    private static func isSeparator(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            let v = scalar.value
            let alphanumeric = (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A) || v == 0x5F
            return !alphanumeric
        }
        let properties = scalar.properties
        if properties.isAlphabetic || properties.numericType != nil { return false }
        return properties.isWhitespace
    }

    // MARK: Regular expressions

    /// Matches in Go's order: an empty match right after a previous match is skipped.
    static func goMatches(of regex: NSRegularExpression, in s: String) -> [NSTextCheckingResult] {
        var results: [NSTextCheckingResult] = []
        var previousEnd = -1
        for match in regex.matches(in: s, range: NSRange(s.startIndex..., in: s)) {
            if match.range.length == 0, match.range.location == previousEnd { continue }
            results.append(match)
            previousEnd = match.range.location + match.range.length
        }
        return results
    }

    /// Go's `ReplaceAllString` (with `$1`, `${1}`, `$name`, `$$` expansion) or `ReplaceAllLiteralString`.
    static func replaceMatches(of regex: NSRegularExpression, in s: String, with replacement: String, literal: Bool) -> String {
        let utf16 = Array(s.utf16)
        var out: [UInt16] = []
        out.reserveCapacity(utf16.count)
        var p = 0
        for match in goMatches(of: regex, in: s) {
            let range = match.range
            out.append(contentsOf: utf16[p..<range.location])
            if literal {
                out.append(contentsOf: replacement.utf16)
            } else {
                out.append(contentsOf: expand(replacement, match: match, in: utf16, regex: regex).utf16)
            }
            p = range.location + range.length
        }
        out.append(contentsOf: utf16[p...])
        return String(decoding: out, as: UTF16.self)
    }

    private static func expand(_ template: String, match: NSTextCheckingResult, in utf16: [UInt16], regex: NSRegularExpression) -> String {
        func group(_ name: Substring) -> String {
            let range: NSRange
            if let number = Int(name) {
                guard number <= regex.numberOfCaptureGroups else { return "" }
                range = match.range(at: number)
            } else {
                range = match.range(withName: String(name))
            }
            guard range.location != NSNotFound, range.location + range.length <= utf16.count else { return "" }
            return String(decoding: utf16[range.location..<(range.location + range.length)], as: UTF16.self)
        }
        func isNameCharacter(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c.isNumber || c == "_") }
        var out = ""
        var rest = Substring(template)
        while let dollar = rest.firstIndex(of: "$") {
            out += rest[..<dollar]
            rest = rest[rest.index(after: dollar)...]
            if rest.first == "$" {
                out += "$"
                rest = rest.dropFirst()
            } else if rest.first == "{", let close = rest.firstIndex(of: "}"),
                case let name = rest[rest.index(after: rest.startIndex)..<close], !name.isEmpty, name.allSatisfy(isNameCharacter)
            {
                out += group(name)
                rest = rest[rest.index(after: close)...]
            } else {
                let name = rest.prefix(while: isNameCharacter)
                if name.isEmpty {
                    out += "$"
                } else {
                    out += group(name)
                    rest = rest.dropFirst(name.count)
                }
            }
        }
        out += rest
        return out
    }
}

/// Compiled regular expressions by pattern, shared by all renders. `lock` guards `compiled`.
final class RegexCache: @unchecked Sendable {
    static let shared = RegexCache()

    private let lock = NSLock()
    private var compiled: [String: NSRegularExpression] = [:]

    /// The compiled pattern (Go's `(?P<name>…)` groups are accepted); an invalid pattern is an error.
    func regex(_ pattern: String) throws(FunctionFailure) -> NSRegularExpression {
        lock.lock()
        let cached = compiled[pattern]
        lock.unlock()
        if let cached { return cached }
        // An empty pattern matches the empty string everywhere in Go; ICU refuses it.
        let translated = pattern.isEmpty ? "(?:)" : pattern.replacingOccurrences(of: "(?P<", with: "(?<")
        let regex: NSRegularExpression
        do {
            regex = try NSRegularExpression(pattern: translated)
        } catch {
            throw FunctionFailure("invalid regular expression \(GoFormat.quote(pattern))")
        }
        lock.lock()
        if compiled.count > 1000 { compiled.removeAll() }
        compiled[pattern] = regex
        lock.unlock()
        return regex
    }
}
