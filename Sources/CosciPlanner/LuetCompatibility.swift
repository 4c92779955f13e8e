import CosciModel

/// What would load and resolve here but not in luet 0.35 and earlier: warnings for `cosci check`, each at the
/// requirement's file and line with a fix that reads the same in both.
public enum LuetCompatibility {
    /// Requirements whose selector luet (go-version matching, `LuetVersion`) resolves to another package than
    /// cosci does, or to none.
    public static func selectorWarnings(_ graph: BuildGraph) -> [Diagnostic] {
        var byFamily: [String: [PackageID]] = [:]
        for id in graph.packages.keys { byFamily[id.family, default: []].append(id) }
        // luet's `--from-repositories` chooses among the tree and the repositories alike.
        for (family, ids) in graph.upstreamOffers { byFamily[family, default: []] += ids }
        var out: [Diagnostic] = []
        for (requester, resolutions) in graph.resolutions {
            for r in resolutions where r.providedAs == nil && r.requirement.selector.terms.count == 1 {
                let term = r.requirement.selector.terms[0]
                let family = byFamily[r.requirement.family] ?? []
                var luetMatches: [PackageID] = []
                var undecided = false
                for id in family {
                    switch LuetVersion.matches(id.version.text, term) {
                    case true?: luetMatches.append(id)
                    case false?: break
                    case nil: undecided = true
                    }
                }
                if undecided { continue }
                let luetChoice = luetMatches.max { Version.compare($0.version, $1.version) < 0 }
                if luetChoice == r.chosen { continue }
                let fix = suggestion(term, chosen: r.chosen)
                let what =
                    luetChoice.map { "luet 0.35 would pick \($0.version.text)" }
                    ?? "luet 0.35 finds no version matching it (it matches selectors with go-version, where \(explanation(term, chosen: r.chosen)))"
                out.append(
                    Diagnostic(
                        .warning, at: r.requirement.location, field: nil,
                        "\(requester) requires \(r.requirement.family) \(r.requirement.selector.text): cosci picks \(r.chosen.version.text), but \(what)",
                        hint: fix))
            }
        }
        return out.sorted()
    }

    /// Packages luet could never fetch from a docker repository: the tag it asks for (`name-category-version`,
    /// only `+` made `-`) is not a valid image tag (a `~`, an epoch's `:`, or over 128 characters).
    public static func tagWarnings(_ packages: [PackageSpec]) -> [Diagnostic] {
        packages.filter { !$0.id.hasValidImageTag }.map { p in
            Diagnostic(
                .warning, at: p.definedAt, field: "version",
                "luet serves \(p.id) from a docker repository by the tag \(p.id.imageTag), which is not a valid image tag: it cannot be published there",
                hint: "use a version without ~ or : (luet turns only + into -), e.g. \(p.id.version.text.replacingOccurrences(of: "~", with: "-").replacingOccurrences(of: ":", with: "."))")
        }.sorted()
    }

    static func explanation(_ term: VersionSelector.Term, chosen: PackageID) -> String {
        if term.version.text.contains(":") || chosen.version.text.contains(":") { return "an epoch such as 1: does not parse" }
        return "\(chosen.version.text) is a pre-release below \(term.version.text)"
    }

    static func suggestion(_ term: VersionSelector.Term, chosen: PackageID) -> String {
        if term.version.text.contains(":") || chosen.version.text.contains(":") {
            return "luet cannot compare versions with an epoch: drop the epoch from the version and the selector (or use >=0)"
        }
        if term.op == .greaterOrEqual || term.op == .greater, !term.version.text.contains("-"), !term.version.text.contains("~") {
            return "write \(term.op.rawValue)\(term.version.text)-0: both read it as \"from \(term.version.text) on, any revision\""
        }
        if term.op == .greaterOrEqual { return "write >=\(chosen.version.text): both read it alike" }
        return "write a selector both luet and cosci read alike, such as =\(chosen.version.text)"
    }
}
