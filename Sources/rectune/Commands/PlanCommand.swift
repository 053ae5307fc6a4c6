import ArgumentParser

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plan", abstract: "Print the runs an experiment spec expands to.")

    func run() async throws {
        throw CleanExit.message("rectune plan: not built yet")
    }
}
