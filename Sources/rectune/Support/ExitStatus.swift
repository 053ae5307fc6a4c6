import ArgumentParser
import Foundation
import RecEngine
import RecHarness
import RecSystem

/// The exit statuses of every `rectune` subcommand (README, "Exit codes"), and the one mapping from
/// an error to its status. A test runs every subcommand against it.
enum ExitStatus {
    /// Success (sweep: every executed run ok; check: no regression).
    static let ok: Int32 = 0
    /// `check`: regression (or inconclusive with --inconclusive-fails); `train`/`bench`/`gen-data`:
    /// the run failed while running (e.g. no usable training rows, a malformed row with --bad-rows fail).
    static let failure: Int32 = 1
    /// Usage or input error: a bad option or argument, a bad spec, configuration or data path, no
    /// or unreadable store, an unknown experiment, run or metric. Never 64.
    static let usage: Int32 = 2
    /// `check`: inconclusive (too noisy to tell).
    static let inconclusive: Int32 = 3
    /// `sweep`: it finished, but at least one run failed, crashed, timed out or was invalid.
    static let runsFailed: Int32 = 4
    /// `sweep`, `check --ab`: the store failed while recording (deleted, replaced, full, read-only,
    /// corrupt); the last outcome is kept in its run folder and `--resume` ingests it.
    static let storeFailed: Int32 = 5
    /// Interrupted by SIGINT or SIGTERM (finished runs are kept).
    static let interrupted: Int32 = 130

    /// The status and message for an error that reached the top level; nil message: nothing to print
    /// (the command already explained itself).
    static func map(_ error: any Error) -> (status: Int32, message: String?) {
        switch error {
        case let e as ExitCode: return (e.rawValue, nil)
        case let e as StoreError:
            switch e {
            case .vanished, .write: return (storeFailed, "error: \(e)")
            case .open, .missing, .notFound: return (usage, "error: \(e)")
            }
        case let e as SpecError: return (usage, e.description)
        case let e as DesignError: return (usage, "error: \(e)")
        case let e as RunnerError: return (usage, "error: \(e)")
        case let e as SelectorError: return (usage, "error: \(e)")
        case let e as EngineError: return (usage, "error: \(e)")
        case let e as DataError: return (failure, "error: \(e)")
        default: return (failure, "error: \(error)")
        }
    }
}
