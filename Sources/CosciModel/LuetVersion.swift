/// How luet 0.35 and earlier (cOS v0.8 systems ship 0.32.5) match a version against a selector: it orders
/// versions the Debian way, like cosci, but *matches* selectors with hashicorp/go-version
/// (`pkg/versioner/versioner.go`, `ValidateSelector`), where `0.0.14-3` is a pre-release below `0.0.14` and
/// an epoch (`1:0`) does not parse, so matches nothing. `cosci check` uses this to warn where luet's choice
/// would differ from cosci's.
public struct LuetVersion: Sendable, Hashable, Comparable {
    /// The numeric segments, padded to at least three (`1.2` is `1.2.0`).
    let segments: [UInt64]
    /// The pre-release (after `-`, or letters right after the digits), empty when none.
    let prerelease: String

    /// Parses as go-version's `NewVersion` does (after luet's `_` → `-`); nil where it fails.
    public init?(_ text: String) {
        var s = Substring(text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "_", with: "-"))
        if s.first == "v" { s = s.dropFirst() }
        // Digits and dots.
        var numbers: [UInt64] = []
        var i = s.startIndex
        while true {
            let start = i
            while i < s.endIndex, s[i].isASCII, s[i].isNumber { i = s.index(after: i) }
            guard start < i, let n = UInt64(s[start..<i]) else { return nil }
            numbers.append(n)
            // A dot continues the segments only when digits follow it.
            if i < s.endIndex, s[i] == ".", s.index(after: i) < s.endIndex, s[s.index(after: i)].isNumber {
                i = s.index(after: i)
                continue
            }
            break
        }
        var rest = s[i...]
        // Build metadata (+…) is ignored in comparisons.
        if let plus = rest.firstIndex(of: "+") {
            let metadata = rest[rest.index(after: plus)...]
            guard !metadata.isEmpty, metadata.allSatisfy(LuetVersion.isIdentifier) else { return nil }
            rest = rest[..<plus]
        }
        var pre = ""
        if !rest.isEmpty {
            if rest.first == "-" { rest = rest.dropFirst() }
            guard let first = rest.first, rest.allSatisfy(LuetVersion.isIdentifier), first != "." else { return nil }
            // `-` then digits first, or letters first (with or without the dash): both are pre-releases.
            pre = String(rest)
        }
        while numbers.count < 3 { numbers.append(0) }
        segments = numbers
        prerelease = pre
    }

    private static func isIdentifier(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "-" || c == "~" || c == ".")
    }

    public static func < (a: LuetVersion, b: LuetVersion) -> Bool { compare(a, b) < 0 }

    /// go-version's `Compare`: segments numerically, then a version without a pre-release above one with.
    static func compare(_ a: LuetVersion, _ b: LuetVersion) -> Int {
        for k in 0..<max(a.segments.count, b.segments.count) {
            let x = k < a.segments.count ? a.segments[k] : 0, y = k < b.segments.count ? b.segments[k] : 0
            if x != y { return x < y ? -1 : 1 }
        }
        switch (a.prerelease.isEmpty, b.prerelease.isEmpty) {
        case (true, true): return 0
        case (true, false): return 1
        case (false, true): return -1
        case (false, false): return comparePrerelease(a.prerelease, b.prerelease)
        }
    }

    private static func comparePrerelease(_ a: String, _ b: String) -> Int {
        let x = a.split(separator: ".", omittingEmptySubsequences: false), y = b.split(separator: ".", omittingEmptySubsequences: false)
        for k in 0..<max(x.count, y.count) {
            guard k < x.count else { return -1 }
            guard k < y.count else { return 1 }
            if x[k] == y[k] { continue }
            switch (UInt64(x[k]), UInt64(y[k])) {
            case let (m?, n?): return m < n ? -1 : 1
            case (.some, nil): return -1
            case (nil, .some): return 1
            case (nil, nil): return x[k] < y[k] ? -1 : 1
            }
        }
        return 0
    }

    /// Whether luet's `ValidateSelector` accepts `version` for a one-term selector; nil for selectors it does
    /// not handle this way (no operator, or `=`: luet compares those as strings, as cosci does).
    public static func matches(_ version: String, _ term: VersionSelector.Term) -> Bool? {
        let op: VersionSelector.Operator = term.op
        guard op != .equal else { return nil }
        guard let v = LuetVersion(version), let s = LuetVersion(term.version.text) else {
            // go-version cannot parse it; luet falls back to Masterminds semver, which cannot either
            // (epochs, `~`): nothing matches.
            return false
        }
        let c = compare(v, s)
        switch op {
        case .greaterOrEqual: return c >= 0
        case .lessOrEqual: return c <= 0
        case .greater: return c > 0
        case .less: return c < 0
        case .notEqual: return c != 0
        case .equal: return nil
        }
    }
}
