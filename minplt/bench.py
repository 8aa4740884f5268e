"""`python -m minplt bench`: what PLT's parallel schedule buys on this machine.

Measured in one run, on the machine it runs on (never asserted by a test):

1. Decode latency at batch 1: milliseconds per token of vanilla, loop-L and plt-L (the
   parallel schedule), and plt-2 with the sequential schedule, on the numpy and numba
   backends; KV-cache bytes beside the model's table (docs/method.md §8); the weight
   bandwidth each step reaches against a 1-row product's (the backend's own product:
   numpy's `@`, or the compiled step's packed product). A second, small section
   repeats it at width 256, where Python overhead, not weight reads, sets the time.
2. With --batch 1,2,4,...: the same variants decoding B sequences at once, ms per step
   and tokens/s, beside the roofline of each step (minplt/roofline.py) from this
   machine's read bandwidth and FLOP rate, both measured in the same run.
3. The products of R rows: numpy's `@`, kernels.linear_rows and the compiled step's packed
   product, for R = 1..128: what R rows cost against one, and where BLAS wins.
4. Training throughput (forward + backward + AdamW) at the "small" preset.

Every ratio printed (plt-2/vanilla, plt-2/loop-2, numba/numpy, ...) comes from this run.
Results go to the terminal and to a JSON file (default out/bench/bench.json), which
`python -m visualizations.render_all --bench out/bench/bench.json` draws.

    python -m minplt bench                        # batch 1, both sections (minutes)
    python -m minplt bench --batch 1,2,4,8,16,32  # and the batch sweep
    python -m minplt bench --quick                # tiny shapes, seconds
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

from minplt import checkpoint, roofline, timing
from minplt import model as M

DEFAULT_VARIANTS = "vanilla,loop-2,loop-3,plt-2,plt-3"


@dataclasses.dataclass(frozen=True)
class Size:
    """One benchmark size: the model (a Config without family) and the decode run."""
    config: M.Config                # width, heads, layers, vocabulary of the model
    prompt: int                     # prompt tokens, prefilled and not timed
    new_tokens: int                 # decode steps timed per run
    repeats: int                    # timed runs per case, after one warm-up run


BIG = Size(M.PRESETS["bench"], prompt=1024, new_tokens=64, repeats=3)
SMALL = Size(dataclasses.replace(M.PRESETS["bench"], n_embd=256, n_head=4, d_ff=704),
             prompt=256, new_tokens=64, repeats=3)
QUICK = Size(M.make_config("vanilla", preset="tiny", vocab_size=64, n_embd=64, d_ff=176,
                           window=64), prompt=16, new_tokens=4, repeats=1)
QUICK_SMALL = dataclasses.replace(QUICK, config=dataclasses.replace(QUICK.config, n_embd=32,
                                                                    d_ff=64), prompt=8)
SWEEP_ROWS = (1, 2, 4, 8, 16, 32, 48, 64, 96, 128)     # linear_rows against BLAS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    size = parser.add_argument_group("model size (default: the 'bench' preset)")
    for name in ("n_embd", "n_head", "d_ff", "n_layer", "vocab_size"):
        size.add_argument("--" + name.replace("_", "-"), type=int, default=None,
                          help=f"config.{name} ({getattr(BIG.config, name)})")
    size.add_argument("--prompt", type=int, default=None,
                      help=f"prompt tokens, prefilled and not timed ({BIG.prompt})")
    size.add_argument("--new-tokens", type=int, default=None,
                      help=f"decode steps timed per run ({BIG.new_tokens})")
    size.add_argument("--repeats", type=int, default=None,
                      help=f"timed runs per case, after one warm-up run ({BIG.repeats})")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS,
                        help=f"comma-separated variants to decode (default {DEFAULT_VARIANTS})")
    parser.add_argument("--sequential", default="plt-2",
                        help="CLP variants also decoded with the sequential schedule "
                             "(default plt-2; '' for none)")
    parser.add_argument("--backends", default="numpy,numba",
                        help="comma-separated decode backends: numpy, numba (default both)")
    parser.add_argument("--batch", default=None,
                        help="batch sizes to sweep, e.g. 1,2,4,8,16,32 (numba backend; "
                             "default: no sweep)")
    section = parser.add_mutually_exclusive_group()
    section.add_argument("--small", action="store_true",
                         help="run only the small decode section (width 256), where Python "
                              "overhead dominates")
    section.add_argument("--no-small", action="store_true", help="skip the small section")
    parser.add_argument("--no-train", action="store_true", help="skip training throughput")
    parser.add_argument("--no-demo-size", action="store_true",
                        help="skip the decode steps at the demo's size (width 64, one block)")
    parser.add_argument("--no-kernels", action="store_true",
                        help="skip the products table (R rows: numpy, linear_rows, packed)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny shapes (width 64, 2 layers, prompt 16, 4 new tokens, "
                             "1 repeat): finishes in seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join("out", "bench", "bench.json"),
                        help="where to write the JSON results (default out/bench/bench.json)")


# ----------------------------------------------------------------------------------------
# Cases: configs, (variant, schedule) pairs, the machine

def decode_config(variant: str, size: Size, capacity: int) -> M.Config:
    """The size's model as `variant`, with room for `capacity` positions."""
    fields = {f: getattr(size.config, f) for f in ("vocab_size", "n_embd", "n_head", "d_ff",
                                                   "n_layer", "window")}
    return M.make_config(variant, preset="bench", block_size=max(capacity, 1), **fields)


def decode_cases(variants, sequential):
    """(variant, schedule) pairs: the parallel schedule for CLP variants, else sequential;
    then the CLP variants listed in `sequential` once more with the sequential schedule."""
    cases = [(v, "parallel" if M.FAMILIES[M.parse_variant(v)[0]][0] else "sequential")
             for v in variants]
    for variant in sequential:
        if not M.FAMILIES[M.parse_variant(variant)[0]][0]:
            raise ValueError(f"--sequential lists {variant!r}, which has no CLP and is "
                             "already decoded sequentially; list CLP variants (plt-2, ...)")
        if variant in variants:
            cases.append((variant, "sequential"))
    return cases


def machine_info(backends) -> dict:
    """CPU, threads and library versions; compiles the kernels when numba runs."""
    from minplt import kernels
    info = kernels.backend_info()
    machine = {"cpu": info["cpu"], "threads": info["threads"], "numpy": info["numpy"],
               "numba": info["numba"], "blas": info["blas"],
               "python": platform.python_version(), "jit_disabled": info["jit_disabled"],
               "omp_wait_policy": info["omp_wait_policy"], "decode_step": info["decode_step"]}
    if "numba" in backends:
        machine["kernel_compile_s"] = kernels.warmup("float32")
        machine["threading_layer"] = kernels.backend_info()["threading_layer"]
    return machine


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):                   # not on every platform
        return float("nan")


def settle(quick=False):
    """Pause before timing the other backend. OpenBLAS's threads keep spinning for a
    while after numpy's last product, and Numba's threads waiting at the end of each
    parallel loop then share the cores with them: the first numba steps after numpy
    work can run many times slower."""
    time.sleep(0.0 if quick else 0.5)


# ----------------------------------------------------------------------------------------
# Measurement

def copy_cache(cache: M.DecodeCache, backend: str, batch: int = 1) -> M.DecodeCache:
    """A fresh copy of a prefilled one-sequence cache, repeated for `batch` sequences and
    decoded on `backend`, so every timed run starts from the same state."""
    def tile(a, axis):
        return None if a is None else np.repeat(a, batch, axis=axis)
    return dataclasses.replace(cache.copy(), k=tile(cache.k, 2), v=tile(cache.v, 2),
                               k_ring=tile(cache.k_ring, 2), v_ring=tile(cache.v_ring, 2),
                               carried=tile(cache.carried, 1), pos=np.repeat(cache.pos, batch),
                               trace=[], ops=M.get_ops(backend))


def decode_run(params, cfg, cache0, first_token, n_steps, schedule, backend, batch=1):
    """Seconds of each of n_steps decode steps (of `batch` sequences) from a copy of the
    prefilled cache."""
    cache = copy_cache(cache0, backend, batch)
    tokens, times = np.full(batch, first_token), []
    for _ in range(n_steps):
        start = time.perf_counter()
        logits = M.step_batch(params, cfg, cache, tokens, schedule)
        times.append(time.perf_counter() - start)
        tokens = np.argmax(logits, axis=-1)
    return times


def one_row_bandwidth(params, cfg: M.Config, backend: str, repeats: int = 7) -> float:
    """GB/s of a 1-row product with every weight matrix of one step, read once each: the
    speed a memory-bound one-row decode step can reach at best (the best sweep), with the
    product the backend's step uses (numba: the packed product of the compiled step)."""
    names = [f"layers.{j}.{w}" for j in range(cfg.n_layer)
             for w in ("wq", "wk", "wv", "wo", "w1", "w3", "w2")] + ["lm_head"]
    weights = [params[name] for name in names]
    rng = np.random.default_rng(0)
    rows = {w.shape[0]: rng.standard_normal((1, w.shape[0])).astype(w.dtype) for w in weights}
    if backend == "numba":
        from minplt import kernels
        packed = [kernels.pack_columns(w) for w in weights]     # (N,C): x of width C

        def one_step():
            return [kernels.linear_rows_packed(rows[w.shape[1]], w) for w in packed]
    else:
        def one_step():
            return [rows[w.shape[0]] @ w for w in weights]
    seconds = timing.best(one_step, repeats=repeats, warmup=1)
    return sum(w.nbytes for w in weights) / seconds / 1e9


class Session:
    """The prefilled caches and shared weights of one size, for timing decode steps."""

    def __init__(self, size: Size, variants, seed: int, capacity: int):
        self.size = size
        self.configs = {v: decode_config(v, size, capacity) for v in variants}
        # One set of weights for every variant (a PLT config has every parameter: the
        # G-SWA gate is the only one others lack), so all variants read the same arrays.
        self.params = M.init_params(decode_config("plt-2", size, capacity), seed)
        prompt = np.random.default_rng(seed).integers(0, size.config.vocab_size, size.prompt)
        self.prefilled = {}                       # variant -> (cache after the prompt, token)
        for variant, cfg in self.configs.items():
            logits, cache = M.prefill(self.params, cfg, prompt, capacity=capacity)
            self.prefilled[variant] = (cache, int(np.argmax(logits)))

    def time_cases(self, cases, steps: int, repeats: int, log, quick=False) -> dict:
        """Seconds of every step of every case (variant, schedule, backend, batch).
        Runs are interleaved (repeat 1 of every case, then repeat 2, ...) so a burst of
        other work slows every case alike, and the ratios stay fair; each case is warmed
        up by a short run first."""
        times = {case: [] for case in cases}
        for repeat in range(repeats + 1):             # repeat 0: warm-up, not counted
            for i, (variant, schedule, backend, batch) in enumerate(cases):
                cache0, first = self.prefilled[variant]
                if i == 0 or backend != cases[i - 1][2]:
                    settle(quick)
                    # a throwaway run: the first steps after the pause run slower than
                    # the steady ones, and would land on whichever case comes first
                    decode_run(self.params, self.configs[variant], cache0, first,
                               min(steps, 3), schedule, backend, batch)
                seconds = decode_run(self.params, self.configs[variant], cache0, first,
                                     min(steps, 3) if repeat == 0 else steps, schedule,
                                     backend, batch)
                if repeat:
                    times[cases[i]] += seconds
            if repeat:
                log(f"  run {repeat}/{repeats}: " + ", ".join(
                    f"{label(*case)} {1e3 * statistics.median(times[case]):.2f}"
                    for case in cases) + " ms")
        return times


def label(variant, schedule, backend, batch=1):
    family = M.parse_variant(variant)[0]
    seq = " seq" if schedule == "sequential" and M.FAMILIES[family][0] else ""
    return f"{variant}{seq} {'np' if backend == 'numpy' else 'nb'}" + (f" B{batch}" if batch > 1 else "")


def decode_section(size, variants, sequential, backends, seed, log, quick=False):
    """Batch-1 decode rows and 1-row bandwidths of one model size."""
    session = Session(size, variants, seed, size.prompt + size.new_tokens)
    bandwidth = {}
    for b in backends:
        settle(quick)
        bandwidth[f"{b}_1row_gb_per_s"] = one_row_bandwidth(session.params, size.config, b)
    order = sorted(backends, key=lambda b: b != "numba")      # numba first, then numpy
    pairs = decode_cases(variants, sequential)
    cases = [(v, s, b, 1) for b in order for v, s in pairs]
    times = session.time_cases(cases, size.new_tokens, size.repeats, log, quick)
    for b in backends:                                   # again, keep the better figure
        settle(quick)
        key = f"{b}_1row_gb_per_s"
        bandwidth[key] = max(bandwidth[key], one_row_bandwidth(session.params, size.config, b))
    rows = []
    for variant, schedule, backend, _ in sorted(cases, key=lambda c: (
            pairs.index(c[:2]), backends.index(c[2]))):
        cfg, (cache0, _) = session.configs[variant], session.prefilled[variant]
        seconds = times[(variant, schedule, backend, 1)]
        ms = 1e3 * statistics.median(seconds)
        weight_bytes = roofline.weight_bytes_per_step(cfg, schedule)
        rows.append({"variant": variant, "backend": backend, "schedule": schedule,
                     "ms_per_token": ms, "ms_per_token_min": 1e3 * min(seconds),
                     "ms_per_token_max": 1e3 * max(seconds),
                     "kv_bytes": int(M.kv_cache_bytes(cfg, cache0)),
                     "kv_bytes_formula": int(M.kv_cache_bytes_formula(cfg, size.prompt)),
                     "weight_bytes_per_token": int(weight_bytes),
                     "weight_gb_per_s": weight_bytes / (ms / 1e3) / 1e9})
    return rows, bandwidth


def batch_section(size, variants, batches, seed, log, quick=False) -> dict:
    """ms per step and tokens/s of every variant at every batch size (numba backend),
    with the roofline of each step from the rates measured in this run."""
    steps = max(1, size.new_tokens // 2)     # the first steps after a pause run slow: time enough
    session = Session(size, variants, seed, size.prompt + steps + 1)
    gb_per_s = roofline.measure_bandwidth(n_bytes=(16 << 20) if quick else None)
    gflop_per_s = roofline.measure_flop_rate(size=128 if quick else 1024)
    log(f"  read bandwidth {gb_per_s:.1f} GB/s, FLOP rate {gflop_per_s:.1f} GFLOP/s "
        "(float32, measured now)")
    cases = [(v, s, "numba", b) for b in batches for v, s in decode_cases(variants, [])]
    times = session.time_cases(cases, steps, size.repeats, log, quick)
    rows = []
    for variant, schedule, _, batch in cases:
        ms = 1e3 * statistics.median(times[(variant, schedule, "numba", batch)])
        cfg = session.configs[variant]
        model = roofline.predict_ms(cfg, batch, size.prompt, schedule, gb_per_s, gflop_per_s)
        rows.append({"variant": variant, "schedule": schedule, "batch": batch,
                     "ms_per_step": ms, "tokens_per_s": batch / (ms / 1e3), **model,
                     "crossover_batch": roofline.crossover_batch(cfg, size.prompt, schedule,
                                                                 gb_per_s, gflop_per_s)})
    return {"gb_per_s": gb_per_s, "gflop_per_s": gflop_per_s, "rows": rows,
            "summary": batch_summary(rows)}


def batch_summary(rows) -> dict:
    """plt-2/vanilla and plt-2/loop-2 per batch, and the first batch where plt-2 costs
    more than 1.1x vanilla."""
    ms = {(r["variant"], r["batch"]): r["ms_per_step"] for r in rows}
    out = {"plt-2/vanilla": {}, "plt-2/loop-2": {}, "plt-2/vanilla above 1.1 from batch": None}
    for (variant, batch), value in sorted(ms.items(), key=lambda kv: kv[0][1]):
        if variant != "plt-2":
            continue
        for other in ("vanilla", "loop-2"):
            if (other, batch) in ms:
                out[f"plt-2/{other}"][batch] = value / ms[(other, batch)]
        ratio = out["plt-2/vanilla"].get(batch)
        if ratio and ratio > 1.1 and out["plt-2/vanilla above 1.1 from batch"] is None:
            out["plt-2/vanilla above 1.1 from batch"] = batch
    return out


def product_impls():
    """The products of R rows the table compares, each as (prepare(w), product(x, w')):
    numpy's `@`; kernels.linear_rows (BLAS from BLAS_MIN_ROWS rows); and the packed
    product of the compiled decode step, w packed once (transposed) beforehand."""
    from minplt import kernels
    return {"numpy": (lambda w: w, np.matmul),
            "rows": (lambda w: w, kernels.linear_rows),
            "packed": (kernels.pack_columns, kernels.linear_rows_packed)}


def kernel_section(shapes, rows_list, log, quick=False):
    """Lower-quartile microseconds of x (R,C) @ w (C,N) for each R and each product of
    product_impls, w from memory (cycling through copies that together exceed the
    last-level cache, as in decoding). The implementations take turns at every R, so a
    burst of other work on the machine slows them alike."""
    from minplt import kernels
    rng = np.random.default_rng(0)
    rows = []
    for C, N in shapes:
        w = rng.standard_normal((C, N)).astype(np.float32)
        n_copies = max(1, min(16 if quick else 64, (96 << 20) // w.nbytes))
        impls = {name: ([prepare(w.copy()) for _ in range(n_copies)], product)
                 for name, (prepare, product) in product_impls().items()}
        us = {name: [] for name in impls}
        for R in rows_list:
            x = rng.standard_normal((R, C)).astype(np.float32)
            for name, (copies, product) in impls.items():
                settle(quick)
                i = iter(range(1 << 30))
                times = timing.repeat(lambda: product(x, copies[next(i) % len(copies)]),
                                      repeats=max(10, len(copies)), warmup=3)
                us[name].append(1e6 * float(np.percentile(times, 25)))
        for name in impls:
            rows.append({"shape": [C, N], "resident": "memory", "impl": name,
                         "rows": list(rows_list), "us": us[name]})
    lines = [f"  {'w (C,N)':11s}{'impl':7s}" + "".join(f"{'R=' + str(R):>8s}" for R in rows_list)]
    for row in rows:
        lines.append(f"  {'%dx%d' % tuple(row['shape']):11s}{row['impl']:7s}"
                     + "".join(f"{t:8.0f}" for t in row["us"]))
        if row["impl"] == "packed":
            numpy = next(r["us"] for r in rows if r["shape"] == row["shape"]
                         and r["impl"] == "numpy")
            lines.append(f"  {'':11s}{'x R=1':7s}" + "".join(f"{t / row['us'][0]:8.2f}"
                                                            for t in row["us"]))
            lines.append(f"  {'':11s}{'/numpy':7s}" + "".join(f"{t / n:8.2f}"
                                                             for t, n in zip(row["us"], numpy)))
    lines.append(f"  rows = kernels.linear_rows (BLAS from R = {kernels.BLAS_MIN_ROWS}); packed "
                 "= kernels.linear_rows_packed, w packed transposed, 4 columns x 2 rows a "
                 "tile (the compiled step's product); 'x R=1': its time over its 1-row time")
    text = "\n".join(lines)
    log(text)
    return rows, text


def train_sizes(quick: bool) -> list[tuple[str, M.Config, int, int]]:
    """(name, shared stack, batch, sequence length) of the training measurements: the
    demo's (pointer chasing, experiments.SETTINGS) and the small preset's."""
    from minplt import experiments

    if quick:
        return [("tiny", M.PRESETS["tiny"], 2, 16)]
    demo = experiments.SETTINGS
    task = experiments.make_task(demo)
    return [("demo", dataclasses.replace(demo.model, vocab_size=task.vocab_size,
                                         block_size=task.block_size),
             demo.train.batch_size, task.block_size),
            ("small", dataclasses.replace(M.PRESETS["small"], vocab_size=256), 8, 64)]


# (backend, threads) of each training measurement: the NumPy reference, and the Numba
# kernels on one thread and on two (where the machine has two cores for this process).
TRAIN_RUNS = (("numpy", 1), ("numba", 1), ("numba", 2))


def train_throughput(variants, sizes, seed, repeats, log, runs=TRAIN_RUNS,
                     min_seconds: float = 0.3):
    """Tokens/s of a training step (forward, backward, gradient clipping, AdamW) for each
    size, variant and (backend, threads) of `runs`: the median of `repeats` timings of
    at least min_seconds each. Memory is kept for reuse as in training
    (parallel.keep_freed_memory)."""
    from minplt import parallel

    parallel.keep_freed_memory()
    runs = [(backend, n) for backend, n in runs if n <= parallel.default_workers()]
    rows = []
    rng = np.random.default_rng(seed)
    for size, stack, batch, seq in sizes:
        for variant in variants:
            looped = M.make_config(variant)
            cfg = dataclasses.replace(stack, n_loops=looped.n_loops, clp=looped.clp,
                                      kv_share=looped.kv_share, gswa=looped.gswa,
                                      block_size=max(seq, stack.block_size))
            tokens = rng.integers(0, cfg.vocab_size, (batch, seq + 1))
            row = {"size": size, "variant": variant, "batch": batch, "seq": seq,
                   "n_embd": cfg.n_embd, "tokens_per_s": {}}
            for backend, n in runs:
                params = M.init_params(cfg, seed)
                opt = M.AdamW(params, lr=1e-3, backend=backend)

                def train_step():
                    _, grads = M.loss_and_grads(params, cfg, tokens[:, :-1], tokens[:, 1:],
                                                backend)
                    M.clip_grad_norm(grads, 1.0, backend)
                    opt.step(params, grads)

                with parallel.threads(n):
                    train_step()                                  # compile, warm caches
                    per_step = statistics.median(timing.per_call(train_step, min_seconds)
                                                 for _ in range(repeats))
                row["tokens_per_s"][f"{backend} {n}t"] = batch * seq / per_step
            rows.append(row)
            log(f"  {size:6s} {variant:8s} " + "  ".join(
                f"{k} {v:9.0f}" for k, v in row["tokens_per_s"].items()) + " tokens/s")
    return rows


def train_table(rows) -> str:
    """Training tokens/s per (backend, threads), and the best Numba run over NumPy."""
    keys = list(rows[0]["tokens_per_s"])
    lines = [f"  {'size':6s} {'variant':8s} " + " ".join(f"{k:>11s}" for k in keys)
             + "   numba/numpy"]
    for r in rows:
        t = r["tokens_per_s"]
        best = max(v for k, v in t.items() if k.startswith("numba"))
        lines.append(f"  {r['size']:6s} {r['variant']:8s} "
                     + " ".join(f"{t[k]:11,.0f}" for k in keys)
                     + f"   {best / t['numpy 1t']:.2f}x")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------
# Ratios, targets, tables

def ratios(rows, bandwidth, prefix=""):
    """Time ratios between rows measured in the same run."""
    ms = {(r["variant"], r["backend"], r["schedule"]): r["ms_per_token"] for r in rows}

    def best(variant, backend):
        return ms.get((variant, backend, "parallel"), ms.get((variant, backend, "sequential")))
    out = {}
    for backend in dict.fromkeys(r["backend"] for r in rows):
        vanilla = best("vanilla", backend)
        for variant in dict.fromkeys(r["variant"] for r in rows):
            family, loops = M.parse_variant(variant)
            mine = best(variant, backend)
            if variant != "vanilla" and vanilla:
                out[f"{prefix}{backend}: {variant}/vanilla"] = mine / vanilla
            if family == "plt" and best(f"loop-{loops}", backend):
                out[f"{prefix}{backend}: {variant}/loop-{loops}"] = mine / best(f"loop-{loops}", backend)
            if (variant, backend, "sequential") in ms and (variant, backend, "parallel") in ms:
                out[f"{prefix}{backend}: {variant} sequential/parallel"] = \
                    ms[(variant, backend, "sequential")] / ms[(variant, backend, "parallel")]
    for (variant, backend, schedule), value in ms.items():
        if backend == "numba" and (variant, "numpy", schedule) in ms:
            out[f"{prefix}numba/numpy: {variant} {schedule}"] = value / ms[(variant, "numpy", schedule)]
    return out


TARGETS = (("plt-2/vanilla", "<=", 1.05), ("plt-3/vanilla", "<=", 1.10),
           ("plt-2/loop-2", "<=", 0.53), ("vanilla bandwidth / 1-row bandwidth", ">=", 0.85))


def targets(rows, bandwidth) -> list[dict]:
    """PLT's promise at batch 1, checked on the numba backend (printed, never asserted)."""
    values = {k.split(": ", 1)[1]: v for k, v in ratios(rows, bandwidth).items()
              if k.startswith("numba: ")}
    vanilla = next((r for r in rows if r["variant"] == "vanilla" and r["backend"] == "numba"), None)
    one_row = bandwidth.get("numba_1row_gb_per_s")
    if vanilla and one_row:
        values["vanilla bandwidth / 1-row bandwidth"] = vanilla["weight_gb_per_s"] / one_row
    return [{"name": name, "value": values[name], "goal": f"{op} {goal:.2f}",
             "met": bool(values[name] <= goal if op == "<=" else values[name] >= goal)}
            for name, op, goal in TARGETS if name in values]


BATCH_TARGETS = (("plt-2/vanilla", 1.15), ("measured/roofline", 1.6))   # batches 1-8
DEMO_TARGETS = (("plt-2/loop-2", 0.7), ("plt-2/vanilla", 1.3))


def batch_targets(result) -> list[dict]:
    """The issue's targets on the batch sweep (batches up to 8): plt-2/vanilla <= 1.15 at
    each batch, and every variant within 1.6x of its roofline (its worst batch)."""
    out = []
    for batch, value in result["summary"]["plt-2/vanilla"].items():
        if batch <= 8:
            out.append({"name": f"plt-2/vanilla at batch {batch}", "value": value,
                        "goal": "<= 1.15", "met": bool(value <= 1.15)})
    for variant in dict.fromkeys(r["variant"] for r in result["rows"]):
        worst = max(((r["ms_per_step"] / r["roofline_ms"], r["batch"]) for r in result["rows"]
                     if r["variant"] == variant and r["batch"] <= 8), default=None)
        if worst:
            out.append({"name": f"{variant} measured/roofline, worst of batches 1-8 "
                                f"(batch {worst[1]})", "value": worst[0], "goal": "<= 1.60",
                        "met": bool(worst[0] <= 1.6)})
    return out


def demo_targets(rows) -> list[dict]:
    """The issue's targets at the demo's size, numba backend, per step."""
    us = {r["variant"]: r["us_per_step"] for r in rows if r["backend"] == "numba"}
    out = []
    for name, goal in DEMO_TARGETS:
        mine, other = name.split("/")
        if mine in us and other in us:
            value = us[mine] / us[other]
            out.append({"name": f"demo size: {name}", "value": value, "goal": f"<= {goal:.2f}",
                        "met": bool(value <= goal)})
    return out


def targets_text(items) -> str:
    return "\n".join(f"  {t['name']:58s}{t['value']:7.3f} {t['goal']:>8s}  "
                      f"{'met' if t['met'] else 'MISSED'}" for t in items)


# ----------------------------------------------------------------------------------------
# The demo's size: width 64, one block, the pointer task's vocabulary

DEMO_VARIANTS = ("vanilla", "loop-2", "plt-2")


def demo_section(backends, seed, log, quick=False) -> list[dict]:
    """Microseconds per decode step at the size of `make demo` (experiments.SETTINGS: its
    model, its task's vocabulary and a prompt of its task), timed as the demo times it
    (model.step after a prefill, the best of the runs), the variants taking turns."""
    from minplt import experiments
    s = experiments.SETTINGS
    task = experiments.make_task(s)
    stack = dataclasses.replace(s.model, vocab_size=task.vocab_size,
                                block_size=max(s.model.block_size, task.block_size))
    prompt = task.tokenizer.encode(task.sample("val", np.random.default_rng(seed))[0])
    n_tokens = 4 if quick else 32
    configs = {}
    for variant in DEMO_VARIANTS:
        looped = M.make_config(variant)
        configs[variant] = dataclasses.replace(stack, n_loops=looped.n_loops, clp=looped.clp,
                                               kv_share=looped.kv_share, gswa=looped.gswa)
    params = M.init_params(configs["plt-2"], seed)      # every variant reads the same arrays
    best = {}
    for _ in range(2 if quick else 7):
        for backend in backends:
            for variant, cfg in configs.items():
                seconds = min(experiments.decode_times(params, cfg, prompt, n_tokens,
                                                       repeats=1, backend=backend))
                key = (variant, backend)
                best[key] = min(best.get(key, seconds), seconds)
    c = stack
    log(f"  width {c.n_embd}, {c.n_head} heads, F {c.d_ff}, {c.n_layer} block(s), vocab "
        f"{c.vocab_size}, prompt {len(prompt)}, {n_tokens} steps")
    return [{"variant": v, "backend": b, "us_per_step": 1e6 * t, "n_embd": c.n_embd,
             "n_layer": c.n_layer, "vocab_size": c.vocab_size, "prompt": len(prompt)}
            for (v, b), t in best.items()]


def demo_table(rows) -> str:
    vanilla = {r["backend"]: r["us_per_step"] for r in rows if r["variant"] == "vanilla"}
    lines = [f"  {'variant':9s}{'backend':8s}{'us/step':>10s}{'x vanilla':>10s}"]
    for r in rows:
        lines.append(f"  {r['variant']:9s}{r['backend']:8s}{r['us_per_step']:10.1f}"
                     f"{r['us_per_step'] / vanilla[r['backend']]:10.2f}")
    return "\n".join(lines)


def decode_table(rows, bandwidth, values) -> str:
    vanilla = {r["backend"]: r["ms_per_token"] for r in rows if r["variant"] == "vanilla"}
    lines = [f"  {'variant':9s}{'schedule':11s}{'backend':8s}{'ms/token':>10s}{'(min-max)':>16s}"
             f"{'x vanilla':>10s}{'weight GB/s':>12s}{'% 1-row':>8s}{'KV bytes':>13s}{'= table':>9s}"]
    for r in rows:
        one_row = bandwidth.get(f"{r['backend']}_1row_gb_per_s")
        rel = f"{r['ms_per_token'] / vanilla[r['backend']]:.2f}" if r["backend"] in vanilla else "-"
        spread = f"({r['ms_per_token_min']:.2f}-{r['ms_per_token_max']:.2f})"
        lines.append(f"  {r['variant']:9s}{r['schedule']:11s}{r['backend']:8s}"
                     f"{r['ms_per_token']:10.3f}{spread:>16s}{rel:>10s}{r['weight_gb_per_s']:12.1f}"
                     f"{100 * r['weight_gb_per_s'] / one_row if one_row else 0:7.0f}%"
                     f"{r['kv_bytes']:13,d}{'yes' if r['kv_bytes'] == r['kv_bytes_formula'] else 'NO':>9s}")
    lines.append("  1-row weight bandwidth (every matrix of a step, read once): " + ", ".join(
        f"{k.split('_')[0]} {v:.1f} GB/s" for k, v in bandwidth.items()))
    lines += [f"  {name:44s}{value:7.3f}" for name, value in values.items()]
    return "\n".join(lines)


def batch_table(result) -> str:
    lines = [f"  {'variant':9s}{'batch':>6s}{'ms/step':>10s}{'tokens/s':>10s}{'roofline ms':>13s}"
             f"{'bound':>9s}{'measured/roofline':>19s}{'read+arith ms':>15s}{'measured/sum':>14s}"]
    for r in result["rows"]:
        no_overlap = r["read_ms"] + r["compute_ms"]
        lines.append(f"  {r['variant']:9s}{r['batch']:6d}{r['ms_per_step']:10.2f}"
                     f"{r['tokens_per_s']:10.0f}{r['roofline_ms']:13.2f}{r['bound']:>9s}"
                     f"{r['ms_per_step'] / r['roofline_ms']:19.2f}{no_overlap:15.2f}"
                     f"{r['ms_per_step'] / no_overlap:14.2f}")
    s = result["summary"]
    for name in ("plt-2/vanilla", "plt-2/loop-2"):
        if s[name]:
            lines.append(f"  {name:14s}" + "  ".join(f"B{b}: {v:.2f}" for b, v in s[name].items()))
    lines.append(f"  plt-2 costs more than 1.1x vanilla from batch: "
                 f"{s['plt-2/vanilla above 1.1 from batch'] or 'not within the sweep'}"
                 "   (the paper: plt-2/loop-2 = 0.53 at batch 32, on GPUs)")
    lines.append("  roofline = max(read, arithmetic): the two fully overlapped; read+arith: not at "
                 "all (roofline.predict_ms)")
    cross = {r["variant"]: r["crossover_batch"] for r in result["rows"]}
    lines.append("  roofline: compute-bound from batch " + ", ".join(
        f"{v} {c if c is not None else 'never'}" for v, c in cross.items()))
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------
# The command

def sizes_from_args(args) -> tuple[Size, Size]:
    """The big and the small decode size, from the preset (or --quick) and the flags."""
    big, small = (QUICK, QUICK_SMALL) if args.quick else (BIG, SMALL)
    fields = {f: getattr(args, f) for f in ("n_embd", "n_head", "d_ff", "n_layer", "vocab_size")
              if getattr(args, f) is not None}
    run = {f: getattr(args, f) for f in ("prompt", "new_tokens", "repeats")
           if getattr(args, f) is not None}
    for name, value in run.items():
        if value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    big = dataclasses.replace(big, config=dataclasses.replace(big.config, **fields), **run)
    small = dataclasses.replace(small, config=dataclasses.replace(
        small.config, vocab_size=big.config.vocab_size),
        **{k: v for k, v in run.items() if k != "prompt"})
    return big, small


def parse_list(text, what, convert=str):
    items = [item.strip() for item in (text or "").split(",") if item.strip()]
    try:
        return [convert(item) for item in items]
    except ValueError:
        raise ValueError(f"--{what} must be a comma-separated list, got {text!r}") from None


def run(args) -> int:
    variants = parse_list(args.variants, "variants")
    sequential = parse_list(args.sequential, "sequential")
    backends = parse_list(args.backends, "backends")
    batches = parse_list(args.batch, "batch", int)
    for b in backends:
        if b not in ("numpy", "numba"):
            raise ValueError(f"unknown backend {b!r} in --backends; choose numpy, numba")
    if not variants or not backends:
        raise ValueError("--variants and --backends must name at least one each")
    if any(b < 1 for b in batches):
        raise ValueError(f"--batch sizes must be >= 1, got {args.batch}")
    if batches and "numba" not in backends:
        raise ValueError("the batch sweep runs on the numba backend: keep numba in --backends")
    big, small = sizes_from_args(args)
    for size in (big, small):            # a bad size or variant fails now, not after compiling
        for v in variants + sequential:
            decode_config(v, size, size.prompt + size.new_tokens)
    checkpoint.check_writable(args.out)
    log = print

    load_before = load_average()                  # before compiling: other processes' load
    machine = machine_info(backends)
    machine["load_average_start"] = load_before
    log("minplt bench")
    log(f"  machine : {machine['cpu']}, {os.cpu_count()} CPUs, python {machine['python']}")
    log(f"  numpy   : {machine['numpy']}, BLAS {machine['blas']}")
    log(f"  numba   : {machine['numba']}, {machine['threads']} threads, OpenMP wait policy "
        f"{machine['omp_wait_policy']}"
        + (", JIT DISABLED (NUMBA_DISABLE_JIT=1: kernels run as plain Python)"
           if machine["jit_disabled"] else "")
        + (f"; kernel compile/load {machine['kernel_compile_s']:.2f} s"
           if "kernel_compile_s" in machine else ""))
    if "numba" in backends:
        log(f"  decode  : numba backend: {machine['decode_step']} (decode_step.py), weights "
            "packed (transposed) at a cache's first step")
    log(f"  load    : {load_before:.2f} (1-minute load average before the run)")
    if load_before >= 0.5 * (os.cpu_count() or 1):
        log("  WARNING : other processes are using the CPUs: every time is inflated, and the "
            "ratios are noisier.\n            Measure on an idle machine for figures to quote.")

    result = {"machine": machine,
              "config": {"model": dataclasses.asdict(big.config), "prompt": big.prompt,
                         "new_tokens": big.new_tokens, "repeats": big.repeats,
                         "variants": variants, "sequential": sequential, "backends": backends,
                         "batches": batches, "quick": bool(args.quick), "seed": args.seed},
              "decode": [], "small": {"decode": [], "bandwidth": {}}, "train": [],
              "bandwidth": {}, "ratios": {}}
    report = []
    sections = ([] if args.small else [("decode", big)]) + ([] if args.no_small else [("small", small)])
    for name, size in sections:
        c = size.config
        title = (f"{'Decode' if name == 'decode' else 'Small decode'}, batch 1: width {c.n_embd}, "
                 f"{c.n_head} heads, F {c.d_ff}, {c.n_layer} layers, vocab {c.vocab_size}, "
                 f"prompt {size.prompt}, {size.new_tokens} new tokens x {size.repeats} runs (median)")
        log("\n" + title)
        rows, bandwidth = decode_section(size, variants, sequential, backends, args.seed, log,
                                         args.quick)
        values = ratios(rows, bandwidth, "" if name == "decode" else "small ")
        result["ratios"].update(values)
        block = "\n" + title + "\n" + decode_table(rows, bandwidth, values)
        if name == "decode":
            result["decode"], result["bandwidth"] = rows, bandwidth
            result["targets"] = targets(rows, bandwidth) + result.get("targets", [])
        else:
            result["small"] = {"config": dataclasses.asdict(size.config), "decode": rows,
                               "bandwidth": bandwidth}
        report.append(block)

    if not args.no_demo_size:
        title = "Decode at the demo's size (`make demo`): best us per step, batch 1"
        log("\n" + title)
        result["demo_size"] = demo_section(backends, args.seed, log, args.quick)
        result.setdefault("targets", []).extend(demo_targets(result["demo_size"]))
        report.append("\n" + title + "\n" + demo_table(result["demo_size"]))

    if batches:
        title = (f"Batch sweep (numba): batch {', '.join(map(str, batches))}, prompt "
                 f"{big.prompt}, median ms per step")
        log("\n" + title)
        result["batch"] = batch_section(big, variants, batches, args.seed, log, args.quick)
        result.setdefault("targets", []).extend(batch_targets(result["batch"]))
        report.append("\n" + title + "\n" + batch_table(result["batch"]))

    if result.get("targets"):
        report.append("\nTargets (issue 18; ratios from this run, numba backend):\n"
                      + targets_text(result["targets"]))

    if not args.no_kernels and "numba" in backends:
        c = big.config
        shapes = [(c.n_embd, c.d_ff), (c.n_embd, c.n_embd), (c.d_ff, c.n_embd)]
        log("\nProducts of R rows: lower-quartile microseconds of x (R,C) @ w (C,N), float32")
        result["kernels"], text = kernel_section(shapes, SWEEP_ROWS[:4] if args.quick
                                                 else SWEEP_ROWS, log, args.quick)
        report.append("\nProducts of R rows against numpy `@` (lower-quartile us, w from "
                      "memory)\n" + text)

    if not args.no_train:
        sizes = train_sizes(args.quick)
        described = "; ".join(f"{name}: width {c.n_embd}, MLP {c.d_ff}, {c.n_layer} block(s), "
                              f"batch {b} x {t}" for name, c, b, t in sizes)
        log(f"\nTraining throughput, tokens/s of forward + backward + AdamW: {described}")
        result["train"] = train_throughput(["vanilla", "loop-2", "plt-2"], sizes, args.seed,
                                           1 if args.quick else 5, log,
                                           min_seconds=0.05 if args.quick else 0.3)
        report.append(f"\nTraining throughput, tokens/s ({described}; median of "
                      f"{1 if args.quick else 5} runs):\n" + train_table(result["train"]))

    machine["load_average_end"] = load_average()
    summary = (f"{machine['cpu']} | {machine['threads']} numba threads | numpy {machine['numpy']} "
               f"| numba {machine['numba']} | python {machine['python']}\nBLAS {machine['blas']}\n"
               f"load average {load_before:.2f} before, {machine['load_average_end']:.2f} after "
               f"({os.cpu_count()} CPUs); OpenMP wait policy {machine['omp_wait_policy']}\n"
               + "\n".join(report))
    log("\n" + "=" * 100 + "\n" + summary)
    checkpoint.atomic_write(args.out, json.dumps(result, indent=1))
    results_md = os.path.join(os.path.dirname(os.path.abspath(args.out)), "results.md")
    checkpoint.atomic_write(results_md, "```\n" + summary.strip("\n") + "\n```\n")
    log(f"\nwrote {args.out} and {results_md} (`make readme` copies it into docs/performance.md)")
    return 0


def main(argv=None) -> int:
    from minplt import cli
    return cli.main(["bench", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
