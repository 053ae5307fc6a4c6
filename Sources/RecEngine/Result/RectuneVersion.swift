/// The rectune version string, reported in results and host fingerprints.
public enum RectuneVersion {
    public static let string = "0.1.0"

    /// The instruction set the Swift code was compiled for (the engine's own kernels; oneDNN picks
    /// its own at run time, `OneDNNInfo.isa`). The Makefile builds for the build host when it has
    /// AVX2 and FMA (`-target-cpu haswell` by default, with `-D RECTUNE_TARGET_AVX2` so this can say so);
    /// a plain `swift build` targets baseline x86-64 (SSE2).
    public static var buildTarget: String {
        #if RECTUNE_TARGET_AVX2
        "the build host's CPU (AVX2 and FMA or newer: the Makefile's TARGET_CPU)"
        #else
        "baseline x86-64 (SSE2)"
        #endif
    }
}
