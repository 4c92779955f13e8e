/// A package version ordered the way Debian orders versions: `[epoch:]upstream[-revision]`.
///
/// Comparison follows `dpkg --compare-versions` (deb-version(7)): epochs numerically, then the
/// upstream part and then the revision by alternating non-digit runs (letters before non-letters,
/// `~` before anything, even the end) and digit runs (numerically). Revision suffixes written
/// `+N` are part of the upstream string and sort after the bare version (`1.0 < 1.0+1 < 1.0+2`).
/// As luet does before comparing, a leading `v` is ignored and `_` reads as `-`.
/// Two versions can compare equal while their texts differ (`1.0` and `1.00`); identity uses `text`.
public struct Version: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The version exactly as written in the definition.
    public let text: String
    /// The epoch (0 when absent).
    public let epoch: UInt64
    /// The upstream part, after the epoch and before the last `-`.
    public let upstream: String
    /// The revision after the last `-`, or "" when there is none.
    public let revision: String

    /// Why a version string is not a version.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public let text: String
        public let reason: String
        public var description: String { "invalid version \"\(text)\": \(reason)" }
    }

    /// Parses a version; throws when it is empty, has a non-numeric epoch, or holds characters
    /// Debian versions do not allow.
    public init(_ text: String) throws(ParseError) {
        self.text = text
        var s = Substring(text.replacingAll("_", with: "-"))
        if s.first == "v" || s.first == "V", let second = s.dropFirst().first, second.isASCII, second.isNumber {
            s = s.dropFirst()
        }
        guard !s.isEmpty else { throw ParseError(text: text, reason: "it is empty") }
        var epoch: UInt64 = 0
        if let colon = s.firstIndex(of: ":") {
            let e = s[..<colon]
            guard !e.isEmpty, e.allSatisfy({ $0.isASCII && $0.isNumber }), let n = UInt64(e) else {
                throw ParseError(text: text, reason: "the epoch before ':' must be a number")
            }
            epoch = n
            s = s[s.index(after: colon)...]
        }
        var upstream = s
        var revision: Substring = ""
        if let dash = s.lastIndex(of: "-") {
            upstream = s[..<dash]
            revision = s[s.index(after: dash)...]
            guard !revision.isEmpty else { throw ParseError(text: text, reason: "nothing follows the last '-'") }
        }
        guard !upstream.isEmpty else { throw ParseError(text: text, reason: "the upstream version is empty") }
        for c in upstream.unicodeScalars where !(Version.isAlnum(c) || ".+~-:".unicodeScalars.contains(c)) {
            throw ParseError(text: text, reason: "character '\(c)' is not allowed (use letters, digits and . + ~ - :)")
        }
        for c in revision.unicodeScalars where !(Version.isAlnum(c) || ".+~".unicodeScalars.contains(c)) {
            throw ParseError(text: text, reason: "character '\(c)' is not allowed in the revision")
        }
        self.epoch = epoch
        self.upstream = String(upstream)
        self.revision = String(revision)
    }

    public var description: String { text }

    public static func == (a: Version, b: Version) -> Bool { compare(a, b) == 0 }
    public static func < (a: Version, b: Version) -> Bool { compare(a, b) < 0 }
    public func hash(into hasher: inout Hasher) {
        // Equal versions must hash alike: hash a normal form (no leading zeros in digit runs).
        hasher.combine(epoch)
        hasher.combine(Version.normalForm(upstream))
        hasher.combine(Version.normalForm(revision))
    }

    /// Three-way comparison: negative, zero or positive.
    public static func compare(_ a: Version, _ b: Version) -> Int {
        if a.epoch != b.epoch { return a.epoch < b.epoch ? -1 : 1 }
        let u = verrevcmp(Array(a.upstream.utf8), Array(b.upstream.utf8))
        if u != 0 { return u }
        return verrevcmp(Array(a.revision.utf8), Array(b.revision.utf8))
    }

    static func isAlnum(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9")
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    /// dpkg's character weight inside a non-digit run.
    private static func order(_ c: UInt8?) -> Int {
        guard let c else { return 0 }
        if isDigit(c) { return 0 }
        if (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) { return Int(c) }
        if c == 0x7E { return -1 }  // ~
        return Int(c) + 256
    }

    /// dpkg's verrevcmp over byte strings.
    static func verrevcmp(_ a: [UInt8], _ b: [UInt8]) -> Int {
        var i = 0, j = 0
        while i < a.count || j < b.count {
            var firstDiff = 0
            while (i < a.count && !isDigit(a[i])) || (j < b.count && !isDigit(b[j])) {
                let ac = order(i < a.count ? a[i] : nil)
                let bc = order(j < b.count ? b[j] : nil)
                if ac != bc { return ac - bc }
                i += 1; j += 1
            }
            while i < a.count && a[i] == 0x30 { i += 1 }
            while j < b.count && b[j] == 0x30 { j += 1 }
            while i < a.count && isDigit(a[i]) && j < b.count && isDigit(b[j]) {
                if firstDiff == 0 { firstDiff = Int(a[i]) - Int(b[j]) }
                i += 1; j += 1
            }
            if i < a.count && isDigit(a[i]) { return 1 }
            if j < b.count && isDigit(b[j]) { return -1 }
            if firstDiff != 0 { return firstDiff }
        }
        return 0
    }

    private static func normalForm(_ s: String) -> String {
        var out = ""
        var inDigits = false
        var leading = true
        for c in s {
            if c.isASCII && c.isNumber {
                if !inDigits { inDigits = true; leading = true }
                if leading && c == "0" { continue }
                leading = false
                out.append(c)
            } else {
                if inDigits && leading { out.append("0") }
                inDigits = false
                out.append(c)
            }
        }
        if inDigits && leading { out.append("0") }
        return out
    }
}

extension String {
    func replacingAll(_ target: Character, with replacement: Character) -> String {
        guard contains(target) else { return self }
        return String(map { $0 == target ? replacement : $0 })
    }
}
