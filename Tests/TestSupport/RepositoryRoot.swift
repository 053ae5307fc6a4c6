import Foundation

/// The checkout's root folder (where `Package.swift`, `Experiments/` and `README.md` live), for
/// tests that read the files the project ships.
public enum RepositoryRoot {
    /// This file is `Tests/TestSupport/RepositoryRoot.swift`: three levels below the root.
    public static let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
}
