import ArgumentParser

struct SweepCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sweep", abstract: "Run an experiment spec and store every run.")

    func run() async throws {
        throw CleanExit.message("rectune sweep: not built yet")
    }
}
