"""The compiled decode step (minplt/decode_step.py) against model.py's NumPy step, its
definition: every family, both schedules, several batch shapes, equal to 1e-9 in float64
(logits, caches, ring buffers, carried states, positions, trace); and the packed products
(kernels.pack_columns, linear_rows_packed) against `@`.

Marked `kernels`: `make test` runs this file again with NUMBA_DISABLE_JIT=1, where the
compiled step is plain Python; the model is tiny so that stays quick."""
import numpy as np
import pytest
from conftest import assert_close

from minplt import decode_step as DS
from minplt import kernels as K
from minplt import model as M

pytestmark = pytest.mark.kernels

VARIANTS = ["vanilla", "loop-2", "loop-3", "loop+clp-2", "loop+clp-3", "loop+clp+kvshare-2",
            "loop+clp+kvshare-3", "plt-2", "plt-3", "loop+kvshare-2", "loop+kvshare+gswa-2"]
# Prompt lengths of the sequences of a batch: one sequence, and three of different
# lengths (each keeps its own position), some longer than the window W = 3 (the ring
# buffer wraps around) and one shorter.
BATCHES = {"B1": [6], "B3": [7, 2, 5]}


def tiny(variant, dtype="float64", **fields):
    """A model small enough for plain Python (NUMBA_DISABLE_JIT=1): width 16, 2 layers,
    F 24, vocabulary 19 (not a multiple of the product's four-column tile), window 3."""
    return M.make_config(variant, preset="tiny", n_embd=16, n_head=2, d_ff=24, vocab_size=19,
                         window=3, dtype=dtype, **fields)


def prefilled(cfg, params, lengths, backend, seed=0):
    rng = np.random.default_rng(seed)
    prompts = [rng.integers(0, cfg.vocab_size, n) for n in lengths]
    return M.prefill_batch(params, cfg, prompts, capacity=max(lengths) + 6, backend=backend)


def assert_same_state(got, ref, tol):
    for name in ("k", "v", "k_ring", "v_ring", "carried"):
        a, b = getattr(got, name), getattr(ref, name)
        assert (a is None) == (b is None), name
        if a is not None:
            assert_close(a, b, tol)
    assert np.array_equal(got.pos, ref.pos)
    assert got.trace == ref.trace


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("schedule", ["sequential", "parallel"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_compiled_step_equals_numpy_step(variant, schedule, batch):
    """Four steps of the compiled step and of model.py's step from the same prefilled
    cache: the same logits (1e-9, float64) and the same cache afterwards."""
    cfg = tiny(variant)
    if schedule == "parallel" and not cfg.clp:
        pytest.skip("the parallel schedule needs CLP")
    params = M.init_params(cfg, seed=3)
    for name in params:              # gates and norms away from their initial 0 and 1
        params[name] += np.random.default_rng(7).normal(0, 0.1, params[name].shape)
    logits, ref = prefilled(cfg, params, BATCHES[batch], "numpy")
    _, got = prefilled(cfg, params, BATCHES[batch], "numba")
    tokens = np.argmax(logits, axis=-1)
    for _ in range(4):
        want = M.step_batch(params, cfg, ref, tokens, schedule)
        have = M.step_batch(params, cfg, got, tokens, schedule)
        assert_close(have, want, 1e-9)
        tokens = np.argmax(want, axis=-1)
    assert_same_state(got, ref, 1e-9)


def test_compiled_step_float32_is_close():
    """The float32 step (the default dtype, the fast exp of the attention) stays close."""
    cfg = tiny("plt-3", dtype="float32")
    params = M.init_params(cfg, seed=4)
    logits, ref = prefilled(cfg, params, [5, 8], "numpy")
    _, got = prefilled(cfg, params, [5, 8], "numba")
    tokens = np.argmax(logits, axis=-1)
    for _ in range(3):
        want = M.step_batch(params, cfg, ref, tokens)
        assert_close(M.step_batch(params, cfg, got, tokens), want, 1e-4)
        tokens = np.argmax(want, axis=-1)


def test_the_numba_backend_runs_the_compiled_step(monkeypatch):
    """model.step_batch on a numba cache is one decode_step call, whatever the schedule."""
    cfg = tiny("plt-2")
    params = M.init_params(cfg)
    _, cache = prefilled(cfg, params, [4], "numba")
    calls = []
    real = DS.decode_step
    monkeypatch.setattr(DS, "decode_step", lambda *a: calls.append(1) or real(*a))
    M.step_batch(params, cfg, cache, np.array([1]), "parallel")
    M.step_batch(params, cfg, cache, np.array([1]), "sequential")
    assert len(calls) == 2


def test_weights_are_packed_again_when_they_change():
    """After the parameters change (new arrays, or a training step in place), the step
    uses the new values, not the weights packed before."""
    cfg = tiny("plt-2")
    params = M.init_params(cfg, seed=1)
    logits, ref = prefilled(cfg, params, [5], "numpy")
    _, got = prefilled(cfg, params, [5], "numba")
    token = np.argmax(logits, axis=-1)
    M.step_batch(params, cfg, got, token)
    M.step_batch(params, cfg, ref, token)
    first = got.packed
    for value in params.values():                       # in place, as AdamW does
        value *= 1.5
    assert_close(M.step_batch(params, cfg, got, token), M.step_batch(params, cfg, ref, token),
                 1e-9)
    assert got.packed is not first
    params = {name: value * 0.5 for name, value in params.items()}  # new arrays
    assert_close(M.step_batch(params, cfg, got, token), M.step_batch(params, cfg, ref, token),
                 1e-9)
    packed = got.packed
    M.step_batch(params, cfg, got, token)
    assert got.packed is packed                         # unchanged: packed once


def test_compiled_step_refuses_what_the_numpy_step_refuses():
    cfg = tiny("loop-2")
    params = M.init_params(cfg)
    _, cache = prefilled(cfg, params, [3], "numba")
    with pytest.raises(ValueError, match="parallel schedule needs cross-loop"):
        M.step_batch(params, cfg, cache, np.array([1]), "parallel")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        M.step_batch(params, cfg, cache, np.array([cfg.vocab_size]))
    with pytest.raises(ValueError, match="one token per sequence"):
        M.step_batch(params, cfg, cache, np.array([1, 2]))
    with pytest.raises(ValueError, match="do not belong"):
        M.step_batch({"wte": params["wte"]}, cfg, cache, np.array([1]))


def test_generate_on_numba_gives_numpys_tokens():
    cfg = tiny("plt-3", dtype="float64")
    params = M.init_params(cfg, seed=2)
    prompts = [np.arange(6) % cfg.vocab_size, np.arange(3) + 4]
    assert np.array_equal(M.generate_batch(params, cfg, prompts, 5, backend="numba"),
                          M.generate_batch(params, cfg, prompts, 5, backend="numpy"))


# ----------------------------------------------------------------------------------------
# Packed products

def test_pack_columns_layout(rng=np.random.default_rng(0)):
    """Row n of the packed matrix holds column n of w, contiguous."""
    w = rng.standard_normal((5, 7))
    packed = K.pack_columns(w)
    assert packed.shape == (7, 5) and packed.flags.c_contiguous
    assert np.array_equal(packed, w.T)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("R", [1, 2, 3, 8, 13, 32])
@pytest.mark.parametrize("C, N", [(37, 53), (5, 3), (130, 129), (1, 4)])
def test_linear_rows_packed_matches_reference(dtype, R, C, N):
    rng = np.random.default_rng(R * C + N)
    x = rng.standard_normal((R, C)).astype(dtype)
    w = rng.standard_normal((C, N)).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    got = K.linear_rows_packed(x, K.pack_columns(w))
    assert got.dtype == dtype                       # float32 sums stay float32
    assert_close(got, M.linear_rows(x, w), tol)


@pytest.mark.parametrize("n_threads", [1, 2, 3, 5, 40])
def test_packed_product_any_split_of_the_columns(n_threads):
    """The parallel product gives each thread a block of columns, a multiple of four
    (some threads may get none); every split must give the reference."""
    rng = np.random.default_rng(n_threads)
    x = rng.standard_normal((5, 41))
    w = rng.standard_normal((41, 3 * 64 + 7))
    out = np.full((5, w.shape[1]), np.nan)
    K._linear_packed_parallel(x, K.pack_columns(w), out, n_threads)
    assert_close(out, x @ w, 1e-12)
