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

    /// Parses a single YAML document; nil for an empty stream. More than one document is an error, and so is a
    /// duplicate key in a mapping.
    public static func compose(_ text: String) throws(SyntaxError) -> YAMLNode? {
        var bytes = Array(text.utf8)
        if bytes.isEmpty { return nil }
        let count = bytes.count
        return try bytes.withUnsafeMutableBufferPointer { buffer throws(SyntaxError) -> YAMLNode? in
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
            return composer.root
        }
    }
}

/// Builds nodes from libyaml events with an explicit stack (no recursion, so deep documents cannot overflow).
private struct Composer {
    enum Frame {
        case sequence([YAMLNode], line: Int, anchor: String?)
        case mapping([YAMLNode.Pair], pendingKey: YAMLNode?, line: Int, anchor: String?)
    }

    var stack: [Frame] = []
    var anchors: [String: YAMLNode] = [:]
    var root: YAMLNode?
    var documents = 0

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
        switch event.type {
        case YAML_STREAM_END_EVENT:
            return true
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 {
                throw YAMLNode.SyntaxError(
                    line: line, column: Int(event.start_mark.column) + 1,
                    message: "expected a single document, but found another document")
            }
        case YAML_ALIAS_EVENT:
            let name = Composer.string(event.data.alias.anchor) ?? ""
            guard let node = anchors[name] else {
                throw YAMLNode.SyntaxError(
                    line: line, column: Int(event.start_mark.column) + 1, message: "found undefined alias *\(name)")
            }
            try add(node)
        case YAML_SCALAR_EVENT:
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
            let node = YAMLNode.scalar(
                .init(text: text, style: style, tag: tag, line: line, column: Int(event.start_mark.column) + 1))
            if let anchor = Composer.string(s.anchor) { anchors[anchor] = node }
            try add(node)
        case YAML_SEQUENCE_START_EVENT:
            stack.append(.sequence([], line: line, anchor: Composer.string(event.data.sequence_start.anchor)))
        case YAML_MAPPING_START_EVENT:
            stack.append(
                .mapping([], pendingKey: nil, line: line, anchor: Composer.string(event.data.mapping_start.anchor)))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = stack.popLast() else { break }
            let node: YAMLNode
            let anchor: String?
            switch frame {
            case .sequence(let items, let l, let a):
                node = .sequence(items, line: l)
                anchor = a
            case .mapping(let pairs, _, let l, let a):
                var seen = Set<String>()
                for pair in pairs {
                    guard case .scalar(let k) = pair.key, !(k.style == .plain && k.text == "<<") else { continue }
                    if !seen.insert(k.text).inserted {
                        throw YAMLNode.SyntaxError(line: k.line, column: 1, message: "duplicate mapping key \"\(k.text)\"")
                    }
                }
                node = .mapping(pairs, line: l)
                anchor = a
            }
            if let anchor { anchors[anchor] = node }
            try add(node)
        default:
            break
        }
        return false
    }

    mutating func add(_ node: YAMLNode) throws(YAMLNode.SyntaxError) {
        guard let top = stack.popLast() else {
            root = node
            return
        }
        switch top {
        case .sequence(var items, let line, let anchor):
            items.append(node)
            stack.append(.sequence(items, line: line, anchor: anchor))
        case .mapping(var pairs, let pendingKey, let line, let anchor):
            if let key = pendingKey {
                pairs.append(YAMLNode.Pair(key: key, value: node))
                stack.append(.mapping(pairs, pendingKey: nil, line: line, anchor: anchor))
            } else {
                stack.append(.mapping(pairs, pendingKey: node, line: line, anchor: anchor))
            }
        }
    }
}
