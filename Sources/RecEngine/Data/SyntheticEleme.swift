/// Synthetic Ele.me rows (39 columns, `;` lists) and their hidden click model.
///
/// A user (Zipf over 20,000) has five regular shops; their history (empty for 5%, else 1 + geometric
/// with mean 10, at most 50 entries) mixes regular shops (60%) and popular ones. The candidate shop
/// is a regular one with probability 0.3. Items, categories (30), brands, foods, AOIs (15% empty) and
/// geohashes follow from the shop. The click logit is
///
///     z = −3.1 + 1.0·[shop ∈ shop_id_list] + 0.5·[category ∈ category_1_id_list]
///         + 0.8·w(shop) + 1.2·w(category) + 0.3·w(user) + 0.6·is_supervip
///         + 0.5·[time_type ∈ {lunch, dinner}] + 0.12·ctr_30 − 0.35·(avg_price − 3)/1.5
///
/// with fixed per-id weights w ∈ [−1, 1) drawn from the seed; clicked ~ Bernoulli(σ(z)),
/// ≈ 15% positives. The oracle AUC (σ(z) ranking the evaluation file) is ≈ 0.74. Numerics are
/// small (prices 0–6, amounts 0–10, counts and ranks 0–20) except hours (0–23) and the script's −99
/// for a missing gender (5%): the contest models feed them unnormalized.
enum SyntheticEleme {
    static let users = 20_000, shops = 5_000, categories = 30, cities = 50
    static let timeTypes: [StaticString] = ["breakfast", "lunch", "tea", "dinner", "night"]

    static func timeType(hour: Int) -> Int {
        switch hour {
        case 5..<10: 0
        case 10..<14: 1
        case 14..<17: 2
        case 17..<21: 3
        default: 4
        }
    }

    static func row(_ g: inout ContestRowGenerator, into out: inout [UInt8]) -> (labels: [Bool], probabilities: [Double]) {
        typealias G = ContestRowGenerator
        let user = g.zipf(users)
        let h = g  // the fixed (seed-only) hashes below do not advance the stream
        let regular = { (k: Int) in h.pick(1, user &* 8 &+ k, shops) }
        let candidate = g.chance(0.3) ? regular(g.below(5)) : g.zipf(shops)
        let category = { (shop: Int) in 1 + h.pick(2, shop, categories) }
        let brand = { (shop: Int) in h.pick(3, shop, 800) }
        let food = { (shop: Int) in h.pick(4, shop, 2_000) }
        let aoi = { (shop: Int) in h.pick(5, shop, 3_000) }
        let historyLength = g.listLength(empty: 0.05, mean: 10)
        var history = [Int](repeating: 0, count: historyLength)
        for k in 0..<historyLength { history[k] = g.chance(0.6) ? regular(g.below(5)) : g.zipf(shops) }
        let hour = g.below(24)
        let tt = timeType(hour: hour)
        let supervip = g.chance(0.1) ? 1 : 0
        let ctr30 = g.below(10)
        let avgPrice = 3 + 1.5 * (g.unit() + g.unit() - 1) * 1.7
        let city = g.zipf(cities)

        let candCategory = category(candidate)
        let inShops = history.contains(candidate)
        let inCategories = history.contains { category($0) == candCategory }
        var z = -3.1 + (inShops ? 1.0 : 0) + (inCategories ? 0.5 : 0)
        z += 0.8 * g.weight(11, candidate) + 1.2 * g.weight(12, candCategory) + 0.3 * g.weight(13, user)
        z += 0.6 * Double(supervip) + (tt == 1 || tt == 3 ? 0.5 : 0) + 0.12 * Double(ctr30) - 0.35 * (avgPrice - 3) / 1.5
        let p = G.sigmoid(z)
        let clicked = g.chance(p)

        func comma() { out.append(44) }
        func list(_ f: (Int) -> Void) {
            for (k, s) in history.enumerated() { if k > 0 { out.append(59) }; f(s) }
        }
        G.put(clicked ? 1 : 0, &out); comma()
        G.put(user, &out); comma()                                          // user_id
        if g.chance(0.05) { } else { G.put(g.chance(0.5) ? 1 : 2, &out) }; comma()   // gender (empty → -99)
        G.put(city, &out); comma()                                          // visit_city
        G.put(fixed: avgPrice, &out); comma()                               // avg_price
        G.put(supervip, &out); comma()
        G.put(ctr30, &out); comma()                                         // ctr_30 (int)
        G.put(g.below(10), &out); comma()                                   // ord_30
        G.put(fixed: 10 * g.unit(), &out); comma()                          // total_amt_30
        G.put(candidate, &out); comma()                                     // shop_id
        G.put(candidate &* 10 &+ g.below(10), &out); comma()                // item_id
        G.put(city, &out); comma()                                          // city_id
        G.put(city &* 20 &+ g.below(20), &out); comma()                     // district_id
        if !g.chance(0.15) { G.put(aoi(candidate), &out) }; comma()         // shop_aoi_id
        G.geohash(UInt64(candidate), length: 6, &out); comma()              // shop_geohash_6
        G.geohash(UInt64(candidate) &+ 1 << 40, length: 12, &out); comma()  // shop_geohash_12
        G.put(brand(candidate), &out); comma()
        G.put(candCategory, &out); comma()
        G.put(food(candidate), &out); comma()
        G.put(g.below(20), &out); comma(); G.put(g.below(20), &out); comma(); G.put(g.below(20), &out); comma()  // rank_7/30/90
        list { G.put($0, &out) }; comma()                                   // shop_id_list
        list { G.put($0 &* 10 &+ g.below(10), &out) }; comma()              // item_id_list
        list { G.put(category($0), &out) }; comma()
        list { G.put(food($0), &out) }; comma()
        list { G.put(brand($0), &out) }; comma()
        list { _ in G.put(fixed: 1 + 4 * g.unit(), &out) }; comma()         // price_list
        list { G.put(aoi($0), &out) }; comma()
        list { G.geohash(UInt64($0), length: 6, &out) }; comma()
        list { _ in G.put(g.below(3000), &out) }; comma()                   // timediff_list
        list { _ in G.put(g.below(24), &out) }; comma()                     // hours_list
        list { _ in G.put(timeTypes[g.below(5)], &out) }; comma()           // time_type_list
        list { _ in G.put(g.below(7), &out) }; comma()                      // weekdays_list
        G.put(g.below(20), &out); comma()                                   // times
        G.put(hour, &out); comma()
        G.put(timeTypes[tt], &out); comma()
        G.put(g.below(7), &out); comma()                                    // weekdays
        G.geohash(UInt64(user) &+ 1 << 41, length: 12, &out)                // geohash12
        out.append(10)
        return ([clicked], [p])
    }
}
