import ArgumentParser
import Foundation
import RecHarness

/// `rectune check`: the CI regression gate.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Regression gate for CI.",
        discussion: """
        Compare stored runs:   rectune check --baseline SEL --candidate SEL
        Measure both now:      rectune check --ab SPEC_A SPEC_B [--repeats N]   (runs alternate A B A B …)
        External commands:     rectune check --ab-command 'CMD A' 'CMD B' [--repeats N]
        Selectors: NAME or ID, NAME:key=value,…, runs:1,2,3. Specs measured now are stored in --db as new \
        experiments. External commands run under `rectune measure` (wall time + counters); a JSON object printed on \
        their stdout adds its numbers as metrics.
        Exit: 0 no regression, 1 regression, 3 inconclusive (1 with --inconclusive-fails), 2 usage/data error. \
        Prints a Markdown summary on stdout.
        """)

    @Option(help: "Baseline selector (stored runs).")
    var baseline: String?

    @Option(help: "Candidate selector (stored runs).")
    var candidate: String?

    @Option(parsing: .upToNextOption, help: "Two experiment specs to measure now, interleaved: SPEC_A SPEC_B.")
    var ab: [String] = []

    @Option(name: .customLong("ab-command"), parsing: .upToNextOption, help: "Two shell commands to measure now, interleaved.")
    var abCommand: [String] = []

    @Option(help: "Repeats per side for --ab / --ab-command (default: the spec's repeats; 5 for commands).")
    var repeats: Int?

    @OptionGroup var store: StoreOptions
    private var db: String { store.path }

    @Option(name: .customLong("metric"), help: "NAME[:T] (repeatable), T = 5%, 0.05 (relative) or abs:0.001 (absolute). Default: samples_per_sec:5% and step_ms.p99:10% (wall_s:5% for --ab-command).")
    var metricArgs: [String] = []

    @Option(help: "Significance level of the Mann-Whitney test.")
    var alpha: Double = 0.05

    @Flag(help: "Exit 1 (not 3) when the result is inconclusive.")
    var inconclusiveFails = false

    @Flag(help: "Compare runs from different host fingerprints.")
    var force = false

    func run() async throws {
        var code: Int32 = 0
        try await AnalysisCLI.exitingOnDataErrors {
            let modes = [baseline != nil || candidate != nil, !ab.isEmpty, !abCommand.isEmpty].filter { $0 }.count
            guard modes == 1 else {
                throw SelectorError(message: "give exactly one of --baseline/--candidate, --ab SPEC_A SPEC_B, --ab-command 'A' 'B'")
            }
            guard alpha > 0 && alpha < 1 else { throw SelectorError(message: "--alpha \(alpha): must be in (0, 1)") }
            if let repeats, repeats < 2 { throw SelectorError(message: "--repeats \(repeats): need at least 2 per side") }
            // An external command's metrics are only known once it ran; stored ones are checked after loading.
            var metrics = try metricArgs.map { try GateMetric.parse($0, known: nil) }
            if metrics.isEmpty { metrics = abCommand.isEmpty ? GateMetric.defaults : [GateMetric(name: "wall_s", threshold: 0.05)] }
            // Measured now means interleaved A/B rounds: the gate pairs them (drift between rounds cancels).
            let options = GateOptions(metrics: metrics, alpha: alpha, inconclusiveFails: inconclusiveFails, force: force,
                                      paired: !ab.isEmpty || !abCommand.isEmpty)

            let sides: (RunSet, RunSet)
            if !ab.isEmpty || !abCommand.isEmpty {
                sides = try await measureNow()
            } else {
                guard let baseline, let candidate else { throw SelectorError(message: "--baseline and --candidate go together") }
                let store = try self.store.openForReading()
                sides = (try store.resolve(try RunSelector.parse(baseline)), try store.resolve(try RunSelector.parse(candidate)))
            }
            if abCommand.isEmpty {
                let known = sides.0.metricNames.union(sides.1.metricNames)
                for m in metrics { try MetricArgument.checkName(m.name, known: known, context: "--metric '\(m.name)'") }
            }
            let result = try RegressionGate.evaluate(baseline: sides.0, candidate: sides.1, options: options)
            print(result.markdown, terminator: "")
            code = result.exitCode
        }
        if code != 0 { throw ExitCode(code) }
    }

    /// Runs both sides now with the sweep runner (interleaved) and returns their run sets.
    private func measureNow() async throws -> (RunSet, RunSet) {
        let list = ab.isEmpty ? abCommand : ab
        guard list.count == 2 else {
            throw SelectorError(message: "\(ab.isEmpty ? "--ab-command" : "--ab") takes exactly two values, got \(list.count)")
        }
        var specs: [LoadedSpec] = []
        for (i, item) in list.enumerated() {
            let side = i == 0 ? "A" : "B"
            var loaded = ab.isEmpty ? try commandSpec(item, side: side, repeats: repeats ?? 5) : try LoadedSpec.load(path: item)
            // Both sides are separate experiments even for an A/A check of one spec.
            loaded.spec.name += "@check-\(side)"
            specs.append(loaded)
        }
        let store = try self.store.openForWriting()
        var options = SweepOptions(storePath: db)
        options.forceNew = true
        options.repeatsOverride = repeats
        options.progress = { line, final in if final || Terminal.isTTY { Terminal.status(line); if final { Terminal.endStatus() } } }
        let summaries = try await SweepRunner(store: store, options: options).runInterleaved(specs)
        if let failure = summaries.compactMap(\.storeFailure).first { throw StoreError.write(path: db, reason: failure) }
        if summaries.contains(where: \.interrupted) { throw SelectorError(message: "measurement interrupted") }
        let a = try store.resolve(.runs(summaries[0].runIDs)), b = try store.resolve(.runs(summaries[1].runIDs))
        return (relabel(a, "A: \(list[0])"), relabel(b, "B: \(list[1])"))
    }

    private func relabel(_ s: RunSet, _ label: String) -> RunSet {
        var s = s
        s.label = label
        return s
    }

    /// A spec running `command` through `/bin/sh -c` from a small script stored next to the result store
    /// (spec templates treat `{…}` as placeholders, so the command cannot go into the spec itself). The
    /// script prints a marker JSON line first so a command without JSON output still yields a valid
    /// result; a JSON object the command prints comes later and wins.
    func commandSpec(_ command: String, side: String, repeats: Int) throws -> LoadedSpec {
        var h: UInt64 = 0xcbf29ce484222325
        for b in command.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        let dir = URL(fileURLWithPath: db).deletingLastPathComponent().appendingPathComponent("check-commands")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let script = dir.appendingPathComponent("\(String(h, radix: 16)).sh")
        let body = """
        #!/bin/sh
        # rectune check --ab-command: \(command.replacingOccurrences(of: "\n", with: " "))
        printf '%s\\n' '{"check_command_ran": 1}'
        exec /bin/sh -c \(Self.shellQuote(command))

        """
        try body.write(to: script, atomically: true, encoding: .utf8)
        guard !script.path.contains("{"), !script.path.contains("}") else {
            throw SelectorError(message: "--ab-command: the store path \(db) must not contain braces")
        }
        let path = String(decoding: try JSONSerialization.data(withJSONObject: script.path, options: [.fragmentsAllowed, .withoutEscapingSlashes]),
                          as: UTF8.self)
        let text = """
        name: check-command-\(side.lowercased())
        command: [/bin/sh, \(path)]
        repeats: \(repeats)
        order: interleaved
        metrics: [wall_s, minor_faults_per_step, context_switches_per_step]

        """
        return try SpecParser.parse(text, path: "--ab-command \(side)")
    }

    static func shellQuote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}
