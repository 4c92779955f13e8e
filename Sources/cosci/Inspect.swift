import ArgumentParser
import CosciEngine
import CosciModel
import CosciPlanner

extension Cosci {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every package with its cache key, path and build dependencies.")

        @OptionGroup var options: TreeOptions
        @Flag(help: "Print canonical JSON (schema cosci.list/v1).") var json = false

        func run() throws {
            let a = try options.analyse()
            let reports = TreeReports(graph: a.graph, keys: a.keys, platform: a.project.platform)
            if json { Output.json(reports.list()) } else { Output.write(reports.listTable()) }
        }
    }

    struct Explain: ParsableCommand {
        static let configuration = CommandConfiguration(
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
                Output.error(error.description)
                throw ExitCode(ExitStatus.failure)
            }
            let reports = TreeReports(graph: a.graph, keys: a.keys, platform: a.project.platform)
            if json { Output.json(reports.explain(ids)) } else { Output.write(reports.explainText(ids)) }
        }
    }

    struct Graph: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the build graph.")

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
            abstract: "Load and render everything; report every problem with file:line. Exit 2 on any error.")

        @OptionGroup var options: TreeOptions
        @Flag(help: "Print canonical JSON (schema cosci.check/v1).") var json = false

        func run() throws {
            let a = try options.analyse(tolerateErrors: true)
            let errors = a.diagnostics.filter { $0.severity == .error }.count
            let warnings = a.diagnostics.count - errors
            if json {
                Output.json(TreeReports.check(packages: a.tree.packages.count, diagnostics: a.diagnostics))
            } else {
                for d in a.diagnostics { Output.write(d.description + "\n") }
                Output.write(
                    "checked \(a.tree.packages.count) package(s), \(a.tree.templateFiles.count) shared template(s): "
                        + "\(errors) error(s), \(warnings) warning(s)\n")
            }
            if errors > 0 { throw ExitCode(ExitStatus.treeErrors) }
        }
    }

    struct Version: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print cosci's version and the linked C libraries.")

        func run() {
            Output.write(CosciVersion.details + "\n")
        }
    }
}
