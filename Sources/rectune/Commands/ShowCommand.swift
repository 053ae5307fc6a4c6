import ArgumentParser

struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one stored run.")

    func run() async throws {
        throw CleanExit.message("rectune show: not built yet")
    }
}
