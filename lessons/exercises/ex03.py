"""Checks for lesson 03's exercises (cross-loop parallelism). Each runs a tiny model of
minplt to find the right answer itself; worked solutions are in solutions/ex03.py."""
import numpy as np

from minplt import model as M

from . import call, right, same_array, unanswered, wrong

V = 23


def _random_params(cfg, seed):
    """Weights drawn wide enough that every loop's output matters (float64)."""
    rng = np.random.default_rng(seed)
    return {k: (v if v.ndim == 1 else rng.normal(0, 0.3, v.shape))
            for k, v in M.init_params(cfg).items()}


def _as_ints(answer, n):
    """A tuple of n ints, or None when the answer is not n whole numbers."""
    try:
        values = [float(x) for x in answer]
    except (TypeError, ValueError):
        return None
    if len(values) != n or not all(np.isfinite(values)) or any(v != int(v) for v in values):
        return None
    return tuple(int(v) for v in values)


def check_trace_passes(answer):
    """Exercise 1: (parallel, sequential) passes in cache.trace after a loop+clp-4 model
    prefills 5 tokens and decodes 6."""
    if unanswered(answer, "a pair (parallel, sequential)"):
        return False
    given = _as_ints(answer, 2)
    if given is None:
        return wrong(f"expected a pair of whole numbers (parallel, sequential), got {answer!r}")
    cfg = M.make_config("loop+clp", 4, "tiny", vocab_size=V)
    params = M.init_params(cfg, seed=0)
    counts = []
    for schedule in ("parallel", "sequential"):
        _, cache = M.generate(params, cfg, np.arange(5), 7, schedule=schedule, return_cache=True)
        counts.append(len(cache.trace))      # 7 new tokens: the last one is not fed back
    expected = tuple(counts)
    if given == expected:
        return right(f"{expected[0]} and {expected[1]} passes: the prefill makes one pass per "
                     "loop (4) over the whole prompt, then each token costs 1 pass in "
                     "parallel and 4 in sequence")
    if given == (expected[0] - 4, expected[1] - 4):
        return wrong(f"{given} counts the decode steps only",
                     "the prefill is in the trace too: one pass per loop over the prompt")
    return wrong(f"{given} is not what the model records",
                 "a prefill pass covers the whole prompt for one loop; then count per token")


def check_carried_index(answer):
    """Exercise 2: the index i with cache.carried[i] = h^(l-1)_{t-1}, for 1-based loop l."""
    if unanswered(answer, "your function carried_index"):
        return False
    L, P = 4, 6
    cfg = M.make_config("loop+clp", L, "tiny", vocab_size=V, dtype="float64")
    params = _random_params(cfg, 3)
    prompt = np.random.default_rng(3).integers(0, V, P)
    _, cache = M.prefill(params, cfg, prompt)
    fwd = M.forward(params, cfg, prompt[None])[2]
    for l in range(2, L + 1):
        ok, i = call(answer, l)
        if not ok:
            return wrong(f"carried_index({l}) failed: {i}")
        if not isinstance(i, (int, np.integer)) or isinstance(i, bool) or not 0 <= i < L - 1:
            return wrong(f"carried_index({l}) returned {i!r}: expected an index 0..{L - 2} "
                         f"into cache.carried, which holds L-1 = {L - 1} states")
        want = fwd.loops[l - 2].h[0, P - 1]                  # h^(l-1) at the last position
        if not np.array_equal(cache.carried[i, 0], want):
            return wrong(f"carried_index({l}) = {i}: cache.carried[{i}] is not h^({l - 1})",
                         "carried holds h^(1)..h^(L-1): its index 0 is loop 1's output")
    return right("loop l reads cache.carried[l-2]: index 0 is h^(1), the output of loop 1, "
                 "and loop l needs loop l-1's output")


def _chain_offsets(L, T=9):
    """Offsets s - t of the tokens that h^(L)_t depends on, at the last t, attention off."""
    cfg = M.make_config("loop+clp", L, "tiny", vocab_size=V, dtype="float64")
    params = {k: (np.zeros_like(v) if k.endswith(".wo") else v)
              for k, v in _random_params(cfg, 1).items()}
    seq = np.random.default_rng(1).integers(0, V, T)
    base = M.forward(params, cfg, seq[None])[2].loops[-1].h[0, -1]
    offsets = []
    for s in range(T):
        changed = seq.copy()
        changed[s] = (changed[s] + 1) % V
        if np.abs(M.forward(params, cfg, changed[None])[2].loops[-1].h[0, -1] - base).max() > 1e-12:
            offsets.append(s - (T - 1))
    return offsets


def check_chain_offsets(answer):
    """Exercise 3: the offsets s - t of the tokens h^(4)_t of loop+clp-4 depends on,
    with attention off."""
    if unanswered(answer, "a list of offsets such as [-2, -1, 0]"):
        return False
    try:
        given = sorted(int(x) for x in answer)
    except (TypeError, ValueError):
        return wrong(f"expected a list of whole numbers (offsets s - t), got {answer!r}")
    expected = _chain_offsets(4)
    if given == expected:
        return right(f"offsets {expected}: one more loop reaches one more position back, the "
                     "diagonal from loop 1 at t-3 to loop 4 at t")
    return wrong(f"h^(4)_t does not depend on exactly the tokens at offsets {given}",
                 "follow the diagonal: loop 4 at t reads loop 3 at t-1, which reads loop 2 "
                 "at t-2, ...; each loop also adds its own position's embedding")


def check_clp_inputs(answer):
    """Exercise 4: clp_inputs(E, h_prev, norm_f, eps) -> u^(l), (T, C), for a whole
    sequence, as the training forward builds it."""
    if unanswered(answer, "your function clp_inputs"):
        return False
    cfg = M.make_config("loop+clp", 3, "tiny", vocab_size=V, dtype="float64")
    params = _random_params(cfg, 2)
    seq = np.random.default_rng(2).integers(0, V, 10)
    fwd = M.forward(params, cfg, seq[None])[2]
    E = params["wte"][seq]
    for l in (2, 3):
        h_prev = fwd.loops[l - 2].h[0]
        inputs = (E.copy(), h_prev.copy(), params["norm_f"].copy(), cfg.norm_eps)
        ok, u = call(answer, *inputs)
        if not ok:
            return wrong(f"clp_inputs failed: {u}")
        if not (np.array_equal(inputs[0], E) and np.array_equal(inputs[1], h_prev)):
            return wrong("clp_inputs changed its arguments E or h_prev in place",
                         "build a new array (E.copy(), or E + ...) instead")
        want = fwd.loops[l - 1].u[0]
        hint = ("u_0 = E_0; for t >= 1, u_t = E_t + RMSNorm(h_prev_(t-1)) with the gain "
                "norm_f: normalise first, then shift by one position")
        if not same_array(u, want, f"u^({l})", atol=1e-10, hint=hint):
            return False
    return right("u^(l)_t = E_t + N(h^(l-1)_(t-1)) with a row of zeros shifted in at t = 0, "
                 "the forward's own inputs for loops 2 and 3")
