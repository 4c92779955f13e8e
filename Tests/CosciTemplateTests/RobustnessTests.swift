import CosciModel
import Testing

@testable import CosciTemplate

/// A small deterministic generator (SplitMix64), so a failure reproduces.
private struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Robustness")
struct RobustnessTests {
    static let seeds = [
        LuetTemplateTests.distribution, LuetTemplateTests.golangDownload + LuetTemplateTests.prelude,
        #"{{ range $i, $e := .Values.list }}{{ if eq $i 1 }}{{ break }}{{ end }}{{ $e | quote }}{{ end }}"#,
        #"{{- with .Values.labels }}{{ toYaml . | nindent 2 }}{{ else }}{{ printf "%5.2f|%-3s|%x" 3.14159 "a" 255 }}{{ end -}}"#,
        #"{{ define "t" }}{{ include "t" . }}{{ end }}{{ block "b" . }}{{ index . "Values" "nested" }}{{ end }}"#,
        #"{{/* c */}}{{ $x := dict "a" (list 1 2.5 "s" nil true) }}{{ $x.a }}{{ regexReplaceAll "(a)" "aa" "$1x" }}"#,
    ]

    static let fragments = [
        "{{", "}}", "{{- ", " -}}", "(", ")", "|", "$x", "$", ":=", "=", ",", "\"", "`", "'", "end", "if", "else",
        "range", "with", "break", "define \"a\"", "template \"a\" .", "block \"b\" .", "/*", "*/", "0x", "-", ".",
        "\n", "\\", "é", "nil", "1e999", "99999999999999999999", "'\\u0000'", ".Values.", "index", "printf \"%",
        "%*d", "include \"t\" .", "}", "{",
    ]

    @Test("mutated templates fail with a TemplateError or render; they never crash")
    func mutationFuzz() {
        var random = SplitMix(state: 0xC05C1)
        var rendered = 0, failed = 0
        for round in 0..<3_000 {
            var bytes = Array(Self.seeds[round % Self.seeds.count].utf8)
            for _ in 0...Int.random(in: 0...3, using: &random) {
                let at = bytes.isEmpty ? 0 : Int.random(in: 0...bytes.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0 where !bytes.isEmpty:
                    let end = min(bytes.count, at + Int.random(in: 1...6, using: &random))
                    bytes.removeSubrange(min(at, end)..<end)
                case 1:
                    bytes.insert(contentsOf: Self.fragments[Int.random(in: 0..<Self.fragments.count, using: &random)].utf8, at: at)
                default:
                    bytes.insert(UInt8.random(in: 0...255, using: &random), at: at)
                }
            }
            do {
                _ = try render(String(decoding: bytes, as: UTF8.self))
                rendered += 1
            } catch let error as TemplateError {
                #expect(error.file == "build.yaml" || error.file.hasPrefix("shared"))
                #expect(error.line >= 1)
                failed += 1
            } catch {
                Issue.record("unexpected error type \(error)")
            }
        }
        #expect(rendered + failed == 3_000)
        #expect(rendered > 100 && failed > 100)
    }

    private static func nestedRecursion(blocks: Int, calls: Int) -> String {
        let open = String(repeating: "{{ if true }}", count: blocks)
        let close = String(repeating: "{{ end }}", count: blocks)
        return "{{ define \"deep\" }}\(open){{ if gt . 0 }}{{ template \"deep\" (sub . 1) }}{{ else }}bottom{{ end }}\(close){{ end }}{{ template \"deep\" \(calls) }}"
    }

    @Test("deep nesting renders up to the budget and fails cleanly beyond it, never exhausting the stack")
    func deepNesting() throws {
        #expect(try render(Self.nestedRecursion(blocks: 2, calls: 98)) == "bottom")
        let tooDeep = try #require(renderError(Self.nestedRecursion(blocks: 98, calls: 98)))
        #expect(tooDeep.message.hasPrefix("blocks and template calls nest more than 500 levels deep"))
        let endless = try #require(renderError("{{ define \"d\" }}{{ template \"d\" . }}{{ end }}{{ template \"d\" . }}"))
        #expect(endless.message.contains("maximum nesting depth of 100"))
        let parens = String(repeating: "(", count: 99) + "1" + String(repeating: ")", count: 99)
        #expect(try render("{{ \(parens) }}") == "1")
        let includes = "{{ define \"i\" }}{{ if gt . 0 }}{{ include \"i\" (sub . 1) | printf \"(%s)\" }}{{ end }}{{ end }}{{ include \"i\" 99 }}"
        #expect(try render(includes) == String(repeating: "(", count: 99) + String(repeating: ")", count: 99))
    }
}
