#if canImport(Glibc)
    import Glibc
#endif
import CosciGit
import CosciManifest
import CosciRepository
import CosciModel
import CosciTemplate
import Foundation

/// Settings given on the command line; nil means "not given".
public struct ProjectFlags: Sendable {
    public var tree: String?
    public var values: [String] = []
    public var flavor: String?
    public var platform: String?
    public var jobs: Int?
    /// `--cache DIR` (a local directory; a shared `docker://`/`oci:` cache is not the project's cache root).
    public var cache: String?
    /// `--output DIR`.
    public var output: String?
    /// `--jobs N`: parallel builds.
    public var buildJobs: Int?
    /// `--source-date-epoch SECONDS`.
    public var sourceDateEpoch: Int64?

    public init(
        tree: String? = nil, values: [String] = [], flavor: String? = nil, platform: String? = nil, jobs: Int? = nil,
        cache: String? = nil, output: String? = nil
    ) {
        self.tree = tree
        self.values = values
        self.flavor = flavor
        self.platform = platform
        self.jobs = jobs
        self.cache = cache
        self.output = output
    }
}

/// One resolved setting, with where its value came from (what `cosci config` prints).
public struct Setting: Sendable, Equatable {
    /// Where a value came from, strongest first.
    public enum Source: String, Sendable {
        case flag, environment, config = "cosci.yaml", `default`
    }

    /// The option's name (`cache`); its environment variable is `COSCI_` + the name upper-cased.
    public let name: String
    public let value: String
    public let source: Source

    /// `COSCI_CACHE` for `cache`.
    public var environmentVariable: String { "COSCI_" + name.uppercased().replacingOccurrences(of: "-", with: "_") }
}

/// What the project's git repository says, read once when the project is resolved (one open of the
/// repository per command; change detection opens its own handle for the history it walks).
public struct Checkout: Sendable, Equatable {
    /// The repository's working directory, without a trailing slash.
    public let workdir: String
    /// The head commit's id (nil on an unborn branch).
    public let head: String?
    /// The head commit's committer time.
    public let headTime: Int64?
    /// The `origin` remote's URL as configured; it may carry credentials, so redact it before showing it.
    public let originURL: String?

    /// Reads the repository that holds `path`; nil outside one (or for a bare repository).
    static func read(at path: String) -> Checkout? {
        guard let repo = try? GitRepository(discoveringFrom: path), let workdir = repo.workdir else { return nil }
        let head = try? repo.commit("HEAD")
        return Checkout(
            workdir: workdir, head: head?.hex, headTime: head.flatMap { try? repo.commitTime($0) }, originURL: repo.remoteURL("origin"))
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
    /// The package trees relative to the root (cosci.yaml `tree:`; one or more, none inside another).
    public var trees: [String] { config.trees }
    /// Values files in application order, relative to the root when inside it, else absolute.
    public let valuesFiles: [String]
    public let flavor: String?
    public let platform: Platform
    public let jobs: Int
    /// Parallel builds (`--jobs`, `COSCI_JOBS`); nil: one per core.
    public let buildJobs: Int?
    /// The local artifact cache directory, absolute: `--cache`, `COSCI_CACHE`, cosci.yaml `cache:`, `.cosci/cache`.
    public let cacheRoot: String
    /// The output directory, absolute: `--output`, `COSCI_OUTPUT`, cosci.yaml `output:`, `dist`.
    public let outputDirectory: String
    /// The build's clock, in seconds since the Unix epoch: artifact times are clamped to it and templates'
    /// `now` returns it. `--source-date-epoch`, `SOURCE_DATE_EPOCH`, the head commit's time, else 0.
    public let sourceDateEpoch: Int64
    /// What build specs may read when rendered: the epoch and the environment variables cosci.yaml allows
    /// (`environment:`), with their values here.
    public let renderEnvironment: RenderEnvironment
    /// `cosci.lock`, read once: the base images and upstream repositories the project is pinned to.
    public let lock: LockFile
    /// The git checkout the project is in (nil outside a repository).
    public let checkout: Checkout?
    /// Every setting resolved here, with its source, in a fixed order.
    public let settings: [Setting]
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
            // No cosci.yaml here or above: the working directory must be a package tree itself. A project
            // further down (the sample in `manifest/`) is named in the hint rather than loading whatever
            // fixtures lie around it.
            if configFile == nil {
                let below = TreeSearch.configFiles(under: cwd, depth: 3)
                if !below.isEmpty {
                    let dirs = below.map { relativeIfInside(TreeSearch.parent(of: $0), root: cwd) }
                    throw Diagnostic(
                        at: nil, "no \(ProjectConfig.fileName) in \(cwd) or above, but one below",
                        hint: "did you mean --tree \(dirs[0])?\(dirs.count > 1 ? " (also: \(dirs.dropFirst().joined(separator: ", ")))" : "")",
                        kind: .usage)
                }
                if !TreeSearch.holdsPackage(cwd) {
                    throw Diagnostic(
                        at: nil, "no package tree here: \(cwd) holds no \(ProjectConfig.fileName) and no package (definition.yaml or collection.yaml with build.yaml)",
                        hint: "run cosci in a project (a directory with \(ProjectConfig.fileName)), or name one with --tree DIR",
                        kind: .tree)
                }
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
                hint: "name one flavor: \(config.flavors.keys.sorted().joined(separator: ", "))", kind: .usage)
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
                throw Diagnostic(at: nil, field: "platform", error.description, kind: .usage)
            }
        } else {
            platform = .linuxAMD64
        }
        let jobs = flags.jobs ?? env("LOAD_JOBS").flatMap(Int.init) ?? 0

        // One place for each setting: flag, then COSCI_<NAME>, then cosci.yaml, then the default.
        var settings: [Setting] = []
        func setting(_ name: String, flag: String?, config: String?, default fallback: String) -> Setting {
            let s: Setting
            if let flag { s = Setting(name: name, value: flag, source: .flag) }
            else if let e = env(name.uppercased().replacingOccurrences(of: "-", with: "_")) {
                s = Setting(name: name, value: e, source: .environment)
            }
            else if let config { s = Setting(name: name, value: config, source: .config) }
            else { s = Setting(name: name, value: fallback, source: .default) }
            settings.append(s)
            return s
        }
        // Paths given on the command line or in the environment are relative to the working directory; paths in
        // cosci.yaml and defaults, to the project root.
        func path(_ s: Setting) -> String {
            let resolved = absolute(s.value, cwd: s.source == .flag || s.source == .environment ? cwd : root)
            settings[settings.count - 1] = Setting(name: s.name, value: resolved, source: s.source)
            return resolved
        }
        settings.append(Setting(name: "tree", value: root, source: flags.tree != nil ? .flag : env("TREE") != nil ? .environment : .default))
        settings.append(Setting(name: "config", value: configFile ?? "(none)", source: configFile == nil ? .default : .config))
        settings.append(
            Setting(name: "trees", value: config.trees.joined(separator: ","), source: config.trees == ["."] ? .default : .config))
        _ = setting("flavor", flag: flags.flavor, config: config.flavor, default: "(none)")
        _ = setting("platform", flag: flags.platform, config: config.platform ?? config.platforms.first, default: Platform.linuxAMD64.description)
        _ = setting("load-jobs", flag: flags.jobs.map(String.init), config: nil, default: "0 (all cores)")
        let buildJobs = Int(setting("jobs", flag: flags.buildJobs.map(String.init), config: nil, default: "0 (all cores)").value)
        let cache = path(setting("cache", flag: flags.cache, config: config.cache, default: ".cosci/cache"))
        let output = path(setting("output", flag: flags.output, config: config.output, default: "dist"))
        settings.append(
            Setting(
                name: "values", value: values.isEmpty ? "(none)" : values.joined(separator: ","),
                source: !flags.values.isEmpty ? .flag : env("VALUES") != nil ? .environment : values.isEmpty ? .default : .config))
        let checkout = Checkout.read(at: root)
        let epoch = try sourceDateEpoch(flags.sourceDateEpoch, environment: environment, checkout: checkout)
        settings.append(epoch.setting)
        var variables: [String: String] = [:]
        for name in config.environment { variables[name] = environment[name] ?? "" }
        settings.append(
            Setting(
                name: "environment", value: config.environment.isEmpty ? "(none)" : config.environment.joined(separator: ","),
                source: config.environment.isEmpty ? .default : .config))
        let lock = try LockFile.read(root + "/" + LockFile.fileName)
        return Project(
            root: root, configFile: configFile, config: config,
            valuesFiles: values, flavor: flavor, platform: platform, jobs: jobs, buildJobs: buildJobs.flatMap { $0 > 0 ? $0 : nil },
            cacheRoot: cache, outputDirectory: output, sourceDateEpoch: epoch.value,
            renderEnvironment: RenderEnvironment(epoch: epoch.value, variables: variables), lock: lock, checkout: checkout,
            settings: settings, warnings: warnings)
    }

    /// `SOURCE_DATE_EPOCH`: the flag, the environment variable, the head commit's committer time, else 0.
    static func sourceDateEpoch(
        _ flag: Int64?, environment: [String: String], checkout: Checkout?
    ) throws(Diagnostic) -> (value: Int64, setting: Setting) {
        let name = "source-date-epoch"
        if let flag { return (flag, Setting(name: name, value: String(flag), source: .flag)) }
        if let text = environment["SOURCE_DATE_EPOCH"], !text.isEmpty {
            guard let e = Int64(text), e >= 0 else {
                throw Diagnostic(
                    at: nil, "SOURCE_DATE_EPOCH=\(text) is not a number of seconds", hint: "unset it or set e.g. 1700000000",
                    kind: .usage)
            }
            return (e, Setting(name: name, value: text, source: .environment))
        }
        if let time = checkout?.headTime {
            return (time, Setting(name: name, value: "\(time) (the head commit's time)", source: .default))
        }
        return (0, Setting(name: name, value: "0 (no git history)", source: .default))
    }

    /// The same project for another platform.
    public func with(platform: Platform) -> Project {
        Project(
            root: root, configFile: configFile, config: config, valuesFiles: valuesFiles, flavor: flavor, platform: platform,
            jobs: jobs, buildJobs: buildJobs, cacheRoot: cacheRoot, outputDirectory: outputDirectory, sourceDateEpoch: sourceDateEpoch,
            renderEnvironment: renderEnvironment, lock: lock, checkout: checkout, settings: settings, warnings: warnings)
    }

    /// The same project after its lock file was written with `lock`.
    public func with(lock: LockFile) -> Project {
        Project(
            root: root, configFile: configFile, config: config, valuesFiles: valuesFiles, flavor: flavor, platform: platform,
            jobs: jobs, buildJobs: buildJobs, cacheRoot: cacheRoot, outputDirectory: outputDirectory, sourceDateEpoch: sourceDateEpoch,
            renderEnvironment: renderEnvironment, lock: lock, checkout: checkout, settings: settings, warnings: warnings)
    }

    /// The lock file pinning base images and repositories (`cosci lock`): `cosci.lock` in the project root.
    public var lockFile: String { root + "/" + LockFile.fileName }

    /// Base image references pinned by the lock file, with their digests (empty without a lock file). A key
    /// hashes `reference@digest` for a pinned image, the reference as written otherwise.
    public var lockedImages: [String: Digest] { lock.images }

    /// Upstream repositories pinned by the lock file (`cosci lock`), by name.
    public var lockedRepositories: [String: LockFile.Repository] { lock.repositories }

    /// Where parsed package directories are remembered between runs.
    public var loadMemoFile: String { cacheRoot + "/tree/load-memo" }

    /// Where summaries of analysed commits are kept for change detection.
    public var summaryDirectory: String { cacheRoot + "/tree/summaries" }

    /// Where blob ids of work tree files are remembered between runs.
    public var blobIDFile: String { cacheRoot + "/tree/blob-ids" }

    /// The project root relative to its git repository's root ("" at the root, `manifest` below it; nil
    /// outside a repository): how CI systems, which work from the repository root, name its files.
    public var pathInRepository: String? {
        guard let workdir = checkout?.workdir else { return nil }
        if root == workdir { return "" }
        return root.hasPrefix(workdir + "/") ? String(root.dropFirst(workdir.count + 1)) : nil
    }

    /// What a repository's `compilertree` archive holds: the project's trees.
    public var compilerTree: CompilerTree { CompilerTree(root: root, prefixes: trees.map(TreePaths.prefix)) }

    /// The load options for this project.
    public var loadOptions: LoadOptions {
        LoadOptions(projectRoot: root, trees: trees, valuesFiles: valuesFiles, jobs: jobs, render: renderEnvironment)
    }

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

/// Bounded looks at a directory before anything loads it.
enum TreeSearch {
    static let skipped: Set<String> = [".git", ".build", ".cosci", "node_modules", "dist"]

    /// `cosci.yaml` files below `root` (not in it), at most `depth` levels down, shallowest first.
    static func configFiles(under root: String, depth: Int) -> [String] {
        var found: [String] = []
        var level = [root]
        for _ in 0..<depth {
            var next: [String] = []
            for dir in level {
                for name in ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
                where !skipped.contains(name) && !name.hasPrefix(".") && !name.hasPrefix(".build") {
                    let path = dir + "/" + name
                    var isDirectory: ObjCBool = false
                    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
                    if FileManager.default.fileExists(atPath: path + "/" + ProjectConfig.fileName) { found.append(path + "/" + ProjectConfig.fileName) }
                    next.append(path)
                }
            }
            if !found.isEmpty { return found }
            level = next
        }
        return found
    }

    /// Whether some directory under `root` holds `build.yaml` with `definition.yaml` or `collection.yaml`. Gives
    /// up (answering yes) after 50,000 entries, so a large directory is never walked whole.
    static func holdsPackage(_ root: String) -> Bool {
        var budget = 50_000
        var stack = [root]
        while let dir = stack.popLast() {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            budget -= names.count
            if budget < 0 { return true }
            let set = Set(names)
            if set.contains("build.yaml") && (set.contains("definition.yaml") || set.contains("collection.yaml")) { return true }
            for name in names where !skipped.contains(name) && !name.hasPrefix(".") {
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: dir + "/" + name, isDirectory: &isDirectory), isDirectory.boolValue {
                    stack.append(dir + "/" + name)
                }
            }
        }
        return false
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return String(path[..<slash])
    }
}
