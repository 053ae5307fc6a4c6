import Foundation
import RecEngine

/// How `SweepRunner` runs a spec.
public struct SweepOptions: Sendable {
    /// The `rectune` executable that runs `train` and `measure` (default: this process's own
    /// executable, from /proc/self/exe). Tests point it at a fake engine.
    public var executablePath: String
    /// Require an existing experiment with the same spec to continue (error when there is none).
    /// Without it, re-running the same spec also skips runs already ok.
    public var resume: Bool = false
    /// Start a new experiment row even when one with the same spec exists (re-measure everything).
    public var forceNew: Bool = false
    /// Print the plan and what would be skipped; run and store nothing.
    public var dryRun: Bool = false
    /// Override the spec's repeats (part of the spec hash: a different count is a different experiment).
    public var repeatsOverride: Int? = nil
    /// Override the spec's per-run timeout in seconds (not part of the spec hash).
    public var timeoutOverride: Double? = nil
    /// Where synthetic data files are cached.
    public var dataDirectory: String
    /// Where per-run files go (`<runDirectory>/<run id>/stdout.txt, stderr.txt, result.json`).
    public var runDirectory: String
    /// Wrap external commands in `<executable> measure --json … --` to attach perf counters.
    public var measureExternalCommands: Bool = true
    /// Seconds between SIGTERM and SIGKILL when a run is stopped.
    public var killGraceSeconds: Double = 2
    /// Lines of stderr kept with a failed run.
    public var stderrTailLines: Int = 40
    /// A run's stdout.txt and stderr.txt are capped at this many bytes after it ends (head and tail kept).
    public var logLimitBytes: Int = 8 << 20
    /// The host to record (default: `HostFingerprintCollector.current()`).
    public var host: HostFingerprint? = nil
    /// Why the engine cannot run bf16 on this host (configurations with `bf16: on` are left out of
    /// the plan), nil when it can. Default: oneDNN's answer here (`OneDNNInfo.bf16Unsupported`);
    /// tests with a fake engine set nil.
    public var bf16Unsupported: String? = OneDNNInfo.bf16Unsupported
    /// Receives progress lines; `final` is false for in-place updates. nil: silent.
    public var progress: (@Sendable (_ line: String, _ final: Bool) -> Void)? = nil

    /// Options for a store at `storePath`: data cached in `<store dir>/data`, run files in `<store dir>/runs`.
    public init(storePath: String, executablePath: String? = nil) {
        let dir = URL(fileURLWithPath: storePath).deletingLastPathComponent().path
        self.executablePath = executablePath ?? SweepOptions.currentExecutable()
        self.dataDirectory = (dir as NSString).appendingPathComponent("data")
        self.runDirectory = (dir as NSString).appendingPathComponent("runs")
    }

    /// The running executable's path (/proc/self/exe), or argv[0] when that cannot be read.
    public static func currentExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}

/// What a sweep did.
public struct SweepSummary: Sendable, Equatable {
    public var experimentID: Int64
    public var experimentName: String
    /// True when this sweep created the experiment row (false: continued an existing one).
    public var createdExperiment: Bool
    /// Runs in the plan.
    public var planned: Int
    /// Runs skipped because they were already stored as ok.
    public var skipped: Int
    /// Runs executed by this sweep, by final status.
    public var executed: [RunStatus: Int]
    /// Ids of the runs executed by this sweep, in order.
    public var runIDs: [Int64]
    /// True when the sweep stopped early on SIGINT/SIGTERM or a stop request.
    public var interrupted: Bool
    /// Wall time of the sweep in seconds.
    public var elapsedSeconds: Double
    /// Per executed run: seconds from the previous run's process end to this run's process start
    /// (the harness overhead between runs: storing, planning, spawning).
    public var gapsSeconds: [Double]
    /// The store file.
    public var storePath: String
    /// Planned runs skipped because another sweep had claimed (or just ran) them.
    public var claimedElsewhere: Int = 0
    /// Run outcomes ingested from run folders (`outcome.json`) at the start.
    public var ingested: Int = 0
    /// Set when a store write failed (deleted, replaced, full or corrupt store): the sweep stopped,
    /// and the last run's outcome is kept in its run folder for `--resume`.
    public var storeFailure: String? = nil
    /// Runs left with Slurm by a `detach`ed sweep (a later `--resume` ingests them).
    public var submitted: Int = 0
    /// Configurations of the spec this host cannot run, left out of the plan (not counted in
    /// `planned`): `[label] (n runs): reason` each.
    public var notRunHere: [String] = []
    /// The status of the run stored last (progress lines).
    public var lastStatus: RunStatus? = nil

    /// Executed runs that ended ok.
    public var ok: Int { executed[.ok, default: 0] }
    /// Executed runs that did not end ok (interrupted excluded).
    public var failed: Int { executed.filter { $0.key != .ok && $0.key != .interrupted }.values.reduce(0, +) }

    /// The sweep's exit status (README, "Exit codes"): 5 when the store failed, 130 when
    /// interrupted, 4 when a run failed (failed, crashed, timeout, invalid), else 0.
    public var exitStatus: Int32 {
        if storeFailure != nil { return 5 }
        if interrupted { return 130 }
        if failed > 0 { return 4 }
        return 0
    }

    /// A short human summary with the suggested next command.
    public func render() -> String {
        var text = "\(experimentName) (experiment \(experimentID)): \(ok) ok, \(failed) failed"
        if skipped > 0 { text += ", \(skipped) already done" }
        if claimedElsewhere > 0 { text += ", \(claimedElsewhere) claimed by another sweep" }
        if ingested > 0 { text += ", \(ingested) ingested from run folders" }
        let bad = executed.filter { $0.key != .ok && $0.value > 0 }.sorted { $0.key.rawValue < $1.key.rawValue }
        if !bad.isEmpty { text += " (" + bad.map { "\($0.value) \($0.key.rawValue)" }.joined(separator: ", ") + ")" }
        text += " of \(planned) planned, in \(Self.clock(elapsedSeconds))\nstore: \(storePath)"
        for line in notRunHere { text += "\nnot run on this host: " + line }
        if let storeFailure {
            text += "\nSTORE FAILURE: \(storeFailure)\nthe sweep stopped; the last run's outcome is kept in its run folder (outcome.json):"
                + " fix the store, then re-run with --resume to ingest it"
        } else if interrupted {
            text += "\ninterrupted: re-run the same command (or add --resume) to continue; finished runs are kept"
        } else {
            text += "\nreport: rectune report \(experimentID) --db \(storePath)"
        }
        if failed > 0 { text += "\nfailed runs: rectune runs \(experimentName) --db \(storePath) --status failed" }
        return text
    }

    /// `m:ss` or `h:mm:ss`.
    public static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
