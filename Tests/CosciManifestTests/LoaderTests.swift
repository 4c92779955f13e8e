import CosciModel
import CosciTemplate
import Foundation
import CosciTestSupport
import Testing

@testable import CosciManifest

/// Writes small trees into a temporary directory.
struct ScratchTree {
    let root: URL

    init(_ files: [String: String]) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-manifest-\(UUID().uuidString)")
        for (path, text) in files {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
    }

    func load(values: [String] = []) -> LoadedTree {
        TreeLoader.load(LoadOptions(projectRoot: root.path, trees: ["."], valuesFiles: values, jobs: 1))
    }

    func remove() { try? FileManager.default.removeItem(at: root) }

    /// `git hash-object` as an independent oracle for blob ids.
    func gitBlobID(_ path: String) throws -> String {
        try runTool("/usr/bin/git", ["hash-object", root.appendingPathComponent(path).path]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

@Suite struct Loading {
    @Test func blobIDsMatchGit() throws {
        let t = try ScratchTree([
            "pkg/definition.yaml": "name: a\ncategory: c\nversion: 1\n",
            "pkg/build.yaml": "steps:\n- echo ü\n",
            "pkg/files/script.sh": "#!/bin/sh\necho hi\n",
        ])
        defer { t.remove() }
        let tree = t.load()
        #expect(tree.diagnostics.isEmpty)
        let pkg = try #require(tree.packages.first)
        for entry in pkg.content {
            #expect(entry.blobID == (try t.gitBlobID("pkg/" + entry.path)), "\(entry.path)")
        }
        #expect(pkg.content.map(\.path) == ["build.yaml", "definition.yaml", "files/script.sh"])
    }

    @Test func nestedPackagesAndCollectionFileAreExcludedFromContent() throws {
        let t = try ScratchTree([
            "cos/collection.yaml": "packages:\n- {name: a, category: c, version: 1}\n- {name: b, category: c, version: 1}\n",
            "cos/build.yaml": "steps: [echo]\n",
            "cos/inner/definition.yaml": "name: inner\ncategory: c\nversion: 1\n",
            "cos/inner/build.yaml": "steps: [echo]\n",
            "cos/inner/extra.txt": "x",
        ])
        defer { t.remove() }
        let tree = t.load()
        #expect(tree.diagnostics.isEmpty)
        let a = try #require(tree.packages.first { $0.id.name == "a" })
        #expect(a.content.map(\.path) == ["build.yaml"])
        let inner = try #require(tree.packages.first { $0.id.name == "inner" })
        #expect(inner.content.map(\.path) == ["build.yaml", "definition.yaml", "extra.txt"])
        #expect(inner.path == "cos/inner")
    }

    @Test func valuesFilesWinOverDefinitionAndLaterFilesWin() throws {
        let t = try ScratchTree([
            "p/definition.yaml": "name: a\ncategory: c\nversion: 1\ncolor: red\nsize: s\n",
            "p/build.yaml": "steps:\n- echo {{ .Values.color }} {{ .Values.size }} {{ .Values.shape }}\n",
            "v1.yaml": "color: blue\nshape: round\n",
            "v2.yaml": "shape: square\n",
        ])
        defer { t.remove() }
        let tree = t.load(values: ["v1.yaml", "v2.yaml"])
        #expect(tree.diagnostics.isEmpty)
        #expect(tree.packages.first?.build.steps == ["echo blue s square"])
    }

    @Test func mergeKeysAndAnchorsInCollections() throws {
        let t = try ScratchTree([
            "c/collection.yaml": """
            packages:
            - &base
              name: one
              category: sys
              version: 1.0
              flag: yes
            - <<: *base
              name: two
            - !!merge <<: *base
              name: three
              version: 2.0
            """,
            "c/build.yaml": "steps:\n- echo {{ .Values.name }} {{ .Values.version }} {{ .Values.flag }}\n",
        ])
        defer { t.remove() }
        let tree = t.load()
        #expect(tree.diagnostics.isEmpty, "\(tree.diagnostics)")
        #expect(tree.packages.map(\.id.description) == ["sys/one@1.0", "sys/three@2.0", "sys/two@1.0"])
        #expect(tree.packages.first { $0.id.name == "three" }?.build.steps == ["echo three 2 true"])
    }

    @Test func renderedYAMLErrorsPointAtTheTemplateLine() throws {
        let t = try ScratchTree([
            "templates/x.yaml": "{{ define \"x\" }}\n- a\n{{ end }}\n",
            "p/definition.yaml": "name: a\ncategory: c\nversion: 1\n",
            "p/build.yaml": "steps:\n{{ template \"x\" }}\n- b\nenv: [\n",
        ])
        defer { t.remove() }
        let tree = t.load()
        let d = try #require(tree.diagnostics.first)
        #expect(d.location?.file == "p/build.yaml")
        #expect(d.location?.line == 4)
    }

    @Test func workTreeDigestEqualsGitTreeDigest() throws {
        // The directory digest from files must equal the one from a commit's tree entries.
        let t = try ScratchTree([
            "p/definition.yaml": "name: a\ncategory: c\nversion: 1\n",
            "p/build.yaml": "steps: [echo]\n",
            "p/sub/file": "data\n",
        ])
        defer { t.remove() }
        let pkg = try #require(t.load().packages.first)
        let fromGit = try ["build.yaml", "definition.yaml", "sub/file"].map {
            ContentEntry(path: $0, mode: 0o100644, blobID: try t.gitBlobID("p/" + $0))
        }
        #expect(pkg.contentDigest == ContentEntry.directoryDigest(fromGit.reversed()))
    }
}

@Suite struct Config {
    @Test func parsesAndValidates() throws {
        let (c, warnings) = try ProjectConfig.parse(
            "tree: packages\nflavors:\n  green: {values: [v/g.yaml]}\nflavor: green\nplatform: linux/arm64\nbogus: 1\n",
            file: "cosci.yaml")
        #expect(c.trees == ["packages"])
        #expect(c.flavors == ["green": ["v/g.yaml"]])
        #expect(warnings.first?.location == SourceLocation(file: "cosci.yaml", line: 6))
        #expect(throws: Diagnostic.self) { try ProjectConfig.parse("flavor: nope\n", file: "cosci.yaml") }
        #expect(throws: Diagnostic.self) { try ProjectConfig.parse("platform: linux\n", file: "cosci.yaml") }
    }
}

@Suite struct Memo {
    @Test func secondLoadReusesEverythingAndGivesTheSameTree() throws {
        let t = try ScratchTree([
            "a/definition.yaml": "name: a\ncategory: c\nversion: 1\n",
            "a/build.yaml": "steps:\n- echo {{ .Values.name }}\n",
            "b/definition.yaml": "name: b\ncategory: c\nversion: 1\n",
            "b/build.yaml": "steps: [echo]\n",
            "b/file.txt": "one\n",
        ])
        defer { t.remove() }
        let options = LoadOptions(projectRoot: t.root.path, trees: ["."], valuesFiles: [], jobs: 1)
        let first = TreeLoader.load(options)
        let memoFile = t.root.appendingPathComponent(".memo").path
        #expect(first.memo.write(to: memoFile))
        let saved = LoadMemo.read(from: memoFile)
        #expect(saved.count == 2)
        let second = TreeLoader.load(try WorkTreeSnapshot(projectRoot: t.root.path, trees: ["."]), options: options, memo: saved)
        #expect(second.reused == 2)
        #expect(second.packages.map(\.contentDigest) == first.packages.map(\.contentDigest))
        #expect(second.packages.map(\.specDigest) == first.packages.map(\.specDigest))
        #expect(second.packages.map(\.build.steps) == first.packages.map(\.build.steps))

        // A non-definition file changes: the directory is reused, its content digest is not.
        try Data("two\n".utf8).write(to: t.root.appendingPathComponent("b/file.txt"))
        let third = TreeLoader.load(try WorkTreeSnapshot(projectRoot: t.root.path, trees: ["."]), options: options, memo: saved)
        #expect(third.reused == 2)
        #expect(third.packages[1].contentDigest != first.packages[1].contentDigest)

        // The build spec changes: that directory is parsed again.
        try Data("steps: [echo changed]\n".utf8).write(to: t.root.appendingPathComponent("b/build.yaml"))
        let fourth = TreeLoader.load(try WorkTreeSnapshot(projectRoot: t.root.path, trees: ["."]), options: options, memo: saved)
        #expect(fourth.reused == 1)
        #expect(fourth.packages[1].build.steps == ["echo changed"])
    }

    @Test("a spec that stamps the date renders at the build's epoch; its memo entry holds for that epoch only")
    func clockReadingSpecs() throws {
        let t = try ScratchTree([
            "stamp/definition.yaml": "name: stamp\ncategory: c\nversion: 1\n",
            "stamp/build.yaml": "env:\n- BUILD_DATE={{ now | dateInZone \"2006-01-02\" \"UTC\" }}\nsteps: [true]\n",
            "plain/definition.yaml": "name: plain\ncategory: c\nversion: 1\n",
            "plain/build.yaml": "steps: [true]\n",
        ])
        defer { t.remove() }
        func options(_ epoch: Int64) -> LoadOptions {
            LoadOptions(projectRoot: t.root.path, trees: ["."], jobs: 1, render: RenderEnvironment(epoch: epoch))
        }
        let first = TreeLoader.load(options(1_700_000_000))
        #expect(first.diagnostics.isEmpty, "\(first.diagnostics)")
        let stamp = try #require(first.packages.first { $0.id.name == "stamp" })
        #expect(stamp.build.env == ["BUILD_DATE=2023-11-14"])
        #expect(first.inputs == ["clock": "1700000000"])
        #expect(TreeLoader.load(options(1_700_000_000)).packages.map(\.specDigest) == first.packages.map(\.specDigest))

        let memoFile = t.root.appendingPathComponent(".memo").path
        #expect(first.memo.write(to: memoFile))
        let saved = LoadMemo.read(from: memoFile)
        let sameDay = TreeLoader.load(try WorkTreeSnapshot(projectRoot: t.root.path, trees: ["."]), options: options(1_700_000_000), memo: saved)
        #expect(sameDay.reused == 2)
        let nextDay = TreeLoader.load(try WorkTreeSnapshot(projectRoot: t.root.path, trees: ["."]), options: options(1_700_086_400), memo: saved)
        #expect(nextDay.reused == 1, "only the directory that read the clock renders again")
        #expect(nextDay.packages.first { $0.id.name == "stamp" }?.build.env == ["BUILD_DATE=2023-11-15"])
        #expect(nextDay.packages.first { $0.id.name == "plain" }?.specDigest == first.packages.first { $0.id.name == "plain" }?.specDigest)
    }

    @Test("env reads only what cosci.yaml allows; the allowed value is part of the render, and of the memo's check")
    func environmentReadingSpecs() throws {
        let t = try ScratchTree([
            "chan/definition.yaml": "name: chan\ncategory: c\nversion: 1\n",
            "chan/build.yaml": "env:\n- CHANNEL={{ env \"CHANNEL\" }}\nsteps: [true]\n",
        ])
        defer { t.remove() }
        let refused = TreeLoader.load(LoadOptions(projectRoot: t.root.path, trees: ["."], jobs: 1))
        let error = try #require(refused.diagnostics.first)
        #expect(error.location?.file == "chan/build.yaml")
        #expect(error.location?.line == 2)
        #expect(error.message.contains("CHANNEL, which the project does not allow"))
        #expect(error.message.contains("`environment:` in cosci.yaml"))

        func load(_ value: String, memo: LoadMemo = LoadMemo()) throws -> LoadedTree {
            TreeLoader.load(
                try WorkTreeSnapshot(projectRoot: t.root.path, trees: ["."]),
                options: LoadOptions(projectRoot: t.root.path, trees: ["."], jobs: 1, render: RenderEnvironment(variables: ["CHANNEL": value])),
                memo: memo)
        }
        let stable = try load("stable")
        #expect(stable.packages.first?.build.env == ["CHANNEL=stable"])
        #expect(stable.inputs.keys.sorted() == ["env:CHANNEL"])
        #expect(!stable.inputs.values.contains("stable"), "values are kept as digests")
        #expect(try load("stable", memo: stable.memo).reused == 1)
        let testing = try load("testing", memo: stable.memo)
        #expect(testing.reused == 0)
        #expect(testing.packages.first?.build.env == ["CHANNEL=testing"])
        #expect(testing.packages.first?.specDigest != stable.packages.first?.specDigest)
    }

    @Test func aDamagedMemoIsIgnored() throws {
        let t = try ScratchTree(["x": "y"])
        defer { t.remove() }
        let file = t.root.appendingPathComponent("memo").path
        try Data("cosci-load-memo/1\n\u{05}garbage".utf8).write(to: URL(fileURLWithPath: file))
        #expect(LoadMemo.read(from: file).count == 0)
        #expect(LoadMemo.read(from: t.root.appendingPathComponent("absent").path).count == 0)
    }
}

@Suite struct BlobIDs {
    @Test func unchangedFilesAreNotRehashedAndChangedOnesAre() throws {
        let t = try ScratchTree([
            "p/definition.yaml": "name: a\ncategory: c\nversion: 1\n",
            "p/build.yaml": "steps: [echo]\n",
            "p/data.txt": "aaaa\n",
        ])
        defer { t.remove() }
        let old = Date(timeIntervalSinceNow: -3600)
        for f in ["p/definition.yaml", "p/build.yaml", "p/data.txt"] {
            try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: t.root.appendingPathComponent(f).path)
        }
        let options = LoadOptions(projectRoot: t.root.path, trees: ["."], valuesFiles: [], jobs: 1)
        let first = try WorkTreeSnapshot(projectRoot: t.root.path, trees: ["."])
        #expect(first.files.allSatisfy { $0.blobID == nil })
        let tree = TreeLoader.load(first, options: options)
        let file = t.root.appendingPathComponent(".blob-ids").path
        #expect(first.blobIDs(from: tree).write(to: file))
        let cache = BlobIDCache.read(from: file)
        #expect(cache.count == 3)

        let second = try WorkTreeSnapshot(projectRoot: t.root.path, trees: ["."], known: cache)
        #expect(second.files.filter { $0.path.hasPrefix("p/") }.allSatisfy { $0.blobID != nil }, "files older than the cache are trusted")
        #expect(second.files.first { $0.path == "p/data.txt" }?.blobID == (try t.gitBlobID("p/data.txt")))

        try Data("bbbb\n".utf8).write(to: t.root.appendingPathComponent("p/data.txt"))  // same size, new content
        let third = try WorkTreeSnapshot(projectRoot: t.root.path, trees: ["."], known: cache)
        #expect(third.files.first { $0.path == "p/data.txt" }?.blobID == nil, "a changed file is read again")
        let reloaded = TreeLoader.load(third, options: options)
        #expect(reloaded.packages.first?.content.first { $0.path == "data.txt" }?.blobID == (try t.gitBlobID("p/data.txt")))
    }
}

@Suite struct ImageSpecOverlay {
    @Test("an overlay is a directory inside the project, relative to the spec")
    func overlayStaysInside() throws {
        let ok = try ImageSpec.parse("name: a\nbase: system/cos\noverlay: files/a\n", file: "images/a.yaml")
        #expect(ok.overlay == "files/a")
        for bad in ["../outside", "/etc", "a/../../b"] {
            expectSpecError("name: a\nbase: system/cos\noverlay: \(bad)\n", field: "overlay", line: 3)
        }
    }
}

/// `text` is not a valid image spec, and the error names `field` at `line`.
func expectSpecError(_ text: String, field: String, line: Int, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    do {
        _ = try ImageSpec.parse(text, file: "images/a.yaml")
        Issue.record("accepted: \(text)", sourceLocation: sourceLocation)
    } catch {
        #expect(error.field == field, sourceLocation: sourceLocation)
        #expect(error.location?.line == line, sourceLocation: sourceLocation)
    }
}

@Suite struct ImageSpecBoot {
    @Test("iso.boot names the kernel and initrd inside the image, with defaults and a command line")
    func bootPathsStayInsideTheImage() throws {
        let spec = try ImageSpec.parse(
            "name: a\nbase: system/os\niso:\n  label: A_LIVE\n  boot:\n    initrd: /boot/initrd.gz\n    cmdline: console=ttyS0 quiet\n",
            file: "images/a.yaml")
        #expect(spec.iso?.boot == ImageSpec.Boot(kernel: "boot/vmlinuz", initrd: "boot/initrd.gz", cmdline: "console=ttyS0 quiet"))
        #expect(try ImageSpec.parse("name: a\nbase: system/os\niso: {label: A}\n", file: "images/a.yaml").iso?.boot == nil)
        // A kernel outside the image.
        expectSpecError("name: a\nbase: system/os\niso:\n  boot:\n    kernel: ../../etc/shadow\n", field: "iso.boot.kernel", line: 5)
        let disk = try ImageSpec.parse("name: a\nbase: system/os\ndisk:\n  cmdline: console=ttyS0\n", file: "images/a.yaml")
        #expect(disk.disk == ImageSpec.Boot(kernel: "boot/vmlinuz", initrd: "boot/initrd.img", cmdline: "console=ttyS0"))
        // A disk: that is not a mapping.
        expectSpecError("name: a\nbase: system/os\ndisk: yes\n", field: "disk", line: 3)
    }
}
