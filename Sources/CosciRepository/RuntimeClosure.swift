import CosciModel

/// What a set of published packages needs at run time: their runtime `requires` (from each artifact's
/// definition), resolved among the packages on offer as a luet client resolves them on install — a package
/// that `provides` the name, else the highest version matching the selector — and so on, transitively.
public enum RuntimeClosure {
    /// A runtime requirement nothing on offer satisfies.
    public struct Missing: Sendable, Hashable, CustomStringConvertible {
        public let requester: PackageID
        /// `category/name selector`, as written.
        public let requirement: String
        public var description: String { "\(requester) requires \(requirement)" }
    }

    /// `carried` plus everything they need at run time from `available`, sorted by id, and what nothing
    /// satisfies.
    public static func closure(
        of carried: [ArtifactMetadata], among available: [ArtifactMetadata]
    ) -> (packages: [ArtifactMetadata], missing: [Missing]) {
        var byFamily: [String: [ArtifactMetadata]] = [:]
        var providers: [String: [(ArtifactMetadata, VersionSelector?)]] = [:]
        for a in available {
            byFamily[a.id.family, default: []].append(a)
            for p in requirements(a.runtime["provides"]) {
                providers[p.family, default: []].append((a, p.selector))
            }
        }
        var chosen: [String: ArtifactMetadata] = [:]
        var missing: [Missing] = []
        var queue = carried
        for a in carried { chosen[a.id.description] = a }
        while let a = queue.popLast() {
            for r in requirements(a.runtime["requires"]) {
                let text = "\(r.family) \(r.selector?.text ?? ">=0")"
                let candidates =
                    (providers[r.family] ?? []).map(\.0)
                    + (byFamily[r.family] ?? []).filter { r.selector?.matches($0.id.version) ?? true }
                guard let best = candidates.max(by: { Version.compare($0.id.version, $1.id.version) < 0 }) else {
                    missing.append(Missing(requester: a.id, requirement: text))
                    continue
                }
                if chosen[best.id.description] == nil {
                    chosen[best.id.description] = best
                    queue.append(best)
                }
            }
        }
        return (chosen.values.sorted { $0.id < $1.id }, Array(Set(missing)).sorted { $0.description < $1.description })
    }

    /// `[{name, category, version}]` of a definition (category optional, as in luet).
    static func requirements(_ value: Value?) -> [(family: String, selector: VersionSelector?)] {
        guard case .list(let items)? = value else { return [] }
        return items.compactMap { item in
            guard let name = item["name"]?.scalarText else { return nil }
            let category = item["category"]?.scalarText ?? ""
            let text = item["version"]?.scalarText ?? ""
            return ("\(category)/\(name)", text.isEmpty ? nil : try? VersionSelector(text))
        }
    }
}
