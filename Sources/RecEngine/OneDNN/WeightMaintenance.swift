internal import CDNNL

/// A dense layer's weight-layout reorders: plain `[outputs][inputs]` ⇄ fp32 master (blocked), and
/// fp32 master → weight copy (bf16, or the fp32 forward copy in the other plain layout). Owns its
/// own stream and scratchpad, so refreshing one layer's weights never waits for another layer or a
/// worker.
///
/// The refresh runs after every update. When the two layouts are the pair oneDNN's brgemm products
/// choose (master `AB16b<X>a`, copy `AB<K>b<X>a2b`; `PairedBF16Layout`) it is the engine's pass
/// that converts two master rows into one interleaved copy row at a time (`BF16Kernels`), 2–2.6×
/// faster than oneDNN 2.6's reorder between those layouts on an AMX host (`bench --kernels`);
/// other layouts keep the reorder.
///
/// `@unchecked Sendable`: only ever used inside `DenseLayer.maintenance.withLock`, which serializes
/// every use of its stream, scratchpad and memory objects.
final class WeightMaintenance: @unchecked Sendable {
    private let stream: DNNLStream
    private let scratchpad: AlignedBuffer
    private let plain: DNNLMemory
    private let master: DNNLMemory
    private let copy: DNNLMemory?
    private let plainToMaster: BoundPrimitive
    private let masterToPlain: BoundPrimitive
    private let masterToCopy: BoundPrimitive?
    /// Set when the master → bf16 refresh can take the engine's pass (else `refresh` runs oneDNN's reorder).
    let pairedLayout: PairedBF16Layout?

    init(master masterDesc: DNNLMemoryDesc, copy copyDesc: DNNLMemoryDesc?, outputs: Int, inputs: Int,
         engine: DNNLEngine) throws {
        let plainDesc = try DNNLMemoryDesc(dims: [outputs, inputs], type: dnnl_f32, tag: dnnl_ab)
        let attributes = try DNNLAttributes()
        stream = try DNNLStream(engine: engine)
        plain = try DNNLMemory(plainDesc, engine: engine, pointer: nil)
        master = try DNNLMemory(masterDesc, engine: engine, pointer: nil)
        let toMaster = try DNNLPrimitive(DNNLPrimitiveDesc(reorderFrom: plainDesc, to: masterDesc, attributes: attributes,
                                                           engine: engine, what: "plain→master weights"),
                                         what: "reorder plain→master weights")
        let toPlain = try DNNLPrimitive(DNNLPrimitiveDesc(reorderFrom: masterDesc, to: plainDesc, attributes: attributes,
                                                          engine: engine, what: "master→plain weights"),
                                        what: "reorder master→plain weights")
        plainToMaster = try BoundPrimitive(toMaster, [(DNNL_ARG_FROM, plain), (DNNL_ARG_TO, master)], engine: engine)
        masterToPlain = try BoundPrimitive(toPlain, [(DNNL_ARG_FROM, master), (DNNL_ARG_TO, plain)], engine: engine)
        var scratch = max(toMaster.scratchpad.bytes, toPlain.scratchpad.bytes)
        if let copyDesc {
            let copyMemory = try DNNLMemory(copyDesc, engine: engine, pointer: nil)
            let toCopy = try DNNLPrimitive(DNNLPrimitiveDesc(reorderFrom: masterDesc, to: copyDesc, attributes: attributes,
                                                             engine: engine, what: "fp32 master→weight copy"),
                                           what: "reorder fp32 master→weight copy")
            copy = copyMemory
            masterToCopy = try BoundPrimitive(toCopy, [(DNNL_ARG_FROM, master), (DNNL_ARG_TO, copyMemory)], engine: engine)
            scratch = max(scratch, toCopy.scratchpad.bytes)
            pairedLayout = PairedBF16Layout(master: masterDesc, low: copyDesc)
        } else {
            copy = nil
            masterToCopy = nil
            pairedLayout = nil
        }
        scratchpad = AlignedBuffer(bytes: scratch)
    }

    /// Reorders plain `[outputs][inputs]` values into the master layout (padding written as zeros).
    func toMaster(plain source: UnsafePointer<Float>, master destination: UnsafeMutablePointer<Float>) {
        plain.point(at: source)
        master.point(at: destination)
        plainToMaster.execute(on: stream, scratchpad: scratchpad.pointer)
        stream.wait()
    }

    /// Reorders a master-layout buffer (weights or a diff-weights buffer) into plain order.
    func toPlain(master source: UnsafePointer<Float>, plain destination: UnsafeMutablePointer<Float>) {
        master.point(at: source)
        plain.point(at: destination)
        masterToPlain.execute(on: stream, scratchpad: scratchpad.pointer)
        stream.wait()
    }

    /// Writes the fp32 master into the weight copy (layers with a copy only). The bf16 copy's
    /// padding is never written by the engine's pass: it stays as the first refresh (oneDNN's
    /// reorder, at init) left it, zero.
    func refresh(master source: UnsafePointer<Float>, copy destination: UnsafeMutableRawPointer) {
        if let pairedLayout, initialized {
            pairedLayout.convert(master: source, low: destination)
            return
        }
        refreshWithReorder(master: source, copy: destination)
        initialized = true
    }

    /// Whether the copy has been written once by the reorder (padding included).
    private var initialized = false

    /// The refresh through oneDNN's reorder (every element of the copy, padding included).
    func refreshWithReorder(master source: UnsafePointer<Float>, copy destination: UnsafeMutableRawPointer) {
        guard let masterToCopy, let copy else { return }
        master.point(at: source)
        copy.point(at: destination)
        masterToCopy.execute(on: stream, scratchpad: scratchpad.pointer)
        stream.wait()
    }
}

/// oneDNN's fp32 master layout of bf16 layers on AVX-512 and AMX, `AB16b<X>a` over
/// `[outputs][inputs]`: inner block 16 inputs × X outputs (X a multiple of 16), outputs innermost.
/// What the bf16 refresh (`PairedBF16Layout`) and the engine's weight-gradient kernel
/// (`PackedWeightGradient`) walk.
struct BlockedMasterLayout: Sendable {
    /// Outputs per inner block (X).
    let block: Int
    /// Padded outputs and padded inputs.
    let paddedOutputs: Int
    let paddedInputs: Int
    /// Outer strides (elements) of an output block and of a block of 16 inputs.
    let outputStride: Int
    let inputStride: Int

    /// nil unless `desc` is such a layout (two dimensions, no offset).
    init?(_ desc: DNNLMemoryDesc) {
        guard let m = desc.blockedLayout, m.dims.count == 2, m.innerIndices == [1, 0], m.innerBlocks.count == 2,
              m.innerBlocks[0] == 16, m.innerBlocks[1] % 16 == 0, m.offset0 == 0 else { return nil }
        block = m.innerBlocks[1]
        paddedOutputs = m.paddedDims[0]
        paddedInputs = m.paddedDims[1]
        outputStride = m.strides[0]
        inputStride = m.strides[1]
    }

    /// Whether the layout holds its rows one after another: each output block is `outputStride`
    /// consecutive floats in which input `b`'s row of `block` outputs starts at `b · block`.
    var rowsAreSequential: Bool { inputStride == 16 * block && outputStride == paddedInputs * block }
}

/// The master and bf16 weight layouts oneDNN's brgemm inner products choose on AVX-512 and AMX:
/// master `AB16b<X>a` (fp32; inner block 16 inputs × X outputs, outputs innermost) and copy
/// `AB<K>b<X>a2b` (bf16; inputs in blocks of 2K, each pair of inputs interleaved per output: K = 16
/// on AMX, 8 with avx512_core_bf16). Two consecutive master rows (inputs b, b+1 of one block, X
/// outputs each) become one copy row of X pairs, so the refresh is a contiguous
/// convert-and-interleave per row pair.
struct PairedBF16Layout: Sendable {
    /// The master's layout.
    let masterLayout: BlockedMasterLayout
    /// Inputs per copy block (2K).
    let lowInputBlock: Int
    /// Outer strides (elements) of the copy's output block and input block.
    let lowOutputStride: Int
    let lowInputStride: Int

    /// Outputs per inner block (X), and the master's padded outputs and inputs and outer strides.
    var block: Int { masterLayout.block }
    var paddedOutputs: Int { masterLayout.paddedOutputs }
    var paddedInputs: Int { masterLayout.paddedInputs }
    var masterOutputStride: Int { masterLayout.outputStride }
    var masterInputStride: Int { masterLayout.inputStride }

    /// nil unless the two descriptors are exactly that pair.
    init?(master: DNNLMemoryDesc, low: DNNLMemoryDesc) {
        guard let m = BlockedMasterLayout(master), let dims = master.blockedLayout?.dims, let l = low.blockedLayout,
              l.dims == dims, l.innerIndices == [1, 0, 1], l.innerBlocks.count == 3, l.innerBlocks[0] > 0, l.innerBlocks[2] == 2,
              l.innerBlocks[1] == m.block, l.paddedDims[0] == m.paddedOutputs, m.paddedInputs <= l.paddedDims[1],
              l.offset0 == 0 else { return nil }
        masterLayout = m
        lowInputBlock = 2 * l.innerBlocks[0]
        lowOutputStride = l.strides[0]
        lowInputStride = l.strides[1]
    }

    /// Number of output blocks (X outputs each); block `o` of the master is its elements
    /// `o·masterOutputStride ..< (o+1)·masterOutputStride`.
    var outputBlocks: Int { paddedOutputs / block }

    /// Whether the output blocks are exactly a master of `count` floats (no trailing padding), so
    /// that ranges of whole output blocks cover it.
    func coversMaster(of count: Int) -> Bool { outputBlocks * masterOutputStride == count }

    /// Writes every element of the copy that the master holds (the copy's extra input padding is
    /// left untouched), or only those of `outputBlocks`.
    func convert(master: UnsafePointer<Float>, low: UnsafeMutableRawPointer, outputBlocks range: Range<Int>? = nil) {
        for outputBlock in range ?? 0..<outputBlocks {
            var b = 0
            while b < paddedInputs {
                convertRowPair(master: master, low: low, outputBlock: outputBlock, input: b)
                b += 2
            }
        }
    }

    /// Whether the master holds its rows one after another (`BlockedMasterLayout.rowsAreSequential`).
    /// Then consecutive runs of `2 · block` floats from an output block's start are its row pairs
    /// (`convertRowPair(master:low:startingAt:)`).
    var rowsAreSequential: Bool { masterLayout.rowsAreSequential }

    /// Converts the row pair (inputs b, b+1) of `outputBlock` into its copy row.
    @inline(__always)
    func convertRowPair(master: UnsafePointer<Float>, low: UnsafeMutableRawPointer, outputBlock: Int, input b: Int) {
        let x = block
        let masterElement: Int = outputBlock &* masterOutputStride &+ (b / 16) &* masterInputStride &+ (b % 16) &* x
        let row0 = master + masterElement
        // bf16 elements → pairs: the copy row of inputs (b, b+1) starts at an even element.
        let lowRow: Int = (b % lowInputBlock) / 2
        let lowElement: Int = outputBlock &* lowOutputStride &+ (b / lowInputBlock) &* lowInputStride &+ lowRow &* 2 &* x
        BF16Kernels.interleavePairs(row0, row0 + x, into: low.assumingMemoryBound(to: UInt32.self) + lowElement / 2, count: x)
    }

    /// Converts the row pair whose first master element is `element` (with `rowsAreSequential`,
    /// `element` a multiple of `2 · block`).
    @inline(__always)
    func convertRowPair(master: UnsafePointer<Float>, low: UnsafeMutableRawPointer, startingAt element: Int) {
        let outputBlock = element / masterOutputStride
        convertRowPair(master: master, low: low, outputBlock: outputBlock, input: (element - outputBlock &* masterOutputStride) / block)
    }
}
