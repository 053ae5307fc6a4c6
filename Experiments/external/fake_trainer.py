#!/usr/bin/env python3
"""A stand-in for an external training script, driven by Experiments/external-example.yaml.

Knobs arrive as arguments (--threads N) and environment variables (FAKE_PRECISION); it does a
little real work (allocating and touching buffers, so page-fault counters move) and prints its
result as one JSON line on stdout, the `last_json_line` result rule.
"""
import argparse, json, os, time

p = argparse.ArgumentParser()
p.add_argument("--model", default="toy")
p.add_argument("--steps", type=int, default=50)
p.add_argument("--batch", type=int, default=256)
p.add_argument("--threads", type=int, default=1)
a = p.parse_args()
precision = os.environ.get("FAKE_PRECISION", "fp32")

speed = (1.4 if precision == "bf16" else 1.0) * (1.0 + 0.3 * (a.threads - 1))
step_ms = []
start = time.perf_counter()
for step in range(a.steps):
    t = time.perf_counter()
    buf = bytearray(256 * 1024)            # fresh memory each step: minor page faults
    for i in range(0, len(buf), 4096):
        buf[i] = 1
    time.sleep(0.002 / speed)
    step_ms.append((time.perf_counter() - t) * 1000)
wall = time.perf_counter() - start
step_ms.sort()
print(f"trained {a.model} for {a.steps} steps")
print(json.dumps({
    "model": a.model, "steps": a.steps, "batch": a.batch,
    "samples_per_sec": a.steps * a.batch / wall,
    "step_ms": {"p50": step_ms[len(step_ms) // 2], "p99": step_ms[int(len(step_ms) * 0.99)],
                "mean": sum(step_ms) / len(step_ms)},
    "wall_s": wall,
}))
