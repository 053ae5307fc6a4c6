import Glibc
import Synchronization

/// A persistent, trainable tensor (weights, biases, embedding tables): 64-byte-aligned,
/// zero-initialized float storage that lives for the whole run, outside the step allocator.
///
/// Layout is the owner's business: a dense layer may keep its weights in oneDNN's blocked
/// layout; an embedding table is `rows × columns` row-major. Element-wise optimizers do not care.
///
/// `@unchecked Sendable`: the step graph orders every read and write of `values` (forward and
/// backward nodes run before the update node of the same parameter), so no lock is needed.
public final class ParameterTensor: @unchecked Sendable {
    public let name: String
    /// Number of floats in `values` (including any layout padding).
    public let count: Int
    /// Logical rows and columns (embedding: buckets × dim; dense weights: outputs × inputs; bias: 1 × n).
    public let rows: Int
    public let columns: Int
    /// The storage.
    public let values: UnsafeMutablePointer<Float>
    /// How a dense layer's weights (and the optimizer slots beside them) are stored, in oneDNN's
    /// tag notation over `[rows][columns]`: `ab` row-major, `ba` transposed, `AB16b64a` blocked;
    /// nil for tensors that are always `rows × columns` row-major (embeddings, biases). A checkpoint
    /// records it, so a restore can tell a transposed layout from a plain one of the same size.
    public let layout: String?

    public init(name: String, rows: Int, columns: Int, count: Int? = nil, layout: String? = nil) {
        self.name = name
        self.rows = rows
        self.columns = columns
        self.layout = layout
        self.count = count ?? rows * columns
        var raw: UnsafeMutableRawPointer?
        let bytes = max(self.count, 16) * MemoryLayout<Float>.stride
        // Not inside `precondition`: -Ounchecked (RecEngine's release setting) skips its condition.
        let rc = posix_memalign(&raw, 64, bytes)
        precondition(rc == 0 && raw != nil, "posix_memalign(\(bytes)) failed for \(name): \(rc)")
        memset(raw!, 0, bytes)
        values = raw!.assumingMemoryBound(to: Float.self)
    }

    /// Optimizer state kept beside this parameter (Adam `m`/`v`, Adagrad accumulators), attached by
    /// the optimizer that owns it, so a checkpoint reaches every slot from a model's `parameters`.
    public struct Slot: @unchecked Sendable {
        // @unchecked Sendable: `pointer` is owned by `owner` (kept alive here); the step graph
        // orders its reads and writes as it does the parameter's own values.
        /// Name, unique per parameter (`adam.m`, `adam.v`, `adam.mv` (sparse: m and v per row), `adagrad.accumulator`).
        public let name: String
        public let pointer: UnsafeMutablePointer<Float>
        public let count: Int
        let owner: AnyObject
    }

    private let attachedSlots = Mutex<[Slot]>([])
    private let reloadHooks = Mutex<[@Sendable () -> Void]>([])

    /// The optimizer state attached so far, in attachment order.
    public var slots: [Slot] { attachedSlots.withLock { $0 } }

    /// Attaches an optimizer state buffer (`count` floats at `pointer`, owned by `owner`); a second
    /// attachment under the same name is ignored.
    func attachSlot(_ name: String, pointer: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        attachedSlots.withLock { slots in
            guard !slots.contains(where: { $0.name == name }) else { return }
            slots.append(Slot(name: name, pointer: pointer, count: count, owner: owner))
        }
    }

    /// Registers work to redo after `values` were overwritten from outside the graph (a dense
    /// layer's bf16 weight copy is refreshed from the restored fp32 master).
    func onReload(_ hook: @escaping @Sendable () -> Void) { reloadHooks.withLock { $0.append(hook) } }

    /// Runs the reload hooks (after a checkpoint restore wrote `values`).
    public func didReload() {
        for hook in reloadHooks.withLock({ $0 }) { hook() }
    }

    deinit { free(values) }

    /// A copy of the values, for tests and checkpoints.
    public func snapshot() -> [Float] {
        Array(UnsafeBufferPointer(start: values, count: count))
    }

    /// Overwrites the values from `source` (must have `count` elements).
    public func load(_ source: [Float]) {
        precondition(source.count == count, "\(name): expected \(count) values, got \(source.count)")
        source.withUnsafeBufferPointer { values.update(from: $0.baseAddress!, count: count) }
    }
}
