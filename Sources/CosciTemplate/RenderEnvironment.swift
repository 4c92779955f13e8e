import CosciModel

/// What a render may read besides its data: the build's clock and the environment variables the project allows.
/// Passed in by the caller, so the engine itself stays pure and a render is a function of its inputs.
public struct RenderEnvironment: Sendable, Hashable {
    /// The build's clock, in seconds since the Unix epoch: what `now` returns (`SOURCE_DATE_EPOCH`, by default
    /// the head commit's time).
    public var epoch: Int64
    /// The variables `env` and `expandenv` may read, with their values ("" when unset); reading any other is an
    /// error.
    public var variables: [String: String]

    public init(epoch: Int64 = 0, variables: [String: String] = [:]) {
        self.epoch = epoch
        self.variables = variables
    }

    /// The value of each input `reads` names, as it is in this environment: `clock` → the epoch, `env:NAME` →
    /// the SHA-256 of the variable's value (values are not kept: they may be secrets). A render with the same
    /// template and data and equal `inputs(of:)` renders the same text.
    public func inputs(of reads: RenderReads) -> [String: String] {
        var inputs: [String: String] = [:]
        if reads.clock { inputs["clock"] = String(epoch) }
        for name in reads.variables {
            inputs["env:" + name] = Digest.sha256(of: Array((variables[name] ?? "").utf8)).hex
        }
        return inputs
    }

    /// True when every input in `recorded` (from `inputs(of:)` of an earlier render) has the same value here.
    public func matches(_ recorded: [String: String]) -> Bool {
        for (name, value) in recorded {
            if name == "clock" {
                guard value == String(epoch) else { return false }
            } else if name.hasPrefix("env:") {
                let variable = String(name.dropFirst(4))
                guard variables[variable] != nil,
                    value == Digest.sha256(of: Array((variables[variable] ?? "").utf8)).hex
                else { return false }
            } else {
                return false
            }
        }
        return true
    }
}

/// What a render read of its environment.
public struct RenderReads: Sendable, Hashable {
    /// The clock (`now`, `ago`, or a date function given something other than a time).
    public var clock = false
    /// Environment variables read.
    public var variables: Set<String> = []

    public init(clock: Bool = false, variables: Set<String> = []) {
        self.clock = clock
        self.variables = variables
    }

    public var isEmpty: Bool { !clock && variables.isEmpty }

    public mutating func formUnion(_ other: RenderReads) {
        clock = clock || other.clock
        variables.formUnion(other.variables)
    }
}

/// The environment of one render and what it read; one per renderer (one thread).
final class Ambient {
    let environment: RenderEnvironment
    private(set) var reads = RenderReads()

    init(_ environment: RenderEnvironment) { self.environment = environment }

    /// `time.Now()`: the epoch, in UTC.
    func now() -> GoTime {
        reads.clock = true
        return GoTime(seconds: environment.epoch)
    }

    /// `os.Getenv(name)` for an allowed name.
    func variable(_ name: String) throws(FunctionFailure) -> String {
        guard let value = environment.variables[name] else {
            throw FunctionFailure(
                "reads the environment variable \(name), which the project does not allow: list it under `environment:` in cosci.yaml (its value then becomes an input of the packages that read it), or use a values file")
        }
        reads.variables.insert(name)
        return value
    }
}
