/// The rectune version string, reported in results and host fingerprints.
public enum RectuneVersion {
    public static let string = "0.1.0"
}
