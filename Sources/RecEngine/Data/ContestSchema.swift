/// The contest's data sets: Ele.me (WDL, DeepFM, DLRM) and Taobao ad data (MMoE), both CSV, and
/// Amazon Books (DIN, DIEN: TAB-separated files, `_neg` companions and vocabulary files).
public enum ContestFormat: String, Sendable, CaseIterable, Codable {
    case eleme, taobao
    case amazonBooks = "amazon-books"

    /// The schema of the format's files.
    public var schema: ContestSchema {
        switch self {
        case .eleme: ContestSchema.eleme
        case .taobao: ContestSchema.taobao
        case .amazonBooks: ContestSchema.amazonBooks
        }
    }
}

/// How one CSV column is decoded, following the contest scripts' `decode_csv` defaults and
/// feature columns (`../shared/reference/tianchi/{WDL,MMoE}/train.py`).
public enum ContestColumnKind: Sendable, Equatable {
    /// A 0/1 label (int, empty → 0). The payload is the label's index.
    case label(Int)
    /// A string hashed into its slot's buckets. Empty → `defaultToken`; an empty token after that
    /// means "no id" (TF drops `''` from dense string inputs), i.e. an empty bag.
    case hashed(slot: Int, defaultToken: String)
    /// A `separator`-separated list (empty field → `defaultToken`), every token hashed — empty
    /// tokens too (TF's `strings.split` keeps them and sparse inputs are not filtered).
    case hashedList(slot: Int, separator: UInt8, defaultToken: String)
    /// A token of `ContestSchema.vocabulary` → its index; other tokens (and empty) → no id.
    case vocabulary(slot: Int)
    /// A `;` list of vocabulary tokens; tokens outside the vocabulary are dropped.
    case vocabularyList(slot: Int)
    /// An integer id used as is (`categorical_column_with_identity`); empty → 0; outside
    /// `0..<slot buckets` is a bad row (TF fails there too).
    case identity(slot: Int)
    /// A number (`integer` ones must parse as integers, as `decode_csv` with an int default);
    /// empty → `defaultValue`.
    case numeric(index: Int, integer: Bool, defaultValue: Float)
    /// A `;` list of numbers reduced to their mean (sum / token count); empty field → 0.
    case numericListMean(index: Int)
    /// Validated as its type but not used by any feature column.
    case unusedInteger
    /// Not used by any feature column; any text.
    case unusedText
    /// Amazon Books: a token looked up in the vocabulary file `file` (line number = id; unknown → 0,
    /// the scripts' `default_value=0`); an empty field reads as `decode_csv`'s default `" "`.
    case vocabularyFile(slot: Int, file: String)
    /// Amazon Books: a `\x02`-separated list of `file` tokens in file order, truncated to its first
    /// `AmazonBooks.maxHistory` (50) like the scripts' `tf.sparse.slice`; empty tokens are looked up too.
    case vocabularyFileList(slot: Int, file: String)
}

/// One column of a contest CSV file.
public struct ContestColumn: Sendable, Equatable {
    /// The scripts' column name.
    public let name: String
    /// How it is decoded.
    public let kind: ContestColumnKind
}

/// The layout of one contest format: its columns in file order and the decoded batch layout
/// (labels, numeric values, categorical "slots" — one bag of ids per row and slot).
public struct ContestSchema: Sendable {
    /// The format.
    public let format: ContestFormat
    /// Columns in file order.
    public let columns: [ContestColumn]
    /// Training and evaluation file names inside the data directory.
    public let trainFile: String
    public let evalFile: String
    /// Label names (`clicked`; `clk`, `buy`).
    public let labels: [String]
    /// Numeric value names in batch order.
    public let numerics: [String]
    /// Slot names in batch order (the categorical feature columns).
    public let slots: [String]
    /// Field separator inside the file (`,`; TAB for Amazon Books).
    public var separator: UInt8 { format == .amazonBooks ? 9 : 44 }

    /// The vocabulary of Ele.me's `time_type` and `time_type_list` (the scripts' `TYPE_LIST`).
    public static let vocabulary = ["lunch", "night", "dinner", "tea", "breakfast"]

    /// Number of columns per line.
    public var fieldCount: Int { columns.count }

    /// Index of the slot named `name` (a programming error if absent).
    public func slot(_ name: String) -> Int {
        guard let i = slots.firstIndex(of: name) else { fatalError("\(format): no slot \(name)") }
        return i
    }

    /// Index of the numeric value named `name` (a programming error if absent).
    public func numeric(_ name: String) -> Int {
        guard let i = numerics.firstIndex(of: name) else { fatalError("\(format): no numeric \(name)") }
        return i
    }

    init(format: ContestFormat, trainFile: String, evalFile: String, columns: [ContestColumn]) {
        self.format = format
        self.trainFile = trainFile
        self.evalFile = evalFile
        self.columns = columns
        var labels: [(Int, String)] = [], numerics: [(Int, String)] = [], slots: [(Int, String)] = []
        for c in columns {
            switch c.kind {
            case .label(let i): labels.append((i, c.name))
            case .hashed(let s, _), .hashedList(let s, _, _), .vocabulary(let s), .vocabularyList(let s), .identity(let s),
                 .vocabularyFile(let s, _), .vocabularyFileList(let s, _):
                slots.append((s, c.name))
            case .numeric(let i, _, _), .numericListMean(let i): numerics.append((i, c.name))
            case .unusedInteger, .unusedText: break
            }
        }
        self.labels = labels.sorted { $0.0 < $1.0 }.map(\.1)
        self.numerics = numerics.sorted { $0.0 < $1.0 }.map(\.1)
        self.slots = slots.sorted { $0.0 < $1.0 }.map(\.1)
        precondition(self.slots.enumerated().allSatisfy { i, n in slots.first { $0.1 == n }!.0 == i }, "slots must be dense")
    }
}

extension ContestSchema {
    /// Ele.me: 39 columns (`train.csv`, `eval.csv`). Slots 0…23 in the scripts' feature-column
    /// order: the nine shared-embedding groups member by member, then `user_id`, `district_id`,
    /// `times`, `timediff_list`, then `time_type`, `time_type_list`. Numerics 0…11:
    /// `CONTINUOUS_COLUMNS + CONTINUOUS_HISTORY_COLUMNS`. `weekdays_list` and `weekdays` are read
    /// but used by no feature column (as in the scripts).
    public static let eleme: ContestSchema = {
        let semi: UInt8 = 59
        func h(_ n: String, _ s: Int, _ d: String) -> ContestColumn { ContestColumn(name: n, kind: .hashed(slot: s, defaultToken: d)) }
        func l(_ n: String, _ s: Int, _ d: String = "") -> ContestColumn {
            ContestColumn(name: n, kind: .hashedList(slot: s, separator: semi, defaultToken: d))
        }
        func i(_ n: String, _ k: Int, _ d: Float = 0) -> ContestColumn { ContestColumn(name: n, kind: .numeric(index: k, integer: true, defaultValue: d)) }
        func f(_ n: String, _ k: Int) -> ContestColumn { ContestColumn(name: n, kind: .numeric(index: k, integer: false, defaultValue: 0)) }
        let cols: [ContestColumn] = [
            ContestColumn(name: "clicked", kind: .label(0)),
            h("user_id", 18, ""), i("gender", 0, -99), h("visit_city", 16, "0"), f("avg_price", 1), i("is_supervip", 2),
            i("ctr_30", 3), i("ord_30", 4), f("total_amt_30", 5),
            h("shop_id", 0, ""), h("item_id", 2, ""), h("city_id", 17, "0"), h("district_id", 19, "0"), h("shop_aoi_id", 10, ""),
            h("shop_geohash_6", 14, ""), h("shop_geohash_12", 12, ""), h("brand_id", 8, "0"), h("category_1_id", 4, "0"),
            h("merge_standard_food_id", 6, "0"), i("rank_7", 6), i("rank_30", 7), i("rank_90", 8),
            l("shop_id_list", 1), l("item_id_list", 3), l("category_1_id_list", 5), l("merge_standard_food_id_list", 7),
            l("brand_id_list", 9), ContestColumn(name: "price_list", kind: .numericListMean(index: 10)),
            l("shop_aoi_id_list", 11), l("shop_geohash6_list", 15), l("timediff_list", 21, "0"),
            ContestColumn(name: "hours_list", kind: .numericListMean(index: 11)),
            ContestColumn(name: "time_type_list", kind: .vocabularyList(slot: 23)),
            ContestColumn(name: "weekdays_list", kind: .unusedText),
            h("times", 20, "0"), i("hours", 9), ContestColumn(name: "time_type", kind: .vocabulary(slot: 22)),
            ContestColumn(name: "weekdays", kind: .unusedInteger), h("geohash12", 13, ""),
        ]
        return ContestSchema(format: .eleme, trainFile: "train.csv", evalFile: "eval.csv", columns: cols)
    }()

    /// Ele.me's nine shared-embedding groups as slot lists (one table per group).
    public static let elemeSharedGroups: [[Int]] = (0..<9).map { [2 * $0, 2 * $0 + 1] }

    /// Ele.me slots that feed the wide/indicator input (every slot but the five history lists
    /// of the shared groups; `time_type_list` included, as the scripts' stale loop variable does).
    public static let elemeWideSlots: [Int] = [0, 2, 4, 6, 8, 10, 12, 13, 14, 16, 17, 18, 19, 20, 21, 22, 23]

    /// Taobao: 20 columns (`taobao_train_data`, `taobao_test_data`). Labels clk, buy; slots 0…15
    /// the hashed columns in the script's order without `final_gender_code` (not used), slot 16
    /// `price` (identity, 50 buckets). Empty hashed fields read as the script's default `" "`.
    public static let taobao: ContestSchema = {
        let names = ["pid", "adgroup_id", "cate_id", "campaign_id", "customer", "brand", "user_id", "cms_segid",
                     "cms_group_id", "final_gender_code", "age_level", "pvalue_level", "shopping_level", "occupation",
                     "new_user_class_level", "tag_category_list", "tag_brand_list"]
        var cols = [ContestColumn(name: "clk", kind: .label(0)), ContestColumn(name: "buy", kind: .label(1))]
        var slot = 0
        for n in names {
            if n == "final_gender_code" { cols.append(ContestColumn(name: n, kind: .unusedText)); continue }
            let kind: ContestColumnKind = n.hasSuffix("_list")
                ? .hashedList(slot: slot, separator: 124, defaultToken: " ")
                : .hashed(slot: slot, defaultToken: " ")
            cols.append(ContestColumn(name: n, kind: kind))
            slot += 1
        }
        cols.append(ContestColumn(name: "price", kind: .identity(slot: slot)))
        return ContestSchema(format: .taobao, trainFile: "taobao_train_data", evalFile: "taobao_test_data", columns: cols)
    }()

    /// Amazon Books (DIN, DIEN): `local_train_splitByUser` / `local_test_splitByUser`, six TAB-separated
    /// columns (label, uid, item, category, history items, history categories), then the two columns of
    /// the line-aligned `_neg` file (DIEN's non-clicked history items and categories). Label `clk`; slots
    /// 0 uid, 1 item, 2 cat, 3 hist_item, 4 hist_cat, 5 neg_hist_item, 6 neg_hist_cat (the contract with
    /// the DIN/DIEN models); table sizes come from the vocabulary files (`AmazonBooks`).
    public static let amazonBooks: ContestSchema = {
        func v(_ n: String, _ s: Int, _ f: String) -> ContestColumn { ContestColumn(name: n, kind: .vocabularyFile(slot: s, file: f)) }
        func l(_ n: String, _ s: Int, _ f: String) -> ContestColumn { ContestColumn(name: n, kind: .vocabularyFileList(slot: s, file: f)) }
        let (u, m, c) = (AmazonBooks.uidVocabulary, AmazonBooks.midVocabulary, AmazonBooks.catVocabulary)
        let cols = [ContestColumn(name: "clk", kind: .label(0)), v("uid", 0, u), v("item", 1, m), v("cat", 2, c),
                    l("hist_item", 3, m), l("hist_cat", 4, c), l("neg_hist_item", 5, m), l("neg_hist_cat", 6, c)]
        return ContestSchema(format: .amazonBooks, trainFile: AmazonBooks.trainFile, evalFile: AmazonBooks.evalFile, columns: cols)
    }()

    /// The MMoE script's hash bucket counts per Taobao slot, then price's 50 identity buckets.
    public static let taobaoBuckets: [Int] = [10, 100_000, 10_000, 100_000, 100_000, 100_000, 100_000, 100, 100,
                                              10, 10, 10, 10, 10, 100_000, 100_000, 50]

    /// Ele.me bucket counts: `hashBuckets` for every hashed slot, 5 for the two vocabulary slots.
    public static func elemeBuckets(hashBuckets: Int) -> [Int] {
        (0..<24).map { $0 >= 22 ? vocabulary.count : hashBuckets }
    }
}
