"""`python -m minplt bench`: what PLT's parallel schedule buys on this machine.

Measured in one run, on the machine it runs on (never asserted by a test):

1. Decode latency: median milliseconds per generated token of vanilla, loop-L and plt-L
   (parallel schedule), and plt-2 with the sequential schedule, on the numpy and the
   numba backends. Each run prefills a random prompt (not timed; the prefilled cache is
   made once per variant and copied for every run) and times only `model.step`.
2. KV-cache bytes after the prefill, beside the model's memory table (docs/method.md §8).
3. The memory-bound reference: GB/s of a 1-row product with every weight matrix a step
   reads, and the weight-read bandwidth each decode step achieves (weight bytes read per
   token / time per token; the sequential schedule reads the stack L times per token).
4. Training throughput (tokens/s of forward + backward + AdamW) at the "small" preset.
5. Ratios of the above, all from this run: plt-L / vanilla, loop-L / vanilla,
   plt-L / loop-L, sequential / parallel, numba / numpy, achieved / 1-row bandwidth.

A second decode section repeats 1-3 at a small width, where Python overhead, not weight
reads, sets the time per token. Results go to the terminal and to a JSON file
(default out/bench/bench.json) that visualizations/charts.py plots.

    python -m minplt bench                   # both sections, both backends (minutes)
    python -m minplt bench --quick           # tiny shapes, seconds
    python -m minplt bench --variants vanilla,plt-2 --backends numba --no-small
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

from minplt import checkpoint
from minplt import model as M

DEFAULT_VARIANTS = "vanilla,loop-2,loop-3,plt-2,plt-3"
BIG = dict(width=1024, heads=16, ffn=2816, layers=4, vocab=256, prompt=1024, new_tokens=64,
           repeats=3)
SMALL = dict(width=256, heads=4, ffn=704, layers=4, prompt=256)
QUICK = dict(width=64, heads=4, ffn=176, layers=2, vocab=64, prompt=16, new_tokens=4,
             repeats=1)
QUICK_SMALL = dict(width=32, heads=4, ffn=64, layers=2, prompt=8)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    size = parser.add_argument_group("decode benchmark size (default: the 'bench' preset)")
    size.add_argument("--width", type=int, default=None, help=f"model width C ({BIG['width']})")
    size.add_argument("--heads", type=int, default=None, help=f"attention heads H ({BIG['heads']})")
    size.add_argument("--ffn", type=int, default=None, help=f"SwiGLU width F ({BIG['ffn']})")
    size.add_argument("--layers", type=int, default=None, help=f"layers NL ({BIG['layers']})")
    size.add_argument("--vocab", type=int, default=None, help=f"vocabulary V ({BIG['vocab']})")
    size.add_argument("--prompt", type=int, default=None,
                      help=f"prompt tokens, prefilled and not timed ({BIG['prompt']})")
    size.add_argument("--new-tokens", type=int, default=None,
                      help=f"decode steps timed per run ({BIG['new_tokens']})")
    size.add_argument("--repeats", type=int, default=None,
                      help=f"timed runs per variant and backend, after one warm-up run "
                           f"({BIG['repeats']})")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS,
                        help=f"comma-separated variants to decode (default {DEFAULT_VARIANTS})")
    parser.add_argument("--sequential", default="plt-2",
                        help="CLP variants also decoded with the sequential schedule "
                             "(default plt-2; '' for none)")
    parser.add_argument("--backends", default="numpy,numba",
                        help="comma-separated decode backends: numpy, numba (default both)")
    section = parser.add_mutually_exclusive_group()
    section.add_argument("--small", action="store_true",
                         help="run only the small decode section (width 256, 4 heads, F 704, "
                              "4 layers, prompt 256), where Python overhead dominates")
    section.add_argument("--no-small", action="store_true",
                         help="skip the small decode section that runs after the big one")
    parser.add_argument("--no-train", action="store_true", help="skip training throughput")
    parser.add_argument("--no-kernels", action="store_true",
                        help="skip the linear_rows micro-benchmark (R = 1..8 rows vs numpy)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny shapes (width 64, 2 layers, prompt 16, 4 new tokens, "
                             "1 repeat): finishes in seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join("out", "bench", "bench.json"),
                        help="where to write the JSON results (default out/bench/bench.json)")


# ----------------------------------------------------------------------------------------
# Machine

def machine_info(backends) -> dict:
    """CPU, threads and library versions; compiles the kernels when numba runs."""
    from minplt import kernels
    info = kernels.backend_info()
    machine = {"cpu": info["cpu"], "threads": info["threads"], "numpy": info["numpy"],
               "numba": info["numba"], "blas": info["blas"],
               "python": platform.python_version(), "jit_disabled": info["jit_disabled"]}
    if "numba" in backends:
        machine["kernel_compile_s"] = kernels.warmup("float32")
        machine["threading_layer"] = kernels.backend_info()["threading_layer"]
    return machine


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):                   # not on every platform
        return float("nan")


# ----------------------------------------------------------------------------------------
# Decode

def decode_config(variant: str, sizes: dict, capacity: int) -> M.Config:
    return M.make_config(variant, preset="bench", vocab_size=sizes["vocab"], n_embd=sizes["width"],
                         n_head=sizes["heads"], d_ff=sizes["ffn"], n_layer=sizes["layers"],
                         block_size=max(capacity, 1))


def decode_cases(variants, sequential):
    """(variant, schedule) pairs: the parallel schedule for CLP variants, else sequential;
    then the CLP variants listed in `sequential` once more with the sequential schedule."""
    cases = []
    for variant in variants:
        family, _ = M.parse_variant(variant)
        clp = M.FAMILIES[family][0]
        cases.append((variant, "parallel" if clp else "sequential"))
    for variant in sequential:
        family, _ = M.parse_variant(variant)
        if not M.FAMILIES[family][0]:
            raise ValueError(f"--sequential lists {variant!r}, which has no CLP and is "
                             "already decoded sequentially; list CLP variants (plt-2, ...)")
        if variant in variants:
            cases.append((variant, "sequential"))
    return cases


def copy_cache(cache: M.DecodeCache, backend: str) -> M.DecodeCache:
    """A fresh copy of a prefilled cache, decoded on `backend`, so every timed run starts
    from the same state."""
    def copy(a):
        return None if a is None else a.copy()
    return dataclasses.replace(cache, k=copy(cache.k), v=copy(cache.v),
                               k_ring=copy(cache.k_ring), v_ring=copy(cache.v_ring),
                               carried=copy(cache.carried), pos=cache.pos.copy(),
                               trace=[list(cells) for cells in cache.trace],
                               ops=M.get_ops(backend))


def decode_run(params, cfg, cache0, first_token, n_steps, schedule, backend):
    """Seconds of each of n_steps decode steps from a copy of the prefilled cache."""
    cache, token, times = copy_cache(cache0, backend), first_token, []
    for _ in range(n_steps):
        start = time.perf_counter()
        logits = M.step(params, cfg, cache, token, schedule)
        times.append(time.perf_counter() - start)
        token = int(np.argmax(logits))
    return times


def weight_bytes_per_token(params, cfg: M.Config, schedule: str) -> int:
    """Bytes of weight matrices one decode step reads: the stack once per pass (the
    parallel schedule makes one pass, the sequential L), plus the output head. Loops
    with kv_share and no gswa skip wk, wv (they store no keys or values)."""
    def pass_bytes(loops):
        kinds = [M.loop_attention_kind(cfg, loop) for loop in loops]
        names = ["wq", "wo", "w1", "w3", "w2"]
        if any(kind != "shared" for kind in kinds):
            names += ["wk", "wv"]
        if any(kind == "gswa" for kind in kinds):
            names += ["gate_w"]
        return sum(params[f"layers.{j}.{name}"].nbytes
                   for j in range(cfg.n_layer) for name in names)
    L = cfg.n_loops
    passes = [list(range(L))] if schedule == "parallel" else [[loop] for loop in range(L)]
    return sum(pass_bytes(loops) for loops in passes) + params["lm_head"].nbytes


def settle(quick=False):
    """Pause before timing the other backend. OpenBLAS's threads keep spinning for a
    while (~0.1-0.2 s measured) after numpy's last product, and Numba's threads waiting
    at the end of each parallel loop then share the cores with them: the first numba
    steps after numpy work can run many times slower. (Numba's threads spin too.)"""
    time.sleep(0.0 if quick else 0.5)


def one_row_bandwidth(params, cfg: M.Config, backend: str, repeats: int = 7) -> float:
    """GB/s of a 1-row product with every weight matrix of one step, read once each: the
    speed a memory-bound one-row decode step can reach at best (the best of `repeats`
    sweeps; decode_section measures it before and after the decode runs)."""
    names = [f"layers.{j}.{w}" for j in range(cfg.n_layer)
             for w in ("wq", "wk", "wv", "wo", "w1", "w3", "w2")] + ["lm_head"]
    weights = [params[name] for name in names]
    rng = np.random.default_rng(0)
    rows = {w.shape[0]: rng.standard_normal((1, w.shape[0])).astype(w.dtype) for w in weights}
    if backend == "numba":
        from minplt import kernels
        product = kernels.linear_rows
    else:
        product = np.matmul
    times = []
    for run in range(repeats + 1):
        start = time.perf_counter()
        for w in weights:
            product(rows[w.shape[0]], w)
        if run:
            times.append(time.perf_counter() - start)
    return sum(w.nbytes for w in weights) / min(times) / 1e9     # the best sweep: a ceiling


def case_label(variant, schedule, backend):
    family, _ = M.parse_variant(variant)
    seq = " seq" if schedule == "sequential" and M.FAMILIES[family][0] else ""
    return f"{variant}{seq} {'np' if backend == 'numpy' else 'nb'}"


def decode_section(sizes, variants, sequential, backends, seed, log, quick=False):
    """Decode rows and 1-row bandwidths of one model size.

    Runs are interleaved: repeat 1 of every (variant, schedule, backend), then repeat 2,
    ... so that a burst of other work on the machine slows every case alike instead of
    one of them, and the ratios stay fair. Each case is warmed up by a short run first."""
    capacity = sizes["prompt"] + sizes["new_tokens"]
    configs = {v: decode_config(v, sizes, capacity) for v in variants}
    # One set of weights for every variant (a PLT config has every parameter: the G-SWA
    # gate is the only one others lack), so all variants read the same arrays.
    params = M.init_params(decode_config("plt-2", sizes, capacity), seed)
    any_cfg = next(iter(configs.values()))
    bandwidth = {}
    for b in backends:
        settle(quick)
        bandwidth[f"{b}_1row_gb_per_s"] = one_row_bandwidth(params, any_cfg, b)
    log("  1-row weight bandwidth (before the decode runs): " + ", ".join(
        f"{b} {bandwidth[f'{b}_1row_gb_per_s']:.1f} GB/s" for b in backends))
    prompt = np.random.default_rng(seed).integers(0, sizes["vocab"], sizes["prompt"])
    prefilled = {}                    # variant -> (cache after the prompt, first token)
    for variant in variants:
        logits, cache0 = M.prefill(params, configs[variant], prompt, capacity=capacity)
        prefilled[variant] = (cache0, int(np.argmax(logits)))
    # grouped by backend (numba first), with a pause between the groups: see settle()
    order = sorted(backends, key=lambda b: b != "numba")
    cases = [(variant, schedule, backend) for backend in order
             for variant, schedule in decode_cases(variants, sequential)]
    times = {case: [] for case in cases}
    for repeat in range(sizes["repeats"] + 1):          # repeat 0: warm-up, not counted
        for i, (variant, schedule, backend) in enumerate(cases):
            if i == 0 or backend != cases[i - 1][2]:
                settle(quick)
            cache0, first = prefilled[variant]
            steps = min(sizes["new_tokens"], 3) if repeat == 0 else sizes["new_tokens"]
            seconds = decode_run(params, configs[variant], cache0, first, steps, schedule,
                                 backend)
            if repeat:
                times[(variant, schedule, backend)] += seconds
        if repeat:
            log(f"  run {repeat}/{sizes['repeats']} (ms/token so far): " + ", ".join(
                f"{case_label(*case)} {1e3 * statistics.median(times[case]):.2f}"
                for case in cases))
    for b in backends:                                   # again, keep the better figure
        settle(quick)
        key = f"{b}_1row_gb_per_s"
        bandwidth[key] = max(bandwidth[key], one_row_bandwidth(params, any_cfg, b))
    rows = []
    for variant, schedule, backend in sorted(cases, key=lambda case: (
            decode_cases(variants, sequential).index(case[:2]), backends.index(case[2]))):
        cfg, (cache0, _) = configs[variant], prefilled[variant]
        ms = 1e3 * statistics.median(times[(variant, schedule, backend)])
        weight_bytes = weight_bytes_per_token(params, cfg, schedule)
        rows.append({"variant": variant, "backend": backend, "schedule": schedule,
                     "ms_per_token": ms,
                     "ms_per_token_min": 1e3 * min(times[(variant, schedule, backend)]),
                     "ms_per_token_max": 1e3 * max(times[(variant, schedule, backend)]),
                     "kv_bytes": int(M.kv_cache_bytes(cfg, cache0)),
                     "kv_bytes_formula": int(M.kv_cache_bytes_formula(cfg, sizes["prompt"])),
                     "weight_bytes_per_token": int(weight_bytes),
                     "weight_gb_per_s": weight_bytes / (ms / 1e3) / 1e9})
    return rows, bandwidth


# ----------------------------------------------------------------------------------------
# Kernel micro-benchmark: linear_rows against numpy's `@` for R = 1..8 rows

KERNEL_SHAPES = [(1024, 2816), (1024, 1024), (2816, 1024)]   # w1/w3, wq/wk/wv/wo, w2
QUICK_KERNEL_SHAPES = [(64, 176), (64, 64), (176, 64)]


def kernel_section(shapes, max_rows, log, quick=False):
    """Median microseconds of x (R,C) @ w (C,N) for R = 1..max_rows, numpy `@` and the
    numba kernel, with w in the caches (the same matrix every call) and from memory
    (cycling through copies that together exceed the last-level cache, as in decoding)."""
    from minplt import kernels
    rng = np.random.default_rng(0)
    impls = {"numpy": np.matmul, "numba": kernels.linear_rows}
    rows = []
    for C, N in shapes:
        w = rng.standard_normal((C, N)).astype(np.float32)
        n_copies = max(1, min(64, (96 << 20) // w.nbytes))     # ~96 MB of copies
        copies = [w.copy() for _ in range(n_copies)]
        for resident, mats in (("cache", [w]), ("memory", copies)):
            for impl, product in impls.items():
                settle(quick)
                us = []
                for R in range(1, max_rows + 1):
                    x = rng.standard_normal((R, C)).astype(np.float32)
                    times = []
                    for i in range(max(30, 2 * len(mats)) + 3):
                        m = mats[i % len(mats)]
                        start = time.perf_counter()
                        product(x, m)
                        if i >= 3:
                            times.append(time.perf_counter() - start)
                    us.append(1e6 * statistics.median(times))
                rows.append({"shape": [C, N], "resident": resident, "impl": impl, "us": us})
        del copies
    lines = [f"  {'w (C,N)':11s}{'w in':8s}{'impl':7s}" + "".join(
        f"{'R=' + str(R):>8s}" for R in range(1, max_rows + 1)) + "   R=2/R=1  R=3/R=1"]
    for row in rows:
        us = row["us"]
        ratio = (f"{us[1] / us[0]:9.2f}" if len(us) > 1 else "") + \
            (f"{us[2] / us[0]:9.2f}" if len(us) > 2 else "")
        lines.append(f"  {'%dx%d' % tuple(row['shape']):11s}{row['resident']:8s}{row['impl']:7s}"
                     + "".join(f"{t:8.0f}" for t in us) + ratio)
    text = "\n".join(lines)
    log(text)
    return rows, text


# ----------------------------------------------------------------------------------------
# Training throughput

def train_throughput(variants, sizes, seed, batch, seq, repeats, log):
    rows = []
    rng = np.random.default_rng(seed)
    for variant in variants:
        cfg = M.make_config(variant, preset=sizes["preset"], vocab_size=sizes["vocab"], block_size=seq)
        params = M.init_params(cfg, seed)
        opt = M.AdamW(params, lr=1e-3)
        tokens = rng.integers(0, cfg.vocab_size, (batch, seq + 1))
        idx, targets = tokens[:, :-1], tokens[:, 1:]
        times = []
        for run in range(repeats + 1):                  # run 0: warm-up
            start = time.perf_counter()
            _, grads = M.loss_and_grads(params, cfg, idx, targets)
            M.clip_grad_norm(grads, 1.0)
            opt.step(params, grads)
            if run:
                times.append(time.perf_counter() - start)
        tokens_per_s = batch * seq / statistics.median(times)
        rows.append({"variant": variant, "tokens_per_s": tokens_per_s})
        log(f"  {variant:8s} {tokens_per_s:9.0f} tokens/s")
    return rows


# ----------------------------------------------------------------------------------------
# Ratios and the report

def ratios(rows, bandwidth, prefix=""):
    """Time ratios (and bandwidth ratios) between rows measured in the same run."""
    ms = {(r["variant"], r["backend"], r["schedule"]): r["ms_per_token"] for r in rows}
    out = {}

    def parallel_ms(variant, backend):
        return ms.get((variant, backend, "parallel"), ms.get((variant, backend, "sequential")))

    backends = list(dict.fromkeys(r["backend"] for r in rows))
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    for backend in backends:
        vanilla = parallel_ms("vanilla", backend)
        for variant in variants:
            family, loops = M.parse_variant(variant)
            mine = parallel_ms(variant, backend)
            if variant != "vanilla" and vanilla:
                out[f"{prefix}{backend}: {variant}/vanilla"] = mine / vanilla
            if family == "plt" and parallel_ms(f"loop-{loops}", backend):
                out[f"{prefix}{backend}: {variant}/loop-{loops}"] = \
                    mine / parallel_ms(f"loop-{loops}", backend)
            if (variant, backend, "sequential") in ms and (variant, backend, "parallel") in ms:
                out[f"{prefix}{backend}: {variant} sequential/parallel"] = \
                    ms[(variant, backend, "sequential")] / ms[(variant, backend, "parallel")]
    if "numpy" in backends and "numba" in backends:
        for (variant, backend, schedule), value in ms.items():
            if backend == "numba" and (variant, "numpy", schedule) in ms:
                out[f"{prefix}numba/numpy: {variant} {schedule}"] = \
                    value / ms[(variant, "numpy", schedule)]
    for r in rows:
        one_row = bandwidth.get(f"{r['backend']}_1row_gb_per_s")
        if one_row:
            out[f"{prefix}{r['backend']}: {r['variant']} {r['schedule']} bandwidth/1-row"] = \
                r["weight_gb_per_s"] / one_row
    return out


def format_decode_table(rows, bandwidth) -> str:
    vanilla = {r["backend"]: r["ms_per_token"] for r in rows if r["variant"] == "vanilla"}
    lines = [f"  {'variant':9s}{'schedule':11s}{'backend':8s}{'ms/token':>10s}{'x vanilla':>10s}"
             f"{'weight GB/s':>12s}{'% 1-row':>8s}{'KV bytes':>13s}{'formula':>13s}"]
    for r in rows:
        one_row = bandwidth.get(f"{r['backend']}_1row_gb_per_s")
        rel = f"{r['ms_per_token'] / vanilla[r['backend']]:.2f}" if r["backend"] in vanilla else "-"
        pct = f"{100 * r['weight_gb_per_s'] / one_row:.0f}%" if one_row else "-"
        lines.append(f"  {r['variant']:9s}{r['schedule']:11s}{r['backend']:8s}"
                     f"{r['ms_per_token']:10.3f}{rel:>10s}{r['weight_gb_per_s']:12.1f}{pct:>8s}"
                     f"{r['kv_bytes']:13,d}{r['kv_bytes_formula']:13,d}")
    return "\n".join(lines)


def format_ratios(values, prefix="") -> str:
    """The time ratios as a table: one line per ratio, one column per backend; then the
    numba/numpy ratios. (Bandwidth ratios are the table's '% 1-row' column.)"""
    per_backend, cross = {}, []
    for key, value in values.items():
        key = key[len(prefix):]
        if key.endswith("bandwidth/1-row"):
            continue
        head, _, name = key.partition(": ")
        if head == "numba/numpy":
            cross.append((name, value))
        else:
            per_backend.setdefault(name, {})[head] = value
    backends = list(dict.fromkeys(b for row in per_backend.values() for b in row))
    lines = ["  " + f"{'time ratio (< 1 = faster)':34s}" + "".join(f"{b:>9s}" for b in backends)]
    for name, row in per_backend.items():
        lines.append(f"  {name:34s}" + "".join(
            f"{row[b]:9.3f}" if b in row else f"{'-':>9s}" for b in backends))
    for name, value in cross:
        lines.append(f"  {'numba/numpy ' + name:34s}{value:9.3f}   "
                     f"(numba {1 / value:.2f}x faster)")
    return "\n".join(lines)


def targets(rows, bandwidth) -> list[dict]:
    """PLT's promise, checked on the numba backend at this size (printed, never asserted)."""
    ms = {(r["variant"], r["backend"], r["schedule"]): r["ms_per_token"] for r in rows}
    out = []

    def check(name, value, goal, met):
        out.append({"name": name, "value": value, "goal": goal, "met": bool(met)})

    def get(variant, backend="numba"):
        return ms.get((variant, backend, "parallel"), ms.get((variant, backend, "sequential")))
    vanilla = get("vanilla")
    if vanilla is None:
        return out
    for variant, limit in (("plt-2", 1.10), ("plt-3", 1.20)):
        if get(variant):
            check(f"{variant}/vanilla", get(variant) / vanilla, f"<= {limit:.2f}",
                  get(variant) / vanilla <= limit)
    for L in (2, 3):
        if get(f"loop-{L}"):
            ratio = get(f"loop-{L}") / vanilla
            check(f"loop-{L}/vanilla", ratio, f"close to {L} (within 15%)",
                  abs(ratio - L) <= 0.15 * L)
    if get("plt-2") and get("loop-2"):
        check("plt-2/loop-2", get("plt-2") / get("loop-2"), "<= 0.53",
              get("plt-2") / get("loop-2") <= 0.53)
    if get("plt-2") and get("plt-2", "numpy"):
        speedup = get("plt-2", "numpy") / get("plt-2")
        check("numba speed-up over numpy, plt-2", speedup, ">= 2", speedup >= 2)
    one_row = max(bandwidth.values(), default=0.0)
    row = next((r for r in rows if r["variant"] == "vanilla" and r["backend"] == "numba"), None)
    if row and one_row:
        share = row["weight_gb_per_s"] / one_row
        check("vanilla weight GB/s / best 1-row GB/s", share, ">= 0.60", share >= 0.60)
    return out


def format_targets(checks) -> str:
    return "\n".join(f"  {c['name']:40s}{c['value']:7.3f}   goal {c['goal']:24s}"
                     f"{'met' if c['met'] else 'MISSED'}" for c in checks)


def sizes_from_args(args):
    """The big and small decode sizes, the training size, from the flags."""
    big = dict(QUICK if args.quick else BIG)
    for key in big:
        value = getattr(args, key)
        if value is not None:
            big[key] = value
    small = dict(big, **(QUICK_SMALL if args.quick else SMALL))
    train = {"preset": "tiny" if args.quick else "small", "vocab": big["vocab"],
             "batch": 2 if args.quick else 8, "seq": 16 if args.quick else 64,
             "repeats": 1 if args.quick else 3}
    if big["new_tokens"] < 1 or big["repeats"] < 1 or big["prompt"] < 1:
        raise ValueError("--prompt, --new-tokens and --repeats must be >= 1")
    return big, small, train


def run(args) -> int:
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    sequential = [v.strip() for v in args.sequential.split(",") if v.strip()]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in backends:
        if b not in ("numpy", "numba"):
            raise ValueError(f"unknown backend {b!r} in --backends; choose numpy, numba")
    for v in variants + sequential:
        M.parse_variant(v)                                  # a clear error if unknown
    if not variants or not backends:
        raise ValueError("--variants and --backends must name at least one each")
    big, small, train = sizes_from_args(args)
    for sizes in (big, small):                 # a bad size is an error now, not after compiling
        for v in variants:
            decode_config(v, sizes, sizes["prompt"] + sizes["new_tokens"])
    log = print

    load_before = load_average()                   # before compiling: other processes' load
    machine = machine_info(backends)
    log("minplt bench")
    log(f"  machine : {machine['cpu']}, {os.cpu_count()} CPUs, python {machine['python']}")
    log(f"  numpy   : {machine['numpy']}, BLAS {machine['blas']}")
    log(f"  numba   : {machine['numba']}, {machine['threads']} threads"
        + (f" ({machine.get('threading_layer')} layer)" if "threading_layer" in machine else "")
        + (", JIT DISABLED (NUMBA_DISABLE_JIT=1: kernels run as plain Python)"
           if machine["jit_disabled"] else ""))
    log(f"  backends: {', '.join(backends)}"
        + (f"; kernel compile/load time {machine['kernel_compile_s']:.2f} s"
           if "kernel_compile_s" in machine else ""))
    machine["load_average_start"] = load_before
    log(f"  load    : {machine['load_average_start']:.2f} (1-minute load average before the run)")
    if machine["load_average_start"] >= 0.5 * (os.cpu_count() or 1):
        log("  WARNING : other processes are using the CPUs. A parallel kernel waits for all "
            "its threads at\n            the end of every loop, so busy cores inflate the "
            "numba times most (and OpenBLAS's).\n            Measure on an idle machine, or "
            "compare with NUMBA_NUM_THREADS=1 (or GOMP_SPINCOUNT=1000).")

    result = {"machine": machine,
              "config": {**big, "variants": variants, "sequential": sequential,
                         "backends": backends, "window": M.PRESETS["bench"].window,
                         "dtype": "float32", "quick": bool(args.quick), "seed": args.seed,
                         "small": small if not args.no_small else None,
                         "train": train if not args.no_train else None},
              "decode": [], "small": {"config": small, "decode": [], "bandwidth": {}},
              "train": [], "bandwidth": {}, "ratios": {}}
    report = []

    sections = []
    if not args.small:
        sections.append(("decode", big))
    if not args.no_small:
        sections.append(("small", small))
    for name, sizes in sections:
        title = (f"{'Decode' if name == 'decode' else 'Small decode'}: width {sizes['width']}, "
                 f"{sizes['heads']} heads, F {sizes['ffn']}, {sizes['layers']} layers, "
                 f"vocab {sizes['vocab']}, prompt {sizes['prompt']}, "
                 f"{sizes['new_tokens']} new tokens x {sizes['repeats']} runs (median)")
        log("\n" + title)
        rows, bandwidth = decode_section(sizes, variants, sequential, backends, args.seed, log,
                                         quick=args.quick)
        prefix = "" if name == "decode" else "small "
        values = ratios(rows, bandwidth, prefix)
        result["ratios"].update(values)
        if name == "decode":
            result["decode"], result["bandwidth"] = rows, bandwidth
        else:
            result["small"].update(decode=rows, bandwidth=bandwidth)
        block = ("\n" + title + "\n" + format_decode_table(rows, bandwidth)
                 + "\n  1-row weight bandwidth (every matrix of a step, read once): " + ", ".join(
                     f"{b} {bandwidth[f'{b}_1row_gb_per_s']:.1f} GB/s" for b in backends)
                 + "\n" + format_ratios(values, prefix))
        if name == "decode":
            result["targets"] = targets(rows, bandwidth)
            if result["targets"]:
                block += ("\n  Targets (numba backend; PLT's promise: L loops for about the "
                          "price of one)\n" + format_targets(result["targets"]))
        report.append(block)

    if not args.no_kernels and "numba" in backends:
        shapes = QUICK_KERNEL_SHAPES if args.quick else KERNEL_SHAPES
        log("\nKernel micro-benchmark: median microseconds of x (R,C) @ w (C,N), float32")
        result["kernels"], text = kernel_section(shapes, 8, log, quick=args.quick)
        report.append("\nKernel micro-benchmark: median microseconds of x (R,C) @ w (C,N), "
                      "float32\n  (w in cache: the same matrix every call; from memory: copies "
                      "cycled through, as a decode step reads them)\n" + text)

    if not args.no_train:
        train_variants = ["vanilla", "loop-2", "plt-2"]
        log(f"\nTraining throughput: preset {train['preset']}, batch {train['batch']} x "
            f"{train['seq']} tokens, forward + backward + AdamW (NumPy)")
        result["train"] = train_throughput(train_variants, train, args.seed, train["batch"],
                                           train["seq"], train["repeats"], log)
        by_name = {r["variant"]: r["tokens_per_s"] for r in result["train"]}
        for v in ("loop-2", "plt-2"):
            result["ratios"][f"train: {v}/vanilla tokens per s"] = by_name[v] / by_name["vanilla"]
        report.append(f"\nTraining throughput (preset {train['preset']}, batch {train['batch']} x "
                      f"{train['seq']}):\n" + "\n".join(
                          f"  {r['variant']:8s} {r['tokens_per_s']:10.0f} tokens/s"
                          for r in result["train"]))

    machine["load_average_end"] = load_average()
    log("\n" + "=" * 100)
    log(f"{machine['cpu']} | {machine['threads']} numba threads | numpy {machine['numpy']} | "
        f"numba {machine['numba']} | python {machine['python']}\nBLAS {machine['blas']}\n"
        f"load average {machine['load_average_start']:.2f} before, "
        f"{machine['load_average_end']:.2f} after ({os.cpu_count()} CPUs)")
    for block in report:
        log(block)
    checkpoint.atomic_write(args.out, json.dumps(result, indent=1))
    log(f"\nwrote {args.out}")
    return 0


def main(argv=None) -> int:
    from minplt import cli
    return cli.main(["bench", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
