import CosciModel

/// The text of a file of the tree (a definition, a build spec, a values file, a template, cosci.yaml), checked
/// before anything parses it: invalid UTF-8 and NUL bytes are errors at their real line and column (a byte
/// replaced silently would rename a package), and a UTF-8 byte order mark is accepted and dropped.
enum SourceText {
    static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    static func decode(_ bytes: [UInt8], file: String) throws(Diagnostic) -> String {
        var body = bytes[...]
        if body.starts(with: byteOrderMark) { body = body.dropFirst(3) }
        if let nul = body.firstIndex(of: 0) {
            let (line, column) = position(of: nul, in: body)
            throw Diagnostic(
                at: SourceLocation(file: file, line: line), "a NUL byte at column \(column)",
                hint: "text files cannot hold NUL bytes; remove it (is this a binary file?)")
        }
        if let text = String(validating: body, as: UTF8.self) { return text }
        // The first byte where decoding fails.
        var iterator = body.makeIterator()
        var decoder = UTF8()
        var offset = body.startIndex
        loop: while true {
            let before = iterator
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                offset += UTF8.width(scalar)
            case .emptyInput:
                break loop
            case .error:
                _ = before
                break loop
            }
        }
        let (line, column) = position(of: offset, in: body)
        let byte = offset < body.endIndex ? String(body[offset], radix: 16, uppercase: true) : "?"
        throw Diagnostic(
            at: SourceLocation(file: file, line: line), "invalid UTF-8 at column \(column) (byte 0x\(byte))",
            hint: "save the file as UTF-8")
    }

    /// 1-based line and column (in bytes) of `index`.
    private static func position(of index: Int, in bytes: ArraySlice<UInt8>) -> (Int, Int) {
        var line = 1
        var lineStart = bytes.startIndex
        for i in bytes.startIndex..<index where bytes[i] == 0x0A {
            line += 1
            lineStart = i + 1
        }
        return (line, index - lineStart + 1)
    }
}
