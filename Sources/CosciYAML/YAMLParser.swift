import CYaml
import CosciModel

/// A composed YAML node, with the line each node starts on. Anchors and aliases are expanded.
/// This is the project's YAML document model: definitions, build specs, values files and `fromYaml` all
/// go through `YAMLNode.compose`.
public indirect enum YAMLNode: Sendable {
    case scalar(Scalar)
    case sequence([YAMLNode], line: Int)
    case mapping([Pair], line: Int)

    /// A scalar as written.
    public struct Scalar: Sendable {
        /// How the scalar was written; only plain scalars are typed (null, bool, int, float).
        public enum Style: Sendable { case plain, singleQuoted, doubleQuoted, literal, folded }

        public let text: String
        public let style: Style
        /// An explicit tag, expanded (`!!str` → `tag:yaml.org,2002:str`), or nil.
        public let tag: String?
        /// 1-based line.
        public let line: Int
        /// 1-based column where the scalar (or its opening quote) starts.
        public var column: Int = 1

        /// `<<`, plain or tagged `!!merge`.
        public var isMergeKey: Bool {
            (style == .plain && text == "<<") || tag == "tag:yaml.org,2002:merge"
        }
    }

    /// One mapping entry.
    public struct Pair: Sendable {
        public let key: YAMLNode
        public let value: YAMLNode
    }

    /// The 1-based line where the node starts.
    public var line: Int {
        switch self {
        case .scalar(let s): return s.line
        case .sequence(_, let line), .mapping(_, let line): return line
        }
    }

    /// A YAML syntax error: line and column (1-based) and libyaml's description.
    public struct SyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
        public let line: Int
        public let column: Int
        public let message: String
        public var description: String { "line \(line), column \(column): \(message)" }
    }

    /// The largest document `compose` reads, in bytes.
    public static let maximumDocumentBytes = 64 << 20
    /// How many nodes aliases may add, beyond the nodes written: at most this many, or ten times the nodes
    /// written when that is more. An alias bomb (each level aliasing the last several times) stops here instead
    /// of expanding into gigabytes; the limit is in the spirit of Go yaml's "excessive aliasing" check.
    public static let maximumAliasedNodes = 1_000_000

    /// A key given twice in one mapping: the last one wins (as in luet and Go's yaml.v2).
    public struct DuplicateKey: Sendable, Hashable {
        public let key: String
        /// 1-based lines of the first and of the winning (last) occurrence.
        public let firstLine: Int
        public let line: Int
    }

    /// Parses a single YAML document; nil for an empty stream. More than one document is an error; a key given
    /// twice in a mapping keeps its last value. Time and memory are linear in the document: a document over
    /// `maximumDocumentBytes`, or whose aliases would expand it past `maximumAliasedNodes`, is an error at the
    /// line where it crosses the limit.
    public static func compose(_ text: String) throws(SyntaxError) -> YAMLNode? {
        try composeReporting(text).node
    }

    /// `compose`, with the keys given twice.
    public static func composeReporting(_ text: String) throws(SyntaxError) -> (node: YAMLNode?, duplicates: [DuplicateKey]) {
        var bytes = Array(text.utf8)
        if bytes.isEmpty { return (nil, []) }
        guard bytes.count <= maximumDocumentBytes else {
            throw SyntaxError(
                line: 1, column: 1, message: "the document is \(bytes.count) bytes; documents are limited to \(maximumDocumentBytes >> 20) MiB")
        }
        let count = bytes.count
        return try bytes.withUnsafeMutableBufferPointer { buffer throws(SyntaxError) -> (node: YAMLNode?, duplicates: [DuplicateKey]) in
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else {
                throw SyntaxError(line: 0, column: 0, message: "out of memory")
            }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_input_string(&parser, buffer.baseAddress, count)
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            var composer = Composer()
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    throw Composer.syntaxError(parser)
                }
                defer { yaml_event_delete(&event) }
                if try composer.consume(&event) { break }
            }
            return (composer.root, composer.duplicates)
        }
    }
}

/// Builds nodes from libyaml events with an explicit stack (no recursion, so deep documents cannot overflow).
/// Frames are objects, appended to in place: composing is linear in the number of events.
private struct Composer {
    final class Frame {
        let isSequence: Bool
        let line: Int
        let anchor: String?
        var items: [YAMLNode] = []
        var pairs: [YAMLNode.Pair] = []
        var pendingKey: YAMLNode?
        /// Nodes in this subtree, aliases counted at their expanded size.
        var size = 1

        init(isSequence: Bool, line: Int, anchor: String?) {
            self.isSequence = isSequence
            self.line = line
            self.anchor = anchor
        }
    }

    var stack: [Frame] = []
    /// Each anchor's node and its expanded size.
    var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    var root: YAMLNode?
    var duplicates: [YAMLNode.DuplicateKey] = []
    var documents = 0
    /// Nodes written in the document (scalars, sequences, mappings).
    var written = 0
    /// Nodes that aliases add when expanded.
    var aliased = 0

    static func string(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let p else { return nil }
        return String(cString: UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self))
    }

    static func syntaxError(_ parser: yaml_parser_t) -> YAMLNode.SyntaxError {
        var message = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
        if let context = parser.context.map({ String(cString: $0) }) { message = "\(context) \(message)" }
        return YAMLNode.SyntaxError(
            line: Int(parser.problem_mark.line) + 1, column: Int(parser.problem_mark.column) + 1, message: message)
    }

    /// Handles one event; returns true at the end of the stream.
    mutating func consume(_ event: inout yaml_event_t) throws(YAMLNode.SyntaxError) -> Bool {
        let line = Int(event.start_mark.line) + 1
        let column = Int(event.start_mark.column) + 1
        switch event.type {
        case YAML_STREAM_END_EVENT:
            return true
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 {
                throw YAMLNode.SyntaxError(line: line, column: column, message: "expected a single document, but found another document")
            }
        case YAML_ALIAS_EVENT:
            let name = Composer.string(event.data.alias.anchor) ?? ""
            guard let (node, size) = anchors[name] else {
                throw YAMLNode.SyntaxError(line: line, column: column, message: "found undefined alias *\(name)")
            }
            aliased += size
            if aliased > max(YAMLNode.maximumAliasedNodes, 10 * written) {
                throw YAMLNode.SyntaxError(
                    line: line, column: column,
                    message: "excessive aliasing: *\(name) would expand the document past \(max(YAMLNode.maximumAliasedNodes, 10 * written)) aliased nodes (an alias bomb?)")
            }
            add(node, size: size)
        case YAML_SCALAR_EVENT:
            written += 1
            let s = event.data.scalar
            let text = s.value.map {
                String(decoding: UnsafeBufferPointer(start: $0, count: s.length), as: UTF8.self)
            } ?? ""
            let style: YAMLNode.Scalar.Style
            switch s.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: style = .literal
            case YAML_FOLDED_SCALAR_STYLE: style = .folded
            default: style = .plain
            }
            let tag = Composer.string(s.tag).flatMap { $0 == "!" ? nil : $0 }
            let node = YAMLNode.scalar(.init(text: text, style: style, tag: tag, line: line, column: column))
            if let anchor = Composer.string(s.anchor) { anchors[anchor] = (node, 1) }
            add(node, size: 1)
        case YAML_SEQUENCE_START_EVENT:
            written += 1
            stack.append(Frame(isSequence: true, line: line, anchor: Composer.string(event.data.sequence_start.anchor)))
        case YAML_MAPPING_START_EVENT:
            written += 1
            stack.append(Frame(isSequence: false, line: line, anchor: Composer.string(event.data.mapping_start.anchor)))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = stack.popLast() else { break }
            let node: YAMLNode
            if frame.isSequence {
                node = .sequence(frame.items, line: frame.line)
            } else {
                var seen: [String: Int] = [:]
                for pair in frame.pairs {
                    guard case .scalar(let k) = pair.key, !(k.style == .plain && k.text == "<<") else { continue }
                    if let first = seen[k.text] {
                        duplicates.append(YAMLNode.DuplicateKey(key: k.text, firstLine: first, line: k.line))
                    } else {
                        seen[k.text] = k.line
                    }
                }
                node = .mapping(frame.pairs, line: frame.line)
            }
            if let anchor = frame.anchor { anchors[anchor] = (node, frame.size) }
            add(node, size: frame.size)
        default:
            break
        }
        return false
    }

    mutating func add(_ node: YAMLNode, size: Int) {
        guard let top = stack.last else {
            root = node
            return
        }
        top.size += size
        if top.isSequence {
            top.items.append(node)
        } else if let key = top.pendingKey {
            top.pairs.append(YAMLNode.Pair(key: key, value: node))
            top.pendingKey = nil
        } else {
            top.pendingKey = node
        }
    }
}
