import CosciModel
import CosciPlanner
import Foundation
import Testing

@testable import CosciEngine

enum Paths {
    static let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    static let trees = tests.appendingPathComponent("Fixtures/trees")
    static let golden = tests.appendingPathComponent("Fixtures/golden")
}

@Suite struct ProjectResolution {
    let tree = Paths.trees.appendingPathComponent("cos-style").path

    @Test func configSuppliesDefaults() throws {
        let p = try Project.resolve(ProjectFlags(tree: tree), environment: [:], cwd: "/")
        #expect(p.root == tree)
        #expect(p.trees == ["packages"])
        #expect(p.flavor == "green")
        #expect(p.valuesFiles == ["values/green.yaml"])
        #expect(p.platform.description == "linux/amd64")
    }

    @Test func flagsWinOverEnvironmentWhichWinsOverConfig() throws {
        let env = ["COSCI_FLAVOR": "orange", "COSCI_PLATFORM": "linux/arm64"]
        let fromEnv = try Project.resolve(ProjectFlags(tree: tree), environment: env, cwd: "/")
        #expect(fromEnv.flavor == "orange")
        #expect(fromEnv.platform.description == "linux/arm64")
        let fromFlags = try Project.resolve(
            ProjectFlags(tree: tree, flavor: "green", platform: "linux/riscv64"), environment: env, cwd: "/")
        #expect(fromFlags.flavor == "green")
        #expect(fromFlags.platform.description == "linux/riscv64")
    }

    @Test func configIsFoundFromASubdirectory() throws {
        let p = try Project.resolve(ProjectFlags(), environment: [:], cwd: tree + "/packages/cos/recovery-img")
        #expect(p.root == tree)
        #expect(p.configFile == tree + "/cosci.yaml")
    }

    @Test func extraValuesAreRelativeToTheWorkingDirectory() throws {
        let p = try Project.resolve(ProjectFlags(tree: tree, values: ["values/orange.yaml"]), environment: [:], cwd: tree)
        #expect(p.valuesFiles == ["values/green.yaml", "values/orange.yaml"])
        let outside = try Project.resolve(ProjectFlags(tree: tree, values: ["/etc/x.yaml"]), environment: [:], cwd: tree)
        #expect(outside.valuesFiles.last == "/etc/x.yaml")
    }

    @Test func badPlatformAndFlavorAreErrors() {
        #expect(throws: Diagnostic.self) { try Project.resolve(ProjectFlags(tree: tree, platform: "amd64"), environment: [:], cwd: "/") }
        #expect(throws: Diagnostic.self) { try Project.resolve(ProjectFlags(tree: tree, flavor: "x"), environment: [:], cwd: "/") }
    }
}

/// Golden keys: the `cosci list` document of the fixture trees is pinned, so any change to the key scheme,
/// the loader or the renderer that alters a key fails here. Regenerate deliberately with
/// `COSCI_UPDATE_GOLDEN=1 swift test --filter Golden` and review the diff.
@Suite struct GoldenKeys {
    @Test(arguments: [("cos-style", "green"), ("cos-style", "orange")])
    func listDocumentIsPinned(_ tree: String, _ flavor: String) throws {
        let project = try Project.resolve(
            ProjectFlags(tree: Paths.trees.appendingPathComponent(tree).path, flavor: flavor), environment: [:], cwd: "/")
        let analysis = Analysis.run(project)
        #expect(!analysis.hasErrors, "\(analysis.diagnostics)")
        let reports = TreeReports(graph: analysis.graph, keys: analysis.keys, platform: project.platform)
        let actual = CanonicalJSON.encode(reports.list(), pretty: true) + "\n"
        let file = Paths.golden.appendingPathComponent("\(tree)-\(flavor).list.json")
        if ProcessInfo.processInfo.environment["COSCI_UPDATE_GOLDEN"] == "1" {
            try Data(actual.utf8).write(to: file)
        }
        let expected = try String(contentsOf: file, encoding: .utf8)
        #expect(actual == expected, "keys changed; if intended, regenerate the golden file and bump the scheme")
    }

    @Test func schemeTagIsV1() {
        #expect(CacheKeyComponents.scheme == "cosci-key/1")
    }
}
