import CosciModel
import Testing

@testable import CosciTemplate

@Suite("Actions, trim markers and variables")
struct ActionTests {
    @Test(
        "renders",
        arguments: [
            // Text and printing
            ("plain text", "plain text"),
            ("{{ .Values.name }}", "cos"),
            ("{{.Values.count}} {{.Values.ratio}} {{.Values.enabled}}", "3 1.5 true"),
            ("{{ .Values.list }}", "[a b c]"),
            ("{{ .Values.labels }}", "map[github.owner:mudler github.repo:luet plain:x]"),
            ("{{ .Values.nested.inner.leaf }}", "deep"),
            ("{{ $.Values.name }}", "cos"),
            ("{{ (index .Values \"nested\").inner.leaf }}", "deep"),
            ("{{ 42 }} {{ -7 }} {{ 0x1F }} {{ 0o17 }} {{ 017 }} {{ 1_000 }} {{ 0b101 }}", "42 -7 31 15 15 1000 5"),
            ("{{ 1.5 }} {{ 1e3 }} {{ 2.0 }} {{ .5 }}", "1.5 1000 2 0.5"),
            ("{{ 'a' }} {{ '\\n' }}", "97 10"),
            (#"{{ "tab\there" }}|{{ `raw\t` }}|{{ "\u00e9\x41\101" }}"#, "tab\there|raw\\t|éAA"),
            ("{{ true }} {{ false }}", "true false"),
            // Comments and trim markers
            ("a {{/* comment */}} b", "a  b"),
            ("a {{- /* comment */ -}} b", "ab"),
            ("a\n\n  {{- .Values.name -}}  \n\nb", "acosb"),
            ("x {{- 3 }} y", "x3 y"),
            ("x {{ 3 -}} y", "x 3y"),
            ("{{-3}}", "-3"),
            ("{{ 3 }}\n{{- 4 }}", "34"),
            ("{{/* multi\nline\ncomment */}}x", "x"),
            // if / else if / else
            ("{{ if .Values.enabled }}yes{{ end }}", "yes"),
            ("{{ if .Values.disabled }}yes{{ else }}no{{ end }}", "no"),
            ("{{ if .Values.missing }}1{{ else if .Values.empty }}2{{ else if .Values.count }}3{{ else }}4{{ end }}", "3"),
            ("{{ if .Values.missing }}1{{ else if .Values.empty }}2{{ else }}4{{ end }}", "4"),
            ("{{ if .Values.nothing }}1{{ else }}0{{ end }}{{ if .Values.list }}L{{ end }}{{ if .Values.ratio }}R{{ end }}", "0LR"),
            ("{{ if and .Values.enabled .Values.count }}both{{ end }}", "both"),
            ("{{ if not .Values.missing }}absent{{ end }}", "absent"),
            // with / else with / else
            ("{{ with .Values.nested.inner }}{{ .leaf }}{{ end }}", "deep"),
            ("{{ with .Values.missing }}x{{ else }}none{{ end }}", "none"),
            ("{{ with .Values.missing }}x{{ else with .Values.name }}{{ . }}{{ end }}", "cos"),
            ("{{ with $x := .Values.name }}{{ $x }}-{{ . }}{{ end }}", "cos-cos"),
            // range
            ("{{ range .Values.list }}[{{ . }}]{{ end }}", "[a][b][c]"),
            ("{{ range $i, $e := .Values.list }}{{ $i }}={{ $e }} {{ end }}", "0=a 1=b 2=c "),
            ("{{ range $e := .Values.numbers }}{{ $e }}{{ end }}", "312"),
            ("{{ range $k, $v := .Values.labels }}{{ $k }}:{{ $v }};{{ end }}", "github.owner:mudler;github.repo:luet;plain:x;"),
            ("{{ range .Values.labels }}{{ . }},{{ end }}", "mudler,luet,x,"),
            ("{{ range 3 }}{{ . }}{{ end }}", "012"),
            ("{{ range $i := 2 }}{{ $i }}{{ end }}", "01"),
            ("{{ range .Values.missing }}x{{ else }}empty{{ end }}", "empty"),
            ("{{ range (list) }}x{{ else }}empty{{ end }}", "empty"),
            ("{{ range 0 }}x{{ else }}zero{{ end }}", "zero"),
            ("{{ range .Values.list }}{{ if eq . \"b\" }}{{ break }}{{ end }}{{ . }}{{ end }}", "a"),
            ("{{ range .Values.list }}{{ if eq . \"b\" }}{{ continue }}{{ end }}{{ . }}{{ end }}", "ac"),
            ("{{ range $i, $e := .Values.list }}{{ range $.Values.numbers }}{{ if eq . 1 }}{{ break }}{{ end }}{{ $e }}{{ . }}{{ end }}{{ end }}", "a3b3c3"),
            // Variables and scoping
            ("{{ $x := 1 }}{{ $x }}", "1"),
            ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", "2"),
            ("{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}", "21"),
            ("{{ $x := \"a\" }}{{ range .Values.list }}{{ $x = . }}{{ end }}{{ $x }}", "c"),
            ("{{ $v := .Values }}{{ $v.name }}", "cos"),
            ("{{ with .Values.labels }}{{ $.Values.name }}{{ end }}", "cos"),
            ("{{ $x := .Values.name | upper }}{{ $x }}", "COS"),
            ("{{ $n := len .Values.list }}{{ $n }}", "3"),
            // Pipelines
            ("{{ .Values.name | printf \"%s-%s\" \"x\" }}", "x-cos"),
            ("{{ \"a\" | upper | printf \"<%s>\" }}", "<A>"),
            ("{{ (printf \"%d\" 5) }}", "5"),
            ("{{ printf \"%s\" (print (add 1 2)) }}", "3"),
            ("{{\n  .Values.name\n}}", "cos"),
            // define / template / block
            ("{{ define \"x\" }}[{{ . }}]{{ end }}{{ template \"x\" \"arg\" }}", "[arg]"),
            ("{{ template \"x\" 7 }}{{ define \"x\" }}<{{ . }}>{{ end }}", "<7>"),
            ("{{ define \"noarg\" }}{{ if . }}set{{ else }}unset{{ end }}{{ end }}{{ template \"noarg\" }}", "unset"),
            ("{{ block \"b\" .Values.name }}default {{ . }}{{ end }}", "default cos"),
            ("{{ define \"v\" }}{{ $x := 5 }}{{ $x }}{{ end }}{{ $x := 1 }}{{ template \"v\" }}{{ $x }}", "51"),
            ("{{ define \"rec\" }}{{ if gt . 0 }}{{ . }}{{ template \"rec\" (sub . 1) }}{{ end }}{{ end }}{{ template \"rec\" 3 }}", "321"),
            ("{{ define \"i\" }}{{ .a }}{{ end }}{{ include \"i\" (dict \"a\" \"z\") | upper }}", "Z"),
        ] as [(String, String)])
    func renders(source: String, expected: String) throws {
        #expect(try render(source) == expected)
    }

    @Test("a block's body is replaced by a define of the same name in the main template")
    func blockOverride() throws {
        let shared = #"{{ block "greeting" . }}hello{{ end }}"#
        #expect(try render(#"{{ define "greeting" }}bonjour{{ end }}"#, shared: [shared]) == "bonjour")
        #expect(try render("", shared: [shared]) == "hello")
    }

    @Test("shared definitions: the later shared file wins, the main file wins over both, shared top level comes first")
    func sharedDefinitions() throws {
        let first = #"{{ define "who" }}first{{ end }}top1 "#
        let second = #"{{ define "who" }}second{{ end }}top2 "#
        #expect(try render(#"{{ template "who" }}"#, shared: [first, second]) == "top1 top2 second")
        #expect(try render(#"{{ define "who" }}main{{ end }}{{ template "who" }}"#, shared: [first, second]) == "top1 top2 main")
    }

    @Test("a blank redefinition does not replace a non-empty one")
    func blankRedefinition() throws {
        #expect(try render(#"{{ define "a" }}x{{ end }}{{ define "a" }}  {{ end }}{{ template "a" }}"#) == "x")
    }

    @Test("set writes back to the variable it was given, as sprig's in-place mutation does")
    func setMutatesVariable() throws {
        #expect(try render(#"{{ $d := dict "a" 1 }}{{ $_ := set $d "b" 2 }}{{ $d.b }}{{ $_ := unset $d "a" }}{{ hasKey $d "a" }}"#) == "2false")
    }

    @Test("and/or short-circuit and return the deciding operand")
    func andOrShortCircuit() throws {
        // `fail` would abort if evaluated.
        #expect(try render(#"{{ and .Values.disabled (fail "evaluated") }}"#) == "false")
        #expect(try render(#"{{ or .Values.name (fail "evaluated") }}"#) == "cos")
        #expect(try render(#"{{ or .Values.empty .Values.missing 0 "last" }}"#) == "last")
        #expect(try render(#"{{ and 1 "x" .Values.count }}"#) == "3")
        #expect(try render(#"{{ .Values.name | and true }}"#) == "cos")
    }

    @Test("the recursion limit stops endless template calls with an error naming the template")
    func recursionLimit() throws {
        let error = try #require(renderError("{{ define \"loop\" }}{{ template \"loop\" . }}{{ end }}\n{{ template \"loop\" . }}"))
        #expect(error.message.contains("maximum nesting depth of 100"))
        #expect(error.message.contains(#"template "loop""#))
        #expect(error.file == "build.yaml")
        #expect(error.line == 1)
        let viaInclude = try #require(renderError(#"{{ define "i" }}{{ include "i" . }}{{ end }}{{ include "i" . }}"#))
        #expect(viaInclude.message.contains("maximum nesting depth"))
    }

    @Test("templates parse once and render many times with different data")
    func parseOnceRenderMany() throws {
        let template = try ParsedTemplate.parse("{{ .Values.name }}", file: "t.yaml")
        for name in ["a", "b", "c"] {
            let out = try TemplateSet.empty.render(template, data: .map(["Values": .map(["name": .string(name)])]))
            #expect(out.text == name)
        }
        #expect(try ParsedTemplate.parse(#"{{ define "a" }}{{ end }}{{ block "b" . }}{{ end }}"#, file: "t").definedNames == ["a", "b"])
    }

    @Test("typical template rendered 2,000 times against one set")
    func repeatedRendering() throws {
        let shared = try ParsedTemplate.parse(
            #"{{ define "pkg" }}- {{ .name }}-{{ .version }}{{ end }}"#, file: "templates/pkg.yaml")
        let set = try TemplateSet(shared: [shared])
        let main = try ParsedTemplate.parse(
            """
            image: "{{ .Values.image }}"
            {{ if .Values.distribution }}
            {{ if eq .Values.distribution "ubuntu" }}
            env:
            - DEBIAN_FRONTEND=noninteractive
            {{ end }}
            {{ end }}
            steps:
            {{ range $i, $p := .Values.packages }}
            - echo {{ $i }} {{ $p | quote }}
            {{ end }}
            prelude:
            {{ template "pkg" (dict "name" .Values.name "version" (.Values.version | default "0.1")) }}
            JOBS={{ (index .Values.labels "emerge.jobs") | default "3" }}
            """, file: "build.yaml")
        let data: Value = .map([
            "Values": .map([
                "image": .string("opensuse/leap"), "distribution": .string("ubuntu"), "name": .string("kernel"),
                "packages": .list([.string("gcc"), .string("make")]), "labels": .map([:]),
            ])
        ])
        var total = 0
        for _ in 0..<2_000 { total += try set.render(main, data: data).text.utf8.count }
        let once = try set.render(main, data: data).text
        #expect(total == once.utf8.count * 2_000)
        #expect(once.contains("- kernel-0.1\nJOBS=3"))
    }
}
