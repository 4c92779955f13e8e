import CosciModel

/// Where images go: an OCI image layout directory or a repository of a registry.
public enum ImageTarget: Sendable, Hashable, CustomStringConvertible {
    /// `oci:PATH`: an OCI image layout directory.
    case layout(path: String)
    /// `docker://HOST/REPO`: a repository of a registry.
    case registry(RepositoryReference)

    /// Why a target does not parse.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let text: String
        public let reason: String
        public var description: String {
            "invalid target \"\(text)\": \(reason) (expected oci:PATH or docker://HOST[:PORT]/REPOSITORY)"
        }
    }

    public init(parsing text: String) throws(ParseError) {
        if text.hasPrefix("oci:") {
            let path = String(text.dropFirst(4))
            guard !path.isEmpty else { throw ParseError(text: text, reason: "no path") }
            self = .layout(path: path)
        } else if text.hasPrefix("docker://") {
            self = .registry(try RepositoryReference(parsing: String(text.dropFirst(9)), original: text))
        } else {
            throw ParseError(text: text, reason: "unknown transport")
        }
    }

    public var description: String {
        switch self {
        case .layout(let path): return "oci:\(path)"
        case .registry(let r): return "docker://\(r)"
        }
    }
}

/// A repository of a registry: `host[:port]/name/with/slashes`.
public struct RepositoryReference: Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let name: String

    public init(host: String, name: String) {
        self.host = host
        self.name = name
    }

    init(parsing text: String, original: String) throws(ImageTarget.ParseError) {
        guard let slash = text.firstIndex(of: "/") else {
            throw ImageTarget.ParseError(text: original, reason: "no repository after the host")
        }
        let host = String(text[..<slash])
        let name = String(text[text.index(after: slash)...])
        guard !host.isEmpty, !name.isEmpty else { throw ImageTarget.ParseError(text: original, reason: "empty host or repository") }
        guard Self.isValidName(name) else {
            throw ImageTarget.ParseError(
                text: original, reason: "\"\(name)\" is not a valid repository name (lowercase letters, digits, . _ - separators, / between components)")
        }
        self.host = host
        self.name = name
    }

    /// OCI's name grammar: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`.
    public static func isValidName(_ name: String) -> Bool {
        for component in name.split(separator: "/", omittingEmptySubsequences: false) {
            guard let first = component.first, let last = component.last, first.isLowercaseAlnum, last.isLowercaseAlnum else {
                return false
            }
            guard component.allSatisfy({ $0.isLowercaseAlnum || $0 == "." || $0 == "_" || $0 == "-" }) else { return false }
        }
        return true
    }

    /// Whether the host is this machine (plain HTTP is allowed only there, or for hosts named insecure).
    public var isLoopback: Bool {
        let h = host.split(separator: ":").first.map(String.init) ?? host
        return h == "localhost" || h == "127.0.0.1" || h.hasPrefix("127.") || host.hasPrefix("[::1]")
    }

    public var description: String { "\(host)/\(name)" }
}

extension Character {
    var isLowercaseAlnum: Bool { ("a"..."z").contains(self) || ("0"..."9").contains(self) }
}

/// A tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
public enum Tag {
    public static func isValid(_ tag: String) -> Bool { ImageTagGrammar.isValid(tag) }

    /// A tag made from any text: characters a tag cannot hold become `-` (luet turns `+` into `-`; `:` of an
    /// epoch too).
    public static func sanitized(_ text: String) -> String {
        var out = String(text.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "-") ? $0 : "-" })
        if let first = out.first, first == "." || first == "-" { out = "_" + out.dropFirst() }
        return String(out.prefix(128))
    }
}
