/// A place in a source file: the path as cosci prints it (relative to the project root) and a 1-based line.
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let file: String
    public let line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { line > 0 ? "\(file):\(line)" : file }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        if a.file != b.file { return a.file.utf8.lexicographicallyPrecedes(b.file.utf8) }
        return a.line < b.line
    }
}

/// A problem found in the user's tree: where, which field, what is wrong, and what to do.
public struct Diagnostic: Error, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// How bad it is: errors fail `cosci check` and every command that needs the tree.
    public enum Severity: String, Sendable, Hashable {
        case error, warning
    }

    /// Whose problem it is, which decides the exit code (one mapping, in the command line).
    public enum Kind: String, Sendable, Hashable {
        /// The command line itself is wrong: an unknown package, flag value or name (exit 64).
        case usage
        /// The tree or cosci.yaml is wrong (exit 2).
        case tree
        /// The machine, the network, a registry or the disk failed (exit 1).
        case environment
        /// A package failed to build (exit 3).
        case build
        /// cosci's own fault: a state it should never reach (exit 70).
        case bug
    }

    public let severity: Severity
    /// Whose problem it is; by default `tree` when a location is known, else `environment`.
    public let kind: Kind
    /// Where: file and line, when known.
    public let location: SourceLocation?
    /// The field concerned, in path form (`requires[1].version`), when there is one.
    public let field: String?
    /// What is wrong.
    public let message: String
    /// What to do about it.
    public let hint: String?

    public init(
        _ severity: Severity = .error, at location: SourceLocation?, field: String? = nil, _ message: String,
        hint: String? = nil, kind: Kind? = nil
    ) {
        self.severity = severity
        self.kind = kind ?? (location == nil ? .environment : .tree)
        self.location = location
        self.field = field
        self.message = message
        self.hint = hint
    }

    /// `file:line: error: field: message` and an indented hint line.
    public var description: String {
        var s = ""
        if let location { s += "\(location): " }
        s += "\(severity.rawValue): "
        if let field { s += "\(field): " }
        s += message
        if let hint { s += "\n    hint: \(hint)" }
        return s
    }

    public static func < (a: Diagnostic, b: Diagnostic) -> Bool {
        switch (a.location, b.location) {
        case let (l?, r?) where l != r: return l < r
        case (nil, _?): return true
        case (_?, nil): return false
        default: return a.message.utf8.lexicographicallyPrecedes(b.message.utf8)
        }
    }
}
