import RecContract
import Foundation
import RecEngine

/// The human-readable summary of a training result.
enum TrainSummary {
    static func render(_ r: TrainResult) -> String {
        let c = r.config
        func knob(_ k: Knob) -> String { c[k.name]?.description ?? "?" }
        var lines: [String] = []
        lines.append("\(r.model.uppercased())  batch \(r.batch)  \(r.warmupSteps) warm-up + \(r.steps) steps  " +
                     "executor \(knob(.executor)) allocator \(knob(.allocator)) stage \(knob(.stage)) " +
                     "micro_batch \(knob(.microBatch)) bf16 \(knob(.bf16))")
        lines.append(String(format: "  throughput  %.0f samples/s   step ms p50 %.2f  p90 %.2f  p99 %.2f  mean %.2f",
                            r.samplesPerSec, r.stepMs.p50, r.stepMs.p90, r.stepMs.p99, r.stepMs.mean))
        lines.append(String(format: "  eval        AUC %.4f  logloss %.4f on %d rows   train loss %.4f → %.4f   skipped rows %d",
                            r.auc, r.logloss, r.evalRows, r.trainLossFirst, r.trainLossLast, r.skippedRows))
        let perStep: [Counter] = [.minorFaults, .contextSwitches, .executorSteals, .executorTasks, .allocatorMisses]
        let cells = perStep.map { counter -> String in
            let label = MetricCatalog.perStepMetric(for: counter)?.label ?? counter.name
            if let v = r.counters[counter.name] { return String(format: "%@ %.1f", label, v / Double(max(r.steps, 1))) }
            return "\(label) n/a (\(r.counterInfo[counter.name]?.unavailable ?? "not measured"))"
        }
        lines.append("  per step    " + cells.joined(separator: "  "))
        let unavailable = r.counterInfo.filter { $0.value.unavailable != nil }.map(\.key).sorted()
        if !unavailable.isEmpty {
            lines.append("  unavailable \(unavailable.joined(separator: ", ")) (\(r.counterInfo[unavailable[0]]!.unavailable!))")
        }
        lines.append(String(format: "  wall        %.1f s   oneDNN %@ (%@)", r.wallS, r.engine.onednnVersion, r.engine.onednnISA))
        return lines.joined(separator: "\n")
    }
}
