import CosciModel

/// Everything a backend needs to build one package, as plain values: no tree, no graph, no cache.
public struct BuildJob: Sendable {
    public let id: PackageID
    public let key: CacheKey
    public let spec: BuildSpec
    /// The package directory, absolute.
    public let packageDirectory: String
    /// The files of the package directory to copy into `/luetbuild`, relative paths.
    public let files: [String]
    /// Artifacts (compressed tars) of the build dependencies, in dependency order (dependencies first): they
    /// are layered into the sysroot, later ones over earlier ones.
    public let dependencyArtifacts: [String]
    /// `copy:` entries whose source is a package, with that package's artifact.
    public let copies: [ResolvedCopy]
    /// `KEY=VALUE` entries of the spec's `env`, then `PACKAGE_NAME`, `PACKAGE_VERSION`, `PACKAGE_CATEGORY`.
    public let environment: [(String, String)]
    /// Whether the build may use the network.
    public let network: Bool
    /// The image to build FROM: the spec's `image:`, else the nearest build dependency's (luet chains a
    /// package's build onto its dependencies' images). Nil when none has one.
    public let baseImage: String?
    /// The base image's layers (compressed tars, bottom first), pulled by the caller: for the rootfs backend.
    public let baseLayers: [String]
    /// A scratch directory of the job's own (created and removed by the caller).
    public let workDirectory: String

    public init(
        id: PackageID, key: CacheKey, spec: BuildSpec, packageDirectory: String, files: [String],
        dependencyArtifacts: [String], copies: [ResolvedCopy], network: Bool, workDirectory: String,
        baseImage: String? = nil, baseLayers: [String] = []
    ) {
        self.baseLayers = baseLayers
        self.baseImage = (spec.image?.isEmpty == false ? spec.image : nil) ?? baseImage
        self.id = id
        self.key = key
        self.spec = spec
        self.packageDirectory = packageDirectory
        self.files = files
        self.dependencyArtifacts = dependencyArtifacts
        self.copies = copies
        self.network = network
        self.workDirectory = workDirectory
        var env: [(String, String)] = []
        for entry in spec.env {
            if let eq = entry.firstIndex(of: "=") {
                env.append((String(entry[..<eq]), String(entry[entry.index(after: eq)...])))
            } else {
                env.append((entry, ""))
            }
        }
        env += [("PACKAGE_NAME", id.name), ("PACKAGE_VERSION", id.version.text), ("PACKAGE_CATEGORY", id.category)]
        self.environment = env
    }

    /// The same job with the base image's layers.
    public func with(baseLayers layers: [String]) -> BuildJob {
        BuildJob(
            id: id, key: key, spec: spec, packageDirectory: packageDirectory, files: files, dependencyArtifacts: dependencyArtifacts,
            copies: copies, network: network, workDirectory: workDirectory, baseImage: baseImage, baseLayers: layers)
    }

    /// Where the package's files live inside the build: luet's working directory.
    public static let buildDirectory = "/luetbuild"
    /// Where the build dependencies' artifacts are unpacked, read-only, inside a host-sandbox build.
    public static let sysrootDirectory = "/cosci/sysroot"
}

/// A `copy:` entry whose source package is resolved to its artifact.
public struct ResolvedCopy: Sendable {
    public let package: PackageID
    public let artifact: String
    public let source: String
    public let destination: String

    public init(package: PackageID, artifact: String, source: String, destination: String) {
        self.package = package
        self.artifact = artifact
        self.source = source
        self.destination = destination
    }
}

/// What a backend hands back: a directory holding the files of the artifact, relative to the artifact's root.
public struct BuildOutput: Sendable {
    /// The directory whose contents become the artifact.
    public let root: String
    /// When set, only these relative paths (and the directories leading to them) may go in: the files the
    /// steps added or modified (luet's delta, with modifications kept). Nil: everything under `root`.
    public let changed: Set<String>?
    /// What the host adds to the owners of the files the steps wrote (`SandboxUsers.ownerOffset`): the artifact
    /// records them less it.
    public let ownerOffset: Int64

    public init(root: String, changed: Set<String>?, ownerOffset: Int64 = 0) {
        self.root = root
        self.changed = changed
        self.ownerOffset = ownerOffset
    }
}

/// Why a build failed. `log` is the package's log file (its tail is what a user reads first).
public struct BuildFailure: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// A prelude or step exited non-zero: the package's own failure.
        case step
        /// The build spec is wrong in a way only the build finds out (an invalid regex, a missing package_dir).
        case spec
        /// The package asks for something the backend cannot give (say which backend to use).
        case unsupported
        /// The machine could not run the build (sandbox, disk, a missing tool).
        case environment
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
