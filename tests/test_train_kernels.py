"""The training kernels (minplt/train_kernels.py) against their NumPy references
(model.py, sections 2 and 5): each layer operation, the parallel paths, the edges of the
float32 exp, whole forward/backward passes of every family, and training with either
backend. `make test` runs this file a second time with NUMBA_DISABLE_JIT=1, where the
kernels are plain Python (the shapes are tiny and odd for that reason)."""
import math

import numba
import numpy as np
import pytest
from conftest import assert_close

from minplt import model as M
from minplt import parallel
from minplt import train_kernels as K

pytestmark = pytest.mark.kernels

DTYPES = [np.float32, np.float64]
VARIANTS = ["vanilla", "loop-2", "loop+clp-3", "loop+clp+kvshare-2", "plt-3"]


def tolerance(dtype):
    return 2e-5 if dtype == np.float32 else 1e-12


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def layer_cases(rng, dtype):
    """(name, arguments) for every layer operation, on tiny odd shapes: B=3, H=2, T=7,
    D=6, C=12, F=9, V=11; q/k/v as the model makes them (views of a product)."""
    B, H, T, D, F, V = 3, 2, 7, 6, 9, 11
    C = H * D
    x = rng.standard_normal((B, T, C)).astype(dtype)
    g = (1 + 0.1 * rng.standard_normal(C)).astype(dtype)
    _, rstd = M.rmsnorm_forward(x, g, 1e-5)
    heads = [M.split_heads(rng.standard_normal((B, T, C)).astype(dtype), H) for _ in range(3)]
    cos, sin = M.rope_tables(D, T, 10000.0, dtype)
    scale = 1 / math.sqrt(D)                       # a Python float, as in the model
    _, probs = M.attention_forward(*heads, M.causal_mask(T), scale)
    _, probs_window = M.attention_forward(*heads, M.causal_mask(T, 3), scale)
    dy = rng.standard_normal((B, H, T, D)).astype(dtype)
    mw1, mw3, dz = (rng.standard_normal((B, T, F)).astype(dtype) for _ in range(3))
    logits = (3 * rng.standard_normal((B, T, V))).astype(dtype)
    targets = rng.integers(-1, V, (B, T))
    _, softmax = M.cross_entropy_forward(logits, targets)
    return [
        ("rmsnorm_forward", (x, g, 1e-5)),
        ("rmsnorm_backward", (rng.standard_normal((B, T, C)).astype(dtype), x, g, rstd)),
        ("rope_forward", (heads[0], cos, sin)),
        ("rope_backward", (dy, cos, sin)),
        ("attention_forward", (*heads, M.causal_mask(T), scale)),
        ("attention_forward", (*heads, M.causal_mask(T, 3), scale)),       # G-SWA window
        ("attention_backward", (dy, *heads, probs, scale)),
        ("attention_backward", (dy, *heads, probs_window, scale)),
        ("swiglu_forward", (mw1, mw3)),
        ("swiglu_backward", (dz, mw1, mw3)),
        ("cross_entropy_forward", (logits, targets)),
        ("cross_entropy_backward", (softmax, targets)),
        ("sum_of_squares", (x,)),
    ]


def check_same(got, ref, dtype):
    if isinstance(ref, tuple):
        assert isinstance(got, tuple) and len(got) == len(ref)
        for a, b in zip(got, ref):
            check_same(a, b, dtype)
    elif isinstance(ref, float):
        assert got == pytest.approx(ref, rel=tolerance(dtype), abs=tolerance(dtype))
    else:
        assert_close(got, ref, tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_layer_operation_matches_numpy(rng, dtype):
    for name, args in layer_cases(rng, dtype):
        check_same(getattr(K, name)(*args), getattr(M, name)(*args), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_parallel_paths_match_numpy(rng, dtype, monkeypatch):
    """With the threshold at 0 every kernel takes its parallel loop (on 2 threads
    where there are 2)."""
    monkeypatch.setattr(K, "PARALLEL_MIN_VALUES", 0)
    with parallel.threads(2):
        for name, args in layer_cases(rng, dtype):
            check_same(getattr(K, name)(*args), getattr(M, name)(*args), dtype)


def test_masked_keys_weigh_exactly_zero(rng):
    q, k, v = (rng.standard_normal((2, 2, 6, 4)).astype(np.float32) for _ in range(3))
    mask = M.causal_mask(6, 2)
    _, probs = K.attention_forward(q, k, v, mask, 0.5)
    assert np.all(probs[..., ~mask] == 0)
    assert np.allclose(probs.sum(-1), 1, atol=1e-6)


def test_exp_at_the_edges_of_float32():
    """SwiGLU of very large and very negative inputs, and a softmax over logits that
    differ by thousands, stay finite and agree with NumPy (which gives exact 0 where
    the kernel gives 1e-38)."""
    mw1 = np.array([[-200.0, -90.0, -20.0, 0.0, 20.0, 90.0, 200.0]], np.float32)
    mw3 = np.ones_like(mw1)
    with np.errstate(over="ignore"):
        ref = M.swiglu_forward(mw1, mw3)
        ref_d = M.swiglu_backward(mw3, mw1, mw3)
    assert_close(K.swiglu_forward(mw1, mw3), ref, 1e-6)
    for got, want in zip(K.swiglu_backward(mw3, mw1, mw3), ref_d):
        assert np.all(np.isfinite(got))
        assert_close(got, want, 1e-6)
    logits = np.array([[[0.0, -3000.0, 5000.0, 4999.0]]], np.float32)
    loss, probs = K.cross_entropy_forward(logits, np.array([[3]]))
    ref_loss, ref_probs = M.cross_entropy_forward(logits, np.array([[3]]))
    assert loss == pytest.approx(ref_loss, rel=1e-6)
    assert_close(probs, ref_probs, 1e-6)
    loss, _ = K.cross_entropy_forward(logits, np.array([[1]]))        # p underflows to 0
    assert loss == pytest.approx(8000 + math.log(1 + math.exp(-1)), rel=1e-9)  # not inf


def test_cross_entropy_without_targets_is_zero(rng):
    logits = rng.standard_normal((2, 3, 5)).astype(np.float32)
    targets = -np.ones((2, 3), np.int64)
    loss, probs = K.cross_entropy_forward(logits, targets)
    assert loss == 0.0
    assert np.all(K.cross_entropy_backward(probs, targets) == 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adamw_update_matches_numpy(rng, dtype, weight_decay):
    p = rng.standard_normal((5, 7)).astype(dtype)
    state = [p.copy(), np.zeros_like(p), np.zeros_like(p)]
    ref = [p.copy(), np.zeros_like(p), np.zeros_like(p)]
    for t in range(1, 4):                       # three steps: the moments build up
        g = rng.standard_normal(p.shape).astype(dtype)
        K.adamw_update(state[0], g, state[1], state[2], 1e-2, 0.9, 0.95, 1e-8, weight_decay, t)
        M.adamw_update(ref[0], g, ref[1], ref[2], 1e-2, 0.9, 0.95, 1e-8, weight_decay, t)
    for got, want in zip(state, ref):
        assert_close(got, want, tolerance(dtype) * 10)


def test_adamw_update_refuses_arrays_it_cannot_update_in_place():
    p = np.zeros((4, 6), np.float32)
    with pytest.raises(ValueError, match="must be C-contiguous"):
        K.adamw_update(p.T, p.T, p.T.copy(), p.T.copy(), 1e-3, 0.9, 0.95, 1e-8, 0.0, 1)


def tiny_config(variant, dtype="float64"):
    looped = M.make_config(variant)
    return M.Config(vocab_size=23, n_embd=12, n_head=2, d_ff=10, n_layer=2, window=3,
                    block_size=16, n_loops=looped.n_loops, clp=looped.clp,
                    kv_share=looped.kv_share, gswa=looped.gswa, dtype=dtype)


def tiny_params(cfg):
    """Parameters with a non-zero G-SWA gate, so both of its branches carry gradient."""
    params = M.init_params(cfg, 3)
    for name in params:
        if "gate" in name:
            params[name] = np.random.default_rng(5).standard_normal(params[name].shape) \
                .astype(params[name].dtype)
    return params


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_loss_and_gradients_match_numpy(variant, dtype):
    cfg = tiny_config(variant, dtype)
    params = tiny_params(cfg)
    rng = np.random.default_rng(0)
    idx, targets = rng.integers(0, 23, (3, 9)), rng.integers(-1, 23, (3, 9))
    loss, grads = M.loss_and_grads(params, cfg, idx, targets, "numba")
    ref_loss, ref_grads = M.loss_and_grads(params, cfg, idx, targets, "numpy")
    rtol = 1e-10 if dtype == "float64" else 1e-5
    assert loss == pytest.approx(ref_loss, rel=rtol)
    for name in ref_grads:
        assert_close(grads[name], ref_grads[name], 10 * rtol)


def test_unknown_backend_is_a_clear_error():
    cfg = tiny_config("vanilla")
    with pytest.raises(ValueError, match="unknown backend 'gpu'; choose 'numpy' or 'numba'"):
        M.forward(M.init_params(cfg), cfg, np.zeros((1, 4), np.int64), backend="gpu")


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="threads need the compiled kernels")
def test_training_steps_repeat_exactly_and_agree_across_thread_counts(monkeypatch):
    """On one thread (training's default) the same settings give the same bits, so a
    resumed run equals an uninterrupted one; on two threads (the parallel loops) the
    results agree with one thread's to rounding."""
    monkeypatch.setattr(K, "PARALLEL_MIN_VALUES", 0)
    cfg = tiny_config("plt-3", "float32")
    rng = np.random.default_rng(1)
    idx, targets = rng.integers(0, 23, (4, 11)), rng.integers(0, 23, (4, 11))

    def train(n_threads):
        params = tiny_params(cfg)
        opt = M.AdamW(params, lr=1e-2, backend="numba")
        with parallel.threads(n_threads):
            for _ in range(3):
                loss, grads = M.loss_and_grads(params, cfg, idx, targets, "numba")
                M.clip_grad_norm(grads, 1.0, "numba")
                opt.step(params, grads)
        return loss, params

    (loss_a, params_a), (loss_b, params_b) = train(1), train(1)
    assert loss_a == loss_b
    assert all(np.array_equal(params_a[k], params_b[k]) for k in params_a)
    loss_2, params_2 = train(min(2, numba.config.NUMBA_NUM_THREADS))
    assert loss_2 == pytest.approx(loss_a, rel=1e-5)
    for name in params_a:
        assert_close(params_2[name], params_a[name], 1e-4)
