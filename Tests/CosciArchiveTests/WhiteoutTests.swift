import CosciArchive
import Foundation
import Testing

/// OCI layer whiteouts, applied when layers are unpacked in order (the rootfs backend's base images).
@Suite struct Whiteouts {
    @Test func whiteoutsRemoveAndOpaqueDirectoriesEmptyWhatEarlierLayersLeft() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-wh-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let layer1 = dir.appendingPathComponent("l1.tar").path, layer2 = dir.appendingPathComponent("l2.tar").path
        _ = try python("""
            import io, sys, tarfile
            def add(t, name, data=None, kind=tarfile.REGTYPE):
                i = tarfile.TarInfo(name); i.type = kind; i.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
                if data is not None: i.size = len(data)
                t.addfile(i, io.BytesIO(data) if data is not None else None)
            with tarfile.open(sys.argv[1], "w") as t:
                add(t, "etc", kind=tarfile.DIRTYPE); add(t, "etc/motd", b"old"); add(t, "etc/keep", b"k")
                add(t, "opt", kind=tarfile.DIRTYPE); add(t, "opt/a", b"a"); add(t, "opt/sub", kind=tarfile.DIRTYPE); add(t, "opt/sub/b", b"b")
            with tarfile.open(sys.argv[2], "w") as t:
                add(t, "etc/.wh.motd", b""); add(t, "opt/.wh..wh..opq", b""); add(t, "opt/new", b"n")
            """, [layer1, layer2])
        let root = dir.appendingPathComponent("root").path
        let options = ExtractOptions(whiteouts: true)
        _ = try TarArchive.extract(layer1, into: root, options: options)
        _ = try TarArchive.extract(layer2, into: root, options: options)
        let fm = FileManager.default
        #expect(!fm.fileExists(atPath: root + "/etc/motd"), "a whiteout removes the file")
        #expect(fm.fileExists(atPath: root + "/etc/keep"))
        #expect(try fm.contentsOfDirectory(atPath: root + "/opt") == ["new"], "an opaque directory keeps only this layer's entries")
        #expect(!fm.fileExists(atPath: root + "/etc/.wh.motd") && !fm.fileExists(atPath: root + "/opt/.wh..wh..opq"), "whiteout entries are not written")

        // Without whiteout handling (artifacts), a .wh. file is just a file.
        let plain = dir.appendingPathComponent("plain").path
        _ = try TarArchive.extract(layer2, into: plain)
        #expect(fm.fileExists(atPath: plain + "/etc/.wh.motd"))
    }

    @Test func aWhiteoutCannotReachOutside() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cosci-wh-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let victim = dir.appendingPathComponent("victim")
        try "keep".write(to: victim, atomically: true, encoding: .utf8)
        let layer = dir.appendingPathComponent("evil.tar").path
        _ = try python("""
            import io, sys, tarfile
            with tarfile.open(sys.argv[1], "w") as t:
                i = tarfile.TarInfo("../.wh.victim"); i.size = 0; t.addfile(i, io.BytesIO(b""))
            """, [layer])
        #expect(throws: ArchiveError.self) {
            _ = try TarArchive.extract(layer, into: dir.appendingPathComponent("root").path, options: ExtractOptions(whiteouts: true))
        }
        #expect(FileManager.default.fileExists(atPath: victim.path))
    }
}
