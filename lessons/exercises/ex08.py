"""Checks for lesson 08 (the roofline of decoding): one point of the roofline by hand,
whether a step is memory- or compute-bound, and the batch from which PLT's extra rows
stop being free.

Each check computes the right answer itself from `minplt.roofline` (with the rates the
exercise gives, not this machine's), prints one line and returns True only for a right
answer.
"""
from minplt import model as M
from minplt import roofline

from exercises import as_number, call, check_choice, check_number, right, unanswered, wrong

GB_PER_S, GFLOP_PER_S = 40.0, 250.0           # the machine of exercises 2 and 3
POINTS = [("vanilla", 1, 16), ("vanilla", 8, 256), ("loop-2", 1, 1024), ("loop-2", 16, 256),
          ("loop-3", 4, 64)]


def check_step_point(answer):
    """Exercise 1: step_point(cfg, batch, n_pos) -> (bytes, flops) of one sequential step
    of vanilla / loop-L, against roofline.bytes_per_step and roofline.flops_per_step."""
    if unanswered(answer, "your function step_point"):
        return False
    for variant, batch, n_pos in POINTS:
        cfg = M.make_config(variant, preset="bench")
        ok, got = call(answer, cfg, batch, n_pos)
        if not ok:
            return wrong(f"step_point failed for {variant}, batch {batch}, n_pos {n_pos}: {got}")
        try:
            got_bytes, got_flops = (float(v) for v in got)
        except (TypeError, ValueError):
            return wrong(f"step_point returned {got!r}: expected a pair (bytes, flops)")
        want_bytes = roofline.bytes_per_step(cfg, batch, n_pos, "sequential")
        want_flops = roofline.flops_per_step(cfg, batch, n_pos, "sequential")
        if abs(got_bytes - want_bytes) > 1e-9 * want_bytes:
            return wrong(f"{variant}, batch {batch}, n_pos {n_pos}: bytes {got_bytes:,.0f}, "
                         f"expected {want_bytes:,.0f}",
                         hint="weights once per loop (the head once), caches per sequence and "
                              "loop: 2 NL C values per position; 4 bytes each")
        if abs(got_flops - want_flops) > 1e-9 * want_flops:
            return wrong(f"{variant}, batch {batch}, n_pos {n_pos}: FLOPs {got_flops:,.0f}, "
                         f"expected {want_flops:,.0f}",
                         hint="per sequence and loop: 2 (4 C^2 + 3 C F) NL + 4 NL n_pos C; "
                              "per sequence: 2 C V for the head")
    return right("bytes and FLOPs match minplt.roofline for vanilla, loop-2 and loop-3")


def _bound(variant, batch, n_pos):
    cfg = M.make_config(variant, preset="bench")
    schedule = "parallel" if cfg.clp else "sequential"
    return roofline.predict_ms(cfg, batch, n_pos, schedule, GB_PER_S, GFLOP_PER_S)


def check_bound(answer):
    """Exercise 2: loop-2 at batch 16, 256 positions, 40 GB/s and 250 GFLOP/s."""
    point = _bound("loop-2", 16, 256)
    return check_choice(answer, point["bound"], ("memory", "compute"), "loop-2 at batch 16",
                        f"reading takes {point['read_ms']:.1f} ms, the arithmetic "
                        f"{point['compute_ms']:.1f} ms: each of the 16 sequences brings two "
                        "caches to read, which keeps loop-2 below the machine balance",
                        hint="compare bytes / (40e9 B/s) with FLOPs / (250e9 FLOP/s); don't "
                             "forget the two caches each sequence reads")


def check_free_rows_batch(answer):
    """Exercise 3: the first batch at which PLT-2 (parallel, 256 positions) is
    compute-bound at 40 GB/s and 250 GFLOP/s."""
    cfg = M.make_config("plt-2", preset="bench")
    expected = roofline.crossover_batch(cfg, 256, "parallel", GB_PER_S, GFLOP_PER_S)
    if unanswered(answer, "the batch"):
        return False
    x = as_number(answer)
    if x is None or isinstance(answer, bool) or not x.is_integer():
        return wrong(f"expected a whole number of sequences, got {answer!r}")
    if int(x) == expected:
        below = _bound("plt-2", expected - 1, 256)
        return right(f"from batch {expected}: at batch {expected - 1} reading still takes "
                     f"{below['read_ms']:.2f} ms against {below['compute_ms']:.2f} ms of "
                     "arithmetic")
    return check_number(answer, expected, "the first compute-bound batch",
                        hint="read(B) = (weights + B kv) / bandwidth, compute(B) = B flops / "
                             "rate; the caches and the attention count too, not only the weights")
