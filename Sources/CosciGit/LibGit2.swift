internal import CGit2

/// libgit2, initialised once per process (`git_libgit2_init` is reference-counted and must precede any call).
public enum LibGit2 {
    private static let initialized: Int32 = git_libgit2_init()

    /// The linked libgit2's version, e.g. `1.5.1`.
    public static var version: String {
        _ = initialized
        var major: Int32 = 0, minor: Int32 = 0, rev: Int32 = 0
        git_libgit2_version(&major, &minor, &rev)
        return "\(major).\(minor).\(rev)"
    }
}
