import CosciModel

/// How a build dependency came to be.
public enum DependencyKind: Sendable, Hashable {
    /// A `requires` entry of the build spec.
    case requires
    /// A `copy[].package` entry.
    case copy
    /// A runtime requirement of a build dependency, pulled in by `requires_final_images: true`
    /// (the dependencies' final artifacts are squashed together, so their runtime deps are too).
    case finalImage(via: PackageID)
}

/// One resolved requirement: what was asked, what was chosen, and why.
public struct Resolution: Sendable, Hashable {
    public let requirement: Requirement
    public let kind: DependencyKind
    /// The chosen package.
    public let chosen: PackageID
    /// Set when the chosen package does not have the requested name but `provides` it.
    public let providedAs: Requirement?
    /// Every package that satisfied the requirement, best first.
    public let candidates: [PackageID]
    /// Set when the chosen package comes from an upstream repository rather than the tree.
    public let upstream: UpstreamPackage?

    public init(
        requirement: Requirement, kind: DependencyKind, chosen: PackageID, providedAs: Requirement?, candidates: [PackageID],
        upstream: UpstreamPackage? = nil
    ) {
        self.requirement = requirement
        self.kind = kind
        self.chosen = chosen
        self.providedAs = providedAs
        self.candidates = candidates
        self.upstream = upstream
    }

    /// One sentence: why `chosen` was picked.
    public var reason: String {
        if let upstream {
            let others = candidates.dropFirst().map(\.version.text)
            return "from repository \(upstream.repository) (revision \(upstream.revision)): the highest version matching \(requirement.selector.text)"
                + (others.isEmpty ? "" : " (also matching: \(others.joined(separator: ", ")))")
        }
        if let providedAs {
            return "\(chosen) provides \(providedAs.family) \(providedAs.selector.text)"
        }
        if candidates.count == 1 { return "the only version matching \(requirement.selector.text)" }
        let others = candidates.dropFirst().map(\.version.text).joined(separator: ", ")
        return "the highest version matching \(requirement.selector.text) (also matching: \(others))"
    }
}

/// The build graph: every package, its resolved build dependencies, and a deterministic topological order.
public struct BuildGraph: Sendable {
    /// Packages by id.
    public let packages: [PackageID: PackageSpec]
    /// Resolved build dependencies of each package, in the order they were written.
    public let resolutions: [PackageID: [Resolution]]
    /// Packages whose dependencies all resolved and that are in no cycle, dependencies first;
    /// ties broken by id, so the order is the same on every run.
    public let order: [PackageID]
    /// The upstream packages some requirement resolved to, by id. They are not built: `order` and
    /// `dependencies(of:)` hold tree packages only; `upstreamDependencies(of:)` names these.
    public let upstream: [PackageID: UpstreamPackage]
    /// Every version the repositories offer of each family the tree asked for (what luet would choose among).
    public let upstreamOffers: [String: [PackageID]]
    /// The distinct build dependencies of each package, sorted (derived from `resolutions` once).
    private let distinctDependencies: [PackageID: [PackageID]]

    init(
        packages: [PackageID: PackageSpec], resolutions: [PackageID: [Resolution]], order: [PackageID],
        distinct: [PackageID: [PackageID]], upstream: [PackageID: UpstreamPackage] = [:], upstreamOffers: [String: [PackageID]] = [:]
    ) {
        self.upstreamOffers = upstreamOffers
        self.packages = packages
        self.resolutions = resolutions
        self.order = order
        self.distinctDependencies = distinct
        self.upstream = upstream
    }

    /// The distinct upstream packages `id` builds on, sorted.
    public func upstreamDependencies(of id: PackageID) -> [UpstreamPackage] {
        Set((resolutions[id] ?? []).compactMap(\.upstream)).sorted { $0.id < $1.id }
    }

    /// The distinct build dependencies of `id`, sorted.
    public func dependencies(of id: PackageID) -> [PackageID] {
        distinctDependencies[id] ?? []
    }

    /// Packages that directly depend on each package.
    public func dependents() -> [PackageID: [PackageID]] {
        var out: [PackageID: [PackageID]] = [:]
        for id in order {
            for dep in dependencies(of: id) { out[dep, default: []].append(id) }
        }
        return out.mapValues { $0.sorted() }
    }

    /// Builds the graph from loaded packages; problems (missing dependencies, cycles) are diagnostics,
    /// and the packages they touch are left out of `order`. A requirement no tree package satisfies resolves
    /// to the best matching `upstream` package (lowest priority value, then highest version), as luet's
    /// `--from-repositories` does; `repositories` names the repositories searched (nil: none configured).
    public static func resolve(
        _ specs: [PackageSpec], upstream: [UpstreamPackage] = [], repositories: [String]? = nil
    ) -> (BuildGraph, [Diagnostic]) {
        var diagnostics: [Diagnostic] = []
        let index = PackageIndex(specs, upstream: upstream, repositories: repositories)
        var resolutions: [PackageID: [Resolution]] = [:]
        var broken = Set<PackageID>()

        for spec in specs {
            var list: [Resolution] = []
            var direct: [(Requirement, DependencyKind)] = spec.build.requires.map { ($0, .requires) }
            direct += spec.build.copy.compactMap { c in c.package.map { ($0, .copy) } }
            for (req, kind) in direct {
                switch index.resolve(req, for: spec.id) {
                case .success(let r):
                    list.append(
                        Resolution(
                            requirement: req, kind: kind, chosen: r.chosen, providedAs: r.providedAs, candidates: r.candidates,
                            upstream: r.upstream))
                case .failure(let d):
                    diagnostics.append(d)
                    broken.insert(spec.id)
                }
            }
            if spec.build.requiresFinalImages {
                // The runtime closure of each build requirement is squashed into the image too.
                var queue = list.filter { $0.kind == .requires }.map(\.chosen)
                var seen = Set(list.map(\.chosen))
                while let next = queue.first {
                    queue.removeFirst()
                    guard let runtime = index.byID[next]?.runtimeRequires ?? index.upstreamByID[next]?.requires else { continue }
                    for req in runtime {
                        switch index.resolve(req, for: next) {
                        case .success(let r):
                            if seen.insert(r.chosen).inserted, r.chosen != spec.id {
                                list.append(
                                    Resolution(
                                        requirement: req, kind: .finalImage(via: next), chosen: r.chosen,
                                        providedAs: r.providedAs, candidates: r.candidates, upstream: r.upstream))
                                queue.append(r.chosen)
                            }
                        case .failure(let d):
                            diagnostics.append(d)
                            broken.insert(spec.id)
                        }
                    }
                }
            }
            resolutions[spec.id] = list
        }

        let distinct = resolutions.mapValues { Array(Set($0.filter { $0.upstream == nil }.map(\.chosen))).sorted() }
        // Cycles: depth-first search in id order; each cycle reported once, starting at its smallest member.
        var state: [PackageID: UInt8] = [:]  // 1 = on stack, 2 = done
        var stack: [PackageID] = []
        var order: [PackageID] = []
        var reported = Set<[PackageID]>()
        let ids = specs.map(\.id).sorted()
        func visit(_ id: PackageID) {
            state[id] = 1
            stack.append(id)
            for dep in distinct[id] ?? [] {
                switch state[dep] {
                case 1:
                    let start = stack.lastIndex(of: dep) ?? 0
                    var cycle = Array(stack[start...])
                    let minIndex = cycle.indices.min { cycle[$0] < cycle[$1] } ?? 0
                    cycle = Array(cycle[minIndex...] + cycle[..<minIndex])
                    broken.formUnion(cycle)
                    if reported.insert(cycle).inserted {
                        let path = (cycle + [cycle[0]]).map(\.description).joined(separator: " → ")
                        let edges = zip(cycle, cycle.dropFirst() + [cycle[0]]).compactMap { from, to -> String? in
                            guard let r = resolutions[from]?.first(where: { $0.chosen == to }) else { return nil }
                            return "\(r.requirement.location.map { "\($0)" } ?? "?"): \(from) requires \(r.requirement)"
                        }
                        diagnostics.append(
                            Diagnostic(
                                at: index.byID[cycle[0]].map { SourceLocation(file: $0.buildFile, line: 0) },
                                "dependency cycle: \(path)\n    " + edges.joined(separator: "\n    "),
                                hint: "remove one of these requirements; build dependencies must form a DAG"))
                    }
                case 2:
                    continue
                default:
                    visit(dep)
                }
                if broken.contains(dep) { broken.insert(id) }
            }
            stack.removeLast()
            state[id] = 2
            if !broken.contains(id) { order.append(id) }
        }
        for id in ids where state[id] == nil { visit(id) }

        // A package is usable only if every dependency is usable.
        var usable: [PackageID] = []
        var usableSet = Set<PackageID>()
        for id in order where !broken.contains(id) {
            if (resolutions[id] ?? []).allSatisfy({ $0.upstream != nil || usableSet.contains($0.chosen) }) {
                usable.append(id)
                usableSet.insert(id)
            }
        }
        var used: [PackageID: UpstreamPackage] = [:]
        for list in resolutions.values { for r in list { if let u = r.upstream { used[u.id] = u } } }
        var offers: [String: [PackageID]] = [:]
        for family in Set(used.values.map(\.id.family)) { offers[family] = index.upstreamFamilies[family]?.map(\.id) }
        return (
            BuildGraph(
                packages: index.byID, resolutions: resolutions, order: usable, distinct: distinct, upstream: used, upstreamOffers: offers),
            diagnostics
        )
    }
}

/// Finds packages by family and by what they provide.
struct PackageIndex {
    let byID: [PackageID: PackageSpec]
    /// Versions of each family, best (highest) first.
    let families: [String: [PackageID]]
    /// Who provides each family, with the provides entry.
    let providers: [String: [(PackageID, Requirement)]]
    /// Upstream packages by id, and the versions of each family, best (lowest priority value, then highest
    /// version) first.
    let upstreamByID: [PackageID: UpstreamPackage]
    let upstreamFamilies: [String: [UpstreamPackage]]
    /// The repositories searched (nil: none configured), for messages.
    let repositories: [String]?

    init(_ specs: [PackageSpec], upstream: [UpstreamPackage] = [], repositories: [String]? = nil) {
        var upstreamByID: [PackageID: UpstreamPackage] = [:]
        var upstreamFamilies: [String: [UpstreamPackage]] = [:]
        for u in upstream where upstreamByID[u.id] == nil || u.priority < upstreamByID[u.id]!.priority {
            upstreamByID[u.id] = u
        }
        for u in upstreamByID.values { upstreamFamilies[u.id.family, default: []].append(u) }
        self.upstreamByID = upstreamByID
        self.upstreamFamilies = upstreamFamilies.mapValues {
            $0.sorted { $0.priority != $1.priority ? $0.priority < $1.priority : PackageIndex.better($0.id, $1.id) }
        }
        self.repositories = repositories
        var byID: [PackageID: PackageSpec] = [:]
        var families: [String: [PackageID]] = [:]
        var providers: [String: [(PackageID, Requirement)]] = [:]
        for spec in specs {
            byID[spec.id] = spec
            families[spec.id.family, default: []].append(spec.id)
            for p in spec.provides where p.family != spec.id.family {
                providers[p.family, default: []].append((spec.id, p))
            }
        }
        self.byID = byID
        self.families = families.mapValues { $0.sorted(by: PackageIndex.better) }
        self.providers = providers.mapValues { $0.sorted { PackageIndex.better($0.0, $1.0) } }
    }

    /// Higher version first; equal versions by text, then id bytes, so the choice is deterministic.
    static func better(_ a: PackageID, _ b: PackageID) -> Bool {
        let c = Version.compare(a.version, b.version)
        if c != 0 { return c > 0 }
        return a < b
    }

    struct Choice {
        let chosen: PackageID
        let providedAs: Requirement?
        let candidates: [PackageID]
        var upstream: UpstreamPackage? = nil
    }

    enum Outcome {
        case success(Choice)
        case failure(Diagnostic)
    }

    /// Resolves a requirement as luet does: a package that `provides` the family replaces it; otherwise the
    /// highest version matching the selector.
    func resolve(_ req: Requirement, for requester: PackageID) -> Outcome {
        let providing = (providers[req.family] ?? []).filter { provider, entry in
            provider != requester && (entry.selector.isRange ? true : req.selector.matches(entry.selector.terms[0].version))
        }
        if let best = providing.first {
            return .success(Choice(chosen: best.0, providedAs: best.1, candidates: providing.map(\.0)))
        }
        let candidates = (families[req.family] ?? []).filter { $0 != requester && req.selector.matches($0.version) }
        if let best = candidates.first {
            return .success(Choice(chosen: best, providedAs: nil, candidates: candidates))
        }
        let published = (upstreamFamilies[req.family] ?? []).filter { req.selector.matches($0.id.version) }
        if let best = published.first {
            return .success(Choice(chosen: best.id, providedAs: nil, candidates: published.map(\.id), upstream: best))
        }
        let available = families[req.family] ?? []
        if req.family == requester.family && available == [requester] {
            return .failure(
                Diagnostic(
                    at: req.location, field: nil, "\(requester) requires itself (\(req))",
                    hint: "a package cannot be its own dependency: remove the requirement, or require another package"))
        }
        let hint: String
        let publishedVersions = (upstreamFamilies[req.family] ?? []).map { "\($0.id.version.text) (\($0.repository))" }
        if available.isEmpty && publishedVersions.isEmpty {
            if let repositories {
                hint = "no package \(req.family) exists in the tree or in the repositories searched (\(repositories.joined(separator: ", "))): add it, fix the name or category, or remove the requirement"
            } else {
                hint = "no package \(req.family) exists in the tree: add it, fix the name or category, or remove the requirement; if it comes from an upstream repository, add that under `repositories:` in cosci.yaml (luet's config shape)"
            }
        } else {
            hint = "available versions: \((available.map(\.version.text) + publishedVersions).joined(separator: ", ")); adjust the selector"
        }
        let searched = repositories.map { $0.isEmpty ? "" : " (searched the tree and \($0.joined(separator: ", ")))" } ?? ""
        return .failure(
            Diagnostic(
                at: req.location, field: nil, "missing dependency: \(requester) requires \(req), but no package matches\(searched)",
                hint: hint))
    }
}
