import Foundation

/// Deterministic synthetic Amazon Books data in the contest's layout (DIN, DIEN), with a click
/// model that needs attention over the history and rewards knowing its order.
///
/// **Layout** (as `../shared/reference/tianchi/DIEN/data/script` writes it): every user appears in
/// one (negative, positive) pair of lines — same uid and history, label 0 then label 1 — as
/// `local_aggretor.py` + `split_by_user.py` leave the real files; training and test users are
/// disjoint (split by user), so every test uid is out of `uid_voc.txt` (→ id 0) as in the real data.
/// Histories: 1 + ⌊Exp(7.5)⌋ items (≥ 1, mean ≈ 8), at most 100 (the readers keep the first 50).
/// `_neg` lines hold, per history position, another item of the same user's behaviour (history and
/// clicked item; `generate_neg.py`), no trailing newline. Vocabularies (training file only,
/// `generate_voc.py`): `uid_voc.txt` by count (ties in first-seen order), `mid_voc.txt` =
/// `default_mid` then items by count, `cat_voc.txt` = `default_cat` then categories by count;
/// one token per line, no final newline (`pick2txt.py`).
///
/// **Items.** 20,000 items (10-digit ASIN-like tokens) in series of 5 consecutive items; each series
/// belongs to one of 400 categories ("Mystery 3"); popularity Zipf (exponent 1.1) over items.
///
/// **History.** A user follows 1–3 series (Zipf), one after the other: history position k belongs to
/// segment ⌊k·S/L⌋; its item is a member of that segment's series (55%), an item of that series'
/// category (25%) or a popular item (20%).
///
/// **Candidates and the oracle.** With recency weights w_k ∝ 0.6^(L−1−k) (newest first) and uniform
/// weights u_k = 1/L over the history h:
///
///     P₊(c) = 0.65·Σ_k w_k·[series(c) = series(h_k)]/5 + 0.2·Σ_k w_k·[cat(c) = cat(h_k)]/|cat(c)| + 0.15·pop(c)
///     P₋(c) = 0.2·Σ_k u_k·[series(c) = series(h_k)]/5 + 0.3·Σ_k u_k·[cat(c) = cat(h_k)]/|cat(c)| + 0.5·pop(c)
///
/// The clicked candidate is drawn from P₊ (a sequel or category neighbour of a *recent* history item),
/// the non-clicked one from P₋ (a "hard" negative related to *any* history item, or popular). The
/// oracle score P₊/(P₊ + P₋) is the exact click probability given the candidate and the ordered
/// history (each pair has one of each). Two weaker scores are measured beside it:
/// - order-blind: the same formula with w replaced by u (what a model that ignores positions can
///   use at best in this form; DIN's attention has no positions);
/// - sum-pooled: a logistic fit (on the training rows) over candidate·mean(history) features —
///   the candidate's series share and category share of the history with one-hot embeddings — and
///   the candidate's log popularity.
public enum SyntheticAmazonBooks {
    public static let itemCount = 20_000
    public static let seriesSize = 5
    public static let categoryCount = 400
    public static let recencyDecay = 0.6
    public static let maxHistoryLength = 100
    static let positive = (series: 0.65, category: 0.2)
    static let negative = (series: 0.2, category: 0.3)
    static let categoryNames = ["Mystery", "Romance", "History", "Science Fiction", "Poetry", "Biographies & Memoirs", "Cookbooks",
                                "Children's Books", "Religion & Spirituality", "Business & Money"]

    /// What a generation produced.
    public struct Summary: Sendable {
        public var trainRows: Int
        public var evalRows: Int
        /// Bytes of all seven files.
        public var bytes: Int
        /// History length over all rows: mean and maximum; rows longer than 50 (truncated by the readers).
        public var meanHistory: Double
        public var maxHistory: Int
        public var rowsOver50: Int
        /// Lines of uid_voc.txt, mid_voc.txt, cat_voc.txt.
        public var vocabularySizes: [Int]
        /// AUCs on the evaluation file: the oracle (true click probability), the order-blind score,
        /// and the sum-pooled baseline (logistic fit on the training file).
        public var oracleAUC: Double
        public var orderBlindAUC: Double
        public var sumPooledAUC: Double
    }

    /// Generates `trainRows` + `evalRows` rows (both even: (negative, positive) pairs) in memory.
    /// Throws `DataError.invalidParameter` for odd or non-positive counts.
    public static func generate(trainRows: Int, evalRows: Int, seed: UInt64) throws -> (files: AmazonBooksFiles, summary: Summary) {
        guard trainRows >= 2, evalRows >= 2, trainRows % 2 == 0, evalRows % 2 == 0 else {
            throw DataError.invalidParameter(name: "amazon-books rows", value: "\(trainRows)/\(evalRows)",
                                             allowed: "training and evaluation rows must be even and >= 2: the files hold (negative, positive) pairs")
        }
        var world = World(seed: seed)
        var train = Split(), eval = Split()
        for u in 0..<trainRows / 2 { world.pair(user: u, into: &train) }
        for u in 0..<evalRows / 2 { world.pair(user: trainRows / 2 + u, into: &eval) }
        let (uidVoc, midVoc, catVoc, sizes) = world.vocabularies(train)
        let files = AmazonBooksFiles(train: train.main, eval: eval.main, trainNegative: train.negative, evalNegative: eval.negative,
                                     uidVocabulary: uidVoc, midVocabulary: midVoc, catVocabulary: catVoc)
        let weights = logisticFit(train.pooledFeatures, train.labels)
        let pooled = eval.pooledFeatures.map { x in zip(x, weights).reduce(0) { $0 + $1.0 * $1.1 } }
        let lengths = train.lengths + eval.lengths
        let summary = Summary(
            trainRows: trainRows, evalRows: evalRows,
            bytes: [files.train, files.eval, files.trainNegative!, files.evalNegative!, uidVoc, midVoc, catVoc].reduce(0) { $0 + $1.count },
            meanHistory: Double(lengths.reduce(0, +)) / Double(lengths.count), maxHistory: lengths.max() ?? 0,
            rowsOver50: lengths.filter { $0 > AmazonBooks.maxHistory }.count, vocabularySizes: sizes,
            oracleAUC: SyntheticCriteo.rankAUC(scores: eval.oracle, labels: eval.labels),
            orderBlindAUC: SyntheticCriteo.rankAUC(scores: eval.orderBlind, labels: eval.labels),
            sumPooledAUC: SyntheticCriteo.rankAUC(scores: pooled, labels: eval.labels))
        return (files, summary)
    }

    /// Writes the seven files into `directory` (which must exist). Throws as `generate` and
    /// `DataError.io` for a failing write.
    @discardableResult
    public static func write(trainRows: Int, evalRows: Int, seed: UInt64, to directory: String) throws -> Summary {
        let (files, summary) = try generate(trainRows: trainRows, evalRows: evalRows, seed: seed)
        try files.write(to: directory)
        return summary
    }

    /// One file's rows with what the summary needs.
    struct Split {
        var main: [UInt8] = []
        var negative: [UInt8] = []
        var labels: [Bool] = []
        var oracle: [Double] = []
        var orderBlind: [Double] = []
        var pooledFeatures: [[Double]] = []
        var lengths: [Int] = []
        /// Per row: candidate item and history items (for the vocabulary counts).
        var users: [Int] = []
        var candidates: [Int] = []
        var histories: [[Int]] = []
    }

    /// The fixed item world and the random stream.
    struct World {
        let seed: UInt64
        var rng: SplitMix64
        /// Zipf CDF and pmf over items.
        let cdf: [Double]
        let pmf: [Double]
        let categoryOfSeries: [Int]
        /// Items of each category: `categoryItems[categoryStart[c] ..< categoryStart[c + 1]]`.
        let categoryStart: [Int]
        let categoryItems: [Int]

        init(seed: UInt64) {
            self.seed = seed
            rng = SplitMix64(seed: seed ^ 0xA3A2_0B00_C5)
            var weights = (0..<SyntheticAmazonBooks.itemCount).map { 1 / pow(Double($0 + 1), 1.1) }
            let total = weights.reduce(0, +)
            weights = weights.map { $0 / total }
            pmf = weights
            var acc = 0.0
            cdf = weights.map { acc += $0; return acc }
            let series = SyntheticAmazonBooks.itemCount / SyntheticAmazonBooks.seriesSize
            categoryOfSeries = (0..<series).map {
                Int(SyntheticCriteoGenerator.splitmix(seed &+ 0xCA7 &* 0x9E37_79B9_7F4A_7C15 &+ UInt64($0)) % UInt64(SyntheticAmazonBooks.categoryCount))
            }
            var members = [[Int]](repeating: [], count: SyntheticAmazonBooks.categoryCount)
            for item in 0..<SyntheticAmazonBooks.itemCount { members[categoryOfSeries[item / SyntheticAmazonBooks.seriesSize]].append(item) }
            var start = [0]
            for m in members { start.append(start.last! + m.count) }
            categoryStart = start
            categoryItems = members.flatMap { $0 }
        }

        func category(_ item: Int) -> Int { categoryOfSeries[item / SyntheticAmazonBooks.seriesSize] }
        func categorySize(_ c: Int) -> Int { categoryStart[c + 1] - categoryStart[c] }

        mutating func unit() -> Double { rng.nextUnit() }
        mutating func below(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }

        mutating func popular() -> Int {
            let u = unit()
            var lo = 0, hi = cdf.count - 1
            while lo < hi { let mid = (lo + hi) / 2; if cdf[mid] < u { lo = mid + 1 } else { hi = mid } }
            return lo
        }

        mutating func seriesMember(of item: Int) -> Int {
            item / SyntheticAmazonBooks.seriesSize * SyntheticAmazonBooks.seriesSize + below(SyntheticAmazonBooks.seriesSize)
        }

        mutating func categoryMember(_ c: Int) -> Int { categoryItems[categoryStart[c] + below(categorySize(c))] }

        /// Index drawn from `weights` (summing to 1).
        mutating func draw(_ weights: [Double]) -> Int {
            var u = unit()
            for (k, w) in weights.enumerated() { u -= w; if u < 0 { return k } }
            return weights.count - 1
        }

        /// Writes one user's (negative, positive) pair.
        mutating func pair(user: Int, into split: inout Split) {
            let length = min(1 + Int(-log(max(unit(), 1e-300)) * 7.5), SyntheticAmazonBooks.maxHistoryLength)
            let segments = 1 + below(3)
            let followed = (0..<segments).map { _ in popular() }
            var history = [Int](repeating: 0, count: length)
            for k in 0..<length {
                let anchor = followed[min(segments - 1, k * segments / length)]
                let u = unit()
                history[k] = u < 0.55 ? seriesMember(of: anchor) : u < 0.8 ? categoryMember(category(anchor)) : popular()
            }
            var recency = (0..<length).map { pow(SyntheticAmazonBooks.recencyDecay, Double(length - 1 - $0)) }
            let norm = recency.reduce(0, +)
            recency = recency.map { $0 / norm }
            let uniform = [Double](repeating: 1 / Double(length), count: length)
            let neg = candidate(history, weights: uniform, mix: SyntheticAmazonBooks.negative)
            let pos = candidate(history, weights: recency, mix: SyntheticAmazonBooks.positive)
            var behaviour: [Int] = [], seen = Set<Int>()
            for i in history + [pos] where seen.insert(i).inserted { behaviour.append(i) }
            for (label, c) in [(false, neg), (true, pos)] {
                write(label: label, user: user, candidate: c, history: history, into: &split.main)
                writeNegative(history: history, behaviour: behaviour, first: split.labels.isEmpty, into: &split.negative)
                let w = features(c, history, recency), u = features(c, history, uniform)
                let pc = pmf[c], size = Double(categorySize(category(c)))
                let (ps, pcat) = SyntheticAmazonBooks.positive, (ns, ncat) = SyntheticAmazonBooks.negative
                let pPos = ps * w.series / 5 + pcat * w.category / size + (1 - ps - pcat) * pc
                let pNeg = ns * u.series / 5 + ncat * u.category / size + (1 - ns - ncat) * pc
                let pPosBlind = ps * u.series / 5 + pcat * u.category / size + (1 - ps - pcat) * pc
                split.labels.append(label)
                split.oracle.append(pPos / (pPos + pNeg))
                split.orderBlind.append(pPosBlind / (pPosBlind + pNeg))
                split.pooledFeatures.append([1, u.series, u.category, log(pc)])
                split.lengths.append(length)
                split.users.append(user)
                split.candidates.append(c)
                split.histories.append(history)
            }
        }

        /// A candidate from `mix`: a series member or category member of a history item drawn by
        /// `weights`, or a popular item.
        mutating func candidate(_ history: [Int], weights: [Double], mix: (series: Double, category: Double)) -> Int {
            let u = unit()
            if u < mix.series { return seriesMember(of: history[draw(weights)]) }
            if u < mix.series + mix.category { return categoryMember(category(history[draw(weights)])) }
            return popular()
        }

        /// Σ_k weight_k·[same series] and Σ_k weight_k·[same category] of candidate `c`.
        func features(_ c: Int, _ history: [Int], _ weights: [Double]) -> (series: Double, category: Double) {
            let s = c / SyntheticAmazonBooks.seriesSize, cat = category(c)
            var series = 0.0, categoryMatch = 0.0
            for (k, h) in history.enumerated() {
                if h / SyntheticAmazonBooks.seriesSize == s { series += weights[k] }
                if category(h) == cat { categoryMatch += weights[k] }
            }
            return (series, categoryMatch)
        }

        // MARK: text

        func uidToken(_ user: Int, _ out: inout [UInt8]) {
            var h = SyntheticCriteoGenerator.splitmix(seed &+ 0x51D &* 0xD1B5_4A32_D192_ED03 &+ UInt64(user))
            out.append(65)  // "A", like Amazon reviewer ids
            let digits: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
            for _ in 0..<13 { out.append(digits[Int(h % 36)]); h /= 36 }
        }

        func itemToken(_ item: Int, _ out: inout [UInt8]) {
            // A bijection of 0..<10^10 (7,919,017 is coprime to 10^10): unique 10-digit ASIN-like tokens.
            let m: UInt64 = 10_000_000_000
            var v = (UInt64(item) &* 7_919_017 &+ SyntheticCriteoGenerator.splitmix(seed) % m) % m
            var digits = [UInt8](repeating: 48, count: 10)
            for i in stride(from: 9, through: 0, by: -1) { digits[i] = UInt8(48 + v % 10); v /= 10 }
            out.append(contentsOf: digits)
        }

        func categoryToken(_ c: Int, _ out: inout [UInt8]) {
            let names = SyntheticAmazonBooks.categoryNames
            out.append(contentsOf: Array(names[c % names.count].utf8))
            out.append(32)
            ContestRowGenerator.put(c / names.count, &out)
        }

        func write(label: Bool, user: Int, candidate c: Int, history: [Int], into out: inout [UInt8]) {
            out.append(label ? 49 : 48); out.append(9)
            uidToken(user, &out); out.append(9)
            itemToken(c, &out); out.append(9)
            categoryToken(category(c), &out); out.append(9)
            for (k, h) in history.enumerated() { if k > 0 { out.append(AmazonBooks.listSeparator) }; itemToken(h, &out) }
            out.append(9)
            for (k, h) in history.enumerated() { if k > 0 { out.append(AmazonBooks.listSeparator) }; categoryToken(category(h), &out) }
            out.append(10)
        }

        /// One `_neg` line: per history position another item of the user's behaviour (a popular
        /// item when the behaviour has no other); lines joined by `\n`, none after the last.
        mutating func writeNegative(history: [Int], behaviour: [Int], first: Bool, into out: inout [UInt8]) {
            if !first { out.append(10) }
            var picks = [Int](repeating: 0, count: history.count)
            for (k, h) in history.enumerated() {
                var pick = h
                if behaviour.count > 1 { while pick == h { pick = behaviour[below(behaviour.count)] } }
                while pick == h { pick = popular() }
                picks[k] = pick
            }
            for (k, p) in picks.enumerated() { if k > 0 { out.append(AmazonBooks.listSeparator) }; itemToken(p, &out) }
            out.append(9)
            for (k, p) in picks.enumerated() { if k > 0 { out.append(AmazonBooks.listSeparator) }; categoryToken(category(p), &out) }
        }

        /// The three vocabularies of the training file, as `generate_voc.py` orders them, and their sizes.
        func vocabularies(_ train: Split) -> ([UInt8], [UInt8], [UInt8], [Int]) {
            var userOrder: [Int] = [], seenUser = Set<Int>()
            var itemCount = [Int](repeating: 0, count: SyntheticAmazonBooks.itemCount), itemFirst = [Int](repeating: Int.max, count: SyntheticAmazonBooks.itemCount)
            var catCount = [Int](repeating: 0, count: SyntheticAmazonBooks.categoryCount), catFirst = [Int](repeating: Int.max, count: SyntheticAmazonBooks.categoryCount)
            var itemClock = 0, catClock = 0
            func seeItem(_ i: Int) { itemCount[i] += 1; if itemFirst[i] == Int.max { itemFirst[i] = itemClock; itemClock += 1 } }
            func seeCat(_ c: Int) { catCount[c] += 1; if catFirst[c] == Int.max { catFirst[c] = catClock; catClock += 1 } }
            for r in train.labels.indices {
                if seenUser.insert(train.users[r]).inserted { userOrder.append(train.users[r]) }
                seeItem(train.candidates[r]); seeCat(category(train.candidates[r]))
                for h in train.histories[r] { seeItem(h) }
                for h in train.histories[r] { seeCat(category(h)) }
            }
            // Every uid appears twice (one pair): all ties, so first-seen order.
            var uid: [UInt8] = []
            for (k, u) in userOrder.enumerated() { if k > 0 { uid.append(10) }; uidToken(u, &uid) }
            var mid = Array(AmazonBooks.defaultMid.utf8)
            let items = (0..<SyntheticAmazonBooks.itemCount).filter { itemCount[$0] > 0 }
                .sorted { itemCount[$0] != itemCount[$1] ? itemCount[$0] > itemCount[$1] : itemFirst[$0] < itemFirst[$1] }
            for i in items { mid.append(10); itemToken(i, &mid) }
            var cat = Array(AmazonBooks.defaultCat.utf8)
            let cats = (0..<SyntheticAmazonBooks.categoryCount).filter { catCount[$0] > 0 }
                .sorted { catCount[$0] != catCount[$1] ? catCount[$0] > catCount[$1] : catFirst[$0] < catFirst[$1] }
            for c in cats { cat.append(10); categoryToken(c, &cat) }
            return (uid, mid, cat, [userOrder.count, items.count + 1, cats.count + 1])
        }
    }

    /// Logistic regression by Newton's method (a tiny ridge keeps it defined); returns the weights.
    static func logisticFit(_ x: [[Double]], _ y: [Bool]) -> [Double] {
        let d = x.first?.count ?? 0
        var w = [Double](repeating: 0, count: d)
        for _ in 0..<25 {
            var g = [Double](repeating: 0, count: d)
            var h = [[Double]](repeating: [Double](repeating: 0, count: d), count: d)
            for (xi, yi) in zip(x, y) {
                let z = zip(xi, w).reduce(0) { $0 + $1.0 * $1.1 }
                let p = 1 / (1 + exp(-z))
                for a in 0..<d {
                    g[a] += (p - (yi ? 1 : 0)) * xi[a]
                    for b in 0..<d { h[a][b] += p * (1 - p) * xi[a] * xi[b] }
                }
            }
            for a in 0..<d { h[a][a] += 1e-6 * Double(x.count) }
            guard let step = solve(h, g) else { break }
            for a in 0..<d { w[a] -= step[a] }
        }
        return w
    }

    /// Solves `a·x = b` by Gaussian elimination with partial pivoting (nil if singular).
    static func solve(_ a: [[Double]], _ b: [Double]) -> [Double]? {
        var m = a, r = b
        let n = b.count
        for col in 0..<n {
            let pivot = (col..<n).max { abs(m[$0][col]) < abs(m[$1][col]) }!
            guard abs(m[pivot][col]) > 1e-300 else { return nil }
            m.swapAt(col, pivot); r.swapAt(col, pivot)
            for row in col + 1..<n {
                let f = m[row][col] / m[col][col]
                for k in col..<n { m[row][k] -= f * m[col][k] }
                r[row] -= f * r[col]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for row in stride(from: n - 1, through: 0, by: -1) {
            var s = r[row]
            for k in row + 1..<n { s -= m[row][k] * x[k] }
            x[row] = s / m[row][row]
        }
        return x
    }
}
