import ArgumentParser

struct MeasureCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "measure", abstract: "Count perf events of an external command, like perf stat.")

    func run() async throws {
        throw CleanExit.message("rectune measure: not built yet")
    }
}
