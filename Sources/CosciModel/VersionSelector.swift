/// A version constraint as luet writes it in `requires`, `conflicts` and `provides`:
/// `>=1.0`, `<=1.0`, `>1.0`, `<1.0`, `=1.0`, `==1.0`, `!=1.0`, or a bare `1.0` meaning equality.
/// Several constraints separated by commas must all hold (`>=1.0, <2.0`).
public struct VersionSelector: Sendable, Hashable, CustomStringConvertible {
    /// A comparison operator.
    public enum Operator: String, Sendable, Hashable, CaseIterable {
        case greaterOrEqual = ">="
        case lessOrEqual = "<="
        case notEqual = "!="
        case equal = "="
        case greater = ">"
        case less = "<"
    }

    /// One `operator version` term.
    public struct Term: Sendable, Hashable {
        public let op: Operator
        public let version: Version
    }

    /// The selector as written.
    public let text: String
    /// The terms, all of which must hold.
    public let terms: [Term]

    /// Why a selector does not parse.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public let text: String
        public let reason: String
        public var description: String { "invalid version selector \"\(text)\": \(reason)" }
    }

    /// Parses a selector.
    public init(_ text: String) throws(ParseError) {
        self.text = text
        var terms: [Term] = []
        for rawPart in text.split(separator: ",", omittingEmptySubsequences: false) {
            var part = rawPart.trimmingSpaces()
            guard !part.isEmpty else { throw ParseError(text: text, reason: "an empty constraint") }
            var op = Operator.equal
            for candidate in ["==", ">=", "<=", "!=", "=", ">", "<", "!"] where part.hasPrefix(candidate) {
                switch candidate {
                case "==", "=": op = .equal
                case "!=", "!": op = .notEqual
                default: op = Operator(rawValue: candidate) ?? .equal
                }
                part = part.dropFirst(candidate.count).trimmingSpaces()
                break
            }
            do {
                terms.append(Term(op: op, version: try Version(String(part))))
            } catch {
                throw ParseError(text: text, reason: error.description)
            }
        }
        self.terms = terms
    }

    /// The selector that accepts exactly `version`.
    public init(exactly version: Version) {
        self.text = version.text
        self.terms = [Term(op: .equal, version: version)]
    }

    /// True when the text uses an operator (luet's `IsSelector`); a bare version is not a range.
    public var isRange: Bool { terms.count != 1 || terms[0].op != .equal || text.contains("=") }

    /// Whether `v` satisfies every term.
    public func matches(_ v: Version) -> Bool {
        terms.allSatisfy { term in
            let c = Version.compare(v, term.version)
            switch term.op {
            case .greaterOrEqual: return c >= 0
            case .lessOrEqual: return c <= 0
            case .notEqual: return c != 0
            case .equal: return c == 0
            case .greater: return c > 0
            case .less: return c < 0
            }
        }
    }

    public var description: String { text }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
