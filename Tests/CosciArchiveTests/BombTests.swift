import CosciArchive
import Foundation
import Testing

/// Archives that are small packed and enormous unpacked: what a dependent's sysroot would hold.
@Suite struct DecompressionBombs {
    /// A 256 MiB file of zeros (a hole: nothing on disk) packed with tar and zstd, as a hostile artifact would be.
    static func zeroBomb(_ tmp: TemporaryDirectory) throws -> String {
        let dir = tmp.sub("bomb")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        #expect(try run("/usr/bin/truncate", ["-s", "256M", dir + "/zeros"]).status == 0)
        let archive = tmp.sub("bomb.tar.zst")
        #expect(try run("/bin/tar", ["--zstd", "-C", dir, "-cf", archive, "zeros"]).status == 0)
        return archive
    }

    @Test func zerosAreWrittenAsHolesNotDensified() throws {
        let tmp = try TemporaryDirectory()
        let archive = try Self.zeroBomb(tmp)
        var st = stat()
        #expect(stat(archive, &st) == 0 && st.st_size < 1_000_000, "the bomb is small packed: \(st.st_size) bytes")
        _ = try TarArchive.extract(archive, into: tmp.sub("out"))
        #expect(stat(tmp.sub("out/zeros"), &st) == 0)
        #expect(st.st_size == 256 << 20)
        #expect(Int64(st.st_blocks) * 512 < 16 << 20, "256 MiB of zeros take \(Int64(st.st_blocks) * 512) bytes on disk")
    }

    @Test func anArchiveThatWouldWriteTooMuchIsRefusedAtTheEntry() throws {
        let tmp = try TemporaryDirectory()
        let archive = try Self.zeroBomb(tmp)
        var options = ExtractOptions()
        options.maximumBytes = 128 << 20
        do {
            _ = try TarArchive.extract(archive, into: tmp.sub("out"), options: options)
            Issue.record("a 256 MiB entry was extracted under a 128 MiB limit")
        } catch {
            #expect(error.kind == .refused)
            #expect(error.description.contains("zeros"), "\(error)")
            #expect(error.description.contains("more than 134217728 bytes"), "\(error)")
        }
    }
}
