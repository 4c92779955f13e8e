import CosciTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What cosci assembles boots: the bootable example (a Debian base from `scripts/make-base`, the system's own
/// initramfs and init) built by `cosci run --iso`, its live ISO started by qemu under software emulation
/// (no KVM), BIOS and UEFI, the serial console read for the system's own line.
@Suite(.serialized) struct Boot {
    static let qemu = "/usr/bin/qemu-system-x86_64"
    static let ovmf = "/usr/share/OVMF/OVMF_CODE.fd"
    static let canRun = FileManager.default.isExecutableFile(atPath: qemu) && FileManager.default.isExecutableFile(atPath: "/usr/bin/mmdebstrap")

    /// The Debian base layout, made once per test process.
    static let base = Mutex<URL?>(nil)

    static func baseLayout() throws -> URL {
        try base.withLock { (slot: inout URL?) throws -> URL in
            if let slot { return slot }
            let dir = try TestPaths.temporaryDirectory("cosci-base")
            let r = try runTool(
                TestPaths.packageRoot.appendingPathComponent("scripts/make-base").path, ["--output", dir.path], timeout: 900)
            guard r.status == 0 else { throw TestSupportError("make-base failed: \(r.stderr)") }
            slot = dir
            return dir
        }
    }

    /// How a machine starts.
    enum Firmware: String { case bios, uefi }

    /// Boots an ISO under qemu (software emulation, 1 GiB, serial console to a file) until the console shows
    /// `expected` or a failure line, or `limit` seconds pass; then stops the machine. The console's text and
    /// the seconds it took.
    static func boot(
        cdrom: String? = nil, disk: String? = nil, firmware: Firmware, expecting expected: String, limit: Double = 300
    ) throws -> (console: String, seconds: Double) {
        let dir = try TestPaths.temporaryDirectory("cosci-qemu")
        defer { try? FileManager.default.removeItem(at: dir) }
        let console = dir.appendingPathComponent("console.log")
        var args = ["-m", "1024", "-display", "none", "-no-reboot", "-nic", "none", "-serial", "file:" + console.path]
        if let cdrom { args += ["-cdrom", cdrom] }
        // snapshot=on: the machine's writes go to a temporary overlay, the disk image stays as cosci wrote it.
        if let disk { args += ["-drive", "file=\(disk),format=raw,if=virtio,snapshot=on"] }
        if firmware == .uefi {
            // Firmware code read-only, its variables in a copy of their own (a disk boots through the EFI boot path).
            let vars = dir.appendingPathComponent("vars.fd").path
            try FileManager.default.copyItem(atPath: "/usr/share/OVMF/OVMF_VARS.fd", toPath: vars)
            args += [
                "-drive", "if=pflash,format=raw,readonly=on,file=\(ovmf)", "-drive", "if=pflash,format=raw,file=\(vars)",
            ]
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: qemu)
        p.arguments = args
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        let start = Date()
        try p.run()
        defer {
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit(atMost: 30)
        }
        var text = ""
        while Date().timeIntervalSince(start) < limit {
            text = (try? String(contentsOf: console, encoding: .utf8)) ?? String(decoding: (try? Data(contentsOf: console)) ?? Data(), as: UTF8.self)
            if text.contains(expected) || text.contains("Kernel panic") || text.contains("cosci-boot: no ") || text.contains("cosci-boot: cannot") {
                break
            }
            if !p.isRunning { break }
            usleep(200_000)
        }
        return (text, Date().timeIntervalSince(start))
    }

    @Test(.enabled(if: canRun, "qemu-system-x86_64 or mmdebstrap is missing (scripts/bootstrap --test installs them)"))
    func theLiveISOAndTheABDiskBoot() throws {
        let layout = try Self.baseLayout()
        let project = try GitScratch(copying: TestPaths.packageRoot.appendingPathComponent("examples/bootable"), epoch: Sample.epoch)
        try project.write("values.yaml", "base: \"oci:\(layout.path):bookworm\"\n")
        try project.commitAll("base from this run's make-base")
        let run = try runCosci(["run", "--iso", "--disk"], cwd: project.root, env: ["CI": "true"])
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        let images = project.path("dist/images")
        let iso = try #require(
            (try? FileManager.default.contentsOfDirectory(atPath: images.path))?.first { $0.hasSuffix(".iso") }, "\(run.stdout)")
        // The same inputs give the same ISO (xorriso's dates and GUIDs, and the EFI image's serial, are pinned).
        let first = try Data(contentsOf: images.appendingPathComponent(iso))
        let again = try runCosci(["assemble", "--iso"], cwd: project.root, env: ["CI": "true"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try Data(contentsOf: images.appendingPathComponent(iso)) == first, "a second assembly writes the same ISO")
        let wanted = "cosci-init: booted cosci bootable 1.0.0 (VERSION=1.0.0)"
        for firmware in [Firmware.bios, .uefi] where firmware == .bios || FileManager.default.fileExists(atPath: Self.ovmf) {
            let booted = try Self.boot(cdrom: images.appendingPathComponent(iso).path, firmware: firmware, expecting: wanted)
            #expect(booted.console.contains(wanted), "\(firmware): \(booted.console.suffix(3000))")
            #expect(booted.console.contains("cosci-boot: root live:COSCI_LIVE"), "the system's own initramfs found the ISO")
            print("boot \(firmware): \(String(format: "%.1f", booted.seconds)) s")
        }

        // The A/B raw disk boots its active system (A) under UEFI, from the image file on COS_STATE.
        let raw = try #require(
            (try? FileManager.default.contentsOfDirectory(atPath: images.path))?.first { $0.hasSuffix(".raw") }, "\(run.stdout)")
        let disk = try Self.boot(disk: images.appendingPathComponent(raw).path, firmware: .uefi, expecting: wanted)
        #expect(disk.console.contains(wanted), "disk: \(disk.console.suffix(3000))")
        #expect(disk.console.contains("cosci-boot: root image:COS_STATE:/cOS/a.img"), "system A booted from its image on COS_STATE")
        print("boot disk (uefi): \(String(format: "%.1f", disk.seconds)) s")
    }
}
