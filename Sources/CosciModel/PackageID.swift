/// A package's identity: `category/name@version`.
///
/// A class: ids are dictionary keys and elements of many lists, and copying one should be a single
/// reference count, not one per string inside it. Immutable, so `Sendable`.
public final class PackageID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let category: String
    public let name: String
    public let version: Version
    /// `category/name@version`, the form cosci prints and accepts (kept: ids are compared and sorted often).
    public let description: String
    /// `description`'s hash in this process, computed once: ids are looked up in dictionaries far more often
    /// than they are made.
    private let descriptionHash: Int

    public init(category: String, name: String, version: Version) {
        self.category = category
        self.name = name
        self.version = version
        self.description = "\(category)/\(name)@\(version.text)"
        self.descriptionHash = description.hashValue
    }

    /// `category/name`, the package family without a version.
    public var family: String { "\(category)/\(name)" }

    /// luet's fingerprint and artifact file stem: `name-category-version`.
    public var fingerprint: String { "\(name)-\(category)-\(version.text)" }

    /// luet's image tag (`ImageID`): the fingerprint with `+` turned into `-`.
    public var imageTag: String { fingerprint.replacingAll("+", with: "-") }

    /// Whether `imageTag` is a valid image tag, so luet can fetch the package from a docker repository.
    public var hasValidImageTag: Bool { ImageTagGrammar.isValid(imageTag) }

    public static func == (a: PackageID, b: PackageID) -> Bool {
        a === b || (a.descriptionHash == b.descriptionHash && a.description == b.description)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(descriptionHash)
    }

    /// Orders by the printed form's bytes (category, then name, then version text), which is stable and
    /// independent of the platform's string collation.
    public static func < (a: PackageID, b: PackageID) -> Bool {
        a.description.utf8.lexicographicallyPrecedes(b.description.utf8)
    }
}

/// A reference to packages as a user types it: `category/name`, `category/name@version`,
/// or `category/name@<selector>` (e.g. `toolchain/yq@>=4`).
public struct PackageReference: Sendable, Hashable, CustomStringConvertible {
    /// Nil for a bare name (`yq`, `yq@4.30`), as luet users type them: any category matches.
    public let category: String?
    public let name: String
    public let selector: VersionSelector?

    /// Why the text is not a package reference.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let text: String
        public var description: String {
            "invalid package reference \"\(text)\": expected name, category/name or category/name@version"
        }
    }

    public init(parsing text: String) throws(ParseError) {
        let (head, version): (Substring, Substring?) = {
            if let at = text.firstIndex(of: "@") { return (text[..<at], text[text.index(after: at)...]) }
            return (Substring(text), nil)
        }()
        let parts = head.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count == 1, !parts[0].isEmpty {
            category = nil
            name = String(parts[0])
        } else {
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw ParseError(text: text) }
            category = String(parts[0])
            name = String(parts[1])
        }
        if let version {
            guard let sel = try? VersionSelector(String(version)) else { throw ParseError(text: text) }
            selector = sel
        } else {
            selector = nil
        }
    }

    /// Whether `id` is what this reference names.
    public func matches(_ id: PackageID) -> Bool {
        (category == nil || id.category == category) && id.name == name && (selector?.matches(id.version) ?? true)
    }

    public var description: String {
        let family = category.map { "\($0)/\(name)" } ?? name
        return selector.map { "\(family)@\($0.text)" } ?? family
    }
}

/// Docker's tag grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
public enum ImageTagGrammar {
    public static func isValid(_ tag: String) -> Bool {
        guard let first = tag.first, tag.count <= 128 else { return false }
        let ok: (Character) -> Bool = { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "." || $0 == "-") }
        return first.isASCII && (first.isLetter || first.isNumber || first == "_") && tag.allSatisfy(ok)
    }
}
