// RecStats: statistics for comparing runs (no dependency on the store or the engine).
