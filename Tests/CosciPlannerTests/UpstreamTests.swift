import CosciModel
import Testing

@testable import CosciPlanner

/// Requirements that no package of the tree satisfies resolve to upstream repositories' packages, as luet's
/// `--from-repositories` does; their artifacts' digests enter the keys of the packages that use them.
@Suite struct UpstreamResolution {
    func upstream(_ idText: String, repository: String = "cos", priority: Int = 9999, sha: Character = "a", requires: [Requirement] = []) -> UpstreamPackage {
        let at = idText.firstIndex(of: "@")!
        let family = idText[..<at].split(separator: "/").map(String.init)
        return UpstreamPackage(
            id: PackageID(category: family[0], name: family[1], version: try! Version(String(idText[idText.index(after: at)...]))),
            repository: repository, priority: priority, revision: 3, sha256: try! Digest(parsing: "sha256:" + String(repeating: sha, count: 64)),
            path: "x.package.tar.gz", requires: requires, provides: [])
    }

    func derivative() -> Fixture {
        var f = Fixture()
        f.add("system/sampleOS@0.5.0", requires: [Fixture.req("system/cos"), Fixture.req("app/svc")], finalImages: true)
        f.add("app/svc@1.0")
        f.add("app/tool@1.0")
        return f
    }

    @Test("the tree wins; otherwise the lowest priority value, then the highest version; runtime deps of upstream final images come along")
    func resolution() throws {
        let f = derivative()
        let packages = [
            upstream("system/cos@0.8.14-21", repository: "mirror", priority: 10, requires: [Fixture.req("system/kernel")]),
            upstream("system/cos@0.8.14-22", repository: "mirror", priority: 10),
            upstream("system/cos@0.9.0", repository: "testing", priority: 50),
            upstream("system/kernel@5.14", repository: "mirror", priority: 10),
            upstream("app/svc@9.9", repository: "mirror", priority: 1),
        ]
        let (graph, diagnostics) = BuildGraph.resolve(f.specs, upstream: packages, repositories: ["mirror", "testing"])
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        let sample = try #require(graph.resolutions[f.specs[0].id])
        let cos = try #require(sample.first { $0.requirement.name == "cos" })
        #expect(cos.chosen.description == "system/cos@0.8.14-22", "priority 10 beats 50; then the highest version")
        #expect(cos.upstream?.repository == "mirror")
        #expect(cos.reason.hasPrefix("from repository mirror (revision 3)"))
        #expect(sample.first { $0.requirement.name == "svc" }?.upstream == nil, "a package of the tree wins over the repositories")
        #expect(graph.order.contains(f.specs[0].id), "a package whose dependencies come from upstream is buildable in the graph")
        #expect(graph.dependencies(of: f.specs[0].id).map(\.description) == ["app/svc@1.0"], "upstream packages are not built")
        #expect(graph.upstreamDependencies(of: f.specs[0].id).map(\.id.description) == ["system/cos@0.8.14-22"])
    }

    @Test("an upstream re-release moves the keys of exactly the packages that use it")
    func keysFollowUpstream() {
        let f = derivative()
        func keys(_ sha: Character) -> [PackageID: CacheKey] {
            let (graph, _) = BuildGraph.resolve(f.specs, upstream: [upstream("system/cos@0.8.14-21", sha: sha)], repositories: ["cos"])
            return CacheKeys.compute(graph, platform: .linuxAMD64).mapValues(\.key)
        }
        let before = keys("a"), after = keys("b")
        #expect(before[f.specs[0].id] != after[f.specs[0].id])
        #expect(before[f.specs[1].id] == after[f.specs[1].id])
        #expect(before[f.specs[2].id] == after[f.specs[2].id])
    }

    @Test("a requirement nothing satisfies names the repositories searched, or says how to add one")
    func missing() throws {
        let f = derivative()
        let (_, searched) = BuildGraph.resolve(f.specs, upstream: [upstream("system/other@1")], repositories: ["cos", "extra"])
        let error = try #require(searched.first)
        #expect(error.message.contains("requires system/cos >=0, but no package matches (searched the tree and cos, extra)"), "\(error.message)")
        let (_, none) = BuildGraph.resolve(f.specs)
        let hint = try #require(none.first?.hint)
        #expect(hint.contains("add that under `repositories:` in cosci.yaml"), "\(hint)")
    }
}
