import ArgumentParser
import Foundation
import RecHarness

/// `rectune plan SPEC`: prints the numbered runs a spec expands to, without running anything.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plan", abstract: "Print the runs an experiment spec expands to.")

    @Argument(help: "The experiment spec (YAML).")
    var spec: String

    @Option(help: "Override the spec's repeats.")
    var repeats: Int?

    func validate() throws {
        if let repeats, repeats < 1 { throw ValidationError("--repeats must be at least 1") }
    }

    func run() async throws {
        var loaded = try loadSpecOrExit(spec)
        if let repeats { loaded.spec.repeats = repeats }
        let plan: RunPlan
        let notRunHere: [String]
        do {
            (plan, notRunHere) = try RunPlan(spec: loaded.spec).runnableHere(spec: loaded.spec)
        } catch {
            Terminal.err("\(loaded.path): error: \(error)")
            throw ExitCode(2)
        }
        print("\(loaded.spec.name): \(engineText(loaded.spec)), model \(loaded.spec.model), batch \(loaded.spec.batch), "
              + "steps \(loaded.spec.steps) (+\(loaded.spec.warmupSteps) warm-up), timeout \(Int(loaded.spec.timeoutSeconds))s")
        print("baseline: \(plan.baseline)")
        print(plan.render(spec: loaded.spec))
        for line in notRunHere { print("not run on this host: " + line) }
        print("spec hash \(loaded.hash.prefix(16))")
    }

    private func engineText(_ spec: ExperimentSpec) -> String {
        switch spec.engine {
        case .rectune: "engine rectune"
        case .command(let c): "command \(c.argv.joined(separator: " "))"
        }
    }
}

/// Loads a spec, printing a `SpecError` (file:line:column …) and exiting 2 when it is bad.
func loadSpecOrExit(_ path: String) throws -> LoadedSpec {
    do {
        return try LoadedSpec.load(path: path)
    } catch let error as SpecError {
        Terminal.err(error.description)
        throw ExitCode(2)
    }
}
