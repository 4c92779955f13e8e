import CosciModel
import Testing

@testable import CosciTemplate

@Suite("Syntax errors")
struct SyntaxErrorTests {
    static let deepParentheses = String(repeating: "(", count: 150) + "1" + String(repeating: ")", count: 150)

    @Test(
        "bad templates fail to parse at the right line",
        arguments: [
            ("a\n{{ .Values.x", 2, "unclosed action"),
            ("a\n{{ .Values.x\n\n", 2, "unclosed action"),
            ("{{ end }}", 1, "unexpected {{end}}"),
            ("a\n\n{{ else }}", 3, "unexpected {{else}}"),
            ("x\n{{ \"abc }}", 2, "unterminated quoted string"),
            ("{{ `abc }}\n\n", 1, "unterminated raw quoted string"),
            ("{{ 'ab }}", 1, "unterminated character constant"),
            ("{{ if .x }}\nfoo\n{{ range .y }}\n{{ end }}\n", 1, "unclosed {{if}}"),
            ("a\n{{ range .y }}\nx", 2, "unclosed {{range}}"),
            ("a\n{{ with .y }}\nx{{ else }}y", 2, "unclosed {{with}}"),
            ("{{ if .x }}\n{{ else if .y }}\nz", 1, "unclosed {{if}}"),
            ("{{ define \"x\" }}\nbody", 1, "unclosed {{define}}"),
            ("\n{{ block \"b\" . }}\nbody", 2, "unclosed {{block}}"),
            ("{{ .x }\n}", 1, "unclosed action"),
            ("{{ .x }\nmore {{ .y }}", 1, "unexpected \"}\" in operand"),
            ("{{ $x }}", 1, "undefined variable \"$x\""),
            ("{{ if true }}{{ $y := 2 }}{{ end }}\n{{ $y }}", 2, "undefined variable \"$y\""),
            ("{{ range $i, $e := .x }}{{ end }}{{ $e }}", 1, "undefined variable \"$e\""),
            ("{{ $x = 1 }}", 1, "undefined variable \"$x\""),
            ("{{ $x := 1 }}{{ define \"d\" }}{{ $x }}{{ end }}", 1, "undefined variable \"$x\""),
            ("\n{{ break }}", 2, "{{break}} outside {{range}}"),
            ("{{ continue }}", 1, "{{continue}} outside {{range}}"),
            ("{{ range .x }}{{ else }}{{ break }}{{ end }}", 1, "{{break}} outside {{range}}"),
            ("{{ 1 2 }}", 1, "can't give arguments to non-function 1"),
            ("{{ .x | 3 }}", 1, "can't pipe into non-function 3"),
            ("{{ .x | .y }}", 1, "can't pipe into non-function .y"),
            ("{{ nil }}", 1, "nil is not a command"),
            ("{{ ( .x }}", 1, "unclosed left parenthesis"),
            ("{{ .x ) }}", 1, "unexpected right parenthesis"),
            ("{{ template foo }}", 1, "the template name must be a quoted string"),
            ("{{ if }}{{ end }}", 1, "missing value for if"),
            ("{{ 1abc }}", 1, "bad number syntax"),
            ("{{ 99999999999999999999 }}", 1, "does not fit in a 64-bit integer"),
            ("{{ \"\\q\" }}", 1, "invalid escape"),
            ("{{ /* x */ }}", 1, "unexpected \"/\" in command"),
            ("a\n{{/* unclosed", 2, "unclosed comment"),
            ("{{/* c */ x }}", 1, "comment ends before closing delimiter"),
            ("{{ define \"a\" }}x{{ end }}\n{{ define \"a\" }}y{{ end }}", 2, "template \"a\" is defined twice (first at line 1)"),
            ("{{ if .x }}{{ else }}\n{{ else }}{{ end }}", 2, "a second {{else}}"),
            ("{{ range .x }}{{ else if .y }}{{ end }}", 1, "{{else if}} is not allowed in {{range}}"),
            ("{{ .x | }}", 1, "missing command after \"|\""),
            ("{{ with .x }}\n{{ define \"y\" }}{{ end }}{{ end }}", 2, "{{define}} is only allowed at the top level"),
            ("{{ $a, $b := .x }}", 1, "only {{range}} can declare two variables"),
            ("{{ range $a, $b, $c := .x }}{{ end }}", 1, "too many declarations in {{range}}"),
            ("{{ .x = 1 }}", 1, "unexpected \"=\" in operand"),
            ("{{ dict.a }}", 1, "can't take a field of function dict"),
            ("{{ \"s\".x }}", 1, "unexpected field after \"\\\"s\\\"\""),
            ("{{ $x:1 }}", 1, "expected \":=\""),
            ("{{ .a$ }}", 1, "bad character \"$\" after \".a\""),
            ("{{ \(deepParentheses) }}", 1, "nested more than 100 levels deep"),
            ("{{ \u{7} }}", 1, "unrecognized character in action"),
        ] as [(String, Int, String)])
    func badTemplate(source: String, line: Int, fragment: String) throws {
        do {
            _ = try ParsedTemplate.parse(source, file: "build.yaml")
            Issue.record("parsed without error: \(source)")
        } catch {
            #expect(error.file == "build.yaml")
            #expect(error.line == line, "\(error)")
            #expect(error.message.contains(fragment), "\(error.message)")
        }
    }
}
