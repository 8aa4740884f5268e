"""Tests of minplt/model.py: each would fail on a wrong implementation.

1 gradient check   2 decode == training forward   3 both schedules, same tokens
4 causality        5 cache bytes == §8 table      6 every family overfits a batch
7 fixed-seed losses   8 bad input gives clear errors
"""

import numpy as np
import pytest

from minplt import model as M

# the families of docs/method.md §3, each with the loop counts the tests use
LOOPED = ["loop", "loop+clp", "loop+clp+kvshare", "plt", "loop+kvshare", "loop+kvshare+gswa"]
ALL_VARIANTS = [("vanilla", None)] + [(f, L) for f in LOOPED for L in (2, 3)]


def tiny(family, n_loops=None, **kw):
    kw = {"vocab_size": 13, "window": 3, **kw}
    return M.make_config(family, n_loops, "tiny", **kw)


def spread_params(cfg, seed=0, std=0.4):
    """Random parameters far from the 0.02 init, so attention is not uniform, gates are
    not 0.5 and gradients are large enough for finite differences to resolve."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in M.param_shapes(cfg).items():
        if name.endswith("norm") or name == "norm_f":
            value = 1.0 + 0.3 * rng.normal(size=shape)
        else:
            value = rng.normal(0.0, std, shape)
        out[name] = value.astype(cfg.dtype)
    return out


# ----------------------------------------------------------------------------------------
# 1. gradient check: central differences in float64 on every parameter tensor

GRAD_CASES = [("vanilla", None), ("loop", 3), ("loop+clp", 3), ("loop+clp+kvshare", 3),
              ("plt", 3), ("loop+kvshare+gswa", 2)]


@pytest.mark.parametrize("family,n_loops", GRAD_CASES)
def test_gradient_check(family, n_loops):
    cfg = tiny(family, n_loops, n_embd=8, n_head=2, d_ff=12, dtype="float64", window=3)
    params = spread_params(cfg, seed=1)
    rng = np.random.default_rng(2)
    T = 7                                   # > window: the local branch really slides
    x = rng.integers(0, cfg.vocab_size, (2, T))
    y = rng.integers(0, cfg.vocab_size, (2, T))
    y[0, 2] = -1                            # a position without a target is skipped
    _, grads = M.loss_and_grads(params, cfg, x, y)
    h = 1e-5
    for name, p in params.items():
        flat = p.reshape(-1)
        if name == "wte":                   # rows of tokens in the batch (others are 0)
            rows = np.unique(x)
            candidates = (rows[:, None] * cfg.n_embd + np.arange(cfg.n_embd)).reshape(-1)
        else:
            candidates = np.arange(flat.size)
        picks = rng.choice(candidates, min(8, len(candidates)), replace=False)
        numeric = []
        for i in picks:
            old = flat[i]
            flat[i] = old + h
            up = M.forward(params, cfg, x, y)[1]
            flat[i] = old - h
            down = M.forward(params, cfg, x, y)[1]
            flat[i] = old
            numeric.append((up - down) / (2 * h))
        numeric = np.array(numeric)
        analytic = grads[name].reshape(-1)[picks]
        assert np.linalg.norm(analytic) > 0, f"{name}: zero gradient, nothing checked"
        rel = np.linalg.norm(numeric - analytic) / (np.linalg.norm(numeric) + np.linalg.norm(analytic))
        assert rel <= 1e-6, f"{family}: gradient of {name} off by relative {rel:.2e}"


def test_gradients_do_not_accumulate_across_calls():
    cfg = tiny("plt", 2, dtype="float64")
    params = M.init_params(cfg, 0)
    x = np.arange(10).reshape(1, 10) % cfg.vocab_size
    _, g1 = M.loss_and_grads(params, cfg, x, x)
    _, g2 = M.loss_and_grads(params, cfg, x, x)
    for name in g1:
        np.testing.assert_array_equal(g1[name], g2[name])


# ----------------------------------------------------------------------------------------
# 2. decoding step by step reproduces the training forward's logits

def schedules(cfg):
    return ["sequential", "parallel"] if cfg.clp else ["sequential"]


@pytest.mark.parametrize("dtype,tol", [("float32", 1e-4), ("float64", 1e-9)])
@pytest.mark.parametrize("family,n_loops", ALL_VARIANTS)
def test_decode_matches_training_forward(family, n_loops, dtype, tol):
    cfg = tiny(family, n_loops, dtype=dtype, window=3)
    params = spread_params(cfg, seed=3, std=0.2)
    T = 11                                                # > W = 3: the ring wraps
    seq = np.random.default_rng(4).integers(0, cfg.vocab_size, T)
    reference = M.forward(params, cfg, seq[None])[0][0]  # (T,V)
    for prompt_len in (1, 5):
        for schedule in schedules(cfg):
            logits, cache = M.prefill(params, cfg, seq[:prompt_len], capacity=T)
            decoded = [logits]
            for t in range(prompt_len, T):
                decoded.append(M.step(params, cfg, cache, int(seq[t]), schedule))
            diff = np.abs(np.array(decoded) - reference[prompt_len - 1:]).max()
            assert diff <= tol, f"{cfg.variant} {schedule} prompt {prompt_len}: {diff:.2e}"


@pytest.mark.parametrize("family,n_loops", [("plt", 3), ("loop+clp", 2), ("loop", 2)])
def test_decode_from_an_empty_cache_matches_forward(family, n_loops):
    """Position 0 decoded with nothing before it uses h := 0 for the carried state."""
    cfg = tiny(family, n_loops, dtype="float64")
    params = spread_params(cfg, seed=5, std=0.2)
    seq = np.array([3, 1, 4, 1, 5, 9, 2])
    reference = M.forward(params, cfg, seq[None])[0][0]
    for schedule in schedules(cfg):
        cache = M.new_cache(cfg, capacity=len(seq))
        decoded = [M.step(params, cfg, cache, int(tok), schedule) for tok in seq]
        np.testing.assert_allclose(np.array(decoded), reference, atol=1e-10)


# ----------------------------------------------------------------------------------------
# 3. the two schedules of one CLP model produce the same tokens

@pytest.mark.parametrize("family,n_loops", [("plt", 2), ("plt", 3), ("loop+clp", 3),
                                            ("loop+clp+kvshare", 2)])
def test_schedules_generate_the_same_tokens(family, n_loops):
    cfg = tiny(family, n_loops)
    params = spread_params(cfg, seed=6, std=0.3)
    prompt = np.array([1, 2, 3, 4])
    seq_tokens = M.generate(params, cfg, prompt, 20, schedule="sequential")
    par_tokens = M.generate(params, cfg, prompt, 20, schedule="parallel")
    np.testing.assert_array_equal(seq_tokens, par_tokens)
    assert len(set(seq_tokens.tolist())) > 1, "degenerate test: one token repeated"


def test_parallel_schedule_is_one_pass_per_token_sequential_is_L():
    cfg = tiny("plt", 3)
    params = M.init_params(cfg, 0)
    for schedule, passes_per_token in (("parallel", 1), ("sequential", 3)):
        _, cache = M.generate(params, cfg, np.array([1, 2]), 4, schedule=schedule,
                              return_cache=True)
        decode_passes = cache.trace[3:]                     # after the 3 prefill passes
        assert len(decode_passes) == 3 * passes_per_token   # 4 new tokens, 3 steps after prefill
        cells = [cell for one_pass in decode_passes for cell in one_pass]
        assert cells == [(t, l) for t in (2, 3, 4) for l in (1, 2, 3)]


def test_sampling_is_seeded_and_top_k_restricts():
    cfg = tiny("plt", 2)
    params = spread_params(cfg, seed=7, std=0.3)
    prompt = np.array([1, 2, 3])
    a = M.generate(params, cfg, prompt, 15, temperature=1.0, seed=11)
    b = M.generate(params, cfg, prompt, 15, temperature=1.0, seed=11)
    np.testing.assert_array_equal(a, b)
    greedy = M.generate(params, cfg, prompt, 15, temperature=0.0)
    top1 = M.generate(params, cfg, prompt, 15, temperature=1.0, top_k=1, seed=3)
    np.testing.assert_array_equal(greedy, top1)


# ----------------------------------------------------------------------------------------
# 4. causality: a later token never changes an earlier position's logits

@pytest.mark.parametrize("family,n_loops", ALL_VARIANTS)
def test_causality(family, n_loops):
    cfg = tiny(family, n_loops, dtype="float64")
    params = spread_params(cfg, seed=8, std=0.3)
    seq = np.random.default_rng(9).integers(0, cfg.vocab_size, 10)
    base = M.forward(params, cfg, seq[None])[0][0]
    for t in (3, 9):
        changed = seq.copy()
        changed[t] = (changed[t] + 1) % cfg.vocab_size
        logits = M.forward(params, cfg, changed[None])[0][0]
        np.testing.assert_allclose(logits[:t], base[:t], atol=1e-12, rtol=0)
        assert np.abs(logits[t] - base[t]).max() > 1e-6, "the changed token had no effect"


# ----------------------------------------------------------------------------------------
# 5. cache bytes match the memory table of docs/method.md §8

@pytest.mark.parametrize("family,n_loops", ALL_VARIANTS)
def test_cache_bytes_match_spec_table(family, n_loops):
    cfg = tiny(family, n_loops, window=4)
    params = M.init_params(cfg, 0)
    L, c = cfg.n_loops, 2 * cfg.n_layer * cfg.n_embd * 4          # float32
    for n in (2, 4, 9):
        _, cache = M.prefill(params, cfg, np.arange(n) % cfg.vocab_size, capacity=12)
        if family == "vanilla":
            expected = n * c
        elif family in ("loop", "loop+clp"):
            expected = L * n * c
        elif family in ("loop+clp+kvshare", "loop+kvshare"):
            expected = n * c
        else:
            expected = n * c + (L - 1) * min(n, cfg.window) * c
        assert M.kv_cache_bytes(cfg, cache) == expected == M.kv_cache_bytes_formula(cfg, n)
        M.step(params, cfg, cache, 1)                      # one more position
        assert M.kv_cache_bytes(cfg, cache) == M.kv_cache_bytes_formula(cfg, n + 1)


@pytest.mark.parametrize("family", ["loop+clp+kvshare", "plt", "loop+kvshare"])
def test_kv_shared_loops_store_no_global_keys(family):
    cfg = tiny(family, 3, window=4)
    cache = M.new_cache(cfg, capacity=50)
    assert cache.k.shape[0] == 1 and cache.v.shape[0] == 1         # loop 1's cache only
    if cfg.gswa:
        assert cache.k_ring.shape == (2, cfg.n_layer, 1, cfg.n_head, 4, cfg.head_size)
    else:
        assert cache.k_ring is None
    # and the loop-1 cache holds loop 1's keys: the same as a vanilla model's would
    params = M.init_params(cfg, 0)
    prompt = np.array([1, 2, 3, 4, 5])
    _, cache = M.prefill(params, cfg, prompt)
    plain = M.Config(**{**cfg.to_dict(), "n_loops": 1, "clp": False, "kv_share": False,
                        "gswa": False})
    plain_params = {k: v for k, v in params.items() if "gate" not in k}
    _, plain_cache = M.prefill(plain_params, plain, prompt)
    np.testing.assert_array_equal(cache.k[0, :, :, :, :5], plain_cache.k[0, :, :, :, :5])


def test_ring_buffer_keeps_only_the_last_window():
    cfg = tiny("plt", 2, window=3, dtype="float64")
    params = spread_params(cfg, seed=10, std=0.2)
    seq = np.arange(8) % cfg.vocab_size
    fwd = M.forward(params, cfg, seq[None])[2]
    _, cache = M.prefill(params, cfg, seq)
    for j in range(cfg.n_layer):
        loop2_keys = fwd.loops[1].layers[j].k[0]           # (H,T,D)
        for t in (5, 6, 7):                                         # the last W positions
            np.testing.assert_array_equal(cache.k_ring[0, j, 0, :, t % 3], loop2_keys[:, t])


def test_carried_bytes_reported_beside_the_cache():
    cfg = tiny("plt", 3)
    cache = M.new_cache(cfg, 8)
    assert M.carried_bytes(cfg, cache) == 2 * cfg.n_embd * 4
    assert M.carried_bytes(tiny("loop", 3), M.new_cache(tiny("loop", 3), 8)) == 0


# ----------------------------------------------------------------------------------------
# 6. every family can overfit one small batch

@pytest.mark.parametrize("family,n_loops", [("vanilla", None), ("loop", 2), ("loop+clp", 2),
                                            ("loop+clp+kvshare", 2), ("plt", 2), ("plt", 3)])
def test_overfits_one_batch(family, n_loops):
    cfg = tiny(family, n_loops)
    params = M.init_params(cfg, seed=0)
    rng = np.random.default_rng(0)
    data = rng.integers(0, cfg.vocab_size, (4, 17))
    x, y = data[:, :-1], data[:, 1:]
    opt = M.AdamW(params, lr=1e-2, weight_decay=0.0)
    for i in range(300):
        loss, grads = M.loss_and_grads(params, cfg, x, y)
        if loss < 0.05:
            break
        M.clip_grad_norm(grads, 1.0)
        opt.step(params, grads)
    assert loss < 0.05, f"{cfg.variant} did not overfit: loss {loss:.3f} after {i + 1} steps"


# ----------------------------------------------------------------------------------------
# 7. a fixed-seed run whose losses are written down: a change of the numerics shows

EXPECTED_LOSSES = {
    "vanilla": [2.566315836938, 2.566076337908, 2.571224030385, 2.533153280409, 2.563634313272],
    "loop-2": [2.566357476927, 2.566081320848, 2.571273168539, 2.533103082881, 2.564175509863],
    "plt-2": [2.571844708923, 2.573361652159, 2.577684596732, 2.513822557271, 2.566407294159],
    "plt-3": [2.560939259082, 2.586104595606, 2.589475987416, 2.526288113794, 2.581528436194],
}


def fixed_seed_losses(variant):
    family, n_loops = M.parse_variant(variant)
    cfg = tiny(family, n_loops if n_loops > 1 else None, dtype="float64")
    params = M.init_params(cfg, seed=42)
    opt = M.AdamW(params, lr=3e-3, weight_decay=0.1)
    rng = np.random.default_rng(42)
    losses = []
    for step in range(5):
        data = rng.integers(0, cfg.vocab_size, (2, 13))
        loss, grads = M.loss_and_grads(params, cfg, data[:, :-1], data[:, 1:])
        M.clip_grad_norm(grads, 1.0)
        opt.step(params, grads, lr=M.lr_schedule(step, 3e-3, 2, 5))
        losses.append(loss)
    return losses


@pytest.mark.parametrize("variant", list(EXPECTED_LOSSES))
def test_fixed_seed_losses(variant):
    losses = fixed_seed_losses(variant)
    expected = EXPECTED_LOSSES[variant]
    np.testing.assert_allclose(losses, expected, rtol=1e-7,
                               err_msg=f"{variant}: the numerics changed")


# ----------------------------------------------------------------------------------------
# 8. bad input gives a clear error, never a crash deep inside NumPy

def test_bad_tokens_are_rejected_with_clear_messages():
    cfg = tiny("plt", 2)
    params = M.init_params(cfg, 0)
    with pytest.raises(ValueError, match="outside the vocabulary 0..12"):
        M.forward(params, cfg, np.array([[1, 2, 13]]))
    with pytest.raises(ValueError, match="id -1"):
        M.prefill(params, cfg, np.array([1, -1]))
    with pytest.raises(ValueError, match="must be integer token ids"):
        M.prefill(params, cfg, np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="prompt is empty"):
        M.prefill(params, cfg, np.array([], dtype=np.int64))
    with pytest.raises(ValueError, match="must have shape"):
        M.forward(params, cfg, np.array([1, 2, 3]))
    _, cache = M.prefill(params, cfg, np.array([1, 2]), capacity=4)
    with pytest.raises(ValueError, match="one integer token id"):
        M.step(params, cfg, cache, 2.5)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        M.step(params, cfg, cache, 99)


def test_prompt_longer_than_the_cache_is_rejected():
    cfg = tiny("plt", 2)
    params = M.init_params(cfg, 0)
    with pytest.raises(ValueError, match="does not fit the cache of 4 positions"):
        M.prefill(params, cfg, np.arange(6), capacity=4)
    _, cache = M.prefill(params, cfg, np.arange(4), capacity=4)
    with pytest.raises(ValueError, match="the cache is full"):
        M.step(params, cfg, cache, 1)
    with pytest.raises(ValueError, match="exceeds config.block_size"):
        M.forward(params, cfg, np.zeros((1, cfg.block_size + 1), dtype=np.int64))


@pytest.mark.parametrize("kwargs,message", [
    (dict(window=0), "window must be >= 1"),
    (dict(n_loops=2, kv_share=True, gswa=True, clp=True, window=-3), "window must be >= 1"),
    (dict(n_loops=2, gswa=True), "gswa requires kv_share"),
    (dict(n_loops=1, clp=True), "n_loops = 1 is a plain transformer, but clp"),
    (dict(n_loops=1, kv_share=True), "loop flags need n_loops >= 2"),
    (dict(n_embd=30, n_head=4), "divisible"),
    (dict(n_embd=12, n_head=4), "must be even"),
    (dict(dtype="float16"), "dtype"),
    (dict(n_layer=2.5), "must be an integer"),
])
def test_invalid_configs_say_what_is_wrong(kwargs, message):
    with pytest.raises(ValueError, match=message):
        M.Config(**kwargs)


def test_family_and_variant_names():
    with pytest.raises(ValueError, match="unknown variant"):
        M.make_config("plt2")
    with pytest.raises(ValueError, match="family 'vanilla' has one loop"):
        M.parse_variant("vanilla-2")
    assert M.make_config("plt-3", preset="small") == M.make_config("plt", 3, "small")
    with pytest.raises(ValueError, match="has 3 loops, but n_loops=2"):
        M.make_config("plt-3", 2)
    with pytest.raises(ValueError, match="unknown config field"):
        M.make_config("plt-2", width=64)
    with pytest.raises(ValueError, match="use family 'loop'"):
        M.make_config("vanilla", 2)
    with pytest.raises(ValueError, match="needs an integer loop count >= 2"):
        M.make_config("plt", 1)
    assert M.parse_variant("loop+clp-3") == ("loop+clp", 3)
    with pytest.raises(ValueError, match="unknown variant"):
        M.parse_variant("plt")
    assert M.make_config("plt", 3).variant == "plt-3"
    with pytest.raises(ValueError, match="parallel schedule needs cross-loop parallelism"):
        cfg = tiny("loop", 2)
        M.step(M.init_params(cfg), cfg, M.new_cache(cfg, 4), 1, schedule="parallel")


def test_parameter_counts_of_presets():
    counts = {p: M.count_params(M.init_params(M.make_config("plt", 2, p, vocab_size=64)))
              for p in ("tiny", "small")}
    # loops share weights: a looped model has the parameters of its plain twin plus gates
    vanilla = M.count_params(M.init_params(M.make_config("vanilla", None, "tiny", vocab_size=64)))
    assert counts["tiny"] == vanilla + 2 * (32 * 4 + 4)
