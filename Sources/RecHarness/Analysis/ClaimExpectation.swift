import Foundation

/// A parsed claim expectation: `>= 1.3x baseline`, `<= 0.5x baseline`, `> 1x baseline`, `>= 0.78`.
public struct ClaimExpectation: Sendable, Equatable {
    /// The comparison operator of an expectation.
    public enum Operator: String, Sendable, CaseIterable {
        case greaterOrEqual = ">=", lessOrEqual = "<=", greater = ">", less = "<"

        /// Whether `x` satisfies `x OP bound`.
        public func holds(_ x: Double, _ bound: Double) -> Bool {
            switch self {
            case .greaterOrEqual: x >= bound
            case .lessOrEqual: x <= bound
            case .greater: x > bound
            case .less: x < bound
            }
        }
    }

    public var op: Operator
    public var bound: Double
    /// True for `Nx baseline` (a ratio to the baseline); false for an absolute value.
    public var relative: Bool

    /// Creates an expectation.
    public init(op: Operator, bound: Double, relative: Bool) { self.op = op; self.bound = bound; self.relative = relative }

    /// Parses the expectation text of a claim.
    /// - Throws: `ClaimExpectationError` naming the text and what was expected.
    public static func parse(_ text: String) throws -> ClaimExpectation {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        // Longest operators first so ">=" is not read as ">".
        guard let op = [Operator.greaterOrEqual, .lessOrEqual, .greater, .less].first(where: { rest.hasPrefix($0.rawValue) }) else {
            throw ClaimExpectationError(text: text, problem: "it must start with >=, <=, > or <")
        }
        rest = rest.dropFirst(op.rawValue.count).drop { $0 == " " }
        var relative = false
        var words = rest.split(separator: " ").map(String.init)
        guard var number = words.first else {
            throw ClaimExpectationError(text: text, problem: "a number must follow \(op.rawValue)")
        }
        words.removeFirst()
        if number.hasSuffix("x") || number.hasSuffix("×") {
            number.removeLast()
            relative = true
        } else if words.first == "x" || words.first == "×" {
            words.removeFirst()
            relative = true
        }
        guard let bound = Double(number), bound.isFinite else {
            throw ClaimExpectationError(text: text, problem: "'\(number)' is not a number")
        }
        if relative {
            guard words == ["baseline"] else {
                throw ClaimExpectationError(text: text, problem: "a ratio must be written as 'Nx baseline'")
            }
        } else if !words.isEmpty {
            if words == ["baseline"] {
                throw ClaimExpectationError(text: text, problem: "write the ratio with an x, e.g. '\(op.rawValue) \(number)x baseline'")
            }
            throw ClaimExpectationError(text: text, problem: "unexpected '\(words.joined(separator: " "))' after the number")
        }
        return ClaimExpectation(op: op, bound: bound, relative: relative)
    }

    /// Reproduced when every value of the interval satisfies the expectation, not reproduced when none does,
    /// inconclusive otherwise.
    public func evaluate(_ interval: Interval) -> ClaimStatus {
        let lowOK = op.holds(interval.low, bound), highOK = op.holds(interval.high, bound)
        if lowOK && highOK { return .reproduced }
        if !lowOK && !highOK { return .notReproduced }
        return .inconclusive
    }

    /// The expectation written back, e.g. `>= 1.3x baseline`.
    public var description: String {
        relative ? "\(op.rawValue) \(Self.format(bound))x baseline" : "\(op.rawValue) \(Self.format(bound))"
    }

    private static func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e9 ? String(Int(x)) : String(x)
    }
}

/// A claim expectation that could not be parsed.
public struct ClaimExpectationError: Error, CustomStringConvertible, Equatable {
    public var text: String
    public var problem: String
    /// The message shown to the user.
    public var description: String {
        "claim expectation '\(text)': \(problem) (forms: '>= 1.3x baseline', '<= 0.5x baseline', '> 1x baseline', '>= 0.78')"
    }
}
