import Foundation

/// Failures of the runner itself (not of a run: those are stored as failed runs).
public enum RunnerError: Error, CustomStringConvertible {
    /// posix_spawnp failed.
    case spawn(command: String, errno: Int32)
    /// The synthetic data cache could not be written.
    case data(String)
    /// Resume asked for, but nothing to resume.
    case nothingToResume(String)
    /// The store could not take a run's outcome (the summary's `storeFailure`); the runs stopped.
    case storeFailure(String)

    public var description: String {
        switch self {
        case .spawn(let command, let e): "cannot start '\(command)': \(String(cString: strerror(e)))"
        case .data(let message): message
        case .nothingToResume(let message): message
        case .storeFailure(let message):
            "store failure: \(message)\nthe runs stopped; the last run's outcome is kept in its run folder (outcome.json): fix the store, then re-run with --resume to ingest it"
        }
    }
}
