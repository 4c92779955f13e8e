import Foundation
import Synchronization

/// The sample tree (`manifest/`) as tests start from it: a fresh copy in its own git repository committed at
/// a fixed date (so SOURCE_DATE_EPOCH and every key are the same in every copy), or a copy of one that
/// `cosci run` already built — built once per test process, copied (`cp -a`) for each test that wants it.
public enum Sample {
    /// The commit date of every copy.
    public static let epoch = 1_700_000_000

    /// A fresh copy, nothing built.
    public static func fresh() throws -> GitScratch {
        try GitScratch(copying: TestPaths.sample, epoch: epoch)
    }

    /// A copy of the built sample (its cache, `dist/` and history included) in a directory the caller
    /// removes.
    public static func builtCopy() throws -> URL {
        let template = try shared.withLock { (slot: inout GitScratch?) throws -> GitScratch in
            if let slot { return slot }
            let sample = try fresh()
            let r = try runCosci(["run"], cwd: sample.root, env: ["CI": "true"])
            guard r.status == 0 else { throw TestSupportError("the sample did not build: \(r.stderr)") }
            slot = sample
            builtTemplatePath = sample.root.path
            atexit { if let path = builtTemplatePath { try? FileManager.default.removeItem(atPath: path) } }
            return sample
        }
        let dir = try TestPaths.temporaryDirectory("cosci-sample")
        try shell("cp -a '\(template.root.path)/.' '\(dir.path)/'")
        return dir
    }

    /// A copy of the built sample as a fixture of its own (removed with it).
    public static func built() throws -> GitScratch {
        try GitScratch(adopting: try builtCopy(), epoch: epoch)
    }

    /// The built template; it lives as long as the test process (a static is never released), and its
    /// directory is removed at exit.
    private static let shared = Mutex<GitScratch?>(nil)
}

/// The template's path, for the exit handler (a C function pointer captures nothing); written once under the lock.
nonisolated(unsafe) private var builtTemplatePath: String?
