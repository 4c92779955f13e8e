import CosciArchive
import Foundation
import CosciTestSupport
import Testing

/// The epoch every test packs with: 2023-11-14 22:13:20 UTC.
let testEpoch: Int64 = 1_700_000_000

/// A fresh directory under the system temp directory, removed (with everything in it) when released.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array(URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("cosci-archive-tests.XXXXXX").path.utf8CString)
        guard mkdtemp(&template) != nil else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    deinit {
        // Directories made read-only by a fixture must become writable before their contents can go.
        if let all = FileManager.default.enumerator(atPath: path) {
            for case let relative as String in all where isRealDirectory(path + "/" + relative) {
                chmod(path + "/" + relative, 0o755)
            }
        }
        try? FileManager.default.removeItem(atPath: path)
    }

    func sub(_ name: String) -> String { path + "/" + name }
}

private func isRealDirectory(_ path: String) -> Bool {
    var st = stat()
    return lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFDIR
}

/// Runs a program to completion (the shared runner); what it wrote and how it ended.
@discardableResult
func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> ProcessResult {
    try runTool(executable, arguments, env: environment, timeout: 600)
}

/// Runs a python3 program given as text.
@discardableResult
func python(_ program: String, _ arguments: [String]) throws -> ProcessResult {
    let result = try run("/usr/bin/env", ["python3", "-c", program] + arguments)
    #expect(result.status == 0, "python3 failed: \(result.stderr)")
    return result
}

/// Builds the fixture tree at `root` in a python3 child process with the given umask (set with `os.umask`, so
/// this process's umask, shared by concurrently running tests, is untouched), creating entries in forward or
/// reverse order. Every mode and mtime is set explicitly afterwards, so both orders and any umask give the same
/// tree. It has: byte-order traps (`a`, `a-b`, `a.b`, `a/b`, `B`, NFC and NFD `café.txt`), setuid/setgid/sticky
/// modes, a path longer than 100 bytes (pax extended header), numeric owners not in /etc/passwd (as root),
/// absolute, relative and dangling symlinks, a file with two more hard links, a fifo, a socket (never packed),
/// and mtimes on both sides of `testEpoch`.
func makeFixtureTree(at root: String, umask: String = "022", reverse: Bool = false) throws {
    try python(fixtureTreeProgram, [root, umask, reverse ? "reverse" : "forward"])
}

/// The deepest path of the fixture tree (over 100 bytes).
let fixtureLongDirectory = "usr/share/" + (0..<6).map { String(format: "long-directory-name-%02d", $0) }.joined(separator: "/")

private let fixtureTreeProgram = #"""
import os, socket, sys
root, umask, order = sys.argv[1], int(sys.argv[2], 8), sys.argv[3]
os.umask(umask)
long_dir = "usr/share/" + "/".join("long-directory-name-%02d" % i for i in range(6))
dirs = [("bin", 0o755), ("etc", 0o755), ("usr", 0o755), ("usr/bin", 0o755), ("usr/lib", 0o755), ("usr/share", 0o755),
        (long_dir, 0o750), ("a", 0o755), ("a/b", 0o700), ("a-b", 0o755), ("a.b", 0o755), ("tmp", 0o1777),
        ("srv", 0o2775), ("run", 0o755), ("empty", 0o555)]
parts = long_dir.split("/")
dirs += [("/".join(parts[:n]), 0o755) for n in range(3, len(parts))]
files = [("etc/os-release", b"NAME=cos\n", 0o644, 1_000_000_000), ("etc/shadow", b"root:*:1::::::\n", 0o600, 2_000_000_000),
         ("usr/bin/su", b"\x7fELF su", 0o4755, 1_500_000_000), ("usr/lib/libz.so.1", bytes(range(256)) * 64, 0o755, 1_600_000_000),
         (long_dir + "/" + "f" * 120 + ".txt", b"long\n", 0o644, 1_000_000_001), ("a/b/c", b"", 0o644, 1_000_000_002),
         ("a-b/x", b"x\n", 0o644, 1_000_000_003), ("a.b/y", b"y\n", 0o644, 1_000_000_004), ("B", b"upper\n", 0o644, 1_000_000_005),
         ("caf\u00e9.txt", b"nfc\n", 0o644, 1_000_000_006), ("cafe\u0301.txt", b"nfd\n", 0o644, 1_000_000_007),
         ("usr/bin/gzip", b"gzip binary\n" * 100, 0o755, 1_000_000_008)]
links = [("bin/sh", "/usr/bin/dash"), ("usr/lib/libz.so", "libz.so.1"), ("dangling", "../nowhere/at/all")]
hardlinks = [("bin/gunzip", "usr/bin/gzip"), ("usr/bin/zcat", "usr/bin/gzip")]
owners = {"usr/bin/su": (0, 0), "etc/shadow": (0, 42), "srv": (1234, 5678), "a/b/c": (4000000, 4000001)}
step = -1 if order == "reverse" else 1
def p(rel): return os.path.join(root, rel)
os.makedirs(root, exist_ok=True)
for rel, mode in sorted(dirs, key=lambda d: d[0].count("/"))[::step]:
    os.makedirs(p(rel), exist_ok=True)
for rel, data, mode, mtime in files[::step]:
    with open(p(rel), "wb") as f: f.write(data)
for rel, target in links[::step]: os.symlink(target, p(rel))
for rel, existing in hardlinks[::step]: os.link(p(existing), p(rel))
os.mkfifo(p("run/fifo"))
s = socket.socket(socket.AF_UNIX); s.bind(p("run/sock")); s.close()
if os.geteuid() == 0:  # chown before chmod: chown clears setuid
    for rel, (uid, gid) in owners.items(): os.chown(p(rel), uid, gid)
for rel, data, mode, mtime in files: os.chmod(p(rel), mode)
os.chmod(p("run/fifo"), 0o640)
for rel, data, mode, mtime in files: os.utime(p(rel), (mtime, mtime))
os.utime(p("run/fifo"), (1_000_000_100, 1_000_000_100))
for rel, target in links: os.utime(p(rel), (1_000_000_200, 1_000_000_200), follow_symlinks=False)
for rel, mode in sorted(dirs, key=lambda d: -d[0].count("/")):
    os.chmod(p(rel), mode)
    os.utime(p(rel), (1_900_000_000, 1_900_000_000))
"""#

/// What a path on disk is, for comparing trees.
struct DiskNode: Equatable, CustomStringConvertible {
    var kind: String
    var mode: UInt32
    var uid: UInt32
    var gid: UInt32
    var mtime: Int
    var content: [UInt8]?
    var link: String?
    var device: UInt64?

    var description: String {
        "\(kind) \(String(mode, radix: 8)) \(uid):\(gid) @\(mtime)" + (link.map { " -> \($0)" } ?? "") + (content.map { " \($0.count) bytes" } ?? "")
    }
}

/// Every path below `root` (relative, by bytes) with its `lstat` facts, content and link target; also the inode
/// of each path, to see hard links.
func snapshot(_ root: String) throws -> (nodes: [[UInt8]: DiskNode], inodes: [[UInt8]: UInt]) {
    var nodes: [[UInt8]: DiskNode] = [:]
    var inodes: [[UInt8]: UInt] = [:]
    func visit(_ relative: [UInt8]) throws {
        let directory = Array(root.utf8) + (relative.isEmpty ? [] : [UInt8(ascii: "/")] + relative)
        guard let stream = opendir(String(decoding: directory, as: UTF8.self)) else { throw POSIXError(.ENOENT) }
        var names: [[UInt8]] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
            if name != [46] && name != [46, 46] { names.append(name) }
        }
        closedir(stream)
        for name in names {
            let path = relative.isEmpty ? name : relative + [UInt8(ascii: "/")] + name
            let full = String(decoding: Array(root.utf8) + [UInt8(ascii: "/")] + path, as: UTF8.self)
            var st = stat()
            guard lstat(full, &st) == 0 else { throw POSIXError(.ENOENT) }
            var node = DiskNode(
                kind: "?", mode: st.st_mode & 0o7777, uid: st.st_uid, gid: st.st_gid, mtime: st.st_mtim.tv_sec)
            switch st.st_mode & S_IFMT {
            case S_IFDIR: node.kind = "dir"
            case S_IFREG:
                node.kind = "file"
                node.content = Array(FileManager.default.contents(atPath: full) ?? Data())
            case S_IFLNK:
                node.kind = "symlink"
                node.link = try FileManager.default.destinationOfSymbolicLink(atPath: full)
            case S_IFIFO: node.kind = "fifo"
            case S_IFCHR:
                node.kind = "char"
                node.device = UInt64(st.st_rdev)
            case S_IFSOCK: node.kind = "socket"
            default: node.kind = "other"
            }
            nodes[path] = node
            inodes[path] = st.st_ino
            if node.kind == "dir" { try visit(path) }
        }
    }
    try visit([])
    return (nodes, inodes)
}

/// Writes a file (text as UTF-8).
func write(_ path: String, _ text: String) throws {
    try write(path, Array(text.utf8))
}

func write(_ path: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// The bytes of a file.
func bytes(_ path: String) -> [UInt8] {
    Array(FileManager.default.contents(atPath: path) ?? Data())
}

/// The names in a directory (sorted), or [] when it does not exist.
func directoryNames(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}

/// Whether this process may create device nodes (root, and not denied by the container).
let canMakeDeviceNodes: Bool = {
    guard geteuid() == 0 else { return false }
    let probe = NSTemporaryDirectory() + "/cosci-archive-mknod-probe-\(getpid())"
    defer { unlink(probe) }
    return mknod(probe, S_IFCHR | 0o600, makedev(1, 3)) == 0
}()

/// `makedev` (a macro in C).
func makedev(_ major: UInt32, _ minor: UInt32) -> dev_t {
    dev_t(major & 0xfff) << 8 | dev_t(minor & 0xff) | dev_t(major & ~0xfff) << 32 | dev_t(minor & ~0xff) << 12
}
