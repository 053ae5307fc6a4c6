import ArgumentParser

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Benchmark each model's training speed.")

    func run() async throws {
        throw CleanExit.message("rectune bench: not built yet")
    }
}
