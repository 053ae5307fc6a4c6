import Foundation
@testable import RecHarness

/// A fake `rectune` executable for runner tests: `train --json PATH …` behaves according to its
/// knob flags, so one spec exercises every failure mode:
/// executor=inline → SIGSEGV; executor=costmodel → exit 3; allocator=adaptive → ignores SIGTERM and
/// hangs (with a grandchild `sleep` whose pid goes to $FAKE_PIDFILE); bf16=on → garbage result;
/// stage=on → result without `auc`; numa=interleave → echoes numa=local; otherwise a valid contract result (samples_per_sec 1000 ×
/// micro_batch). $FAKE_SLEEP seconds of sleep before a valid result; $FAKE_LOG gets one line per start.
enum RunnerFakeEngine {
    static let script = #"""
    #!/usr/bin/env python3
    import sys, os, json, time, signal, subprocess
    args = sys.argv[1:]
    opts = {}
    i = 1
    while i < len(args):
        if args[i].startswith("--") and i + 1 < len(args):
            opts[args[i][2:]] = args[i + 1]; i += 2
        else:
            i += 1
    if os.environ.get("FAKE_LOG"):
        with open(os.environ["FAKE_LOG"], "a") as f: f.write(" ".join(args) + "\n")
    sys.stderr.write("fake engine starting %s\n" % opts.get("executor"))
    sys.stderr.flush()
    if opts.get("executor") == "inline":
        os.kill(os.getpid(), signal.SIGSEGV)
    if opts.get("executor") == "costmodel":
        sys.stderr.write("error: bad flag\n"); sys.exit(3)
    if opts.get("allocator") == "adaptive":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen(["sleep", "60"])
        if os.environ.get("FAKE_PIDFILE"):
            with open(os.environ["FAKE_PIDFILE"], "w") as f: f.write(str(child.pid))
        time.sleep(60)
    if opts.get("bf16") == "on":
        with open(opts["json"], "w") as f: f.write("this is not json {")
        sys.exit(0)
    time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))
    steps, warm = int(opts["steps"]), int(opts["warmup-steps"])
    mb = int(opts.get("micro-batch", "1"))
    # the config echo: every knob flag given, as the real engine echoes it (integers as numbers)
    shape = {"json", "model", "batch", "steps", "warmup-steps", "data"}
    echo = {k.replace("-", "_"): (int(v) if v.lstrip("-").isdigit() else v) for k, v in opts.items() if k not in shape}
    if opts.get("numa") == "interleave":
        echo["numa"] = "local"  # an engine that silently ran something else
    result = {
        "model": opts["model"], "config": echo, "steps": steps, "warmup_steps": warm,
        "batch": int(opts["batch"]), "samples_per_sec": 1000.0 * mb,
        "step_ms": {"p50": 5.0, "p90": 6.0, "p99": 9.0, "mean": 5.5},
        "auc": 0.75, "logloss": 0.45, "wall_s": 0.2, "train_loss_first": 0.6, "train_loss_last": 0.5,
        "eval_rows": 100, "skipped_rows": 0,
        "counters": {"minor-faults": 40.0 * steps, "executor.steals": 3.0 * steps, "cycles": 0},
        "counters_warmup": {"minor-faults": 100.0 * warm},
        "counter_info": {"minor-faults": {"source": "perf_event", "unit": "", "scaled": False},
                         "cycles": {"unavailable": "perf_event_open(cycles): ENOENT"}},
        "engine": {"version": "fake", "onednn_version": "0", "onednn_isa": "none", "inter_threads": 2, "intra_threads": 1},
    }
    if opts.get("stage") == "on":
        del result["auc"]
    with open(opts["json"], "w") as f: json.dump(result, f)
    """#

    /// Writes the fake engine into `dir` and returns its path.
    static func install(in dir: URL) throws -> String {
        let path = dir.appendingPathComponent("fake-rectune").path
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    /// Options for a runner on `store` using the fake engine, silent, with short kill grace.
    static func options(store: ResultStore, dir: URL) throws -> SweepOptions {
        var o = SweepOptions(storePath: store.path, executablePath: try install(in: dir))
        o.killGraceSeconds = 0.5
        o.host = StoreTests.host
        o.bf16Unsupported = nil  // the fake engine runs bf16 on any host
        o.dataDirectory = dir.appendingPathComponent("data").path
        return o
    }

    /// A file data spec so runner tests never generate data.
    static func spec(_ body: String, dir: URL) throws -> LoadedSpec {
        let data = dir.appendingPathComponent("train.tsv")
        try "0\t1\n".write(to: data, atomically: true, encoding: .utf8)
        return try SpecParser.parse("data: {path: \(data.path)}\nbatch: 8\nsteps: 10\nwarmup_steps: 4\n" + body, path: "runner-test.yaml")
    }
}
