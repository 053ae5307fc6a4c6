import Foundation
import RecContract
import RecStats

/// The published figures of COMPETITION.md, evaluated on a contest board: a claim is tested by a
/// submission whose settings for the model differ from the baseline's in exactly the claim's knob
/// (anything else would confound it), comparing the two models' timed windows.
public enum ContestClaims {
    /// One published claim: on `model`, setting `knob` to `value` makes training `speedup`× faster.
    public struct Claim: Sendable {
        public var name: String
        public var model: String
        public var knob: String
        public var value: String
        public var speedup: Double
        public var source: String
        /// The counter that shows the mechanism (steady phase), if the engine counts one.
        public var counter: String?
    }

    /// How a claim fared.
    public struct Result: Sendable {
        public var claim: Claim
        /// reproduced / refuted / inconclusive.
        public var verdict: String
        /// Measured speedup (baseline seconds / candidate seconds, medians) and its 95% CI.
        public var speedup: Double?
        public var ci: ConfidenceInterval?
        /// The submission that isolates the knob, if any.
        public var submission: String?
        /// Why, in one line (with the counter's baseline → candidate values).
        public var explanation: String
    }

    /// COMPETITION.md's claims that map onto knobs of the engine.
    public static let all: [Claim] = [
        Claim(name: "BF16 WDL 1.43×", model: "wdl", knob: "bf16", value: "on", speedup: 1.43, source: "DeepRec BF16 doc", counter: nil),
        Claim(name: "BF16 DeepFM 1.12×", model: "deepfm", knob: "bf16", value: "on", speedup: 1.12, source: "DeepRec BF16 doc", counter: nil),
        Claim(name: "SmartStage DLRM 1.05×", model: "dlrm", knob: "stage", value: "on", speedup: 1.05, source: "DeepRec SmartStage (201 → 212 steps/s)",
              counter: Counter.stageConsumerWaits.name),
        Claim(name: "micro-batch 2 +30% (DLRM)", model: "dlrm", knob: "micro_batch", value: "2", speedup: 1.30, source: "DeepRec auto micro-batch",
              counter: Counter.executorTasks.name),
        Claim(name: "DeepFM indicator fix 500 → 75 ms/step", model: "deepfm", knob: "indicator", value: "scatter", speedup: 500.0 / 75,
              source: "contest champion's write-up", counter: Counter.indicatorBytesPerStep.name),
        Claim(name: "fused DIEN cells −68 s of ~300 s", model: "dien", knob: "rnn", value: "fused", speedup: 300.0 / 232,
              source: "contest champion's write-up", counter: Counter.graphNodes.name),
    ]

    /// The counters a contest outcome keeps for the explanations.
    public static let counterNames: Set<String> = Set(all.compactMap(\.counter))

    /// Evaluates every claim on `board` (its first submission is the baseline).
    ///
    /// With repeats on both sides the speedup has a bootstrap CI; a single run each gets a ±5%
    /// band (the run-to-run spread measured on this VM). Reproduced: the CI is above 1 and reaches
    /// the claimed speedup. Refuted: the CI is entirely below the claim (a smaller gain, none, or a
    /// loss). Inconclusive: the CI straddles 1 below the claim, or no submission isolates the knob.
    public static func evaluate(_ board: ContestBoard) -> [Result] {
        guard let base = board.submissions.first else { return [] }
        return all.map { claim in
            func inconclusive(_ why: String) -> Result {
                Result(claim: claim, verdict: "inconclusive", speedup: nil, ci: nil, submission: nil, explanation: why)
            }
            guard let bRow = base.rows.first(where: { $0.outcome.model == claim.model }) else {
                return inconclusive("\(claim.model) was not run")
            }
            let baseSettings = bRow.outcome.settings
            for s in board.submissions.dropFirst() {
                guard let m = s.repeats.first?.firstIndex(where: { $0.model == claim.model }) else { continue }
                let settings = s.repeats[0][m].settings
                let changed = Set(settings.keys).union(baseSettings.keys).filter { settings[$0] != baseSettings[$0] }
                guard changed == [claim.knob], settings[claim.knob] == claim.value else { continue }
                let b = base.repeats.compactMap { $0.first { $0.model == claim.model }?.seconds }
                let c = s.repeats.compactMap { $0[m].seconds }
                guard !b.isEmpty, !c.isEmpty else { return inconclusive("a run of the pair failed") }
                let speedup = Descriptive.median(b) / Descriptive.median(c)
                let ci = b.count > 1 && c.count > 1
                    ? Bootstrap.ratioCI(candidate: b, baseline: c)
                    : ConfidenceInterval(lower: speedup / 1.05, upper: speedup * 1.05, level: 0.95)
                let verdict = ci.lower > 1 && ci.upper >= claim.speedup ? "reproduced" : ci.upper < claim.speedup ? "refuted" : "inconclusive"
                var why = String(format: "%@ %@=%@: %.2f× (CI %.2f–%.2f%@) vs claimed %.2f×", claim.model, claim.knob, claim.value, speedup,
                                 ci.lower, ci.upper, b.count > 1 && c.count > 1 ? "" : ", single runs ±5%", claim.speedup)
                let perStepB = Descriptive.median(b) / Double(max(bRow.outcome.steps, 1)) * 1000
                let perStepC = Descriptive.median(c) / Double(max(s.repeats[0][m].steps, 1)) * 1000
                why += String(format: "; %.1f → %.1f ms/step (timed window / steps)", perStepB, perStepC)
                if let counter = claim.counter {
                    let cb = base.repeats.first?.first { $0.model == claim.model }?.counters[counter]
                    let cc = s.repeats.first?[m].counters[counter]
                    if let cb, let cc { why += String(format: "; %@ %.0f → %.0f", counter, cb, cc) }
                }
                if claim.knob == "bf16" { why += "; bf16 pays only with native bf16 GEMMs (AMX / avx512_bf16): see `rectune bench --dense`" }
                return Result(claim: claim, verdict: verdict, speedup: speedup, ci: ci, submission: s.name, explanation: why)
            }
            return inconclusive("no submission changes only \(claim.knob)=\(claim.value) on \(claim.model) from the baseline (write one to test it)")
        }
    }
}
