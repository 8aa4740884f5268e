"""The Numba kernels (minplt/kernels.py) against their NumPy references (model.py,
section 6), the parallel kernels against their serial twins, and whole decodes: both
backends must produce the same tokens and (nearly) the same logits.

Shapes are small and odd (37, 53, ...) so that every remainder path of a kernel runs;
`make test` runs this file a second time with NUMBA_DISABLE_JIT=1, where the kernels
are plain Python."""
import math
import os

import numpy as np
import pytest
from conftest import assert_close

from minplt import kernels as K
from minplt import model as M

pytestmark = pytest.mark.kernels

ROWS = [1, 2, 3, 8, 13]                # 13: a batch of B x L rows (the kernel, not BLAS)
DTYPES = [np.float32, np.float64]


def tolerance(dtype):
    return 1e-5 if dtype == np.float32 else 1e-12


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# ----------------------------------------------------------------------------------------
# linear_rows

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("R", ROWS)
@pytest.mark.parametrize("C, N", [(37, 53), (5, 3), (130, 7), (301, 67)])
def test_linear_rows_matches_reference(rng, dtype, R, C, N):
    x = rng.standard_normal((R, C)).astype(dtype)
    w = rng.standard_normal((C, N)).astype(dtype)
    ref = M.linear_rows(x, w)
    assert_close(K.linear_rows(x, w), ref, tolerance(dtype))
    assert_close(K.linear_rows_serial(x, w), ref, tolerance(dtype))
    parallel = K._linear_rows_parallel(x, w, np.empty_like(ref), 2)   # small w: forced
    assert_close(parallel, ref, tolerance(dtype))


@pytest.mark.parametrize("n_threads", [1, 2, 3, 5])
def test_linear_rows_any_split_of_the_weight_rows(rng, n_threads):
    """The parallel kernel splits w's rows into one block per thread and adds the
    partial sums; every split must give the serial result."""
    x = rng.standard_normal((3, 389)).astype(np.float32)
    w = rng.standard_normal((389, 45)).astype(np.float32)
    out = np.empty((3, 45), np.float32)
    K._linear_rows_parallel(x, w, out, n_threads)
    assert_close(out, K.linear_rows_serial(x, w), 1e-6)
    assert_close(out, M.linear_rows(x, w), 1e-5)


def test_linear_rows_public_entry_runs_the_parallel_kernel_on_big_weights(rng):
    """Above PARALLEL_MIN_VALUES weights, linear_rows takes the parallel path."""
    C, N = 640, 457
    assert C * N >= K.PARALLEL_MIN_VALUES
    x = rng.standard_normal((3, C)).astype(np.float32)
    w = rng.standard_normal((C, N)).astype(np.float32)
    assert_close(K.linear_rows(x, w), M.linear_rows(x, w), 1e-5)


def test_linear_rows_of_a_row_view(rng):
    """Rows taken out of a bigger array (as the decode step does) work the same."""
    big = rng.standard_normal((4, 37)).astype(np.float32)
    w = rng.standard_normal((37, 53)).astype(np.float32)
    assert_close(K.linear_rows(big[1:3], w), big[1:3] @ w, 1e-5)
    assert_close(K.linear_rows(big[[0, 2]], w), big[[0, 2]] @ w, 1e-5)


# ----------------------------------------------------------------------------------------
# rmsnorm_rows, rope_rows, swiglu_rows

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("R", ROWS)
def test_rmsnorm_rows_matches_reference(rng, dtype, R):
    x = (3.0 * rng.standard_normal((R, 37))).astype(dtype)
    g = rng.standard_normal(37).astype(dtype)
    assert_close(K.rmsnorm_rows(x, g, 1e-6), M.rmsnorm_rows(x, g, 1e-6), tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("R", ROWS)
def test_rope_rows_matches_reference(rng, dtype, R):
    x = rng.standard_normal((R, 3, 10)).astype(dtype)      # D/2 = 5: odd half
    cos, sin = M.rope_tables(10, 40, 10000.0, dtype)
    t = (37 - 5 * np.arange(R)) % 40                        # every row its own position
    got = K.rope_rows(x, cos[t], sin[t])
    assert_close(got, M.rope_rows(x, cos[t], sin[t]), tolerance(dtype))
    for r in range(R):                                     # = the training forward's RoPE
        assert_close(got[r], M.rope_forward(x[r:r + 1], cos[t[r]], sin[t[r]])[0],
                     tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("R", ROWS)
def test_swiglu_rows_matches_reference(rng, dtype, R):
    a = (4.0 * rng.standard_normal((R, 53))).astype(dtype)
    b = rng.standard_normal((R, 53)).astype(dtype)
    a[0, :3] = [-200.0, 200.0, 0.0]           # exp overflows: silu must still be 0 / a
    with np.errstate(over="ignore"):
        ref = M.swiglu_rows(a, b)
        got = K.swiglu_rows(a, b)
    assert np.all(np.isfinite(got))
    assert_close(got, ref, tolerance(dtype))


# ----------------------------------------------------------------------------------------
# attention_over_cache

def cache_slices(rng, dtype, H, cap, D, n):
    """k, v as the decode step passes them: cache.k[0, j] of a bigger (2, NL, B, H, cap, D)
    array, B = len(n). Slots n[b].. of sequence b hold NaN: a kernel that reads a slot it
    must not read returns NaN."""
    n = np.atleast_1d(n)
    k = rng.standard_normal((2, 3, len(n), H, cap, D)).astype(dtype)
    v = rng.standard_normal((2, 3, len(n), H, cap, D)).astype(dtype)
    for b, length in enumerate(n):
        k[:, :, b, :, length:] = np.nan
        v[:, :, b, :, length:] = np.nan
    return k[0, 1], v[0, 1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("R", ROWS)
@pytest.mark.parametrize("n", [[1], [2], [17], [23], [5, 23, 1]])
def test_attention_over_cache_matches_reference(rng, dtype, R, n):
    H, cap, D = 3, 23, 6
    n = np.array(n)
    q = rng.standard_normal((len(n), R, H, D)).astype(dtype)
    k, v = cache_slices(rng, dtype, H, cap, D, n)
    scale = 1.0 / math.sqrt(D)              # a Python float, as in the model
    ref = M.attention_over_cache(q, k, v, n, scale)
    got = K.attention_over_cache(q, k, v, n, scale)
    assert np.all(np.isfinite(got)), "read a slot >= n"
    assert_close(got, ref, tolerance(dtype))
    serial = K.attention_over_cache_serial(q, k, v, n, scale)
    parallel = K._attention_parallel(q, k, v, n, scale, np.empty_like(q))  # small: forced
    assert_close(serial, got, tolerance(dtype) / 10)
    assert_close(parallel, serial, tolerance(dtype) / 10)


def test_batched_attention_is_each_sequence_alone(rng):
    """Sequence b of a batch gets what attending over its own cache alone gives."""
    n = np.array([3, 11, 7])
    q = rng.standard_normal((3, 2, 4, 8))
    k, v = cache_slices(rng, np.float64, 4, 12, 8, n)
    batch = K.attention_over_cache(q, k, v, n, 0.3)
    for b in range(3):
        alone = K.attention_over_cache(q[b:b + 1], k[b:b + 1], v[b:b + 1], n[b:b + 1], 0.3)
        np.testing.assert_allclose(batch[b], alone[0], rtol=1e-12, atol=1e-12)


def test_exp_float32_matches_the_library_exp():
    """The softmax's vectorizable float32 exp: relative error < 1e-6 wherever exp is a
    normal float32, and a harmless tiny positive number below (never inf or NaN)."""
    x = np.concatenate([np.linspace(-87.0, 0.0, 5001), [-0.5, -1e-7, 0.0, -90.0, -1e4, -1e30]])
    row = x.astype(np.float32)
    ref = np.exp(row.astype(np.float64))                 # of the float32 inputs
    bits = np.empty(len(row), np.int32)
    K._exp_float32(row, len(row), np.float32(0.0), bits)
    normal = x > -87.0
    assert np.max(np.abs(row[normal] - ref[normal]) / ref[normal]) < 1e-6
    assert np.all(np.isfinite(row)) and np.all(row[~normal] > 0) and np.all(row[~normal] < 1e-37)


def test_attention_over_cache_public_entry_runs_the_parallel_kernel_on_long_caches(rng):
    H, cap, D, n = 4, 600, 64, np.array([517, 300])
    assert 2 * H * n.sum() * D >= K.PARALLEL_MIN_VALUES
    q = rng.standard_normal((2, 3, H, D)).astype(np.float32)
    k, v = cache_slices(rng, np.float32, H, cap, D, n)
    got = K.attention_over_cache(q, k, v, n, 0.125)
    assert_close(got, M.attention_over_cache(q, k, v, n, 0.125), 1e-5)


def test_attention_over_cache_one_position_returns_its_value(rng):
    """With n = 1 the softmax is exactly 1: every row gets the first cached value."""
    q = rng.standard_normal((1, 3, 2, 4)).astype(np.float32)
    k, v = cache_slices(rng, np.float32, 2, 9, 4, 1)
    out = K.attention_over_cache(q, k, v, np.array([1]), 0.5)
    np.testing.assert_array_equal(out[0], np.broadcast_to(v[0, :, 0], out[0].shape))


def test_attention_over_cache_large_scores_do_not_overflow(rng):
    """Scores far above 88 (where exp overflows in float32): the softmax must subtract
    the row maximum first. Float32 scores this large carry ~1e-5 rounding, so compare
    with a float64 reference at a looser tolerance."""
    q = 6.0 * rng.standard_normal((1, 2, 2, 8)).astype(np.float32)
    k, v = cache_slices(rng, np.float32, 2, 11, 8, 11)
    k *= 6.0
    n = np.array([11])
    got = K.attention_over_cache(q, k, v, n, 1.0)
    ref = M.attention_over_cache(q.astype(np.float64), k.astype(np.float64),
                                 v.astype(np.float64), n, 1.0)
    assert np.all(np.isfinite(got))
    assert_close(got.astype(np.float64), ref, 1e-3)


# ----------------------------------------------------------------------------------------
# Whole decodes: the numba backend gives the numpy backend's tokens and logits

DECODE_CASES = [
    ("vanilla", None, "sequential"),
    ("loop", 2, "sequential"),
    ("loop+clp", 2, "parallel"),
    ("plt", 2, "parallel"),
    ("plt", 2, "sequential"),
    ("plt", 3, "parallel"),
    ("plt", 3, "sequential"),
    ("loop+clp+kvshare", 3, "parallel"),
]


def decode_both(cfg, params, prompt, n_new, schedule):
    """Greedy decode with the numpy backend; step the numba backend in lockstep on the
    same tokens. Returns the two token lists and the largest logit difference."""
    logits, cache_np = M.prefill(params, cfg, prompt, capacity=len(prompt) + n_new,
                                 backend="numpy")
    _, cache_nb = M.prefill(params, cfg, prompt, capacity=len(prompt) + n_new, backend="numba")
    logits_np = logits_nb = logits
    tokens_np, tokens_nb, max_diff = [], [], 0.0
    for _ in range(n_new):
        tokens_np.append(int(np.argmax(logits_np)))
        tokens_nb.append(int(np.argmax(logits_nb)))
        token = tokens_np[-1]
        logits_np = M.step(params, cfg, cache_np, token, schedule)
        logits_nb = M.step(params, cfg, cache_nb, token, schedule)
        max_diff = max(max_diff, float(np.max(np.abs(logits_np - logits_nb))))
    return tokens_np, tokens_nb, max_diff


@pytest.mark.parametrize("family, loops, schedule", DECODE_CASES)
@pytest.mark.parametrize("window", [3, 64])       # ring wraps; window longer than the text
def test_numba_backend_decodes_like_numpy(family, loops, schedule, window):
    cfg = M.make_config(family, loops, "tiny", vocab_size=29, window=window)
    params = M.init_params(cfg, seed=3)
    prompt = np.random.default_rng(5).integers(0, cfg.vocab_size, 7)
    tokens_np, tokens_nb, max_diff = decode_both(cfg, params, prompt, 9, schedule)
    assert tokens_nb == tokens_np
    assert max_diff <= 1e-4


@pytest.mark.parametrize("family, loops", [("vanilla", None), ("loop", 2), ("plt", 2), ("plt", 3)])
def test_generate_same_tokens_on_both_backends(family, loops):
    cfg = M.make_config(family, loops, "tiny", vocab_size=23)
    params = M.init_params(cfg, seed=1)
    prompt = np.random.default_rng(2).integers(0, cfg.vocab_size, 5)
    schedules = ["sequential", "parallel"] if cfg.clp else ["sequential"]
    for schedule in schedules:
        a = M.generate(params, cfg, prompt, 8, schedule=schedule, backend="numpy")
        b = M.generate(params, cfg, prompt, 8, schedule=schedule, backend="numba")
        np.testing.assert_array_equal(a, b)


def test_numba_backend_in_float64_matches_numpy_closely():
    cfg = M.make_config("plt", 2, "tiny", vocab_size=19, dtype="float64")
    params = M.init_params(cfg, seed=4)
    prompt = np.random.default_rng(0).integers(0, cfg.vocab_size, 6)
    tokens_np, tokens_nb, max_diff = decode_both(cfg, params, prompt, 5, "parallel")
    assert tokens_nb == tokens_np
    assert max_diff <= 1e-10


# ----------------------------------------------------------------------------------------
# backend_info, warmup

def test_backend_info_describes_the_machine():
    info = K.backend_info()
    for key in ("backends", "numba", "numpy", "threads", "jit_disabled", "blas", "cpu"):
        assert key in info
    assert "numba" in info["backends"] and "numpy" in info["backends"]
    assert info["threads"] >= 1
    assert isinstance(info["blas"], str) and info["blas"]
    assert isinstance(info["cpu"], str) and info["cpu"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_warmup_compiles_and_reports_seconds(dtype):
    seconds = K.warmup(dtype)
    assert isinstance(seconds, float) and seconds >= 0.0


@pytest.mark.parametrize("R", [K.BLAS_MIN_ROWS - 1, K.BLAS_MIN_ROWS, 2 * K.BLAS_MIN_ROWS + 3])
def test_linear_rows_for_many_rows_on_both_sides_of_the_blas_switch(rng, R):
    """A batch of B x L rows: below BLAS_MIN_ROWS the kernel, from it on BLAS; both
    give the reference product."""
    x = rng.standard_normal((R, 70)).astype(np.float32)
    w = rng.standard_normal((70, 33)).astype(np.float32)
    assert_close(K.linear_rows(x, w), M.linear_rows(x, w), 1e-5)
    assert_close(K.linear_rows_serial(x, w), M.linear_rows(x, w), 1e-5)


def test_kernels_spin_briefly_unless_told_otherwise():
    """Long-spinning OpenMP threads make decoding tens of times slower on a busy machine:
    minplt asks for a short spin unless the user chose a policy."""
    import subprocess
    import sys
    code = ("import minplt, os; print(os.environ.get('GOMP_SPINCOUNT'), "
            "os.environ.get('OMP_WAIT_POLICY'))")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["1000", "None"]
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["None", "ACTIVE"]
