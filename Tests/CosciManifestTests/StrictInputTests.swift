import CosciModel
import Foundation
import Testing

@testable import CosciManifest

/// Input a tree should never hold is an error at its file and line, with what to do; nothing is silently
/// renamed or dropped.
@Suite struct StrictInput {
    func tree(_ definition: [UInt8], build: String = "steps: [echo]\n") throws -> ScratchTree {
        let t = try ScratchTree(["pkg/build.yaml": build])
        try Data(definition).write(to: t.root.appendingPathComponent("pkg/definition.yaml"))
        return t
    }

    @Test func invalidUTF8IsAnErrorAtItsLineNotAReplacementCharacter() throws {
        let t = try tree(Array("category: c\nversion: 1\nname: caf".utf8) + [0xE9] + Array("\n".utf8))
        defer { t.remove() }
        let loaded = t.load()
        #expect(loaded.packages.isEmpty, "no package silently renamed to caf\u{FFFD}")
        let d = try #require(loaded.diagnostics.first)
        #expect(d.location?.file == "pkg/definition.yaml" && d.location?.line == 3, "\(d)")
        #expect(d.message.contains("invalid UTF-8 at column 10 (byte 0xE9)"), "\(d)")
        #expect(d.hint?.contains("UTF-8") == true)
    }

    @Test func aNulByteIsReportedWhereItIs() throws {
        let t = try tree(Array("name: a\ncategory: c\nversion: 1\ndescription: x".utf8) + [0] + Array("y\n".utf8))
        defer { t.remove() }
        let d = try #require(t.load().diagnostics.first)
        #expect(d.location?.line == 4, "\(d)")
        #expect(d.message.contains("NUL byte at column 15"), "\(d)")
    }

    @Test func aByteOrderMarkIsAccepted() throws {
        let t = try tree([0xEF, 0xBB, 0xBF] + Array("name: a\ncategory: c\nversion: 1\n".utf8), build: "\u{FEFF}steps: [echo]\n")
        defer { t.remove() }
        let loaded = t.load()
        #expect(loaded.diagnostics.isEmpty, "\(loaded.diagnostics)")
        #expect(loaded.packages.map(\.id.description) == ["c/a@1"])
    }

    @Test(arguments: ["\"a\\nb\"", "\"a\\tb\"", "\"a\\u0007\""])
    func controlCharactersInNamesAreErrors(_ name: String) throws {
        let t = try tree(Array("name: \(name)\ncategory: c\nversion: 1\n".utf8))
        defer { t.remove() }
        let d = try #require(t.load().diagnostics.first)
        #expect(d.message.contains("control character"), "\(d)")
        #expect(d.location?.line == 1 && d.field == "name", "\(d)")
    }

    @Test func namesTooLongForAFileNameAreErrors() throws {
        let t = try tree(Array("name: \(String(repeating: "n", count: 250))\ncategory: c\nversion: 1\n".utf8))
        defer { t.remove() }
        let d = try #require(t.load().diagnostics.first)
        #expect(d.message.contains("bytes; at most 200 fit in the artifact's file name"), "\(d)")
    }

    @Test func aSymlinkedDefinitionIsAnErrorNotADroppedPackage() throws {
        let t = try ScratchTree(["pkg/build.yaml": "steps: [echo]\n", "shared/def.yaml": "name: a\ncategory: c\nversion: 1\n"])
        defer { t.remove() }
        try FileManager.default.createSymbolicLink(
            atPath: t.root.appendingPathComponent("pkg/definition.yaml").path, withDestinationPath: "../shared/def.yaml")
        let d = try #require(t.load().diagnostics.first)
        #expect(d.location?.file == "pkg/definition.yaml", "\(d)")
        #expect(d.message.contains("is a symlink"), "\(d)")
    }
}

/// Shapes of the real cOS-toolkit trees that luet loads: package references without a category, and a stanza
/// with a key given twice (cOS v0.5.3's `packages/cos/collection.yaml`).
@Suite struct LuetTreeShapes {
    @Test func providesWithoutACategoryLoad() throws {
        let t = try ScratchTree([
            "grub2/collection.yaml": """
                packages:
                  - name: "grub2-config"
                    category: "system"
                    version: 0.0.17-1
                    provides:
                      - name: "grub-config"
                        version: ">0.0.12"
                """,
            "grub2/build.yaml": "steps: [echo]\n",
        ])
        defer { t.remove() }
        let loaded = t.load()
        #expect(loaded.diagnostics.filter { $0.severity == .error }.isEmpty, "\(loaded.diagnostics)")
        let pkg = try #require(loaded.packages.first)
        #expect(pkg.id.description == "system/grub2-config@0.0.17-1")
        #expect(pkg.provides.map(\.name) == ["grub-config"])
        #expect(pkg.provides.map(\.category) == [""])
    }

    @Test func aKeyGivenTwiceKeepsTheLastValueWithAWarning() throws {
        let t = try ScratchTree([
            "cos/collection.yaml": "packages:\n  - name: cos\n    category: system\n    version: 0.5.3\n    version: 0.5.3-1\n",
            "cos/build.yaml": "steps: [echo]\n",
        ])
        defer { t.remove() }
        let loaded = t.load()
        #expect(loaded.packages.map(\.id.description) == ["system/cos@0.5.3-1"])
        let warning = try #require(loaded.diagnostics.first)
        #expect(warning.severity == .warning)
        #expect(warning.location == SourceLocation(file: "cos/collection.yaml", line: 5), "\(warning)")
        #expect(warning.message.contains("given twice (also at line 4); the last value wins"))
    }
}
