"""Checks for lesson 04's exercises (KV sharing and G-SWA). Each finds the right answer
from minplt itself: a real decode, the stepper's measured reads, the model's memory
table. Worked solutions are in solutions/ex04.py."""
import math

import numpy as np

from minplt import model as M

from . import call, right, unanswered, wrong

V = 23


def _decode_slots(W, n):
    """Per decode step t = 0..n-1 of a PLT-2 from an empty cache, the ring slots whose
    keys or values the step changed (loop 2's ring, all layers)."""
    cfg = M.make_config("plt", 2, "tiny", vocab_size=V, window=W, dtype="float64")
    params = M.init_params(cfg, seed=0)
    cache = M.new_cache(cfg, capacity=n)
    slots = []
    for t in range(n):
        before = cache.k_ring.copy(), cache.v_ring.copy()
        M.step(params, cfg, cache, t % V)
        changed = ((cache.k_ring != before[0]) | (cache.v_ring != before[1]))[0, :, 0]
        slots.append(sorted(set(np.nonzero(changed.any(axis=(0, 1, 3)))[0].tolist())))
    return slots


def check_ring_slot(answer):
    """Exercise 1: ring_slot(t, W), the slot position t is written to."""
    if unanswered(answer, "your function ring_slot"):
        return False
    for W in (3, 5):
        n = 3 * W + 1
        for t, written in enumerate(_decode_slots(W, n)):
            ok, slot = call(answer, t, W)
            if not ok:
                return wrong(f"ring_slot({t}, {W}) failed: {slot}")
            if [slot] != written:
                return wrong(f"ring_slot({t}, {W}) = {slot!r}, but the decode step at t = {t} "
                             f"wrote slot {written[0]}",
                             "the ring has W slots and is reused in turn: position W goes "
                             "where position 0 was")
    return right("position t goes to slot t % W, overwriting position t - W")


def _measured_ring_reads(W, n_new=8):
    """{t: positions whose loop-2 ring slots the step at t reads}, measured by the stepper
    on a PLT-2 with a prompt of one token."""
    from visualizations.stepper import DecodeStepper

    cfg = M.make_config("plt", 2, "tiny", vocab_size=V, window=W)
    stepper = DecodeStepper(M.init_params(cfg, seed=0), cfg, np.array([1]), n_new)
    reads = {}
    for previous, frame in zip(stepper.frames, stepper.frames[1:]):
        reads[frame.position] = sorted(previous.holds[e] for e in frame.read if e[0] == "ring")
    return reads


def check_ring_reads(answer):
    """Exercise 2: ring_reads(t, W), the sorted positions whose ring slots step t reads."""
    if unanswered(answer, "your function ring_reads"):
        return False
    W = 3
    for t, measured in _measured_ring_reads(W).items():
        ok, got = call(answer, t, W)
        if not ok:
            return wrong(f"ring_reads({t}, {W}) failed: {got}")
        try:
            got = sorted(int(p) for p in got)
        except (TypeError, ValueError):
            return wrong(f"ring_reads({t}, {W}) returned {got!r}: expected a list of positions")
        if got != measured:
            hint = ("position t is written by the step, not read from the cache: leave it out"
                    if t in got else
                    "the slot the step overwrites held t - W, which has left the window"
                    if t - W in got else
                    "the window at t is t-W+1..t; the step writes t, so it reads the rest")
            return wrong(f"ring_reads({t}, {W}) = {got}, the stepper measured {measured}", hint)
    return right("the step at t reads the slots of t-W+1..t-1: W-1 positions once the ring is "
                 "full; the slot of t-W is overwritten before anything reads it")


def _alternating_bytes(L, T, W, c):
    """The family of exercise 3, built from the model's own table: ceil(L/2) full caches
    (vanilla's row, T c each) and floor(L/2) rings (PLT-2's row minus vanilla's)."""
    vanilla = M.make_config("vanilla", None, "tiny", vocab_size=V)
    plt2 = M.make_config("plt", 2, "tiny", vocab_size=V, window=W)
    full = M.kv_cache_bytes_formula(vanilla, T, c)
    ring = M.kv_cache_bytes_formula(plt2, T, c) - full
    return math.ceil(L / 2) * full + (L // 2) * ring


def check_kv_bytes(answer):
    """Exercise 3: alternating_bytes(L, T, W, c) for odd loops with full caches and even
    loops with their own rings (reading the full cache below them)."""
    if unanswered(answer, "your function alternating_bytes"):
        return False
    for L, T, W, c in [(2, 100, 16, 8192), (3, 100, 16, 8192), (4, 10, 16, 512),
                       (5, 2048, 64, 32768), (6, 7, 3, 100)]:
        ok, got = call(answer, L, T, W, c)
        if not ok:
            return wrong(f"alternating_bytes{(L, T, W, c)} failed: {got}")
        want = _alternating_bytes(L, T, W, c)
        try:
            same = math.isclose(float(got), want, rel_tol=1e-12)
        except (TypeError, ValueError):
            return wrong(f"alternating_bytes{(L, T, W, c)} returned {got!r}: expected a number")
        if not same:
            return wrong(f"alternating_bytes{(L, T, W, c)} = {got!r}, expected {want:,}",
                         "count the full caches (odd loops: ceil(L/2)) and the rings (even "
                         "loops: floor(L/2)); a ring holds min(T, W) positions")
    return right("ceil(L/2) T c + floor(L/2) min(T, W) c: half the loops' full caches, plus "
                 "one window per sharing loop")
