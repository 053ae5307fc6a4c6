import Foundation
import RecContract

/// How the training seed is set across repeats of a configuration.
public enum RepeatSeed: String, Sendable, Equatable, Codable {
    /// Every repeat uses the same seed: seed-deterministic metrics (AUC, logloss) repeat exactly and are
    /// treated as deterministic (n_eff = 1).
    case fixed
    /// Repeat r uses seed base + r: AUC and logloss get real replicates (and p-values and CIs).
    case vary
}

/// A parsed experiment spec (YAML, see `SpecParser`): what to run, under which knob
/// combinations, and what to compare. Plain values only; parsing and validation live in
/// `Spec/`, expansion into runs in `Design/`.
public struct ExperimentSpec: Sendable, Equatable, Codable {
    /// Experiment name; runs are grouped under it in the store.
    public var name: String
    /// Which engine runs each configuration.
    public var engine: EngineSpec
    /// Model name passed to the engine (`wdl`, `dlrm`, `deepfm`, or free text for external commands).
    public var model: String
    /// Training data: synthetic rows with a seed, or a file path.
    public var data: DataSpec
    public var batch: Int
    public var steps: Int
    public var warmupSteps: Int
    /// Repeats of each configuration.
    public var repeats: Int
    public var order: RunOrder
    /// Per-run timeout in seconds.
    public var timeoutSeconds: Double
    /// Knob values of the baseline configuration (knob name → value as text).
    public var baseline: [String: String]
    /// Factors in declaration order: knob name and the levels to try.
    public var factors: [Factor]
    public var design: DesignKind
    /// Metrics to report, in order (e.g. `samples_per_sec`, `step_ms.p99`, `auc`, `minor_faults_per_step`).
    public var metrics: [String]
    /// Published results to reproduce.
    public var claims: [Claim]
    /// Extra fixed engine options applied to every run (knob name → value).
    public var fixed: [String: String]
    /// Per-metric change thresholds overriding the catalog's (`thresholds: {auc: abs:0.001, samples_per_sec: 3%}`).
    public var thresholds: [String: ChangeThreshold] = [:]
    /// Whether repeats share the seed (`fixed`, the default) or use base seed + repeat index (`vary`).
    public var repeatSeed: RepeatSeed = .fixed
    /// `checkpoint: on` (engine runs): each run saves checkpoints into `<run dir>/checkpoint` at the
    /// start and end of training (inside its timed window, as the contest scripts do); the files are
    /// removed once the run ended. nil/false: no checkpoints.
    public var checkpoint: Bool? = nil
    /// The `tune:` section (`rectune tune`): search space, objective, constraint, budget; nil when absent.
    public var tune: TuneSettings? = nil

    public init(name: String, engine: EngineSpec = .rectune, model: String = "wdl",
                data: DataSpec = .synthetic(rows: 20_000, seed: 1), batch: Int = 512, steps: Int = 100,
                warmupSteps: Int = 20, repeats: Int = 3, order: RunOrder = .interleaved(seed: 1),
                timeoutSeconds: Double = 600, baseline: [String: String] = [:], factors: [Factor] = [],
                design: DesignKind = .ablation, metrics: [String] = ExperimentSpec.defaultMetrics,
                claims: [Claim] = [], fixed: [String: String] = [:]) {
        self.name = name; self.engine = engine; self.model = model; self.data = data
        self.batch = batch; self.steps = steps; self.warmupSteps = warmupSteps; self.repeats = repeats
        self.order = order; self.timeoutSeconds = timeoutSeconds; self.baseline = baseline
        self.factors = factors; self.design = design; self.metrics = metrics; self.claims = claims
        self.fixed = fixed
    }

    public static let defaultMetrics = ["samples_per_sec", "step_ms.p99", "auc", "minor_faults_per_step", "steals_per_step"]
}

/// One factor of a design: a knob and its levels.
public struct Factor: Sendable, Equatable, Codable {
    public var name: String
    public var levels: [String]
    public init(name: String, levels: [String]) { self.name = name; self.levels = levels }
}

/// Who executes a run.
public enum EngineSpec: Sendable, Equatable, Codable {
    /// This binary's own `rectune train`.
    case rectune
    /// An external training command with knob templates.
    case command(ExternalCommandSpec)
}

/// An external training command: argv with `{knob}` placeholders, knob → argument/env templates,
/// and how to read its result.
public struct ExternalCommandSpec: Sendable, Equatable, Codable {
    /// argv; `{name}` placeholders are replaced by knob values (and `{model}`, `{batch}`, `{steps}`, `{data}`).
    public var argv: [String]
    /// knob → extra arguments appended when the knob is set, e.g. `["--executor", "{value}"]`.
    public var args: [String: [String]]
    /// knob → environment variable template, e.g. `MY_EXECUTOR` = `{value}`.
    public var env: [String: [String: String]]
    public var result: ResultRule
    public init(argv: [String], args: [String: [String]] = [:], env: [String: [String: String]] = [:],
                result: ResultRule = .lastJSONLine) {
        self.argv = argv; self.args = args; self.env = env; self.result = result
    }
}

/// How to read an external command's result.
public enum ResultRule: Sendable, Equatable, Codable {
    /// A JSON file the command writes (path may contain placeholders, e.g. `{run_dir}/result.json`).
    case jsonFile(String)
    /// The last line of stdout that parses as a JSON object.
    case lastJSONLine
    /// Regexes over stdout: metric name → pattern with one capture group holding a number.
    case regex([String: String])
    /// A text file of one number per line (path may contain placeholders): line i is `metrics[i]`.
    /// The contest scripts' result file is this: line 1 the training seconds, line 2 the AUC. The
    /// file is removed before the run, so a stale one from an earlier run is never read.
    case linesFile(path: String, metrics: [String])
}

/// Where training data comes from.
public enum DataSpec: Sendable, Equatable, Codable {
    case synthetic(rows: Int, seed: UInt64)
    case file(path: String)
}

/// The order runs are executed in.
public enum RunOrder: Sendable, Equatable, Codable {
    /// Repeat-major: every config once, then every config again (ABAB…), configs shuffled per round with the seed.
    case interleaved(seed: UInt64)
    /// A random permutation of all runs.
    case random(seed: UInt64)
    /// Config-major: all repeats of config 1, then config 2, …
    case sequential
}

/// How factors expand into configurations.
public enum DesignKind: Sendable, Equatable, Codable {
    case full
    /// One factor at a time changed from the baseline.
    case ablation
    /// Start from all factors "on" (each factor's last level), turn each off (its baseline value) in turn.
    case leaveOneOut
    /// Two-level fractional factorial with the given resolution (III, IV, V as 3, 4, 5).
    case fractional(resolution: Int)
    /// N random configurations drawn with a seed.
    case random(count: Int, seed: UInt64)
}

/// A published result to reproduce: under `when`, `metric` relative to the baseline should satisfy `expect`.
public struct Claim: Sendable, Equatable, Codable {
    /// Knob values selecting the configuration(s) the claim is about.
    public var when: [String: String]
    public var metric: String
    /// The expectation as written, e.g. `>= 1.3x baseline`, `<= 0.5x baseline`, `>= 0.78`.
    public var expect: String
    /// Where the claim comes from.
    public var source: String
    public init(when: [String: String], metric: String, expect: String, source: String) {
        self.when = when; self.metric = metric; self.expect = expect; self.source = source
    }
}
