import CosciBuild
import CosciModel
import Testing

private func id(_ name: String) -> PackageID {
    PackageID(category: "t", name: name, version: try! Version("1.0"))
}

/// a ← b ← c (c needs b needs a), and d alone.
private let chain: [PackageID: [PackageID]] = [id("b"): [id("a")], id("c"): [id("b")]]
private let all = [id("a"), id("b"), id("c"), id("d")]

@Suite struct Scheduling {
    @Test func dependenciesGoFirstAndPriorityBreaksTies() {
        var s = BuildScheduler(packages: all, dependencies: chain, priority: [id("a"): 3, id("d"): 1], keepGoing: false)
        #expect(s.next() == id("a"))  // longest path first
        #expect(s.next() == id("d"))
        #expect(s.next() == nil)  // b waits for a
        s.finish(id("a"), success: true)
        #expect(s.next() == id("b"))
        s.finish(id("d"), success: true)
        s.finish(id("b"), success: true)
        #expect(s.next() == id("c"))
        s.finish(id("c"), success: true)
        #expect(s.isFinished)
        #expect(s.states.values.allSatisfy { $0 == .built })
    }

    @Test func failFastStartsNothingNewButLetsRunningFinish() {
        var s = BuildScheduler(packages: all, dependencies: chain, keepGoing: false)
        let first = s.next()!, second = s.next()!
        #expect(Set([first, second]) == [id("a"), id("d")])
        s.finish(id("a"), success: false)
        #expect(s.stopped)
        #expect(s.next() == nil)
        #expect(!s.isFinished)  // d is still running
        s.finish(id("d"), success: true)
        #expect(s.isFinished)
        #expect(s.states[id("d")] == .built)
        guard case .skipped(let why)? = s.states[id("c")] else {
            Issue.record("c should be skipped")
            return
        }
        #expect(why.contains("t/a@1.0"))
        #expect(why.contains("--keep-going"))
    }

    @Test func keepGoingSkipsOnlyWhatDependsOnTheFailure() {
        var s = BuildScheduler(packages: all, dependencies: chain, keepGoing: true)
        _ = s.next()
        _ = s.next()
        s.finish(id("a"), success: false)
        #expect(!s.stopped)
        s.finish(id("d"), success: true)
        #expect(s.next() == nil)
        #expect(s.isFinished)
        #expect(s.states[id("b")] == .skipped(reason: "depends on t/a@1.0, which failed"))
        #expect(s.states[id("c")] == .skipped(reason: "depends on t/a@1.0, which failed"))
        #expect(s.states[id("d")] == .built)
    }

    @Test func dependenciesOutsideTheSetCountAsAvailable() {
        // b's dependency a is cached: b may start at once.
        var s = BuildScheduler(packages: [id("b")], dependencies: chain, keepGoing: false)
        #expect(s.next() == id("b"))
    }
}

@Suite struct Filters {
    @Test func excludesWinOverIncludes() throws {
        var spec = BuildSpec()
        spec.includes = ["^/usr/.*"]
        spec.excludes = ["^/usr/share/doc"]
        let f = try ArtifactFilter(spec, package: id("x"))
        #expect(f.keeps("usr/bin/yq"))
        #expect(!f.keeps("usr/share/doc/yq/README"))
        #expect(!f.keeps("etc/yq.yaml"))
    }

    @Test func noIncludesKeepsEverythingNotExcluded() throws {
        var spec = BuildSpec()
        spec.excludes = ["^/proc/.*"]
        let f = try ArtifactFilter(spec, package: id("x"))
        #expect(f.keeps("etc/os-release"))
        #expect(f.keeps("proc"))
        #expect(!f.keeps("proc/1"))
    }

    @Test func anInvalidRegexNamesTheFieldAndPackage() {
        var spec = BuildSpec()
        spec.excludes = ["(unclosed"]
        #expect {
            _ = try ArtifactFilter(spec, package: id("x"))
        } throws: { e in
            (e as? BuildFailure)?.message == "t/x@1.0: excludes: invalid regular expression \"(unclosed\""
        }
    }
}
