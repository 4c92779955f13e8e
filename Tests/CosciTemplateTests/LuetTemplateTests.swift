import CosciModel
import Testing


@testable import CosciTemplate
import CosciYAML

/// Templates as real cOS/luet package trees write them.
@Suite("Real luet templates")
struct LuetTemplateTests {
    static let golangDownload = """
        {{ define "golang_download_package" }}
        {{ $version:= get . "version" }}
        {{ $org:= get . "org" }}
        {{ $repo:= get . "repo" }}
        {{ $host:= get . "host" | default "github.com" }}
        - |
          PV="{{$version}}" && \\
          mkdir -p /luetbuild/go/src/{{$host}}/{{$org}} && cd {{$repo}} && git checkout "$PACKAGE_VERSION" -b build
        {{end}}

        """

    static let prelude = """
        prelude:
        {{ $opts:= dict "version" (printf "v%s" .Values.version) "org" ( index .Values.labels "github.owner" ) "repo" ( index .Values.labels "github.repo" ) }}
        {{ template "golang_download_package" $opts}}
        """

    @Test("a shared define called with a dict renders valid YAML")
    func golangDownloadPackage() throws {
        let data: Value = .map([
            "Values": .map([
                "version": .string("0.20.6"),
                "labels": .map(["github.owner": .string("mudler"), "github.repo": .string("luet")]),
            ])
        ])
        let rendered = try renderText(Self.prelude, data, shared: [Self.golangDownload])
        let script = """
            PV="v0.20.6" && \\
            mkdir -p /luetbuild/go/src/github.com/mudler && cd luet && git checkout "$PACKAGE_VERSION" -b build

            """
        #expect(rendered.text == "\nprelude:\n\n\n\n\n\n\n- |\n  " + script.replacingOccurrences(of: "\n", with: "\n  ").dropLast(2))
        let node = try #require(try YAMLNode.compose(rendered.text))
        #expect(try Value(yaml: node) == .map(["prelude": .list([.string(script)])]))
        // "- |" comes from line 6 of the shared template.
        let lines = rendered.text.split(separator: "\n", omittingEmptySubsequences: false)
        let dashLine = try #require(lines.firstIndex(of: "- |")) + 1
        #expect(rendered.origin(ofOutputLine: dashLine) == SourceLocation(file: "shared0.yaml", line: 6))
        #expect(rendered.origin(ofOutputLine: 2) == SourceLocation(file: "build.yaml", line: 1))
    }

    static let distribution = """
        image: "{{.Values.image}}"
        env:
        {{ if .Values.distribution }}
        {{if eq .Values.distribution "ubuntu" }}
        - DEBIAN_FRONTEND=noninteractive
        {{end}}
        {{end}}
        steps:
        {{ if .Values.distribution }}
        {{if eq .Values.distribution "opensuse" }}
        - zypper in -y {{.Values.packages}}
        {{else if eq .Values.distribution "fedora" }}
        - dnf install -y {{.Values.packages}}
        {{end}}
        {{end}}
        excludes:
        {{ if eq .Values.name "cos-container" }}
        - ^/proc
        {{ else }}
        - ^/proc/.*
        {{ end }}
        - echo "{{ ( index .Values.labels "package.checksum" ) }}  golang.tar.gz" | sha256sum -c
        JOBS={{ ( index .Values.labels "emerge.jobs" ) | default "3" }}
        """

    @Test("conditional blocks without .Values.distribution")
    func withoutDistribution() throws {
        let data: Value = .map([
            "Values": .map([
                "image": .string("quay.io/costoolkit/build"), "name": .string("cos-container"),
                "labels": .map(["package.checksum": .string("abc123")]),
            ])
        ])
        #expect(try render(Self.distribution, data) == """
            image: "quay.io/costoolkit/build"
            env:

            steps:

            excludes:

            - ^/proc

            - echo "abc123  golang.tar.gz" | sha256sum -c
            JOBS=3
            """)
    }

    @Test("conditional blocks with .Values.distribution = fedora")
    func fedora() throws {
        let data: Value = .map([
            "Values": .map([
                "image": .string("fedora:33"), "name": .string("other"), "distribution": .string("fedora"),
                "packages": .string("gcc make"),
                "labels": .map(["package.checksum": .string("abc123"), "emerge.jobs": .string("8")]),
            ])
        ])
        let rendered = try renderText(Self.distribution, data)
        #expect(rendered.text == """
            image: "fedora:33"
            env:



            steps:


            - dnf install -y gcc make


            excludes:

            - ^/proc/.*

            - echo "abc123  golang.tar.gz" | sha256sum -c
            JOBS=8
            """)
        #expect(rendered.origin(ofOutputLine: 9) == SourceLocation(file: "build.yaml", line: 13))
        #expect(rendered.origin(ofOutputLine: 16) == SourceLocation(file: "build.yaml", line: 22))
        #expect(rendered.origin(ofOutputLine: 17) == SourceLocation(file: "build.yaml", line: 23))
    }

    @Test("without .Values.image the render fails at line 1")
    func missingImage() throws {
        let data: Value = .map(["Values": .map(["name": .string("x"), "labels": .map(["package.checksum": .string("c")])])])
        let error = try #require(renderError(Self.distribution, data))
        #expect(error.description == "build.yaml:1: template: no value for .Values.image")
    }

    @Test("without the checksum label the render fails at its line")
    func missingLabel() throws {
        let data: Value = .map(["Values": .map(["image": .string("i"), "name": .string("x"), "labels": .map([:])])])
        let error = try #require(renderError(Self.distribution, data))
        #expect(error.description == "build.yaml:22: template: no value for .Values.labels[\"package.checksum\"]")
    }
}
