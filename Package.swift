// swift-tools-version:6.0
import PackageDescription

// Dependencies point down: cosci (command line) → engines → adapters/core → CosciModel.
// The pure core (CosciModel, CosciTemplate, CosciPlanner) imports no C module and does no I/O.
let package = Package(
    name: "cosci",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cosci", targets: ["cosci"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // MARK: C libraries (module map over a shim header; no Swift)
        .systemLibrary(
            name: "CGit2", pkgConfig: "libgit2",
            providers: [.apt(["libgit2-dev"])]),
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(
            name: "CArchive", pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"])]),

        /** Starting bubblewrap in a user namespace of cosci's own (fork and exec, which Swift cannot do safely). */
        .target(name: "CSandbox"),

        /** File system primitives: atomic writes and copies, and finding what dead processes left behind. */
        .target(name: "CosciFiles"),

        // MARK: Pure core
        /** Value types: PackageID, Version, VersionSelector, Digest, CacheKey, Value, canonical JSON. */
        .target(
            name: "CosciModel",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            exclude: ["README.md"]),
        /** YAML: the bounded composer over libyaml events (the copy Yams embeds as `CYaml`, imported here and
            nowhere else), YAML 1.1 scalar typing, `Value` conversion and the yaml.v2-style writer. */
        .target(name: "CosciYAML", dependencies: ["CosciModel", .product(name: "Yams", package: "Yams")]),
        /** A Go text/template engine with the sprig functions luet trees use. Pure. */
        .target(
            name: "CosciTemplate",
            dependencies: ["CosciModel", "CosciYAML"],
            exclude: ["README.md"]),
        /** The build graph, cache keys (scheme v1), explanations. Pure. */
        .target(
            name: "CosciPlanner",
            dependencies: ["CosciModel"],
            exclude: ["README.md"]),

        // MARK: Loading and adapters
        /** Tree loading: definition/collection/build.yaml, values, templates, diagnostics with file:line. */
        .target(
            name: "CosciManifest",
            dependencies: [
                "CosciModel", "CosciTemplate", "CosciYAML", "CosciFiles",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["README.md"]),
        /** libgit2 adapter. */
        .target(name: "CosciGit", dependencies: ["CosciModel", "CGit2"], exclude: ["README.md"]),
        /** libarchive adapter: reproducible tar.zst/tar.gz writing, listing, safe unpacking. */
        .target(
            name: "CosciArchive",
            dependencies: ["CosciModel", "CArchive", .product(name: "Crypto", package: "swift-crypto")]),
        /** OCI image documents as Codable types (descriptor, manifest, index, configuration) and the canonical
            JSON cosci writes them in. Pure. */
        .target(name: "CosciImage", dependencies: ["CosciModel"]),
        /** OCI registry client over libcurl, OCI image layouts, credentials. */
        .target(
            name: "CosciRegistry",
            dependencies: ["CosciModel", "CosciImage", "CosciFiles", "CCurl", .product(name: "Crypto", package: "swift-crypto")]),

        /** Build backends (bubblewrap host sandbox, podman), the worker pool scheduler, artifact assembly. */
        .target(
            name: "CosciBuild",
            dependencies: ["CosciModel", "CosciArchive", "CSandbox"]),
        /** luet-compatible repository metadata: artifact metadata files and the repository index. Pure
            except for writing the files it is asked to write. */
        .target(
            name: "CosciRepository",
            dependencies: ["CosciModel", "CosciArchive", "CosciYAML", "CosciFiles"]),

        // MARK: Engine
        /** Wires loading, planning and adapters into what the commands do; renders reports. */
        .target(
            name: "CosciEngine",
            dependencies: [
                "CosciModel", "CosciManifest", "CosciPlanner", "CosciGit", "CosciArchive", "CosciImage", "CosciRegistry", "CosciBuild",
                "CosciRepository", "CosciFiles", "CosciYAML", "CosciTemplate",
            ],
            exclude: ["README.md"]),

        // MARK: Command line
        .executableTarget(
            name: "cosci",
            dependencies: [
                "CosciModel", "CosciPlanner", "CosciEngine", "CosciFiles", "CosciArchive", "CosciBuild", "CosciRepository",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        /** The fuzz target of the YAML and template front ends (`scripts/fuzz`); built plainly, a corpus replayer. */
        .executableTarget(name: "cosci-fuzz", dependencies: ["CosciModel", "CosciTemplate", "CosciYAML"]),

        // MARK: Tests
        /** What tests share: the one process runner, the binary locator, the git fixture, loopback servers. */
        .target(name: "CosciTestSupport", path: "Tests/CosciTestSupport", exclude: ["Fixtures"]),
        .testTarget(name: "CosciModelTests", dependencies: ["CosciModel"]),
        .testTarget(name: "CosciTemplateTests", dependencies: ["CosciTemplate", "CosciYAML", "CosciModel"]),
        .testTarget(name: "CosciManifestTests", dependencies: ["CosciManifest", "CosciModel", "CosciTemplate", "CosciTestSupport"]),
        .testTarget(name: "CosciPlannerTests", dependencies: ["CosciPlanner", "CosciModel"]),
        .testTarget(name: "CosciArchiveTests", dependencies: ["CosciArchive", "CosciModel", "CosciTestSupport"]),
        .testTarget(name: "CosciBuildTests", dependencies: ["CosciBuild", "CosciArchive", "CosciModel", "CosciTestSupport"]),
        .testTarget(name: "CosciRepositoryTests", dependencies: ["CosciRepository", "CosciArchive", "CosciYAML", "CosciModel"]),
        .testTarget(name: "CosciRegistryTests", dependencies: ["CosciRegistry", "CosciImage", "CosciModel", "CosciTestSupport"]),
        .testTarget(name: "CosciImageTests", dependencies: ["CosciImage", "CosciModel"]),
        .testTarget(name: "CosciGitTests", dependencies: ["CosciGit", "CosciTestSupport"]),
        .testTarget(name: "CosciEngineTests", dependencies: ["CosciEngine", "CosciBuild", "CosciPlanner", "CosciManifest", "CosciGit", "CosciModel", "CosciTemplate", "CosciTestSupport"]),
        .testTarget(name: "CosciCLITests", dependencies: ["CosciModel", "CosciTestSupport"]),
        /** End to end: the built binary against real registries, pipelines as CI runs them, luet-style clients. */
        .testTarget(name: "CosciEndToEndTests", dependencies: ["CosciTestSupport"]),
    ]
)
