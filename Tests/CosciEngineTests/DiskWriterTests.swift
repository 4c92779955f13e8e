import CosciBuild
import CosciManifest
import CosciModel
import CosciTestSupport
import Foundation
import Testing

@testable import CosciEngine

@Suite struct DiskWriterTests {
    static let tools = ["mkfs.ext4", "debugfs", "dumpe2fs", "sfdisk", "mformat", "mcopy", "grub-mkimage"]
    static let canWrite = tools.allSatisfy { Executables.find($0) != nil }

    @Test func inodesInUseAreTheInodeCountLessEachGroupsFreeRanges() throws {
        let text = """
            Filesystem volume name:   COS_SYSTEM
            Inode count:              40
            Free inodes:              27
            Group 0: (Blocks 0-32767) csum 0x1234 [ITABLE_ZEROED]
              Free inodes: 12-16, 18
            Group 1: (Blocks 32768-65535) csum 0x5678 [ITABLE_ZEROED]
              Free inodes:\u{20}
            Group 2: (Blocks 65536-98303) csum 0x5678 [INODE_UNINIT, ITABLE_ZEROED]
              Free inodes: 31-40
            """
        // The superblock's "Free inodes: 27" is a count, not a range: only the groups' lines are read; a full
        // group lists no free inode.
        #expect(try DiskWriter.inodesInUse(dumpe2fs: text) == Array(1...11) + [17] + Array(19...30))
        for broken in ["3-x", "7-5", "1-2-3", "-4"] {
            #expect(throws: Diagnostic.self, "\(broken)") { try DiskWriter.inodesInUse(dumpe2fs: "Inode count: 9\n  Free inodes: \(broken)\n") }
        }
        #expect(throws: Diagnostic.self) { try DiskWriter.inodesInUse(dumpe2fs: "  Free inodes: 3-4\n") }  // no inode count
    }

    /// Two disks written from the same root filesystem, the second after its files were read and touched again
    /// (their change and access times moved), are the same bytes: inode times, GRUB's binary and the FAT are
    /// pinned to the epoch.
    @Test(.enabled(if: canWrite, "mkfs.ext4, debugfs, sfdisk, mtools or grub-mkimage is missing (scripts/bootstrap --test)"))
    func theSameRootFilesystemGivesTheSameDisk() throws {
        let dir = try TestPaths.temporaryDirectory("cosci-disk")
        defer { try? FileManager.default.removeItem(at: dir) }
        let root = dir.appendingPathComponent("rootfs").path
        try shell("mkdir -p '\(root)/boot' '\(root)/etc' && echo kernel > '\(root)/boot/vmlinuz' && echo initrd > '\(root)/boot/initrd.img' && echo 'VERSION=1' > '\(root)/etc/os-release' && ln -s os-release '\(root)/etc/link'")
        let boot = ImageSpec.Boot(kernel: "boot/vmlinuz", initrd: "boot/initrd.img", cmdline: "console=ttyS0")
        let first = try DiskWriter.write(
            rootfs: root, disk: boot, name: "t", epoch: 1_700_000_000, to: dir.appendingPathComponent("a.raw").path, scratch: dir.path)
        sleep(1)
        try shell("cat '\(root)/etc/os-release' > /dev/null && chmod 0644 '\(root)/etc/os-release'")  // new ctime and atime
        let second = try DiskWriter.write(
            rootfs: root, disk: boot, name: "t", epoch: 1_700_000_000, to: dir.appendingPathComponent("b.raw").path, scratch: dir.path)
        #expect(first == second)
        let other = try DiskWriter.write(
            rootfs: root, disk: boot, name: "t", epoch: 1_700_000_001, to: dir.appendingPathComponent("c.raw").path, scratch: dir.path)
        #expect(other != first, "another epoch gives other times, GUIDs and serials")
        // GRUB's menu is on the ESP, beside its binary.
        let esp = try shell("mdir -i '\(dir.path)/a.raw@@1M' -b ::/EFI/BOOT")
        #expect(esp.lowercased().contains("bootx64.efi") && esp.lowercased().contains("grub.cfg"), "\(esp)")
    }
}
