import CosciModel
import CosciRegistry
import CosciRepository
import Foundation

/// The artifact cache a command works with: tiers tried in order — the local directory (`--cache DIR`,
/// always), then a shared tier when one is configured (`--cache docker://HOST/REPO` or `oci:PATH`: a
/// registry or an OCI layout, read and written alike). Plan, build and fetch ask it, and only it, whether a
/// key is cached and where its artifact is; a shared artifact is brought into the local tier before use.
public struct ArtifactCache: Sendable {
    public let local: LocalCache
    /// The shared tier, if any.
    public let shared: RemoteCache?
    /// The keys the shared tier held when the cache was opened (one tag listing).
    public let sharedKeys: Set<CacheKey>

    /// Opens the project's local cache and, when `shared` names one, the shared tier (listing its keys once).
    public init(_ project: Project, shared target: String?, access: RegistryAccess) throws(Diagnostic) {
        local = LocalCache(root: project.cacheRoot)
        if let target {
            let remote = RemoteCache(store: try access.store(target))
            shared = remote
            sharedKeys = try remote.keys()
        } else {
            shared = nil
            sharedKeys = []
        }
    }

    /// Whether some tier holds `key` (the shared tier as listed when opened).
    public func contains(_ key: CacheKey) -> Bool {
        local.contains(key) || sharedKeys.contains(key)
    }

    /// Brings `key` into the local tier from the shared one when only the shared one has it (asking the
    /// shared tier afresh: another shard may have just pushed it). Whether the local tier has it now.
    @discardableResult
    public func ensureLocal(_ key: CacheKey) throws(CacheError) -> Bool {
        if local.contains(key) { return true }
        guard let shared, sharedKeys.contains(key) || shared.contains(key) else { return false }
        try shared.fetch(key, into: local)
        return local.contains(key)
    }

    /// The artifact of `key` in the local tier, brought from the shared tier first if need be.
    public func artifact(for key: CacheKey) throws(CacheError) -> (path: String, metadata: ArtifactMetadata)? {
        guard try ensureLocal(key) else { return nil }
        return try local.artifact(for: key)
    }

    /// Stores a built artifact in the local tier, then pushes it to the shared tier.
    public func store(_ key: CacheKey, artifact: String, metadata: ArtifactMetadata) throws(CacheError) {
        try local.store(key, artifact: artifact, metadata: metadata)
        try shared?.push(key, artifact: local.directory(for: key) + "/" + metadata.path, metadata: metadata)
    }

    /// Polls for a key another shard builds, with backoff (0.25 s doubling up to 15 s), up to `timeout`
    /// seconds; whether it arrived in the local tier.
    public func waitFor(_ key: CacheKey, timeout: Double) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(timeout)
        var delay = 0.25
        while true {
            if local.contains(key) { return true }
            if let shared, shared.contains(key) {
                if (try? shared.fetch(key, into: local)) != nil || local.contains(key) { return true }
            }
            if clock.now >= deadline { return false }
            try? await Task.sleep(for: .seconds(Swift.min(delay, Swift.max(0.05, Double((deadline - clock.now).components.seconds)))))
            delay = Swift.min(delay * 2, 15)
        }
    }
}
