import CosciModel
import CosciTemplate
import CosciYAML
import Foundation

/// The fuzz target of cosci's front ends: what reads untrusted text from a tree (the YAML composer and its
/// `Value` conversion and writer, and the Go-template parser and renderer with sprig functions).
///
/// Built with libFuzzer (`scripts/fuzz`: `-sanitize=fuzzer`, `-D FUZZING`), `LLVMFuzzerTestOneInput` is the
/// entry point. Built plainly, the executable replays files (`cosci-fuzz FILE…`), so the corpus under
/// `Tests/Fixtures/fuzz-corpus` runs as a regression test. An input's first byte picks the front end; a
/// crash, a trap or a hang is a finding, an error is not.
enum FrontEnds {
    static let data: Value = .map([
        "Values": .map([
            "name": .string("cos"), "version": .string("1.2.3"), "count": .int(3), "enabled": .bool(true),
            "list": .list([.string("a"), .string("b")]), "labels": .map(["k": .string("v")]), "nothing": .null,
        ])
    ])

    static func exercise(_ bytes: [UInt8]) {
        guard let selector = bytes.first else { return }
        let text = String(decoding: bytes.dropFirst(), as: UTF8.self)
        switch selector % 3 {
        case 0:
            // YAML: compose, convert, write, and read back what was written.
            guard let node = try? YAMLNode.compose(text), let value = try? Value(yaml: node) else { return }
            let written = value.yamlText()
            _ = try? YAMLNode.compose(written).map { try Value(yaml: $0) }
        case 1:
            // A build.yaml: parse and render as the loader does, then compose the result.
            guard let template = try? ParsedTemplate.parse(text, file: "build.yaml"),
                let set = try? TemplateSet(shared: []),
                let rendered = try? set.render(template, data: data)
            else { return }
            _ = try? YAMLNode.compose(rendered.text)
        default:
            // A shared template with defines, used from a small build.yaml.
            guard let shared = try? ParsedTemplate.parse(text, file: "templates/shared.yaml"),
                let set = try? TemplateSet(shared: [shared]),
                let template = try? ParsedTemplate.parse(#"{{ template "t" . }}{{ include "t" . | quote }}"#, file: "build.yaml")
            else { return }
            _ = try? set.render(template, data: data)
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    FrontEnds.exercise(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

#if FUZZING
    /// libFuzzer's driver: SwiftPM makes an executable's `main` an alias of `<module>_main`, so that is where
    /// libFuzzer is started (its own `main` is then not linked).
    @_silgen_name("LLVMFuzzerRunDriver")
    func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    @_cdecl("cosci_fuzz_main")
    func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        var count = argc
        var arguments = argv
        return LLVMFuzzerRunDriver(&count, &arguments) { data, size in fuzzOneInput(data, size) }
    }
#else
    /// Replays inputs: each file named, or every file of each directory named.
    @main
    struct Replay {
        static func main() {
            var files: [String] = []
            for argument in CommandLine.arguments.dropFirst() {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
                    FileHandle.standardError.write(Data("cosci-fuzz: no such file: \(argument)\n".utf8))
                    exit(2)
                }
                if isDirectory.boolValue {
                    let names = (try? FileManager.default.contentsOfDirectory(atPath: argument)) ?? []
                    files += names.sorted().map { argument + "/" + $0 }
                } else {
                    files.append(argument)
                }
            }
            for file in files {
                guard let bytes = FileManager.default.contents(atPath: file) else { continue }
                FrontEnds.exercise(Array(bytes))
            }
            print("replayed \(files.count) input(s)")
        }
    }
#endif
