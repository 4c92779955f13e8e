import ArgumentParser
import CosciArchive
import CosciEngine
import CosciModel
import CosciRepository
import Foundation

extension Cosci {
    struct Cache: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cache",
            abstract: "Inspect and trim the local artifact cache.", subcommands: [CacheList.self, CacheVerify.self, CacheGC.self])
    }

    struct CacheList: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the cache's artifacts.")
        @Option(help: SharedHelp.localCache)
        var cache: String?
        @Flag(help: "Print canonical JSON (schema cosci.cache/v1).") var json = false
        @OptionGroup var options: TreeOptions

        func run() throws {
            let project = try options.project(cache: cache)
            let c = LocalCache(root: project.cacheRoot)
            let entries = c.entries()
            if json {
                Output.json(.map([
                    "schema": .string("cosci.cache/v1"),
                    "entries": .list(entries.map { e in
                        .map(["key": .string(e.key.description), "id": .string(e.id.description), "file": .string(e.file),
                              "size": .int(Int(e.size)), "lastUsed": .int(Int(e.lastUsed))])
                    }),
                ]))
                return
            }
            var out = "PACKAGE".padding(toLength: 36, withPad: " ", startingAt: 0) + "KEY           SIZE        LAST USED\n"
            let formatter = ISO8601DateFormatter()
            for e in entries {
                out += e.id.description.padding(toLength: 36, withPad: " ", startingAt: 0)
                out += String(e.key.hex.prefix(12)) + "  "
                out += Output.bytes(e.size).padding(toLength: 10, withPad: " ", startingAt: 0) + "  "
                out += formatter.string(from: Date(timeIntervalSince1970: TimeInterval(e.lastUsed))) + "\n"
            }
            out += "\(entries.count) artifact(s), \(Output.bytes(entries.reduce(0) { $0 + $1.size })) in \(Output.display(c.root))\n"
            Output.write(out)
        }
    }

    struct CacheVerify: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Check every artifact in the cache against its metadata (file type, size, sha256).",
            discussion: "Damaged entries are removed (a later build makes them again) unless --dry-run. Exits 1 when any entry was damaged, 0 otherwise. Builds, assemble and indexing verify each artifact they use in the same way.")
        @Option(help: SharedHelp.localCache)
        var cache: String?
        @Flag(help: "Report damaged entries, remove nothing.") var dryRun = false
        @OptionGroup var options: TreeOptions

        func run() throws {
            let project = try options.project(cache: cache)
            let c = LocalCache(root: project.cacheRoot)
            let checked = c.entries().count
            let damaged = c.verifyAll(evict: !dryRun)
            for (entry, damage) in damaged {
                Output.error("damaged \(entry.id) \(entry.key.hex.prefix(12)): \(damage)\(dryRun ? "" : " (removed)")")
            }
            Output.write("\(checked) artifact(s) checked, \(damaged.count) damaged\(damaged.isEmpty || dryRun ? "" : " and removed")\n")
            if !damaged.isEmpty { throw ExitCode(ExitStatus.failure) }
        }
    }

    struct CacheGC: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gc",
            abstract: "Remove what interrupted runs left, then artifacts unused for --older-than days and the least recently used beyond --max-size.",
            discussion: "Leftovers are always removed (not with --dry-run): temporaries and work directories of cosci processes that are gone (killed, or stopped by a full disk), and lock files nobody holds. Artifacts of the current tree's keys are kept unless --include-current. Safe while other cosci processes build: gc waits for them and touches nothing a live process owns.")
        @Option(help: SharedHelp.localCache) var cache: String?
        @Option(help: ArgumentHelp("Remove artifacts not used for this many days.", valueName: "days")) var olderThan: Double?
        @Option(help: ArgumentHelp("Trim to this size (e.g. 500M, 10G).", valueName: "size")) var maxSize: String?
        @Flag(help: "Also remove artifacts of the current tree's keys.") var includeCurrent = false
        @Flag(help: "Show what would be removed, remove nothing.") var dryRun = false
        @OptionGroup var options: TreeOptions

        func validate() throws {
            if let maxSize, Output.parseSize(maxSize) == nil { throw ValidationError("--max-size expects a size such as 500M or 10G") }
        }

        func run() throws {
            let project = try options.project(cache: cache)
            let c = LocalCache(root: project.cacheRoot)
            if !dryRun {
                let output = project.outputDirectory
                let leftovers = c.removeLeftovers(outputs: [output])
                for path in leftovers { Output.write("removed leftover \(Output.display(path))\n") }
                Output.write("\(leftovers.count) leftover(s) of interrupted runs removed\n")
            }
            guard olderThan != nil || maxSize != nil else { return }
            var keep = Set<CacheKey>()
            if !includeCurrent {
                let analysis = Analysis.run(project)
                keep = Set(analysis.keys.values.map(\.key))
            }
            let removed: [LocalCache.Entry]
            do {
                removed = try c.collectGarbage(
                    maxSize: maxSize.flatMap(Output.parseSize), olderThan: olderThan.map { Int64($0 * 86400) }, keep: keep,
                    now: Int64(Date().timeIntervalSince1970), dryRun: dryRun)
            } catch {
                throw Output.fail(Diagnostic(at: nil, error.description))
            }
            for e in removed { Output.write("\(dryRun ? "would remove" : "removed") \(e.id) \(e.key.hex.prefix(12)) \(Output.bytes(e.size))\n") }
            Output.write("\(removed.count) artifact(s), \(Output.bytes(removed.reduce(0) { $0 + $1.size })) \(dryRun ? "would be " : "")freed\n")
        }
    }

    struct Repo: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "repo",
            abstract: "Write luet repository metadata.", subcommands: [RepoIndex.self])
    }

    struct RepoIndex: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "index",
            abstract: "Index the tree's artifacts from the cache into a disk/http repository directory.",
            discussion: "Copies each package's artifact and metadata into DIR, then writes the tree, compiler tree and meta archives (named tree.<hash>.tar.zst and so on, by their content), snapshot copies, and repository.yaml last (revision = previous + 1 when anything changed). Versions already indexed stay.")
        @Option(help: ArgumentHelp("The repository directory.", valueName: "dir")) var to: String
        @Option(help: ArgumentHelp("Snapshot id (default: the head commit).", valueName: "id")) var snapshot: String?
        @Option(help: "Repository name.") var name = "cosci"
        @Option(help: "Repository type: disk or http.") var type = "disk"
        @Option(help: SharedHelp.localCache) var cache: String?
        @Option(help: ArgumentHelp("SOURCE_DATE_EPOCH (last_update, archive mtimes).", valueName: "seconds")) var sourceDateEpoch: Int64?
        @Flag(help: "Also carry the upstream packages the tree's packages need at run time, so the repository installs on its own.")
        var withUpstream = false
        @OptionGroup var options: TreeOptions

        func validate() throws {
            if !["disk", "http"].contains(type) { throw ValidationError("--type is disk or http (docker repositories come with publish)") }
        }

        func run() throws {
            let project = try options.project(cache: cache, sourceDateEpoch: sourceDateEpoch)
            var o = BuildOptions()
            o.sourceDateEpoch = sourceDateEpoch
            do {
                let result = try RepositoryWriting.index(
                    project, options: o, directory: Output.absolute(to), name: name, type: type, snapshot: snapshot, withUpstream: withUpstream)
                Output.write("\(Output.display(Output.absolute(to))): revision \(result.revision)\(result.changed ? "" : " (unchanged)"), \(result.packages.count) package version(s)\n")
            } catch {
                throw Output.fail(error)
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Rebuild packages without the cache and compare with the cached artifacts, byte for byte.",
            discussion: "Each package is rebuilt with the SOURCE_DATE_EPOCH its cached artifact was built with. A package that differs is listed with the entries that differ. Exit codes: 0 all reproducible, 1 environment, 3 a package differs or could not be rebuilt.")
        @Flag(help: "Rebuild (the only mode so far; required for clarity).") var rebuild = false
        @Flag(help: "Print canonical JSON (schema cosci.verify/v1).") var json = false
        @Argument(help: ArgumentHelp("Packages (default: every package of the tree whose artifact is cached).", valueName: "package"))
        var packages: [String] = []
        @OptionGroup var buildFlags: BuildFlags
        @OptionGroup var options: TreeOptions

        func validate() throws {
            if !rebuild { throw ValidationError("cosci verify needs --rebuild") }
        }

        func run() async throws {
            let project = try options.project(
                cache: buildFlags.cache, output: buildFlags.output, buildJobs: buildFlags.buildJobs, sourceDateEpoch: buildFlags.sourceDateEpoch)
            var o = BuildOptions()
            buildFlags.apply(to: &o, project: project)
            o.keepGoing = true
            let outcomes: [VerifyOutcome]
            do {
                outcomes = try await Verification.verify(project, packages: packages, options: o)
            } catch {
                throw Output.fail(error)
            }
            var bad = outcomes.filter { $0.status != .reproducible }.count
            if json {
                Output.json(CommandDocuments.verify(outcomes))
                if bad > 0 { throw ExitCode(ExitStatus.buildFailed) }
                return
            }
            bad = 0
            for v in outcomes {
                switch v.status {
                case .reproducible: Output.write("reproducible  \(v.id)  \(v.cached?.hex.prefix(12) ?? "")\n")
                case .differs:
                    bad += 1
                    Output.write("DIFFERS       \(v.id)  cached \(v.cached?.hex.prefix(12) ?? "") rebuilt \(v.rebuilt?.hex.prefix(12) ?? "")\n")
                    for d in v.differences.prefix(50) { Output.write("    \(d)\n") }
                case .failed:
                    bad += 1
                    Output.write("FAILED        \(v.id)  \(v.message ?? "")\n")
                }
            }
            Output.write("\(outcomes.count - bad) of \(outcomes.count) package(s) reproducible\n")
            if bad > 0 { throw ExitCode(ExitStatus.buildFailed) }
        }
    }

    /// Packs a directory as an artifact would be packed (for benchmarks and debugging).
    struct Pack: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pack",
            abstract: "Pack a directory into a reproducible tar (as artifacts are packed).", shouldDisplay: false)
        @Argument var directory: String
        @Argument var output: String
        @Option var compression: Compression = .zstd
        @Option var sourceDateEpoch: Int64 = 0

        func run() throws {
            do {
                let r = try TarArchive.pack(
                    directory: directory, to: output,
                    options: PackOptions(compression: compression, sourceDateEpoch: sourceDateEpoch))
                Output.write("\(r.sha256) \(r.size) \(r.entries.count)\n")
            } catch {
                Output.error("cosci: \(error)")
                throw ExitCode(ExitStatus.failure)
            }
        }
    }
}

