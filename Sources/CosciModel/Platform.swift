/// A build platform, `os/arch[/variant]` as OCI writes it (`linux/amd64`, `linux/arm64/v8`).
public struct Platform: Sendable, Hashable, CustomStringConvertible {
    public let os: String
    public let architecture: String
    public let variant: String?

    /// The default platform when none is configured.
    public static let linuxAMD64 = Platform(os: "linux", architecture: "amd64", variant: nil)

    public init(os: String, architecture: String, variant: String?) {
        self.os = os
        self.architecture = architecture
        self.variant = variant
    }

    /// Why the text is not a platform.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let text: String
        public var description: String {
            "invalid platform \"\(text)\": expected os/arch or os/arch/variant, e.g. linux/amd64"
        }
    }

    public init(parsing text: String) throws(ParseError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let valid = parts.allSatisfy { p in
            !p.isEmpty && p.unicodeScalars.allSatisfy { Version.isAlnum($0) || $0 == "_" || $0 == "-" || $0 == "." }
        }
        guard (2...3).contains(parts.count), valid else { throw ParseError(text: text) }
        os = parts[0]
        architecture = parts[1]
        variant = parts.count == 3 ? parts[2] : nil
    }

    public var description: String {
        variant.map { "\(os)/\(architecture)/\($0)" } ?? "\(os)/\(architecture)"
    }
}
