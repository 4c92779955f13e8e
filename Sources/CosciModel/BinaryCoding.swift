/// A compact binary encoding for cosci's own caches: unsigned LEB128 integers, length-prefixed UTF-8 strings,
/// and tagged `Value`s. Not an exchange format: every file that uses it starts with a magic line naming its
/// format and version, and a reader that meets anything unexpected gives up (a cache is then rebuilt).
public struct BinaryWriter {
    public var bytes: [UInt8] = []

    public init() {}

    public mutating func int(_ v: Int) {
        var u = UInt64(bitPattern: Int64(v))
        // zig-zag is not needed: negative numbers are rare (Value ints); they take 10 bytes.
        repeat {
            var byte = UInt8(u & 0x7F)
            u >>= 7
            if u != 0 { byte |= 0x80 }
            bytes.append(byte)
        } while u != 0
    }

    public mutating func string(_ s: String) {
        int(s.utf8.count)
        bytes.append(contentsOf: s.utf8)
    }

    public mutating func optional(_ s: String?) {
        if let s {
            bytes.append(1)
            string(s)
        } else {
            bytes.append(0)
        }
    }

    public mutating func bool(_ b: Bool) { bytes.append(b ? 1 : 0) }

    public mutating func strings(_ list: [String]) {
        int(list.count)
        for s in list { string(s) }
    }

    public mutating func location(_ l: SourceLocation?) {
        guard let l else { return bytes.append(0) }
        bytes.append(1)
        string(l.file)
        int(l.line)
    }

    public mutating func value(_ v: Value) {
        switch v {
        case .null: bytes.append(0)
        case .bool(let b): bytes.append(b ? 2 : 1)
        case .int(let i):
            bytes.append(3)
            int(i)
        case .double(let d):
            bytes.append(4)
            int(Int(bitPattern: UInt(d.bitPattern)))
        case .string(let s):
            bytes.append(5)
            string(s)
        case .list(let items):
            bytes.append(6)
            int(items.count)
            for item in items { value(item) }
        case .map(let m):
            bytes.append(7)
            int(m.count)
            for (k, item) in m {
                string(k)
                value(item)
            }
        }
    }

    public mutating func diagnostic(_ d: Diagnostic) {
        bool(d.severity == .error)
        location(d.location)
        optional(d.field)
        string(d.message)
        optional(d.hint)
    }

}

/// Reads what `BinaryWriter` wrote; every read checks bounds and throws `Malformed` past the end.
public struct BinaryReader {
    public struct Malformed: Error {
        public init() {}
    }

    public let bytes: [UInt8]
    public var offset: Int

    public init(bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    /// Whether every byte has been read.
    public var atEnd: Bool { offset == bytes.count }

    public mutating func byte() throws(Malformed) -> UInt8 {
        guard offset < bytes.count else { throw Malformed() }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func int() throws(Malformed) -> Int {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { break }
            shift += 7
            guard shift < 64 else { throw Malformed() }
        }
        return Int(Int64(bitPattern: result))
    }

    public mutating func string() throws(Malformed) -> String {
        let n = try int()
        guard n >= 0, offset + n <= bytes.count else { throw Malformed() }
        defer { offset += n }
        return String(decoding: bytes[offset..<offset + n], as: UTF8.self)
    }

    public mutating func optional() throws(Malformed) -> String? {
        try byte() == 1 ? try string() : nil
    }

    public mutating func bool() throws(Malformed) -> Bool { try byte() == 1 }

    public mutating func array<T>(_ element: (inout BinaryReader) throws(Malformed) -> T) throws(Malformed) -> [T] {
        let n = try int()
        guard n >= 0, n <= bytes.count else { throw Malformed() }
        var out: [T] = []
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try element(&self)) }
        return out
    }

    public mutating func strings() throws(Malformed) -> [String] { try array { (r: inout BinaryReader) throws(Malformed) in try r.string() } }

    public mutating func location() throws(Malformed) -> SourceLocation? {
        guard try byte() == 1 else { return nil }
        let file = try string()
        return SourceLocation(file: file, line: try int())
    }

    public mutating func value() throws(Malformed) -> Value {
        switch try byte() {
        case 0: return .null
        case 1: return .bool(false)
        case 2: return .bool(true)
        case 3: return .int(try int())
        case 4: return .double(Double(bitPattern: UInt64(UInt(bitPattern: try int()))))
        case 5: return .string(try string())
        case 6: return .list(try array { (r: inout BinaryReader) throws(Malformed) in try r.value() })
        case 7:
            let n = try int()
            guard n >= 0, n <= bytes.count else { throw Malformed() }
            var m: [String: Value] = [:]
            m.reserveCapacity(n)
            for _ in 0..<n {
                let k = try string()
                m[k] = try value()
            }
            return .map(m)
        default: throw Malformed()
        }
    }

    public mutating func diagnostic() throws(Malformed) -> Diagnostic {
        let isError = try bool()
        let location = try location()
        let field = try optional()
        let message = try string()
        return Diagnostic(isError ? .error : .warning, at: location, field: field, message, hint: try optional())
    }
}

/// A fast 64-bit checksum for cosci's own caches: it catches a damaged or truncated file, not tampering
/// (it is not cryptographic). Four independent lanes over 8-byte words, then the tail and the length.
public enum Checksum {
    public static func of(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.withUnsafeBytes { raw -> UInt64 in
            let prime: UInt64 = 0x9E37_79B1_85EB_CA87
            func mix(_ h: UInt64, _ w: UInt64) -> UInt64 {
                let x = (h ^ w) &* prime
                return (x << 31 | x >> 33) &* 0xC2B2_AE3D_27D4_EB4F
            }
            var a: UInt64 = 1, b: UInt64 = 2, c: UInt64 = 3, d: UInt64 = 4
            let blocks = raw.count / 32
            for i in 0..<blocks {
                let o = i * 32
                a = mix(a, raw.loadUnaligned(fromByteOffset: o, as: UInt64.self))
                b = mix(b, raw.loadUnaligned(fromByteOffset: o + 8, as: UInt64.self))
                c = mix(c, raw.loadUnaligned(fromByteOffset: o + 16, as: UInt64.self))
                d = mix(d, raw.loadUnaligned(fromByteOffset: o + 24, as: UInt64.self))
            }
            var h = mix(mix(mix(mix(UInt64(raw.count), a), b), c), d)
            for i in blocks * 32..<raw.count { h = mix(h, UInt64(raw[i])) }
            return h
        }
    }
}
