internal import CDNNL

/// A dense layer's weight-layout reorders: plain `[outputs][inputs]` ⇄ fp32 master (blocked), and
/// fp32 master → bf16 copy. Owns its own stream and scratchpad, so refreshing one layer's weights
/// never waits for another layer or a worker.
///
/// `@unchecked Sendable`: only ever used inside `DenseLayer.maintenance.withLock`, which serializes
/// every use of its stream, scratchpad and memory objects.
final class WeightMaintenance: @unchecked Sendable {
    private let stream: DNNLStream
    private let scratchpad: AlignedBuffer
    private let plain: DNNLMemory
    private let master: DNNLMemory
    private let low: DNNLMemory?
    private let plainToMaster: BoundPrimitive
    private let masterToPlain: BoundPrimitive
    private let masterToLow: BoundPrimitive?

    init(master masterDesc: DNNLMemoryDesc, low lowDesc: DNNLMemoryDesc?, outputs: Int, inputs: Int,
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
        if let lowDesc {
            let lowMemory = try DNNLMemory(lowDesc, engine: engine, pointer: nil)
            let toLow = try DNNLPrimitive(DNNLPrimitiveDesc(reorderFrom: masterDesc, to: lowDesc, attributes: attributes,
                                                            engine: engine, what: "fp32 master→bf16 weights"),
                                          what: "reorder fp32 master→bf16 weights")
            low = lowMemory
            masterToLow = try BoundPrimitive(toLow, [(DNNL_ARG_FROM, master), (DNNL_ARG_TO, lowMemory)], engine: engine)
            scratch = max(scratch, toLow.scratchpad.bytes)
        } else {
            low = nil
            masterToLow = nil
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

    /// Converts the fp32 master into the bf16 copy (bf16 layers only).
    func refresh(master source: UnsafePointer<Float>, low destination: UnsafeMutableRawPointer) {
        guard let masterToLow, let low else { return }
        master.point(at: source)
        low.point(at: destination)
        masterToLow.execute(on: stream, scratchpad: scratchpad.pointer)
        stream.wait()
    }
}
