/// A `rectune train` knob as the harness sees it: its spec name, the train flag, and its allowed values.
public struct KnobDescriptor: Sendable, Equatable {
    /// Name in experiment specs and result `config` (snake_case), e.g. `micro_batch`.
    public let name: String
    /// The `rectune train` option, e.g. `--micro-batch`. Every knob takes a value: `--stage on`.
    public let flag: String
    /// Allowed values; empty means any positive integer.
    public let allowed: [String]
    /// Default value as text.
    public let defaultValue: String
    public let help: String
}

extension TrainConfig {
    /// The runtime knobs (what sweeps vary). Model shape and data options are `fixed` settings in specs.
    public static let knobs: [KnobDescriptor] = [
        KnobDescriptor(name: "executor", flag: "--executor", allowed: ExecutorPolicy.allCases.map(\.rawValue), defaultValue: "pool",
                       help: "step executor: work-stealing pool, inline (one thread), or cost model"),
        KnobDescriptor(name: "inter_threads", flag: "--inter-threads", allowed: [], defaultValue: "2", help: "inter-op worker threads"),
        KnobDescriptor(name: "intra_threads", flag: "--intra-threads", allowed: [], defaultValue: "1", help: "oneDNN (OpenMP) threads per op"),
        KnobDescriptor(name: "costmodel_start", flag: "--costmodel-start", allowed: [], defaultValue: "10", help: "first step the cost model profiles"),
        KnobDescriptor(name: "costmodel_stop", flag: "--costmodel-stop", allowed: [], defaultValue: "20", help: "step at which the cost model plan takes over"),
        KnobDescriptor(name: "pin_threads", flag: "--pin-threads", allowed: ["off", "on"], defaultValue: "off", help: "pin executor threads to CPUs"),
        KnobDescriptor(name: "numa", flag: "--numa", allowed: NUMAPolicy.allCases.map(\.rawValue), defaultValue: "off", help: "NUMA memory policy"),
        KnobDescriptor(name: "allocator", flag: "--allocator", allowed: AllocatorPolicy.allCases.map(\.rawValue), defaultValue: "system",
                       help: "step-tensor allocator"),
        KnobDescriptor(name: "alloc_warmup_start", flag: "--alloc-warmup-start", allowed: [], defaultValue: "5", help: "first step the adaptive allocator records"),
        KnobDescriptor(name: "alloc_warmup_steps", flag: "--alloc-warmup-steps", allowed: [], defaultValue: "10", help: "steps the adaptive allocator records"),
        KnobDescriptor(name: "malloc_mmap_threshold", flag: "--malloc-mmap-threshold", allowed: [], defaultValue: "0",
                       help: "glibc M_MMAP_THRESHOLD in bytes for the system allocator (0 = glibc's adaptive default)"),
        KnobDescriptor(name: "stage", flag: "--stage", allowed: ["off", "on"], defaultValue: "off", help: "prepare batches ahead on producer threads"),
        KnobDescriptor(name: "stage_capacity", flag: "--stage-capacity", allowed: [], defaultValue: "4", help: "batches the stage queue holds"),
        KnobDescriptor(name: "stage_threads", flag: "--stage-threads", allowed: [], defaultValue: "1", help: "stage producer threads"),
        KnobDescriptor(name: "micro_batch", flag: "--micro-batch", allowed: [], defaultValue: "1", help: "micro-batches per step"),
        KnobDescriptor(name: "bf16", flag: "--bf16", allowed: ["off", "on"], defaultValue: "off", help: "MLP layers in bf16"),
    ]

    /// Fixed (non-knob) settings a spec may pass to `rectune train` through `fixed:`.
    public static let settings: [KnobDescriptor] = [
        KnobDescriptor(name: "embedding_dim", flag: "--embedding-dim", allowed: [], defaultValue: "16", help: "embedding dimension"),
        KnobDescriptor(name: "hash_buckets", flag: "--hash-buckets", allowed: [], defaultValue: "10000", help: "hash buckets per categorical column"),
        KnobDescriptor(name: "eval_rows", flag: "--eval-rows", allowed: [], defaultValue: "10000", help: "held-out evaluation rows"),
        KnobDescriptor(name: "seed", flag: "--seed", allowed: [], defaultValue: "1", help: "random seed"),
        KnobDescriptor(name: "bad_rows", flag: "--bad-rows", allowed: BadRowPolicy.allCases.map(\.rawValue), defaultValue: "skip", help: "malformed row policy"),
    ]
}
