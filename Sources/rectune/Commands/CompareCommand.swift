import ArgumentParser

struct CompareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "compare", abstract: "Compare two experiments, configs or run sets.")

    func run() async throws {
        throw CleanExit.message("rectune compare: not built yet")
    }
}
