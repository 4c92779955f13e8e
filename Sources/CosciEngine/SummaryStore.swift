#if canImport(Glibc)
    import Glibc
#endif
import CosciFiles
import CosciManifest
import CosciModel
import CosciPlanner
import CosciTemplate
import Foundation

/// Saved summaries of analysed commits (`KeyedSummary`), so that change detection loads and keys a commit's
/// tree once: every later comparison that involves the commit (the next push's merge-base, `cosci plan`
/// after `cosci affected`) reads it back instead.
///
/// One file per summary, named by the summary id (which covers everything the summary depends on), holding
/// a checksum (8 bytes) and the encoding; a file that is damaged or of another format is ignored and replaced.
/// Written atomically; only the `kept` most recently used are kept.
struct SummaryStore {
    let directory: String
    /// How many summaries are kept (one of a 10,000-package tree takes about 5 MB).
    var kept = 24
    /// A shared cache (`--cache docker://…`) summaries are also read from and written to, so a fresh CI
    /// runner starts from what another runner analysed.
    var remote: RemoteCache? = nil

    func path(_ id: Digest) -> String { "\(directory)/\(id.hex)" }

    /// The saved summary, or nil; a hit marks the file as recently used. A summary whose renders read the
    /// clock or environment variables holds only where `environment` gives them the same values (the summary
    /// id leaves them out, so that trees that never read them share summaries across epochs).
    func read(_ id: Digest, rendering environment: RenderEnvironment) -> KeyedSummary? {
        let file = path(id)
        if let bytes = try? ManifestFiles.read(file), let summary = Self.decode(bytes, environment) {
            utimensat(AT_FDCWD, file, nil, 0)
            return summary
        }
        // Not here: another runner may have saved it in the shared cache.
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        guard let remote, let bytes = remote.summary(id, scratch: directory), let summary = Self.decode(bytes, environment) else { return nil }
        if (try? AtomicFile.write(file, bytes)) != nil { prune() }
        return summary
    }

    /// A summary from its stored bytes (checksum, then the encoding), if they are whole and it holds for
    /// `environment`.
    static func decode(_ bytes: [UInt8], _ environment: RenderEnvironment) -> KeyedSummary? {
        guard bytes.count > 8 else { return nil }
        let stored = bytes[..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard Checksum.of(bytes[8...]) == stored, let summary = try? KeyedSummary(decoding: bytes, from: 8) else { return nil }
        return environment.matches(summary.renderInputs) ? summary : nil
    }

    /// Saves a summary, then forgets the least recently used beyond `kept`. Failing to save is not an error:
    /// the next run loads the tree again.
    func write(_ summary: KeyedSummary, id: Digest) {
        let body = summary.bytes[summary.start...]
        let sum = Checksum.of(body)
        let bytes = (0..<8).map { UInt8(truncatingIfNeeded: sum >> (56 - 8 * $0)) } + body
        remote?.pushSummary(id, bytes: bytes)
        guard (try? AtomicFile.write(path(id), bytes)) != nil else { return }
        prune()
    }

    private func prune() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        let files = names.filter { $0.utf8.count == 64 && !$0.hasPrefix(".") }.map { name -> (String, Int) in
            var st = stat()
            let path = "\(directory)/\(name)"
            return (path, stat(path, &st) == 0 ? Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec) : 0)
        }
        guard files.count > kept else { return }
        for (path, _) in files.sorted(by: { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }).dropFirst(kept) {
            unlink(path)
        }
    }
}
