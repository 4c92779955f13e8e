import CosciArchive
import CosciModel
import Foundation
import Testing

@Suite struct PackTests {
    @Test(arguments: Compression.allCases)
    func identicalTreesGiveByteIdenticalArchives(compression: Compression) throws {
        let tmp = try TemporaryDirectory()
        let one = tmp.sub("one/tree")
        let two = tmp.sub("two/elsewhere/tree")
        try makeFixtureTree(at: one, umask: "022")
        try makeFixtureTree(at: two, umask: "077", reverse: true)
        let options = PackOptions(compression: compression, sourceDateEpoch: testEpoch)
        let first = try TarArchive.pack(directory: one, to: tmp.sub("one.tar" + compression.suffix), options: options)
        let second = try TarArchive.pack(directory: two, to: tmp.sub("two.tar" + compression.suffix), options: options)

        let written = bytes(tmp.sub("one.tar" + compression.suffix))
        #expect(written == bytes(tmp.sub("two.tar" + compression.suffix)))
        #expect(first.sha256 == second.sha256)
        #expect(first.entries == second.entries)
        #expect(first.sha256 == Digest.sha256(of: written))
        #expect(first.size == Int64(written.count))
        // Only the two archives were added: no temp file is left next to them.
        #expect(directoryNames(tmp.path) == ["one", "one.tar" + compression.suffix, "two", "two.tar" + compression.suffix])
    }

    @Test func entriesAreSortedByPathBytesWithLinksAndClampedTimes() throws {
        let tmp = try TemporaryDirectory()
        try makeFixtureTree(at: tmp.sub("tree"))
        let result = try TarArchive.pack(
            directory: tmp.sub("tree"), to: tmp.sub("out.tar.zst"), options: PackOptions(sourceDateEpoch: testEpoch))
        let paths = result.entries.map(\.path)
        #expect(paths == paths.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        #expect(Array(paths.prefix(7)) == ["B", "a", "a-b", "a-b/x", "a.b", "a.b/y", "a/b"])
        let nfd = paths.firstIndex { Array($0.utf8) == Array("cafe\u{301}.txt".utf8) }
        let nfc = paths.firstIndex { Array($0.utf8) == Array("caf\u{e9}.txt".utf8) }
        #expect(nfd != nil && nfc != nil && nfd! < nfc!)
        #expect(!paths.contains("run/sock"))
        #expect(paths.contains(fixtureLongDirectory + "/" + String(repeating: "f", count: 120) + ".txt"))

        let byPath = Dictionary(result.entries.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byPath["bin/gunzip"]?.kind == .file)
        #expect(byPath["bin/gunzip"]?.contentDigest == Digest.sha256(of: Array("gzip binary\n".utf8) * 100).hex)
        #expect(byPath["usr/bin/gzip"]?.kind == .hardlink)
        #expect(byPath["usr/bin/gzip"]?.linkTarget == "bin/gunzip")
        #expect(byPath["usr/bin/zcat"]?.linkTarget == "bin/gunzip")
        #expect(byPath["usr/bin/zcat"]?.size == 0)
        #expect(byPath["bin/sh"]?.kind == .symlink)
        #expect(byPath["bin/sh"]?.linkTarget == "/usr/bin/dash")
        #expect(byPath["dangling"]?.linkTarget == "../nowhere/at/all")
        #expect(byPath["run/fifo"]?.kind == .fifo)
        #expect(byPath["run/fifo"]?.mode == 0o640)
        #expect(byPath["tmp"]?.mode == 0o1777)
        #expect(byPath["usr/bin/su"]?.mode == 0o4755)
        #expect(byPath["etc/os-release"]?.mtime == 1_000_000_000)
        #expect(byPath["etc/shadow"]?.mtime == testEpoch)
        #expect(byPath["usr"]?.mtime == testEpoch)
        #expect(byPath["usr"]?.kind == .directory)
        if geteuid() == 0 {
            #expect(byPath["srv"].map { ($0.uid, $0.gid, $0.mode) } ?? (0, 0, 0) == (1234, 5678, 0o2775))
            #expect(byPath["a/b/c"].map { ($0.uid, $0.gid) } ?? (0, 0) == (4_000_000, 4_000_001))
        }
        #expect(try TarArchive.list(tmp.sub("out.tar.zst"), digests: true) == result.entries)
        let listed = try TarArchive.list(tmp.sub("out.tar.zst"))
        #expect(listed.map(\.path) == paths)
        #expect(listed.allSatisfy { $0.contentDigest == nil })
    }

    /// `bsdtar -tv` (its own reader and formatting) shows the entries `pack` reports, in the same order.
    @Test func bsdtarListsWhatPackReports() throws {
        let tmp = try TemporaryDirectory()
        try makeFixtureTree(at: tmp.sub("tree"))
        let archive = tmp.sub("out.tar.zst")
        let result = try TarArchive.pack(directory: tmp.sub("tree"), to: archive, options: PackOptions(sourceDateEpoch: testEpoch))
        let listing = try run("/usr/bin/bsdtar", ["-tvf", archive, "--numeric-owner"], environment: ["TZ": "UTC", "LC_ALL": "C.UTF-8"])
        #expect(listing.status == 0, "\(listing.stderr)")
        let lines = listing.stdout.split(separator: "\n")
        #expect(lines.count == result.entries.count)
        let dates = DateFormatter()
        dates.locale = Locale(identifier: "en_US_POSIX")
        dates.timeZone = TimeZone(identifier: "UTC")
        dates.dateFormat = "MMM d yyyy"  // bsdtar's format for dates more than six months ago
        for (line, entry) in zip(lines, result.entries) {
            let fields = line.split(separator: " ", maxSplits: 8).map(String.init)
            let date = dates.string(from: Date(timeIntervalSince1970: TimeInterval(entry.mtime))).split(separator: " ").map(String.init)
            var name = entry.path + (entry.kind == .directory ? "/" : "")
            if entry.kind == .symlink { name += " -> " + (entry.linkTarget ?? "") }
            if entry.kind == .hardlink { name += " link to " + (entry.linkTarget ?? "") }
            #expect(fields.count == 9)
            #expect(fields[0] == modeString(entry), "\(line)")
            #expect(fields[2] == String(entry.uid) && fields[3] == String(entry.gid), "\(line)")
            #expect(fields[4] == String(entry.size), "\(line)")
            #expect(Array(fields[5...7]) == date, "\(line)")
            #expect(fields.count == 9 && fields[8] == name, "\(line)")
        }
    }

    /// bsdtar's mtree writer gives exact times, modes, owners and SHA-256 digests of what it reads back.
    @Test func bsdtarMtreeAgreesOnTimesAndDigests() throws {
        let tmp = try TemporaryDirectory()
        try makeFixtureTree(at: tmp.sub("tree"))
        let archive = tmp.sub("out.tar.gz")
        let result = try TarArchive.pack(
            directory: tmp.sub("tree"), to: archive, options: PackOptions(compression: .gzip, sourceDateEpoch: testEpoch))
        let mtree = try run(
            "/usr/bin/bsdtar", ["-cf", "-", "--format=mtree", "--options=!all,type,mode,uid,gid,size,time,link,sha256", "@" + archive])
        #expect(mtree.status == 0, "\(mtree.stderr)")
        let entries = Dictionary(result.entries.map { (Array($0.path.utf8), $0) }, uniquingKeysWith: { a, _ in a })
        var matched = 0
        for line in mtree.stdout.split(separator: "\n") where line.hasPrefix("./") {
            let fields = line.split(separator: " ")
            let path = Array(unescapeMtree(fields[0].dropFirst(2)))
            let keys = Dictionary(fields.dropFirst().map { field in
                let pair = field.split(separator: "=", maxSplits: 1)
                return (String(pair[0]), String(pair.count > 1 ? pair[1] : ""))
            }, uniquingKeysWith: { a, _ in a })
            guard let entry = entries[path] else {
                Issue.record("mtree lists \(String(decoding: path, as: UTF8.self)), which pack did not report")
                continue
            }
            matched += 1
            #expect(keys["time"] == "\(entry.mtime).0", "\(line)")
            #expect(keys["mode"] == String(entry.mode, radix: 8), "\(line)")
            #expect(keys["uid"] == String(entry.uid) && keys["gid"] == String(entry.gid), "\(line)")
            if entry.kind == .file { #expect(keys["sha256digest"] == entry.contentDigest, "\(line)") }
            if entry.kind == .symlink { #expect(keys["link"] == entry.linkTarget, "\(line)") }
        }
        // bsdtar's mtree writer merges the NFC and NFD spellings of café.txt into one line; bsdtar -tv shows both.
        #expect(matched >= result.entries.count - 1)
    }

    @Test func gzipHeaderHasNoTimestamp() async throws {
        let tmp = try TemporaryDirectory()
        try makeFixtureTree(at: tmp.sub("tree"))
        let options = PackOptions(compression: .gzip, sourceDateEpoch: testEpoch)
        _ = try TarArchive.pack(directory: tmp.sub("tree"), to: tmp.sub("a.tar.gz"), options: options)
        try await Task.sleep(for: .milliseconds(1100))
        _ = try TarArchive.pack(directory: tmp.sub("tree"), to: tmp.sub("b.tar.gz"), options: options)
        let first = bytes(tmp.sub("a.tar.gz"))
        #expect(Array(first.prefix(2)) == [0x1f, 0x8b])
        #expect(Array(first[4..<8]) == [0, 0, 0, 0])
        #expect(first == bytes(tmp.sub("b.tar.gz")))
        #expect(try run("/usr/bin/env", ["gzip", "-t", tmp.sub("a.tar.gz")]).status == 0)
    }

    /// zstd's multi-threaded format is the same for any number of workers ≥ 1: output must not depend on cores.
    @Test func zstdOutputDoesNotDependOnWorkers() throws {
        let tmp = try TemporaryDirectory()
        // 3 × 9 MiB of mixed content: several zstd jobs (8 MiB each at level 3).
        try python(
            #"""
            import os, random, sys
            rng = random.Random(7)
            os.makedirs(sys.argv[1])
            for i in range(3):
                out = bytearray()
                while len(out) < 9 << 20:
                    out += rng.randbytes(32768) if rng.random() < 0.4 else bytes([rng.randrange(8)]) * 32768
                open(os.path.join(sys.argv[1], "blob%d" % i), "wb").write(out)
            """#, [tmp.sub("tree")])
        var outputs: [[UInt8]] = []
        for workers in [1, 2, 4, nil] as [Int?] {
            let path = tmp.sub("out-\(workers.map(String.init) ?? "default").tar.zst")
            _ = try TarArchive.pack(
                directory: tmp.sub("tree"), to: path, options: PackOptions(sourceDateEpoch: testEpoch, zstdWorkers: workers))
            outputs.append(bytes(path))
            #expect(try run("/usr/bin/env", ["zstd", "-q", "-t", path]).status == 0)
        }
        #expect(outputs[0].count > 1 << 20)
        #expect(outputs.allSatisfy { $0 == outputs[0] })
        let listing = try run("/usr/bin/bsdtar", ["-tf", tmp.sub("out-1.tar.zst")])
        #expect(listing.stdout == "blob0\nblob1\nblob2\n")
    }

    @Test func selectChoosesEntriesAndHardlinksPointAtTheFirstSelectedPath() throws {
        let tmp = try TemporaryDirectory()
        try makeFixtureTree(at: tmp.sub("tree"))
        var offered: [String: Bool] = [:]
        let result = try TarArchive.pack(
            directory: tmp.sub("tree"), to: tmp.sub("out.tar"), options: PackOptions(compression: .none, sourceDateEpoch: testEpoch)
        ) { path, isDirectory in
            offered[path] = isDirectory
            return !isDirectory && (path.hasPrefix("usr/lib/") || path.hasPrefix("usr/bin/"))
        }
        #expect(offered["usr"] == true && offered["usr/lib"] == true && offered["bin/sh"] == false && offered["bin/gunzip"] == false)
        #expect(offered["run/sock"] == nil)
        #expect(result.entries.map(\.path) == ["usr/bin/gzip", "usr/bin/su", "usr/bin/zcat", "usr/lib/libz.so", "usr/lib/libz.so.1"])
        #expect(result.entries[0].kind == .file)  // bin/gunzip, first in byte order, was not selected
        #expect(result.entries[2].kind == .hardlink && result.entries[2].linkTarget == "usr/bin/gzip")
        let listing = try run("/usr/bin/bsdtar", ["-tf", tmp.sub("out.tar")])
        #expect(listing.stdout == result.entries.map { $0.path + "\n" }.joined())
    }

    @Test func generatedFilesGetParentDirectoriesAndCanBeReadBack() throws {
        let tmp = try TemporaryDirectory()
        let meta = Array("name: cos\nrevision: 3\n".utf8)
        let definition = Array("name: base\n".utf8)
        let files = [
            MemoryFile(path: "repository.meta.yaml", bytes: meta),
            MemoryFile(path: "meta/os/base/definition.yaml", bytes: definition, mode: 0o600),
            MemoryFile(path: "a-b", bytes: []),
        ]
        let archive = tmp.sub("repository.meta.yaml.tar.zst")
        let result = try TarArchive.pack(files: files, to: archive, options: PackOptions(sourceDateEpoch: testEpoch))
        #expect(result.entries.map(\.path) == ["a-b", "meta", "meta/os", "meta/os/base", "meta/os/base/definition.yaml", "repository.meta.yaml"])
        for entry in result.entries where entry.kind == .directory {
            #expect(entry.mode == 0o755 && entry.uid == 0 && entry.gid == 0 && entry.mtime == testEpoch)
        }
        #expect(result.entries[4].mode == 0o600)
        #expect(result.entries[5].contentDigest == Digest.sha256(of: meta).hex)
        #expect(try TarArchive.list(archive, digests: true) == result.entries)
        #expect(try TarArchive.read(member: "repository.meta.yaml", of: archive) == meta)
        #expect(try TarArchive.read(member: "./meta/os/base/definition.yaml", of: archive) == definition)
        #expect(try TarArchive.read(member: "a-b", of: archive) == [])
        #expect(try TarArchive.read(member: "missing.yaml", of: archive) == nil)
        #expect(try TarArchive.read(member: "meta", of: archive) == nil)

        let listing = try run("/usr/bin/bsdtar", ["-tvf", archive, "--numeric-owner"])
        #expect(listing.stdout.split(separator: "\n").map { String($0.split(separator: " ").last!) }
            == ["a-b", "meta/", "meta/os/", "meta/os/base/", "meta/os/base/definition.yaml", "repository.meta.yaml"])
        #expect(try TarArchive.extract(archive, into: tmp.sub("out")) == 6)
        #expect(bytes(tmp.sub("out/meta/os/base/definition.yaml")) == definition)
    }

    @Test func generatedFilesMayDifferOnlyInUnicodeNormalization() throws {
        let tmp = try TemporaryDirectory()
        let names = ["docs/caf\u{e9}", "docs/cafe\u{301}"]  // equal as Strings, different bytes: two files
        let result = try TarArchive.pack(
            files: names.map { MemoryFile(path: $0, bytes: Array($0.utf8)) }, to: tmp.sub("out.tar"),
            options: PackOptions(compression: .none, sourceDateEpoch: testEpoch))
        #expect(result.entries.map { Array($0.path.utf8) } == [Array("docs".utf8), Array(names[1].utf8), Array(names[0].utf8)])
        #expect(try TarArchive.extract(tmp.sub("out.tar"), into: tmp.sub("out")) == 3)
        #expect(directoryNames(tmp.sub("out/docs")).count == 2)
    }

    @Test(arguments: [
        ["../x"], ["/etc/x"], ["a//b"], ["a/./b"], [""], ["dir/"], ["nul\u{0}byte"], ["same", "same"], ["dir", "dir/file"],
    ])
    func invalidGeneratedFilesAreRejected(paths: [String]) throws {
        let tmp = try TemporaryDirectory()
        let files = paths.map { MemoryFile(path: $0, bytes: [1]) }
        let error = #expect(throws: ArchiveError.self) {
            try TarArchive.pack(files: files, to: tmp.sub("out.tar.zst"), options: PackOptions(sourceDateEpoch: testEpoch))
        }
        #expect(error?.kind == .invalidInput)
        #expect(directoryNames(tmp.path) == [])
    }

    /// A file deleted or truncated between the walk and its turn to be written fails the pack, and the half-written
    /// archive is removed: a file with the output's name is always complete.
    @Test(arguments: ["deleted", "truncated"])
    func aFileChangingDuringPackFailsWithoutLeavingOutput(change: String) throws {
        let tmp = try TemporaryDirectory()
        try makeFixtureTree(at: tmp.sub("tree"))
        let victim = tmp.sub("tree/usr/lib/libz.so.1")
        try FileManager.default.createDirectory(atPath: tmp.sub("out"), withIntermediateDirectories: true)
        let error = #expect(throws: ArchiveError.self) {
            try TarArchive.pack(directory: tmp.sub("tree"), to: tmp.sub("out/a.tar.zst"), options: PackOptions(sourceDateEpoch: testEpoch)) { path, _ in
                if path == "usr/lib" { _ = change == "deleted" ? unlink(victim) : truncate(victim, 100) }  // the walk is over
                return true
            }
        }
        #expect(error?.kind == .system)
        #expect(error?.subject == victim)
        #expect(error?.description.contains(change == "deleted" ? "No such file or directory" : "shrank from 16384 bytes") == true)
        #expect(directoryNames(tmp.sub("out")) == [])
    }

    @Test func errorsNameTheFileAndLeaveNoTempFile() throws {
        let tmp = try TemporaryDirectory()
        let options = PackOptions(sourceDateEpoch: testEpoch)

        let missingTree = #expect(throws: ArchiveError.self) {
            try TarArchive.pack(directory: tmp.sub("no-such-tree"), to: tmp.sub("out.tar.zst"), options: options)
        }
        #expect(missingTree?.kind == .system)
        #expect(missingTree?.description == "opendir \(tmp.sub("no-such-tree")): No such file or directory")

        try FileManager.default.createDirectory(atPath: tmp.sub("tree"), withIntermediateDirectories: true)
        let missingOutputDirectory = #expect(throws: ArchiveError.self) {
            try TarArchive.pack(directory: tmp.sub("tree"), to: tmp.sub("missing/out.tar.zst"), options: options)
        }
        #expect(missingOutputDirectory?.description.hasPrefix("mkstemp \(tmp.sub("missing/out.tar.zst")): No such file or directory") == true)
        #expect(directoryNames(tmp.path) == ["tree"])

        let missingArchive = #expect(throws: ArchiveError.self) { try TarArchive.list(tmp.sub("nothing.tar")) }
        #expect(missingArchive?.description == "open \(tmp.sub("nothing.tar")): No such file or directory")

        try write(tmp.sub("notes.txt"), "not an archive\n")
        let notArchive = #expect(throws: ArchiveError.self) { try TarArchive.list(tmp.sub("notes.txt")) }
        #expect(notArchive?.kind == .library)
        #expect(notArchive?.description.contains(tmp.sub("notes.txt")) == true)
        #expect(notArchive?.description.contains("Unrecognized archive format") == true)

        _ = try TarArchive.pack(directory: tmp.sub("tree"), to: tmp.sub("ok.tar.zst"), options: options)
        let whole = bytes(tmp.sub("ok.tar.zst"))
        try write(tmp.sub("cut.tar.zst"), Array(whole.prefix(whole.count / 2)))
        #expect(throws: ArchiveError.self) { try TarArchive.list(tmp.sub("cut.tar.zst")) }
    }
}

/// `ls -l`-style mode string, as bsdtar prints it (`h` for hard links).
func modeString(_ entry: ArchiveEntryInfo) -> String {
    let type: Character =
        switch entry.kind {
        case .file: "-"
        case .directory: "d"
        case .symlink: "l"
        case .hardlink: "h"
        case .fifo: "p"
        case .characterDevice: "c"
        case .blockDevice: "b"
        }
    var out = [type]
    let m = entry.mode
    for (shift, special, lower, upper) in [(6, 0o4000, "s", "S"), (3, 0o2000, "s", "S"), (0, 0o1000, "t", "T")] as [(UInt32, UInt32, Character, Character)] {
        let bits = (m >> shift) & 7
        out.append(bits & 4 != 0 ? "r" : "-")
        out.append(bits & 2 != 0 ? "w" : "-")
        let execute = bits & 1 != 0
        out.append(m & special != 0 ? (execute ? lower : upper) : (execute ? "x" : "-"))
    }
    return String(out)
}

/// mtree's `\ooo` escapes to bytes.
private func unescapeMtree(_ text: Substring) -> [UInt8] {
    var out: [UInt8] = []
    let utf8 = Array(text.utf8)
    var i = 0
    while i < utf8.count {
        if utf8[i] == UInt8(ascii: "\\"), i + 3 < utf8.count, let value = UInt8(String(decoding: utf8[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
            out.append(value)
            i += 4
        } else {
            out.append(utf8[i])
            i += 1
        }
    }
    return out
}

private func * (bytes: [UInt8], count: Int) -> [UInt8] {
    Array([[UInt8]](repeating: bytes, count: count).joined())
}
