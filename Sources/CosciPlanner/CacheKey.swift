import CosciModel

/// Everything that goes into one package's cache key (scheme v1), kept so `cosci explain` can show it.
///
/// ```
/// key(p) = framed SHA-256 of, in this order (each name and value length-framed):
///   "cosci-key/1"
///   "platform"  os/arch[/variant]
///   "spec"      sha256 of the canonical JSON of p's rendered build spec (volatile fields dropped)
///   "stanza"    sha256 of the canonical JSON of p's own definition stanza
///   "content"   digest of p's package directory (ContentEntry.directoryDigest)
///   "image"     the base image: its digest when pinned or locked, else the reference as written, else ""
///   "deps"      the number of build dependencies, then each dependency's key, sorted (an upstream
///               dependency's key is `upstreamKey`: its id and artifact sha256)
/// ```
/// Siblings never couple: a key depends only on the package and the keys of its own dependencies.
public struct CacheKeyComponents: Sendable {
    /// The scheme tag, framed first. Changing anything in this computation means a new tag.
    public static let scheme = "cosci-key/1"

    public let id: PackageID
    public let platform: Platform
    /// Digest of the canonical JSON of the rendered build spec (`PackageSpec.specJSON`).
    public let specDigest: Digest
    /// Digest of the canonical JSON of the stanza (`PackageSpec.stanzaJSON`).
    public let stanzaDigest: Digest
    public let contentDigest: Digest
    /// The base image field as hashed ("" when the package has no `image:`).
    public let image: String
    /// The dependencies' keys, sorted by key.
    public let dependencyKeys: [(id: PackageID, key: CacheKey)]
    /// The key.
    public let key: CacheKey
}

/// Computes cache keys for a build graph, dependencies first.
public enum CacheKeys {
    /// Keys for every package in `graph.order`. `images` maps base image references to pinned digests
    /// (from a lock file or a registry); a reference that already carries `@sha256:` is used as it is.
    public static func compute(
        _ graph: BuildGraph, platform: Platform, images: [String: Digest] = [:]
    ) -> [PackageID: CacheKeyComponents] {
        var out: [PackageID: CacheKeyComponents] = [:]
        for id in graph.order {
            guard let spec = graph.packages[id] else { continue }
            var deps = graph.dependencies(of: id).compactMap { dep in out[dep].map { (id: dep, key: $0.key) } }
            deps += graph.upstreamDependencies(of: id).map { (id: $0.id, key: upstreamKey($0)) }
            deps.sort { $0.key.hex < $1.key.hex }
            out[id] = components(spec, platform: platform, images: images, dependencyKeys: deps)
        }
        return out
    }

    /// The key an upstream package stands for among its dependents' dependency keys: its id and its published
    /// artifact's sha256, so a re-release upstream moves exactly the keys of the packages that use it.
    public static func upstreamKey(_ package: UpstreamPackage) -> CacheKey {
        var h = FramedHasher()
        h.add("cosci-upstream/1")
        h.add(package.id.description)
        h.add(package.sha256.description)
        return CacheKey(h.finalize())
    }

    /// The key of one package given its dependencies' keys.
    public static func components(
        _ spec: PackageSpec, platform: Platform, images: [String: Digest], dependencyKeys: [(id: PackageID, key: CacheKey)]
    ) -> CacheKeyComponents {
        let image = hashedImage(spec.build.image, images: images)
        let sortedDeps = dependencyKeys.sorted { $0.key.hex < $1.key.hex }
        let key = key(
            platform: platform, specDigest: spec.specDigest, stanzaDigest: spec.stanzaDigest, contentDigest: spec.contentDigest,
            image: image, dependencyKeys: sortedDeps.map(\.key))
        return CacheKeyComponents(
            id: spec.id, platform: platform, specDigest: spec.specDigest, stanzaDigest: spec.stanzaDigest,
            contentDigest: spec.contentDigest, image: image, dependencyKeys: sortedDeps, key: key)
    }

    /// The base image field as a key hashes it: the reference with its pinned digest when `images` pins it
    /// (or as written when it already carries `@sha256:`), else as written; "" without an image.
    public static func hashedImage(_ image: String?, images: [String: Digest]) -> String {
        guard let ref = image else { return "" }
        if ref.contains("@sha256:") { return ref }
        return images[ref].map { "\(ref)@\($0)" } ?? ref
    }

    /// The key from its parts (see `CacheKeyComponents`); `dependencyKeys` in any order.
    public static func key(
        platform: Platform, specDigest: Digest, stanzaDigest: Digest, contentDigest: Digest, image: String, dependencyKeys: [CacheKey]
    ) -> CacheKey {
        let sorted = dependencyKeys.sorted { $0.hex < $1.hex }
        var h = FramedHasher()
        h.add(CacheKeyComponents.scheme)
        h.add("platform", platform.description)
        h.add("spec", specDigest.description)
        h.add("stanza", stanzaDigest.description)
        h.add("content", contentDigest.description)
        h.add("image", image)
        h.add("deps", String(sorted.count))
        for d in sorted { h.add(d.description) }
        return CacheKey(h.finalize())
    }
}

/// What build dependency resolution reads of a package (`BuildGraph.resolve`): its id, what it provides,
/// its `requires`, `copy[].package` and runtime requirements, and `requires_final_images`. Two trees whose
/// packages agree on these have the same graph.
public enum ResolutionInputs {
    public static func digest(_ spec: PackageSpec) -> Digest {
        var h = FramedHasher()
        h.add("cosci-resolution/1")
        h.add(spec.id.description)
        func add(_ name: String, _ list: [Requirement]) {
            h.add(name, String(list.count))
            for r in list { h.add(r.family, r.selector.text) }
        }
        add("provides", spec.provides)
        add("requires", spec.build.requires)
        add("copy", spec.build.copy.compactMap(\.package))
        add("runtime", spec.runtimeRequires)
        h.add("final-images", spec.build.requiresFinalImages ? "1" : "0")
        return h.finalize()
    }
}
