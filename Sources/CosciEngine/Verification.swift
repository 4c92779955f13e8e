import CosciArchive
import CosciModel
import CosciRepository
import Foundation

/// The result of rebuilding one package without the cache and comparing it with the cached artifact.
public struct VerifyOutcome: Sendable {
    public enum Status: String, Sendable {
        /// Same bytes.
        case reproducible
        /// Different bytes: `differences` says where.
        case differs
        /// Nothing cached to compare with, or the rebuild failed.
        case failed
    }

    public let id: PackageID
    public let status: Status
    public let cached: Digest?
    public let rebuilt: Digest?
    /// `path: what differs` for each entry that differs (added, removed, or changed in a field).
    public let differences: [String]
    public let message: String?
}

/// `cosci verify --rebuild`: the proof that builds are reproducible.
public enum Verification {
    public static func verify(
        _ project: Project, packages: [String], options: BuildOptions, observer: (any BuildObserver)? = nil
    ) async throws(Diagnostic) -> [VerifyOutcome] {
        let analysis = Analysis.run(project, useMemo: false)
        let cache = LocalCache(root: project.cacheRoot)
        var ids: [PackageID] = []
        if packages.isEmpty {
            ids = analysis.graph.order.filter { cache.contains(analysis.key($0)) }
        } else {
            for p in packages { ids += try analysis.packages(matching: p) }
        }
        var outcomes: [VerifyOutcome] = []
        var byEpoch: [Int64: [PackageID]] = [:]
        for id in ids {
            let key = analysis.key(id)
            guard let cached = try? cache.metadata(for: key) else {
                outcomes.append(VerifyOutcome(
                    id: id, status: .failed, cached: nil, rebuilt: nil, differences: [],
                    message: "no artifact for key \(key) in the cache to compare with; run `cosci build \(id.family)` first"))
                continue
            }
            byEpoch[cached.sourceDateEpoch, default: []].append(id)
        }
        for (epoch, group) in byEpoch.sorted(by: { $0.key < $1.key }) {
            var o = options
            o.packages = group.map(\.description)
            o.rebuild = true
            o.sourceDateEpoch = epoch
            let result = try await Building.build(project, o, observer: observer)
            for outcome in result.outcomes where group.contains(outcome.id) {
                let key = outcome.key
                guard outcome.status == .built, let rebuilt = outcome.artifact, let rebuiltPath = outcome.artifactPath,
                    let cached = try? cache.artifact(for: key)
                else {
                    outcomes.append(VerifyOutcome(
                        id: outcome.id, status: .failed, cached: nil, rebuilt: nil, differences: [],
                        message: outcome.message ?? "the rebuild did not produce an artifact"))
                    continue
                }
                if rebuilt.sha256 == cached.metadata.sha256 {
                    outcomes.append(VerifyOutcome(
                        id: outcome.id, status: .reproducible, cached: cached.metadata.sha256, rebuilt: rebuilt.sha256,
                        differences: [], message: nil))
                } else {
                    let diff = (try? differences(cached.path, rebuiltPath)) ?? ["(the archives could not be listed)"]
                    outcomes.append(VerifyOutcome(
                        id: outcome.id, status: .differs, cached: cached.metadata.sha256, rebuilt: rebuilt.sha256,
                        differences: diff.isEmpty ? ["entries are equal; the compressed bytes differ"] : diff, message: nil))
                }
                try? FileManager.default.removeItem(atPath: (rebuiltPath as NSString).deletingLastPathComponent)
            }
        }
        return outcomes.sorted { $0.id < $1.id }
    }

    /// Entry-by-entry differences between two archives.
    public static func differences(_ a: String, _ b: String) throws(ArchiveError) -> [String] {
        let left = Dictionary(try TarArchive.list(a, digests: true).map { ($0.path, $0) }, uniquingKeysWith: { x, _ in x })
        let right = Dictionary(try TarArchive.list(b, digests: true).map { ($0.path, $0) }, uniquingKeysWith: { x, _ in x })
        var out: [String] = []
        for path in Set(left.keys).union(right.keys).sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            switch (left[path], right[path]) {
            case (nil, _?): out.append("\(path): only in the rebuild")
            case (_?, nil): out.append("\(path): only in the cached artifact")
            case (let x?, let y?):
                var fields: [String] = []
                if x.kind != y.kind { fields.append("type \(x.kind.rawValue) → \(y.kind.rawValue)") }
                if x.mode != y.mode { fields.append("mode \(String(x.mode, radix: 8)) → \(String(y.mode, radix: 8))") }
                if x.uid != y.uid || x.gid != y.gid { fields.append("owner \(x.uid):\(x.gid) → \(y.uid):\(y.gid)") }
                if x.mtime != y.mtime { fields.append("mtime \(x.mtime) → \(y.mtime)") }
                if x.linkTarget != y.linkTarget { fields.append("link \(x.linkTarget ?? "") → \(y.linkTarget ?? "")") }
                if x.size != y.size { fields.append("size \(x.size) → \(y.size)") }
                if x.contentDigest != y.contentDigest { fields.append("content") }
                if !fields.isEmpty { out.append("\(path): " + fields.joined(separator: ", ")) }
            case (nil, nil): break
            }
        }
        return out
    }
}
