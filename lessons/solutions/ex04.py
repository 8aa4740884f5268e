"""Worked solutions to lesson 04's exercises (KV sharing and G-SWA).

1. The ring-buffer index.
   A ring of W slots keeps the last W positions. Position 0 goes to slot 0, ..., position
   W-1 to slot W-1; position W must replace the oldest, position 0, so it goes to slot 0
   again: slot = t % W. The slot that t overwrites held t - W, the position that has just
   left the window. (t // W, a common slip, numbers the rounds instead of the slots.)

2. Which ring slots a step reads.
   The local branch at t attends to positions t-W+1..t (the window counts t itself). The
   step first writes t into slot t % W, overwriting t - W, then attends; so of the
   positions that were in the ring before the step, it reads t-W+1..t-1:
       ring_reads(t, W) = [t-W+1, ..., t-1]   (only those >= 0)
   That is W-1 positions once the ring is full. Position t is attended to too, but the
   step has just written it, so the stepper shows it as written, not read. Including
   t - W (list(range(t - W, t))) is the mistake: that slot is overwritten before it is
   read.

3. The KV bytes of the alternating family.
   c bytes hold one position's keys and values in all layers. The odd loops 1, 3, 5, ...
   keep full caches of T positions each: ceil(L/2) of them. The even loops keep no full
   cache (they read the one below them) but a ring of min(T, W) positions each:
   floor(L/2) of them. So
       bytes = ceil(L/2) T c + floor(L/2) min(T, W) c.
   For L = 2 this is PLT-2's table row, T c + min(T, W) c. Halving the looped model's
   L T c forgets the rings (and is wrong for odd L).
"""
import math


def ring_slot(t, W):
    return t % W


def ring_reads(t, W):
    return list(range(max(0, t - W + 1), t))


def alternating_bytes(L, T, W, c):
    return math.ceil(L / 2) * T * c + (L // 2) * min(T, W) * c


SOLUTIONS = {
    "check_ring_slot": ring_slot,
    "check_ring_reads": ring_reads,
    "check_kv_bytes": alternating_bytes,
}

WRONG = {
    "check_ring_slot": lambda t, W: t // W,
    "check_ring_reads": lambda t, W: list(range(max(0, t - W), t)),
    "check_kv_bytes": lambda L, T, W, c: L * T * c / 2,
}
