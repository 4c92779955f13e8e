import CosciModel
import Foundation

/// `includes`/`excludes` of a build spec: regexes over artifact paths written with a leading `/`
/// (`/usr/bin/yq`). With includes, a path must match one of them; a path matching an exclude is left out
/// whatever the includes say.
public struct ArtifactFilter: @unchecked Sendable {
    // @unchecked: NSRegularExpression is immutable after creation and documented as thread-safe for matching.
    let includes: [NSRegularExpression]
    let excludes: [NSRegularExpression]

    /// Compiles the spec's regexes; an invalid one is the spec's error.
    public init(_ spec: BuildSpec, package: PackageID) throws(BuildFailure) {
        func compile(_ patterns: [String], _ field: String) throws(BuildFailure) -> [NSRegularExpression] {
            var out: [NSRegularExpression] = []
            for p in patterns {
                do {
                    out.append(try NSRegularExpression(pattern: p))
                } catch {
                    throw BuildFailure(.spec, "\(package): \(field): invalid regular expression \"\(p)\"")
                }
            }
            return out
        }
        includes = try compile(spec.includes, "includes")
        excludes = try compile(spec.excludes, "excludes")
    }

    /// Whether the artifact keeps `path` (relative, no leading slash).
    public func keeps(_ path: String) -> Bool {
        let full = "/" + path
        let range = NSRange(full.startIndex..., in: full)
        if excludes.contains(where: { $0.firstMatch(in: full, range: range) != nil }) { return false }
        if includes.isEmpty { return true }
        return includes.contains { $0.firstMatch(in: full, range: range) != nil }
    }
}
