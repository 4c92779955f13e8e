import ArgumentParser
import CosciEngine
import CosciModel
import Foundation

extension Cosci {
    struct Affected: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the packages whose cache key changed between two revisions, with why.",
            discussion: """
                --base defaults to the merge-base of HEAD with the default branch (origin/HEAD, origin/main,
                origin/master, main, master); --head defaults to HEAD. Uncommitted changes are included by default
                when neither --base nor --head is given outside CI (CI unset), so a contributor sees the effect of
                their edits; --no-dirty leaves them out, --dirty forces them in.
                """)

        @Option(help: ArgumentHelp("Base revision.", valueName: "rev")) var base: String?
        @Option(help: ArgumentHelp("Head revision.", valueName: "rev")) var head: String?
        @Flag(inversion: .prefixedNo, help: "Include uncommitted changes (the work tree) on the head side.")
        var dirty: Bool?
        @Option(help: ArgumentHelp("With `all`, a base that cannot be found makes every package affected.", valueName: "all"))
        var fallback: Fallback?
        @OptionGroup var options: TreeOptions
        @Flag(help: "Print canonical JSON (schema cosci.affected/v1).") var json = false
        @Option(help: ArgumentHelp("Also write the canonical JSON report to this file.", valueName: "file"))
        var report: String?

        enum Fallback: String, ExpressibleByArgument { case all }

        func validate() throws {
            if dirty == true && head != nil {
                throw ValidationError("--dirty compares against the work tree; it cannot be combined with --head")
            }
        }

        func run() throws {
            let project = try options.project()
            for w in project.warnings { Output.error(w.description) }
            let environment = ProcessInfo.processInfo.environment
            let inCI = !(environment["CI"] ?? "").isEmpty && environment["CI"] != "false"
            let includeDirty = dirty ?? (base == nil && head == nil && !inCI)
            let result: AffectedReport
            do {
                result = try ChangeDetection.affected(
                    project, AffectedOptions(base: base, head: head, dirty: includeDirty, fallbackAll: fallback == .all))
            } catch {
                Output.error("cosci: \(error.description)")
                throw ExitCode(ExitStatus.failure)
            }
            let errors = result.diagnostics.filter { $0.severity == .error }
            for d in result.diagnostics { Output.error(d.description) }
            let document = result.document(platform: project.platform)
            if let report { try Output.writeFile(report, CanonicalJSON.encode(document, pretty: true) + "\n") }
            if json { Output.json(document) } else { Output.write(result.text) }
            if !errors.isEmpty { throw ExitCode(ExitStatus.treeErrors) }
        }
    }
}
