import CosciModel
import Testing

@testable import CosciPlanner

/// luet 0.35 matches selectors with hashicorp/go-version: the facts, and the warnings `cosci check` gives.
@Suite struct LuetSelectors {
    static func term(_ text: String) throws -> VersionSelector.Term { try VersionSelector(text).terms[0] }

    @Test(arguments: [
        ("0.0.14-3", ">=0.0.14", false),  // a revision is a pre-release to go-version
        ("0.0.14-3", ">=0.0.14-0", true),
        ("0.0.15", ">=0.0.14", true),
        ("0.1.0-9", ">=0.1", false),
        ("1:2.0", ">=1:0", false),  // epochs do not parse
        ("2.0", ">=1:0", false),
        ("4.30.1", "<5", true),
        ("4.30.1", "!=4.30.1", false),
        ("0.0.9~rc1", ">=0.0.9", false),  // `~rc1` is a pre-release too
        ("1.2.3+4", ">=1.2.3", true),  // build metadata is ignored
    ])
    func goVersionMatching(_ version: String, _ selector: String, _ expected: Bool) throws {
        #expect(LuetVersion.matches(version, try Self.term(selector)) == expected)
    }

    @Test func exactSelectorsAreLeftToStringComparison() throws {
        #expect(LuetVersion.matches("1.0", try Self.term("=1.0")) == nil)
    }

    @Test func checkWarnsWhereLuetResolvesDifferentlyWithAFixBothRead() throws {
        var f = Fixture()
        f.add("system/grub2-config@0.0.14-3")
        f.add("utils/cos-upgrade@1:2.0")
        f.add("toolchain/yq@4.30.1")
        f.add("live/efi@1", requires: [Fixture.req("system/grub2-config", ">=0.0.14", line: 3)])
        f.add("meta/min@1", requires: [Fixture.req("utils/cos-upgrade", ">=1:0", line: 4)])
        f.add("meta/ok@1", requires: [Fixture.req("toolchain/yq", ">=4.25", line: 5)])
        let (graph, diagnostics) = BuildGraph.resolve(f.specs)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        let warnings = LuetCompatibility.selectorWarnings(graph)
        #expect(warnings.count == 2, "\(warnings)")
        let grub = try #require(warnings.first { $0.message.contains("grub2-config") })
        #expect(grub.severity == .warning && grub.location?.line == 3)
        #expect(grub.message.contains("cosci picks 0.0.14-3, but luet 0.35 finds no version matching it"))
        #expect(grub.hint?.contains(">=0.0.14-0") == true)
        let epoch = try #require(warnings.first { $0.message.contains("cos-upgrade") })
        #expect(epoch.message.contains("an epoch such as 1: does not parse"))
    }
}

@Suite struct LuetTags {
    @Test(arguments: [("0.0.9~rc1", false), ("1:2.0", false), ("0.32.0+2", true), ("0.0.9-rc1", true)])
    func tagsAreLuetsImageIDs(_ version: String, _ valid: Bool) throws {
        let id = PackageID(category: "toolchain", name: "luet-mtree", version: try Version(version))
        #expect(id.imageTag == "luet-mtree-toolchain-" + version.replacingOccurrences(of: "+", with: "-"))
        #expect(id.hasValidImageTag == valid)
        var f = Fixture()
        f.add("toolchain/luet-mtree@\(version)")
        let warnings = LuetCompatibility.tagWarnings(f.specs)
        #expect(warnings.count == (valid ? 0 : 1))
        if !valid { #expect(warnings[0].message.contains("by the tag luet-mtree-toolchain-\(version), which is not a valid image tag")) }
    }
}
