"""Checks for lesson 00's exercises (the transformer in NumPy).

- check_kv_bytes: the KV cache's bytes after 100 positions of the `small` preset;
- check_causal_softmax: a causal softmax whose future weights are exactly 0;
- check_rope_pair: RoPE's rotation of one pair of channels.

Each prints one line and returns True only for a right answer (exercises/__init__.py).
"""
import numpy as np

from exercises import call, check_number, right, same_array, unanswered, wrong
from minplt import model as M

N_POSITIONS = 100     # the exercise's number of positions


def check_kv_bytes(answer):
    """The bytes of keys and values held after N_POSITIONS positions, `small` preset."""
    cfg = M.make_config("vanilla", preset="small", vocab_size=103)
    expected = M.kv_cache_bytes_formula(cfg, N_POSITIONS)
    return check_number(answer, expected, f"KV bytes of the small preset after {N_POSITIONS} "
                        "positions", hint="per position: a key and a value (2), C numbers each, "
                        "in each of NL layers, 4 bytes per float32 number")


def _reference_causal_softmax(scores):
    T = scores.shape[-1]
    masked = np.where(M.causal_mask(T), scores, -np.inf)
    return M.softmax(masked.copy())


def check_causal_softmax(function):
    """The learner's causal softmax on small and very large scores, against the model's."""
    if unanswered(function, "your function my_causal_softmax"):
        return False
    if not callable(function):
        return wrong(f"expected a function, got {type(function).__name__}")
    rng = np.random.default_rng(0)
    cases = {"random scores": rng.normal(size=(6, 6)),
             "scores around 1000": 1000.0 + 50 * rng.normal(size=(5, 5))}
    for what, scores in cases.items():
        ok, got = call(function, scores.copy())
        if not ok:
            return wrong(f"on {what} your function raised {got}")
        if got is None:
            return wrong("your function returned None", "return the (T, T) array of weights")
        got = np.asarray(got, dtype=np.float64)
        future = ~M.causal_mask(scores.shape[0])
        if got.shape == scores.shape and not np.all(got[future] == 0):
            return wrong(f"on {what}, future keys get weight up to {np.abs(got[future]).max():.3g}, "
                         "not exactly 0", "set their scores to -np.inf before the exponential")
        if got.shape == scores.shape and not np.all(np.isfinite(got)):
            return wrong(f"on {what} some weights are not finite (overflow?)",
                         "subtract each row's maximum before np.exp")
        if not same_array(got, _reference_causal_softmax(scores), f"on {what}, your array",
                          atol=1e-12, hint="each row: exp(score - row max) over the keys s <= t, "
                          "divided by their sum"):
            return False
    return right("every row sums to 1 over its past, and the future gets exactly 0")


def check_rope_pair(function):
    """The learner's rotation of pair i at position t, against M.rope_forward."""
    if unanswered(function, "your function my_rope_pair"):
        return False
    if not callable(function):
        return wrong(f"expected a function, got {type(function).__name__}")
    D, base = 8, 10000.0
    cos, sin = M.rope_tables(D, 64, base)
    x = np.random.default_rng(1).normal(size=D)
    for t in (0, 3, 41):
        y = M.rope_forward(x, cos[t], sin[t])
        for i in range(D // 2):
            ok, got = call(function, x[i], x[i + D // 2], t, i, D, base)
            if not ok:
                return wrong(f"at t={t}, pair {i} your function raised {got}")
            try:
                y1, y2 = (float(v) for v in got)
            except (TypeError, ValueError):
                return wrong(f"expected a pair (y1, y2), got {got!r}")
            want = (y[i], y[i + D // 2])
            if not np.allclose((y1, y2), want, atol=1e-9):
                return wrong(f"at t={t}, pair {i}: you gave ({y1:.6f}, {y2:.6f}), RoPE gives "
                             f"({want[0]:.6f}, {want[1]:.6f})",
                             "angle = t * base ** (-2 * i / D); y1 = x1 cos - x2 sin, "
                             "y2 = x1 sin + x2 cos")
    return right("pair i at position t turns by t · base^(-2i/D); pair 0 turns fastest "
                 "(one radian per position)")
