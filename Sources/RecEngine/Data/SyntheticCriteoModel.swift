/// The fixed shape of the synthetic Criteo data and of its hidden label model.
///
/// Every row: 13 integer columns and 26 categorical columns, each missing with its own
/// probability (5–20%). Integer `j` is `floor(exp(mu[j] + sigma[j]·z)) − 1 − shift[j]` with
/// `z` approximately standard normal (Irwin–Hall of 4 uniforms), so `log1p` of it is roughly
/// normal as in the real data (I2 can be negative, like Criteo's). Categorical `c` draws a rank
/// `r` in `[0, cardinality[c])` from a Zipf(1) law (`r = floor((N+1)^u) − 1`) and writes it as
/// 8 hex digits of a seeded 32-bit mix of `(seed, c, r)`.
///
/// The hidden model: `logit = intercept + Σ_j denseWeight[j]·log1p(max(x_j, 0))
/// + Σ_c categoricalScale[c]·g(seed, c, r_c)`, where `g` is an approximately standard normal
/// value drawn from a hash of `(seed, c, r)` (missing fields contribute 0), and
/// `label ~ Bernoulli(sigmoid(logit))`. The intercept is calibrated per seed (on a separate stream) so ~25% of labels are 1;
/// the model's own (Bayes-optimal) AUC is ≈ 0.80 (`SyntheticCriteo.oracleAUC`).
enum SyntheticCriteoModel {
    /// Values per categorical column, from ~10 to 10^6 (shaped like the Kaggle Criteo columns).
    static let cardinalities: [Int] = [
        1460, 583, 1_000_000, 300_000, 305, 24, 12517, 633, 10, 93145, 5683, 800_000, 3194,
        27, 14992, 500_000, 10, 5652, 2173, 12, 700_000, 18, 15, 286_181, 105, 142_572,
    ]
    /// Missing probability per integer column.
    static let denseMissing: [Double] = [0.05, 0.06, 0.20, 0.18, 0.08, 0.15, 0.07, 0.05, 0.09, 0.19, 0.06, 0.20, 0.12]
    /// Missing probability per categorical column.
    static let categoricalMissing: [Double] = [
        0.05, 0.06, 0.10, 0.12, 0.05, 0.15, 0.07, 0.05, 0.08, 0.11, 0.06, 0.14, 0.09,
        0.05, 0.10, 0.13, 0.20, 0.07, 0.18, 0.09, 0.12, 0.06, 0.16, 0.10, 0.08, 0.19,
    ]
    /// Location and scale of `log(x + 1)` per integer column.
    static let denseMu: [Double] = [1.0, 2.0, 2.5, 1.8, 6.0, 3.0, 1.5, 2.8, 4.0, 0.5, 1.2, 0.3, 2.0]
    static let denseSigma: [Double] = [1.0, 1.5, 1.2, 1.0, 2.0, 1.6, 1.1, 1.0, 1.5, 0.6, 0.9, 0.5, 1.2]
    /// Subtracted after the draw (lets I2 go negative, as in Criteo).
    static let denseShift: [Int64] = [0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    /// Hidden-model weight of `log1p(max(x, 0))` per integer column (0 = no signal).
    static let denseWeight: [Double] = [0.45, 0, -0.30, 0, 0.20, 0, 0.40, 0, 0, 0, -0.45, 0, 0]
    /// Scale of the per-id weights per categorical column (0 = no signal). Mostly low and
    /// medium cardinality columns, which a 10,000-bucket hashed table can learn; C4 carries a
    /// little signal spread over 300,000 ids that hashing cannot fully recover.
    static let categoricalScale: [Double] = [
        0.50, 0.45, 0, 0.20, 0.60, 0.45, 0.30, 0.35, 0.50, 0, 0.35, 0, 0.25,
        0.45, 0, 0, 0.40, 0, 0.25, 0.35, 0, 0.40, 0.45, 0, 0.50, 0,
    ]
    /// Global multiplier of every weight (the signal strength knob).
    static let signalScale: Double = 0.75
    /// Expected share of label 1; the intercept is calibrated per seed to hit it.
    static let targetPositiveRate: Double = 0.25
}
