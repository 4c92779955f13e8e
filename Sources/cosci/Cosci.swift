import ArgumentParser
import CosciEngine
import CosciFiles
import CosciModel
import Foundation

/// The command line. Commands parse, resolve the project, call the engine and print; nothing else.
@main
struct Cosci: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cosci",
        abstract: "CI orchestrator for immutable Linux derivatives built from luet package trees.",
        discussion: "Exit codes: 0 success; 1 a command failed (environment, I/O, network); 2 the tree, configuration or a plan file has errors; 3 a package failed to build (or is not reproducible); 64 bad usage (an unknown command, flag or package); 70 a bug in cosci.",
        version: CosciVersion.text,
        subcommands: [
            Run.self, List.self, Explain.self, Graph.self, Check.self, Affected.self, PlanCommand.self, Build.self,
            Verify.self, Assemble.self, Publish.self, Release.self, Lock.self, Cache.self, Repo.self, Bump.self, Config.self, Version.self,
            Pack.self,
        ]
    )

    /// Parses and runs; an unknown subcommand gets a "did you mean" (ArgumentParser gives one for flags only).
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let first = arguments.first, !first.hasPrefix("-"), first != "help" {
            var names: [String] = []
            for command in configuration.subcommands {
                if let name = command.configuration.commandName { names.append(name) }
            }
            if !names.contains(first) {
                let near = Suggestions.closest(to: first, among: names)
                var message = "Error: unknown command '\(first)'."
                if !near.isEmpty { message += " Did you mean \(near.map { "'\($0)'" }.joined(separator: " or "))?" }
                Output.error(message + "\nUsage: cosci <subcommand>\n  See 'cosci --help' for the commands.")
                Foundation.exit(ExitStatus.usage)
            }
        }
        do {
            let parsed = try parseAsRoot(arguments)
            // COSCI_PARSE_ONLY=1: check a command line (commands, flags, their values) without running it, as
            // a CI template's lint does.
            if ProcessInfo.processInfo.environment["COSCI_PARSE_ONLY"] == "1" { Foundation.exit(0) }
            try await execute(parsed)
        } catch {
            exit(withError: error)
        }
    }

    private static func execute(_ parsed: any ParsableCommand) async throws {
        if let found = parsed as? any AsyncParsableCommand {
            var command = found
            try await command.run()
        } else {
            var command = parsed
            try command.run()
        }
    }
}

/// The help of `--cache` where only a local directory makes sense, and of `--output`: one text each.
enum SharedHelp {
    static let localCache = ArgumentHelp(
        "The local artifact cache directory (default: COSCI_CACHE, cosci.yaml `cache:`, else .cosci/cache).", valueName: "dir")
    static let output = ArgumentHelp(
        "The output directory for logs, the repository, images and reports (default: COSCI_OUTPUT, cosci.yaml `output:`, else dist).",
        valueName: "dir")
}

/// Options shared by every command that reads the tree.
struct TreeOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Project root (holding cosci.yaml) or package tree.", valueName: "dir"))
    var tree: String?

    @Option(name: .long, help: ArgumentHelp("A values file applied after the configured ones (repeatable).", valueName: "file"))
    var values: [String] = []

    @Option(name: .long, help: ArgumentHelp("Flavor from cosci.yaml `flavors:` whose values files apply.", valueName: "name"))
    var flavor: String?

    @Option(name: .long, help: ArgumentHelp("Target platform, os/arch[/variant].", valueName: "os/arch"))
    var platform: String?

    @Option(name: .customLong("load-jobs"), help: ArgumentHelp("Threads used to load the tree (default: all cores; COSCI_LOAD_JOBS).", valueName: "n"))
    var loadJobs: Int?

    @Flag(help: "Print how long each phase took, on standard error.")
    var timings = false

    var flags: ProjectFlags {
        ProjectFlags(tree: tree, values: values, flavor: flavor, platform: platform, jobs: loadJobs)
    }

    /// Resolves the project (flags, environment, cosci.yaml); exits 2 with the problem when it cannot. A command
    /// with its own `--cache`/`--output` passes them here: a shared cache (`docker://…`, `oci:…`) is not the local
    /// cache directory and is left out.
    func project(cache: String? = nil, output: String? = nil, buildJobs: Int? = nil, sourceDateEpoch: Int64? = nil) throws -> Project {
        var flags = self.flags
        flags.cache = cache.flatMap { isRemote($0) ? nil : $0 }
        flags.output = output
        flags.buildJobs = buildJobs
        flags.sourceDateEpoch = sourceDateEpoch
        do {
            let project = try Project.resolve(
                flags, environment: ProcessInfo.processInfo.environment,
                cwd: FileManager.default.currentDirectoryPath)
            return project
        } catch {
            throw Output.fail(error)
        }
    }

    /// Resolves the project and analyses the tree. Prints warnings; on errors prints them and exits 2
    /// unless `tolerateErrors` (for `check`, which reports them itself).
    func analyse(tolerateErrors: Bool = false, useMemo: Bool = true) throws -> Analysis {
        let project = try project()
        let phaseTimings = timings ? PhaseTimings() : nil
        let analysis = Analysis.run(project, timings: phaseTimings, useMemo: useMemo)
        if let phaseTimings { Output.error(phaseTimings.report) }
        if tolerateErrors { return analysis }
        for d in analysis.diagnostics { Output.error(d.description) }
        if analysis.hasErrors {
            let errors = analysis.diagnostics.filter { $0.severity == .error }.count
            Output.error("cosci: the tree has \(errors) error(s); `cosci check` lists them all")
            throw ExitCode(ExitStatus.code(forErrors: analysis.diagnostics))
        }
        return analysis
    }
}

/// Exit codes, decided here and nowhere else.
/// cosci's exit codes, one per kind of failure (the README's "Exit codes" lists them).
enum ExitStatus {
    static let failure: Int32 = 1
    static let treeErrors: Int32 = 2
    static let buildFailed: Int32 = 3
    /// The command line is wrong (sysexits' EX_USAGE, as ArgumentParser's own usage errors).
    static let usage: Int32 = 64
    /// cosci's own bug (EX_SOFTWARE).
    static let bug: Int32 = 70

    /// The exit code of a list of problems with errors among them: an environment failure (an unreachable
    /// repository) is the cause of whatever tree errors follow from it, so it decides; else tree errors.
    static func code(forErrors diagnostics: [Diagnostic]) -> Int32 {
        diagnostics.contains { $0.severity == .error && $0.kind == .environment } ? failure : treeErrors
    }

    /// The exit code of an error of `kind`: the one place that decides it.
    static func code(for kind: Diagnostic.Kind) -> Int32 {
        switch kind {
        case .usage: usage
        case .tree: treeErrors
        case .environment: failure
        case .build: buildFailed
        case .bug: bug
        }
    }
}

enum Output {
    /// Prints a failure (`cosci: …`) and gives the exit code its kind calls for.
    static func fail(_ error: Diagnostic) -> ExitCode {
        Output.error("cosci: \(error.description)")
        return ExitCode(ExitStatus.code(for: error.kind))
    }

    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func json(_ value: Value) {
        var bytes = CanonicalJSON.bytes(value, pretty: true)
        bytes.append(UInt8(ascii: "\n"))
        FileHandle.standardOutput.write(Data(bytes))
    }

    /// Writes a Markdown summary (for `$GITHUB_STEP_SUMMARY`), cut below what GitHub shows (`StepSummary`).
    static func writeSummary(_ path: String, _ markdown: String, whole report: String?) throws {
        try writeFile(path, StepSummary.capped(markdown, whole: report.map(display)))
    }

    /// Writes a file atomically: a temporary file beside it, then a rename.
    static func writeFile(_ path: String, _ text: String) throws {
        try AtomicFile.write(absolute(path), Array(text.utf8))
    }

    /// Ends the process now, successfully, without releasing `keep`: a large tree's values would take a
    /// noticeable share of a run to free one by one, and the operating system reclaims it all at once.
    /// Call only after every output has been written (standard output and error are unbuffered here).
    static func exitWithoutTeardown<T>(_ keep: T) -> Never {
        withExtendedLifetime(keep) { exit(0) }
    }

    /// A path as the user should see it: relative to the working directory when inside it.
    static func display(_ path: String) -> String {
        let cwd = FileManager.default.currentDirectoryPath
        return path.hasPrefix(cwd + "/") ? String(path.dropFirst(cwd.count + 1)) : path
    }

    /// An absolute path for a path given on the command line.
    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// `1.5 MiB`.
    static func bytes(_ n: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n)
        var u = 0
        while v >= 1024 && u < units.count - 1 {
            v /= 1024
            u += 1
        }
        return u == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[u])
    }

    /// `500M`, `10G`, `1024` → bytes.
    static func parseSize(_ text: String) -> Int64? {
        let multipliers: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var t = text.uppercased()
        if t.hasSuffix("IB") { t.removeLast(2) } else if t.hasSuffix("B") { t.removeLast() }
        if let last = t.last, let m = multipliers[last] { return Double(t.dropLast()).map { Int64($0 * Double(m)) } }
        return Int64(t)
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
