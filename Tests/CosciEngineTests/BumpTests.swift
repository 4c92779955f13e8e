import CosciManifest
import CosciModel
import Foundation
import Testing

@testable import CosciEngine

@Suite(.serialized) struct Bumps {
    @Test(arguments: [("1.2.3-4", "1.2.3-5"), ("0.32.0+2", "0.32.0+3"), ("1.2.3", "1.2.3-1"), ("1:2.0-9", "1:2.0-10"), ("0.8.14-21", "0.8.14-22")])
    func nextRevision(_ from: String, _ to: String) throws {
        #expect(VersionEditor.bumped(try Version(from)) == to)
    }

    @Test func checkBaseFailsUntilVersionsMove() throws {
        let repo = try GitFixture()
        try repo.write("packages/toolchain/yip/build.yaml", try repo.read("packages/toolchain/yip/build.yaml") + "# edit\n")
        let project = try repo.project()
        let problems = try VersionBumps.unbumped(project, base: "main")
        #expect(problems.count == 5)
        let yip = try #require(problems.first { $0.message.hasPrefix("toolchain/yip@0.9.4-1") })
        #expect(yip.location == SourceLocation(file: "packages/toolchain/yip/definition.yaml", line: 1))
        #expect(yip.message.contains("packages/toolchain/yip/build.yaml changed"))

        let collectionBefore = try repo.read("packages/cos/collection.yaml")
        let bumps = try VersionBumps.bump(project, references: ["toolchain/yip"], revdeps: true)
        #expect(bumps.map { "\($0.id) \($0.newVersion)" } == [
            "recovery/cos-img@0.6.0 0.6.0-1", "recovery/cos@0.6.0 0.6.0-1", "system/cos-container@0.6.0 0.6.0-1",
            "system/cos@0.6.0 0.6.0-1", "toolchain/yip@0.9.4-1 0.9.4-2",
        ])
        #expect(try VersionBumps.unbumped(try repo.project(), base: "main").isEmpty, "every changed key now has a new version")

        // The anchor is kept; stanzas that inherited the version got their own line; everything else is untouched.
        let collection = try repo.read("packages/cos/collection.yaml")
        #expect(collection.contains("  - &cos\n"))
        #expect(collection.contains("  - !!merge <<: *cos\n    version: \"0.6.0-1\"\n"))
        let removed = Set(collectionBefore.split(separator: "\n")).subtracting(collection.split(separator: "\n"))
        #expect(removed == ["    version: \"0.6.0\""])
        #expect(try repo.read("packages/toolchain/yip/definition.yaml").contains("version: 0.9.4-2\n"), "quoting kept (none)")
    }

    @Test func bumpingAnAnchoredStanzaPinsItsSiblings() throws {
        let repo = try GitFixture()
        let bumps = try VersionBumps.bump(try repo.project(), references: ["system/cos@0.6.0"], revdeps: false)
        #expect(bumps.count == 1)
        let analysis = Analysis.run(try repo.project(), useMemo: false)
        let ids = Set(analysis.tree.packages.map(\.id.description))
        #expect(ids.contains("system/cos@0.6.0-1"))
        #expect(ids.contains("recovery/cos@0.6.0"), "the sibling keeps its version")
        #expect(ids.contains("system/cos-container@0.6.0"))
    }

    @Test func unknownPackageIsAnError() throws {
        let repo = try GitFixture()
        #expect(throws: Diagnostic.self) { try VersionBumps.bump(try repo.project(), references: ["nope/nothing"], revdeps: false) }
    }
}
