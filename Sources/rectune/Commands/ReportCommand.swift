import ArgumentParser

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "Report an experiment (text, md, csv, html, ipynb, json).")

    func run() async throws {
        throw CleanExit.message("rectune report: not built yet")
    }
}
