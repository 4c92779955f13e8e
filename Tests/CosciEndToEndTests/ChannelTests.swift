import CosciTestSupport
import Foundation
import Testing

/// A channel release is installable on its own: it carries what its packages need at run time.
@Suite(.serialized) struct ChannelReleases {
    @Test func theStableChannelCarriesTheRuntimeClosureOfItsPackages() throws {
        let registry = try LocalRegistry.start()
        defer { registry.stop() }
        let dir = try Cosci.built()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(try Cosci.run(["run"], in: dir).status == 0)
        let published = "docker://\(registry.host)/cos/sample"
        #expect(try Cosci.run(["publish", "--to", published], in: dir).status == 0)
        let r = try Cosci.run(["release", "--channel", "stable", "--from", published, "--snapshot", "v1"], in: dir)
        #expect(r.status == 0, "\(r.stderr)")
        // stable carries system/* and recovery/*; system/cos-wrapper needs toolchain/elemental-cli at run time.
        let channel = PublishedRepository(host: registry.host, repository: "cos/releases-green")
        let tags = try #require(
            (try JSONSerialization.jsonObject(with: try channel.get("tags/list").body) as? [String: Any])?["tags"] as? [String])
        #expect(tags.contains("cos-wrapper-system-0.32-7"))
        #expect(tags.contains("elemental-cli-toolchain-0.0.15-4"), "\(tags.sorted())")
        let state = try channel.inconsistencies()
        #expect(state.problems.isEmpty, "\(state.problems)")
        let notes = try String(contentsOf: dir.appendingPathComponent("dist/releases/stable-v1.md"), encoding: .utf8)
        #expect(notes.contains("Also carried, as runtime requirements of the channel's packages:"), "\(notes)")
        #expect(notes.contains("`toolchain/elemental-cli@0.0.15-4`"))
    }
}
