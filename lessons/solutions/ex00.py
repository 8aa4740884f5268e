"""Worked solutions to lesson 00's exercises (try them first).

1. KV bytes. Each position stores, in each of the NL layers, a key and a value: 2 vectors
   of C numbers, 4 bytes each in float32. Per position: c = 2 · NL · C · 4. The `small`
   preset has NL = 4 and C = 128, so c = 2 · 4 · 128 · 4 = 4,096 bytes, and 100 positions
   hold 409,600 bytes. (The preallocated arrays may be larger: `M.kv_cache_bytes` counts
   the positions held, as this exercise does.)

2. Causal softmax. Set the scores of future keys (s > t) to -inf, subtract each row's
   maximum (the diagonal is always visible, so the maximum is finite), exponentiate:
   exp(-inf) is exactly 0. Divide by the row sum. Without the maximum, scores around 1000
   overflow exp() to inf and the weights become nan. Multiplying the scores by the mask
   instead (WRONG below) gives future keys a score of 0, which is not a weight of 0.

3. RoPE pair. Pair i rotates by theta_i(t) = t · base^(-2i/D):
       y1 = x1 cos(theta) - x2 sin(theta),  y2 = x1 sin(theta) + x2 cos(theta).
   For i = 0 the frequency is base^0 = 1: one radian per position, the fastest; the
   last pair turns slowest, base^(-(D-2)/D) radians per position. A common slip is the
   exponent -i/D (WRONG below), which halves the spread of frequencies.
"""
import numpy as np


def kv_bytes_small_100():
    NL, C, bytes_per_float = 4, 128, 4
    c = 2 * NL * C * bytes_per_float        # 4,096 bytes per position
    return 100 * c                          # 409,600


def causal_softmax(scores):
    T = scores.shape[-1]
    future = np.triu(np.ones((T, T), bool), k=1)
    s = np.where(future, -np.inf, scores)
    s = s - s.max(axis=-1, keepdims=True)     # the diagonal is visible: the max is finite
    e = np.exp(s)                             # exp(-inf) = 0 exactly
    return e / e.sum(axis=-1, keepdims=True)


def causal_softmax_masked_by_multiplying(scores):
    """A plausible mistake: scores * mask gives future keys a score of 0, not a weight of 0."""
    T = scores.shape[-1]
    s = scores * np.tril(np.ones((T, T)))
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def rope_pair(x1, x2, t, i, D, base=10000.0):
    theta = t * base ** (-2 * i / D)
    return x1 * np.cos(theta) - x2 * np.sin(theta), x1 * np.sin(theta) + x2 * np.cos(theta)


def rope_pair_wrong_exponent(x1, x2, t, i, D, base=10000.0):
    theta = t * base ** (-i / D)              # the slip: -i/D instead of -2i/D
    return x1 * np.cos(theta) - x2 * np.sin(theta), x1 * np.sin(theta) + x2 * np.cos(theta)


SOLUTIONS = {
    "check_kv_bytes": kv_bytes_small_100(),
    "check_causal_softmax": causal_softmax,
    "check_rope_pair": rope_pair,
}
WRONG = {
    "check_kv_bytes": 100 * 128 * 4 * 4,      # forgot that K and V are two arrays
    "check_causal_softmax": causal_softmax_masked_by_multiplying,
    "check_rope_pair": rope_pair_wrong_exponent,
}
