import CosciEngine
import CosciModel
import Foundation

/// Shows a build as it goes, on standard error: a live line on a terminal (done/running/queued, elapsed,
/// what is running), cut to the terminal's width as it is at each redraw (so it follows resizes), with
/// colour unless `NO_COLOR` is set; plain lines with group markers in CI (`::group::` on GitHub Actions,
/// collapsible sections on GitLab), plain uncoloured lines otherwise.
final class ProgressView: BuildObserver, @unchecked Sendable {
    // @unchecked: every field is read and written under `lock`.
    private let lock = NSLock()
    private let live: Bool
    /// Colour: only on a live terminal, and never with `NO_COLOR` set (https://no-color.org).
    private let colour: Bool
    private let style: Style
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant
    private var running: [PackageID] = []
    private var line = ""
    private var total = 0

    enum Style { case github, gitlab, plain }

    init() {
        let env = ProcessInfo.processInfo.environment
        let ci = !(env["CI"] ?? "").isEmpty && env["CI"] != "false"
        live = !ci && isatty(2) != 0 && env["TERM"] != "dumb"
        colour = live && (env["NO_COLOR"] ?? "").isEmpty
        style = env["GITHUB_ACTIONS"] == "true" ? .github : (env["GITLAB_CI"] == "true" ? .gitlab : .plain)
        start = clock.now
    }

    private var elapsed: String {
        let s = Int((clock.now - start).components.seconds)
        return String(format: "%02d:%02d", s / 60, s % 60)
    }

    func planned(total: Int, toBuild: Int, backend: String?) {
        lock.withLock {
            self.total = toBuild
            if toBuild == 0 { return }
            emit("cosci: building \(toBuild) of \(total) package(s)\(backend.map { " with \($0)" } ?? "")")
        }
    }

    func waiting(for id: PackageID) {
        lock.withLock { emit("cosci: waiting for \(id), built by another shard") }
    }

    func started(_ id: PackageID, counts: (done: Int, running: Int, queued: Int, failed: Int)) {
        lock.withLock {
            running.append(id)
            if !live { emit(marker(open: true, id) ?? "cosci: build \(id)") }
            redraw(counts)
        }
    }

    func finished(_ outcome: PackageOutcome, counts: (done: Int, running: Int, queued: Int, failed: Int)) {
        lock.withLock {
            running.removeAll { $0 == outcome.id }
            let seconds = String(format: "%.1f s", outcome.seconds)
            let word: String
            switch outcome.status {
            case .built: word = paint("built ", 32)
            case .failed: word = paint("FAILED", 31)
            default: word = outcome.status.rawValue
            }
            emit("[\(counts.done + counts.failed)/\(total)] \(word) \(outcome.id) (\(seconds))")
            if !live, let close = marker(open: false, outcome.id) { emit(close) }
            redraw(counts)
        }
    }

    /// Clears the live line.
    func end() {
        lock.withLock {
            if live && !line.isEmpty { write("\r\u{1B}[K") }
            line = ""
        }
    }

    private func marker(open: Bool, _ id: PackageID) -> String? {
        let section = "cosci_" + id.fingerprint.map { $0.isLetter || $0.isNumber ? $0 : "_" }.map(String.init).joined()
        switch style {
        case .github: return open ? "::group::build \(id)" : "::endgroup::"
        case .gitlab:
            let now = Int(Date().timeIntervalSince1970)
            return open
                ? "\u{1B}[0Ksection_start:\(now):\(section)[collapsed=true]\r\u{1B}[0Kbuild \(id)"
                : "\u{1B}[0Ksection_end:\(now):\(section)\r\u{1B}[0K"
        case .plain: return nil
        }
    }

    private func redraw(_ c: (done: Int, running: Int, queued: Int, failed: Int)) {
        guard live else { return }
        let names = running.prefix(3).map(\.description).joined(separator: ", ") + (running.count > 3 ? ", …" : "")
        let failed = c.failed > 0 ? "  failed \(c.failed)" : ""
        let plain = "\(elapsed)  done \(c.done)  running \(c.running)  queued \(c.queued)\(failed)  \(names)"
        // One column short of the width: a line that fills it would wrap on some terminals.
        var shown = String(plain.prefix(max(20, Terminal.columns() - 1)))
        if colour && c.failed > 0, let range = shown.range(of: failed.dropFirst(2)) {
            shown.replaceSubrange(range, with: paint(String(shown[range]), 31))
        }
        line = shown
        write("\r\u{1B}[K" + line)
    }

    /// `text` in an ANSI colour (31 red, 32 green) when colour is on.
    private func paint(_ text: String, _ code: Int) -> String {
        colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    private func emit(_ text: String) {
        if live && !line.isEmpty { write("\r\u{1B}[K") }
        write(text + "\n")
        if live && !line.isEmpty { write(line) }
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// The terminal standard error is on.
enum Terminal {
    /// Its width now (TIOCGWINSZ), else `COLUMNS`, else 80.
    static func columns() -> Int {
        var size = winsize()
        if ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let text = ProcessInfo.processInfo.environment["COLUMNS"], let n = Int(text), n > 0 { return n }
        return 80
    }
}
