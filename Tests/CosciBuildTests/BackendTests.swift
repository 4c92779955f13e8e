#if canImport(Glibc)
    import Glibc
#endif
import CosciArchive
@testable import CosciBuild
import CosciModel
import CosciTestSupport
import Foundation
import Testing

/// What every backend promises a build: the package's files in `/luetbuild`, its dependencies' artifacts in
/// the sysroot, the build's epoch, what the steps made as the artifact, and a failing step reported as the
/// package's own failure with its output in the log.
@Suite(.serialized) struct BackendContract {
    static let bubblewrapWorks = Bubblewrap.unavailableReason() == nil
    static let busybox = ["/bin/busybox", "/usr/bin/busybox"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// A package directory with `hello.txt`, a dependency artifact holding `usr/share/dep/marker`, and a job.
    func job(_ name: String, steps: [String], in dir: URL, baseLayers: [String] = []) throws -> BuildJob {
        let package = dir.appendingPathComponent("package").path
        try FileManager.default.createDirectory(atPath: package, withIntermediateDirectories: true)
        try "hello from the package\n".write(toFile: package + "/hello.txt", atomically: true, encoding: .utf8)
        let dependency = dir.appendingPathComponent("dep.tar.gz").path
        _ = try TarArchive.pack(
            files: [MemoryFile(path: "usr/share/dep/marker", bytes: Array("from the dependency\n".utf8), mode: 0o644)],
            to: dependency, options: PackOptions(compression: .gzip, sourceDateEpoch: 0))
        var spec = BuildSpec()
        spec.steps = steps
        return BuildJob(
            id: PackageID(category: "test", name: name, version: try Version("1.0")), key: CacheKey(.sha256(of: Array(name.utf8))),
            spec: spec, packageDirectory: package, files: ["hello.txt"], dependencyArtifacts: [dependency], copies: [],
            network: false, workDirectory: dir.appendingPathComponent("work").path,
            baseImage: baseLayers.isEmpty ? nil : "example/busybox:1", baseLayers: baseLayers)
    }

    /// A base image layer of one static busybox as `/bin/sh` (its applets run through it).
    func busyboxLayer(in dir: URL) throws -> String {
        let shell = try #require(FileManager.default.contents(atPath: Self.busybox!))
        let base = dir.appendingPathComponent("base.tar.gz").path
        _ = try TarArchive.pack(
            files: [MemoryFile(path: "bin/sh", bytes: Array(shell), mode: 0o755)], to: base,
            options: PackOptions(compression: .gzip, sourceDateEpoch: 0))
        return base
    }

    @Test(.enabled(if: bubblewrapWorks, "bubblewrap cannot sandbox on this machine"))
    func hostSandboxKeepsTheContract() throws {
        let dir = try TestPaths.temporaryDirectory("cosci-backend")
        defer { try? FileManager.default.removeItem(at: dir) }
        var backend = HostSandbox()
        backend.sourceDateEpoch = 1_700_000_000
        let j = try job("host", steps: [
            "mkdir -p out && cat hello.txt /cosci/sysroot/usr/share/dep/marker > out/result",
            "echo \"$SOURCE_DATE_EPOCH\" > out/epoch",
            "echo \"$PACKAGE_CATEGORY/$PACKAGE_NAME@$PACKAGE_VERSION\" > out/package",
        ], in: dir)
        let log = try LogFile(path: dir.appendingPathComponent("build.log").path)
        let output = try backend.build(j, log: log)
        #expect(try String(contentsOfFile: output.root + "/out/result", encoding: .utf8) == "hello from the package\nfrom the dependency\n")
        #expect(try String(contentsOfFile: output.root + "/out/epoch", encoding: .utf8) == "1700000000\n")
        #expect(try String(contentsOfFile: output.root + "/out/package", encoding: .utf8) == "test/host@1.0\n", "luet's package variables")
        #expect(output.changed == ["out", "out/result", "out/epoch", "out/package"], "what the steps made, not the package's own files")
    }

    @Test(.enabled(if: bubblewrapWorks, "bubblewrap cannot sandbox on this machine"))
    func hostSandboxReportsAFailingStepWithItsOutput() throws {
        let dir = try TestPaths.temporaryDirectory("cosci-backend")
        defer { try? FileManager.default.removeItem(at: dir) }
        let j = try job("fails", steps: ["echo before", "echo the-step-said-this >&2; exit 3", "echo never > never"], in: dir)
        let log = try LogFile(path: dir.appendingPathComponent("build.log").path)
        #expect {
            try HostSandbox().build(j, log: log)
        } throws: { error in
            (error as? BuildFailure)?.kind == .step
        }
        let text = log.tail(30).joined(separator: "\n")
        #expect(text.contains("the-step-said-this"), "\(text)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("work/luetbuild/never").path), "later steps do not run")
    }

    @Test func hostSandboxRefusesWhatItCannotGiveAndSaysWhichBackendCan() throws {
        let dir = try TestPaths.temporaryDirectory("cosci-backend")
        defer { try? FileManager.default.removeItem(at: dir) }
        var j = try job("image", steps: ["true"], in: dir)
        var spec = j.spec
        spec.image = "alpine:3.19"
        j = BuildJob(
            id: j.id, key: j.key, spec: spec, packageDirectory: j.packageDirectory, files: j.files, dependencyArtifacts: [], copies: [],
            network: false, workDirectory: j.workDirectory)
        #expect(HostSandbox().unsupportedReason(j)?.contains("use --backend rootfs or podman") == true)
        #expect(throws: BuildFailure.self) { try HostSandbox().build(j, log: try LogFile(path: dir.appendingPathComponent("l").path)) }
    }

    @Test(.enabled(if: bubblewrapWorks && geteuid() == 0 && busybox != nil, "needs root and busybox-static"))
    func rootfsKeepsTheContractOnItsBaseImage() throws {
        let dir = try TestPaths.temporaryDirectory("cosci-backend")
        defer { try? FileManager.default.removeItem(at: dir) }
        var backend = Rootfs()
        backend.sourceDateEpoch = 1_700_000_000
        let j = try job("rootfs", steps: [
            "/bin/sh -c 'mkdir -p /out' && /bin/sh -c 'cat /luetbuild/hello.txt /usr/share/dep/marker' > /out/result",
            "echo \"$SOURCE_DATE_EPOCH\" > /out/epoch",
        ], in: dir, baseLayers: [try busyboxLayer(in: dir)])
        let log = try LogFile(path: dir.appendingPathComponent("build.log").path)
        let output = try backend.build(j, log: log)
        #expect(
            (try? String(contentsOfFile: output.root + "/out/result", encoding: .utf8)) == "hello from the package\nfrom the dependency\n",
            "\(log.tail(20))")
        #expect((try? String(contentsOfFile: output.root + "/out/epoch", encoding: .utf8)) == "1700000000\n")
        let changed = output.changed ?? []
        #expect(changed.contains("out/result") && changed.contains("out/epoch"), "\(changed.sorted())")
        #expect(!changed.contains("bin/sh") && !changed.contains("usr/share/dep/marker"), "the base and the sysroot are not the artifact")
    }

    @Test func rootfsNeedsARootFilesystem() throws {
        let dir = try TestPaths.temporaryDirectory("cosci-backend")
        defer { try? FileManager.default.removeItem(at: dir) }
        let j = try job("bare", steps: ["true"], in: dir)
        let bare = BuildJob(
            id: j.id, key: j.key, spec: j.spec, packageDirectory: j.packageDirectory, files: j.files, dependencyArtifacts: [],
            copies: [], network: false, workDirectory: j.workDirectory)
        #expect(Rootfs().unsupportedReason(bare)?.contains("use --backend host-sandbox") == true)
        #expect(Rootfs().unsupportedReason(j) == nil, "a build dependency is a root filesystem")
    }

    @Test func podmanBuildsStepsAfterThePreludeStageFromTheBaseImage() throws {
        let dir = try TestPaths.temporaryDirectory("cosci-backend")
        defer { try? FileManager.default.removeItem(at: dir) }
        var j = try job("podman", steps: ["make install", "echo \"quoted\""], in: dir, baseLayers: ["unused"])
        var spec = j.spec
        spec.prelude = ["apk add make"]
        j = BuildJob(
            id: j.id, key: j.key, spec: spec, packageDirectory: j.packageDirectory, files: j.files,
            dependencyArtifacts: j.dependencyArtifacts, copies: [], network: false, workDirectory: j.workDirectory,
            baseImage: "example/alpine:3.19", baseLayers: [])
        var podman = Podman()
        podman.sourceDateEpoch = 42
        let file = podman.containerfile(j)
        #expect(file == """
            FROM example/alpine:3.19 AS builder
            COPY sysroot/ /
            COPY luetbuild/ /luetbuild/
            ENV PACKAGE_NAME="podman"
            ENV PACKAGE_VERSION="1.0"
            ENV PACKAGE_CATEGORY="test"
            ENV SOURCE_DATE_EPOCH=42
            WORKDIR /luetbuild
            RUN ["/bin/sh", "-ec", "apk add make"]
            FROM builder
            RUN ["/bin/sh", "-ec", "make install"]
            RUN ["/bin/sh", "-ec", "echo \\"quoted\\""]

            """)
        let noImage = BuildJob(
            id: j.id, key: j.key, spec: j.spec, packageDirectory: j.packageDirectory, files: j.files, dependencyArtifacts: [],
            copies: [], network: false, workDirectory: j.workDirectory)
        #expect(podman.unsupportedReason(noImage)?.contains("no root filesystem") == true)
        #expect(podman.unsupportedReason(j) == nil)
    }
}
