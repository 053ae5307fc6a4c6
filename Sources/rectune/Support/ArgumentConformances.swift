import RecContract
import ArgumentParser
import RecEngine

extension ModelKind: ExpressibleByArgument {}
extension ExecutorPolicy: ExpressibleByArgument {}
extension AllocatorPolicy: ExpressibleByArgument {}
extension NUMAPolicy: ExpressibleByArgument {}
extension BadRowPolicy: ExpressibleByArgument {}
extension DatasetKind: ExpressibleByArgument {}
extension IndicatorMode: ExpressibleByArgument {}
extension WeightLayoutMode: ExpressibleByArgument {}

/// A comma-separated list of positive integers, e.g. `1024,512,256`.
struct IntList: ExpressibleByArgument {
    let values: [Int]
    init?(argument: String) {
        let parts = argument.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil && $0! > 0 }) else { return nil }
        values = parts.map { $0! }
    }
}

extension Knob {
    /// The option's long name from the registry (`--micro-batch`).
    var optionName: NameSpecification { .customLong(String(flag.dropFirst(2))) }
    /// The option's help from the registry: what it does, allowed values, default, when it applies.
    var argumentHelp: ArgumentHelp { ArgumentHelp(spec.helpLine, valueName: spec.domain.words.isEmpty ? "n" : spec.domain.words.joined(separator: "|")) }
}
