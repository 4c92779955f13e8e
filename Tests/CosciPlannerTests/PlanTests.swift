import CosciModel
import Testing

@testable import CosciPlanner

@Suite struct Plans {
    /// A diamond plus a chain: a ← b, a ← c, b,c ← d ; e ← f ← g ; h alone.
    func fixture() -> (BuildGraph, [PackageID: CacheKeyComponents], [String: PackageID]) {
        var f = Fixture()
        var ids: [String: PackageID] = [:]
        ids["a"] = f.add("x/a@1")
        ids["b"] = f.add("x/b@1", requires: [Fixture.req("x/a")])
        ids["c"] = f.add("x/c@1", requires: [Fixture.req("x/a")])
        ids["d"] = f.add("x/d@1", requires: [Fixture.req("x/b"), Fixture.req("x/c")])
        ids["e"] = f.add("y/e@1")
        ids["f"] = f.add("y/f@1", requires: [Fixture.req("y/e")])
        ids["g"] = f.add("y/g@1", requires: [Fixture.req("y/f")])
        ids["h"] = f.add("z/h@1")
        let (graph, _) = BuildGraph.resolve(f.specs)
        return (graph, CacheKeys.compute(graph, platform: .linuxAMD64), ids)
    }

    @Test func selectionPullsInDependentsAndSkipsCached() {
        let (graph, keys, ids) = fixture()
        let plan = Plan.make(
            graph: graph, keys: keys, selected: [ids["b"]!], reasons: [:], cached: [keys[ids["d"]!]!.key, keys[ids["a"]!]!.key],
            durations: [:], shards: 2)
        let status = Dictionary(uniqueKeysWithValues: plan.entries.map { ($0.id.name, $0.status.name) })
        #expect(status == ["a": "unchanged", "b": "build", "c": "unchanged", "d": "cached", "e": "unchanged", "f": "unchanged", "g": "unchanged", "h": "unchanged"])
    }

    @Test("on a cold cache, the unchanged dependencies of what builds build too, once, with the reason")
    func coldCacheDependenciesArePlanned() throws {
        let (graph, keys, ids) = fixture()
        let plan = Plan.make(graph: graph, keys: keys, selected: [ids["g"]!, ids["b"]!], reasons: [:], cached: [], durations: [:], shards: 2)
        let status = Dictionary(uniqueKeysWithValues: plan.entries.map { ($0.id.name, $0.status.name) })
        #expect(status == ["a": "build", "b": "build", "c": "build", "d": "build", "e": "build", "f": "build", "g": "build", "h": "unchanged"])
        let e = try #require(plan.entries.first { $0.id.name == "e" })
        #expect(e.reasons == ["not in the cache, and y/f@1 builds on it → y/e@1"])
        // Every dependency of a planned package is planned or cached: no shard builds a package another shard plans.
        for entry in plan.builds {
            for dep in entry.dependencies {
                #expect(plan.entries.first { $0.id == dep }?.status != .unchanged, "\(dep) of \(entry.id)")
            }
        }
    }

    @Test("the shard graph is acyclic: a shard waits only for lower-numbered shards", arguments: 1...6)
    func shardGraphIsAcyclic(_ shards: Int) {
        // A wide, deep graph with uneven durations, where list scheduling alone interleaves chains across shards.
        var f = Fixture()
        for i in 0..<30 {
            var requires: [Requirement] = []
            if i >= 3 { requires.append(Fixture.req("p/n\(i - 3)")) }
            if i >= 7 && i % 2 == 0 { requires.append(Fixture.req("p/n\(i - 7)")) }
            f.add("p/n\(i)@1", requires: requires)
        }
        let (graph, _) = BuildGraph.resolve(f.specs)
        let keys = CacheKeys.compute(graph, platform: .linuxAMD64)
        var durations: [String: Double] = [:]
        for i in 0..<30 { durations["p/n\(i)"] = Double((i * 7) % 5 + 1) }
        let plan = Plan.make(graph: graph, keys: keys, selected: Set(graph.order), reasons: [:], cached: [], durations: durations, shards: shards)
        #expect(plan.builds.count == 30)
        for (shard, waits) in plan.shardDependencies() {
            #expect(waits.allSatisfy { $0 < shard }, "shard \(shard) waits for \(waits)")
        }
        if shards > 1 { #expect(Set(plan.builds.map(\.shard)).count > 1, "work is spread") }
    }

    @Test func wavesAreLongestPathsAmongBuilds() {
        let (graph, keys, _) = fixture()
        let plan = Plan.make(graph: graph, keys: keys, selected: Set(graph.order), reasons: [:], cached: [], durations: [:], shards: 3)
        let wave = Dictionary(uniqueKeysWithValues: plan.builds.map { ($0.id.name, $0.wave) })
        #expect(wave == ["a": 0, "b": 1, "c": 1, "d": 2, "e": 0, "f": 1, "g": 2, "h": 0])
    }

    @Test func shardsAreDeterministicAndRespectDependencies() {
        let (graph, keys, _) = fixture()
        let make = { Plan.make(graph: graph, keys: keys, selected: Set(graph.order), reasons: [:], cached: [], durations: ["x/a": 5, "y/e": 1], shards: 2) }
        let p1 = make(), p2 = make()
        #expect(p1.builds.map(\.shard) == p2.builds.map(\.shard))
        #expect(Set(p1.builds.map(\.shard)) == [0, 1], "both shards get work")
        // The critical path (a, weighted 5) is scheduled first, on shard 0.
        #expect(p1.builds.first { $0.id.name == "a" }?.shard == 0)
        let deps = p1.shardDependencies()
        for (s, waits) in deps { #expect(!waits.contains(s)) }
    }

    @Test func oneShardHoldsEverything() {
        let (graph, keys, _) = fixture()
        let plan = Plan.make(graph: graph, keys: keys, selected: Set(graph.order), reasons: [:], cached: [], durations: [:], shards: 1)
        #expect(plan.builds.allSatisfy { $0.shard == 0 })
        // Build order inside the shard respects dependencies.
        let order = plan.packages(ofShard: 0).map(\.id.name)
        #expect(order.firstIndex(of: "a")! < order.firstIndex(of: "d")!)
        #expect(order.firstIndex(of: "f")! < order.firstIndex(of: "g")!)
    }
}

@Suite struct Renderers {
    func renderer(selected: (Set<PackageID>) -> Set<PackageID>, shards: Int) -> PlanRenderer {
        let (graph, keys, _) = Plans().fixture()
        let plan = Plan.make(graph: graph, keys: keys, selected: selected(Set(graph.order)), reasons: [:], cached: [], durations: [:], shards: shards)
        return PlanRenderer(plan: plan, context: PlanContext(base: "aaa", head: "bbb", mergeBase: "aaa", platform: .linuxAMD64))
    }

    @Test func githubMatrixIsNeverEmpty() {
        let empty = renderer(selected: { _ in [] }, shards: 4).github()
        #expect(empty.hasPrefix("build=false\n"))
        #expect(empty.contains(#"matrix={"include":[{"of":4,"packages":"","shard":-1}]}"#))
        let full = renderer(selected: { $0 }, shards: 3).github()
        #expect(full.hasPrefix("build=true\n"))
        #expect(full.contains(#""shard":2"#))
    }

    @Test func gitlabNeedsFollowCrossShardDependencies() {
        let r = renderer(selected: { $0 }, shards: 3)
        let yaml = r.gitlab()
        for (shard, waits) in r.plan.shardDependencies() {
            for w in waits { #expect(yaml.contains("cosci-shard-\(shard):"), "job for \(shard)"); #expect(yaml.contains("- job: cosci-shard-\(w)")) }
        }
        #expect(renderer(selected: { _ in [] }, shards: 3).gitlab().contains("nothing-to-build:"))
    }

    @Test func kubernetesIndexedJob() {
        let yaml = renderer(selected: { $0 }, shards: 2).kubernetes()
        #expect(yaml.contains("completionMode: Indexed"))
        #expect(yaml.contains("completions: 2"))
        // The index picks the index-th shard with work.
        #expect(yaml.contains("set -- 0 1; shift \"$JOB_COMPLETION_INDEX\"; exec cosci build --plan /plan/plan.json --shard \"$1/2\""), "\(yaml)")
        #expect(yaml.contains("maxFailedIndexes: 0") && yaml.contains("hostUsers: false"))
    }

    @Test func documentIsCanonical() {
        let a = CanonicalJSON.encode(renderer(selected: { $0 }, shards: 2).document())
        let b = CanonicalJSON.encode(renderer(selected: { $0 }, shards: 2).document())
        #expect(a == b)
        #expect(a.contains(#""schema":"cosci.plan/v1""#))
    }
}

@Suite struct Scheduling {
    /// The ready queue pops in the order a full sort would give, whatever the order of pushes.
    @Test func priorityQueuePopsInSortedOrder() {
        var rng = SystemRandomNumberGenerator()
        let items = (0..<500).map { _ in (Int.random(in: 0..<20, using: &rng), Int.random(in: 0..<1000, using: &rng)) }
        let precedes = { (a: (Int, Int), b: (Int, Int)) in a.0 != b.0 ? a.0 > b.0 : a.1 < b.1 }
        var queue = PriorityQueue<(Int, Int)>(precedes)
        var popped: [(Int, Int)] = []
        for (i, item) in items.enumerated() {
            queue.push(item)
            if i % 3 == 0, let first = queue.pop() { popped.append(first) }
        }
        let early = popped.count
        while let first = queue.pop() { popped.append(first) }
        #expect(popped.count == items.count)
        // After the last push, the queue empties in sorted order.
        let tail = popped.dropFirst(early)
        #expect(tail.elementsEqual(tail.sorted(by: precedes), by: { $0 == $1 }))
        #expect(popped.map { "\($0)" }.sorted() == items.map { "\($0)" }.sorted())
    }
}
