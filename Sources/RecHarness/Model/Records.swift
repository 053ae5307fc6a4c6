import Foundation

/// The stored fingerprint of the machine a run was measured on. Runs from different
/// fingerprints are not compared unless forced.
public struct HostFingerprint: Sendable, Equatable, Codable, Hashable {
    public var hostname: String
    public var cpuModel: String
    public var cpuFlags: String          // the ISA-relevant subset, space-separated
    public var logicalCores: Int
    public var numaNodes: Int
    public var memoryBytes: Int64
    public var kernel: String
    public var perfEventParanoid: Int
    public var onednnVersion: String
    public var onednnISA: String
    public var toolchain: String
    public var rectuneVersion: String
    public var gitCommit: String

    public init(hostname: String, cpuModel: String, cpuFlags: String, logicalCores: Int, numaNodes: Int,
                memoryBytes: Int64, kernel: String, perfEventParanoid: Int, onednnVersion: String,
                onednnISA: String, toolchain: String, rectuneVersion: String, gitCommit: String) {
        self.hostname = hostname; self.cpuModel = cpuModel; self.cpuFlags = cpuFlags
        self.logicalCores = logicalCores; self.numaNodes = numaNodes; self.memoryBytes = memoryBytes
        self.kernel = kernel; self.perfEventParanoid = perfEventParanoid; self.onednnVersion = onednnVersion
        self.onednnISA = onednnISA; self.toolchain = toolchain; self.rectuneVersion = rectuneVersion
        self.gitCommit = gitCommit
    }

    /// The fields that make two measurements comparable (hostname, versions and commit excluded).
    public var comparabilityKey: String {
        "\(cpuModel)|\(cpuFlags)|\(logicalCores)|\(numaNodes)|\(memoryBytes / (1 << 30))GiB|\(onednnISA)"
    }
}

/// An experiment as stored.
public struct ExperimentRecord: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var specText: String
    public var specHash: String
    public var hostID: Int64
    public var created: Date
    public init(id: Int64, name: String, specText: String, specHash: String, hostID: Int64, created: Date) {
        self.id = id; self.name = name; self.specText = specText; self.specHash = specHash
        self.hostID = hostID; self.created = created
    }
}

/// How a run ended.
public enum RunStatus: String, Sendable, Codable, CaseIterable {
    case ok, failed, timeout, crashed, invalid, interrupted, running
}

/// One measured value of a run.
public struct MetricValue: Sendable, Equatable, Codable {
    /// e.g. `samples_per_sec`, `step_ms.p99`, `auc`, `minor-faults`, `minor_faults_per_step`, `pool.steals`.
    public var name: String
    /// `steady`, `warmup` or `total`.
    public var phase: String
    public var value: Double
    public var unit: String
    /// `engine`, `perf_event`, `rusage`, `result`, `derived`.
    public var source: String
    /// True when a multiplexed counter was scaled.
    public var scaled: Bool
    public init(name: String, phase: String = "steady", value: Double, unit: String = "", source: String = "result", scaled: Bool = false) {
        self.name = name; self.phase = phase; self.value = value; self.unit = unit; self.source = source; self.scaled = scaled
    }
}

/// A run as stored: its configuration, outcome and metrics.
public struct RunRecord: Sendable, Equatable {
    public var id: Int64
    public var experimentID: Int64
    /// Effective knob values (knob → value as text).
    public var config: [String: String]
    public var configHash: String
    public var repeatIndex: Int
    public var status: RunStatus
    public var exitCode: Int32?
    public var signal: Int32?
    public var stderrTail: String
    public var started: Date
    public var durationSeconds: Double
    public var metrics: [MetricValue]
    /// Metrics the run could not measure, with the reason (e.g. hardware events on a VM).
    public var unavailable: [String: String]
    /// The engine's echo of every knob's effective value (nil for external commands and unfinished runs).
    public var effectiveConfig: [String: String]? = nil
    /// The run's folder (stdout, stderr, result files, outcome.json); '' for runs stored before v3.
    public var runDirectory: String = ""

    public init(id: Int64, experimentID: Int64, config: [String: String], configHash: String, repeatIndex: Int,
                status: RunStatus, exitCode: Int32? = nil, signal: Int32? = nil, stderrTail: String = "",
                started: Date, durationSeconds: Double, metrics: [MetricValue] = [], unavailable: [String: String] = [:]) {
        self.id = id; self.experimentID = experimentID; self.config = config; self.configHash = configHash
        self.repeatIndex = repeatIndex; self.status = status; self.exitCode = exitCode; self.signal = signal
        self.stderrTail = stderrTail; self.started = started; self.durationSeconds = durationSeconds
        self.metrics = metrics; self.unavailable = unavailable
    }

    /// The steady-state value of a metric, if measured.
    public func metric(_ name: String, phase: String = "steady") -> Double? {
        metrics.first { $0.name == name && $0.phase == phase }?.value
    }
}

/// Everything a report needs about one experiment: spec, host and runs.
public struct ExperimentData: Sendable {
    public var experiment: ExperimentRecord
    public var spec: ExperimentSpec
    public var host: HostFingerprint
    public var runs: [RunRecord]
    public init(experiment: ExperimentRecord, spec: ExperimentSpec, host: HostFingerprint, runs: [RunRecord]) {
        self.experiment = experiment; self.spec = spec; self.host = host; self.runs = runs
    }
}

extension ExperimentData {
    /// Every metric name stored in the runs (measured or recorded unavailable), plus the metrics an
    /// external command's regex result rule declares: what `--metric` may name besides the catalog.
    public var metricNames: Set<String> {
        var names = Set<String>()
        for r in runs {
            for m in r.metrics { names.insert(m.name) }
            for k in r.unavailable.keys { names.insert(k) }
        }
        if case .command(let c) = spec.engine, case .regex(let p) = c.result { names.formUnion(p.keys) }
        return names
    }
}
