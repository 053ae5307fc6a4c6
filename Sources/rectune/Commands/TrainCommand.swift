import ArgumentParser

struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train", abstract: "Train a model and write the result contract.")

    func run() async throws {
        throw CleanExit.message("rectune train: not built yet")
    }
}
