"""Checks for lesson 05 (latency on a CPU): a weight read's time, the break-even row
count, the weight bytes of a decode step, and the least time of a product of R rows.

Each check computes the right answer itself (from the numbers in the exercise, or from
`minplt.roofline`), prints one line and returns True only for a right answer.
"""
from minplt import model as M
from minplt import roofline

from exercises import call, check_number, right, unanswered, wrong

READ_GB_PER_S = 20.0               # exercise 1: the machine's read bandwidth
READ_SHAPE = (1024, 2816)          # exercise 1: the bench preset's (C, F)
BREAK_EVEN_GB_PER_S, BREAK_EVEN_GFLOP_PER_S = 25.0, 300.0     # exercise 2


def check_read_ms(answer):
    """Exercise 1: milliseconds of one read of a float32 (1024, 2816) matrix at 20 GB/s."""
    rows, cols = READ_SHAPE
    expected = 4 * rows * cols / (READ_GB_PER_S * 1e9) * 1e3
    return check_number(answer, expected, "the read time in ms", rel=0.02,
                        hint="bytes = 4 x C x F (float32); time = bytes / (20e9 bytes/s); "
                             "then seconds -> milliseconds")


def check_break_even(answer):
    """Exercise 2: rows R at which 2 R C F / FLOP rate equals 4 C F / bandwidth."""
    expected = 2 * BREAK_EVEN_GFLOP_PER_S / BREAK_EVEN_GB_PER_S
    return check_number(answer, expected, "the break-even row count R*", rel=0.02,
                        hint="set 2 R C F / (300e9 FLOP/s) equal to 4 C F / (25e9 B/s): "
                             "C F cancels")


CASES = (("vanilla", "sequential"), ("loop-2", "sequential"), ("plt-2", "parallel"),
         ("plt-3", "parallel"), ("plt-3", "sequential"))


def check_weight_read_ms(answer):
    """Exercise 3: the learner's weight_read_ms(cfg, schedule, gb_per_s) against
    minplt.roofline.weight_bytes_per_step / bandwidth (within 1%: the G-SWA gate, which
    the exercise leaves out, is about 0.1% of a layer)."""
    if unanswered(answer, "your function weight_read_ms"):
        return False
    gb_per_s = 30.0
    for variant, schedule in CASES:
        cfg = M.make_config(variant, preset="bench")
        ok, got = call(answer, cfg, schedule, gb_per_s)
        if not ok:
            return wrong(f"weight_read_ms failed for {variant} ({schedule}): {got}")
        try:
            got = float(got)
        except (TypeError, ValueError):
            return wrong(f"weight_read_ms returned {got!r} for {variant}: expected a number of ms")
        expected = roofline.weight_bytes_per_step(cfg, schedule) / (gb_per_s * 1e9) * 1e3
        if not abs(got - expected) <= 0.01 * expected:
            return wrong(f"{variant} ({schedule}) at {gb_per_s:g} GB/s: you said {got:.4g} ms, "
                         f"expected {expected:.4g} ms",
                         hint="passes x n_layer x (4 C^2 + 3 C F) x 4 bytes, plus C V x 4 for "
                              "the head; the sequential schedule makes n_loops passes")
    return right("every step's weight read time matches minplt.roofline (vanilla, loop-2, "
                 "plt-2, plt-3 in both schedules)")


PRODUCT_CASES = ((1, 1024, 2816, 25.0, 300.0), (8, 1024, 2816, 25.0, 300.0),
                 (24, 1024, 2816, 25.0, 300.0), (64, 1024, 2816, 25.0, 300.0),
                 (32, 512, 1408, 10.0, 36.0))


def product_floor_ms(R, C, F, gb_per_s, gflop_per_s):
    """The least ms of a float32 (R,C) @ (C,F) when reading and arithmetic overlap."""
    read = 4 * C * F / (gb_per_s * 1e9)
    arithmetic = 2 * R * C * F / (gflop_per_s * 1e9)
    return 1e3 * max(read, arithmetic)


def check_product_ms(answer):
    """Exercise 4: the learner's product_ms(R, C, F, gb_per_s, gflop_per_s) against the
    larger of one read of the weights and the arithmetic, for several R and machines."""
    if unanswered(answer, "your function product_ms"):
        return False
    for R, C, F, gb_per_s, gflop_per_s in PRODUCT_CASES:
        ok, got = call(answer, R, C, F, gb_per_s, gflop_per_s)
        if not ok:
            return wrong(f"product_ms failed for R = {R}: {got}")
        try:
            got = float(got)
        except (TypeError, ValueError):
            return wrong(f"product_ms returned {got!r} for R = {R}: expected a number of ms")
        expected = product_floor_ms(R, C, F, gb_per_s, gflop_per_s)
        if not abs(got - expected) <= 0.01 * expected:
            return wrong(f"R = {R}, ({C}, {F}), {gb_per_s:g} GB/s, {gflop_per_s:g} GFLOP/s: you "
                         f"said {got:.4g} ms, expected {expected:.4g} ms",
                         hint="the weights are read once whatever R is (4 C F bytes); the "
                              "arithmetic is 2 R C F FLOPs; when they overlap, the slower sets "
                              "the time")
    return right("the least time of R rows is the larger of one weight read and the "
                 "arithmetic: flat up to the break-even R*, then growing with R")
