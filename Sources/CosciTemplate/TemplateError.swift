import CosciModel

/// A template failure: syntax, an unknown function, a missing value, a function error.
///
/// `file` and `line` name the action where it happened (for a syntax error, the offending token;
/// for a missing `{{end}}`, the line of the block left open).
public struct TemplateError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The source file of the failing action.
    public let file: String
    /// The 1-based line of the failing action.
    public let line: Int
    /// What failed and why, without the location.
    public let message: String

    /// Creates an error at `file:line`.
    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    /// `file:line: template: message`.
    public var description: String { "\(file):\(line): template: \(message)" }
}

/// A function's complaint, before the caller adds the function name, file and line.
struct FunctionFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
