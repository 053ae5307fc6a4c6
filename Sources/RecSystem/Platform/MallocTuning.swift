internal import CNUMA

/// glibc malloc tunables that change what the `system` step allocator costs.
public enum MallocTuning {
    /// Fixes glibc's `M_MMAP_THRESHOLD` (calls `mallopt`). glibc's default threshold starts at
    /// 128 KiB and rises to the size of any mmapped chunk that is freed (up to 32 MiB), after which
    /// such sizes come from the heap and are reused without page faults; a fixed threshold keeps
    /// every larger allocation on mmap, faulting its pages in on each use.
    /// - Returns: false when glibc rejected the value.
    @discardableResult
    public static func setMmapThreshold(bytes: Int) -> Bool {
        rt_set_malloc_mmap_threshold(Int32(clamping: bytes)) == 1
    }
}
