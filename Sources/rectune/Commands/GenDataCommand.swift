import ArgumentParser

struct GenDataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gen-data", abstract: "Write synthetic Criteo-format data with a learnable signal.")

    func run() async throws {
        throw CleanExit.message("rectune gen-data: not built yet")
    }
}
