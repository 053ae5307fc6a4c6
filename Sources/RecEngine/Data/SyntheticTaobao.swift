/// Synthetic Taobao ad rows (20 columns, `|` tag lists, `NULL` brands, empty profile fields) and
/// their hidden click and buy models.
///
/// A user (Zipf over 30,000) has a fixed profile and five favourite ad groups; their tag lists
/// are empty for 40% of users, else 1 + geometric with mean 31 (at most 50): parallel
/// category|brand pairs of ad groups, 60% of them favourites. The shown ad is a favourite with
/// probability 0.35, else Zipf over 50,000 ad groups; it fixes category (3,000), campaign,
/// customer, brand (`NULL` for 20%) and price bucket (0…49).
///
///     z_clk = −3.75 + 1.6·[cate ∈ tag_category_list] + 1.8·w(adgroup) + 0.8·w(cate) + 0.3·[pid = 1]
///     z_buy = −1.6 + 1.4·[brand ∈ tag_brand_list] − 0.06·(price − 25) + 0.8·[shopping_level = 3] + 1.0·w′(cate)
///
/// clk ~ Bernoulli(σ(z_clk)) (≈ 5%); buy ~ Bernoulli(σ(z_buy)) only when clk = 1 (≈ 35% of clicks,
/// ≈ 1.8% of rows — far above the real 0.04%, so that buy's AUC is measurable on small files).
/// The oracle scores are P(clk) = σ(z_clk) and P(buy) = σ(z_clk)·σ(z_buy).
enum SyntheticTaobao {
    static let users = 30_000, adgroups = 50_000, categories = 3_000, brands = 8_000

    static func row(_ g: inout ContestRowGenerator, into out: inout [UInt8]) -> (labels: [Bool], probabilities: [Double]) {
        typealias G = ContestRowGenerator
        let user = g.zipf(users)
        let h = g  // the fixed (seed-only) hashes below do not advance the stream
        let favourite = { (f: Int) in h.pick(29, user &* 8 &+ f, adgroups) }
        let ad = g.chance(0.35) ? favourite(g.below(5)) : g.zipf(adgroups)
        let cateOf = { (a: Int) in h.pick(21, a, categories) }
        let brandOf = { (a: Int) in h.pick(23, a, brands) }
        let cate = cateOf(ad)
        let brandNull = h.pick(22, ad, 5) == 0
        let brand = brandOf(ad)
        let price = h.pick(24, ad, 50)
        let campaign = h.pick(25, ad, 20_000)
        let customer = h.pick(26, campaign, 15_000)
        let pid = g.below(2)
        let shopping = 1 + h.pick(27, user, 3)
        let hasTags = h.pick(28, user, 10) >= 4
        let tagCount = hasTags ? g.listLength(empty: 0, mean: 31) : 0
        var tagCats = [Int](repeating: 0, count: tagCount), tagBrands = tagCats
        for k in 0..<tagCount {
            let a = g.chance(0.6) ? favourite(g.below(5)) : g.zipf(adgroups)
            tagCats[k] = cateOf(a)
            tagBrands[k] = brandOf(a)
        }
        let zc = -3.75 + (tagCats.contains(cate) ? 1.6 : 0) + 1.8 * g.weight(31, ad) + 0.8 * g.weight(32, cate) + (pid == 1 ? 0.3 : 0)
        let zb = -1.6 + (!brandNull && tagBrands.contains(brand) ? 1.4 : 0) - 0.06 * Double(price - 25)
            + (shopping == 3 ? 0.8 : 0) + 1.0 * g.weight(33, cate)
        let pc = G.sigmoid(zc), pb = G.sigmoid(zb)
        let clk = g.chance(pc)
        let buy = clk && g.chance(pb)

        func comma() { out.append(44) }
        G.put(clk ? 1 : 0, &out); comma()
        G.put(buy ? 1 : 0, &out); comma()
        G.put(pid == 0 ? "430548_1007" : "430539_1007", &out); comma()
        G.put(ad, &out); comma()
        G.put(cate, &out); comma()
        G.put(campaign, &out); comma()
        G.put(customer, &out); comma()
        if brandNull { G.put("NULL", &out) } else { G.put(brand, &out) }; comma()
        G.put(user, &out); comma()
        G.put(g.pick(34, user, 98), &out); comma()                         // cms_segid
        G.put(g.pick(35, user, 13), &out); comma()                         // cms_group_id
        G.put(1 + g.pick(36, user, 2), &out); comma()                      // final_gender_code
        G.put(g.pick(37, user, 7), &out); comma()                          // age_level
        if g.pick(38, user, 10) >= 3 { G.put(1 + g.pick(39, user, 3), &out) }; comma()   // pvalue_level (30% empty)
        G.put(shopping, &out); comma()
        G.put(g.pick(40, user, 2), &out); comma()                          // occupation
        if g.pick(41, user, 4) != 0 { G.put(1 + g.pick(42, user, 4), &out) }; comma()    // new_user_class_level (25% empty)
        for (k, c) in tagCats.enumerated() { if k > 0 { out.append(124) }; G.put(c, &out) }; comma()
        for (k, b) in tagBrands.enumerated() { if k > 0 { out.append(124) }; G.put(b, &out) }; comma()
        G.put(price, &out)
        out.append(10)
        return ([clk, buy], [pc, pc * pb])
    }
}
