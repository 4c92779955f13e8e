import CosciTestSupport
import Foundation
import Testing

/// The live view on a real terminal (a pseudo-terminal made by `script`): it fits the terminal's width, is
/// coloured, and `NO_COLOR` turns the colour off.
@Suite(.serialized) struct TerminalView {
    /// Runs `cosci run` on a fresh copy of the sample under a pseudo-terminal `columns` wide; returns what the
    /// terminal received.
    static func run(columns: Int, env: String = "") throws -> String {
        let repo = try BuildRepo()
        defer { repo.remove() }
        let transcript = repo.path(".tty").path
        // The caller's own NO_COLOR must not leak in: the test says when it is set.
        let command = "stty cols \(columns) rows 40; unset NO_COLOR; \(env) CI= TERM=xterm '\(CLI.binary.path)' run --jobs 3"
        let r = try capture("/usr/bin/script", ["-q", "-e", "-c", command, transcript], cwd: repo.root)
        #expect(r.status == 0, "\(r.stdout.suffix(500))")
        return String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: transcript))) ?? Data(), as: UTF8.self)
    }

    /// The live lines (what follows each `\r ESC[K`), without colour codes.
    static func liveLines(_ transcript: String) -> [String] {
        let colour = try! Regex(#"\x1B\[[0-9;]*m"#)
        return transcript.components(separatedBy: "\r\u{1B}[K").dropFirst()
            .map { String(String.UnicodeScalarView($0.unicodeScalars.prefix { $0 != "\n" && $0 != "\r" })) }
            .map { $0.replacing(colour, with: "").replacingOccurrences(of: "\r", with: "") }
            .filter { !$0.isEmpty }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "util-linux script is not installed"))
    func theLiveLineFitsTheTerminal() throws {
        let narrow = Self.liveLines(try Self.run(columns: 80))
        #expect(narrow.count > 5, "the view drew live lines")
        #expect(narrow.allSatisfy { $0.count < 80 }, "wider than 80: \(narrow.filter { $0.count >= 80 })")
        #expect(narrow.contains { $0.count > 70 }, "a long line is cut at the width, not short of it: \(narrow.map(\.count).max() ?? 0)")
        let wide = Self.liveLines(try Self.run(columns: 200))
        #expect(wide.allSatisfy { $0.count < 200 })
        #expect(wide.contains { $0.count >= 80 }, "at 200 columns the whole line shows: \(wide.map(\.count).max() ?? 0)")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "util-linux script is not installed"))
    func colourOnATerminalUnlessNoColor() throws {
        #expect(try Self.run(columns: 120).contains("\u{1B}[32mbuilt"))
        let plain = try Self.run(columns: 120, env: "export NO_COLOR=1;")
        #expect(plain.contains("built"))
        #expect(!plain.contains("\u{1B}[32m"), "NO_COLOR leaves no colour")
    }
}
