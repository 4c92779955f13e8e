import CosciModel
import Testing

@testable import CosciTemplate
import CosciYAML

/// Inputs built to exhaust time or memory end in an error naming the line, as libyaml-based tools do.
@Suite("Bounded YAML and formatting")
struct BoundsTests {
    /// `levels` anchors, each a list aliasing the previous one nine times: 9^levels nodes when expanded, from a
    /// few hundred bytes.
    static func aliasBomb(levels: Int) -> String {
        var text = "a0: &a0 [\"lol\"]\n"
        for i in 1...levels {
            text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ", ") + "]\n"
        }
        return text
    }

    @Test("alias bombs stop at the line that crosses the limit", arguments: [8, 10, 12])
    func aliasBomb(levels: Int) throws {
        let text = Self.aliasBomb(levels: levels)
        #expect(text.utf8.count < 1_000)
        do {
            let node = try YAMLNode.compose(text)
            Issue.record("composed \(String(describing: node).prefix(80))")
        } catch {
            #expect(error.message.contains("excessive aliasing"), "\(error)")
            // 9^7 = 4.8 million nodes: the level that crosses a million aliased nodes.
            #expect(error.line == 7, "\(error)")
        }
    }

    @Test("merge-key bombs are bounded the same way")
    func mergeBomb() throws {
        var text = "m0: &m0 {k0: v}\n"
        for i in 1...12 {
            let sources = (0..<8).map { _ in "*m\(i - 1)" }.joined(separator: ", ")
            text += "m\(i): &m\(i)\n  k\(i): v\n  n\(i): [\(sources)]\n  <<: [\(sources)]\n"
        }
        #expect(throws: YAMLNode.SyntaxError.self) { _ = try YAMLNode.compose(text) }
    }

    @Test("fromYaml on an alias bomb gives the error, not the expansion")
    func fromYamlBomb() throws {
        let out = try render(#"{{ (fromYaml .bomb).Error }}"#, .map(["bomb": .string(Self.aliasBomb(levels: 10))]))
        #expect(out.contains("excessive aliasing"), "\(out.prefix(200))")
    }

    @Test("legitimate aliases and large documents still compose")
    func legitimateAliases() throws {
        // 50,000 list items, each aliasing a small map: linear, and well under the limit.
        var text = "base: &b {a: 1, b: 2}\nitems:\n"
        for i in 0..<50_000 { text += i % 2 == 0 ? "- *b\n" : "- {x: \(i)}\n" }
        let node = try #require(try YAMLNode.compose(text))
        guard case .mapping(let pairs, _) = node, case .sequence(let items, _) = pairs[1].value else {
            Issue.record("not a mapping with a list")
            return
        }
        #expect(items.count == 50_000)
    }

    @Test("documents over the size limit are refused before parsing")
    func oversized() {
        let text = String(repeating: "#", count: YAMLNode.maximumDocumentBytes + 1)
        #expect(throws: YAMLNode.SyntaxError.self) { _ = try YAMLNode.compose(text) }
    }

    @Test("printf widths and precisions beyond Go's limit are BADWIDTH and BADPREC, as in Go")
    func printfBounds() throws {
        #expect(try render(#"{{ printf "%*d|" 2000000 7 }}"#) == "%!(BADWIDTH)7|")
        #expect(try render(#"{{ printf "%.*d|" 2000000 7 }}"#) == "%!(BADPREC)7|")
        #expect(try render(#"{{ printf "%*d|" -3 7 }}"#) == "7  |")
        #expect(try render(#"{{ printf "%*d|" 3 7 }}"#) == "  7|")
    }
}
