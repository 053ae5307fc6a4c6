import ArgumentParser
import RecEngine

/// `rectune`: a CTR-model training engine with DeepRec's runtime knobs, and a harness that
/// sweeps, measures, stores and compares them.
@main
struct Rectune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rectune",
        abstract: "Train CTR models under DeepRec-style runtime knobs and measure what each knob does.",
        discussion: """
        Engine:   train, bench, gen-data, knobs, metrics
        Counters: measure, doctor
        Harness:  plan, sweep, runs, show
        Analysis: report, compare, check
        """,
        version: RectuneVersion.string,
        subcommands: [
            TrainCommand.self, BenchCommand.self, GenDataCommand.self, KnobsCommand.self, MetricsCommand.self,
            MeasureCommand.self, DoctorCommand.self,
            PlanCommand.self, SweepCommand.self, RunsCommand.self, ShowCommand.self,
            ReportCommand.self, CompareCommand.self, CheckCommand.self,
        ]
    )
}
