import ArgumentParser

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Regression gate for CI.")

    func run() async throws {
        throw CleanExit.message("rectune check: not built yet")
    }
}
