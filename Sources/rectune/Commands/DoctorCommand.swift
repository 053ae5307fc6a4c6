import ArgumentParser
import Foundation
import RecEngine
import RecSystem

/// `rectune doctor [--json]`: CPU, ISA, cores, NUMA, memory, kernel, perf_event_paranoid, oneDNN,
/// and which counter events this machine can count (or why not).
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Show which counters, ISA and NUMA nodes this machine offers.")

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Option(help: "Comma-separated events to probe instead of the defaults.")
    var events: String?

    func run() async throws {
        let probe = events.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        let report = probe.map { DoctorReport.collect(onednnVersion: OneDNNInfo.version, onednnISA: OneDNNInfo.isa, events: $0) }
            ?? DoctorReport.collect(onednnVersion: OneDNNInfo.version, onednnISA: OneDNNInfo.isa)
        if json {
            FileHandle.standardOutput.write(try report.jsonData())
        } else {
            print(report.text(), terminator: "")
        }
    }
}
