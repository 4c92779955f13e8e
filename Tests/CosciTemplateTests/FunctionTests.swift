import CosciModel
import Testing

@testable import CosciTemplate

@Suite("Functions")
struct FunctionTests {
    @Test(
        "Go builtins",
        arguments: [
            ("eq 1 1", "true"), ("eq 1 2", "false"), ("eq 1 2 3 1", "true"), ("eq \"a\" \"a\"", "true"),
            ("eq 1 1.0", "true"), ("eq .Values.missing nil", "true"), ("eq .Values.missing \"x\"", "false"),
            ("eq .Values.nothing .Values.missing", "true"), ("eq .Values.list (list \"a\" \"b\" \"c\")", "true"),
            ("ne 1 2", "true"), ("ne \"a\" \"a\"", "false"), ("ne .Values.missing \"ubuntu\"", "true"),
            ("lt 1 2", "true"), ("lt 2 1.5", "false"), ("le 2 2", "true"), ("gt \"b\" \"a\"", "true"),
            ("ge 1.5 1", "true"), ("gt .Values.count 2", "true"),
            ("and 1 0 2", "0"), ("or 0 \"\" \"x\"", "x"), ("not 0", "true"), ("not .Values.name", "false"),
            ("index .Values.labels \"github.owner\"", "mudler"), ("index .Values.list 1", "b"),
            ("index .Values \"nested\" \"inner\" \"leaf\"", "deep"), ("index (list (list 1 2) (list 3 4)) 1 0", "3"),
            ("index \"abc\" 1", "98"),
            ("len .Values.list", "3"), ("len .Values.labels", "3"), ("len \"héllo\"", "6"), ("len (list)", "0"),
            ("print \"a\" \"b\"", "ab"), ("print 1 2", "1 2"), ("print \"a\" 1 2 \"b\"", "a1 2b"),
            ("print .Values.list", "[a b c]"), ("println \"a\" 1", "a 1\n"),
            ("printf \"%s=%d\" \"x\" 5", "x=5"), ("printf \"%v|%v|%v\" 1.5 true .Values.list", "1.5|true|[a b c]"),
            ("printf \"%q\" \"a\\\"b\\n\"", "\"a\\\"b\\n\""), ("printf \"%x %X\" 255 255", "ff FF"),
            ("printf \"%x\" \"hi\"", "6869"), ("printf \"%5s|%-5s|%05d\" \"ab\" \"ab\" 42", "   ab|ab   |00042"),
            ("printf \"%.2f %f %t %%\" 3.14159 1.5 true", "3.14 1.500000 true %"),
            ("printf \"%d\" \"x\"", "%!d(string=x)"), ("printf \"%s %s\" \"a\"", "a %!s(MISSING)"),
            ("printf \"%s\" \"a\" 1", "a%!(EXTRA int=1)"), ("printf \"%v\" .Values.labels", "map[github.owner:mudler github.repo:luet plain:x]"),
            ("printf \"%s\" (list 1 \"a\")", "[%!s(int=1) a]"), ("printf \"%+d %+.1f\" 5 2.0", "+5 +2.0"),
            ("printf \"%6.2f|%-8.3e|%g\" 3.14159 1234.5 0.000012", "  3.14|1.234e+03|1.2e-05"),
            ("printf \"%T %T %T\" 1 \"s\" .Values.list", "int string []interface {}"),
            ("printf \"%c%c\" 72 105", "Hi"), ("printf \"%08.3f\" -3.14159", "-003.142"),
            ("slice \"abcdef\" 1 3", "bc"), ("slice .Values.list 1", "[b c]"), ("slice .Values.list 0 2", "[a b]"),
        ] as [(String, String)])
    func builtins(expression: String, expected: String) throws {
        #expect(try render("{{ \(expression) }}") == expected)
    }

    @Test(
        "maps, lists and defaults",
        arguments: [
            ("get .Values.labels \"plain\"", "x"), ("get .Values.labels \"absent\"", ""), ("get .Values.missing \"k\"", ""),
            ("dict \"b\" 2 \"a\" 1", "map[a:1 b:2]"), ("dict \"odd\"", "map[odd:]"), ("dict", "map[]"),
            ("list 1 \"a\" true", "[1 a true]"), ("list", "[]"),
            ("has \"b\" .Values.list", "true"), ("has \"z\" .Values.list", "false"), ("has 1 .Values.missing", "false"),
            ("hasKey .Values.labels \"plain\"", "true"), ("hasKey .Values.labels \"zz\"", "false"),
            ("hasKey .Values.missing \"zz\"", "false"),
            ("default \"d\" .Values.missing", "d"), ("default \"d\" .Values.empty", "d"), ("default \"d\" .Values.name", "cos"),
            ("default \"d\" .Values.nothing", "d"), ("default \"d\" 0", "d"), ("default \"d\" (list)", "d"),
            (".Values.missing | default \"piped\"", "piped"), ("default \"d\"", "d"), ("default 5 false", "5"),
            ("empty .Values.missing", "true"), ("empty .Values.list", "false"), ("empty 0", "true"), ("empty \"\"", "true"),
            ("empty .Values.nothing", "true"), ("empty (dict)", "true"),
            ("coalesce .Values.missing .Values.empty \"c\" \"d\"", "c"), ("coalesce 0 .Values.count", "3"),
            ("ternary \"yes\" \"no\" true", "yes"), ("ternary \"yes\" \"no\" (eq 1 2)", "no"),
            ("first .Values.list", "a"), ("last .Values.list", "c"), ("rest .Values.list", "[b c]"),
            ("initial .Values.list", "[a b]"), ("rest (list)", "[]"),
            ("append .Values.list \"d\"", "[a b c d]"), ("prepend .Values.list \"z\"", "[z a b c]"),
            ("concat .Values.list (list 1 2) (list)", "[a b c 1 2]"),
            ("keys .Values.labels", "[github.owner github.repo plain]"), ("keys (dict \"b\" 1) (dict \"a\" 2)", "[a b]"),
            ("values (dict \"b\" 1 \"a\" 2)", "[2 1]"), ("pluck \"a\" (dict \"a\" 1) (dict \"b\" 2) (dict \"a\" 3)", "[1 3]"),
            ("uniq (list 1 2 1 \"a\" \"a\")", "[1 2 a]"), ("sortAlpha (list \"b\" \"C\" \"a\")", "[C a b]"),
            ("sortAlpha .Values.numbers", "[1 2 3]"), ("reverse .Values.list", "[c b a]"),
            ("compact (list 1 \"\" 0 \"x\")", "[1 x]"), ("without .Values.list \"b\"", "[a c]"),
            ("merge (dict \"a\" 1) (dict \"a\" 2 \"b\" 3)", "map[a:1 b:3]"),
            ("set (dict \"a\" 1) \"b\" 2", "map[a:1 b:2]"), ("unset (dict \"a\" 1 \"b\" 2) \"a\"", "map[b:2]"),
            ("required \"need it\" .Values.name", "cos"),
        ] as [(String, String)])
    func collections(expression: String, expected: String) throws {
        #expect(try render("{{ \(expression) }}") == expected)
    }

    @Test(
        "strings",
        arguments: [
            ("cat \"a\" 1 .Values.missing .Values.nothing \"b\"", "a 1 b"), ("cat", ""),
            ("quote \"a\" \"b\\\"c\"", "\"a\" \"b\\\"c\""), ("quote 5", "\"5\""), ("quote .Values.nothing", ""),
            ("squote \"a\" 1", "'a' '1'"),
            ("replace \"-\" \"_\" \"a-b-c\"", "a_b_c"), ("\"a.b\" | replace \".\" \"\"", "ab"), ("replace \"\" \"-\" \"ab\"", "-a-b-"),
            ("trim \"  x y \\n\"", "x y"), ("trimAll \"-$\" \"$-x-$\"", "x"), ("trimPrefix \"v\" \"v1.2\"", "1.2"),
            ("trimPrefix \"x\" \"v1.2\"", "v1.2"), ("trimSuffix \".git\" \"repo.git\"", "repo"),
            ("contains \"ell\" \"hello\"", "true"), ("contains \"z\" \"hello\"", "false"),
            ("hasPrefix \"he\" \"hello\"", "true"), ("hasSuffix \"lo\" \"hello\"", "true"), ("hasSuffix \"x\" \"hello\"", "false"),
            ("split \".\" \"a.b.c\"", "map[_0:a _1:b _2:c]"), ("(split \".\" \"1.2.3\")._1", "2"),
            ("splitList \",\" \"a,,b\"", "[a  b]"), ("splitList \"\" \"ab\"", "[a b]"),
            ("join \",\" .Values.list", "a,b,c"), ("join \"-\" (list 1 .Values.nothing 2)", "1-2"), ("join \",\" \"solo\"", "solo"),
            ("upper \"abc\"", "ABC"), ("lower \"ABC\"", "abc"), ("title \"hello wide-world foo_bar\"", "Hello Wide-World Foo_bar"),
            ("repeat 3 \"ab\"", "ababab"), ("indent 2 \"a\\nb\"", "  a\n  b"), ("nindent 2 \"a\"", "\n  a"),
            ("substr 1 3 \"abcdef\"", "bc"), ("substr 2 -1 \"abcdef\"", "cdef"), ("trunc 3 \"abcdef\"", "abc"),
            ("trunc -2 \"abcdef\"", "ef"), ("nospace \" a b\\tc \"", "abc"),
            ("toString 5", "5"), ("toString 1.5", "1.5"), ("toString true", "true"), ("toString .Values.list", "[a b c]"),
            ("regexMatch \"^[0-9]+$\" \"123\"", "true"), ("regexMatch \"^[0-9]+$\" \"12a\"", "false"),
            ("regexReplaceAll \"([a-z]+)-([0-9]+)\" \"abc-123 de-4\" \"${2}_$1\"", "123_abc 4_de"),
            ("regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"$1W\"", "---"),
            ("regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"${1}W\"", "-W-xxW-"),
            ("regexReplaceAll \"x*\" \"abc\" \"-\"", "-a-b-c-"), ("regexReplaceAll \"(?P<n>[0-9])\" \"a1\" \"<$n>\"", "a<1>"),
            ("regexReplaceAll \"\\\\.\" \"1.2.3\" \"$$\"", "1$2$3"), ("regexReplaceAllLiteral \"[0-9]\" \"a1\" \"$1\"", "a$1"),
            ("regexFind \"[0-9]+\" \"ab12cd34\"", "12"), ("regexFindAll \"[0-9]\" \"a1b2c3\" 2", "[1 2]"),
        ] as [(String, String)])
    func strings(expression: String, expected: String) throws {
        #expect(try render("{{ \(expression) }}") == expected)
    }

    @Test(
        "numbers, encodings and types",
        arguments: [
            ("int \"42\"", "42"), ("int 3.9", "3"), ("int \"0x10\"", "16"), ("int \"abc\"", "0"), ("int \"2.0\"", "2"),
            ("atoi \"12\"", "12"), ("atoi \"x\"", "0"), ("float64 \"1.5\"", "1.5"), ("float64 2", "2"),
            ("add 1 2 3", "6"), ("add 1 \"2\" 1.9", "4"), ("add1 5", "6"), ("sub 5 7", "-2"), ("mul 2 3 4", "24"),
            ("div 7 2", "3"), ("div -7 2", "-3"), ("mod 7 3", "1"), ("max 1 5 3", "5"), ("min 4 2 8", "2"),
            ("toYaml .Values.labels", "github.owner: mudler\ngithub.repo: luet\nplain: x"),
            ("toYaml .Values.list", "- a\n- b\n- c"), ("toYaml \"1.0\"", "\"1.0\""),
            ("toJson .Values.labels", "{\"github.owner\":\"mudler\",\"github.repo\":\"luet\",\"plain\":\"x\"}"),
            ("toJson (list 1 1.5 true .Values.nothing)", "[1,1.5,true,null]"),
            ("toPrettyJson (dict \"a\" (list 1))", "{\n  \"a\": [\n    1\n  ]\n}"),
            ("(fromYaml \"a: 1\\nb: [x, y]\").b", "[x y]"), ("fromYaml \"\"", "map[]"),
            ("(fromYaml \"- a\").Error", "yaml: cannot unmarshal slice into a map"),
            ("hasKey (fromYaml \"a: [unclosed\") \"Error\"", "true"),
            ("(fromJson \"{\\\"a\\\": {\\\"b\\\": [1, 2.5, \\\"s\\\", null, false]}}\").a.b", "[1 2.5 s <nil> false]"),
            ("hasKey (fromJson \"{nope\") \"Error\"", "true"),
            ("(semver \"1.2.3-rc.1+b5\").Major", "1"), ("(semver \"v1.2.3-rc.1+b5\").Minor", "2"),
            ("(semver \"1.2.3-rc.1+b5\").Patch", "3"), ("(semver \"1.2.3-rc.1+b5\").Prerelease", "rc.1"),
            ("(semver \"1.2.3-rc.1+b5\").Metadata", "b5"), ("(semver \"v1.2.3-rc.1+b5\").Original", "v1.2.3-rc.1+b5"),
            ("(semver \"2\").Minor", "0"),
            ("b64enc \"hello\"", "aGVsbG8="), ("b64dec \"aGVsbG8=\"", "hello"),
            ("sha256sum \"abc\"", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            ("sha256sum \"\"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("kindIs \"map\" .Values.labels", "true"), ("kindIs \"slice\" .Values.list", "true"),
            ("kindIs \"string\" 1", "false"), ("kindOf 1.5", "float64"), ("kindOf .Values.missing", "invalid"),
            ("typeOf .Values.labels", "map[string]interface {}"), ("typeIs \"int\" 1", "true"),
        ] as [(String, String)])
    func numbersAndEncodings(expression: String, expected: String) throws {
        #expect(try render("{{ \(expression) }}") == expected)
    }

    @Test(
        "wrong arguments are errors naming the function",
        arguments: [
            ("upper 1", "upper: argument 1 must be a string, not int 1"),
            ("upper \"a\" \"b\"", "upper: wrong number of arguments: want 1, got 2"),
            ("replace \"a\" \"b\"", "replace: wrong number of arguments: want 3, got 2"),
            ("lt 1 \"a\"", "lt: can't compare int 1 with string \"a\""),
            ("eq 1 \"1\"", "eq: incompatible types for comparison"),
            ("index .Values.list 5", "index: index out of range: 5"),
            ("index .Values.name \"x\"", "index: can't index .Values.name"),
            ("len 5", "len: len of int 5"), ("len .Values.missing", "len: argument 1: no value for .Values.missing"),
            ("div 1 0", "div: integer division by zero"), ("first .Values.name", "first: argument 1 must be a list"),
            ("ternary 1 2 \"yes\"", "ternary: argument 3 must be a boolean"),
            ("regexMatch \"(\" \"x\"", "regexMatch: invalid regular expression \"(\""),
            ("semver \"1.x\"", "semver: invalid semantic version \"1.x\""),
            ("fail \"custom failure\"", "custom failure"),
            ("required \"image is required\" .Values.missing", "image is required"),
            ("include \"nope\" .", "template \"nope\" not defined"), ("include 1 .", "include: argument 1 must be a string"),
            ("and", "and: wrong number of arguments"), ("repeat -1 \"x\"", "repeat: negative repeat count -1"),
            ("toString .Values.nothing", "toString: argument 1 is null"),
            ("print .Values.missing", "print: argument 1: no value for .Values.missing"),
            ("printf \"%s\" .Values.nothing", "printf: argument 2 is null"),
            ("slice .Values.list 2 1", "slice: slice bounds out of range"),
        ] as [(String, String)])
    func argumentErrors(expression: String, fragment: String) throws {
        let error = try #require(renderError("line one\n{{ \(expression) }}"))
        #expect(error.message.contains(fragment), "\(error.message)")
        #expect(error.file == "build.yaml")
        #expect(error.line == 2)
    }

    @Test("unknown functions fail at parse time; randomness, fresh keys and the network are refused with what to do instead")
    func unknownFunctions() throws {
        let unknown = try #require(renderError("a\n\n{{ frobnicate 1 }}"))
        #expect(unknown.message == "function \"frobnicate\" not defined")
        #expect(unknown.line == 3)
        for (name, fragment) in [
            ("randAlphaNum 4", "its result is random; put a fixed value in a values file"), ("uuidv4", "fixed UUID"),
            ("genCA \"x\" 3", "new key or certificate"), ("bcrypt \"x\"", "salted"), ("getHostByName \"x\"", "network"),
        ] {
            let refused = try #require(renderError("{{ \(name) }}"))
            #expect(refused.message.contains("cosci templates are reproducible and"), "\(refused.message)")
            #expect(refused.message.contains(fragment), "\(refused.message)")
        }
        let unsupported = try #require(renderError("{{ decryptAES \"k\" \"x\" }}"))
        #expect(unsupported.message.contains("not supported"))
    }
}

@Suite("Sprig bounds")
struct SprigBoundsTests {
    @Test("sequences near the integer limits and across zero are refused, not overflowed or allocated", arguments: [
        "{{ seq 9223372036854775807 }}", "{{ seq -9223372036854775807 9223372036854775807 }}",
        "{{ untilStep -4611686018427387904 4611686018427387904 1 }}", "{{ until 2000000 }}",
    ])
    func sequences(_ source: String) throws {
        let error = try #require(renderError(source))
        #expect(error.message.contains("sequence"), "\(error.message)")
    }
}

@Suite("Clock and environment")
struct ClockTests {
    func rendered(_ source: String, _ environment: RenderEnvironment) throws -> RenderedText {
        try TemplateSet.empty.render(try ParsedTemplate.parse(source, file: "build.yaml"), data: sampleData, environment: environment)
    }

    @Test("now is the build's epoch in UTC, so a render is the same whenever it runs")
    func nowIsTheEpoch() throws {
        let epoch = RenderEnvironment(epoch: 1_700_000_000)
        let source = "{{ now | date \"2006-01-02\" }} {{ now | dateInZone \"15:04 MST\" \"UTC\" }} {{ now }} {{ (now).Year }} {{ now | unixEpoch }}"
        let first = try rendered(source, epoch)
        #expect(first.text == "2023-11-14 22:13 UTC 2023-11-14 22:13:20 +0000 UTC 2023 1700000000")
        #expect(first.reads == RenderReads(clock: true))
        #expect(try rendered(source, epoch).text == first.text)
        #expect(try rendered(source, RenderEnvironment(epoch: 1_800_000_000)).text != first.text)
        let ago = try rendered("{{ ago (toDate \"2006-01-02\" \"2023-11-14\") }} {{ dateModify \"-48h\" now | htmlDate }}", epoch)
        #expect(ago.text == "22h13m20s 2023-11-12")
        // A template that never looks at the clock does not depend on it.
        #expect(try rendered("{{ .Values.name }}", epoch).reads.isEmpty)
    }

    @Test("env and expandenv read only the variables the project allows, and say so")
    func environmentAllowList() throws {
        let allowed = RenderEnvironment(epoch: 0, variables: ["CHANNEL": "stable", "EMPTY": ""])
        let text = try rendered("{{ env \"CHANNEL\" }}|{{ expandenv \"$CHANNEL-${EMPTY}x $$ $\" }}", allowed)
        #expect(text.text == "stable|stable-x  $")
        #expect(text.reads == RenderReads(variables: ["CHANNEL", "EMPTY"]))
        for source in ["{{ env \"HOME\" }}", "{{ expandenv \"$HOME\" }}"] {
            do {
                _ = try rendered(source, allowed)
                Issue.record("\(source) rendered")
            } catch let error as TemplateError {
                #expect(error.message.contains("HOME, which the project does not allow"), "\(error.message)")
                #expect(error.message.contains("`environment:` in cosci.yaml"))
            }
        }
    }

    @Test("inputs name what a render read, and match only the same epoch and the same values")
    func inputs() {
        let environment = RenderEnvironment(epoch: 5, variables: ["A": "x"])
        let recorded = environment.inputs(of: RenderReads(clock: true, variables: ["A"]))
        #expect(recorded["clock"] == "5")
        #expect(recorded["env:A"]?.count == 64)
        #expect(!recorded.values.contains("x"))
        #expect(environment.matches(recorded))
        #expect(!RenderEnvironment(epoch: 6, variables: ["A": "x"]).matches(recorded))
        #expect(!RenderEnvironment(epoch: 5, variables: ["A": "y"]).matches(recorded))
        #expect(!RenderEnvironment(epoch: 5).matches(recorded))
        #expect(RenderEnvironment(epoch: 9).matches(environment.inputs(of: RenderReads())))
    }
}
