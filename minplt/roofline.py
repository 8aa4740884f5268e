"""The roofline of one decode step: how many bytes it must read, how much arithmetic it
must do, and so how fast it can be on a machine with a given read bandwidth and FLOP
rate (docs/method.md §7):

    time per step >= max(bytes read / bandwidth, FLOPs / FLOP rate)

At batch 1 a step reads every weight once (per pass) and does two FLOPs per weight and
row, so reading wins by far: L rows of the parallel schedule cost about one. Each
sequence of a batch adds its rows' arithmetic and its own KV cache to read, but not the
weights: as B x L grows, the arithmetic catches up with the weight reads, and from
there on every extra row costs its full price. `crossover_batch` says where.

    bytes_per_step(cfg, batch, n)   weights + KV cache read by one step
    flops_per_step(cfg, batch, n)   multiply-adds x 2 of the products and attention
    measure_bandwidth(), measure_flop_rate()    this machine's two rates
    predict_ms(...)                 the roofline time of a step (and read + arithmetic)
"""
from __future__ import annotations

import time

import numpy as np

from minplt import model as M
from minplt import timing


def _pass_matrices(cfg: M.Config, loops) -> list[str]:
    """The weight matrices of one layer that a pass computing `loops` reads: loops with
    kv_share and no gswa need no wk, wv (they store no keys or values)."""
    kinds = [M.loop_attention_kind(cfg, loop) for loop in loops]
    names = ["wq", "wo", "w1", "w3", "w2"]
    if any(kind != "shared" for kind in kinds):
        names += ["wk", "wv"]
    if any(kind == "gswa" for kind in kinds):
        names += ["gate_w"]
    return names


def passes(cfg: M.Config, schedule: str) -> list[list[int]]:
    """The loops each pass of a step computes: one pass of all L (parallel) or L
    passes of one (sequential)."""
    L = cfg.n_loops
    return [list(range(L))] if schedule == "parallel" else [[loop] for loop in range(L)]


def _matrix_shape(cfg: M.Config, name: str) -> tuple[int, int]:
    C, F, H = cfg.n_embd, cfg.d_ff, cfg.n_head
    return {"wq": (C, C), "wk": (C, C), "wv": (C, C), "wo": (C, C), "w1": (C, F),
            "w3": (C, F), "w2": (F, C), "gate_w": (C, H)}[name]


def weight_bytes_per_step(cfg: M.Config, schedule: str) -> int:
    """Bytes of weight matrices one decode step reads, whatever the batch: the stack
    once per pass, plus the output head."""
    itemsize = np.dtype(cfg.dtype).itemsize
    total = 0
    for loops in passes(cfg, schedule):
        for name in _pass_matrices(cfg, loops):
            rows, cols = _matrix_shape(cfg, name)
            total += cfg.n_layer * rows * cols * itemsize
    return total + cfg.n_embd * cfg.vocab_size * itemsize


def kv_bytes_read_per_sequence(cfg: M.Config, n: int, schedule: str) -> int:
    """Bytes of keys and values one sequence's step reads with n positions cached.
    Loop 1's cache is read once per pass that has rows on it (the attention kernel reads
    it once for all of them); own full caches once each; G-SWA windows once each."""
    c = 2 * cfg.n_layer * cfg.n_embd * np.dtype(cfg.dtype).itemsize    # one position, all layers
    total = 0
    for loops in passes(cfg, schedule):
        if any(loop == 0 or cfg.kv_share for loop in loops):
            total += n * c                                   # loop 1's (shared) cache
        total += sum(n * c for loop in loops if loop > 0 and not cfg.kv_share)
        total += sum(min(n, cfg.window) * c for loop in loops if loop > 0 and cfg.gswa)
    return total


def bytes_per_step(cfg: M.Config, batch: int, n: int, schedule: str) -> int:
    """Weights once, plus each sequence's KV cache."""
    return weight_bytes_per_step(cfg, schedule) + batch * kv_bytes_read_per_sequence(cfg, n, schedule)


def flops_per_step(cfg: M.Config, batch: int, n: int, schedule: str) -> int:
    """2 x multiply-adds of one step for `batch` sequences with n positions cached: every
    row through the products of its pass, its attention over the keys it reads, and the
    head once per sequence."""
    C, NL = cfg.n_embd, cfg.n_layer
    total = 0
    for loops in passes(cfg, schedule):
        for loop in loops:
            names = _pass_matrices(cfg, [loop])
            total += 2 * NL * sum(r * c for r, c in (_matrix_shape(cfg, m) for m in names))
            keys = n + (min(n, cfg.window) if loop > 0 and cfg.gswa else 0)
            total += 2 * 2 * NL * keys * C                   # q.k and p.v over `keys`
    return batch * (total + 2 * C * cfg.vocab_size)


def last_level_cache_bytes() -> int | None:
    """The largest CPU cache the operating system reports (Linux sysfs), or None."""
    import glob
    sizes = []
    for path in glob.glob("/sys/devices/system/cpu/cpu0/cache/index*/size"):
        try:
            text = open(path).read().strip()
            scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
            sizes.append(int(text.rstrip("KMG")) * scale)
        except (OSError, ValueError):
            continue
    return max(sizes, default=None)


def memory_bytes() -> int:
    """Bytes of data that do not fit the last-level cache: 1.5x the cache the operating
    system reports, at least 256 MB, at most 1 GB (a server's shared cache can exceed
    that; the bandwidth is then partly the cache's, and the lessons check it)."""
    llc = last_level_cache_bytes() or 0
    return min(max(256 << 20, int(1.5 * llc)), 1 << 30)


def measure_bandwidth(n_bytes: int | None = None, repeats: int = 5) -> float:
    """GB/s of reading float32 data far larger than the caches: the best of numpy's sum
    over it (one thread), a 1-row product with it as the weight matrix through numpy's
    `@` (OpenBLAS's matrix-vector product, its threads) and, where the Numba kernels run,
    through `linear_rows` and the compiled step's packed product (every thread, as a
    decode step reads its weights). The rate a step that reads weights and caches from
    memory can reach at best. By default the data are memory_bytes() long, larger than
    the last-level cache."""
    n_bytes = memory_bytes() if n_bytes is None else n_bytes
    data = np.ones(n_bytes // 4, np.float32)
    seconds = timing.best(lambda: np.add.reduce(data), repeats=repeats, warmup=1)
    weights = data.reshape(-1, 1024)                                # (n/1024, 1024)
    row = np.ones((1, weights.shape[0]), np.float32)
    seconds = min(seconds, timing.best(lambda: row @ weights, repeats=repeats, warmup=1))
    time.sleep(0.2)                  # OpenBLAS's threads spin ~0.1 s after a product
    try:
        from minplt import kernels
        seconds = min(seconds, timing.best(lambda: kernels.linear_rows(row, weights),
                                           repeats=repeats, warmup=1))
        packed_row = np.ones((1, 1024), np.float32)                 # the same data as wt (N, C)
        seconds = min(seconds, timing.best(lambda: kernels.linear_rows_packed(packed_row, weights),
                                           repeats=repeats, warmup=1))
    except ImportError:                                 # no numba: numpy's rate only
        pass
    return n_bytes / seconds / 1e9


def measure_flop_rate(size: int = 1024, repeats: int = 5) -> float:
    """GFLOP/s of a large float32 matrix product through BLAS: the arithmetic rate a
    compute-bound step can reach at best."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size)).astype(np.float32)
    b = rng.standard_normal((size, size)).astype(np.float32)
    seconds = timing.best(lambda: a @ b, repeats=repeats, warmup=1)
    return 2 * size ** 3 / seconds / 1e9


def predict_ms(cfg: M.Config, batch: int, n: int, schedule: str, gb_per_s: float,
               gflop_per_s: float) -> dict:
    """The roofline of one step: the time to read its bytes, the time to do its
    arithmetic, and the larger of the two (milliseconds), which assumes the two overlap
    completely. Also their sum, `no_overlap_ms`: the time of a step whose arithmetic
    waits for its reads and the reads for the arithmetic. Measured steps fall between
    the two; where they sit shows how well the kernels hide one behind the other (on a
    CPU core streaming weights, not much: docs/kernels.md)."""
    read = bytes_per_step(cfg, batch, n, schedule) / (gb_per_s * 1e9) * 1e3
    compute = flops_per_step(cfg, batch, n, schedule) / (gflop_per_s * 1e9) * 1e3
    return {"read_ms": read, "compute_ms": compute, "roofline_ms": max(read, compute),
            "no_overlap_ms": read + compute,
            "bound": "memory" if read >= compute else "compute"}


def crossover_batch(cfg: M.Config, n: int, schedule: str, gb_per_s: float,
                    gflop_per_s: float) -> int | None:
    """The smallest batch at which a step's arithmetic takes longer than its reads (the
    step turns compute-bound). Both are linear in the batch B,
        read(B) = (weights + B kv) / bandwidth,   compute(B) = B flops / rate,
    so it is the first B above weights/bandwidth / (flops/rate - kv/bandwidth); None
    when each sequence adds more reading than arithmetic (a long context, for example):
    then no batch is compute-bound."""
    bandwidth, rate = gb_per_s * 1e9, gflop_per_s * 1e9
    per_sequence = flops_per_step(cfg, 1, n, schedule) / rate \
        - kv_bytes_read_per_sequence(cfg, n, schedule) / bandwidth
    if per_sequence <= 0:
        return None
    return int(weight_bytes_per_step(cfg, schedule) / bandwidth // per_sequence) + 1
