import CosciTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The programs tests start see only stdin, stdout and stderr, whatever the test process holds open: a descriptor
/// leaked into mmdebstrap made `scripts/make-base` fail inside the suite and nowhere else.
@Suite struct TestRunner {
    @Test func aProgramInheritsNoDescriptorButTheStandardThree() throws {
        let leaked = open("/dev/null", O_RDONLY)  // no O_CLOEXEC: inherited unless the runner closes it
        #expect(leaked > 2)
        defer { close(leaked) }
        let r = try runTool("/bin/sh", ["-c", "ls /proc/$$/fd"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.split(whereSeparator: \.isNewline).sorted() == ["0", "1", "2"], "\(r.stdout)")
    }
}
