/// Masterminds/semver v3 constraints, as sprig's `semverCompare` checks them: `||` between groups, `,` or
/// spaces between the constraints of a group, operators `= != > < >= <= ~ ~> ^`, `x`/`*` wildcards and
/// missing parts, hyphen ranges (`1.2 - 1.4.5`). A version with a pre-release satisfies a constraint only
/// when the constraint names a pre-release too.
struct SemverConstraint {
    struct Version: Comparable {
        var major: Int, minor: Int, patch: Int
        var prerelease: String

        /// Lenient `NewVersion`: `v1`, `1.2`, `1.2.3-rc.1+build`.
        init(parsing text: String) throws(FunctionFailure) {
            var rest = Substring(text)
            if rest.first == "v" || rest.first == "V" { rest = rest.dropFirst() }
            if let plus = rest.firstIndex(of: "+") { rest = rest[..<plus] }
            prerelease = ""
            if let dash = rest.firstIndex(of: "-") {
                prerelease = String(rest[rest.index(after: dash)...])
                rest = rest[..<dash]
                guard !prerelease.isEmpty else { throw FunctionFailure("invalid semantic version \(GoFormat.quote(text))") }
            }
            let parts = rest.split(separator: ".", omittingEmptySubsequences: false)
            guard (1...3).contains(parts.count) else { throw FunctionFailure("invalid semantic version \(GoFormat.quote(text))") }
            var numbers: [Int] = []
            for part in parts {
                guard !part.isEmpty, part.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(part) else {
                    throw FunctionFailure("invalid semantic version \(GoFormat.quote(text))")
                }
                numbers.append(n)
            }
            while numbers.count < 3 { numbers.append(0) }
            (major, minor, patch) = (numbers[0], numbers[1], numbers[2])
        }

        init(_ major: Int, _ minor: Int, _ patch: Int, _ prerelease: String) {
            (self.major, self.minor, self.patch, self.prerelease) = (major, minor, patch, prerelease)
        }

        static func < (a: Version, b: Version) -> Bool { compare(a, b) < 0 }

        static func compare(_ a: Version, _ b: Version) -> Int {
            for (x, y) in [(a.major, b.major), (a.minor, b.minor), (a.patch, b.patch)] where x != y { return x < y ? -1 : 1 }
            return comparePrerelease(a.prerelease, b.prerelease)
        }

        static func comparePrerelease(_ a: String, _ b: String) -> Int {
            if a == b { return 0 }
            if a.isEmpty { return 1 }
            if b.isEmpty { return -1 }
            let x = a.split(separator: ".", omittingEmptySubsequences: false)
            let y = b.split(separator: ".", omittingEmptySubsequences: false)
            for k in 0..<max(x.count, y.count) {
                guard k < x.count else { return -1 }
                guard k < y.count else { return 1 }
                if x[k] == y[k] { continue }
                switch (Int(x[k]), Int(y[k])) {
                case (let p?, let q?): return p < q ? -1 : 1
                case (.some, nil): return -1
                case (nil, .some): return 1
                default: return x[k].utf8.lexicographicallyPrecedes(y[k].utf8) ? -1 : 1
                }
            }
            return 0
        }
    }

    private struct Term {
        var op: String
        var version: Version
        var dirty: Bool
        var minorDirty: Bool
        var patchDirty: Bool

        func check(_ v: Version) -> Bool {
            if !v.prerelease.isEmpty && version.prerelease.isEmpty { return false }
            let c = version
            switch op {
            case "", "=":
                return dirty ? tilde(v) : Version.compare(v, c) == 0
            case "!=":
                if dirty {
                    if c.major != v.major { return true }
                    if c.minor != v.minor && !minorDirty { return true }
                    if minorDirty { return false }
                    if c.patch != v.patch && !patchDirty { return true }
                    if patchDirty { return !(v.prerelease.isEmpty && c.prerelease.isEmpty) && v.prerelease != c.prerelease }
                }
                return Version.compare(v, c) != 0
            case ">":
                if !dirty { return Version.compare(v, c) > 0 }
                if v.major != c.major { return v.major > c.major }
                if minorDirty { return false }
                if patchDirty { return v.minor > c.minor }
                return Version.compare(v, c) > 0
            case "<":
                if !dirty { return Version.compare(v, c) < 0 }
                if v.major > c.major { return false }
                if v.minor > c.minor && !minorDirty { return false }
                return true
            case ">=", "=>":
                return Version.compare(v, c) >= 0
            case "<=", "=<":
                if !dirty { return Version.compare(v, c) <= 0 }
                if v.major > c.major { return false }
                if v.minor > c.minor && !minorDirty { return false }
                return true
            case "~", "~>":
                return tilde(v)
            case "^":
                if v < c { return false }
                if c.major > 0 || minorDirty { return v.major == c.major }
                if v.major > 0 { return false }
                if c.minor > 0 || patchDirty { return v.minor == c.minor }
                return v.minor == c.minor && v.patch == c.patch
            default:
                return false
            }
        }

        private func tilde(_ v: Version) -> Bool {
            let c = version
            if v < c { return false }
            if c.major == 0 && c.minor == 0 && c.patch == 0 && !minorDirty && !patchDirty { return true }
            if v.major != c.major { return false }
            if v.minor != c.minor && !minorDirty { return false }
            return true
        }
    }

    private let groups: [[Term]]

    init(parsing text: String) throws(FunctionFailure) {
        var groups: [[Term]] = []
        for group in text.components(separatedBy: "||") {
            var terms: [Term] = []
            // Hyphen ranges first: "1.2 - 1.4.5" is ">= 1.2, <= 1.4.5".
            let words = group.replacingOccurrences(of: ",", with: " ").split(separator: " ").map(String.init)
            var k = 0
            var pending: String? = nil
            while k < words.count {
                var word = words[k]
                if k + 2 < words.count, words[k + 1] == "-" {
                    terms.append(try SemverConstraint.term(">=" + word, text))
                    terms.append(try SemverConstraint.term("<=" + words[k + 2], text))
                    k += 3
                    continue
                }
                if let op = pending {
                    word = op + word
                    pending = nil
                } else if ["=", "!=", ">", "<", ">=", "=>", "<=", "=<", "~", "~>", "^"].contains(word) {
                    pending = word
                    k += 1
                    continue
                }
                terms.append(try SemverConstraint.term(word, text))
                k += 1
            }
            guard pending == nil, !terms.isEmpty else { throw FunctionFailure("improper constraint: \(text)") }
            groups.append(terms)
        }
        self.groups = groups
    }

    private static func term(_ word: String, _ whole: String) throws(FunctionFailure) -> Term {
        var rest = Substring(word)
        var op = ""
        for candidate in ["!=", ">=", "=>", "<=", "=<", "~>", "=", ">", "<", "~", "^"] where rest.hasPrefix(candidate) {
            op = candidate
            rest = rest.dropFirst(candidate.count)
            break
        }
        if rest.first == "v" || rest.first == "V" { rest = rest.dropFirst() }
        var prerelease = ""
        if let plus = rest.firstIndex(of: "+") { rest = rest[..<plus] }
        if let dash = rest.firstIndex(of: "-") {
            prerelease = String(rest[rest.index(after: dash)...])
            rest = rest[..<dash]
        }
        let parts = rest.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard (1...3).contains(parts.count) else { throw FunctionFailure("improper constraint: \(whole)") }
        func isX(_ s: String) -> Bool { s == "x" || s == "X" || s == "*" }
        var numbers: [Int] = []
        var dirtyAt: Int? = nil
        for (k, part) in parts.enumerated() {
            if isX(part) {
                dirtyAt = dirtyAt ?? k
                numbers.append(0)
                continue
            }
            guard dirtyAt == nil, let n = Int(part), part.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw FunctionFailure("improper constraint: \(whole)")
            }
            numbers.append(n)
        }
        if parts.count < 3 { dirtyAt = dirtyAt ?? parts.count }
        while numbers.count < 3 { numbers.append(0) }
        if dirtyAt == 0 { numbers = [0, 0, 0] }
        return Term(
            op: op, version: Version(numbers[0], numbers[1], numbers[2], dirtyAt == nil ? prerelease : ""),
            dirty: dirtyAt != nil, minorDirty: dirtyAt == 1, patchDirty: dirtyAt == 2)
    }

    func check(_ version: Version) -> Bool {
        groups.contains { group in group.allSatisfy { $0.check(version) } }
    }
}
