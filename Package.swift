// swift-tools-version: 6.1
import PackageDescription

// Import direction (nothing lower imports anything higher):
//   rectune (CLI) → RecHarness → RecEngine → RecSystem → C system-library targets
//   RecContract is a leaf (the knob registry, the metric and counter catalog, the train result
//   contract: no oneDNN); RecStats uses only RecContract (for Polarity).
let package = Package(
    name: "rectune",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "rectune", targets: ["rectune"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/yaslab/CSV.swift", from: "2.5.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // C libraries: module.modulemap + shim.h only.
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL", providers: [.apt(["libdnnl-dev"])]),
        .systemLibrary(name: "CPFM", path: "Sources/CPFM", providers: [.apt(["libpfm4-dev"])]),
        .systemLibrary(name: "CNUMA", path: "Sources/CNUMA", pkgConfig: "numa", providers: [.apt(["libnuma-dev"])]),

        // The one source of truth the engine and the harness share: knobs, metrics, counters, the result contract.
        .target(name: "RecContract"),

        // perf_event + libpfm4 counters, getrusage, libnuma, CPU affinity, host facts, counted spawn.
        .target(
            name: "RecSystem",
            dependencies: ["RecContract", "CPFM", "CNUMA", .product(name: "SystemPackage", package: "swift-system")]
        ),

        // Tensors, oneDNN dense layers, kernels, graph, executors, allocators, data, models, trainer.
        .target(
            name: "RecEngine",
            dependencies: [
                "RecContract", "RecSystem", "CDNNL",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Collections", package: "swift-collections"),
            ]
            // No -Ounchecked: memory-safety preconditions (the pool's double-free check, failed
            // posix_memalign) stay in release builds. Measured: no difference in samples/s (README).
        ),

        // Statistics: bootstrap CIs, Mann–Whitney U, Hodges–Lehmann, verdicts, factorial effects.
        .target(name: "RecStats", dependencies: ["RecContract"]),

        // Experiment specs, designs, runner, SQLite store, reports, regression gate.
        .target(
            name: "RecHarness",
            dependencies: [
                "RecContract", "RecEngine", "RecStats", "RecSystem",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "CSV", package: "CSV.swift"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Thin CLI: parses, calls a library, prints.
        .executableTarget(
            name: "rectune",
            dependencies: [
                "RecContract", "RecHarness", "RecEngine", "RecStats", "RecSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "RecContractTests", dependencies: ["RecContract", "TestSupport"]),
        .testTarget(name: "RecSystemTests", dependencies: ["RecSystem", "TestSupport"]),
        .testTarget(name: "RecEngineTests", dependencies: ["RecContract", "RecEngine", "RecSystem", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "RecStatsTests", dependencies: ["RecContract", "RecStats", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "RecHarnessTests", dependencies: ["RecContract", "RecHarness", "RecStats", "RecEngine", "TestSupport"]),
        .testTarget(name: "RectuneCLITests", dependencies: ["RecContract", "RecEngine", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
