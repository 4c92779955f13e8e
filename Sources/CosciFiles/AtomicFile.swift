#if canImport(Glibc)
    import Glibc
#endif
import Foundation

/// Why a file could not be written, copied or removed: the path and the system's reason.
public struct FileError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Writing files so that a reader never sees half of one and a failure leaves nothing behind: the bytes go to
/// a temporary file beside the target (`.<name>.tmp-<pid>-<random>`), which is renamed over the target once
/// complete, and removed on any failure (a full disk included). A temporary left by a process that was killed
/// names that process, so `Leftovers` can tell it from one still being written.
public enum AtomicFile {
    /// The marker every temporary name carries, followed by the owning process id and a dash.
    public static let marker = ".tmp-"

    /// A fresh temporary path beside `path`.
    public static func temporaryPath(for path: String) -> String {
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        return "\(dir)/.\(name)\(marker)\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Writes `bytes` to `path` atomically, creating its directory.
    public static func write(_ path: String, _ bytes: [UInt8]) throws(FileError) {
        try makeParent(of: path)
        let tmp = temporaryPath(for: path)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("cannot create", tmp) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let error = failure("cannot write", path)
                close(fd)
                unlink(tmp)
                throw error
            }
            written += n
        }
        guard close(fd) == 0 else {
            let error = failure("cannot write", path)
            unlink(tmp)
            throw error
        }
        try commit(tmp, to: path)
    }

    /// Copies the file `source` to `path` atomically (the copy has mode 0644 unless `mode` says otherwise).
    public static func copy(_ source: String, to path: String, mode: mode_t = 0o644) throws(FileError) {
        try makeParent(of: path)
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw failure("cannot read", source) }
        defer { close(input) }
        let tmp = temporaryPath(for: path)
        let output = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard output >= 0 else { throw failure("cannot create", tmp) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(input, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n == 0 { break }
            var ok = n > 0
            var done = 0
            while ok && done < n {
                let w = buffer.withUnsafeBytes { Glibc.write(output, $0.baseAddress! + done, n - done) }
                if w < 0 && errno == EINTR { continue }
                ok = w > 0
                done += max(w, 0)
            }
            guard ok else {
                let error = failure(n < 0 ? "cannot read" : "cannot write", n < 0 ? source : path)
                close(output)
                unlink(tmp)
                throw error
            }
        }
        guard close(output) == 0 else {
            let error = failure("cannot write", path)
            unlink(tmp)
            throw error
        }
        try commit(tmp, to: path)
    }

    /// Renames a complete temporary over `path`; removes it when that fails.
    public static func commit(_ tmp: String, to path: String) throws(FileError) {
        guard rename(tmp, path) == 0 else {
            let error = failure("cannot rename \(tmp) to", path)
            unlink(tmp)
            throw error
        }
    }

    private static func makeParent(of path: String) throws(FileError) {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
        let dir = String(path[..<slash])
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw FileError("cannot create \(dir): \(error.localizedDescription)")
        }
    }

    static func failure(_ what: String, _ path: String) -> FileError {
        let reason = String(cString: strerror(errno))
        let hint = errno == ENOSPC ? " (free some space; nothing half-written was left)" : ""
        return FileError("\(what) \(path): \(reason)\(hint)")
    }
}

/// What processes that died left behind: temporaries (`…​.tmp-<pid>-…`) and scratch directories named
/// `<prefix><pid>` or `…-<pid>`. An entry belongs to a dead process when the process id it names is gone.
public enum Leftovers {
    /// Whether `pid` names a live process.
    public static func isAlive(_ pid: pid_t) -> Bool {
        pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)
    }

    /// The process id a temporary's name carries (`AtomicFile.marker` then digits then `-`), if any.
    public static func temporaryOwner(_ name: String) -> pid_t? {
        guard let range = name.range(of: AtomicFile.marker, options: .backwards) else { return nil }
        let digits = name[range.upperBound...].prefix { $0.isNumber }
        guard !digits.isEmpty, name[range.upperBound...].dropFirst(digits.count).first == "-" else { return nil }
        return pid_t(digits)
    }

    /// The process id a scratch name ends with (`publish-1234`, `pkg-abc-1234`), if any.
    public static func trailingOwner(_ name: String) -> pid_t? {
        guard let dash = name.lastIndex(of: "-") else { return nil }
        return pid_t(name[name.index(after: dash)...])
    }

    /// Removes the entries of `directory` (not below) that `owner` attributes to a dead process. Returns their
    /// paths.
    @discardableResult
    public static func sweep(_ directory: String, owner: (String) -> pid_t? = temporaryOwner) -> [String] {
        var removed: [String] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            guard let pid = owner(name), !isAlive(pid) else { continue }
            let path = directory + "/" + name
            if (try? FileManager.default.removeItem(atPath: path)) != nil { removed.append(path) }
        }
        return removed.sorted()
    }
}
