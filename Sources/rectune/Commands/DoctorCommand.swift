import ArgumentParser

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "doctor", abstract: "Show which counters, ISA and NUMA nodes this machine offers.")

    func run() async throws {
        throw CleanExit.message("rectune doctor: not built yet")
    }
}
