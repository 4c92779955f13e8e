import CosciModel
import Testing


@testable import CosciTemplate
import CosciYAML

@Suite("YAML conversion")
struct YAMLTests {
    private func value(_ yaml: String) throws -> Value {
        guard let node = try YAMLNode.compose(yaml) else { return .null }
        return try Value(yaml: node)
    }

    @Test("scalars resolve as YAML 1.1 does")
    func scalars() throws {
        let v = try value(
            """
            int: 1
            float: 1.5
            yes: yes
            on: On
            tilde: ~
            empty:
            quoted: "1"
            single: 'true'
            octal: 0755
            hex: 0x1F
            date: 2001-12-14
            inf: .inf
            text: hello world
            negative: -3
            """)
        #expect(v == .map([
            "int": .int(1), "float": .double(1.5), "yes": .bool(true), "on": .bool(true), "tilde": .null,
            "empty": .null, "quoted": .string("1"), "single": .string("true"), "octal": .int(493), "hex": .int(31),
            "date": .string("2001-12-14"), "inf": .double(.infinity), "text": .string("hello world"), "negative": .int(-3),
        ]))
    }

    @Test("merge keys: a single map, a list of maps, explicit keys win, earlier merged maps win")
    func mergeKeys() throws {
        let v = try value(
            """
            base: &base
              a: 1
              b: 2
            other: &other
              b: 20
              c: 30
            single:
              <<: *base
              b: 3
            multi:
              <<: [*base, *other]
              d: 4
            reversed:
              d: 5
              <<: [*other, *base]
            quoted:
              "<<": literal
            """)
        #expect(v["single"] == .map(["a": .int(1), "b": .int(3)]))
        #expect(v["multi"] == .map(["a": .int(1), "b": .int(2), "c": .int(30), "d": .int(4)]))
        #expect(v["reversed"] == .map(["a": .int(1), "b": .int(20), "c": .int(30), "d": .int(5)]))
        #expect(v["quoted"] == .map(["<<": .string("literal")]))
    }

    @Test("a merge key over a scalar and a non-scalar map key are errors")
    func badDocuments() throws {
        #expect(throws: YAMLValueError.self) { try value("a:\n  <<: 5\n") }
        #expect(throws: YAMLValueError.self) { try value("a:\n  <<: [1]\n") }
        #expect(throws: YAMLValueError.self) { try value("? [a, b]\n: 1\n") }
    }

    @Test(
        "yamlText writes yaml.v2's block style",
        arguments: [
            (Value.map(["b": .int(1), "a": .map(["y": .list([.string("x"), .int(2)]), "x": .bool(true)]), "c": .list([]), "d": .map([:])]),
             "a:\n  x: true\n  \"y\":\n  - x\n  - 2\nb: 1\nc: []\nd: {}\n"),
            (.list([.map(["b": .int(2), "a": .int(1)]), .map(["c": .null])]), "- a: 1\n  b: 2\n- c: null\n"),
            (.list([.list([.int(1), .int(2)]), .list([.int(3)])]), "- - 1\n  - 2\n- - 3\n"),
            (.map(["k": .list([.map(["a": .list([.int(1)])])])]), "k:\n- a:\n  - 1\n"),
            (.map(["script": .string("line1\nline2")]), "script: |-\n  line1\n  line2\n"),
            (.map(["s": .string("a\n")]), "s: |\n  a\n"),
            (.map(["s": .string("a\n\n")]), "s: |+\n  a\n\n"),
            (.map(["s": .string(" lead\n\nx")]), "s: |2-\n   lead\n\n  x\n"),
            (.list([.string("a\nb")]), "- |-\n  a\n  b\n"),
            (.map(["s": .string("trailing \nspace")]), "s: \"trailing \\nspace\"\n"),
            (.map(["f": .double(1.5), "g": .double(1e6), "h": .double(-.infinity), "i": .double(0.00001)]),
             "f: 1.5\ng: 1e+06\nh: -.inf\ni: 1e-05\n"),
            (.string("scalar"), "scalar\n"),
            (.map([:]), "{}\n"),
            (.null, "null\n"),
        ] as [(Value, String)])
    func yamlText(value: Value, expected: String) {
        #expect(value.yamlText() == expected)
    }

    @Test(
        "strings are quoted only when they would not read back as the same string",
        arguments: [
            ("plain text", "plain text"), ("true", "\"true\""), ("123", "\"123\""), ("", "\"\""), ("a: b", "'a: b'"),
            ("- x", "'- x'"), ("#c", "'#c'"), ("it's", "it's"), (" lead", "' lead'"), ("tab\there", "\"tab\\there\""),
            ("null", "\"null\""), ("1.5", "\"1.5\""), ("0755", "\"0755\""), ("yes", "\"yes\""), ("x #y", "'x #y'"),
            ("a:b", "a:b"), ("*ref", "'*ref'"), ("'quoted'", "'''quoted'''"), ("~", "\"~\""), ("y", "\"y\""),
            ("2001-12-14", "\"2001-12-14\""), ("v1.2.3", "v1.2.3"), ("1.2.3", "1.2.3"), ("café", "café"),
            ("---", "'---'"), ("trailing ", "'trailing '"), ("cr\rlf", "\"cr\\rlf\""),
        ] as [(String, String)])
    func quoting(text: String, expected: String) {
        #expect(Value.map(["k": .string(text)]).yamlText() == "k: \(expected)\n")
    }

    @Test("yamlText reads back as the same value")
    func roundTrip() throws {
        let original: Value = .map([
            "strings": .list([
                .string("true"), .string("0755"), .string(""), .string("a: b"), .string("multi\nline\n"),
                .string("  indented\nblock"), .string("#hash"), .string("tab\t"), .string("ünïcödé"), .string("\"q\""),
                .string("ends with newlines\n\n"), .string("{braces}"), .string("- dash"), .string("1e3"),
            ]),
            "numbers": .list([.int(-7), .int(0), .double(2.5), .double(-0.125), .double(1.25e-7)]),
            "flags": .map(["on": .bool(true), "off": .bool(false), "nothing": .null]),
            "nested": .list([.map(["a": .list([.list([.int(1)]), .map([:])]), "b": .list([])])]),
            "weird keys": .map(["yes": .int(1), "a: b": .int(2), "": .int(3), "123": .int(4)]),
        ])
        let text = original.yamlText()
        let node = try #require(try YAMLNode.compose(text))
        #expect(try Value(yaml: node) == original, "\(text)")
    }

    @Test("toYaml and fromYaml round trip through a template")
    func templateRoundTrip() throws {
        let data: Value = .map([
            "Values": .map(["config": .map(["name": .string("cos"), "ports": .list([.int(80), .int(443)]), "debug": .bool(false)])])
        ])
        #expect(try render("{{ toYaml .Values.config }}", data) == "debug: false\nname: cos\nports:\n- 80\n- 443")
        #expect(try render("{{ (toYaml .Values.config | fromYaml).ports }}", data) == "[80 443]")
        #expect(try render("{{ eq (toYaml .Values.config | fromYaml | toJson) (toJson .Values.config) }}", data) == "true")
        #expect(try render("config:\n  {{- toYaml .Values.config | nindent 2 }}", data)
            == "config:\n  debug: false\n  name: cos\n  ports:\n  - 80\n  - 443")
    }

    @Test("toJson encodes doubles too large for Int64 without trapping")
    func hugeDoubleJSON() throws {
        #expect(try render("{{ toJson (list 1e19 1.5) }}") == "[10000000000000000000,1.5]")
        #expect(try render("{{ 1e19 }} {{ 1e6 }}") == "1e+19 1e+06")
    }
}

@Suite("Plain scalar typing")
struct PlainScalarTyping {
    @Test(arguments: [
        ("~", Value.null), ("null", .null), ("", .null), ("yes", .bool(true)), ("Off", .bool(false)), ("TRUE", .bool(true)),
        ("12", .int(12)), ("-12", .int(-12)), ("0x1F", .int(31)), ("0755", .int(493)), ("0o17", .int(15)), ("0b101", .int(5)),
        ("1_000", .int(1000)), ("190:20:30", .int(685230)), ("1.5", .double(1.5)), ("1e3", .double(1000)), ("-.inf", .double(-.infinity)),
        ("1.0", .double(1.0)), ("0.20210719", .double(0.20210719)), ("4.25.2-2", .string("4.25.2-2")), ("1:2.0", .string("1:2.0")),
        ("0999", .string("0999")), ("y", .string("y")), ("nope", .string("nope")), ("2001-12-14", .string("2001-12-14")),
        ("+", .string("+")), (".", .string(".")), ("1e", .string("1e")), ("v1.0", .string("v1.0")),
    ])
    func resolves(_ text: String, _ expected: Value) {
        #expect(YAMLScalar.resolve(plain: text) == expected, "\(text)")
    }
}

@Suite("YAML composer")
struct YAMLComposer {
    @Test func linesAnchorsAndTags() throws {
        let node = try #require(try YAMLNode.compose("a: &x\n  b: 1\nc: *x\nd: !!str 12\ne: !!int \"7\"\n"))
        #expect(node.line == 1)
        #expect(try Value(yaml: node) == .map(["a": .map(["b": .int(1)]), "c": .map(["b": .int(1)]), "d": .string("12"), "e": .int(7)]))
    }

    @Test(arguments: [
        ("a: *nope\n", 1, "undefined alias"),
        ("a: 1\n---\nb: 2\n", 2, "single document"),
        ("a: [1, 2\n", 2, "did not find expected ',' or ']'"),
        ("a:\n  - b\n c: d\n", 3, "did not find expected key"),
    ])
    func syntaxErrors(_ text: String, _ line: Int, _ fragment: String) {
        do {
            _ = try YAMLNode.compose(text)
            Issue.record("expected an error for \(text)")
        } catch {
            #expect(error.line == line, "\(error)")
            #expect(error.message.contains(fragment), "\(error)")
        }
    }

    @Test func emptyStreamIsNil() throws {
        #expect(try YAMLNode.compose("") == nil)
        #expect(try YAMLNode.compose("# only a comment\n") == nil)
    }
}

@Suite("Duplicate keys") struct DuplicateKeys {
    @Test("a key given twice keeps its last value and is reported, as luet reads it")
    func lastWins() throws {
        let (node, duplicates) = try YAMLNode.composeReporting("name: a\nversion: 1\nversion: 2\n")
        #expect(try Value(yaml: try #require(node)) == .map(["name": .string("a"), "version": .int(2)]))
        #expect(duplicates.map(\.key) == ["version"] && duplicates.map(\.firstLine) == [2] && duplicates.map(\.line) == [3])
    }
}

@Suite("YAML 1.1 readers") struct YAML11Quoting {
    @Test("scalars a YAML 1.1 reader would retype are quoted", arguments: ["1:2.0", "1:20", "-1:30:00", "1_000", "0b101", ".5", "1_0.5"])
    func quoted(_ text: String) {
        #expect(Value.map(["v": .string(text)]).yamlText() == "v: \"\(text)\"\n")
    }

    @Test("strings that stay strings stay plain", arguments: ["0.0.9~rc1", "1.2.3", "1:2.0-x", "a:b", "4.30.1-2", "12:99"])
    func plain(_ text: String) {
        #expect(Value.map(["v": .string(text)]).yamlText() == "v: \(text)\n")
    }
}

@Suite("YAML scalars the fuzzer found") struct FuzzFindings {
    @Test("a base-60 number too large for an integer stays a string instead of trapping")
    func sexagesimalOverflow() throws {
        let text = "v: " + Array(repeating: "1", count: 15).joined(separator: ":") + "\n"
        let node = try #require(try YAMLNode.compose(text))
        #expect(try Value(yaml: node) == .map(["v": .string(Array(repeating: "1", count: 15).joined(separator: ":"))]))
        #expect(try Value(yaml: try #require(try YAMLNode.compose("v: 1:30\n"))) == .map(["v": .int(90)]))
    }
}
