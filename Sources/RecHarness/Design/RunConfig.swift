import Foundation

/// One configuration of an experiment: a value for every knob the design sets (every factor, plus
/// baseline knobs that are not factors), in a stable order (factors first, as declared).
public struct RunConfig: Sendable, Hashable, CustomStringConvertible {
    /// Knob names in display order.
    public private(set) var keys: [String]
    /// Knob → value as text.
    public private(set) var values: [String: String]

    /// A config with `keys` in this order; every key must have a value.
    public init(keys: [String], values: [String: String]) {
        precondition(keys.allSatisfy { values[$0] != nil }, "RunConfig: every key needs a value")
        self.keys = keys; self.values = values.filter { keys.contains($0.key) }
    }

    /// The value of `knob`.
    public subscript(knob: String) -> String? { values[knob] }

    /// A copy with `knob` set to `value` (appended to the key order when new).
    public func setting(_ knob: String, to value: String) -> RunConfig {
        var copy = self
        if copy.values[knob] == nil { copy.keys.append(knob) }
        copy.values[knob] = value
        return copy
    }

    /// `executor=inline allocator=system …` in key order.
    public var description: String { keys.map { "\($0)=\(values[$0]!)" }.joined(separator: " ") }

    /// The knobs that differ from `other`, as `executor=inline bf16=on`, or `baseline` when none do.
    public func label(relativeTo other: RunConfig) -> String {
        let changed = keys.filter { values[$0] != other.values[$0] }
        return changed.isEmpty ? "baseline" : changed.map { "\($0)=\(values[$0]!)" }.joined(separator: " ")
    }

    /// Knob names whose values differ from `other`.
    public func differences(from other: RunConfig) -> [String] {
        Array(Set(keys).union(other.keys)).filter { values[$0] != other.values[$0] }.sorted()
    }
}

/// A small deterministic PRNG (SplitMix64) so seeded designs and orders are reproducible
/// across platforms and Swift versions (the standard library's generator is not seedable).
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
