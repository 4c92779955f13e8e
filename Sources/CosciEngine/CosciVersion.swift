import CosciArchive
import CosciGit
import CosciRegistry

/// cosci's version and the versions of the C libraries it links.
public enum CosciVersion {
    /// The release version.
    public static let text = "0.1.0"

    /// One line per component.
    public static var details: String {
        """
        cosci \(text)
        libgit2 \(LibGit2.version)
        libcurl \(LibCurl.version)
        \(LibArchive.version)
        """
    }
}
