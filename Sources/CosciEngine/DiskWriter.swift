#if canImport(Glibc)
    import Glibc
#endif
import CosciBuild
import CosciManifest
import CosciModel
import Foundation

/// A/B raw disks in the style of cOS/elemental, written without loop devices or mounts (mkfs.ext4 -d, mtools,
/// sfdisk on a file):
///
///     GPT  1 efi             FAT, EFI/BOOT/BOOTX64.EFI (GRUB) and EFI/BOOT/grub.cfg (the boot entries)
///          2 COS_STATE       ext4: cOS/a.img and cOS/b.img (the two systems, ext4 images of the root
///                            filesystem) and grubenv (`active=a|b`: which one boots)
///          3 COS_RECOVERY    ext4: cOS/recovery.img
///          4 COS_PERSISTENT  ext4, empty: what survives upgrades
///
/// GRUB boots the kernel and initramfs inside the active system's image with `cosci.root=image:LABEL:PATH`
/// added to the spec's command line; the image's initramfs mounts that file as the root filesystem. The disk
/// boots under UEFI. Filesystem UUIDs, hash seeds, the FAT serial, the GPT GUIDs and every file time come from
/// the image's name and the epoch: the same root filesystem gives the same disk bytes.
public enum DiskWriter {
    /// One partition: its label, its GPT type, its size in 512-byte sectors, and the file holding its bytes.
    struct Partition {
        let name: String
        let type: String
        let sectors: Int
        let image: String
    }

    static let esp = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
    static let linux = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"

    public static func write(
        rootfs: String, disk: ImageSpec.Boot, name: String, epoch: Int64, to output: String, scratch: String
    ) throws(Diagnostic) -> Digest {
        var tools: [String: String] = [:]
        for (tool, package) in [
            ("mkfs.ext4", "e2fsprogs"), ("sfdisk", "fdisk"), ("mformat", "mtools"), ("mmd", "mtools"), ("mcopy", "mtools"),
            ("debugfs", "e2fsprogs"), ("dumpe2fs", "e2fsprogs"), ("grub-mkimage", "grub-common grub-efi-amd64-bin"),
        ] {
            guard let path = Executables.find(tool) else {
                throw Diagnostic(at: nil, "\(tool) is not installed, so no disk image can be written", hint: "apt-get install \(package)")
            }
            tools[tool] = path
        }
        for (what, path) in [("kernel", disk.kernel), ("initrd", disk.initrd)] {
            _ = try ISOWriter.bootFile(path, what: what, field: "disk", in: rootfs)
        }
        let mib = 1 << 20
        let work = scratch + "/disk"
        try? FileManager.default.removeItem(atPath: work)
        for d in ["state/cOS", "recovery/cOS"] {
            try? FileManager.default.createDirectory(atPath: work + "/" + d, withIntermediateDirectories: true)
        }
        let env = ["SOURCE_DATE_EPOCH": String(epoch), "E2FSPROGS_FAKE_TIME": String(epoch)]

        // The system image: the root filesystem with a third free, at least 64 MiB.
        let used = treeSize(rootfs)
        let systemMiB = (used + used / 3) / mib + 64
        func ext4(_ label: String, from directory: String?, size: Int, to file: String) throws(Diagnostic) {
            let id = uuid(name, label, epoch)
            var args = ["-q", "-F", "-L", label, "-U", id, "-E", "root_owner=0:0,hash_seed=\(id)", "-T", "default"]
            if let directory { args += ["-d", directory] }
            try ISOWriter.run(tools["mkfs.ext4"]!, args + [file, "\(size)M"], epoch: epoch, what: "mkfs.ext4 (\(label))", environment: env)
            try pinInodeTimes(file, label: label, epoch: epoch, tools: tools, scratch: work, environment: env)
        }
        try ext4("COS_SYSTEM", from: rootfs, size: systemMiB, to: work + "/state/cOS/a.img")
        for copy in ["state/cOS/b.img", "recovery/cOS/recovery.img"] {
            do { try FileManager.default.copyItem(atPath: work + "/state/cOS/a.img", toPath: work + "/" + copy) } catch {
                throw Diagnostic(at: nil, "cannot copy the system image: \(error.localizedDescription)")
            }
        }
        // grubenv: GRUB's 1024-byte environment block, read by the boot menu, written by upgrades.
        var env1024 = "# GRUB Environment Block\nactive=a\n"
        env1024 += String(repeating: "#", count: 1024 - env1024.utf8.count)
        guard FileManager.default.createFile(atPath: work + "/state/grubenv", contents: Data(env1024.utf8)) else {
            throw Diagnostic(at: nil, "cannot write grubenv")
        }
        ISOWriter.pinTimes(work, epoch)
        let stateMiB = 2 * systemMiB + 64
        let recoveryMiB = systemMiB + 32
        let persistentMiB = 64
        let espMiB = 32
        try ext4("COS_STATE", from: work + "/state", size: stateMiB, to: work + "/state.img")
        try ext4("COS_RECOVERY", from: work + "/recovery", size: recoveryMiB, to: work + "/recovery.img")
        try ext4("COS_PERSISTENT", from: nil, size: persistentMiB, to: work + "/persistent.img")

        // GRUB for UEFI: its modules built into one EFI binary (grub-mkimage writes the same bytes every time),
        // its menu beside it on the ESP (prefix /EFI/BOOT on the device it was loaded from).
        let config = grubConfig(disk)
        guard FileManager.default.createFile(atPath: work + "/grub.cfg", contents: Data(config.utf8)) else {
            throw Diagnostic(at: nil, "cannot write grub.cfg")
        }
        try ISOWriter.run(
            tools["grub-mkimage"]!,
            ["-O", "x86_64-efi", "-p", "/EFI/BOOT", "-o", work + "/BOOTX64.EFI"] + grubModules, epoch: epoch, what: "grub-mkimage",
            environment: env)
        ISOWriter.pinTimes(work + "/BOOTX64.EFI", epoch)
        ISOWriter.pinTimes(work + "/grub.cfg", epoch)
        // mtools takes every FAT time from SOURCE_DATE_EPOCH; the volume serial is given.
        let espImage = work + "/esp.img"
        let serial = String(format: "%08X", UInt32(truncatingIfNeeded: epoch))
        try ISOWriter.run(
            tools["mformat"]!, ["-i", espImage, "-C", "-T", String(espMiB * mib / 512), "-v", "COS_GRUB", "-N", serial, "::"],
            epoch: epoch, what: "mformat", environment: env)
        try ISOWriter.run(tools["mmd"]!, ["-i", espImage, "::/EFI", "::/EFI/BOOT"], epoch: epoch, what: "mmd", environment: env)
        try ISOWriter.run(
            tools["mcopy"]!, ["-i", espImage, work + "/BOOTX64.EFI", work + "/grub.cfg", "::/EFI/BOOT/"], epoch: epoch, what: "mcopy",
            environment: env)

        // The GPT, then each partition's bytes in place (sparse: the disk takes the space its data needs).
        let parts = [
            Partition(name: "efi", type: esp, sectors: espMiB * 2048, image: espImage),
            Partition(name: "COS_STATE", type: linux, sectors: stateMiB * 2048, image: work + "/state.img"),
            Partition(name: "COS_RECOVERY", type: linux, sectors: recoveryMiB * 2048, image: work + "/recovery.img"),
            Partition(name: "COS_PERSISTENT", type: linux, sectors: persistentMiB * 2048, image: work + "/persistent.img"),
        ]
        var script = "label: gpt\nlabel-id: \(uuid(name, "disk", epoch))\nfirst-lba: 2048\n"
        var start = 2048
        var starts: [Int] = []
        for p in parts {
            script += "start=\(start), size=\(p.sectors), type=\(p.type), uuid=\(uuid(name, "part-" + p.name, epoch)), name=\"\(p.name)\"\n"
            starts.append(start)
            start += p.sectors
        }
        let total = (start + 2048) * 512
        let tmp = output + ".tmp-\(getpid())"
        unlink(tmp)
        try? FileManager.default.createDirectory(atPath: (output as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: tmp, contents: nil), truncate(tmp, off_t(total)) == 0 else {
            throw Diagnostic(at: nil, "cannot create \(output)")
        }
        guard FileManager.default.createFile(atPath: work + "/layout.sfdisk", contents: Data(script.utf8)) else {
            throw Diagnostic(at: nil, "cannot write the partition table script")
        }
        try ISOWriter.run(
            "/bin/sh", ["-c", "exec \"$0\" -q \"$1\" < \"$2\"", tools["sfdisk"]!, tmp, work + "/layout.sfdisk"], epoch: epoch,
            what: "sfdisk", environment: env)
        for (p, offset) in zip(parts, starts) {
            try copySparse(p.image, into: tmp, at: off_t(offset) * 512)
        }
        guard rename(tmp, output) == 0 else { throw Diagnostic(at: nil, "cannot write \(output)") }
        try? FileManager.default.removeItem(atPath: work)
        guard let digest = Digest.sha256(ofFile: output) else { throw Diagnostic(at: nil, "cannot read \(output)") }
        return digest
    }

    /// What GRUB needs to find the systems and boot their kernels, built into its EFI binary.
    static let grubModules = [
        "part_gpt", "fat", "ext2", "loopback", "search", "search_label", "loadenv", "serial", "terminal", "linux", "normal",
        "configfile", "test", "echo", "efi_gop",
    ]

    /// `mkfs.ext4 -d` copies each file's access and change times from the host (the change time cannot be set
    /// there, and reading a file moves its access time): a debugfs pass sets both to the epoch on every inode in use
    /// (dumpe2fs's per-group free ranges tell which are), so the same tree gives the same filesystem bytes.
    static func pinInodeTimes(
        _ file: String, label: String, epoch: Int64, tools: [String: String], scratch: String, environment: [String: String]
    ) throws(Diagnostic) {
        let listing = scratch + "/dumpe2fs.txt"
        try ISOWriter.run(
            "/bin/sh", ["-c", "exec \"$0\" \"$1\" > \"$2\" 2>/dev/null", tools["dumpe2fs"]!, file, listing], epoch: epoch,
            what: "dumpe2fs (\(label))", environment: environment)
        guard let text = try? String(contentsOfFile: listing, encoding: .utf8) else {
            throw Diagnostic(at: nil, "cannot read what dumpe2fs said about \(label)")
        }
        let used = try inodesInUse(dumpe2fs: text)
        var script = ""
        for inode in used { script += "sif <\(inode)> ctime @\(epoch)\nsif <\(inode)> atime @\(epoch)\n" }
        let path = scratch + "/debugfs.script"
        guard FileManager.default.createFile(atPath: path, contents: Data(script.utf8)) else {
            throw Diagnostic(at: nil, "cannot write \(path)")
        }
        try ISOWriter.run(
            "/bin/sh", ["-c", "exec \"$0\" -w -f \"$1\" \"$2\" > /dev/null", tools["debugfs"]!, path, file], epoch: epoch,
            what: "debugfs (\(label))", environment: environment)
    }

    /// The inodes in use, from dumpe2fs's output: all of `Inode count` but the groups' `Free inodes:` ranges.
    static func inodesInUse(dumpe2fs text: String) throws(Diagnostic) -> [Int] {
        var count: Int?
        var free: [ClosedRange<Int>] = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("Inode count:") {
                count = Int(line.dropFirst("Inode count:".count).trimmingCharacters(in: .whitespaces))
            } else if line.hasPrefix("  Free inodes:") {
                // A full group lists none.
                for part in line.dropFirst("  Free inodes:".count).split(separator: ",") where !part.allSatisfy(\.isWhitespace) {
                    let bounds = part.trimmingCharacters(in: .whitespaces).split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
                    guard (1...2).contains(bounds.count), let low = bounds.first ?? nil, let high = bounds.last ?? nil, low <= high else {
                        throw Diagnostic(at: nil, "unexpected dumpe2fs line: \(line)")
                    }
                    free.append(low...high)
                }
            }
        }
        guard let count, count > 0 else { throw Diagnostic(at: nil, "dumpe2fs gave no inode count") }
        free.sort { $0.lowerBound < $1.lowerBound }
        var used: [Int] = []
        var next = 1
        for range in free {
            if next < range.lowerBound { used += Array(next..<min(range.lowerBound, count + 1)) }
            next = max(next, range.upperBound + 1)
        }
        if next <= count { used += Array(next...count) }
        return used
    }

    /// The boot menu: system A or B as grubenv's `active` says, and recovery; each boots the kernel inside its
    /// image with `cosci.root=image:LABEL:PATH`.
    static func grubConfig(_ disk: ImageSpec.Boot) -> String {
        func entry(_ title: String, label: String, path: String) -> String {
            """
            menuentry "\(title)" {
              search --no-floppy --label \(label) --set=part
              loopback loop0 ($part)\(path)
              linux (loop0)/\(disk.kernel) \(disk.cmdline) cosci.root=image:\(label):\(path)
              initrd (loop0)/\(disk.initrd)
            }

            """
        }
        return """
            serial --unit=0 --speed=115200
            terminal_input serial console
            terminal_output serial console
            set timeout=1
            search --no-floppy --label COS_STATE --set=state
            set active=a
            load_env --file ($state)/grubenv active
            if [ "$active" = "b" ]; then set default=1; else set default=0; fi

            """ + entry("system A", label: "COS_STATE", path: "/cOS/a.img") + entry("system B", label: "COS_STATE", path: "/cOS/b.img")
            + entry("recovery", label: "COS_RECOVERY", path: "/cOS/recovery.img")
    }

    /// A UUID (version 4 layout) derived from the image, a role and the epoch: the same on every build.
    static func uuid(_ name: String, _ role: String, _ epoch: Int64) -> String {
        var b = Digest.sha256(of: Array("cosci-disk/1 \(name) \(role) \(epoch)".utf8)).rawBytes
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        let h = b.prefix(16).map { String(format: "%02x", $0) }.joined()
        let c = Array(h)
        return "\(String(c[0..<8]))-\(String(c[8..<12]))-\(String(c[12..<16]))-\(String(c[16..<20]))-\(String(c[20..<32]))".uppercased()
    }

    /// Bytes used by a tree's regular files (links and directories counted as one block each).
    static func treeSize(_ root: String) -> Int {
        var total = 0
        let fm = FileManager.default
        for path in fm.subpaths(atPath: root) ?? [] {
            var st = stat()
            guard lstat(root + "/" + path, &st) == 0 else { continue }
            total += (st.st_mode & S_IFMT) == S_IFREG ? Int(st.st_size) + 4096 : 4096
        }
        return total
    }

    /// Copies `source` into `target` at `offset`, leaving holes: only the source's data extents are read
    /// (SEEK_DATA/SEEK_HOLE; a filesystem without them reports the whole file as data), and 64 KiB blocks of zeros
    /// in them are not written.
    static func copySparse(_ source: String, into target: String, at offset: off_t) throws(Diagnostic) {
        // Linux's lseek whence values (glibc declares SEEK_DATA and SEEK_HOLE only under _GNU_SOURCE).
        let seekData: Int32 = 3
        let seekHole: Int32 = 4
        let input = open(source, O_RDONLY)
        guard input >= 0 else { throw Diagnostic(at: nil, "cannot read \(source)") }
        defer { close(input) }
        let output = open(target, O_WRONLY)
        guard output >= 0 else { throw Diagnostic(at: nil, "cannot write \(target)") }
        defer { close(output) }
        func failure(_ what: String, _ path: String) -> Diagnostic {
            Diagnostic(at: nil, "cannot \(what) \(path): \(String(cString: strerror(errno)))")
        }
        let size = 64 * 1024
        var buffer = [UInt8](repeating: 0, count: size)
        let zeros = [UInt8](repeating: 0, count: size)
        var position: off_t = 0
        while true {
            let data = lseek(input, position, seekData)
            if data < 0 {
                if errno == ENXIO { break }  // no data after position
                throw failure("read", source)
            }
            let hole = lseek(input, data, seekHole)
            guard hole > data else { throw failure("read", source) }
            position = data
            while position < hole {
                let want = Int(min(off_t(size), hole - position))
                let n = buffer.withUnsafeMutableBytes { pread(input, $0.baseAddress, want, position) }
                if n < 0 { throw failure("read", source) }
                if n == 0 { break }
                let blank = buffer.withUnsafeBytes { b in zeros.withUnsafeBytes { z in memcmp(b.baseAddress!, z.baseAddress!, n) == 0 } }
                if !blank {
                    var done = 0
                    while done < n {
                        let w = buffer.withUnsafeBytes { pwrite(output, $0.baseAddress! + done, n - done, offset + position + off_t(done)) }
                        guard w > 0 else { throw failure("write", target) }
                        done += w
                    }
                }
                position += off_t(n)
            }
        }
    }
}
