internal import CDNNL

/// What oneDNN chose for one dense layer at one batch size: implementation names (e.g.
/// `brgemm:avx512_core`) and weight layouts (oneDNN tag notation, e.g. `AB16b64a`), for
/// `rectune bench` / doctor output and for tests that forbid slow reference kernels.
public struct DenseLayerProfile: Sendable, Equatable, CustomStringConvertible {
    /// Layer name.
    public let layer: String
    /// Batch size of the primitives.
    public let batch: Int
    /// Layer shape.
    public let inputs: Int
    public let outputs: Int
    /// Precision of the products.
    public let precision: Precision
    /// Implementation names of the three primitives.
    public let forward: String
    public let backwardData: String
    public let backwardWeights: String
    /// bf16 only: what converts the input and the output gradient to bf16 before the products.
    public let activationReorder: String?
    /// Layout of the fp32 master weights and of diff-weights buffers.
    public let weightsLayout: String
    /// Layers with a weight copy: which copy (`bf16 copy`, `forward copy`) and its layout.
    public let weightCopyLayout: String?

    /// True if any of the three products uses a slow `ref:` (reference) implementation.
    public var usesReferenceImplementation: Bool {
        [forward, backwardData, backwardWeights].contains { $0.hasPrefix("ref") }
    }

    /// One line: `name 429→1024 batch 512 fp32: fwd brgemm:avx512_core, ... weights AB16b64a`.
    public var description: String {
        var s = "\(layer) \(inputs)→\(outputs) batch \(batch) \(precision.rawValue): fwd \(forward), "
            + "bwd-data \(backwardData), bwd-weights \(backwardWeights), weights \(weightsLayout)"
        if let copy = weightCopyLayout { s += ", \(copy)" }
        if let reorder = activationReorder { s += ", activation reorder \(reorder)" }
        return s
    }
}

extension DNNLMemoryDesc {
    /// The layout in oneDNN's tag notation: dimensions outermost-first by stride (upper case when
    /// blocked), then the inner blocks, e.g. `ab`, `AB16b64a`, `AB8b64a2b`.
    var formatTag: String {
        let n = Int(raw.ndims)
        guard n > 0 else { return "undef" }
        guard let layout = blockedLayout else { return "format_kind(\(raw.format_kind.rawValue))" }
        let (strides, blocks, indices) = (layout.strides, layout.innerBlocks, layout.innerIndices)
        let letters = Array("abcdefghijkl")
        let blocked = Set(indices)
        // Outer order: descending stride; ties keep dimension order.
        let order = (0..<n).sorted { strides[$0] != strides[$1] ? strides[$0] > strides[$1] : $0 < $1 }
        var tag = order.map { blocked.contains($0) ? String(letters[$0]).uppercased() : String(letters[$0]) }.joined()
        for (size, index) in zip(blocks, indices) { tag += "\(size)\(letters[index])" }
        return tag
    }

    /// A blocked descriptor's geometry (nil for other format kinds).
    var blockedLayout: (dims: [Int], paddedDims: [Int], strides: [Int], innerBlocks: [Int], innerIndices: [Int],
                        offset0: Int)? {
        let n = Int(raw.ndims)
        guard n > 0, raw.format_kind == dnnl_blocked else { return nil }
        let blocking = raw.format_desc.blocking
        let nb = Int(blocking.inner_nblks)
        func ints<T>(_ tuple: T, _ count: Int) -> [Int] {
            withUnsafeBytes(of: tuple) { Array($0.bindMemory(to: Int64.self).prefix(count)).map(Int.init) }
        }
        return (ints(raw.dims, n), ints(raw.padded_dims, n), ints(blocking.strides, n), ints(blocking.inner_blks, nb),
                ints(blocking.inner_idxs, nb), Int(raw.offset0))
    }
}
