#if canImport(Glibc)
    import Glibc
#endif
import CosciManifest
import CosciModel
import Foundation

/// Settings given on the command line; nil means "not given".
public struct ProjectFlags: Sendable {
    public var tree: String?
    public var values: [String] = []
    public var flavor: String?
    public var platform: String?
    public var jobs: Int?

    public init(tree: String? = nil, values: [String] = [], flavor: String? = nil, platform: String? = nil, jobs: Int? = nil) {
        self.tree = tree
        self.values = values
        self.flavor = flavor
        self.platform = platform
        self.jobs = jobs
    }
}

/// The project a command works on, with every setting resolved: flags win over `COSCI_*` environment
/// variables, which win over `cosci.yaml`, which wins over the embedded defaults.
public struct Project: Sendable {
    /// The project root, as an absolute path.
    public let root: String
    /// The config file, if one was found (absolute path).
    public let configFile: String?
    public let config: ProjectConfig
    /// The package tree relative to the root.
    public let tree: String
    /// Values files in application order, relative to the root when inside it, else absolute.
    public let valuesFiles: [String]
    public let flavor: String?
    public let platform: Platform
    public let jobs: Int
    /// Warnings from reading the configuration.
    public let warnings: [Diagnostic]

    /// Finds and reads the project. `--tree DIR` (or `COSCI_TREE`) names the project root when DIR holds a
    /// `cosci.yaml`, else the package tree itself; without it, `cosci.yaml` is searched from `cwd` upwards,
    /// and failing that the working directory is the tree.
    public static func resolve(
        _ flags: ProjectFlags, environment: [String: String], cwd: String
    ) throws(Diagnostic) -> Project {
        let env = { (name: String) -> String? in
            guard let v = environment["COSCI_" + name], !v.isEmpty else { return nil }
            return v
        }
        var root: String
        var configFile: String?
        if let tree = flags.tree ?? env("TREE") {
            root = absolute(tree, cwd: cwd)
            let candidate = root + "/" + ProjectConfig.fileName
            if isFile(candidate) { configFile = candidate }
        } else {
            root = cwd
            var dir = cwd
            while true {
                let candidate = (dir == "/" ? "" : dir) + "/" + ProjectConfig.fileName
                if isFile(candidate) {
                    root = dir
                    configFile = candidate
                    break
                }
                guard let slash = dir.lastIndex(of: "/"), dir != "/" else { break }
                dir = slash == dir.startIndex ? "/" : String(dir[..<slash])
            }
        }

        var config = ProjectConfig()
        var warnings: [Diagnostic] = []
        if let configFile {
            let text = try ManifestFiles.text(configFile, shown: ProjectConfig.fileName)
            (config, warnings) = try ProjectConfig.parse(text, file: ProjectConfig.fileName)
        }

        let flavor = flags.flavor ?? env("FLAVOR") ?? config.flavor
        if flavor == "all" {
            throw Diagnostic(
                at: nil, field: "flavor", "--flavor all plans every flavor; only `cosci plan` takes it",
                hint: "name one flavor: \(config.flavors.keys.sorted().joined(separator: ", "))")
        }
        var values = config.values
        if let flavor {
            guard let flavorValues = config.flavors[flavor] else {
                let known = config.flavors.keys.sorted()
                throw Diagnostic(
                    at: configFile.map { _ in SourceLocation(file: ProjectConfig.fileName, line: 0) }, field: "flavors",
                    "unknown flavor \"\(flavor)\"",
                    hint: known.isEmpty
                        ? "define flavors in cosci.yaml under `flavors:`" : "known flavors: \(known.joined(separator: ", "))")
            }
            values += flavorValues
        }
        let extra = flags.values.isEmpty ? (env("VALUES")?.split(separator: ",").map(String.init) ?? []) : flags.values
        values += extra.map { relativeIfInside(absolute($0, cwd: cwd), root: root) }

        let platformText = flags.platform ?? env("PLATFORM") ?? config.platform ?? config.platforms.first
        let platform: Platform
        if let platformText {
            do { platform = try Platform(parsing: platformText) } catch {
                throw Diagnostic(at: nil, field: "platform", error.description)
            }
        } else {
            platform = .linuxAMD64
        }
        let jobs = flags.jobs ?? env("JOBS").flatMap(Int.init) ?? 0
        return Project(
            root: root, configFile: configFile, config: config, tree: config.tree,
            valuesFiles: values, flavor: flavor, platform: platform, jobs: jobs, warnings: warnings)
    }

    /// The cache directory (absolute): `--cache`/`COSCI_CACHE`… is resolved by commands; this is cosci.yaml's
    /// `cache:` or `.cosci/cache`, relative to the project root.
    public var cacheRoot: String {
        Project.absolute(config.cache ?? ".cosci/cache", cwd: root)
    }

    /// The same project for another platform.
    public func with(platform: Platform) -> Project {
        Project(
            root: root, configFile: configFile, config: config, tree: tree, valuesFiles: valuesFiles, flavor: flavor, platform: platform,
            jobs: jobs, warnings: warnings)
    }

    /// The lock file pinning base images (`cosci lock`): `cosci.lock` in the project root.
    public var lockFile: String { root + "/cosci.lock" }

    /// Base image references pinned by the lock file, with their digests (empty without a lock file). A key
    /// hashes `reference@digest` for a pinned image, the reference as written otherwise.
    public var lockedImages: [String: Digest] {
        guard let data = FileManager.default.contents(atPath: lockFile),
            let doc = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let images = doc["images"] as? [String: String]
        else { return [:] }
        return images.compactMapValues { try? Digest(parsing: $0) }
    }

    /// Where parsed package directories are remembered between runs.
    public var loadMemoFile: String { cacheRoot + "/tree/load-memo" }

    /// Where summaries of analysed commits are kept for change detection.
    public var summaryDirectory: String { cacheRoot + "/tree/summaries" }

    /// Where blob ids of work tree files are remembered between runs.
    public var blobIDFile: String { cacheRoot + "/tree/blob-ids" }

    /// The load options for this project.
    public var loadOptions: LoadOptions {
        LoadOptions(projectRoot: root, tree: tree, valuesFiles: valuesFiles, jobs: jobs)
    }

    /// The output directory cosci.yaml names (`output:`), else `dist`, absolute.
    public var outputDirectory: String { Project.absolute(config.output ?? "dist", cwd: root) }

    static func absolute(_ path: String, cwd: String) -> String {
        var p = path.hasPrefix("/") ? path : (cwd == "/" ? "/" + path : cwd + "/" + path)
        // Normalise `.` and `..` components and trailing slashes.
        var parts: [Substring] = []
        for c in p.split(separator: "/") {
            if c == "." { continue }
            if c == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(c)
        }
        p = "/" + parts.joined(separator: "/")
        return p
    }

    static func relativeIfInside(_ path: String, root: String) -> String {
        let prefix = root == "/" ? "/" : root + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }

    static func isFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }
}
