import CosciArchive
import Foundation
import Testing

@Suite struct ExtractTests {
    @Test func roundTripRestoresTheTree() throws {
        let tmp = try TemporaryDirectory()
        try makeFixtureTree(at: tmp.sub("tree"))
        let archive = tmp.sub("out.tar.zst")
        let result = try TarArchive.pack(directory: tmp.sub("tree"), to: archive, options: PackOptions(sourceDateEpoch: testEpoch))
        #expect(try TarArchive.extract(archive, into: tmp.sub("restored/sysroot")) == result.entries.count)

        let source = try snapshot(tmp.sub("tree"))
        let restored = try snapshot(tmp.sub("restored/sysroot"))
        let socket = Array("run/sock".utf8)
        #expect(Set(restored.nodes.keys) == Set(source.nodes.keys).subtracting([socket]))
        for (path, node) in source.nodes where path != socket {
            var expected = node
            expected.mtime = min(node.mtime, Int(testEpoch))
            if geteuid() != 0 { (expected.uid, expected.gid) = (restored.nodes[path]?.uid ?? 0, restored.nodes[path]?.gid ?? 0) }
            #expect(restored.nodes[path] == expected, "\(String(decoding: path, as: UTF8.self))")
        }
        let gzip = restored.inodes[Array("usr/bin/gzip".utf8)]
        #expect(gzip != nil)
        #expect(restored.inodes[Array("bin/gunzip".utf8)] == gzip)
        #expect(restored.inodes[Array("usr/bin/zcat".utf8)] == gzip)
    }

    @Test func laterArchivesReplaceWhatEarlierOnesExtracted() throws {
        let tmp = try TemporaryDirectory()
        let first = tmp.sub("first")
        let second = tmp.sub("second")
        for directory in [first + "/etc", first + "/bin", first + "/usr/lib", second + "/etc", second + "/bin"] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        try write(first + "/etc/os-release", "one\n")
        try write(first + "/usr/lib/keep", "kept\n")
        try FileManager.default.createSymbolicLink(atPath: first + "/bin/sh", withDestinationPath: "dash")
        try write(second + "/etc/os-release", "two\n")
        try write(second + "/bin/sh", "#!\n")
        let options = PackOptions(sourceDateEpoch: testEpoch)
        _ = try TarArchive.pack(directory: first, to: tmp.sub("first.tar.zst"), options: options)
        _ = try TarArchive.pack(directory: second, to: tmp.sub("second.tar.zst"), options: options)

        let sysroot = tmp.sub("sysroot")
        #expect(try TarArchive.extract(tmp.sub("first.tar.zst"), into: sysroot) == 7)
        #expect(try TarArchive.extract(tmp.sub("second.tar.zst"), into: sysroot) == 4)
        #expect(bytes(sysroot + "/etc/os-release") == Array("two\n".utf8))
        #expect(bytes(sysroot + "/usr/lib/keep") == Array("kept\n".utf8))
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: sysroot + "/bin/sh")) == nil)
        #expect(bytes(sysroot + "/bin/sh") == Array("#!\n".utf8))
    }

    /// An archive made by GNU tar (`./` root entry and `./` prefixes) lists and extracts as the same paths.
    @Test func gnuTarArchivesListWithoutDotPrefixes() throws {
        let tmp = try TemporaryDirectory()
        try makeFixtureTree(at: tmp.sub("tree"))
        let archive = tmp.sub("gnu.tar")
        let tar = try run("/usr/bin/env", ["tar", "--sort=name", "--format=pax", "-C", tmp.sub("tree"), "-cf", archive, "."])
        #expect(tar.status == 0 || tar.stderr.contains("socket ignored"), "\(tar.stderr)")
        let ours = try TarArchive.pack(
            directory: tmp.sub("tree"), to: tmp.sub("ours.tar"), options: PackOptions(compression: .none, sourceDateEpoch: testEpoch))
        let listed = try TarArchive.list(archive)
        #expect(Set(listed.map { Array($0.path.utf8) }) == Set(ours.entries.map { Array($0.path.utf8) }))
        #expect(try TarArchive.extract(archive, into: tmp.sub("out")) == listed.count)
        #expect(bytes(tmp.sub("out/etc/os-release")) == Array("NAME=cos\n".utf8))
    }

    enum Unsafe: String, CaseIterable, CustomTestStringConvertible {
        case parentReference, absolutePath, writeThroughSymlink, writeThroughNestedSymlink
        case hardlinkToParent, hardlinkAbsolute, deviceNode

        var testDescription: String { rawValue }

        /// The entry that must be refused (for `absolutePath`, `outside` is prefixed).
        var refusedEntry: String {
            switch self {
            case .parentReference: "../outside/evil.txt"
            case .absolutePath: "/evil.txt"
            case .writeThroughSymlink: "link/evil.txt"
            case .writeThroughNestedSymlink: "d/up/evil.txt"
            case .hardlinkToParent, .hardlinkAbsolute: "h"
            case .deviceNode: "dev/null"
            }
        }
    }

    @Test(arguments: Unsafe.allCases)
    func unsafeEntriesAreRefusedAndNothingIsWrittenOutside(_ unsafe: Unsafe) throws {
        let tmp = try TemporaryDirectory()
        let outside = tmp.sub("outside")
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try write(outside + "/secret", "secret\n")
        let archive = tmp.sub("evil.tar")
        try craftUnsafeArchive(archive, unsafe, outside: outside)

        let error = #expect(throws: ArchiveError.self) { try TarArchive.extract(archive, into: tmp.sub("target")) }
        let entry = unsafe == .absolutePath ? outside + unsafe.refusedEntry : unsafe.refusedEntry
        #expect(error?.kind == .refused)
        #expect(error?.subject == "\(archive): \(entry)")
        #expect(error?.description.hasPrefix("extract \(archive): \(entry): refused: ") == true)
        #expect(directoryNames(outside) == ["secret"])
        #expect(bytes(outside + "/secret") == Array("secret\n".utf8))
        #expect(directoryNames(tmp.path) == ["evil.tar", "outside", "target"])
        #expect(bytes(tmp.sub("target/ok.txt")) == Array("fine\n".utf8))  // entries before the refused one stay
    }

    @Test func aSymlinkFromAnEarlierArchiveIsNotWrittenThrough() throws {
        let tmp = try TemporaryDirectory()
        let outside = tmp.sub("outside")
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: tmp.sub("layer1"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: tmp.sub("layer1/lib"), withDestinationPath: outside)
        try FileManager.default.createDirectory(atPath: tmp.sub("layer2/lib"), withIntermediateDirectories: true)
        try write(tmp.sub("layer2/lib/evil.so"), "evil")
        let options = PackOptions(sourceDateEpoch: testEpoch)
        _ = try TarArchive.pack(directory: tmp.sub("layer1"), to: tmp.sub("layer1.tar.zst"), options: options)
        _ = try TarArchive.pack(directory: tmp.sub("layer2"), to: tmp.sub("layer2.tar.zst"), options: options)

        #expect(try TarArchive.extract(tmp.sub("layer1.tar.zst"), into: tmp.sub("sysroot")) == 1)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: tmp.sub("sysroot/lib")) == outside)
        let error = #expect(throws: ArchiveError.self) { try TarArchive.extract(tmp.sub("layer2.tar.zst"), into: tmp.sub("sysroot")) }
        #expect(error?.kind == .refused)
        #expect(error?.subject == "\(tmp.sub("layer2.tar.zst")): lib")
        #expect(directoryNames(outside) == [])
    }

    @Test(.enabled(if: canMakeDeviceNodes))
    func deviceNodesArePackedAndExtractedWhenAllowed() throws {
        let tmp = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: tmp.sub("tree/dev"), withIntermediateDirectories: true)
        #expect(mknod(tmp.sub("tree/dev/null"), S_IFCHR | 0o666, makedev(1, 3)) == 0)
        chmod(tmp.sub("tree/dev/null"), 0o666)
        let archive = tmp.sub("dev.tar.zst")
        let result = try TarArchive.pack(directory: tmp.sub("tree"), to: archive, options: PackOptions(sourceDateEpoch: testEpoch))
        #expect(result.entries.map(\.kind) == [.directory, .characterDevice])
        let listing = try run("/usr/bin/bsdtar", ["-tvf", archive])
        #expect(listing.stdout.contains("crw-rw-rw-"))

        #expect(throws: ArchiveError.self) { try TarArchive.extract(archive, into: tmp.sub("refused")) }
        #expect(try TarArchive.extract(archive, into: tmp.sub("allowed"), options: ExtractOptions(allowDevices: true)) == 2)
        let restored = try snapshot(tmp.sub("allowed"))
        #expect(restored.nodes[Array("dev/null".utf8)]?.kind == "char")
        #expect(restored.nodes[Array("dev/null".utf8)]?.device == UInt64(makedev(1, 3)))
        #expect(restored.nodes[Array("dev/null".utf8)]?.mode == 0o666)
    }
}

/// Writes a malicious archive with python3's tarfile module: `ok.txt`, then the unsafe entries.
private func craftUnsafeArchive(_ path: String, _ unsafe: ExtractTests.Unsafe, outside: String) throws {
    try python(
        #"""
        import io, sys, tarfile
        out, case, outside = sys.argv[1:4]
        def add(t, name, kind=tarfile.REGTYPE, data=b"", link="", mode=0o644, major=0, minor=0):
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.linkname, info.size, info.mtime = kind, mode, link, len(data), 1_000_000_000
            info.devmajor, info.devminor = major, minor
            t.addfile(info, io.BytesIO(data) if data else None)
        with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
            add(t, "ok.txt", data=b"fine\n")
            if case == "parentReference":
                add(t, "../outside/evil.txt", data=b"evil")
            elif case == "absolutePath":
                add(t, outside + "/evil.txt", data=b"evil")
            elif case == "writeThroughSymlink":
                add(t, "link", tarfile.SYMTYPE, link=outside, mode=0o777)
                add(t, "link/evil.txt", data=b"evil")
            elif case == "writeThroughNestedSymlink":
                add(t, "d", tarfile.DIRTYPE, mode=0o755)
                add(t, "d/up", tarfile.SYMTYPE, link="../../outside", mode=0o777)
                add(t, "d/up/evil.txt", data=b"evil")
            elif case == "hardlinkToParent":
                add(t, "h", tarfile.LNKTYPE, link="../outside/secret")
                add(t, "h", data=b"overwritten")
            elif case == "hardlinkAbsolute":
                add(t, "h", tarfile.LNKTYPE, link=outside + "/secret")
                add(t, "h", data=b"overwritten")
            elif case == "deviceNode":
                add(t, "dev/null", tarfile.CHRTYPE, mode=0o666, major=1, minor=3)
        """#, [path, unsafe.rawValue, outside])
}
