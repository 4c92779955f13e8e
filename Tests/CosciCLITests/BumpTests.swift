import CosciTestSupport
import Foundation
import Testing

/// `cosci bump` raises revisions in place, and never leaves a tree that no longer resolves.
@Suite(.serialized) struct Bump {
    @Test func aBumpThatAnExactPinWouldNotFollowIsRefusedAndNothingIsWritten() throws {
        let repo = try BuildRepo()
        defer { repo.remove() }
        let before = try repo.read("packages/toolchain/yq/collection.yaml")
        // system/cos-features requires `toolchain/yq 4.30.1` exactly: 4.30.1-1 would leave it unresolved.
        let refused = try repo.cosci(["bump", "toolchain/yq", "--revdeps"])
        #expect(refused.status == 2, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("system/cos-features@0.8.2 requires toolchain/yq 4.30.1 (packages/system/cos-features/build.yaml:5)"), "\(refused.stderr)")
        #expect(refused.stderr.contains("nothing was written"))
        #expect(try repo.read("packages/toolchain/yq/collection.yaml") == before)
        #expect(try repo.cosci(["check"]).status == 0)

        // A bump that every selector follows goes through, dependents included.
        let bumped = try repo.cosci(["bump", "toolchain/yip", "--revdeps"])
        #expect(bumped.status == 0, "\(bumped.stderr)")
        #expect(bumped.stdout.contains("toolchain/yip@0.11.4-1 → 0.11.4-2") && bumped.stdout.contains("system/cos@0.8.14-21 → 0.8.14-22"), "\(bumped.stdout)")
        #expect(try repo.cosci(["check"]).status == 0)
    }
}
