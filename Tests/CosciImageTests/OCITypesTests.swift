import CosciImage
import CosciModel
import Foundation
import Testing

@Suite struct OCIDocuments {
    let layer = Descriptor(mediaType: MediaType.layerGzip, digest: .sha256(of: Array("layer".utf8)), size: 5)
    let config = Descriptor(mediaType: MediaType.config, digest: .sha256(of: Array("config".utf8)), size: 6)

    @Test func aManifestIsWrittenCanonicallyAndReadBack() throws {
        let m = Manifest(config: config, layers: [layer], annotations: ["org.opencontainers.image.title": "x"])
        let text = String(decoding: m.json, as: UTF8.self)
        // Sorted keys, no whitespace: the same manifest is the same bytes, hence the same digest.
        #expect(text.hasPrefix(#"{"annotations":{"org.opencontainers.image.title":"x"},"config":{"digest":"sha256:"#))
        #expect(!text.contains(" ") && !text.contains("\n"))
        let read = try Manifest.decode(m.json)
        #expect(read.layers == [layer] && read.config == config)
        #expect(read.annotations?["org.opencontainers.image.title"] == "x")
        #expect(read.json == m.json)
    }

    @Test func aManifestOfAnotherWriterReads() throws {
        // Pretty-printed, other key order, no mediaType at the top (as older Docker-era writers leave it out).
        let text = """
            {
              "schemaVersion": 2,
              "layers": [ { "size": 5, "digest": "\(layer.digest)", "mediaType": "\(MediaType.layerGzip)" } ],
              "config": { "digest": "\(config.digest)", "mediaType": "\(MediaType.config)", "size": 6 }
            }
            """
        let m = try Manifest.decode(Array(text.utf8))
        #expect(m.mediaType == nil)
        #expect(m.layers.first?.digest == layer.digest)
        #expect(MediaTypeProbe.of(Array(text.utf8)) == nil)
    }

    @Test func aBrokenDocumentNamesWhatIsWrong() {
        let noLayers = #"{"schemaVersion":2,"config":{"digest":"sha256:00","mediaType":"x","size":1}}"#
        #expect {
            try Manifest.decode(Array(noLayers.utf8))
        } throws: { error in
            "\(error)".contains("config.digest") || "\(error)".contains("layers")
        }
        #expect {
            try Manifest.decode(Array("not json".utf8))
        } throws: { error in
            "\(error)" == "invalid image manifest: not JSON"
        }
    }

    @Test func anIndexFindsThePlatformAndRefusesAManifest() throws {
        let amd = Descriptor(mediaType: MediaType.manifest, digest: .sha256(of: [1]), size: 1)
        let arm = Descriptor(mediaType: MediaType.manifest, digest: .sha256(of: [2]), size: 1)
        let index = ImageIndex(manifests: [
            .init(amd, platform: IndexPlatform(.linuxAMD64)),
            .init(arm, platform: IndexPlatform(Platform(os: "linux", architecture: "arm64", variant: "v8"))),
        ])
        let read = try ImageIndex.decode(index.json)
        #expect(read.manifests.first { $0.platform?.matches(.linuxAMD64) == true }?.descriptor == amd)
        #expect(read.manifests.first { $0.platform?.matches(Platform(os: "linux", architecture: "arm64", variant: nil)) == true }?.descriptor == arm)
        #expect(read.json == index.json)
        let manifest = Manifest(config: config, layers: [layer])
        #expect(throws: ImageFormatError.self) { try ImageIndex.decode(manifest.json) }
    }

    @Test func aConfigTakesItsTimeFromTheEpochAndNothingFromTheHost() throws {
        let c = ImageConfig(
            platform: .linuxAMD64, epoch: 1_700_000_000, layers: [(layer.digest, "cosci: a/b@1")], labels: ["k": "v"])
        let text = String(decoding: c.json, as: UTF8.self)
        #expect(text.contains(#""created":"2023-11-14T22:13:20Z""#))
        #expect(text.contains(#""diff_ids":["\#(layer.digest)"]"#))
        let read = try ImageConfig.decode(c.json)
        #expect(read.config?.Labels == ["k": "v"])
        #expect(read.history?.first?.created_by == "cosci: a/b@1")
        #expect(read.json == c.json)
    }
}
