import CosciModel

/// A function's evaluated arguments, with conversions that fail with messages naming the argument.
struct Arguments {
    let items: [Datum]

    init(_ items: [Datum]) { self.items = items }

    var count: Int { items.count }

    subscript(_ k: Int) -> Datum { items[k] }

    func require(_ n: Int) throws(FunctionFailure) {
        guard items.count == n else {
            throw FunctionFailure("wrong number of arguments: want \(n), got \(items.count)")
        }
    }

    func require(_ range: ClosedRange<Int>) throws(FunctionFailure) {
        guard range.contains(items.count) else {
            throw FunctionFailure("wrong number of arguments: want \(range.lowerBound) to \(range.upperBound), got \(items.count)")
        }
    }

    func require(atLeast n: Int) throws(FunctionFailure) {
        guard items.count >= n else {
            throw FunctionFailure("wrong number of arguments: want at least \(n), got \(items.count)")
        }
    }

    /// A present value (null allowed); missing is an error.
    func value(_ k: Int) throws(FunctionFailure) -> Value {
        switch items[k] {
        case .value(let v): return v
        case .time(let t): return .string(t.description)
        case .missing(let path): throw FunctionFailure("argument \(k + 1): no value for \(path)")
        }
    }

    /// A string argument: strings only, as Go's typed parameters.
    func string(_ k: Int) throws(FunctionFailure) -> String {
        let v = try value(k)
        guard case .string(let s) = v else {
            throw FunctionFailure("argument \(k + 1) must be a string, not \(v.briefDescription)")
        }
        return s
    }

    /// An integer argument: an int, or a double without a fraction (YAML numbers may arrive as either).
    func integer(_ k: Int) throws(FunctionFailure) -> Int {
        let v = try value(k)
        switch v {
        case .int(let i): return i
        case .double(let d) where d == d.rounded() && abs(d) < 9.0e15: return Int(d)
        default: throw FunctionFailure("argument \(k + 1) must be an integer, not \(v.briefDescription)")
        }
    }

    func bool(_ k: Int) throws(FunctionFailure) -> Bool {
        let v = try value(k)
        guard case .bool(let b) = v else {
            throw FunctionFailure("argument \(k + 1) must be a boolean, not \(v.briefDescription)")
        }
        return b
    }

    /// A list argument; missing and null are errors.
    func list(_ k: Int) throws(FunctionFailure) -> [Value] {
        let v = try value(k)
        guard case .list(let l) = v else {
            throw FunctionFailure("argument \(k + 1) must be a list, not \(v.briefDescription)")
        }
        return l
    }

    /// A map argument; missing and null are nil (Go's nil map), other types are errors.
    func optionalMap(_ k: Int) throws(FunctionFailure) -> [String: Value]? {
        switch items[k] {
        case .missing, .value(.null): return nil
        case .value(.map(let m)): return m
        case .time: throw FunctionFailure("argument \(k + 1) must be a map, not a time")
        case .value(let v): throw FunctionFailure("argument \(k + 1) must be a map, not \(v.briefDescription)")
        }
    }

    /// A map argument; missing and null are errors.
    func map(_ k: Int) throws(FunctionFailure) -> [String: Value] {
        let v = try value(k)
        guard case .map(let m) = v else {
            throw FunctionFailure("argument \(k + 1) must be a map, not \(v.briefDescription)")
        }
        return m
    }

    /// sprig's `strval`: strings as they are, anything else as `%v`; missing and null are errors.
    func text(_ k: Int) throws(FunctionFailure) -> String {
        let v = try value(k)
        switch v {
        case .string(let s): return s
        case .null: throw FunctionFailure("argument \(k + 1) is null")
        default: return GoFormat.text(v)
        }
    }

    /// Every argument as a present, non-null value (the `print` family).
    func printable() throws(FunctionFailure) -> [Value] {
        var values: [Value] = []
        values.reserveCapacity(items.count)
        for k in 0..<items.count {
            let v = try value(k)
            if case .null = v { throw FunctionFailure("argument \(k + 1) is null") }
            values.append(v)
        }
        return values
    }
}
