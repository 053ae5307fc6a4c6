import Foundation
import RecContract
import RecEngine

/// Builds the argv and environment of one run.
///
/// `engine: rectune` → `<exe> train --json <run_dir>/result.json --model M --batch B --steps S
/// --warmup-steps W --data PATH [--<knob-flag> value …] [--<setting-flag> value …]`, flags from
/// the `RecContract.Knob` registry, values passed as written (`--stage on`); with
/// `RECTUNE_LAYOUT_CHOICES=<runs folder>/weight-layout-choices.json` unless the harness's own
/// environment sets that variable, so every run of the store that builds the same dense shapes
/// under `weight_layout: timed` on the same machine trains on the same layouts
/// (`WeightLayoutChoiceFile`).
///
/// External command → its argv with `{placeholders}` filled, per-knob `args` templates appended
/// (config order, then fixed settings by name), per-knob `env` templates set; wrapped in
/// `<exe> measure --json <run_dir>/measure.json -- …` when counters are wanted.
public struct CommandLineBuilder: Sendable {
    public var executable: String
    public var measure: Bool
    /// The environment the runs inherit (whether it names a layout choice file already).
    public var inherited: [String: String]

    /// A builder launching `train`/`measure` through `executable`.
    public init(executable: String, measure: Bool = true, inherited: [String: String] = ProcessInfo.processInfo.environment) {
        self.executable = executable; self.measure = measure; self.inherited = inherited
    }

    /// The layout choice file of the runs under `runDir`'s runs folder (`<runsRoot>/e<exp>/<run>`):
    /// `<runsRoot>/weight-layout-choices.json`.
    public static func layoutChoicesPath(runDir: String) -> String {
        let runsRoot = ((runDir as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
        return (runsRoot as NSString).appendingPathComponent(WeightLayoutChoiceFile.defaultFileName)
    }

    /// A run's command: argv, extra environment, and the files the runner reads afterwards.
    public struct Command: Sendable, Equatable {
        public var argv: [String]
        public var environment: [String: String]
        /// `train --json` output (rectune engine) or the filled `json_file` rule path (external).
        public var resultPath: String?
        /// `measure --json` output when wrapped.
        public var measurePath: String?
        /// The command as a copy-pasteable shell line (environment first).
        public var shellLine: String {
            (environment.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.quote($0.value))" } + argv.map(Self.quote))
                .joined(separator: " ")
        }
        static func quote(_ s: String) -> String {
            s.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) } && !s.isEmpty
                ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }
    }

    /// The command for `config` (repeat `repeatIndex`) of `spec`, with per-run files under `runDir`.
    public func command(spec: ExperimentSpec, config: RunConfig, repeatIndex: Int, dataPath: String, runDir: String) -> Command {
        switch spec.engine {
        case .rectune:
            let result = (runDir as NSString).appendingPathComponent("result.json")
            var argv = [executable, "train", "--json", result, "--model", spec.model, "--batch", String(spec.batch),
                        "--steps", String(spec.steps), "--warmup-steps", String(spec.warmupSteps), "--data", dataPath]
            // The validator admits only registry knobs; anything else would have failed at plan time.
            func flag(_ name: String) -> String { Knob(name: name)?.flag ?? "--" + name.replacingOccurrences(of: "_", with: "-") }
            for key in config.keys { argv += [flag(key), config[key]!] }
            // A fixed setting the run's config also sets (a tuner trial over a spec whose `fixed` holds the
            // baseline) yields to the config, as the echo check expects: the later flag would win otherwise.
            for (key, value) in RunPlan.settings(spec: spec, repeatIndex: repeatIndex).sorted(by: { $0.key < $1.key }) where config[key] == nil {
                argv += [flag(key), value]
            }
            if spec.checkpoint == true { argv += ["--checkpoint", Self.checkpointDirectory(runDir: runDir)] }
            let variable = WeightLayoutChoiceFile.environmentVariable
            let environment = inherited[variable] == nil ? [variable: Self.layoutChoicesPath(runDir: runDir)] : [:]
            return Command(argv: argv, environment: environment, resultPath: result, measurePath: nil)
        case .command(let c):
            var values = placeholderValues(spec: spec, config: config, repeatIndex: repeatIndex, dataPath: dataPath, runDir: runDir)
            var argv = c.argv.map { Template.fill($0, values) }
            var env: [String: String] = [:]
            let knobValues = config.keys.map { ($0, config[$0]!) } + spec.fixed.filter { config[$0.key] == nil }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            for (knob, value) in knobValues {
                values["value"] = value
                if let template = c.args[knob] { argv += template.map { Template.fill($0, values) } }
                for (name, template) in c.env[knob] ?? [:] { env[name] = Template.fill(template, values) }
            }
            var resultPath: String? = nil
            if case .jsonFile(let p) = c.result { resultPath = Template.fill(p, values) }
            if case .linesFile(let p, _) = c.result { resultPath = Template.fill(p, values) }
            guard measure else { return Command(argv: argv, environment: env, resultPath: resultPath, measurePath: nil) }
            let measurePath = (runDir as NSString).appendingPathComponent("measure.json")
            // --quiet: the counters are in measure.json; measure's table would bury the trainer's last stderr line.
            return Command(argv: [executable, "measure", "--quiet", "--json", measurePath, "--"] + argv, environment: env,
                           resultPath: resultPath, measurePath: measurePath)
        }
    }

    /// Where a run with `checkpoint: on` saves its checkpoints (removed after the run).
    public static func checkpointDirectory(runDir: String) -> String { (runDir as NSString).appendingPathComponent("checkpoint") }

    /// Values of the builtin placeholders and every knob (`{executor}`), for template filling.
    func placeholderValues(spec: ExperimentSpec, config: RunConfig, repeatIndex: Int, dataPath: String, runDir: String) -> [String: String] {
        var values = spec.fixed.merging(config.values) { _, knob in knob }
        values["model"] = spec.model
        values["batch"] = String(spec.batch)
        values["steps"] = String(spec.steps)
        values["warmup_steps"] = String(spec.warmupSteps)
        values["data"] = dataPath
        values["run_dir"] = runDir
        values["repeat"] = String(repeatIndex)
        if case .synthetic(_, let seed) = spec.data { values["seed"] = spec.fixed["seed"] ?? String(seed) } else { values["seed"] = spec.fixed["seed"] ?? "1" }
        if spec.repeatSeed == .vary { values["seed"] = RunPlan.settings(spec: spec, repeatIndex: repeatIndex)["seed"] }
        return values
    }

    /// Whether an external command refers to `{data}` anywhere (only then is synthetic data generated).
    static func usesData(_ c: ExternalCommandSpec) -> Bool {
        (c.argv + c.args.values.flatMap { $0 } + c.env.values.flatMap { $0.values }).contains { $0.contains("{data}") }
    }
}
