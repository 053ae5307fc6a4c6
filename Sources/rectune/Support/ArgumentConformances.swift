import ArgumentParser
import RecEngine

extension ModelKind: ExpressibleByArgument {}
extension ExecutorPolicy: ExpressibleByArgument {}
extension AllocatorPolicy: ExpressibleByArgument {}
extension NUMAPolicy: ExpressibleByArgument {}
extension BadRowPolicy: ExpressibleByArgument {}
extension DatasetKind: ExpressibleByArgument {}
extension IndicatorMode: ExpressibleByArgument {}

/// `on` / `off` switch values (also accepts true/false, 1/0, yes/no).
enum Switch: String, ExpressibleByArgument, CaseIterable {
    case on, off

    init?(argument: String) {
        switch argument.lowercased() {
        case "on", "true", "1", "yes": self = .on
        case "off", "false", "0", "no": self = .off
        default: return nil
        }
    }

    var isOn: Bool { self == .on }
}

/// A comma-separated list of positive integers, e.g. `1024,512,256`.
struct IntList: ExpressibleByArgument {
    let values: [Int]
    init?(argument: String) {
        let parts = argument.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil && $0! > 0 }) else { return nil }
        values = parts.map { $0! }
    }
}
