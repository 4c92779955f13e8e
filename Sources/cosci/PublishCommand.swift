import ArgumentParser
import CosciArchive
import CosciEngine
import CosciModel
import Foundation

/// Parallel uploads, on the commands that upload (publish, assemble --push, release, and build/run with a
/// shared cache or --publish): not on those that only read a registry.
struct UploadFlags: ParsableArguments {
    @Option(name: .customLong("uploads"), help: ArgumentHelp("Parallel uploads.", valueName: "n")) var count = 4

    /// `access` with this parallelism.
    func apply(to access: inout RegistryAccess) { access.parallelism = max(1, count) }
}

/// Registry access flags shared by every command that reaches a registry.
struct RegistryFlags: ParsableArguments {
    @Option(help: ArgumentHelp("A docker config.json-style credentials file (default: $REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json, ~/.docker/config.json, containers auth.json).", valueName: "file"))
    var authfile: String?
    @Option(name: .customLong("insecure-registry"), help: ArgumentHelp("A registry host reached over plain HTTP or unverified TLS (repeatable). Loopback hosts always use plain HTTP.", valueName: "host"))
    var insecureRegistries: [String] = []
    @Option(help: ArgumentHelp("Retries of a registry request on 429, 408, 5xx or a dropped connection, with exponential backoff (Retry-After honoured); other 4xx are never retried.", valueName: "n"))
    var retries = 5
    @Option(help: ArgumentHelp("Seconds to connect to a registry.", valueName: "s")) var connectTimeout = 15
    @Option(help: ArgumentHelp("Seconds a transfer may go slower than 10 KiB/s (a silent or trickling registry) before it is abandoned and retried.", valueName: "s"))
    var stallTimeout = 20
    @Option(help: ArgumentHelp("Seconds a docker credential helper may take to answer.", valueName: "s")) var credentialHelperTimeout = 30

    var access: RegistryAccess {
        var a = RegistryAccess()
        a.authFile = authfile.map(Output.absolute)
        a.insecureHosts = insecureRegistries
        a.attempts = max(0, retries) + 1
        a.connectTimeout = connectTimeout
        a.stallTimeout = stallTimeout
        a.helperTimeout = credentialHelperTimeout
        return a
    }
}

extension Cosci {
    struct Publish: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "publish",
            abstract: "Publish the repository (packages, metadata, index) as a luet docker repository or an OCI layout.",
            discussion: """
                Each package becomes a one-layer image tagged <name>-<category>-<version>, each repository file a \
                one-layer image tagged by its file name (the index archives are named by their content, so no tag \
                the current repository.yaml names ever changes). Blobs and tags already holding the same digest are \
                skipped; repository.yaml is tagged last, so a publish that stops midway leaves readers with the \
                previous, complete revision. A package version already published with another key is an error \
                unless --force. Exit codes: 0 published, 1 registry or environment error.
                """)

        @Option(help: ArgumentHelp("oci:PATH or docker://HOST[:PORT]/REPOSITORY.", valueName: "target")) var to: String
        @Option(help: ArgumentHelp("The repository directory (default: the output directory's repository/).", valueName: "dir"))
        var repository: String?
        @Flag(help: "Replace package versions published with another key. Their tags move before repository.yaml does: a client reading the current index meanwhile may get the new package, whose checksum that index does not match.")
        var force = false
        @Option(help: ArgumentHelp("The compression of package layers: gzip (the default) for every luet client; zstd keeps the artifact as built (its sha256 is then the layer digest) but needs a client newer than luet 0.35 — luet 0.35 and earlier, as cOS v0.8 systems ship (0.32.5), install an empty package from a zstd layer.", valueName: "gzip|zstd|none"))
        var layerCompression: Compression = .gzip
        @Flag(help: "Print canonical JSON (schema cosci.publish/v1).") var json = false
        @OptionGroup var registry: RegistryFlags
        @OptionGroup var uploads: UploadFlags
        @OptionGroup var options: TreeOptions

        func run() throws {
            let project = try options.project()
            var o = PublishOptions(target: to)
            o.repository = repository.map(Output.absolute)
            o.force = force
            o.layerCompression = layerCompression
            o.progress = { Output.error("cosci: " + $0) }
            o.registry = registry.access
            uploads.apply(to: &o.registry)
            do {
                let r = try Publishing.publish(project, o)
                if json { Output.json(CommandDocuments.publish(r)) } else { Output.write(PublishSummary.text(r)) }
            } catch {
                throw Output.fail(error)
            }
        }
    }
}

enum PublishSummary {
    static func text(_ r: PublishReport) -> String {
        var out = "published revision \(r.revision) to \(r.target): \(r.images) image(s), \(r.tagsSet) tag(s) set, \(r.tagsUnchanged) unchanged; \(r.blobsUploaded) blob(s) uploaded (\(Output.bytes(r.bytesUploaded))), \(r.blobsSkipped) already there\(r.blobsMounted > 0 ? ", \(r.blobsMounted) mounted from the upstream repository" : "")\n"
        for k in r.kept {
            out += "kept \(k): already published with the same key (other bytes)\n"
        }
        for t in r.replaced {
            out += "replaced \(t) (--force): until repository.yaml moved, readers of the previous index could get this new package\n"
        }
        return out
    }
}

extension Cosci {
    struct Lock: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "lock",
            abstract: "Pin every base image (to its digest) and every upstream repository (to its current index) in cosci.lock.",
            discussion: "Keys then hash image@digest, builds pull by digest, and requirements resolve against the pinned repository indexes (never re-read) until the lock is rewritten. Repositories already pinned stay where they are; --update moves them (all, or those named). Exit codes: 0 written, 1 registry or repository error, 2 tree errors, 64 usage.")

        @Flag(help: "Move pinned repositories to their current index (all, or the REPO names given).") var update = false
        @Argument(help: ArgumentHelp("Repositories to move with --update (default: all).", valueName: "repo")) var repositories: [String] = []
        @OptionGroup var registry: RegistryFlags
        @OptionGroup var options: TreeOptions

        func validate() throws {
            if !repositories.isEmpty && !update { throw ValidationError("naming repositories needs --update") }
        }

        func run() throws {
            let project = try options.project()
            do {
                let result = try Locking.lock(project, access: registry.access, update: update ? Set(repositories) : nil)
                for (image, digest) in result.images.sorted(by: { $0.key < $1.key }) { Output.write("\(image)  \(digest)\n") }
                for r in result.repositories {
                    let change = r.before.map { $0 == r.now ? "revision \(r.now)" : "revision \($0) → \(r.now)" } ?? "revision \(r.now) (new)"
                    Output.write("repository \(r.name)  \(change)  \(r.index)\n")
                }
                Output.write("\(result.images.count) image(s) and \(result.repositories.count) repositor\(result.repositories.count == 1 ? "y" : "ies") pinned in \(Output.display(project.lockFile))\n")
            } catch {
                throw Output.fail(error)
            }
        }
    }
}

extension Cosci {
    struct Assemble: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "assemble",
            abstract: "Assemble OS images from the image specs (images/*.yaml) out of built artifacts.",
            discussion: "Each image is the base package's root filesystem with the packages on top, squashed into one layer or one per package, written to <output>/images/<name> (an OCI layout tagged with the base package's version and latest). --push docker://HOST/PREFIX pushes <PREFIX>/<name>:<version>; --iso writes the spec's live ISO with xorriso. Identical inputs give identical digests.")

        @Argument(help: ArgumentHelp("Image names (default: every spec).", valueName: "image")) var images: [String] = []
        @Option(help: ArgumentHelp("Push to docker://HOST/PREFIX (each image to PREFIX/<name>).", valueName: "target")) var push: String?
        @Flag(help: "Also write the ISO of specs that have an iso: section.") var iso = false
        @Flag(help: "Also write the A/B raw disk of specs that have a disk: section (boots under UEFI).") var disk = false
        @Flag(help: "Print canonical JSON (schema cosci.assemble/v1).") var json = false
        @Option(help: SharedHelp.localCache) var cache: String?
        @Option(help: SharedHelp.output) var output: String?
        @Option(help: ArgumentHelp("SOURCE_DATE_EPOCH (default: $SOURCE_DATE_EPOCH, else the head commit's time).", valueName: "seconds"))
        var sourceDateEpoch: Int64?
        @OptionGroup var registry: RegistryFlags
        @OptionGroup var uploads: UploadFlags
        @OptionGroup var options: TreeOptions

        func run() throws {
            let project = try options.project(cache: cache, output: output, sourceDateEpoch: sourceDateEpoch)
            var o = AssembleOptions()
            o.names = images
            o.push = push
            o.iso = iso
            o.disk = disk
            o.sourceDateEpoch = sourceDateEpoch
            o.registry = registry.access
            uploads.apply(to: &o.registry)
            do {
                let assembled = try Assembling.assemble(project, o)
                if json { Output.json(CommandDocuments.assemble(assembled)) }
                else { for image in assembled { Output.write(AssembleSummary.line(image)) } }
            } catch {
                throw Output.fail(error)
            }
        }
    }
}

enum AssembleSummary {
    static func line(_ image: AssembledImage) -> String {
        var s = "image \(image.name):\(image.version)  \(image.digest)  \(image.layers) layer(s)  oci:\(Output.display(image.layout)):\(image.version)"
        if let p = image.pushed { s += "  pushed \(p)" }
        if let iso = image.iso { s += "\n  iso \(Output.display(iso.path))  \(iso.sha256)" }
        if let disk = image.disk { s += "\n  disk \(Output.display(disk.path))  \(disk.sha256)" }
        return s + "\n"
    }
}

extension Cosci {
    struct Release: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "release",
            abstract: "Cut a channel release from a published repository, or roll a channel back.",
            discussion: "Copies the packages the channel carries from --from (what `cosci publish` wrote) into the channel's repository by digest (never rebuilt), writes the snapshot <id>-repository.yaml and its files, then moves the channel's repository.yaml tag to it with one manifest PUT. Writes release notes and a luet repository file pinned to the snapshot under <output>/releases/. --rollback moves the channel back to its previous release. Exit codes: 0 done, 1 registry error, 2 configuration error.")

        @Option(help: ArgumentHelp("The channel (channels/*.yaml).", valueName: "name")) var channel: String
        @Option(help: ArgumentHelp("The published repository: docker://HOST/REPO.", valueName: "target")) var from: String?
        @Option(help: ArgumentHelp("Snapshot id (default: the git tag at HEAD, else the head commit).", valueName: "id")) var snapshot: String?
        @Flag(help: "Move the channel back to its previous release.") var rollback = false
        @Flag(help: "Release even when the channel's packages need at run time what the published repository lacks (the notes list it); by default that fails.")
        var allowPartial = false
        @Flag(help: "Print canonical JSON (schema cosci.release/v1).") var json = false
        @Option(help: SharedHelp.output) var output: String?
        @OptionGroup var registry: RegistryFlags
        @OptionGroup var uploads: UploadFlags
        @OptionGroup var options: TreeOptions

        func validate() throws {
            if from == nil { throw ValidationError("--from docker://HOST/REPO names the published repository (the channel's registry is its host)") }
        }

        func run() throws {
            let project = try options.project(output: output)
            var o = ReleaseOptions(channel: channel, from: from!)
            o.snapshot = snapshot
            o.rollback = rollback
            o.allowPartial = allowPartial
            o.registry = registry.access
            uploads.apply(to: &o.registry)
            do {
                let r = try Releasing.release(project, o)
                if json {
                    Output.json(CommandDocuments.release(r, rollback: rollback))
                } else if rollback {
                    Output.write("\(r.channel) rolled back from \(r.previous ?? "?") to \(r.id): \(r.target):repository.yaml → \(r.pointer)\n")
                } else {
                    Output.write("\(r.channel) \(r.id): revision \(r.revision), \(r.target):repository.yaml → \(r.pointer)\n")
                    let counts = Dictionary(grouping: r.changes, by: \.kind).mapValues(\.count)
                    Output.write("  \(counts[.added] ?? 0) added, \(counts[.changed] ?? 0) changed, \(counts[.removed] ?? 0) removed since \(r.previous ?? "the start")\n")
                    if let n = r.notes { Output.write("  notes: \(Output.display(n))\n") }
                    if let f = r.repositoryFile { Output.write("  repository file: \(Output.display(f))\n") }
                }
            } catch {
                throw Output.fail(error)
            }
        }
    }
}
