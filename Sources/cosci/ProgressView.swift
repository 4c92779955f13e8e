import CosciEngine
import CosciModel
import CosciPlanner
import Foundation

/// Shows a build as it goes, on standard error: a live line on a terminal (done/running/queued, elapsed,
/// what is running), cut to the terminal's width as it is at each redraw (so it follows resizes), with
/// colour unless `NO_COLOR` is set; in CI, plain lines, each package's log after its line in a section of its
/// own (`::group::` on GitHub Actions, a collapsible section on GitLab; open when it failed), plain uncoloured
/// lines otherwise.
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
    /// Packages this process started building, and how many of them have finished.
    private var started: Set<PackageID> = []
    private var finishedBuilds = 0

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
            started.insert(id)
            if !live { emit("cosci: build \(id)") }
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
            // Builds this process ran, out of those it had to run (packages awaited from other shards are not).
            if started.contains(outcome.id) {
                finishedBuilds += 1
                emit("[\(finishedBuilds)/\(total)] \(word) \(outcome.id) (\(seconds))")
            } else {
                emit("\(word) \(outcome.id)\(outcome.message.map { ": \($0)" } ?? "")")
            }
            if !live { logGroup(outcome) }
            redraw(counts)
        }
    }

    /// In CI, the package's whole build log right after its line, in a section of its own: collapsed when the
    /// build passed, open (and an error annotation on GitHub) when it failed. Build output cannot issue GitHub
    /// workflow commands (it is wrapped in `::stop-commands::`).
    private func logGroup(_ outcome: PackageOutcome) {
        guard style != .plain, let path = outcome.log, let text = ProgressView.logText(path) else { return }
        let failed = outcome.status == .failed
        switch style {
        case .github:
            let token = "cosci-" + UUID().uuidString.lowercased()
            if failed {
                emit("::error title=cosci: \(outcome.id) failed::" + GitHubCommand.data(outcome.message ?? "the build failed"))
            } else {
                emit("::group::log of \(outcome.id)")
            }
            emit("::stop-commands::\(token)")
            emit(text)
            emit("::\(token)::")
            if !failed { emit("::endgroup::") }
        case .gitlab:
            let section = "cosci_" + outcome.id.fingerprint.map { $0.isLetter || $0.isNumber ? $0 : "_" }.map(String.init).joined()
            let now = Int(Date().timeIntervalSince1970)
            emit("\u{1B}[0Ksection_start:\(now):\(section)[collapsed=\(failed ? "false" : "true")]\r\u{1B}[0Klog of \(outcome.id)")
            emit(text)
            emit("\u{1B}[0Ksection_end:\(now):\(section)\r\u{1B}[0K")
        case .plain:
            break
        }
    }

    /// A build log to show in CI: the whole of it up to 256 KiB, else its end with a note of what was left out.
    static func logText(_ path: String, limit: Int = 256 << 10) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        let start = size > UInt64(limit) ? size - UInt64(limit) : 0
        try? handle.seek(toOffset: start)
        var text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        if start > 0 {
            if let newline = text.firstIndex(of: "\n") { text = String(text[text.index(after: newline)...]) }
            text = "(the first \(start) bytes are left out; the whole log is \(path))\n" + text
        }
        return text
    }

    /// Clears the live line.
    func end() {
        lock.withLock {
            if live && !line.isEmpty { write("\r\u{1B}[K") }
            line = ""
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
