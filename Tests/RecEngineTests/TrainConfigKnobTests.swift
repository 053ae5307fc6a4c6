import RecContract
@testable import RecEngine
import XCTest

/// The engine's binding of the knob registry: defaults agree, every knob round-trips, the echo has every knob.
final class TrainConfigKnobTests: XCTestCase {
    func testDefaultsAreTheRegistryDefaults() {
        let config = TrainConfig()
        for knob in Knob.allCases {
            XCTAssertEqual(config.value(of: knob), knob.spec.defaultValue, "TrainConfig's default of \(knob.name)")
        }
    }

    func testEveryKnobRoundTripsAndIsEchoed() throws {
        var config = TrainConfig()
        for knob in Knob.allCases {
            let value: String
            switch knob.spec.domain {
            case .choice(let words): value = words.last!
            case .onOff: value = knob.spec.defaultValue == "on" ? "off" : "on"
            case .integer(let lo, _): value = String(lo + 3)
            }
            try config.set(knob, value)
            if knob == .interThreads { continue }  // echoed as 1 under inline, set below
            XCTAssertEqual(config.value(of: knob), value, knob.name)
        }
        XCTAssertEqual(config.value(of: .interThreads), "4")
        try config.set(.executor, "inline")
        XCTAssertEqual(config.value(of: .interThreads), "1", "inline runs the step on one thread: that is what is echoed")
        let echo = config.echo
        for knob in Knob.allCases { XCTAssertEqual(echo[knob.name]?.description, config.value(of: knob), knob.name) }
        XCTAssertThrowsError(try config.set(.stageCapacity, "0"))
    }
}
