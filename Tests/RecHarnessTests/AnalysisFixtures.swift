import Foundation
@testable import RecHarness
import RecStats

/// Builders for ExperimentData values with realistic noise, shared by the analysis, report and check tests.
enum AnalysisFixtures {
    static func host(cpu: String = "Intel Xeon Test CPU @ 2.5GHz", cores: Int = 2) -> HostFingerprint {
        HostFingerprint(hostname: "test-host", cpuModel: cpu, cpuFlags: "avx2 avx512f fma", logicalCores: cores, numaNodes: 1,
                        memoryBytes: 8 << 30, kernel: "Linux 6.1", perfEventParanoid: 2, onednnVersion: "2.7.3",
                        onednnISA: "avx512_core", toolchain: "swift 6.3", rectuneVersion: "0.1.0", gitCommit: "abcdef1234567")
    }

    static func spec(name: String = "fixture", factors: [Factor], baseline: [String: String], design: DesignKind = .ablation,
                     metrics: [String] = ExperimentSpec.defaultMetrics, claims: [Claim] = [], repeats: Int = 5) -> ExperimentSpec {
        ExperimentSpec(name: name, steps: 120, warmupSteps: 20, repeats: repeats, baseline: baseline, factors: factors,
                       design: design, metrics: metrics, claims: claims)
    }

    /// A config's expected metric values (medians) and relative noise.
    struct ConfigPlan {
        var knobs: [String: String]
        var values: [String: Double]
        var noise: Double = 0.01
        /// Counter name → reason: recorded as unavailable on every run (and its per-step metric left out).
        var unavailable: [String: String] = [:]
        /// Repeat indices stored as failed runs.
        var failedRepeats: Set<Int> = []
    }

    /// Runs for every plan × repeat (interleaved, ids from 1), metrics with multiplicative Gaussian noise.
    static func data(spec: ExperimentSpec, plans: [ConfigPlan], repeats: Int = 5, seed: UInt64 = 7, specText: String? = nil,
                     host: HostFingerprint = host()) -> ExperimentData {
        var rng = Xoshiro256(seed: seed)
        var runs: [RunRecord] = []
        var id: Int64 = 1
        for r in 0..<repeats {
            for plan in plans {
                let hash = configHash(plan.knobs)
                if plan.failedRepeats.contains(r) {
                    runs.append(RunRecord(id: id, experimentID: 1, config: plan.knobs, configHash: hash, repeatIndex: r, status: .failed,
                                          exitCode: 134, stderrTail: "training...\nfatal: out of memory in step 17", started: Date(),
                                          durationSeconds: 1))
                } else {
                    var metrics: [MetricValue] = []
                    for (name, v) in plan.values.sorted(by: { $0.key < $1.key }) {
                        let noisy = v * (1 + plan.noise * rng.nextNormal())
                        metrics.append(MetricValue(name: name, value: noisy, unit: name == "samples_per_sec" ? "samples/s" : ""))
                    }
                    runs.append(RunRecord(id: id, experimentID: 1, config: plan.knobs, configHash: hash, repeatIndex: r, status: .ok,
                                          started: Date(), durationSeconds: 2, metrics: metrics, unavailable: plan.unavailable))
                }
                id += 1
            }
        }
        let record = ExperimentRecord(id: 1, name: spec.name, specText: specText ?? "name: \(spec.name)\n", specHash: "hash",
                                      hostID: 1, created: Date(timeIntervalSince1970: 1_700_000_000))
        return ExperimentData(experiment: record, spec: spec, host: host, runs: runs)
    }

    static func configHash(_ knobs: [String: String]) -> String {
        let text = knobs.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        var h: UInt64 = 0xcbf29ce484222325
        for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return String(h, radix: 16)
    }

    static let baseValues: [String: Double] = [
        "samples_per_sec": 10_000, "step_ms.p99": 60, "auc": 0.75, "minor_faults_per_step": 1200, "steals_per_step": 40,
    ]

    /// A two-factor ablation: baseline, stage=on (2x faster), allocator=adaptive (faults collapse, same speed).
    static func ablation(claims: [Claim] = [], unavailableFaults: Bool = false, failed: Bool = false) -> ExperimentData {
        let spec = spec(factors: [Factor(name: "stage", levels: ["off", "on"]), Factor(name: "allocator", levels: ["system", "adaptive"])],
                        baseline: ["stage": "off", "allocator": "system"], claims: claims)
        var base = ConfigPlan(knobs: ["stage": "off", "allocator": "system", "executor": "pool"], values: baseValues)
        var stage = base
        stage.knobs["stage"] = "on"
        stage.values["samples_per_sec"] = 20_000
        stage.values["step_ms.p99"] = 30
        var alloc = base
        alloc.knobs["allocator"] = "adaptive"
        alloc.values["minor_faults_per_step"] = 3
        if failed { alloc.failedRepeats = [1] }
        if unavailableFaults {
            for i in [0, 1, 2] {
                var p = [base, stage, alloc][i]
                p.values["minor_faults_per_step"] = nil
                p.unavailable = ["minor-faults": "perf_event_open: EACCES (perf_event_paranoid=3)"]
                if i == 0 { base = p } else if i == 1 { stage = p } else { alloc = p }
            }
        }
        return data(spec: spec, plans: [base, stage, alloc])
    }
}
