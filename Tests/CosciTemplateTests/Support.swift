import CosciModel
import Testing

@testable import CosciTemplate

/// Values most tests render against: `.Values` with a few typed fields.
let sampleData: Value = .map([
    "Values": .map([
        "name": .string("cos"),
        "version": .string("1.2.3"),
        "count": .int(3),
        "ratio": .double(1.5),
        "enabled": .bool(true),
        "disabled": .bool(false),
        "empty": .string(""),
        "nothing": .null,
        "list": .list([.string("a"), .string("b"), .string("c")]),
        "numbers": .list([.int(3), .int(1), .int(2)]),
        "labels": .map(["github.owner": .string("mudler"), "github.repo": .string("luet"), "plain": .string("x")]),
        "nested": .map(["inner": .map(["leaf": .string("deep")])]),
    ])
])

/// Parses and renders `source` as `build.yaml` with optional shared sources named `shared0.yaml`, ….
func render(_ source: String, _ data: Value = sampleData, shared: [String] = []) throws -> String {
    try renderText(source, data, shared: shared).text
}

func renderText(_ source: String, _ data: Value = sampleData, shared: [String] = []) throws -> RenderedText {
    let sharedTemplates = try shared.enumerated().map { index, text in
        try ParsedTemplate.parse(text, file: "shared\(index).yaml")
    }
    let set = try TemplateSet(shared: sharedTemplates)
    return try set.render(try ParsedTemplate.parse(source, file: "build.yaml"), data: data)
}

/// The error rendering `source` fails with, or nil when it succeeds.
func renderError(_ source: String, _ data: Value = sampleData, shared: [String] = []) -> TemplateError? {
    do {
        _ = try render(source, data, shared: shared)
        return nil
    } catch let error as TemplateError {
        return error
    } catch {
        Issue.record("unexpected error type: \(error)")
        return nil
    }
}
