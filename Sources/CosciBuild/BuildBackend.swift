import CosciModel

/// A way of running a package's prelude and steps and collecting what they produced.
public protocol BuildBackend: Sendable {
    /// The name users pick it by (`host-sandbox`, `podman`).
    var name: String { get }
    /// Why the backend cannot run on this machine, or nil when it can.
    func unavailableReason() -> String?
    /// Why this package cannot be built by this backend (and which backend to use), or nil.
    func unsupportedReason(_ job: BuildJob) -> String?
    /// Runs the build; the files of the artifact are left under the returned root, inside the job's work directory.
    func build(_ job: BuildJob, log: LogFile) throws(BuildFailure) -> BuildOutput
}

/// The backend a user asks for.
public enum BackendChoice: String, Sendable, CaseIterable {
    case auto
    case hostSandbox = "host-sandbox"
    case rootfs
    case podman
}

/// Picks backends.
public enum Backends {
    /// Every backend, in the order `auto` tries them.
    public static func all() -> [any BuildBackend] {
        [HostSandbox(), Rootfs(), Podman()]
    }

    /// The backends a build may use: for `auto` every one that can run here, in order (each package takes the
    /// first that supports it); otherwise the one chosen. Throws when none can run.
    public static func available(_ choice: BackendChoice) throws(BuildFailure) -> [any BuildBackend] {
        guard choice == .auto else { return [try resolve(choice)] }
        var reasons: [String] = []
        var out: [any BuildBackend] = []
        for b in all() {
            if let why = b.unavailableReason() { reasons.append("\(b.name): \(why)") } else { out.append(b) }
        }
        guard !out.isEmpty else {
            throw BuildFailure(.environment, "no build backend can run here: " + reasons.joined(separator: "; "))
        }
        return out
    }

    /// The backend for a choice: `auto` is the first that can run here. Throws when the chosen one cannot.
    public static func resolve(_ choice: BackendChoice) throws(BuildFailure) -> any BuildBackend {
        let candidates = all()
        switch choice {
        case .auto:
            var reasons: [String] = []
            for b in candidates {
                if let why = b.unavailableReason() { reasons.append("\(b.name): \(why)") } else { return b }
            }
            throw BuildFailure(.environment, "no build backend can run here: " + reasons.joined(separator: "; "))
        case .hostSandbox, .rootfs, .podman:
            let b = candidates.first { $0.name == choice.rawValue }!
            if let why = b.unavailableReason() {
                throw BuildFailure(.environment, "the \(b.name) backend cannot run here: \(why)")
            }
            return b
        }
    }
}
