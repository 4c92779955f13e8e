import CosciModel
import CosciRepository
import Foundation

/// The reports of `cosci run`: canonical JSON (schema `cosci.run/v1`; no wall-clock values, so identical runs
/// give identical bytes), a Markdown summary, JUnit XML (one test case per package), and the timings apart
/// (`cosci.run-timings/v1`), which later plans read for their duration estimates.
public struct RunReport: Sendable {
    public static let schema = "cosci.run/v1"
    public static let timingsSchema = "cosci.run-timings/v1"

    let result: BuildResult
    let repository: RepositoryResult?
    let project: Project
    let images: [AssembledImage]
    /// Every stage of the run in order (build, repository, images, publish) and how it ended.
    let stages: [(name: String, outcome: StageOutcome)]

    public init(
        result: BuildResult, repository: RepositoryResult?, project: Project, images: [AssembledImage] = [],
        stages: [(String, StageOutcome)] = []
    ) {
        self.result = result
        self.repository = repository
        self.project = project
        self.images = images
        self.stages = stages.map { (name: $0.0, outcome: $0.1) }
    }

    var counts: [String: Int] {
        var c: [String: Int] = ["built": 0, "cached": 0, "failed": 0, "skipped": 0]
        for o in result.outcomes { c[o.status.rawValue, default: 0] += 1 }
        return c
    }

    /// The run's real outcome: every package built or cached, and no stage failed.
    var succeeded: Bool {
        result.succeeded
            && !stages.contains { if case .failed = $0.outcome { true } else { false } }
    }

    func relative(_ path: String?, to output: String) -> Value {
        guard let path else { return .null }
        return .string(path.hasPrefix(output + "/") ? String(path.dropFirst(output.count + 1)) : path)
    }

    /// The canonical document.
    public func document(output: String) -> Value {
        var doc: [String: Value] = [
            "schema": .string(Self.schema),
            "head": result.head.map(Value.string) ?? .null,
            "platform": .string(project.platform.description),
            "flavor": project.flavor.map(Value.string) ?? .null,
            "backend": result.backend.map(Value.string) ?? .null,
            "sourceDateEpoch": .int(Int(result.sourceDateEpoch)),
            "result": .string(succeeded ? "success" : "failure"),
            "stages": .list(stages.map { s in
                .map(["name": .string(s.name), "result": .string(s.outcome.word), "detail": .string(s.outcome.detail)])
            }),
            "counts": .map(counts.mapValues(Value.int)),
            "packages": .list(
                result.outcomes.map { o in
                    var m: [String: Value] = [
                        "id": .string(o.id.description), "key": .string(o.key.description), "status": .string(o.status.rawValue),
                        "reasons": .list(o.reasons.map(Value.string)),
                    ]
                    if let a = o.artifact {
                        m["artifact"] = .map([
                            "file": .string(a.path), "sha256": .string(a.sha256.description), "size": .int(Int(a.size)),
                            "entries": .int(a.files.count),
                        ])
                    }
                    if o.status == .built || o.status == .failed { m["log"] = relative(o.log, to: output) }
                    if let message = o.message { m["message"] = .string(message) }
                    if case .failed(let failure) = o.result { m["failure"] = .string(failure.kind.rawValue) }
                    return .map(m)
                }),
        ]
        doc["images"] = .list(images.map { i in
            var m: [String: Value] = [
                "name": .string(i.name), "tag": .string(i.version), "digest": .string(i.digest.description), "layers": .int(i.layers),
            ]
            if let iso = i.iso { m["iso"] = .string(iso.sha256.description) }
            if let disk = i.disk { m["disk"] = .string(disk.sha256.description) }
            return .map(m)
        })
        if let repository {
            doc["repository"] = .map([
                "path": .string(Running.repositoryDirectory),
                "revision": .int(repository.revision),
                "changed": .bool(repository.changed),
                "packages": .int(repository.packages.count),
                "files": .list(repository.files.map { .map(["name": .string($0.name), "sha256": .string($0.sha256.description)]) }),
            ])
        } else {
            doc["repository"] = .null
        }
        return .map(doc)
    }

    /// Wall-clock figures: total, per package (by `category/name`, what `cosci plan` estimates from).
    /// `previous` is the last run's timings: packages this run did not build keep their earlier duration.
    public func timings(total: Double, repository: Double, previous: [String: Double] = [:]) -> Value {
        var packages: [String: Value] = previous.mapValues(Value.double)
        for o in result.outcomes where o.status == .built { packages[o.id.family] = .double((o.seconds * 1000).rounded() / 1000) }
        return .map([
            "schema": .string(Self.timingsSchema),
            "total": .double((total * 1000).rounded() / 1000),
            "repository": .double((repository * 1000).rounded() / 1000),
            "packages": .map(packages),
        ])
    }

    /// A Markdown summary for `$GITHUB_STEP_SUMMARY`.
    public func markdown(output: String) -> String {
        let c = counts
        var out = "## cosci run: \(succeeded ? "success" : "failure")\n\n"
        out += "\(result.outcomes.count) package(s): \(c["built"]!) built, \(c["cached"]!) cached, \(c["failed"]!) failed, \(c["skipped"]!) skipped"
        out += result.backend.map { " — backend `\($0)`" } ?? ""
        out += "\n\n"
        if !stages.isEmpty {
            out += "| stage | result | |\n|---|---|---|\n"
            for s in stages {
                out += "| \(s.name) | \(s.outcome.word) | \(s.outcome.detail.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")) |\n"
            }
            out += "\n"
        }
        if let repository {
            out += "Repository `\(Running.repositoryDirectory)/`: revision \(repository.revision)\(repository.changed ? "" : " (unchanged)"), \(repository.packages.count) package version(s).\n\n"
        } else {
            out += "Repository not written: a package failed.\n\n"
        }
        for i in images {
            let iso = i.iso.map { ", ISO `\($0.sha256.hex.prefix(12))`" } ?? ""
            let disk = i.disk.map { ", disk `\($0.sha256.hex.prefix(12))`" } ?? ""
            out += "Image `\(i.name):\(i.version)`: `\(i.digest)` (\(i.layers) layer(s))\(iso)\(disk).\n\n"
        }
        let shown = result.outcomes.filter { $0.status != .cached }
        if !shown.isEmpty {
            out += "| package | status | artifact | why |\n|---|---|---|---|\n"
            for o in shown {
                let artifact = o.artifact.map { "`\($0.sha256.hex.prefix(12))` \($0.size) B" } ?? ""
                let why = (o.message ?? o.reasons.first ?? "").replacingOccurrences(of: "|", with: "\\|")
                out += "| `\(o.id)` | \(o.status.rawValue) | \(artifact) | \(why) |\n"
            }
            out += "\n"
        }
        for o in result.outcomes {
            guard case .failed(let failure) = o.result else { continue }
            out += "<details><summary>\(o.id): log tail</summary>\n\n```\n\(failure.logTail.joined(separator: "\n"))\n```\n</details>\n\n"
        }
        return out
    }

    /// JUnit XML: one test case per package. Failed → `<failure>` with the log tail; a package in the cache
    /// passes (it was built and tested before under the same key) with `<properties>` saying so; skipped (a
    /// dependency failed) → `<skipped>`.
    public func junit() -> String {
        func esc(_ s: String) -> String {
            var o = ""
            for ch in s.unicodeScalars {
                switch ch {
                case "&": o += "&amp;"
                case "<": o += "&lt;"
                case ">": o += "&gt;"
                case "\"": o += "&quot;"
                default:
                    if ch.value < 0x20 && ch != "\n" && ch != "\t" { o += "?" } else { o.unicodeScalars.append(ch) }
                }
            }
            return o
        }
        let c = counts
        let total = result.outcomes.map(\.seconds).reduce(0, +)
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuites name=\"cosci\" tests=\"\(result.outcomes.count)\" failures=\"\(c["failed"]!)\">\n"
        out += "  <testsuite name=\"cosci build \(esc(project.platform.description))\" tests=\"\(result.outcomes.count)\" failures=\"\(c["failed"]!)\" skipped=\"\(c["skipped"]!)\" time=\"\(String(format: "%.3f", total))\">\n"
        for o in result.outcomes {
            out += "    <testcase classname=\"\(esc(o.id.category))\" name=\"\(esc(o.id.description))\" time=\"\(String(format: "%.3f", o.seconds))\">"
            switch o.result {
            case .built:
                out += "</testcase>\n"
            case .cached:
                out += "\n      <properties>\n        <property name=\"cosci.status\" value=\"cached\"/>\n"
                out += "        <property name=\"cosci.key\" value=\"\(o.key)\"/>\n      </properties>\n    </testcase>\n"
            case .skipped(let why):
                out += "<skipped message=\"\(esc(why))\"/></testcase>\n"
            case .failed(let failure):
                out += "\n      <failure message=\"\(esc(failure.message))\" type=\"\(failure.kind.rawValue)\">\(esc(failure.logTail.joined(separator: "\n")))</failure>\n    </testcase>\n"
            }
        }
        out += "  </testsuite>\n</testsuites>\n"
        return out
    }
}

/// Markdown meant for a CI step summary: GitHub shows at most 1 MiB of one and drops the rest, so a summary is
/// cut at a line below that, with a last line saying how many lines were left out and where the whole is.
public enum StepSummary {
    public static let limit = 1_000_000

    public static func capped(_ markdown: String, limit: Int = StepSummary.limit, whole: String?) -> String {
        let bytes = Array(markdown.utf8)
        guard bytes.count > limit else { return markdown }
        // Room for the note, then back to the last line end.
        var end = Swift.max(0, limit - 200)
        while end > 0 && bytes[end - 1] != UInt8(ascii: "\n") { end -= 1 }
        let kept = String(decoding: bytes[..<end], as: UTF8.self)
        let left = bytes[end...].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).count
            - (bytes.last == UInt8(ascii: "\n") ? 1 : 0)
        return kept + "\n> **Cut:** \(left) more line(s) are not shown (GitHub shows 1 MiB of a summary)"
            + (whole.map { "; the whole report is `\($0)`" } ?? "; pass --report FILE for the whole report") + ".\n"
    }
}
