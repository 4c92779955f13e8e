#if canImport(Glibc)
    import Glibc
#endif
import CosciArchive
@testable import CosciBuild
import CosciModel
import Foundation
import Testing

/// A scratch directory for one test, removed at the end.
private final class Scratch {
    let path: String
    init() throws {
        var template = Array("/tmp/cosci-sandbox-test-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw CocoaError(.fileWriteUnknown) }
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

private func job(
    _ name: String, steps: [String], work: String, package: String, dependencies: [String] = [], unpack: Bool = false
) -> BuildJob {
    var spec = BuildSpec()
    spec.steps = steps
    spec.unpack = unpack
    return BuildJob(
        id: PackageID(category: "test", name: name, version: try! Version("1.0")), key: CacheKey(Digest(rawBytes: [UInt8](repeating: 7, count: 32))),
        spec: spec, packageDirectory: package, files: [], dependencyArtifacts: dependencies, copies: [], network: false,
        workDirectory: work)
}

private func fileExists(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0
}

/// What a hostile build step tries, and what a user running cosci as root (a CI container) must be able to rely
/// on: the host is untouched and nothing secret reaches the artifact.
@Suite(.serialized) struct SandboxEscapes {
    static let bubblewrapWorks = Bubblewrap.unavailableReason() == nil

    @Test(.enabled(if: bubblewrapWorks, "bubblewrap cannot sandbox on this machine"))
    func hostileStepsLeaveTheHostUntouchedAndTakeNoSecret() throws {
        let scratch = try Scratch()
        let marker = "cosci-escape-\(getpid())"
        // A root-only secret in the checkout's neighbourhood and one in root's home, as credential files are.
        let checkoutSecret = scratch.path + "/checkout-secret"
        try "checkout-secret-\(getpid())".write(toFile: checkoutSecret, atomically: true, encoding: .utf8)
        chmod(checkoutSecret, 0o600)
        let home = String(cString: getpwuid(geteuid()).pointee.pw_dir)
        let homeSecret = home + "/.\(marker)-secret"
        try "home-secret-\(getpid())".write(toFile: homeSecret, atomically: true, encoding: .utf8)
        chmod(homeSecret, 0o600)
        defer { unlink(homeSecret) }
        let package = scratch.path + "/package"
        try FileManager.default.createDirectory(atPath: package, withIntermediateDirectories: true)

        // Each attempt runs in a shell of its own that may fail: the step itself succeeds.
        func attempt(_ script: String) -> String { "sh -c '\(script)' 2>/dev/null || true" }
        let steps = [
            // Remount a host directory writable and write through it.
            attempt("mount -o remount,bind,rw /etc; echo x > /etc/\(marker)"),
            // Bind a host directory somewhere writable, remount it writable and write through it.
            attempt("mkdir -p /tmp/m && mount --bind /etc /tmp/m; mount -o remount,bind,rw /tmp/m; echo x > /tmp/m/\(marker)-2"),
            // Remount the dependencies' sysroot writable.
            attempt("mount -o remount,bind,rw /cosci/sysroot && echo remounted > sysroot-remount"),
            // Read root-only files and copy them into the artifact.
            attempt("cat \(checkoutSecret) > leak-checkout"), attempt("cat \(homeSecret) > leak-home"),
            attempt("cat /etc/shadow > leak-shadow"),
            attempt("ls \(scratch.path) > leak-listing"), attempt("ls \(home) > leak-home-listing"),
            // What the step holds.
            "grep CapEff /proc/self/status > caps",
            // Package managers' work inside the sandbox still works.
            "echo owned > owned && chown 1000:1000 owned && chmod 4755 owned",
        ]
        let work = scratch.path + "/work"
        let log = try LogFile(path: scratch.path + "/build.log")
        let output = try HostSandbox().build(job("hostile", steps: steps, work: work, package: package), log: log)

        #expect(!fileExists("/etc/\(marker)"), "a step wrote into the host's /etc")
        #expect(!fileExists("/etc/\(marker)-2"), "a step wrote into the host's /etc through a bind mount")
        #expect(!fileExists(output.root + "/sysroot-remount"), "a step remounted /cosci/sysroot writable")
        for leak in ["leak-checkout", "leak-home", "leak-shadow", "leak-listing", "leak-home-listing"] {
            let data = FileManager.default.contents(atPath: output.root + "/" + leak) ?? Data()
            #expect(data.isEmpty, "\(leak) holds \(String(decoding: data, as: UTF8.self))")
        }
        let caps = String(decoding: FileManager.default.contents(atPath: output.root + "/caps") ?? Data(), as: UTF8.self)
        let hex = caps.split(separator: "\t").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        let effective = UInt64(hex, radix: 16)
        #expect(effective != nil, "\(caps)")
        #expect((effective ?? 0) & (1 << 21) == 0, "the step holds CAP_SYS_ADMIN: \(caps)")

        // The artifact records what the step made, as the step saw it: owner 1000, setuid.
        let artifact = scratch.path + "/a.tar.gz"
        _ = try TarArchive.pack(
            directory: output.root, to: artifact,
            options: PackOptions(compression: .gzip, sourceDateEpoch: 0, ownerOffset: output.ownerOffset)
        ) { path, _ in output.changed?.contains(path) ?? true }
        let owned = try #require(try TarArchive.list(artifact).first { $0.path == "owned" })
        #expect(owned.uid == 1000 && owned.gid == 1000)
        #expect(owned.mode == 0o4755)
        if geteuid() == 0 {
            // On the host the file belongs to an unused id, never to a real user or root.
            var st = stat()
            #expect(lstat(output.root + "/owned", &st) == 0)
            #expect(st.st_uid == SandboxUsers.hostBase + 1000)
        }
    }

    @Test(.enabled(if: bubblewrapWorks && geteuid() == 0, "needs root: the setuid-root case exists only then"))
    func setuidRootDependenciesAreNotRootOnTheHost() throws {
        let scratch = try Scratch()
        let dependency = scratch.path + "/dep.tar.gz"
        _ = try TarArchive.pack(
            files: [MemoryFile(path: "usr/bin/suid", bytes: Array("#!/bin/sh\n".utf8), mode: 0o4755)], to: dependency,
            options: PackOptions(compression: .gzip, sourceDateEpoch: 0))
        let package = scratch.path + "/package"
        try FileManager.default.createDirectory(atPath: package, withIntermediateDirectories: true)
        let work = scratch.path + "/work"
        let log = try LogFile(path: scratch.path + "/build.log")
        let output = try HostSandbox().build(
            job("dependent", steps: ["stat -c '%u %a' /cosci/sysroot/usr/bin/suid > seen"], work: work, package: package,
                dependencies: [dependency]),
            log: log)
        // Inside, the dependency's file is root's and setuid, as packaged …
        let seen = String(decoding: FileManager.default.contents(atPath: output.root + "/seen") ?? Data(), as: UTF8.self)
        #expect(seen == "0 4755\n")
        // … on the host, no setuid-root copy exists while (or after) the dependent builds.
        var st = stat()
        #expect(lstat(work + "/sysroot/usr/bin/suid", &st) == 0)
        #expect(st.st_uid == SandboxUsers.hostBase)
        #expect(st.st_mode & 0o7777 == 0o4755)
    }

    static let busybox = ["/bin/busybox", "/usr/bin/busybox"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(.enabled(if: bubblewrapWorks && geteuid() == 0 && busybox != nil, "needs root and busybox-static"))
    func rootfsStepsOwnTheirRootAndCannotRemountIt() throws {
        let scratch = try Scratch()
        // A root filesystem of one static busybox, as a base image layer.
        let shell = try #require(FileManager.default.contents(atPath: Self.busybox!))
        let base = scratch.path + "/base.tar.gz"
        _ = try TarArchive.pack(
            files: [MemoryFile(path: "bin/sh", bytes: Array(shell), mode: 0o755)], to: base,
            options: PackOptions(compression: .gzip, sourceDateEpoch: 0))
        let package = scratch.path + "/package"
        try FileManager.default.createDirectory(atPath: package, withIntermediateDirectories: true)
        let work = scratch.path + "/work"
        let log = try LogFile(path: scratch.path + "/build.log")
        let steps = [
            "echo made > /made && /bin/sh -c 'exec chown 0:0 /made' && /bin/sh -c 'exec chown 0:0 /bin/sh'",
            "if /bin/sh -c 'exec mount -o remount,ro /' 2>/dev/null; then echo remounted > /remounted; fi; true",
        ]
        var j = job("rootfs", steps: steps, work: work, package: package)
        j = BuildJob(
            id: j.id, key: j.key, spec: j.spec, packageDirectory: package, files: [], dependencyArtifacts: [], copies: [],
            network: false, workDirectory: work, baseImage: "example/busybox:1", baseLayers: [base])
        let output = try Rootfs().build(j, log: log)
        let changed = output.changed ?? []
        #expect(changed.contains("made"), "\(changed.sorted()) \(log.tail(20))")
        #expect(!changed.contains("remounted"))
        // On the host, what the step made and what it was handed belong to the sandbox's root, an unused id.
        var st = stat()
        #expect(lstat(output.root + "/made", &st) == 0)
        #expect(st.st_uid == SandboxUsers.hostBase)
        #expect(lstat(output.root + "/bin/sh", &st) == 0)
        #expect(st.st_uid == SandboxUsers.hostBase)
    }
}
