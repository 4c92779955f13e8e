import ArgumentParser
import CosciEngine
import CosciModel
import Foundation

extension Cosci {
    struct Config: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "config",
            abstract: "Print the resolved settings and where each came from (flag, environment, cosci.yaml, default).",
            discussion: "Every setting reads, strongest first, its flag, its COSCI_<NAME> environment variable, cosci.yaml, then the built-in default; paths from flags and the environment are relative to the working directory, those of cosci.yaml to the project root. Exit codes: 0, 2 when the project cannot be resolved.")

        @OptionGroup var options: TreeOptions
        @Option(help: SharedHelp.localCache) var cache: String?
        @Option(help: SharedHelp.output) var output: String?
        @Flag(help: "Print canonical JSON (schema cosci.config/v1).") var json = false

        func run() throws {
            let project = try options.project(cache: cache, output: output)
            if json {
                Output.json(.map([
                    "schema": .string("cosci.config/v1"),
                    "settings": .list(project.settings.map { s in
                        .map(["name": .string(s.name), "value": .string(s.value), "source": .string(s.source.rawValue),
                              "variable": .string(s.environmentVariable)])
                    }),
                ]))
                return
            }
            let width = (project.settings.map(\.name.count).max() ?? 0) + 2
            var out = ""
            for s in project.settings {
                let value = s.name == "cache" || s.name == "output" || s.name == "tree" || s.name == "config" ? Output.display(s.value) : s.value
                out += s.name.padding(toLength: width, withPad: " ", startingAt: 0) + value + "  (" + s.source.rawValue
                out += s.source == .environment ? " " + s.environmentVariable : ""
                out += ")\n"
            }
            Output.write(out)
        }
    }
}
