"""Batched decoding: B sequences of different lengths in one cache give, sequence by
sequence, the logits of decoding each one alone (float64, <= 1e-9), for every family,
both schedules and both backends; the cache bytes add up over the batch."""
import numpy as np
import pytest

from minplt import model as M

LOOPED = ["loop", "loop+clp", "loop+clp+kvshare", "plt", "loop+kvshare", "loop+kvshare+gswa"]
CASES = [("vanilla", None, "sequential")] + [
    (family, L, schedule) for family in LOOPED for L in (2, 3)
    for schedule in ("sequential", "parallel") if schedule == "sequential" or "clp" in family
    or family == "plt"]
PROMPTS = [[1, 2, 3, 4, 5, 6, 7], [8, 9], [10, 3, 5, 7, 2]]     # lengths 7, 2, 5; W = 3
STEPS = 6


def config(family, n_loops):
    return M.make_config(family, n_loops, "tiny", vocab_size=13, window=3, dtype="float64")


def spread_params(cfg, seed=0):
    """Parameters far from the init, so attention is not uniform and gates not 0.5."""
    rng = np.random.default_rng(seed)
    return {name: (1.0 + 0.3 * rng.normal(size=shape) if name.endswith("norm")
                   or name == "norm_f" else rng.normal(0.0, 0.4, shape))
            for name, shape in M.param_shapes(cfg).items()}


def decode_alone(params, cfg, prompt, tokens, schedule, backend):
    """Logits of prefill, then one step per token, for one sequence on its own."""
    logits, cache = M.prefill(params, cfg, np.array(prompt), capacity=20, backend=backend)
    out = [logits]
    for token in tokens:
        out.append(M.step(params, cfg, cache, int(token), schedule))
    return np.array(out)                                                # (1 + steps, V)


def check_batch_equals_alone(family, n_loops, schedule, backend):
    cfg = config(family, n_loops)
    params = spread_params(cfg)
    tokens = np.random.default_rng(1).integers(0, cfg.vocab_size, (len(PROMPTS), STEPS))
    logits, cache = M.prefill_batch(params, cfg, [np.array(p) for p in PROMPTS],
                                    capacity=20, backend=backend)
    batch = [logits]
    for i in range(STEPS):
        batch.append(M.step_batch(params, cfg, cache, tokens[:, i], schedule))
    batch = np.stack(batch, axis=1)                                     # (B, 1 + steps, V)
    for b, prompt in enumerate(PROMPTS):
        alone = decode_alone(params, cfg, prompt, tokens[b], schedule, backend)
        np.testing.assert_allclose(batch[b], alone, rtol=0, atol=1e-9,
                                   err_msg=f"sequence {b} of the batch")
    np.testing.assert_array_equal(cache.pos, [len(p) + STEPS for p in PROMPTS])


@pytest.mark.parametrize("family,n_loops,schedule", CASES)
def test_batched_decode_equals_each_sequence_alone(family, n_loops, schedule):
    check_batch_equals_alone(family, n_loops, schedule, "numpy")


@pytest.mark.kernels
@pytest.mark.parametrize("family,n_loops,schedule", CASES)
def test_batched_decode_equals_each_sequence_alone_numba(family, n_loops, schedule):
    check_batch_equals_alone(family, n_loops, schedule, "numba")


def test_batched_decode_equals_the_training_forward():
    """Not only self-consistent: each row of a PLT-3 batch gives the training forward's
    logits for its own sequence at every position."""
    cfg = config("plt", 3)
    params = spread_params(cfg, seed=3)
    seqs = [np.array([1, 5, 2, 7, 3, 9, 4, 11]), np.array([6, 2, 8, 12]), np.array([3, 3, 3])]
    logits, cache = M.prefill_batch(params, cfg, [s[:1] for s in seqs], capacity=8)
    got = [[row] for row in logits]
    for t in range(1, max(len(s) for s in seqs)):
        tokens = np.array([s[min(t, len(s) - 1)] for s in seqs])
        out = M.step_batch(params, cfg, cache, tokens)
        for b, s in enumerate(seqs):
            if t < len(s):
                got[b].append(out[b])
    for b, s in enumerate(seqs):
        ref = M.forward(params, cfg, s[None])[0][0]                       # (T,V)
        np.testing.assert_allclose(np.array(got[b]), ref, rtol=0, atol=1e-9)


def test_generate_batch_gives_each_prompts_greedy_tokens():
    cfg = config("plt", 2)
    params = spread_params(cfg, seed=5)
    prompts = [np.array(p) for p in PROMPTS]
    out = M.generate_batch(params, cfg, prompts, 5)
    assert out.shape == (3, 5)
    for b, prompt in enumerate(prompts):
        np.testing.assert_array_equal(out[b], M.generate(params, cfg, prompt, 5))


def test_kv_cache_bytes_add_up_over_the_batch():
    for family, n_loops in [("vanilla", None), ("loop", 2), ("plt", 3), ("loop+clp+kvshare", 2)]:
        cfg = M.make_config(family, n_loops, "tiny", vocab_size=13, window=3)
        _, cache = M.prefill_batch(M.init_params(cfg), cfg, [np.array(p) for p in PROMPTS])
        expected = sum(M.kv_cache_bytes_formula(cfg, len(p)) for p in PROMPTS)
        assert M.kv_cache_bytes(cfg, cache) == expected, family
        if cfg.clp:
            assert M.carried_bytes(cfg, cache) == (cfg.n_loops - 1) * 3 * cfg.n_embd * 4


def test_batched_decoding_says_what_is_wrong():
    cfg = config("plt", 2)
    params = spread_params(cfg)
    _, cache = M.prefill_batch(params, cfg, [np.array([1, 2]), np.array([3])], capacity=4)
    with pytest.raises(ValueError, match="holds 2 sequence"):
        M.step_batch(params, cfg, cache, np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="use step_batch"):
        M.step(params, cfg, cache, 1)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        M.step_batch(params, cfg, cache, np.array([1, 99]))
    with pytest.raises(ValueError, match="non-empty list"):
        M.prefill_batch(params, cfg, [])
    with pytest.raises(ValueError, match="prompt 1"):
        M.prefill_batch(params, cfg, [np.array([1]), np.array([], dtype=np.int64)])
    M.step_batch(params, cfg, cache, np.array([1, 2]))
    M.step_batch(params, cfg, cache, np.array([1, 2]))          # sequence 0 is now full
    with pytest.raises(ValueError, match="cache is full"):
        M.step_batch(params, cfg, cache, np.array([1, 2]))
