import ArgumentParser
import CosciEngine
import CosciModel
import CosciPlanner

extension Cosci {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List every package with its cache key, path and build dependencies.")

        @OptionGroup var options: TreeOptions
        @Flag(help: "Print canonical JSON (schema cosci.list/v1).") var json = false

        func run() throws {
            let a = try options.analyse()
            let reports = TreeReports(graph: a.graph, keys: a.keys, platform: a.project.platform)
            if json { Output.json(reports.list()) } else { Output.write(reports.listTable()) }
            Output.exitWithoutTeardown(a)
        }
    }

    struct Explain: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "explain",
            abstract: "Show every field and sub-hash that goes into a package's key, and why each dependency was chosen.")

        @Argument(help: ArgumentHelp("category/name or category/name@version.", valueName: "package"))
        var package: String
        @OptionGroup var options: TreeOptions
        @Flag(help: "Print canonical JSON (schema cosci.explain/v1).") var json = false

        func run() throws {
            // Explain shows the hashed JSON itself, which the load memo does not keep: parse afresh.
            let a = try options.analyse(useMemo: false)
            let ids: [PackageID]
            do { ids = try a.packages(matching: package) } catch {
                throw Output.fail(error)
            }
            let reports = TreeReports(graph: a.graph, keys: a.keys, platform: a.project.platform)
            if json { Output.json(reports.explain(ids)) } else { Output.write(reports.explainText(ids)) }
        }
    }

    struct Graph: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "graph", abstract: "Print the build graph.")

        enum Format: String, ExpressibleByArgument, CaseIterable { case dot, json }

        @Option(help: "dot (Graphviz) or json (schema cosci.graph/v1).") var format: Format = .dot
        @OptionGroup var options: TreeOptions

        func run() throws {
            let a = try options.analyse()
            let reports = TreeReports(graph: a.graph, keys: a.keys, platform: a.project.platform)
            switch format {
            case .dot: Output.write(reports.graphDot())
            case .json: Output.json(reports.graphDocument())
            }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Load and render everything; report every problem with file:line. Exit 2 on any error.")

        @OptionGroup var options: TreeOptions
        @Flag(help: "Print canonical JSON (schema cosci.check/v1).") var json = false
        @Option(
            help: ArgumentHelp(
                "Also fail for every package whose key changed since this revision while its version did not.",
                valueName: "rev"))
        var base: String?
        @Flag(help: "Fail (exit 2) on warnings too, for CI: luet incompatibilities, keys given twice, unknown fields.") var strict = false
        @Option(help: ArgumentHelp("text, or github: also every diagnostic as a GitHub Actions annotation (paths from the repository root).", valueName: "format"))
        var format: CheckFormat = .text
        @Option(help: ArgumentHelp("Also write a GitLab code quality report (for artifacts: reports: codequality:) to this file.", valueName: "file"))
        var codeQuality: String?

        enum CheckFormat: String, ExpressibleByArgument { case text, github }

        func run() throws {
            let a = try options.analyse(tolerateErrors: true)
            var diagnostics = a.diagnostics
            // What loads here but would resolve differently, or not at all, in luet 0.35 and earlier.
            if !a.hasErrors {
                diagnostics += LuetCompatibility.selectorWarnings(a.graph) + LuetCompatibility.tagWarnings(a.tree.packages)
                diagnostics.sort()
            }
            if let base, !a.hasErrors {
                do {
                    diagnostics += try VersionBumps.unbumped(a.project, base: base)
                } catch {
                    throw Output.fail(error)
                }
            }
            let errors = diagnostics.filter { $0.severity == .error }.count
            let warnings = diagnostics.count - errors
            // Paths from the repository root, as CI systems show files.
            let prefix = a.project.pathInRepository.map { $0.isEmpty ? "" : $0 + "/" } ?? ""
            if let codeQuality {
                try Output.writeFile(Output.absolute(codeQuality), CanonicalJSON.encode(TreeReports.codeQuality(diagnostics, prefix: prefix)) + "\n")
            }
            if format == .github { Output.write(TreeReports.githubAnnotations(diagnostics, prefix: prefix)) }
            if json {
                Output.json(TreeReports.check(packages: a.tree.packages.count, diagnostics: diagnostics))
            } else {
                for d in diagnostics { Output.write(d.description + "\n") }
                Output.write(
                    "checked \(a.tree.packages.count) package(s), \(a.tree.templateFiles.count) shared template(s): "
                        + "\(errors) error(s), \(warnings) warning(s)\n")
            }
            if errors > 0 { throw ExitCode(ExitStatus.code(forErrors: diagnostics)) }
            if strict && warnings > 0 { throw ExitCode(ExitStatus.treeErrors) }
        }
    }

    struct Bump: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bump",
            abstract: "Raise the revision of packages (1.2.3-4 → 1.2.3-5) in their definition files, in place.",
            discussion: "Only the version's characters change (comments, key order, quoting and YAML anchors are kept); a collection stanza that inherits its version through a merge key gets its own version line.")

        @Argument(help: ArgumentHelp("category/name or category/name@version.", valueName: "package"))
        var packages: [String]
        @Flag(help: "Also bump every package whose key the change alters (its dependents, transitively).")
        var revdeps = false
        @OptionGroup var options: TreeOptions

        func run() throws {
            let project = try options.project()
            let bumps: [VersionBump]
            do {
                bumps = try VersionBumps.bump(project, references: packages, revdeps: revdeps)
            } catch {
                throw Output.fail(error)
            }
            for b in bumps { Output.write("\(b.id) → \(b.newVersion)   \(b.file)\n") }
        }
    }

    struct Version: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "version", abstract: "Print cosci's version and the linked C libraries.")

        func run() {
            Output.write(CosciVersion.details + "\n")
        }
    }
}
