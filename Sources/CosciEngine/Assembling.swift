#if canImport(Glibc)
    import Glibc
#endif
import CosciArchive
import CosciBuild
import CosciManifest
import CosciImage
import CosciModel
import CosciPlanner
import CosciRegistry
import CosciRepository
import Foundation

/// What `cosci assemble` was asked.
public struct AssembleOptions: Sendable {
    /// Image names (default: every spec of the images directory).
    public var names: [String] = []
    public var sourceDateEpoch: Int64?
    /// Push each image to `<target>/<name>:<version>` (`docker://HOST/PREFIX`).
    public var push: String?
    /// Also write an ISO for specs that ask for one.
    public var iso = false
    /// Also write the A/B raw disk of specs that ask for one.
    public var disk = false
    public var registry = RegistryAccess()

    public init() {}
}

/// A file an assembly wrote beside the image (an ISO, a raw disk) and its sha256.
public struct AssembledFile: Sendable {
    public let path: String
    public let sha256: Digest
}

/// One assembled OS image.
public struct AssembledImage: Sendable {
    public let name: String
    /// The base package's version: the image's tag.
    public let version: String
    public let digest: Digest
    public let layers: Int
    /// The OCI layout holding it (`<output>/images/<name>`).
    public let layout: String
    /// Where it was pushed.
    public let pushed: String?
    /// The ISO written, if any.
    public let iso: AssembledFile?
    /// The A/B raw disk written, if any.
    public let disk: AssembledFile?
    /// Platforms under the image (more than one: `digest` is a multi-arch index).
    public let platforms: Int
}

/// OS images from image specs: the base package's root filesystem and the packages on top, squashed into one
/// layer or one layer per package, with a deterministic config (`created` from the epoch, `rootfs.diff_ids`,
/// `history`, `org.opencontainers.image.*` annotations). Layers are gzip (every OCI client reads them).
public enum Assembling {
    /// `analysis` and `specs` are what the caller already has (`cosci run` passes its build's); nil: read here.
    public static func assemble(
        _ project: Project, _ options: AssembleOptions, analysis given: Analysis? = nil, specs loaded: [ImageSpec]? = nil
    ) throws(Diagnostic) -> [AssembledImage] {
        guard let imagesDir = project.config.images else {
            throw Diagnostic(
                at: SourceLocation(file: project.configFile ?? project.root + "/cosci.yaml", line: 0), field: "images",
                "the project declares no images directory", hint: "add `images: images` to cosci.yaml and an image spec there")
        }
        var specs: [ImageSpec]
        if let loaded { specs = loaded } else { specs = try ImageSpec.load(directory: imagesDir, projectRoot: project.root) }
        if !options.names.isEmpty {
            for n in options.names where !specs.contains(where: { $0.name == n }) {
                throw Diagnostic(
                    at: SourceLocation(file: imagesDir, line: 0), "no image spec named \(n)",
                    hint: "specs: \(specs.map(\.name).joined(separator: ", "))")
            }
            specs = specs.filter { options.names.contains($0.name) }
        }
        let analysis = given ?? Analysis.run(project)
        if let first = analysis.diagnostics.first(where: { $0.severity == .error }) { throw first }
        // Several platforms in cosci.yaml: one image per platform under a multi-arch index.
        var others: [(Platform, Analysis)] = []
        for text in project.config.platforms {
            guard let p = try? Platform(parsing: text), p != project.platform else { continue }
            let other = project.with(platform: p)
            let a = Analysis.run(other)
            if let first = a.diagnostics.first(where: { $0.severity == .error }) { throw first }
            others.append((p, a))
        }
        var build = BuildOptions()
        build.sourceDateEpoch = options.sourceDateEpoch
        let cache = LocalCache(root: project.cacheRoot)
        let output = project.outputDirectory
        let epoch = Building.sourceDateEpoch(project, build)
        let head = Building.headCommit(project)
        var out: [AssembledImage] = []
        for spec in specs {
            out.append(try assemble(
                spec, project: project, analysis: analysis, others: others, cache: cache, output: output, epoch: epoch, head: head,
                options: options))
        }
        return out
    }

    /// A package of an image spec and its cache key: the tree's highest matching version, else the best of the
    /// upstream repositories (lowest priority value, then highest version), fetched into the cache.
    static func resolve(
        _ ref: PackageReference, _ analysis: Analysis, spec: ImageSpec, cache: LocalCache, access: RegistryAccess
    ) throws(Diagnostic) -> (id: PackageID, key: CacheKey) {
        if let id = analysis.graph.order.filter(ref.matches).max(by: { $0.version < $1.version }), let key = analysis.keys[id]?.key {
            return (id, key)
        }
        let offered = analysis.upstream.packages.filter { ref.matches($0.id) }
        if let best = offered.min(by: { $0.priority != $1.priority ? $0.priority < $1.priority : $0.id.version > $1.id.version }) {
            try Upstream.fetch(best, from: analysis.upstream, into: cache, project: analysis.project, access: access)
            return (best.id, CacheKeys.upstreamKey(best))
        }
        let searched = analysis.upstream.repositories.map(\.config.name)
        throw Diagnostic(
            at: SourceLocation(file: spec.file, line: 0),
            "no package matches \(ref)" + (searched.isEmpty ? "" : " in the tree or the repositories (\(searched.joined(separator: ", ")))"),
            hint: "`cosci list` shows every package")
    }

    static func assemble(
        _ spec: ImageSpec, project: Project, analysis: Analysis, others: [(Platform, Analysis)], cache: LocalCache, output: String,
        epoch: Int64, head: String?, options: AssembleOptions
    ) throws(Diagnostic) -> AssembledImage {
        let scratch = (cache.root as NSString).deletingLastPathComponent + "/assemble-\(spec.name)-\(getpid())"
        try? FileManager.default.removeItem(atPath: scratch)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let (image, version, rootfs) = try platformImage(
            spec, platform: project.platform, analysis: analysis, cache: cache, epoch: epoch, head: head, scratch: scratch + "/main",
            access: options.registry)
        var published = image
        var extra: [ImageContent] = []
        if !others.isEmpty {
            var entries: [(Platform, ImageContent)] = [(project.platform, image)]
            for (p, a) in others {
                let (img, _, _) = try platformImage(
                    spec, platform: p, analysis: a, cache: cache, epoch: epoch, head: head, scratch: scratch + "/\(p.architecture)",
                    access: options.registry)
                entries.append((p, img))
            }
            // The order of cosci.yaml's `platforms:`, whichever platform this run is for: one index, one digest.
            let order = project.config.platforms.compactMap { try? Platform(parsing: $0) }
            entries.sort { (order.firstIndex(of: $0.0) ?? Int.max, $0.0.description) < (order.firstIndex(of: $1.0) ?? Int.max, $1.0.description) }
            extra = entries.map(\.1)
            published = ImageJSON.index(entries.map { (platform: $0.0, image: $0.1) }, annotations: ["org.opencontainers.image.title": spec.name])
        }
        return try store(spec, image: published, children: extra, version: version, rootfs: rootfs, project: project, output: output,
                         epoch: epoch, scratch: scratch, options: options)
    }

    /// The image of one platform, and the root filesystem it was made from (kept in `scratch`).
    static func platformImage(
        _ spec: ImageSpec, platform: Platform, analysis: Analysis, cache: LocalCache, epoch: Int64, head: String?, scratch: String,
        access: RegistryAccess
    ) throws(Diagnostic) -> (ImageContent, String, String) {
        let base = try resolve(spec.base, analysis, spec: spec, cache: cache, access: access)
        let parts = [base] + (try spec.packages.map { (r) throws(Diagnostic) in try resolve(r, analysis, spec: spec, cache: cache, access: access) })
        let ids = parts.map(\.id)
        var artifacts: [(PackageID, String, ArtifactMetadata)] = []
        for (id, key) in parts {
            let hint = "build it first: cosci build \(id.family) --platform \(platform)"
            let cached: (path: String, metadata: ArtifactMetadata)?
            do { cached = try cache.artifact(for: key) } catch {
                throw Diagnostic(at: SourceLocation(file: spec.file, line: 0), error.message, hint: hint)
            }
            guard let found = cached else {
                throw Diagnostic(
                    at: SourceLocation(file: spec.file, line: 0), "\(id) has no artifact for \(platform) in the cache", hint: hint)
            }
            artifacts.append((id, found.path, found.metadata))
        }
        do { try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true) } catch {
            throw Diagnostic(at: nil, "cannot create \(scratch): \(error.localizedDescription)")
        }

        // The root filesystem: every artifact in order (the ISO and the squashed layer are made from it), then
        // the spec's overlay, packed with git's modes so the image does not depend on the checkout's umask.
        let rootfs = scratch + "/rootfs"
        for (id, path, _) in artifacts {
            do { _ = try TarArchive.extract(path, into: rootfs, options: ExtractOptions(preserveOwners: true)) } catch {
                throw Diagnostic(at: SourceLocation(file: spec.file, line: 0), "cannot layer \(id) into the image \(spec.name): \(error)")
            }
        }
        var overlayLayer: String?
        if let overlay = spec.overlay {
            let source = analysis.project.root + "/" + (spec.file as NSString).deletingLastPathComponent + "/" + overlay
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw Diagnostic(
                    at: SourceLocation(file: spec.file, line: 0), field: "overlay", "the overlay \(overlay) is not a directory next to the spec",
                    hint: "create it, or remove `overlay:`")
            }
            let packed = scratch + "/overlay.tar.gz"
            var pack = PackOptions(compression: .gzip, sourceDateEpoch: epoch)
            pack.sourceModes = true
            do {
                _ = try TarArchive.pack(directory: source, to: packed, options: pack)
                _ = try TarArchive.extract(packed, into: rootfs, options: ExtractOptions(preserveOwners: true))
            } catch {
                throw Diagnostic(at: SourceLocation(file: spec.file, line: 0), field: "overlay", "cannot lay \(overlay) over the image: \(error)")
            }
            overlayLayer = packed
        }
        // The spec's steps, in the assembled root; per-package layers get one more layer of what they changed.
        var stepsLayer: String?
        if !spec.steps.isEmpty {
            stepsLayer = try runSteps(spec, rootfs: rootfs, epoch: epoch, scratch: scratch, logs: analysis.project.outputDirectory + "/logs")
        }
        var layers: [(layer: Blob, diffID: Digest, createdBy: String)] = []
        do {
            switch spec.layers {
            case .squashed:
                let file = scratch + "/squashed.tar.gz"
                let packed = try TarArchive.pack(directory: rootfs, to: file, options: PackOptions(compression: .gzip, sourceDateEpoch: epoch))
                let blob = Blob(
                    descriptor: Descriptor(mediaType: MediaType.layerGzip, digest: packed.sha256, size: packed.size),
                    body: .file(path: file, offset: 0, length: packed.size))
                layers.append((blob, try TarArchive.uncompressedDigest(file), "cosci: " + ids.map(\.description).joined(separator: " + ")))
            case .perPackage:
                for (id, path, m) in artifacts {
                    let file = "\(scratch)/\(m.sha256.hex).tar.gz"
                    let r = try TarArchive.recompress(path, to: file, compression: .gzip)
                    let blob = Blob(
                        descriptor: Descriptor(mediaType: MediaType.layerGzip, digest: r.digest, size: r.size),
                        body: .file(path: file, offset: 0, length: r.size))
                    layers.append((blob, r.uncompressedDigest, "cosci: \(id)"))
                }
                if let overlayLayer, let overlay = spec.overlay, let sha = Digest.sha256(ofFile: overlayLayer) {
                    let size = Int64((try? FileManager.default.attributesOfItem(atPath: overlayLayer)[.size] as? Int) ?? 0)
                    let blob = Blob(
                        descriptor: Descriptor(mediaType: MediaType.layerGzip, digest: sha, size: size),
                        body: .file(path: overlayLayer, offset: 0, length: size))
                    layers.append((blob, try TarArchive.uncompressedDigest(overlayLayer), "cosci: overlay \(overlay)"))
                }
                if let stepsLayer, let sha = Digest.sha256(ofFile: stepsLayer) {
                    let size = Int64((try? FileManager.default.attributesOfItem(atPath: stepsLayer)[.size] as? Int) ?? 0)
                    let blob = Blob(
                        descriptor: Descriptor(mediaType: MediaType.layerGzip, digest: sha, size: size),
                        body: .file(path: stepsLayer, offset: 0, length: size))
                    layers.append((blob, try TarArchive.uncompressedDigest(stepsLayer), "cosci: steps of \(spec.file)"))
                }
            }
        } catch {
            throw Diagnostic(at: nil, "cannot write the layers of \(spec.name): \(error)")
        }
        var annotations = [
            "org.opencontainers.image.title": spec.name,
            "org.opencontainers.image.version": base.id.version.text,
            "org.opencontainers.image.created": ImageConfig.timestamp(epoch),
        ]
        if let d = spec.description { annotations["org.opencontainers.image.description"] = d }
        if let head { annotations["org.opencontainers.image.revision"] = head }
        var labels = spec.labels
        labels["io.cosci.packages"] = ids.map(\.description).joined(separator: " ")
        let image = ImageJSON.image(layers: layers, platform: platform, epoch: epoch, labels: labels, annotations: annotations)
        return (image, Tag.sanitized(base.id.version.text), rootfs)
    }

    /// Runs the spec's steps in `rootfs`, logging to `<logs>/image-<name>.log`; returns the layer of what they
    /// changed (written and made files, whiteouts for removed ones).
    static func runSteps(_ spec: ImageSpec, rootfs: String, epoch: Int64, scratch: String, logs: String) throws(Diagnostic) -> String {
        try? FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        let logPath = logs + "/image-\(spec.name).log"
        let changes: RootSteps.Changes
        do {
            let log = try LogFile(path: logPath)
            changes = try RootSteps.run(
                spec.steps.map(\.line), in: rootfs, subject: "image \(spec.name)", epoch: epoch, scratch: scratch, log: log)
        } catch {
            // "… step 2 of 3 exited with status 1: LINE": point at that line of the spec.
            let failed = spec.steps.indices.first { error.message.contains("step \($0 + 1) of \(spec.steps.count) ") }
            let tail = (try? String(contentsOfFile: logPath, encoding: .utf8))?.split(separator: "\n").suffix(5).joined(separator: "\n    ") ?? ""
            throw Diagnostic(
                at: failed.map { spec.steps[$0].location } ?? SourceLocation(file: spec.file, line: 0), field: failed.map { "steps[\($0)]" },
                error.message + (tail.isEmpty ? "" : "\n    " + tail),
                hint: error.kind == .environment ? "install bubblewrap (apt-get install bubblewrap)" : "the whole log: \(logPath)")
        }
        let layer = scratch + "/steps.tar.gz"
        do {
            _ = try TarArchive.packLayer(
                directory: rootfs, changed: changes.changed, removed: changes.removed, to: layer,
                options: PackOptions(compression: .gzip, sourceDateEpoch: epoch))
        } catch {
            throw Diagnostic(at: SourceLocation(file: spec.file, line: 0), field: "steps", "cannot pack what the steps changed: \(error)")
        }
        return layer
    }

    /// Writes an image (or an index and its children) to the layout, pushes it, writes its ISO.
    static func store(
        _ spec: ImageSpec, image: ImageContent, children: [ImageContent], version tag: String, rootfs: String, project: Project,
        output: String, epoch: Int64, scratch: String, options: AssembleOptions
    ) throws(Diagnostic) -> AssembledImage {
        let blobs = children.flatMap { $0.blobs + [Blob(mediaType: $0.mediaType, bytes: $0.manifest)] } + image.blobs

        let layout = output + "/images/" + spec.name
        do {
            let store = try LayoutStore(path: layout)
            _ = try store.push(blobs)
            try store.putManifest(image)
            try store.tag([tag: image, "latest": image])
        } catch {
            throw Diagnostic(at: nil, "cannot write the image layout \(layout): \(error)")
        }
        var pushed: String?
        if let target = options.push {
            let full = target.hasSuffix("/") ? target + spec.name : target + "/" + spec.name
            let store = try options.registry.store(full)
            do {
                _ = try store.push(blobs.filter { b in !children.contains { $0.digest == b.descriptor.digest } })
                for child in children { try store.putManifest(child) }
                try store.putManifest(image)
                try store.tag([tag: image])
            } catch {
                throw Diagnostic(at: nil, "cannot push \(spec.name) to \(full): \(error)")
            }
            pushed = "\(full):\(tag)"
        }
        var isoFile: AssembledFile?
        if options.iso, let iso = spec.iso {
            let file = "\(output)/images/\(spec.name)-\(tag).iso"
            let specDir = ((project.root + "/" + spec.file) as NSString).deletingLastPathComponent
            let digest = try ISOWriter.write(
                rootfs: rootfs, files: iso.files, boot: iso.boot, specDirectory: specDir, label: iso.label, epoch: epoch, to: file,
                scratch: scratch)
            isoFile = AssembledFile(path: file, sha256: digest)
        }
        var diskFile: AssembledFile?
        if options.disk, let disk = spec.disk {
            let file = "\(output)/images/\(spec.name)-\(tag).raw"
            let digest = try DiskWriter.write(rootfs: rootfs, disk: disk, name: spec.name, epoch: epoch, to: file, scratch: scratch)
            diskFile = AssembledFile(path: file, sha256: digest)
        }
        return AssembledImage(
            name: spec.name, version: tag, digest: image.digest,
            layers: ((try? Manifest.decode((children.first ?? image).manifest))?.layers.count) ?? 0,  // per platform, for an index
            layout: layout, pushed: pushed, iso: isoFile, disk: diskFile, platforms: max(1, children.count))
    }
}

/// Live ISOs with xorriso: the root filesystem as `rootfs.squashfs` (mksquashfs, times pinned to the epoch)
/// plus the spec's files, written with `SOURCE_DATE_EPOCH` set, so two builds give the same bytes.
public enum ISOWriter {
    public static func write(
        rootfs: String, files: [String: String], boot: ImageSpec.Boot? = nil, specDirectory: String, label: String, epoch: Int64,
        to output: String, scratch: String
    ) throws(Diagnostic) -> Digest {
        guard let xorriso = Executables.find("xorriso") else {
            throw Diagnostic(at: nil, "xorriso is not installed, so no ISO can be written", hint: "apt-get install xorriso")
        }
        guard let mksquashfs = Executables.find("mksquashfs") else {
            throw Diagnostic(at: nil, "mksquashfs is not installed, so no ISO can be written", hint: "apt-get install squashfs-tools")
        }
        let isoRoot = scratch + "/iso"
        try? FileManager.default.createDirectory(atPath: isoRoot, withIntermediateDirectories: true)
        // SOURCE_DATE_EPOCH (set by `run`) pins mksquashfs's filesystem and file times.
        try run(mksquashfs, [rootfs, isoRoot + "/rootfs.squashfs", "-noappend", "-no-progress", "-quiet", "-comp", "gzip", "-no-xattrs"],
                epoch: epoch, what: "mksquashfs")
        for (destination, source) in files.sorted(by: { $0.key < $1.key }) {
            guard !destination.split(separator: "/").contains(".."), !source.split(separator: "/").contains("..") else {
                throw Diagnostic(at: nil, "iso.files: \(destination) → \(source) leaves its directory")
            }
            let target = isoRoot + "/" + destination
            try? FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            do { try FileManager.default.copyItem(atPath: specDirectory + "/" + source, toPath: target) } catch {
                throw Diagnostic(at: nil, "iso.files: cannot copy \(source): \(error.localizedDescription)")
            }
        }
        var grubMkrescue: String?
        if let boot {
            grubMkrescue = try placeBoot(boot, rootfs: rootfs, isoRoot: isoRoot, label: label)
        }
        // xorriso records each file's own mtime: pin them all (and the directories') to the epoch.
        pinTimes(isoRoot, epoch)
        try? FileManager.default.createDirectory(atPath: (output as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let tmp = output + ".tmp-\(getpid())"
        unlink(tmp)
        if let grubMkrescue {
            // GRUB for BIOS (El Torito) and UEFI (an EFI system partition image), the same grub.cfg for both.
            // xorriso takes its dates from SOURCE_DATE_EPOCH but for the volume's UUID and the GPT disk GUID,
            // given here; mformat gives the EFI image a random volume serial, pinned afterwards.
            let date = ISOWriter.volumeDate(epoch)
            try run(
                grubMkrescue,
                [
                    "--output=" + tmp, isoRoot, "--", "-volid", label, "-rockridge", "on", "-joliet", "on",
                    "-volume_date", "uuid", date, "-volume_date", "all_file_dates", "=\(epoch)",
                    "-boot_image", "any", "gpt_disk_guid=volume_date_uuid",
                ],
                epoch: epoch, what: "grub-mkrescue")
            try pinFATSerials(tmp, epoch: epoch)
        } else {
            try run(xorriso, ["-as", "mkisofs", "-quiet", "-V", label, "-r", "-J", "-o", tmp, isoRoot], epoch: epoch, what: "xorriso")
        }
        guard rename(tmp, output) == 0 else { throw Diagnostic(at: nil, "cannot write \(output)") }
        guard let digest = Digest.sha256(ofFile: output) else { throw Diagnostic(at: nil, "cannot read \(output)") }
        return digest
    }

    /// A kernel or initramfs of the assembled root filesystem: the image's own file, followed through links that
    /// stay inside it; an error naming `field.what` when there is none.
    static func bootFile(_ path: String, what: String, field: String, in rootfs: String) throws(Diagnostic) -> String {
        let resolved = URL(fileURLWithPath: rootfs + "/" + path).resolvingSymlinksInPath().path
        guard resolved.hasPrefix(rootfs + "/"), FileManager.default.fileExists(atPath: resolved) else {
            throw Diagnostic(
                at: nil, field: "\(field).\(what)", "the image has no \(path) to boot",
                hint: "its packages must put the \(what) there (or name where it is)")
        }
        return resolved
    }

    /// `YYYYMMDDhhmmsscc` of an epoch (UTC), as xorriso's `-volume_date uuid` takes it.
    static func volumeDate(_ epoch: Int64) -> String {
        var t = time_t(epoch)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(
            format: "%04d%02d%02d%02d%02d%02d00", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }

    /// Sets the volume serial of every FAT12/16 boot sector on a 2 KiB boundary of the ISO's first 64 MiB (the
    /// EFI system image grub-mkrescue makes with mformat, which picks the serial at random) to one derived
    /// from the epoch, so two builds give the same bytes.
    static func pinFATSerials(_ path: String, epoch: Int64) throws(Diagnostic) {
        guard let handle = FileHandle(forUpdatingAtPath: path) else { throw Diagnostic(at: nil, "cannot open \(path)") }
        defer { try? handle.close() }
        let serial = UInt32(truncatingIfNeeded: epoch)
        let bytes = [UInt8(serial & 0xFF), UInt8(serial >> 8 & 0xFF), UInt8(serial >> 16 & 0xFF), UInt8(serial >> 24)]
        do {
            var offset: UInt64 = 0
            while offset < 64 << 20 {
                try handle.seek(toOffset: offset)
                guard let block = try handle.read(upToCount: 512), block.count == 512 else { break }
                let b = [UInt8](block)
                let type = String(decoding: b[0x36..<0x3E], as: UTF8.self)
                if b[0x1FE] == 0x55 && b[0x1FF] == 0xAA && b[0x26] == 0x29 && (type == "FAT12   " || type == "FAT16   ") {
                    try handle.seek(toOffset: offset + 0x27)
                    try handle.write(contentsOf: Data(bytes))
                }
                offset += 2048
            }
        } catch {
            throw Diagnostic(at: nil, "cannot pin the EFI image's volume serial in \(path): \(error.localizedDescription)")
        }
    }

    /// Puts the kernel and initramfs of the root filesystem under `boot/` of the ISO with a GRUB configuration
    /// on the serial console and the screen; returns grub-mkrescue's path.
    static func placeBoot(_ boot: ImageSpec.Boot, rootfs: String, isoRoot: String, label: String) throws(Diagnostic) -> String {
        guard let mkrescue = Executables.find("grub-mkrescue") else {
            throw Diagnostic(
                at: nil, "grub-mkrescue is not installed, so no bootable ISO can be written",
                hint: "apt-get install grub-pc-bin grub-efi-amd64-bin grub-common mtools")
        }
        try? FileManager.default.createDirectory(atPath: isoRoot + "/boot/grub", withIntermediateDirectories: true)
        for (what, path, name) in [("kernel", boot.kernel, "vmlinuz"), ("initrd", boot.initrd, "initrd.img")] {
            let source = try bootFile(path, what: what, field: "iso.boot", in: rootfs)
            do { try FileManager.default.copyItem(atPath: source, toPath: isoRoot + "/boot/" + name) } catch {
                throw Diagnostic(at: nil, "cannot copy \(path) into the ISO: \(error.localizedDescription)")
            }
        }
        let config = """
            serial --unit=0 --speed=115200
            terminal_input serial console
            terminal_output serial console
            set timeout=1
            search --no-floppy --set=root --label \(label)
            menuentry "\(label)" {
              linux /boot/vmlinuz \(boot.cmdline)
              initrd /boot/initrd.img
            }

            """
        guard FileManager.default.createFile(atPath: isoRoot + "/boot/grub/grub.cfg", contents: Data(config.utf8)) else {
            throw Diagnostic(at: nil, "cannot write the ISO's grub.cfg")
        }
        return mkrescue
    }

    /// Sets the access and modification times of a tree (links themselves, not their targets) to `epoch`.
    static func pinTimes(_ root: String, _ epoch: Int64) {
        var times = [timespec(tv_sec: Int(epoch), tv_nsec: 0), timespec(tv_sec: Int(epoch), tv_nsec: 0)]
        let paths = (FileManager.default.subpaths(atPath: root) ?? []).map { root + "/" + $0 } + [root]
        for p in paths { _ = utimensat(AT_FDCWD, p, &times, AT_SYMLINK_NOFOLLOW) }
    }

    static func run(
        _ tool: String, _ args: [String], epoch: Int64, what: String, environment: [String: String] = [:]
    ) throws(Diagnostic) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        env["SOURCE_DATE_EPOCH"] = String(epoch)
        p.environment = env
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        do { try p.run() } catch { throw Diagnostic(at: nil, "cannot run \(tool): \(error.localizedDescription)") }
        let data = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw Diagnostic(at: nil, "\(what) failed (exit status \(p.terminationStatus)): \(String(decoding: data, as: UTF8.self).suffix(400))")
        }
    }
}
