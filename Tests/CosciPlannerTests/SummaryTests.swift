import CosciModel
import Testing

@testable import CosciPlanner

/// `KeyedSummary`: what change detection keeps of a keyed tree, and the head it makes from a base.
@Suite struct KeyedSummaries {
    /// A small tree: a toolchain, two tools built with it, an image built from both tools.
    static func tree(toolSteps: [String] = ["true"], toolRequires: [Requirement] = [Fixture.req("dev/toolchain")]) -> Fixture {
        var f = Fixture()
        f.add("dev/toolchain@1.0")
        f.add("utils/tool@2.0", requires: toolRequires, steps: toolSteps)
        f.add("utils/other@3.0", requires: [Fixture.req("dev/toolchain")])
        f.add("system/image@4.0", requires: [Fixture.req("utils/tool"), Fixture.req("utils/other")])
        f.add("system/broken@5.0", requires: [Fixture.req("utils/missing")])
        return f
    }

    static func summary(_ f: Fixture) -> KeyedSummary {
        let (graph, _) = BuildGraph.resolve(f.specs)
        let keys = CacheKeys.compute(graph, platform: .linuxAMD64)
        return KeyedSummary(KeyedTree(graph: graph, keys: keys, inputs: ["values/a.yaml"]), diagnostics: [])
    }

    @Test func keepsEveryPackageKeyAndDependencyAndReadsBackItsOwnBytes() throws {
        let f = KeyedSummaries.tree()
        let (graph, _) = BuildGraph.resolve(f.specs)
        let keys = CacheKeys.compute(graph, platform: .linuxAMD64)
        let summary = KeyedSummaries.summary(f)
        #expect(summary.count == 5 && summary.keyedCount == 4, "the package with a missing dependency is kept, unkeyed")
        #expect((0..<summary.keyedCount).map(summary.id(at:)) == graph.order)
        for p in 0..<summary.count {
            let id = summary.id(at: p)
            #expect(summary.key(at: p) == keys[id]?.key)
            #expect(summary.position(of: id) == p)
            let record = summary.package(at: p)
            #expect(record.dependencies.map(summary.id(at:)) == graph.dependencies(of: id))
            #expect(summary.content(of: record) == graph.packages[id]?.content)
        }
        #expect(summary.sorted.map(summary.id(at:)) == summary.sorted.map(summary.id(at:)).sorted())
        let decoded = try KeyedSummary(decoding: summary.bytes)
        #expect(decoded.bytes == summary.bytes && decoded.inputs == ["values/a.yaml"])
        #expect(throws: BinaryReader.Malformed.self) { try KeyedSummary(decoding: Array(summary.bytes.dropLast())) }
    }

    @Test func aReplacedPackageMovesItsKeyAndItsDependentsOnly() throws {
        let base = KeyedSummaries.summary(KeyedSummaries.tree())
        let edited = KeyedSummaries.tree(toolSteps: ["make", "make install"])
        let expected = KeyedSummaries.summary(edited)
        let tool = try #require(edited.specs.first { $0.id.name == "tool" })
        let derived = try #require(
            base.replacing(directories: [tool.path], with: [tool], platform: .linuxAMD64, images: [:]))
        // The same ids, keys and records as summarising the edited tree (listings compared as sets: the fixture's
        // come in dictionary order).
        #expect(derived.count == expected.count && derived.keyedCount == expected.keyedCount)
        for p in 0..<expected.count {
            #expect(derived.id(at: p) == expected.id(at: p) && derived.key(at: p) == expected.key(at: p))
            let a = derived.package(at: p), b = expected.package(at: p)
            #expect(a.specDigest == b.specDigest && a.contentDigest == b.contentDigest && a.dependencies == b.dependencies)
            #expect(Set(derived.content(of: a)) == Set(expected.content(of: b)))
        }
        let moved = (0..<base.count).filter { base.key(at: $0) != derived.key(at: $0) }.map { base.id(at: $0).name }
        #expect(Set(moved) == ["tool", "image"])
    }

    @Test func aChangeThatCanMoveTheGraphIsRefused() throws {
        let base = KeyedSummaries.summary(KeyedSummaries.tree())
        let edited = KeyedSummaries.tree(toolRequires: [Fixture.req("dev/toolchain"), Fixture.req("utils/other")])
        let tool = try #require(edited.specs.first { $0.id.name == "tool" })
        #expect(base.replacing(directories: [tool.path], with: [tool], platform: .linuxAMD64, images: [:]) == nil,
                "an edited requirement")
        #expect(base.replacing(directories: [tool.path], with: [], platform: .linuxAMD64, images: [:]) == nil,
                "a package gone from its directory")
        let broken = try #require(edited.specs.first { $0.id.name == "broken" })
        #expect(base.replacing(directories: [broken.path], with: [broken], platform: .linuxAMD64, images: [:]) == nil,
                "a package that could not be keyed")
    }

    @Test func aPlanFromASummaryEqualsThePlanFromTheLoadedTree() throws {
        var f = KeyedSummaries.tree()
        f.add("system/installer@6.0", requires: [Fixture.req("system/image"), Fixture.req("utils/other")])
        let (graph, _) = BuildGraph.resolve(f.specs)
        let keys = CacheKeys.compute(graph, platform: .linuxAMD64)
        let view = SummaryGraph(KeyedSummaries.summary(f))
        #expect(view.order == graph.order)
        let tool = try #require(graph.order.first { $0.name == "tool" })
        let other = try #require(graph.order.first { $0.name == "other" })
        for shards in [1, 2, 3] {
            let cached: Set<CacheKey> = [try #require(keys[other]?.key)]
            let loaded = Plan.make(
                graph: graph, keys: keys, selected: [tool, other], reasons: [tool: ["edited"]], cached: cached,
                durations: ["utils/tool": 30], shards: shards)
            let summarised = Plan.make(
                graph: view, keys: view.keys, selected: [tool, other], reasons: [tool: ["edited"]], cached: cached,
                durations: ["utils/tool": 30], shards: shards)
            #expect(summarised.entries.map(\.id) == loaded.entries.map(\.id))
            #expect(summarised.entries.map(\.status) == loaded.entries.map(\.status))
            #expect(summarised.entries.map(\.reasons) == loaded.entries.map(\.reasons))
            #expect(summarised.entries.map(\.dependencies) == loaded.entries.map(\.dependencies))
            #expect(
                loaded.builds.map(\.id.name).sorted() == ["image", "installer", "tool", "toolchain"],
                "tool, image and installer build, and the toolchain tool builds on (no cache holds it); other is cached")
        }
    }
}
