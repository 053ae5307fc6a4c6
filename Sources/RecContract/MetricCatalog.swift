/// One metric the harness can report: a result field (`samples_per_sec`, `step_ms.p99`, `auc`), a
/// counter (`minor-faults`), or a per-step rate derived from a counter (`minor_faults_per_step`).
public struct MetricSpec: Sendable, Equatable {
    /// Name in specs, `--metric`, the store and reports.
    public let name: String
    /// Short human label for tables.
    public let label: String
    /// Unit of the value.
    public let unit: String
    /// Which direction is better; `neutral` diagnostics get no verdict.
    public let polarity: Polarity
    /// Where the value comes from.
    public let source: MetricSource
    /// For a per-step rate: the counter it divides by the phase's steps.
    public let perStepCounter: Counter?
    /// The smallest change that matters, unless a spec or `--metric NAME:T` says otherwise.
    public let threshold: ChangeThreshold
    /// True when the value does not depend on timing: with the same seed every repeat gives the
    /// same value (AUC, logloss, losses), so repeats are not independent replicates of it.
    public let seedDeterministic: Bool
    /// When the engine produces it (registry condition); nil for every run.
    public var producedWhen: KnobCondition? = nil
}

/// Where a metric's value comes from.
public enum MetricSource: String, Sendable, Codable {
    /// A field of the `train` result (or an external command's own result).
    case result
    /// A counter in `counters` (perf event, rusage or engine).
    case counter
    /// A counter divided by the phase's steps.
    case derived
}

/// The metric catalog: every metric name the engine and the harness know, with unit, polarity,
/// label, source and derivation. Reports, the gate and the spec validator look metrics up here.
public enum MetricCatalog {
    /// Result fields that are measurements (not run-shape echoes).
    public static let resultMetrics: [MetricSpec] = [
        result("samples_per_sec", "samples/s", "samples/s", .higherIsBetter),
        result("step_ms.p50", "step p50 ms", "ms", .lowerIsBetter),
        result("step_ms.p90", "step p90 ms", "ms", .lowerIsBetter),
        result("step_ms.p99", "step p99 ms", "ms", .lowerIsBetter),
        result("step_ms.mean", "step mean ms", "ms", .lowerIsBetter),
        result("auc", "AUC", "", .higherIsBetter, threshold: .absolute(0.001), seedDeterministic: true),
        result("logloss", "logloss", "", .lowerIsBetter, threshold: .absolute(0.001), seedDeterministic: true),
        result("auc_by_task.clk", "AUC clk", "", .higherIsBetter, threshold: .absolute(0.001), seedDeterministic: true,
               when: .when(.dataset, isOneOf: ["taobao", "amazon-books"])),
        result("auc_by_task.buy", "AUC buy", "", .higherIsBetter, threshold: .absolute(0.001), seedDeterministic: true,
               when: .when(.dataset, isOneOf: ["taobao"])),
        result("auc_by_task.clicked", "AUC clicked", "", .higherIsBetter, threshold: .absolute(0.001), seedDeterministic: true,
               when: .when(.dataset, isOneOf: ["eleme"])),
        result("train_loss_first", "first train loss", "", .neutral, threshold: .absolute(0.001), seedDeterministic: true),
        result("train_loss_last", "last train loss", "", .neutral, threshold: .absolute(0.001), seedDeterministic: true),
        result("skipped_rows", "skipped rows", "rows", .neutral, seedDeterministic: true),
        result("wall_s", "wall s", "s", .lowerIsBetter),
        result("contest_seconds", "contest s", "s", .lowerIsBetter, when: .unless(.dataset, isOneOf: ["criteo"])),
        result("checkpoint_seconds", "checkpoint s", "s", .neutral, when: .unless(.dataset, isOneOf: ["criteo"])),
    ]

    /// Per-step rates derived from counters: `<name>_per_step` = counter / phase steps.
    public static let perStepMetrics: [MetricSpec] = [
        perStep("minor_faults_per_step", "minor faults/step", .minorFaults, .lowerIsBetter),
        perStep("major_faults_per_step", "major faults/step", .majorFaults, .lowerIsBetter),
        perStep("context_switches_per_step", "ctx switches/step", .contextSwitches, .neutral),
        perStep("cpu_migrations_per_step", "migrations/step", .cpuMigrations, .neutral),
        perStep("task_clock_per_step", "CPU ns/step", .taskClock, .lowerIsBetter),
        perStep("cycles_per_step", "cycles/step", .cycles, .lowerIsBetter),
        perStep("instructions_per_step", "instructions/step", .instructions, .neutral),
        perStep("cache_misses_per_step", "cache misses/step", .cacheMisses, .neutral),
        perStep("branch_misses_per_step", "branch misses/step", .branchMisses, .neutral),
        perStep("tasks_per_step", "tasks/step", .executorTasks, .neutral),
        perStep("steals_per_step", "steals/step", .executorSteals, .neutral),
        perStep("failed_steals_per_step", "failed steals/step", .executorFailedSteals, .neutral),
        perStep("parks_per_step", "parks/step", .executorParks, .neutral),
        perStep("alloc_hits_per_step", "alloc hits/step", .allocatorHits, .neutral),
        perStep("alloc_misses_per_step", "alloc misses/step", .allocatorMisses, .neutral),
        perStep("allocations_per_step", "allocations/step", .allocatorAllocations, .neutral),
        perStep("stage_waits_per_step", "stage waits/step", .stageConsumerWaits, .neutral),
        perStep("stage_wait_ms_per_step", "stage wait ms/step", .stageWaitMs, .neutral),
    ]

    /// Raw counters as metrics (totals of a phase): neutral diagnostics, except page faults.
    public static let counterMetrics: [MetricSpec] = Counter.allCases.map { c in
        let polarity: Polarity = [.minorFaults, .majorFaults, .pageFaults].contains(c) ? .lowerIsBetter : .neutral
        return MetricSpec(name: c.name, label: c.name, unit: c.unit, polarity: polarity, source: .counter,
                          perStepCounter: nil, threshold: .relative(0.02), seedDeterministic: false, producedWhen: c.producedWhen)
    }

    /// Every metric, result fields first.
    public static let all: [MetricSpec] = resultMetrics + perStepMetrics + counterMetrics

    private static let byName: [String: MetricSpec] = Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })

    /// The catalog entry of `name`, or nil for a metric the catalog does not know.
    public static func spec(_ name: String) -> MetricSpec? { byName[name] }

    /// The per-step metric derived from `counter`, if any.
    public static func perStepMetric(for counter: Counter) -> MetricSpec? {
        perStepMetrics.first { $0.perStepCounter == counter }
    }

    /// The catalog entry of `name`, or a neutral-by-name stand-in for metrics outside it (an
    /// external command's own result keys), so reports can still show them.
    public static func specOrGuess(_ name: String) -> MetricSpec {
        spec(name) ?? MetricSpec(name: name, label: name, unit: "", polarity: Polarity.guess(forName: name), source: .result,
                                 perStepCounter: nil, threshold: .relative(0.02), seedDeterministic: false)
    }

    /// Known names closest to `name` (for did-you-mean), best first.
    public static func suggestions(for name: String, among names: [String]? = nil, limit: Int = 3) -> [String] {
        let pool = names ?? all.map(\.name)
        return pool.map { ($0, EditDistance.between($0, name)) }
            .filter { $0.1 <= max(2, name.count / 3) }
            .sorted { ($0.1, $0.0) < ($1.1, $1.0) }
            .prefix(limit).map(\.0)
    }

    /// The README's metric table (Markdown), generated from the catalog; a test keeps the README in sync.
    public static func markdownTable() -> String {
        var lines = ["| metric | label | unit | polarity | threshold | derived from |", "|---|---|---|---|---|---|"]
        for m in resultMetrics + perStepMetrics {
            let polarity = switch m.polarity {
            case .higherIsBetter: "higher is better"
            case .lowerIsBetter: "lower is better"
            case .neutral: "neutral (no verdict)"
            }
            let from = m.perStepCounter.map { "`\($0.name)` / steps" } ?? (m.seedDeterministic ? "result (same for the same seed)" : "result")
            lines.append("| `\(m.name)` | \(m.label) | \(m.unit) | \(polarity) | \(m.threshold) | \(from) |")
        }
        return lines.joined(separator: "\n")
    }

    private static func result(_ name: String, _ label: String, _ unit: String, _ polarity: Polarity,
                               threshold: ChangeThreshold = .relative(0.02), seedDeterministic: Bool = false,
                               when condition: KnobCondition? = nil) -> MetricSpec {
        MetricSpec(name: name, label: label, unit: unit, polarity: polarity, source: .result, perStepCounter: nil,
                   threshold: threshold, seedDeterministic: seedDeterministic, producedWhen: condition)
    }

    private static func perStep(_ name: String, _ label: String, _ counter: Counter, _ polarity: Polarity) -> MetricSpec {
        MetricSpec(name: name, label: label, unit: counter.unit.isEmpty ? "per step" : "\(counter.unit)/step", polarity: polarity,
                   source: .derived, perStepCounter: counter, threshold: .relative(0.02), seedDeterministic: false)
    }
}

/// Levenshtein distance, for did-you-mean suggestions.
public enum EditDistance {
    /// The number of single-character edits that turn `a` into `b`.
    public static func between(_ a: String, _ b: String) -> Int {
        let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var previous = Array(0...y.count), current = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            current[0] = i
            for j in 1...y.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[y.count]
    }
}
