import CosciModel
import Testing

@testable import CosciTemplate

@Suite("Output line origins")
struct LineMapTests {
    private func origins(_ rendered: RenderedText) -> [String] {
        (1...max(1, rendered.lineCount)).compactMap { rendered.origin(ofOutputLine: $0)?.description }
    }

    @Test("every output line maps to the source line of its first character, through templates and shared files")
    func mixedSources() throws {
        let shared = "{{ define \"t\" }}\nfrom shared {{ .Values.name }}\n{{ end }}"
        let main = """
            line1: {{ .Values.name }}
            {{ if .Values.enabled }}
            yes
            {{ end }}
            {{ template "t" . }}
            last
            """
        let rendered = try renderText(main, shared: [shared])
        #expect(rendered.text == "line1: cos\n\nyes\n\n\nfrom shared cos\n\nlast")
        #expect(origins(rendered) == [
            "build.yaml:1", "build.yaml:2", "build.yaml:3", "build.yaml:4",
            "shared0.yaml:1", "shared0.yaml:2", "build.yaml:5", "build.yaml:6",
        ])
        #expect(rendered.origin(ofOutputLine: 0) == nil)
        #expect(rendered.origin(ofOutputLine: 9) == nil)
    }

    @Test("trim markers: lines come from where their text was written")
    func trimmed() throws {
        let rendered = try renderText("a: 1\n{{- if true }}\nb: {{ .Values.name }}\n{{- end }}\n\nc: 3\n")
        #expect(rendered.text == "a: 1\nb: cos\n\nc: 3\n")
        #expect(origins(rendered) == ["build.yaml:1", "build.yaml:3", "build.yaml:5", "build.yaml:6"])
        #expect(rendered.lineCount == 4)
    }

    @Test("multi-line action output takes the action's line; a line starting with an action takes its line")
    func actionOutput() throws {
        let data: Value = .map(["Values": .map(["script": .string("one\ntwo\nthree")])])
        let rendered = try renderText("x:\n  {{- .Values.script | nindent 2 }}\n{{ \"tail\" }} end", data)
        #expect(rendered.text == "x:\n  one\n  two\n  three\ntail end")
        #expect(origins(rendered) == ["build.yaml:1", "build.yaml:2", "build.yaml:2", "build.yaml:2", "build.yaml:3"])
    }

    @Test("shared top-level text is emitted first and mapped to the shared file")
    func sharedTopLevel() throws {
        let rendered = try renderText("main", shared: ["# header\n{{ define \"x\" }}{{ end }}\n"])
        #expect(rendered.text == "# header\n\nmain")
        #expect(origins(rendered) == ["shared0.yaml:1", "shared0.yaml:2", "build.yaml:1"])
    }

    @Test("empty output has no lines")
    func emptyOutput() throws {
        let rendered = try renderText("{{ if false }}x{{ end }}")
        #expect(rendered.text.isEmpty)
        #expect(rendered.lineCount == 0)
        #expect(rendered.origin(ofOutputLine: 1) == nil)
    }
}
