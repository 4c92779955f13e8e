import CosciTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What cosci assembles boots and upgrades: the bootable example (a Debian base from `scripts/make-base`, the
/// system's own initramfs, init and upgrade agent) built by `cosci run --iso --disk`, started by qemu under
/// software emulation (no KVM), its serial console read — and typed into — by the test.
@Suite(.serialized) struct Boot {
    static let qemu = "/usr/bin/qemu-system-x86_64"
    static let ovmf = "/usr/share/OVMF/OVMF_CODE.fd"
    static let canRun = FileManager.default.isExecutableFile(atPath: qemu) && FileManager.default.isExecutableFile(atPath: "/usr/bin/mmdebstrap")
    static let hasUEFI = FileManager.default.fileExists(atPath: ovmf)
    static let example = TestPaths.packageRoot.appendingPathComponent("examples/bootable")

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

    /// The example at 1.0.0 on this run's base, built by `cosci run --iso --disk` once per test process.
    struct Built: Sendable {
        let project: GitScratch
        let iso: URL
        let disk: URL
    }

    static let built = Mutex<Built?>(nil)

    /// A copy of the example whose base is this run's make-base layout, committed.
    static func exampleProject() throws -> GitScratch {
        let layout = try baseLayout()
        let project = try GitScratch(copying: example, epoch: Sample.epoch)
        try project.write("values.yaml", "base: \"oci:\(layout.path):bookworm\"\n")
        try project.commitAll("base from this run's make-base")
        return project
    }

    static func bootable() throws -> Built {
        try built.withLock { (slot: inout Built?) throws -> Built in
            if let slot { return slot }
            let project = try exampleProject()
            let run = try runCosci(["run", "--iso", "--disk"], cwd: project.root, env: ["CI": "true"])
            guard run.status == 0 else { throw TestSupportError("cosci run --iso --disk failed:\n\(run.stdout)\n\(run.stderr)") }
            let images = project.path("dist/images")
            let names = (try? FileManager.default.contentsOfDirectory(atPath: images.path)) ?? []
            guard let iso = names.first(where: { $0.hasSuffix(".iso") }), let raw = names.first(where: { $0.hasSuffix(".raw") }) else {
                throw TestSupportError("no ISO or disk in \(images.path): \(names)\n\(run.stdout)")
            }
            let b = Built(project: project, iso: images.appendingPathComponent(iso), disk: images.appendingPathComponent(raw))
            slot = b
            return b
        }
    }

    /// How a machine starts.
    enum Firmware: String { case bios, uefi }

    /// What the console shows once the system's init runs.
    static func booted(_ version: String) -> String { "cosci-init: booted cosci bootable \(version) (VERSION=\(version))" }

    @Test(.enabled(if: canRun, "qemu-system-x86_64 or mmdebstrap is missing (scripts/bootstrap --test installs them)"))
    func theLiveISOAndTheABDiskBoot() throws {
        let built = try Self.bootable()
        // The same inputs give the same ISO and the same disk (dates, GUIDs, serials and inode times are pinned).
        func sha256(_ file: URL) throws -> String {
            try shell("sha256sum '\(file.path)' | cut -d' ' -f1").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let first = (iso: try sha256(built.iso), disk: try sha256(built.disk))
        let again = try runCosci(["assemble", "--iso", "--disk", "--json"], cwd: built.project.root, env: ["CI": "true"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try sha256(built.iso) == first.iso, "a second assembly writes the same ISO")
        #expect(try sha256(built.disk) == first.disk, "a second assembly writes the same disk")
        // What was written is reported: the assembly's JSON names both files and their sha256s, as the run's report does.
        let document = try #require(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])
        let image = try #require((document["images"] as? [[String: Any]])?.first, "\(again.stdout)")
        #expect(image["isoDigest"] as? String == "sha256:" + first.iso && image["iso"] as? String == built.iso.path, "\(image)")
        #expect(image["diskDigest"] as? String == "sha256:" + first.disk && image["disk"] as? String == built.disk.path, "\(image)")
        let report = try String(contentsOf: built.project.path("dist/report.json"), encoding: .utf8)
        #expect(report.contains("sha256:" + first.disk) && report.contains("sha256:" + first.iso), "\(report)")

        for firmware in [Firmware.bios, .uefi] where firmware == .bios || Self.hasUEFI {
            let machine = try Machine(firmware: firmware, cdrom: built.iso.path)
            // The system's own initramfs found the ISO, then its init ran.
            try machine.expect(inOrder: ["cosci-boot: root live:COSCI_LIVE", Self.booted("1.0.0")], after: 0)
            print("boot ISO (\(firmware)): \(machine.elapsed) s")
        }

        // The A/B raw disk boots its active system (A) under UEFI, from the image file on COS_STATE.
        if Self.hasUEFI {
            let machine = try Machine(firmware: .uefi, disks: [built.disk.path])
            try machine.expect(inOrder: ["cosci-boot: root image:COS_STATE:/cOS/a.img", Self.booted("1.0.0")], after: 0)
            print("boot disk (uefi): \(machine.elapsed) s")
        }
    }

    /// The installed system (the A/B disk at 1.0.0) upgrades itself with its own agent from a second disk holding
    /// the next release as OCI layouts — the channel's repository and the OS image — while a third disk holds a
    /// corrupt copy of that image: the corrupt one is refused and A still boots; by channel, B is written and
    /// boots 1.1.0; by image reference, A is written and boots 1.1.0.
    @Test(.enabled(if: canRun && hasUEFI, "qemu-system-x86_64, mmdebstrap or OVMF is missing (scripts/bootstrap --test installs them)"))
    func theABDiskUpgradesByChannelAndByImageAndRefusesACorruptImage() throws {
        let built = try Self.bootable()
        let cache = built.project.path(".cosci/cache").path

        // The next release: the same tree at 1.1.0, built into the same cache. Its repository carries 1.0.0 too
        // (built first, from the cache), so the channel's newest is a choice.
        var start = Date()
        let project = try Self.exampleProject()
        let r1 = try runCosci(["run", "--no-images", "--cache", cache], cwd: project.root, env: ["CI": "true"])
        #expect(r1.status == 0, "\(r1.stdout)\n\(r1.stderr)")
        try project.replace("packages/system/bootable/definition.yaml", "version: \"1.0.0\"", "version: \"1.1.0\"")
        try project.commitAll("1.1.0")
        let r2 = try runCosci(["run", "--cache", cache], cwd: project.root, env: ["CI": "true"])
        try #require(r2.status == 0, "\(r2.stdout)\n\(r2.stderr)")
        print("release 1.1.0 built and assembled: \(seconds(since: start)) s")

        // The upgrade disk: the channel (the repository as cosci publishes it, here into a layout) and the image.
        start = Date()
        let media = try TestPaths.temporaryDirectory("cosci-media")
        defer { try? FileManager.default.removeItem(at: media) }
        let published = try runCosci(["publish", "--to", "oci:" + media.appendingPathComponent("upgrade/channel").path], cwd: project.root)
        try #require(published.status == 0, "\(published.stderr)")
        try shell("cp -a '\(project.path("dist/images/bootable").path)' '\(media.path)/upgrade/bootable'")
        let upgrade = try Self.ext4(label: "COS_UPGRADE", of: media.appendingPathComponent("upgrade"))
        // A corrupt copy of the image: one byte of its 1.1.0 layer flipped.
        try shell("mkdir -p '\(media.path)/broken' && cp -a '\(media.path)/upgrade/bootable' '\(media.path)/broken/'")
        try Self.corruptLayer(of: media.appendingPathComponent("broken/bootable"), tag: "1.1.0")
        let broken = try Self.ext4(label: "COS_BROKEN", of: media.appendingPathComponent("broken"))
        print("upgrade disks written: \(seconds(since: start)) s")

        let machine = try Machine(firmware: .uefi, disks: [built.disk.path], media: [upgrade.path, broken.path], rebootable: true)
        var at = try machine.expect(Self.booted("1.0.0"), after: 0)
        print("booted A 1.0.0: \(machine.elapsed) s")

        // A corrupt image is refused before anything is written; A still boots.
        let mark = at
        machine.type("cosci-upgrade --image bootable:1.1.0 --source LABEL=COS_BROKEN; echo \"exit=$?\"")
        at = try machine.expect("exit=1", after: at)
        #expect(machine.text(from: mark).contains("cosci-upgrade: error: digest mismatch"), "\(machine.text(from: mark))")
        machine.type("busybox reboot -f")
        at = try machine.expect(inOrder: ["cosci-boot: root image:COS_STATE:/cOS/a.img", Self.booted("1.0.0")], after: at)
        print("corrupt image refused, A 1.0.0 booted again: \(machine.elapsed) s")

        // By channel: the newest system/bootable of the channel's index goes to B, which boots next.
        at = try Self.upgrade(machine, "--channel", reading: "channel channel: system/bootable 1.1.0", slot: "b", to: "1.1.0", after: at)
        print("upgraded by channel, B 1.1.0 booted: \(machine.elapsed) s")

        // By image reference: the image's layers go to A (the passive one now), which boots next.
        at = try Self.upgrade(machine, "--image bootable:1.1.0", reading: "image bootable:1.1.0", slot: "a", to: "1.1.0", after: at)
        print("upgraded by image reference, A 1.1.0 booted: \(machine.elapsed) s")
        print(machine.text(from: 0).split(whereSeparator: \.isNewline).filter { $0.hasPrefix("cosci-") || $0.contains("exit=") }.joined(separator: "\n"))
    }

    /// Types `cosci-upgrade ARGUMENTS` on the console and waits until the agent read `source`, wrote `slot` and
    /// rebooted, and the machine booted `slot` running `version`; the console offset after that.
    static func upgrade(
        _ machine: Machine, _ arguments: String, reading source: String, slot: String, to version: String, after at: Int
    ) throws -> Int {
        machine.type("cosci-upgrade \(arguments); echo \"exit=$?\"")
        return try machine.expect(
            inOrder: [
                "cosci-upgrade: reading \(source)", "cosci-upgrade: writing system \(slot)", "cosci-upgrade: rebooting",
                "cosci-boot: root image:COS_STATE:/cOS/\(slot).img", booted(version),
            ], after: at)
    }

    /// An ext4 image of `directory` (mkfs.ext4 -d, no mount), labelled `label`, beside it.
    static func ext4(label: String, of directory: URL) throws -> URL {
        let image = directory.deletingLastPathComponent().appendingPathComponent(label + ".img")
        let mib = Int(try shell("du -sm '\(directory.path)' | cut -f1").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        let r = try runTool("mkfs.ext4", ["-q", "-L", label, "-d", directory.path, image.path, "\(mib + mib / 4 + 32)M"])
        guard r.status == 0 else { throw TestSupportError("mkfs.ext4 failed: \(r.stderr)") }
        return image
    }

    /// Flips one byte in the middle of the first layer of `tag` in an OCI layout.
    static func corruptLayer(of layout: URL, tag: String) throws {
        func json(_ url: URL) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        }
        func blob(_ digest: String) -> URL { layout.appendingPathComponent("blobs/sha256/" + digest.dropFirst("sha256:".count)) }
        let index = try json(layout.appendingPathComponent("index.json"))
        let manifests = try #require(index["manifests"] as? [[String: Any]])
        let entry = try #require(manifests.first { ($0["annotations"] as? [String: String])?["org.opencontainers.image.ref.name"] == tag })
        let manifest = try json(blob(try #require(entry["digest"] as? String)))
        let layer = try #require((manifest["layers"] as? [[String: Any]])?.first?["digest"] as? String)
        let handle = try FileHandle(forUpdating: blob(layer))
        defer { try? handle.close() }
        let middle = try handle.seekToEnd() / 2
        try handle.seek(toOffset: middle)
        let byte = try #require(try handle.read(upToCount: 1)?.first)
        try handle.seek(toOffset: middle)
        try handle.write(contentsOf: Data([byte ^ 0xFF]))
    }
}

func seconds(since start: Date) -> String { String(format: "%.1f", Date().timeIntervalSince(start)) }

/// A qemu machine under software emulation (1 GiB, no network, no display) whose serial console the test reads
/// and types into, through qemu's socket character device. System disks are attached with `snapshot=on` (the
/// machine's writes, kept across its reboots, go to a temporary overlay: the image file stays as it was),
/// other media read-only. Stopped when released.
final class Machine {
    let process = Process()
    let directory: URL
    let socket: Int32
    let output = Console()
    let started = Date()

    /// The bytes the console printed, appended by a reader thread.
    final class Console: Sendable {
        let bytes = Mutex<[UInt8]>([])
        /// Set by the reader when the connection closed (the socket may be closed then).
        let ended = Mutex(false)
    }

    init(
        firmware: Firmware, cdrom: String? = nil, disks: [String] = [], media: [String] = [], rebootable: Bool = false
    ) throws {
        directory = try TestPaths.temporaryDirectory("cosci-qemu")
        let path = directory.appendingPathComponent("serial.sock").path
        var args = [
            "-m", "1024", "-display", "none", "-nic", "none",
            "-chardev", "socket,id=console,path=\(path),server=on,wait=off", "-serial", "chardev:console",
        ]
        if !rebootable { args.append("-no-reboot") }
        if let cdrom { args += ["-cdrom", cdrom] }
        for disk in disks { args += ["-drive", "file=\(disk),format=raw,if=virtio,snapshot=on"] }
        for medium in media { args += ["-drive", "file=\(medium),format=raw,if=virtio,readonly=on"] }
        if firmware == .uefi {
            // Firmware code read-only, its variables in a copy of their own (a disk boots through the EFI boot path).
            let vars = directory.appendingPathComponent("vars.fd").path
            try FileManager.default.copyItem(atPath: "/usr/share/OVMF/OVMF_VARS.fd", toPath: vars)
            args += ["-drive", "if=pflash,format=raw,readonly=on,file=\(Boot.ovmf)", "-drive", "if=pflash,format=raw,file=\(vars)"]
        }
        process.executableURL = URL(fileURLWithPath: Boot.qemu)
        process.arguments = args
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()

        // qemu listens before the machine starts; connect, then read the console on a thread of its own.
        socket = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[i] = byte }
        }
        var connected = false
        for _ in 0..<200 where !connected {
            connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            } == 0
            if !connected { usleep(50_000) }
        }
        guard connected else {
            stop()
            throw TestSupportError("cannot reach qemu's serial console at \(path)")
        }
        let fd = socket
        let console = output
        Thread {
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                console.bytes.withLock { $0.append(contentsOf: chunk[0..<n]) }
            }
            console.ended.withLock { $0 = true }
        }.start()
    }

    deinit { stop() }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit(atMost: 30)
        if socket >= 0 {
            // Wake the reader, and close the socket once it has let go of it.
            shutdown(socket, Int32(SHUT_RDWR))
            for _ in 0..<100 where !output.ended.withLock({ $0 }) { usleep(20_000) }
            if output.ended.withLock({ $0 }) { close(socket) }
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Seconds since the machine started.
    var elapsed: String { seconds(since: started) }

    /// The console's text from byte `offset` on.
    func text(from offset: Int) -> String {
        output.bytes.withLock { String(decoding: $0[min(offset, $0.count)...], as: UTF8.self) }
    }

    /// Waits (at most `limit` seconds) until the console shows `wanted` after byte `offset`; the offset just past
    /// it. Fails at once, with the console's end, when the system cannot go on (a panic, an initramfs error) or
    /// qemu stops.
    @discardableResult
    func expect(_ wanted: String, after offset: Int, limit: Double = 600) throws -> Int {
        let needle = Array(wanted.utf8)
        let deadline = Date().addingTimeInterval(limit)
        while Date() < deadline {
            let found: Int? = output.bytes.withLock { bytes in
                guard offset < bytes.count, let r = bytes[offset...].firstRange(of: needle) else { return nil }
                return r.upperBound
            }
            if let found { return found }
            let rest = text(from: offset)
            if rest.contains("Kernel panic") || rest.contains("cosci-boot: no ") || rest.contains("cosci-boot: cannot") || !process.isRunning {
                break
            }
            usleep(200_000)
        }
        throw TestSupportError("the console did not show \"\(wanted)\" within \(Int(limit)) s; it ends:\n\(text(from: offset).suffix(4000))")
    }

    /// `expect` for each of `lines` in turn: they show in this order.
    @discardableResult
    func expect(inOrder lines: [String], after offset: Int, limit: Double = 600) throws -> Int {
        var at = offset
        for line in lines { at = try expect(line, after: at, limit: limit) }
        return at
    }

    /// Types a line on the console (after a moment, so the shell that printed its prompt reads it).
    func type(_ line: String) {
        sleep(1)
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(socket, $0.baseAddress, $0.count) }
    }
}

typealias Firmware = Boot.Firmware
