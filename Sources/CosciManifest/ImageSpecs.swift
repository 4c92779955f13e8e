import CosciModel
import CosciTemplate
import CosciYAML
import Foundation

/// An OS image spec (`images/*.yaml`): a base package (an `unpack: true` root filesystem), packages layered
/// on top, the layering, labels, and an optional ISO.
public struct ImageSpec: Sendable, Hashable {
    public enum Layers: String, Sendable { case squashed, perPackage = "per-package" }

    public struct ISO: Sendable, Hashable {
        public let label: String
        /// Extra files: destination in the ISO → source, relative to the spec's directory.
        public let files: [String: String]
        /// How the ISO boots (GRUB, BIOS and UEFI); nil: a data ISO of the root filesystem.
        public let boot: Boot?
    }

    /// How something boots the image: its kernel and initramfs (paths in the assembled root filesystem) and the
    /// kernel command line. A bootable ISO's (`iso.boot`) and an A/B disk's (`disk`; cosci adds
    /// `cosci.root=image:LABEL:PATH`, which the image's initramfs must honour).
    public struct Boot: Sendable, Hashable {
        public let kernel: String
        public let initrd: String
        public let cmdline: String

        public init(kernel: String, initrd: String, cmdline: String) {
            self.kernel = kernel
            self.initrd = initrd
            self.cmdline = cmdline
        }

        /// Reads `kernel`, `initrd` and `cmdline` of a mapping; `prefix` names the section in errors.
        init(_ node: YAMLNode, in doc: YAMLDocument, prefix: String) throws(Diagnostic) {
            guard case .mapping = node else {
                throw Diagnostic(at: doc.location(of: node), field: prefix, "expected a mapping with kernel, initrd and cmdline")
            }
            let f = FieldReader(doc: doc, node: node, prefix: prefix)
            let kernel = try f.optionalString("kernel") ?? "boot/vmlinuz"
            let initrd = try f.optionalString("initrd") ?? "boot/initrd.img"
            for (field, path) in [("kernel", kernel), ("initrd", initrd)] where path.isEmpty || path.split(separator: "/").contains("..") {
                throw Diagnostic(
                    at: doc.location(of: node.entry(field)), field: "\(prefix).\(field)",
                    "\"\(path)\" must be a path inside the image's root filesystem", hint: "e.g. boot/vmlinuz")
            }
            self.kernel = String(kernel.trimmingPrefix("/"))
            self.initrd = String(initrd.trimmingPrefix("/"))
            cmdline = try f.optionalString("cmdline") ?? "console=ttyS0"
        }
    }

    public struct Step: Sendable, Hashable {
        public let line: String
        /// Where it was written (`images/x.yaml:12`).
        public let location: SourceLocation
    }

    public let name: String
    public let description: String?
    public let base: PackageReference
    public let packages: [PackageReference]
    public let layers: Layers
    public let labels: [String: String]
    public let iso: ISO?
    /// An A/B raw disk to write (`--disk`), if any.
    public let disk: Boot?
    /// A directory of files laid over the packages (relative to the spec's directory): the image's own
    /// configuration. Recorded with git's modes and owner 0:0, so the image does not depend on the checkout.
    public let overlay: String?
    /// Shell lines run in the assembled root filesystem after the packages and the overlay (`sh -ec LINE`, no
    /// network), each with the line of the spec it was written on.
    public let steps: [Step]
    /// The spec file, relative to the project root.
    public let file: String

    /// Reads every `*.yaml` of the images directory (sorted by name).
    public static func load(directory: String, projectRoot: String) throws(Diagnostic) -> [ImageSpec] {
        let full = directory.hasPrefix("/") ? directory : projectRoot + "/" + directory
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: full) else { return [] }
        var out: [ImageSpec] = []
        for name in names.sorted() where name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
            let path = full + "/" + name
            let shown = path.hasPrefix(projectRoot + "/") ? String(path.dropFirst(projectRoot.count + 1)) : path
            out.append(try parse(try SourceText.decode(try ManifestFiles.read(path), file: shown), file: shown))
        }
        return out
    }

    /// Parses one spec.
    public static func parse(_ text: String, file: String) throws(Diagnostic) -> ImageSpec {
        let doc = try YAMLDocument(text: text, file: file)
        guard let root = doc.root, case .mapping = root else {
            throw Diagnostic(at: SourceLocation(file: file, line: 1), "an image spec must be a mapping with name and base")
        }
        let f = FieldReader(doc: doc, node: root, prefix: nil)
        func reference(_ text: String, _ field: String) throws(Diagnostic) -> PackageReference {
            do { return try PackageReference(parsing: text) } catch {
                throw Diagnostic(at: doc.location(of: root.entry(field)), field: field, error.description)
            }
        }
        let name = try f.requiredString("name")
        guard !name.isEmpty, name.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else {
            throw Diagnostic(at: doc.location(of: root.entry("name")), field: "name", "\"\(name)\" is not a valid image name (lowercase letters, digits, . _ -)")
        }
        let base = try reference(try f.requiredString("base"), "base")
        var packages: [PackageReference] = []
        for (i, p) in try f.strings("packages").enumerated() { packages.append(try reference(p, "packages[\(i)]")) }
        let layersText = try f.optionalString("layers") ?? "squashed"
        guard let layers = Layers(rawValue: layersText) else {
            throw Diagnostic(at: doc.location(of: root.entry("layers")), field: "layers", "expected squashed or per-package, found \"\(layersText)\"")
        }
        var labels: [String: String] = [:]
        if let l = root.entry("labels"), case .mapping = l {
            for (k, v) in (try? l.value(in: doc))?.mapValue ?? [:] { labels[k] = v.scalarText ?? "" }
        }
        var iso: ISO?
        if let node = root.entry("iso"), case .mapping = node {
            let g = FieldReader(doc: doc, node: node, prefix: "iso")
            var files: [String: String] = [:]
            if let fnode = node.entry("files"), case .mapping = fnode {
                for (k, v) in (try? fnode.value(in: doc))?.mapValue ?? [:] { files[k] = v.scalarText ?? "" }
            }
            let boot = try node.entry("boot").map { (b) throws(Diagnostic) in try Boot(b, in: doc, prefix: "iso.boot") }
            iso = ISO(label: try g.optionalString("label") ?? name.uppercased(), files: files, boot: boot)
        }
        let disk = try root.entry("disk").map { (d) throws(Diagnostic) in try Boot(d, in: doc, prefix: "disk") }
        let overlay = try f.optionalString("overlay")
        if let overlay, overlay.isEmpty || overlay.hasPrefix("/") || overlay.split(separator: "/").contains("..") {
            throw Diagnostic(
                at: doc.location(of: root.entry("overlay")), field: "overlay",
                "\"\(overlay)\" must be a directory inside the project, relative to the spec's directory", hint: "e.g. overlay: files/sampleos")
        }
        var steps: [Step] = []
        let stepNodes: [YAMLNode]
        if case .sequence(let items, _)? = root.entry("steps") { stepNodes = items } else { stepNodes = [] }
        for (i, line) in try f.strings("steps").enumerated() {
            steps.append(Step(line: line, location: doc.location(of: stepNodes[i]) ?? SourceLocation(file: file, line: 0)))
        }
        return ImageSpec(
            name: name, description: try f.optionalString("description"), base: base, packages: packages, layers: layers,
            labels: labels, iso: iso, disk: disk, overlay: overlay, steps: steps, file: file)
    }
}

/// A release channel (`channels/*.yaml`): where its releases go and what they hold.
public struct ChannelSpec: Sendable, Hashable {
    public let name: String
    public let description: String?
    /// The registry repository of the channel, e.g. `cos/releases-green` (the registry host comes from the target).
    public let repository: String
    public let flavor: String?
    public let images: [String]
    /// `category/name` patterns (`*` matches any run of characters) of the packages the channel carries.
    public let packages: [String]
    public let file: String

    public static func load(directory: String, projectRoot: String) throws(Diagnostic) -> [ChannelSpec] {
        let full = directory.hasPrefix("/") ? directory : projectRoot + "/" + directory
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: full) else { return [] }
        var out: [ChannelSpec] = []
        for name in names.sorted() where name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
            let path = full + "/" + name
            let shown = path.hasPrefix(projectRoot + "/") ? String(path.dropFirst(projectRoot.count + 1)) : path
            let doc = try YAMLDocument(text: try SourceText.decode(try ManifestFiles.read(path), file: shown), file: shown)
            guard let root = doc.root, case .mapping = root else {
                throw Diagnostic(at: SourceLocation(file: shown, line: 1), "a channel must be a mapping with name and repository")
            }
            let f = FieldReader(doc: doc, node: root, prefix: nil)
            out.append(ChannelSpec(
                name: try f.requiredString("name"), description: try f.optionalString("description"),
                repository: try f.requiredString("repository"), flavor: try f.optionalString("flavor"),
                images: try f.strings("images"), packages: try f.strings("packages"), file: shown))
        }
        return out
    }

    /// Whether the channel carries a package family (`category/name`).
    public func carries(_ family: String) -> Bool {
        packages.isEmpty || packages.contains { Self.glob($0, family) }
    }

    static func glob(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern), t = Array(text)
        func match(_ i: Int, _ j: Int) -> Bool {
            if i == p.count { return j == t.count }
            if p[i] == "*" { return (j...t.count).contains { match(i + 1, $0) } }
            return j < t.count && p[i] == t[j] && match(i + 1, j + 1)
        }
        return match(0, 0)
    }
}
