import CosciModel
import Testing

@testable import CosciTemplate

@Suite("The missing-value rule")
struct MissingValueTests {
    @Test(
        "printing a missing or null value fails at the action's line",
        arguments: [
            ("{{ .Values.kernel_package }}", 1, "no value for .Values.kernel_package"),
            ("a\nb\n  {{ .Values.nested.gone.deeper }}", 3, "no value for .Values.nested.gone.deeper"),
            ("{{ $x := .Values.gone }}\n{{ $x.sub }}", 2, "no value for .Values.gone.sub"),
            ("{{ $v := .Values }}{{ $v.gone }}", 1, "no value for $v.gone"),
            ("{{ index .Values.labels \"package.checksum\" }}", 1, "no value for .Values.labels[\"package.checksum\"]"),
            ("{{ index .Values \"labels\" \"nope\" }}", 1, "no value for .Values.labels.nope"),
            ("{{ (index .Values \"labels\").gone }}", 1, "no value for (index .Values \"labels\").gone"),
            ("{{ with .Values.labels }}\n{{ .gone }}{{ end }}", 2, "no value for .gone"),
            ("{{ .Values.nothing }}", 1, ".Values.nothing is null"),
            ("{{ coalesce .Values.missing .Values.empty }}", 1, "coalesce .Values.missing .Values.empty is null"),
            ("{{ .Values.gone | upper }}", 1, "upper: argument 1: no value for .Values.gone"),
            ("{{ define \"t\" }}\n\n{{ .gone }}{{ end }}{{ template \"t\" .Values }}", 3, "no value for .gone (in template \"t\" called at build.yaml:3)"),
        ] as [(String, Int, String)])
    func printingFails(source: String, line: Int, message: String) throws {
        let error = try #require(renderError(source))
        #expect(error.message == message)
        #expect(error.line == line)
        #expect(error.file == "build.yaml")
        #expect(error.description == "build.yaml:\(line): template: \(message)")
    }

    @Test(
        "missing values flow through conditions, defaults and comparisons",
        arguments: [
            ("{{ if .Values.kernel_package }}x{{ else }}none{{ end }}", "none"),
            ("{{ with .Values.a.b.c }}x{{ else }}none{{ end }}", "none"),
            ("{{ .Values.kernel_package | default \"kernel-default\" }}", "kernel-default"),
            ("{{ default \"d\" (index .Values.labels \"emerge.jobs\") }}", "d"),
            ("{{ coalesce .Values.a .Values.b \"c\" }}", "c"),
            ("{{ empty .Values.a.b }}", "true"),
            ("{{ hasKey .Values \"kernel_package\" }}", "false"),
            ("{{ and .Values.a \"x\" | not }}", "true"),
            ("{{ or .Values.a \"fallback\" }}", "fallback"),
            ("{{ eq .Values.distribution \"ubuntu\" }}", "false"),
            ("{{ ne .Values.distribution \"ubuntu\" }}", "true"),
            ("{{ $x := .Values.gone }}{{ if $x }}x{{ else }}ok{{ end }}", "ok"),
            ("{{ cat \"a\" .Values.gone \"b\" }}", "a b"),
            ("{{ kindIs \"invalid\" .Values.gone }}", "true"),
        ] as [(String, String)])
    func missingIsFalsy(source: String, expected: String) throws {
        #expect(try render(source) == expected)
    }

    @Test("a field of a non-map value is an error naming the field and the type")
    func fieldOfScalar() throws {
        let error = try #require(renderError("\n{{ .Values.name.first }}"))
        #expect(error.message == "can't evaluate field first of .Values.name: it is string \"cos\", not a map")
        #expect(error.line == 2)
        let null = try #require(renderError("{{ .Values.nothing.x }}"))
        #expect(null.message == "can't evaluate field x of .Values.nothing: it is null")
        let list = try #require(renderError("{{ $.Values.list.x }}"))
        #expect(list.message == "can't evaluate field x of $.Values.list: it is a list, not a map")
    }

    @Test("an error inside a shared template names the shared file and the main template's call site")
    func errorInSharedTemplate() throws {
        let shared = "{{ define \"pkg\" }}\nname: {{ .name }}\nversion: {{ .version }}\n{{ end }}"
        let error = try #require(renderError("x: 1\n{{ template \"pkg\" (dict \"name\" \"a\") }}", shared: [shared]))
        #expect(error.file == "shared0.yaml")
        #expect(error.line == 3)
        #expect(error.message == "no value for .version (in template \"pkg\" called at build.yaml:2)")
    }

    @Test("a template or include of an undefined name is an error naming it")
    func undefinedTemplate() throws {
        let error = try #require(renderError("a\n{{ template \"does-not-exist\" . }}"))
        #expect(error.message == "template \"does-not-exist\" not defined")
        #expect(error.line == 2)
    }
}
