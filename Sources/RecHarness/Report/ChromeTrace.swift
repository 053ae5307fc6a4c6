import Foundation
import RecEngine

/// A recorded step timeline in the Trace Event Format (its JSON-object form), which
/// chrome://tracing, Perfetto (ui.perfetto.dev) and speedscope open: one row per inter-op
/// worker with a complete event (`"ph": "X"`) per node, and a "steps" row with one event per
/// step. Times are µs from the first recorded step's start; each node event carries its step.
public enum ChromeTrace {
    struct Event: Encodable {
        let name: String
        let cat: String
        let ph: String
        let ts: Double
        let dur: Double?
        let pid: Int
        let tid: Int
        let args: Args?
    }

    struct Args: Encodable {
        var name: String?
        var step: Int?
        var flops: Double?
    }

    struct File: Encodable {
        let traceEvents: [Event]
        let displayTimeUnit = "ms"
        let otherData: [String: String]
    }

    /// The trace of `timeline`; `process` names the trace's one process (e.g. "dlrm pool bf16").
    public static func json(_ timeline: StepAnalysis.Timeline, process: String) throws -> Data {
        let origin = timeline.steps.first?.start ?? 0
        let stepsRow = timeline.workerCount
        var events: [Event] = [
            Event(name: "process_name", cat: "", ph: "M", ts: 0, dur: nil, pid: 0, tid: 0, args: Args(name: process)),
            Event(name: "thread_name", cat: "", ph: "M", ts: 0, dur: nil, pid: 0, tid: stepsRow, args: Args(name: "steps")),
        ]
        for w in 0..<timeline.workerCount {
            events.append(Event(name: "thread_name", cat: "", ph: "M", ts: 0, dur: nil, pid: 0, tid: w,
                                args: Args(name: "worker \(w)")))
        }
        let nodes = timeline.graph.nodes
        for step in timeline.steps {
            events.append(Event(name: "step \(step.index)", cat: "step", ph: "X", ts: step.start - origin,
                                dur: step.end - step.start, pid: 0, tid: stepsRow, args: Args(step: step.index)))
            for span in step.spans {
                let node = nodes[span.node]
                events.append(Event(name: node.name, cat: node.kind.rawValue, ph: "X", ts: span.start - origin,
                                    dur: span.end - span.start, pid: 0, tid: span.worker,
                                    args: Args(step: step.index, flops: node.flops > 0 ? node.flops : nil)))
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(File(traceEvents: events, otherData: ["process": process, "generator": "rectune bench --trace"]))
    }
}
