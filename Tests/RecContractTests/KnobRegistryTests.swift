import RecContract
import XCTest

final class KnobRegistryTests: XCTestCase {
    func testEveryKnobHasOneEntryWithItsOwnNameAndADefaultInItsDomain() throws {
        XCTAssertEqual(KnobSpec.all.map(\.knob), Knob.allCases)
        for spec in KnobSpec.all {
            XCTAssertEqual(spec.name, spec.knob.rawValue)
            XCTAssertEqual(spec.flag, "--" + spec.name.replacingOccurrences(of: "_", with: "-"))
            XCTAssertEqual(try spec.canonical(spec.defaultValue), spec.defaultValue, "\(spec.name)'s default is not canonical")
            XCTAssertFalse(spec.help.isEmpty, spec.name)
            if let c = spec.appliesWhen, case .when(let other, let values) = c {
                XCTAssertNotEqual(other, spec.knob)
                for v in values { XCTAssertNoThrow(try other.spec.canonical(v), "\(spec.name) depends on \(other.name)=\(v)") }
            }
        }
    }

    func testDomainsAcceptTheirValuesAndRefuseOthersNamingWhatIsAllowed() throws {
        XCTAssertEqual(try Knob.mallocMmapThreshold.spec.canonical("0"), "0")  // the documented default (issue 8 item 3)
        XCTAssertEqual(try Knob.costmodelStart.spec.canonical("0"), "0")
        XCTAssertEqual(try Knob.stage.spec.canonical("true"), "on")
        XCTAssertEqual(try Knob.bf16.spec.canonical("OFF"), "off")
        XCTAssertEqual(try Knob.microBatch.spec.canonical("04"), "4")
        XCTAssertThrowsError(try Knob.microBatch.spec.canonical("0")) { error in
            XCTAssertEqual((error as? KnobError)?.description, "micro_batch: '0' is not allowed (allowed: integer 1…1024)")
        }
        XCTAssertThrowsError(try Knob.executor.spec.canonical("fast")) { error in
            XCTAssertEqual((error as? KnobError)?.allowed, "pool, inline, costmodel")
        }
        XCTAssertThrowsError(try Knob.mallocMmapThreshold.spec.canonical(String(64 << 20)))
        XCTAssertThrowsError(try Knob.hashBuckets.spec.canonical("1"))
    }

    func testApplicabilityFollowsThePrerequisiteKnob() {
        func applies(_ k: Knob, _ values: [Knob: String], model: String = "wdl") -> Bool {
            k.spec.applies(model: model) { values[$0] ?? $0.spec.defaultValue }
        }
        XCTAssertFalse(applies(.allocWarmupSteps, [.allocator: "system"]))
        XCTAssertTrue(applies(.allocWarmupSteps, [.allocator: "adaptive"]))
        XCTAssertFalse(applies(.costmodelStart, [:]))
        XCTAssertTrue(applies(.costmodelStop, [.executor: "costmodel"]))
        XCTAssertFalse(applies(.stageThreads, [.stage: "off"]))
        XCTAssertTrue(applies(.stageCapacity, [.stage: "on"]))
        XCTAssertFalse(applies(.interThreads, [.executor: "inline"]))
        XCTAssertTrue(applies(.interThreads, [.executor: "pool"]))
        XCTAssertTrue(applies(.bf16, [:]))
        XCTAssertEqual(Knob.allocWarmupSteps.spec.appliesWhen?.prerequisite?.0, .allocator)
        XCTAssertEqual(Knob.allocWarmupSteps.spec.appliesWhen?.prerequisite?.1, "adaptive")
    }

    func testMarkdownTableHasARowPerKnob() {
        let table = KnobSpec.markdownTable().split(separator: "\n")
        XCTAssertEqual(table.count, Knob.allCases.count + 2)
        XCTAssertTrue(table.contains { $0.hasPrefix("| alloc_warmup_steps | `--alloc-warmup-steps` |") && $0.contains("allocator is adaptive") })
    }
}

final class MetricCatalogTests: XCTestCase {
    func testNamesAreUniqueAndPerStepMetricsNameTheirCounter() {
        let names = MetricCatalog.all.map(\.name)
        XCTAssertEqual(Set(names).count, names.count, "duplicate metric names")
        for m in MetricCatalog.perStepMetrics {
            XCTAssertNotNil(m.perStepCounter, m.name)
            XCTAssertTrue(m.name.hasSuffix("_per_step"), m.name)
            XCTAssertFalse(m.perStepCounter!.isLevel, "\(m.name) divides a level counter")
        }
        // issue 8 item 1: stage waits come from the counter the engine emits
        XCTAssertEqual(MetricCatalog.spec("stage_waits_per_step")?.perStepCounter, .stageConsumerWaits)
        XCTAssertEqual(Counter.stageConsumerWaits.name, "stage.consumer_waits")
    }

    func testPolarities() {
        XCTAssertEqual(MetricCatalog.spec("samples_per_sec")?.polarity, .higherIsBetter)
        XCTAssertEqual(MetricCatalog.spec("auc")?.polarity, .higherIsBetter)
        XCTAssertEqual(MetricCatalog.spec("step_ms.p99")?.polarity, .lowerIsBetter)
        XCTAssertEqual(MetricCatalog.spec("minor_faults_per_step")?.polarity, .lowerIsBetter)
        // issue 8 item 2: diagnostics get no verdict; allocator hits are not "lower is better"
        for name in ["alloc_hits_per_step", "steals_per_step", "tasks_per_step", "context_switches_per_step", "executor.steals"] {
            XCTAssertEqual(MetricCatalog.spec(name)?.polarity, .neutral, name)
        }
        XCTAssertEqual(MetricCatalog.spec("auc")?.threshold, .absolute(0.001))
        XCTAssertEqual(MetricCatalog.spec("samples_per_sec")?.threshold, .relative(0.02))
        XCTAssertTrue(MetricCatalog.spec("auc")!.seedDeterministic)
        XCTAssertFalse(MetricCatalog.spec("samples_per_sec")!.seedDeterministic)
    }

    func testGuessesForExternalMetricNames() {
        XCTAssertEqual(Polarity.guess(forName: "examples_per_sec"), .higherIsBetter)
        XCTAssertEqual(Polarity.guess(forName: "eval.auc"), .higherIsBetter)
        XCTAssertEqual(Polarity.guess(forName: "minor_faults_per_sec"), .lowerIsBetter)
        XCTAssertEqual(Polarity.guess(forName: "epoch_s"), .lowerIsBetter)
        XCTAssertEqual(Polarity.guess(forName: "queue_depth"), .neutral)
    }

    func testSuggestionsAndThresholdParsing() {
        XCTAssertEqual(MetricCatalog.suggestions(for: "samples_per_second").first, "samples_per_sec")
        XCTAssertEqual(MetricCatalog.suggestions(for: "stage_wait_per_step").first, "stage_waits_per_step")
        XCTAssertEqual(ChangeThreshold(parsing: "2%"), .relative(0.02))
        XCTAssertEqual(ChangeThreshold(parsing: "0.05"), .relative(0.05))
        XCTAssertEqual(ChangeThreshold(parsing: "abs:0.001"), .absolute(0.001))
        XCTAssertNil(ChangeThreshold(parsing: "-1%"))
        XCTAssertNil(ChangeThreshold(parsing: "fast"))
    }

    func testResultContractKeys() {
        XCTAssertEqual(TrainResult.keys.count, Set(TrainResult.keys).count)
        for key in ["model", "config", "samples_per_sec", "step_ms", "auc", "logloss", "wall_s", "counters",
                    "counters_warmup", "counter_info", "engine"] {
            XCTAssertTrue(TrainResult.keys.contains(key), key)
        }
        XCTAssertEqual(TrainResult.optionalKeys, ["profile", "auc_by_task", "contest_seconds", "checkpoint_seconds"])
    }
}
