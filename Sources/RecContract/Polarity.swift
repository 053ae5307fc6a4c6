import Foundation

/// Which direction of change is good for a metric.
public enum Polarity: String, Sendable, Codable {
    /// Larger values are better (throughput, AUC).
    case higherIsBetter
    /// Smaller values are better (step time, page faults, loss).
    case lowerIsBetter
    /// A diagnostic (steals, tasks, context switches, allocator hits): its change is reported, but
    /// it gets no improved/regressed verdict, because neither direction is good in itself.
    case neutral

    /// Whether moving from ratio 1 to `ratio` (candidate / baseline) is an improvement (never for `neutral`).
    public func isImprovement(ratio: Double) -> Bool {
        switch self {
        case .higherIsBetter: ratio > 1
        case .lowerIsBetter: ratio < 1
        case .neutral: false
        }
    }

    /// The polarity a metric name suggests, for metrics outside the catalog (external commands'
    /// own result keys): rates and AUC/accuracy are higher-is-better, times, losses, faults and
    /// misses lower-is-better, anything else neutral.
    public static func guess(forName name: String) -> Polarity {
        let n = name.lowercased()
        if ["fault", "miss", "loss", "latency", "error"].contains(where: n.contains) { return .lowerIsBetter }
        if ["auc", "accuracy", "throughput", "per_sec", "per_s", "qps"].contains(where: n.contains) { return .higherIsBetter }
        if ["_ms", "_s", "_seconds", "_time"].contains(where: n.hasSuffix) || n.hasPrefix("step_ms") { return .lowerIsBetter }
        return .neutral
    }
}

/// The smallest change of a metric that matters: relative to the baseline median (timings,
/// rates, counts) or absolute in the metric's unit (bounded metrics such as AUC and logloss).
public enum ChangeThreshold: Sendable, Equatable, Codable, CustomStringConvertible {
    /// |candidate / baseline − 1| beyond this fraction (0.02 = 2%).
    case relative(Double)
    /// |candidate − baseline| beyond this amount.
    case absolute(Double)

    public var description: String {
        switch self {
        case .relative(let r): "±\(Self.trim(r * 100))%"
        case .absolute(let a): "±\(Self.trim(a))"
        }
    }

    private static func trim(_ x: Double) -> String {
        var s = String(format: "%.6g", x)
        if s.contains(".") && !s.contains("e") { while s.hasSuffix("0") { s.removeLast() }; if s.hasSuffix(".") { s.removeLast() } }
        return s
    }

    /// Parses `2%`, `0.02` (relative) or `abs:0.001` / `0.001abs` (absolute).
    public init?(parsing text: String) {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t.hasSuffix("%"), let v = Double(t.dropLast()), v >= 0, v.isFinite { self = .relative(v / 100); return }
        if t.hasPrefix("abs:"), let v = Double(t.dropFirst(4)), v >= 0, v.isFinite { self = .absolute(v); return }
        if t.hasSuffix("abs"), let v = Double(t.dropLast(3)), v >= 0, v.isFinite { self = .absolute(v); return }
        if let v = Double(t), v >= 0, v.isFinite { self = .relative(v); return }
        return nil
    }
}
