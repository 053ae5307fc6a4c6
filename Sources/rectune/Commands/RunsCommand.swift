import ArgumentParser

struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List stored runs.")

    func run() async throws {
        throw CleanExit.message("rectune runs: not built yet")
    }
}
