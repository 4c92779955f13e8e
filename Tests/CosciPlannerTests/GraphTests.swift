import CosciModel
import Testing

@testable import CosciPlanner

/// Builds package specs in memory: values in, values out.
struct Fixture {
    var specs: [PackageSpec] = []

    static func req(_ family: String, _ selector: String = ">=0", line: Int = 1, in file: String = "packages/x/build.yaml") -> Requirement {
        let parts = family.split(separator: "/").map(String.init)
        return Requirement(
            category: parts[0], name: parts[1], selector: try! VersionSelector(selector),
            location: SourceLocation(file: file, line: line))
    }

    @discardableResult
    mutating func add(
        _ idText: String, requires: [Requirement] = [], runtime: [Requirement] = [], provides: [Requirement] = [],
        copy: [Requirement] = [], finalImages: Bool = false, steps: [String] = ["true"],
        files: [String: String] = ["build.yaml": "b", "definition.yaml": "d"]
    ) -> PackageID {
        let at = idText.firstIndex(of: "@")!
        let family = idText[..<at].split(separator: "/").map(String.init)
        let id = PackageID(category: family[0], name: family[1], version: try! Version(String(idText[idText.index(after: at)...])))
        var build = BuildSpec()
        build.requires = requires
        build.copy = copy.map { CopySpec(package: $0, image: nil, source: "/x", destination: "/y") }
        build.requiresFinalImages = finalImages
        build.steps = steps
        let content = files.map { ContentEntry(path: $0.key, mode: 0o100644, blobID: String(repeating: "0", count: 39) + String($0.value.count % 10)) }
        specs.append(
            PackageSpec(
                id: id, path: "packages/\(id.name)", definedAt: SourceLocation(file: "packages/\(id.name)/definition.yaml", line: 1),
                buildFile: "packages/\(id.name)/build.yaml",
                stanza: .map(["name": .string(id.name), "category": .string(id.category), "version": .string(id.version.text)]),
                runtimeRequires: runtime, provides: provides, build: build,
                document: .map(["steps": .list(steps.map(Value.string))]), content: content))
        return id
    }

    func keys() -> [PackageID: CacheKeyComponents] {
        let (graph, _) = BuildGraph.resolve(specs)
        return CacheKeys.compute(graph, platform: .linuxAMD64)
    }
}

@Suite struct Resolution {
    @Test func chooseHighestMatchingVersion() throws {
        var f = Fixture()
        f.add("toolchain/yq@4.25.2-2")
        let newest = f.add("toolchain/yq@4.30.1")
        f.add("toolchain/yq@5.0")
        let app = f.add("utils/app@1.0", requires: [Fixture.req("toolchain/yq", "<5")])
        let (graph, diagnostics) = BuildGraph.resolve(f.specs)
        #expect(diagnostics.isEmpty)
        #expect(graph.dependencies(of: app) == [newest])
        let r = try #require(graph.resolutions[app]?.first)
        #expect(r.candidates.map(\.version.text) == ["4.30.1", "4.25.2-2"])
        #expect(r.reason.contains("highest version matching <5"))
    }

    @Test func providesReplacesTheFamily() throws {
        var f = Fixture()
        f.add("utils/installer@0.1")
        let wrapper = f.add("system/cos-wrapper@0.32-7", provides: [Fixture.req("utils/installer", ">=0")])
        let app = f.add("system/cos@0.6.0", requires: [Fixture.req("utils/installer")])
        let (graph, diagnostics) = BuildGraph.resolve(f.specs)
        #expect(diagnostics.isEmpty)
        #expect(graph.dependencies(of: app) == [wrapper])
        #expect(graph.resolutions[app]?.first?.reason.contains("provides utils/installer") == true)
    }

    @Test func missingDependencyNamesWhoAskedAndWhere() throws {
        var f = Fixture()
        f.add("toolchain/yq@4.25.2-2")
        let app = f.add("utils/app@1.0", requires: [Fixture.req("toolchain/yq", ">=5", line: 7, in: "packages/app/build.yaml")])
        let dependent = f.add("meta/all@1", requires: [Fixture.req("utils/app")])
        let (graph, diagnostics) = BuildGraph.resolve(f.specs)
        let d = try #require(diagnostics.first)
        #expect(diagnostics.count == 1)
        #expect(d.location == SourceLocation(file: "packages/app/build.yaml", line: 7))
        #expect(d.message.contains("utils/app@1.0 requires toolchain/yq >=5"))
        #expect(d.hint?.contains("4.25.2-2") == true)
        #expect(!graph.order.contains(app))
        #expect(!graph.order.contains(dependent), "a dependent of a broken package has no key")
    }

    @Test func cycleIsReportedOnceWithItsPath() throws {
        var f = Fixture()
        f.add("a/x@1", requires: [Fixture.req("b/y")])
        f.add("b/y@1", requires: [Fixture.req("c/z")])
        f.add("c/z@1", requires: [Fixture.req("a/x")])
        f.add("d/ok@1")
        let (graph, diagnostics) = BuildGraph.resolve(f.specs)
        #expect(diagnostics.count == 1)
        let message = try #require(diagnostics.first?.message)
        #expect(message.contains("dependency cycle: a/x@1 → b/y@1 → c/z@1 → a/x@1"))
        #expect(graph.order.map(\.description) == ["d/ok@1"])
    }

    @Test func finalImagesPullRuntimeClosure() {
        var f = Fixture()
        let lib = f.add("system/lib@1")
        let kernel = f.add("system/kernel@5", runtime: [Fixture.req("system/lib")])
        let os = f.add("system/cos@1", requires: [Fixture.req("system/kernel")], finalImages: true)
        let (graph, _) = BuildGraph.resolve(f.specs)
        #expect(graph.dependencies(of: os) == [kernel, lib].sorted())
    }

    @Test func copySourcesAreBuildDependencies() {
        var f = Fixture()
        let yip = f.add("toolchain/yip@1")
        let os = f.add("system/cos@1", copy: [Fixture.req("toolchain/yip")])
        let (graph, _) = BuildGraph.resolve(f.specs)
        #expect(graph.dependencies(of: os) == [yip])
        #expect(graph.order.firstIndex(of: yip)! < graph.order.firstIndex(of: os)!)
    }
}

@Suite struct Keys {
    @Test func siblingsDoNotCouple() {
        var base = Fixture()
        base.add("distro/a@1")
        base.add("utils/b@1", requires: [Fixture.req("distro/a")])
        let c = base.add("utils/c@1", requires: [Fixture.req("distro/a")])
        let before = base.keys()

        var changed = Fixture()
        changed.add("distro/a@1")
        let b = changed.add("utils/b@1", requires: [Fixture.req("distro/a")], steps: ["echo changed"])
        changed.add("utils/c@1", requires: [Fixture.req("distro/a")])
        let after = changed.keys()
        #expect(before[b]!.key != after[b]!.key)
        #expect(before[c]!.key == after[c]!.key, "changing B must not change its sibling C")
    }

    @Test func dependencyChangePropagatesToDependentsOnly() {
        var f1 = Fixture()
        f1.add("distro/a@1")
        let b = f1.add("utils/b@1", requires: [Fixture.req("distro/a")])
        let top = f1.add("meta/top@1", requires: [Fixture.req("utils/b")])
        let other = f1.add("meta/other@1")
        var f2 = Fixture()
        f2.add("distro/a@1", files: ["build.yaml": "changed", "definition.yaml": "d"])
        f2.add("utils/b@1", requires: [Fixture.req("distro/a")])
        f2.add("meta/top@1", requires: [Fixture.req("utils/b")])
        f2.add("meta/other@1")
        let k1 = f1.keys(), k2 = f2.keys()
        #expect(k1[b]!.key != k2[b]!.key)
        #expect(k1[top]!.key != k2[top]!.key)
        #expect(k1[other]!.key == k2[other]!.key)
    }

    @Test func platformAndImageChangeTheKey() {
        var f = Fixture()
        let a = f.add("distro/a@1")
        let (graph, _) = BuildGraph.resolve(f.specs)
        let amd = CacheKeys.compute(graph, platform: .linuxAMD64)[a]!.key
        let arm = CacheKeys.compute(graph, platform: try! Platform(parsing: "linux/arm64"))[a]!.key
        #expect(amd != arm)
    }

    @Test func pinnedImageDigestIsHashed() throws {
        var spec = Fixture()
        spec.add("distro/base@1")
        var s = spec.specs[0].build
        s.image = "registry.example/os/base:15.3"
        let p = spec.specs[0]
        let withImage = PackageSpec(
            id: p.id, path: p.path, definedAt: p.definedAt, buildFile: p.buildFile, stanza: p.documents!.stanza,
            runtimeRequires: [], provides: [], build: s, document: p.documents!.build, content: p.content)
        let d1 = try Digest(parsing: "sha256:" + String(repeating: "a", count: 64))
        let d2 = try Digest(parsing: "sha256:" + String(repeating: "b", count: 64))
        let k1 = CacheKeys.components(withImage, platform: .linuxAMD64, images: ["registry.example/os/base:15.3": d1], dependencyKeys: [])
        let k2 = CacheKeys.components(withImage, platform: .linuxAMD64, images: ["registry.example/os/base:15.3": d2], dependencyKeys: [])
        #expect(k1.image == "registry.example/os/base:15.3@\(d1)")
        #expect(k1.key != k2.key)
    }
}

@Suite struct SelfRequirement {
    @Test func aPackageRequiringItselfIsToldSo() throws {
        var f = Fixture()
        f.add("c/a@1.0", requires: [Fixture.req("c/a")])
        let (_, diagnostics) = BuildGraph.resolve(f.specs)
        let d = try #require(diagnostics.first)
        #expect(d.message.contains("requires itself"), "\(d)")
        #expect(!(d.hint ?? "").contains("available versions"))
    }
}
