"""Worked solutions to lesson 03's exercises (cross-loop parallelism).

1. Passes in the trace (loop+clp-4, prompt of 5, then 6 decoded tokens).
   The prefill runs the training computation over the prompt: one pass per loop, each
   covering all 5 prompt positions, so 4 passes whatever the prompt length. Then every
   decoded token costs one pass of 4 rows with the parallel schedule and 4 passes of one
   row with the sequential one:
       parallel:   4 + 6 * 1 = 10
       sequential: 4 + 6 * 4 = 28
   A common slip is to forget the prefill's passes: (6, 24).

2. Which carried state loop l reads.
   cache.carried holds L-1 states, h^(1)_{t-1} .. h^(L-1)_{t-1}: loop L's output goes to
   the head, not to the next position. Index 0 is h^(1), so h^(l-1) is index l-2. In
   M.step_sequential the loop variable is 0-based, which is why the code
   reads `cache.carried[l - 1]` with its 0-based l: the same index, l - 2 in the count
   of the formulas.
   Reading the formula's `l` as the code's index gives l - 1, one loop too far.

3. Four loops, attention off.
   Without attention, a cell's output depends on its own input only. Loop 1 at t reads
   x_t; loop 2 at t reads x_t and loop 1 at t-1 (x_{t-1}); loop 3 adds x_{t-2} through
   loop 2 at t-1; loop 4 adds x_{t-3}. So h^(4)_t depends on offsets [-3, -2, -1, 0]:
   L tokens, one per loop along the diagonal. (The L = 3 answer, [-2, -1, 0], is the
   mistake of not changing anything.)

4. The CLP shift.
   Normalise every row of h^(l-1) with RMSNorm and the gain norm_f, then shift by one
   position: row t of the result is the normalised row t-1, row 0 is zero (h_{-1} := 0,
   and N(0) = 0). Add the embeddings. Normalising after shifting gives the same rows
   except row 0, where it would divide 0 by sqrt(eps): still 0, so either order passes;
   forgetting the shift (E + N(h)) or the norm (E + shifted h) does not.
"""
import numpy as np


def carried_index(l):
    return l - 2


def clp_inputs(E, h_prev, norm_f, eps):
    normed = h_prev / np.sqrt(np.mean(h_prev * h_prev, axis=-1, keepdims=True) + eps) * norm_f
    u = E.copy()
    u[1:] += normed[:-1]           # position t reads loop l-1 at t-1; position 0 reads 0
    return u


def clp_inputs_without_shift(E, h_prev, norm_f, eps):     # the mistake: loop l-1 at t
    return E + h_prev / np.sqrt(np.mean(h_prev * h_prev, axis=-1, keepdims=True) + eps) * norm_f


SOLUTIONS = {
    "check_trace_passes": (10, 28),
    "check_carried_index": carried_index,
    "check_chain_offsets": [-3, -2, -1, 0],
    "check_clp_inputs": clp_inputs,
}

WRONG = {
    "check_trace_passes": (6, 24),
    "check_carried_index": lambda l: l - 1,
    "check_chain_offsets": [-2, -1, 0],
    "check_clp_inputs": clp_inputs_without_shift,
}
