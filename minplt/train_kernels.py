"""Numba kernels for the training step: the layer forward/backward pairs of model.py
section 2 that NumPy runs as chains of small array operations, and the AdamW update.

Every public kernel here has the name, arguments and results of its NumPy version in
`model.py`, its reference and test oracle:

    rmsnorm_forward(x, g, eps) -> y, rstd            rmsnorm_backward(dy, x, g, rstd) -> dx, dg
    rope_forward(x, cos, sin) -> y                   rope_backward(dy, cos, sin) -> dx
    attention_forward(q, k, v, mask, scale) -> y, probs
    attention_backward(dy, q, k, v, probs, scale) -> dq, dk, dv
    swiglu_forward(mw1, mw3) -> z                      swiglu_backward(dz, mw1, mw3) -> dmw1, dmw3
    cross_entropy_forward(logits, targets) -> loss, probs
    cross_entropy_backward(probs, targets) -> dlogits
    adamw_update(p, g, m, v, lr, b1, b2, eps, weight_decay, t)      (in place)
    sum_of_squares(g) -> float                       (the gradient norm's sum)

`model.get_train_ops("numba")` picks them up by name; `TrainSettings.backend` chooses
('numba' by default, 'numpy' for the reference). The products (`x @ w`, the weight
gradients) stay with BLAS in both.

Why they exist: at the toy sizes training runs at, a step is a few hundred NumPy calls
on arrays of a few thousand values, and NumPy's row-wise reductions over short rows
(a softmax over 23 keys, a norm over 64 channels) pay a per-row overhead several times
their arithmetic: the attention softmax and its backward, the norms and the
cross-entropy took half of a step at the demo's size. Here each is one pass per row.
Numba calls the C library's exp one value at a time; the float32 exp here is the
vectorizable polynomial of kernels.py, so SwiGLU and the softmaxes keep up with NumPy's
vector exp. The README's Performance section has the step times with each backend and
the comparison with PyTorch.

Three things the compiled loops need, each measured (a loop that misses one runs one
value at a time, 3-7x slower): error_model="numpy" (Python's rules put a zero check
before every division), constants of the data's type (`x.dtype.type(1)`: a literal 1.0
makes float32 arithmetic float64), and helpers inlined into their callers
(inline="always": across a call the compiler cannot see that arrays do not overlap).

Determinism: on one thread (TrainSettings.threads, 1 by default, wherever a run
trains) the same settings give the same bits, so a run resumed from a checkpoint, or
run in a worker process, equals an uninterrupted one. On more threads the kernels take
their parallel loops; each writes disjoint memory (a row, a block of values, a
sequence-and-head pair), and the norm's dg adds a fixed number of blocks in a fixed
order, yet a few values come out an ulp apart from one run to the next (measured: it
depends on which thread computes them; the tests check agreement to rounding). The
results differ from the NumPy reference by float32 rounding (sums in another order);
the tests compare the two to 2e-5, and in float64 to 1e-12.

Threads: each parallel iteration gets its own rows of scratch arrays allocated before
the loop (an allocation inside the loop body gave wrong results at random). A kernel
goes parallel only when its arrays are large enough
(PARALLEL_MIN_VALUES); otherwise waking the threads costs more than it saves. A
parallel and a serial wrapper share each kernel's body (the `_..._row` or `_..._head`
functions), as in kernels.py. Everything also runs as plain Python under
NUMBA_DISABLE_JIT=1 (slowly: the tests use tiny shapes then).

Contents:
    1. Settings                          5. attention_forward / _backward (the softmax)
    2. exp along a row (float32)         6. cross_entropy_forward / _backward
    3. rmsnorm_forward / _backward       7. adamw_update, sum_of_squares
    4. rope, swiglu
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from minplt.kernels import EXP_COEFFS, FASTMATH, HALF, LN2_HI, LN2_LO, LOG2E, X_LOWEST

# ----------------------------------------------------------------------------------------
# 1. Settings

# Below this many values in its largest array, a kernel runs its serial loop: a parallel
# loop costs a thread wake-up (tens of microseconds when the threads have gone to sleep,
# see kernels.py on GOMP_SPINCOUNT), more than a pass over a few thousand values.
PARALLEL_MIN_VALUES = 1 << 16

# The norm's dg is summed in this many row blocks, each block's partial sum on its own,
# then the blocks in order: the same result on 1 thread or many.
SUM_BLOCKS = 16


def _parallel(n_values: int) -> bool:
    return n_values >= PARALLEL_MIN_VALUES and numba.get_num_threads() > 1


def _rows(x):
    """x (..., C) as a C-contiguous (N, C) array (a view when it already is one)."""
    return np.ascontiguousarray(x).reshape(-1, x.shape[-1])


def _flat(x):
    """x as a C-contiguous 1-D array (a view when it already is one)."""
    return np.ascontiguousarray(x).reshape(-1)


# ----------------------------------------------------------------------------------------
# 2. exp along a row, vectorized for float32 (kernels.py explains the polynomial; Numba
# calls the C library's expf once per value, which made softmax and SwiGLU slower than
# NumPy's vectorized exp). Here x is also clamped from above at X_HIGHEST, where e^x is
# still a finite float32 (e^88.7 = 3.4e38): beyond it NumPy gives inf, this 3.4e38, and
# both give the same sigmoid to float32 precision.

X_HIGHEST = np.float32(88.0)


@njit(cache=True, inline="always", error_model="numpy", fastmath={"contract", "nsz"})
def _exp_row(row, shift, bits):
    """row[i] = exp(row[i] - shift) in place: float32 by the polynomial, float64 by the
    library. One array, in place: a version with a source and a destination ran 7x
    slower when they were the same array (as for the in-place softmax), the compiled
    loop falling back to one value at a time where the two overlap."""
    n = row.shape[0]
    if row.itemsize != 4:
        for i in range(n):
            row[i] = np.exp(row[i] - shift)
        return
    c0, c1, c2, c3, c4, c5, c6 = EXP_COEFFS
    for i in range(n):
        x = min(max(row[i] - shift, X_LOWEST), X_HIGHEST)
        k = np.floor(x * LOG2E + HALF)
        f = (x - k * LN2_HI) - k * LN2_LO
        row[i] = c0 + f * (c1 + f * (c2 + f * (c3 + f * (c4 + f * (c5 + f * c6)))))
        bits[i] = (np.int32(k) + 127) << 23
    two_to_k = bits[:n].view(np.float32)
    for i in range(n):
        row[i] *= two_to_k[i]


# ----------------------------------------------------------------------------------------
# 3. RMSNorm over the last axis: y = x * rstd * g, rstd = (mean(x^2) + eps)^-1/2

@njit(cache=True, inline="always", error_model="numpy", fastmath=FASTMATH)
def _rmsnorm_forward_row(x, g, eps, y, rstd, i):
    C = x.shape[1]
    ss = x.dtype.type(0)                       # float32 sums vectorize (0.0 would be float64)
    for c in range(C):
        ss += x[i, c] * x[i, c]
    r = 1 / np.sqrt(ss / C + eps)                    # (ints keep the data's type)
    rstd[i] = r
    for c in range(C):
        y[i, c] = x[i, c] * r * g[c]


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, parallel=True)
def _rmsnorm_forward_parallel(x, g, eps, y, rstd):
    for i in prange(x.shape[0]):
        _rmsnorm_forward_row(x, g, eps, y, rstd, i)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _rmsnorm_forward_serial(x, g, eps, y, rstd):
    for i in range(x.shape[0]):
        _rmsnorm_forward_row(x, g, eps, y, rstd, i)


def rmsnorm_forward(x, g, eps):
    """y = x / sqrt(mean(x^2) + eps) * g over the last axis -> y, rstd (..., 1)."""
    rows = _rows(x)
    y = np.empty_like(rows)
    rstd = np.empty(rows.shape[0], rows.dtype)
    run = _rmsnorm_forward_parallel if _parallel(rows.size) else _rmsnorm_forward_serial
    run(rows, g, rows.dtype.type(eps), y, rstd)
    return y.reshape(x.shape), rstd.reshape(x.shape[:-1] + (1,))


@njit(cache=True, inline="always", error_model="numpy", fastmath=FASTMATH)
def _rmsnorm_backward_block(dy, x, g, rstd, dx, dg_part, block, n_blocks):
    """Rows of one block: dx = rstd * (dy*g - x * rstd^2 * mean(dy*g*x)), and the
    block's part of dg = sum over rows of dy * x * rstd."""
    N, C = x.shape
    start, stop = block * N // n_blocks, (block + 1) * N // n_blocks
    part = dg_part[block]
    for i in range(start, stop):
        r = rstd[i]
        dot = x.dtype.type(0)
        for c in range(C):
            dot += dy[i, c] * g[c] * x[i, c]
        coef = r * r * dot / C
        for c in range(C):
            dx[i, c] = r * (dy[i, c] * g[c] - x[i, c] * coef)
            part[c] += dy[i, c] * x[i, c] * r


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, parallel=True)
def _rmsnorm_backward_parallel(dy, x, g, rstd, dx, dg_part):
    n_blocks = dg_part.shape[0]
    for block in prange(n_blocks):
        _rmsnorm_backward_block(dy, x, g, rstd, dx, dg_part, block, n_blocks)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _rmsnorm_backward_serial(dy, x, g, rstd, dx, dg_part):
    n_blocks = dg_part.shape[0]
    for block in range(n_blocks):
        _rmsnorm_backward_block(dy, x, g, rstd, dx, dg_part, block, n_blocks)


def rmsnorm_backward(dy, x, g, rstd):
    """Forward was y = x * rstd * g: -> dx (like x), dg (C,)."""
    dy_rows, x_rows = _rows(dy), _rows(x)
    dx = np.empty_like(x_rows)
    dg_part = np.zeros((SUM_BLOCKS, x_rows.shape[1]), x_rows.dtype)
    run = _rmsnorm_backward_parallel if _parallel(x_rows.size) else _rmsnorm_backward_serial
    run(dy_rows, x_rows, g, np.ascontiguousarray(rstd).reshape(-1), dx, dg_part)
    return dx.reshape(x.shape), dg_part.sum(axis=0)


# ----------------------------------------------------------------------------------------
# 4. RoPE ('rotate-half', as model.rope_forward) and SwiGLU

@njit(cache=True, inline="always", error_model="numpy", fastmath=FASTMATH)
def _rope_head(x, cos, sin, sign, out, bh):
    """Rotate every position of one (sequence, head) by sign * its angle."""
    H = x.shape[1]
    b, h = bh // H, bh % H
    T, D = x.shape[2], x.shape[3]
    half = D // 2
    for t in range(T):
        for i in range(half):
            x1, x2 = x[b, h, t, i], x[b, h, t, half + i]
            c, s = cos[t, i], sign * sin[t, i]
            out[b, h, t, i] = x1 * c - x2 * s
            out[b, h, t, half + i] = x1 * s + x2 * c


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, parallel=True)
def _rope_parallel(x, cos, sin, sign, out):
    for bh in prange(x.shape[0] * x.shape[1]):
        _rope_head(x, cos, sin, sign, out, bh)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _rope_serial(x, cos, sin, sign, out):
    for bh in range(x.shape[0] * x.shape[1]):
        _rope_head(x, cos, sin, sign, out, bh)


def rope_forward(x, cos, sin):
    """Rotate each head's pairs (first half, second half) by its position's angle.
    x (B,H,T,D), cos/sin (T, D/2) -> (B,H,T,D), contiguous for the attention products."""
    out = np.empty(x.shape, x.dtype)
    (_rope_parallel if _parallel(x.size) else _rope_serial)(x, cos, sin, x.dtype.type(1), out)
    return out


def rope_backward(dy, cos, sin):
    """A rotation's transpose rotates back by the opposite angle. The result is laid out
    (B,T,H,D) in memory (a (B,H,T,D) view), so merging its heads is a free reshape."""
    B, H, T, D = dy.shape
    out = np.empty((B, T, H, D), dy.dtype).transpose(0, 2, 1, 3)
    (_rope_parallel if _parallel(dy.size) else _rope_serial)(dy, cos, sin, dy.dtype.type(-1), out)
    return out


# SwiGLU is elementwise: the kernels take the arrays flat, CHUNK values at a time, so
# that exp runs over long stretches whatever F is.
CHUNK = 1024


@njit(cache=True, inline="always", error_model="numpy", fastmath=FASTMATH)
def _swiglu_forward_chunk(mw1, mw3, z, chunk, e, bits):
    start = chunk * CHUNK
    n = min(CHUNK, mw1.shape[0] - start)
    for i in range(n):
        e[i] = -mw1[start + i]
    _exp_row(e[:n], e.dtype.type(0), bits)                  # e = exp(-mw1)
    one = mw1.dtype.type(1)                           # a literal 1.0 would compute in float64
    for i in range(n):
        z[start + i] = mw1[start + i] / (one + e[i]) * mw3[start + i]


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, parallel=True)
def _swiglu_forward_parallel(mw1, mw3, z):
    n_chunks = (mw1.shape[0] + CHUNK - 1) // CHUNK
    e, bits = np.empty((n_chunks, CHUNK), mw1.dtype), np.empty((n_chunks, CHUNK), np.int32)
    for chunk in prange(n_chunks):
        _swiglu_forward_chunk(mw1, mw3, z, chunk, e[chunk], bits[chunk])


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _swiglu_forward_serial(mw1, mw3, z):
    e, bits = np.empty(CHUNK, mw1.dtype), np.empty(CHUNK, np.int32)
    for chunk in range((mw1.shape[0] + CHUNK - 1) // CHUNK):
        _swiglu_forward_chunk(mw1, mw3, z, chunk, e, bits)


def swiglu_forward(mw1, mw3):
    """z = silu(mw1) * mw3, silu(x) = x * sigmoid(x)."""
    a, b = _flat(mw1), _flat(mw3)
    z = np.empty_like(a)
    (_swiglu_forward_parallel if _parallel(a.size) else _swiglu_forward_serial)(a, b, z)
    return z.reshape(mw1.shape)


@njit(cache=True, inline="always", error_model="numpy", fastmath=FASTMATH)
def _swiglu_backward_chunk(dz, mw1, mw3, dmw1, dmw3, chunk, e, bits):
    """Forward was z = mw1 sig(mw1) mw3: dmw3 = dz mw1 sig, dmw1 = dz mw3 sig (1 + mw1 (1 - sig))."""
    start = chunk * CHUNK
    n = min(CHUNK, mw1.shape[0] - start)
    for i in range(n):
        e[i] = -mw1[start + i]
    _exp_row(e[:n], e.dtype.type(0), bits)
    one = mw1.dtype.type(1)
    for i in range(n):
        a = mw1[start + i]
        sig = one / (one + e[i])
        dmw1[start + i] = dz[start + i] * mw3[start + i] * sig * (one + a * (one - sig))
        dmw3[start + i] = dz[start + i] * a * sig


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, parallel=True)
def _swiglu_backward_parallel(dz, mw1, mw3, dmw1, dmw3):
    n_chunks = (mw1.shape[0] + CHUNK - 1) // CHUNK
    e, bits = np.empty((n_chunks, CHUNK), mw1.dtype), np.empty((n_chunks, CHUNK), np.int32)
    for chunk in prange(n_chunks):
        _swiglu_backward_chunk(dz, mw1, mw3, dmw1, dmw3, chunk, e[chunk], bits[chunk])


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _swiglu_backward_serial(dz, mw1, mw3, dmw1, dmw3):
    e, bits = np.empty(CHUNK, mw1.dtype), np.empty(CHUNK, np.int32)
    for chunk in range((mw1.shape[0] + CHUNK - 1) // CHUNK):
        _swiglu_backward_chunk(dz, mw1, mw3, dmw1, dmw3, chunk, e, bits)


def swiglu_backward(dz, mw1, mw3):
    """-> dmw1, dmw3 (like mw1)."""
    d, a, b = _flat(dz), _flat(mw1), _flat(mw3)
    dmw1, dmw3 = np.empty_like(a), np.empty_like(a)
    run = _swiglu_backward_parallel if _parallel(a.size) else _swiglu_backward_serial
    run(d, a, b, dmw1, dmw3)
    return dmw1.reshape(mw1.shape), dmw3.reshape(mw1.shape)


# ----------------------------------------------------------------------------------------
# 5. Attention. The four products per head (q k^T, P v, and in the backward dy v^T,
# P^T dy, ds k, ds^T q) stay with BLAS as in model.py: NumPy hands each (sequence, head)
# to an optimized product. What NumPy does slowly is the softmax over rows of T values
# (a dozen passes, each with per-row overhead) and its backward; those are one pass per
# row here:
#
#   forward   P = softmax(s * scale) over the keys the mask allows (others weigh exactly
#             0, as with -inf in the reference)
#   backward  ds = P * (dP - sum(dP * P)) * scale

@njit(cache=True, inline="always", error_model="numpy", fastmath=FASTMATH)
def _masked_softmax_head(scores, mask, scale, bits):
    """scores (T,S) of one (sequence, head), in place: row t becomes softmax(scale * row)
    over the keys mask[t] allows, exactly 0 at the others. The exp runs once over the
    whole block (rows of T values are too short to run it row by row)."""
    T, S = scores.shape
    for t in range(T):
        row = scores[t]
        top = -np.inf
        for s in range(S):
            if mask[t, s]:
                top = max(top, row[s])
        for s in range(S):
            row[s] = (row[s] - top) * scale         # <= 0 where allowed
    _exp_row(scores.reshape(T * S), scores.dtype.type(0), bits)
    for t in range(T):
        row = scores[t]
        total = row.dtype.type(0)
        for s in range(S):
            if mask[t, s]:
                total += row[s]
            else:
                row[s] = 0
        inv = scores.dtype.type(1) / total
        for s in range(S):
            row[s] *= inv


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, parallel=True)
def _masked_softmax_parallel(scores, mask, scale):
    n, T, S = scores.shape
    bits = np.empty((n, T * S), np.int32)
    for i in prange(n):
        _masked_softmax_head(scores[i], mask, scale, bits[i])


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _masked_softmax_serial(scores, mask, scale):
    n, T, S = scores.shape
    bits = np.empty(T * S, np.int32)
    for i in range(n):
        _masked_softmax_head(scores[i], mask, scale, bits)


def attention_forward(q, k, v, mask, scale):
    """Softmax attention with masked keys excluded. q (B,H,T,D), k/v (B,H,S,D), mask
    (T,S) bool -> y (B,H,T,D), probs (B,H,T,S)."""
    probs = q @ k.swapaxes(-1, -2)                                       # (B,H,T,S)
    B, H, T, S = probs.shape
    flat = probs.reshape(B * H, T, S)
    run = _masked_softmax_parallel if _parallel(probs.size) else _masked_softmax_serial
    run(flat, np.ascontiguousarray(mask), probs.dtype.type(scale))
    return probs @ v, probs


@njit(cache=True, inline="always", error_model="numpy", fastmath=FASTMATH)
def _softmax_backward_rows(probs, dprobs, scale, start, stop):
    """dprobs[i] becomes ds = P * (dP - sum(dP * P)) * scale, rows start..stop."""
    S = probs.shape[1]
    for i in range(start, stop):
        weighted = probs.dtype.type(0)
        for s in range(S):
            weighted += dprobs[i, s] * probs[i, s]
        for s in range(S):
            dprobs[i, s] = probs[i, s] * (dprobs[i, s] - weighted) * scale


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, parallel=True)
def _softmax_backward_parallel(probs, dprobs, scale):
    N = probs.shape[0]
    n_blocks = min(N, 256)
    for block in prange(n_blocks):
        _softmax_backward_rows(probs, dprobs, scale, block * N // n_blocks,
                               (block + 1) * N // n_blocks)


def attention_backward(dy, q, k, v, probs, scale):
    """Forward was y = P v, P = softmax(q k^T * scale), so dv = P^T dy, dP = dy v^T,
    ds = P * (dP - sum(dP*P)) * scale, dq = ds k, dk = ds^T q."""
    dv = probs.swapaxes(-1, -2) @ dy                                     # (B,H,S,D)
    ds = dy @ v.swapaxes(-1, -2)                                         # (B,H,T,S) dP
    S = ds.shape[-1]
    rows, p_rows = ds.reshape(-1, S), probs.reshape(-1, S)
    if _parallel(rows.size):
        _softmax_backward_parallel(p_rows, rows, probs.dtype.type(scale))
    else:
        _softmax_backward_rows(p_rows, rows, probs.dtype.type(scale), 0, rows.shape[0])
    return ds @ k, ds.swapaxes(-1, -2) @ q, dv                           # dq, dk, dv


# ----------------------------------------------------------------------------------------
# 6. Cross-entropy: softmax over the vocabulary per position, mean -log p(target) over
# the positions whose target is >= 0 (-1 = no target)

ROWS = 16          # cross-entropy rows per exp call


@njit(cache=True, inline="always", error_model="numpy", fastmath=FASTMATH)
def _cross_entropy_rows(logits, targets, probs, losses, block, bits):
    """Rows block*ROWS.. of the softmax over the vocabulary, and their -log p(target)."""
    N, V = logits.shape
    start = block * ROWS
    stop = min(N, start + ROWS)
    tops = np.empty(ROWS, logits.dtype)
    for i in range(start, stop):
        top = logits[i, 0]
        for j in range(1, V):
            top = max(top, logits[i, j])
        tops[i - start] = top
        for j in range(V):
            probs[i, j] = logits[i, j] - top
    _exp_row(probs[start:stop].reshape((stop - start) * V), logits.dtype.type(0), bits)
    for i in range(start, stop):
        total = logits.dtype.type(0)
        for j in range(V):
            total += probs[i, j]
        inv = logits.dtype.type(1) / total
        for j in range(V):
            probs[i, j] *= inv
        target = targets[i]
        # -log p = log(total) - (logit - top): finite even where p underflows to 0. In
        # float64: fast-math may reorder it to (log(total) - logit) + top.
        margin = np.float64(logits[i, target]) - np.float64(tops[i - start]) if target >= 0 else 0.0
        losses[i] = math.log(np.float64(total)) - margin if target >= 0 else 0.0


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, parallel=True)
def _cross_entropy_parallel(logits, targets, probs, losses):
    N, V = logits.shape
    n_blocks = (N + ROWS - 1) // ROWS
    bits = np.empty((n_blocks, ROWS * V), np.int32)
    for block in prange(n_blocks):
        _cross_entropy_rows(logits, targets, probs, losses, block, bits[block])


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _cross_entropy_serial(logits, targets, probs, losses):
    N, V = logits.shape
    bits = np.empty(ROWS * V, np.int32)
    for block in range((N + ROWS - 1) // ROWS):
        _cross_entropy_rows(logits, targets, probs, losses, block, bits)


def cross_entropy_forward(logits, targets):
    """Mean cross-entropy over positions whose target is >= 0. logits (B,T,V), targets
    (B,T) -> loss, probs (B,T,V)."""
    rows = _rows(logits)
    flat = np.ascontiguousarray(targets).reshape(-1).astype(np.int64)
    probs = np.empty_like(rows)
    losses = np.empty(rows.shape[0], np.float64)
    run = _cross_entropy_parallel if _parallel(rows.size) else _cross_entropy_serial
    run(rows, flat, probs, losses)
    n = max(int((flat >= 0).sum()), 1)
    return float(losses.sum() / n), probs.reshape(logits.shape)


@njit(cache=True, inline="always", error_model="numpy", fastmath=FASTMATH)
def _cross_entropy_backward_rows(probs, targets, inv_n, dlogits, start, stop):
    V = probs.shape[1]
    for i in range(start, stop):
        target = targets[i]
        if target < 0:
            for j in range(V):
                dlogits[i, j] = 0
        else:
            for j in range(V):
                dlogits[i, j] = probs[i, j] * inv_n
            dlogits[i, target] -= inv_n


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, parallel=True)
def _cross_entropy_backward_parallel(probs, targets, inv_n, dlogits):
    N = probs.shape[0]
    n_blocks = min(N, 64)
    for block in prange(n_blocks):
        _cross_entropy_backward_rows(probs, targets, inv_n, dlogits, block * N // n_blocks,
                                     (block + 1) * N // n_blocks)


def cross_entropy_backward(probs, targets):
    """d loss / d logits = (probs - onehot(target)) / n at valid positions, 0 elsewhere."""
    rows = _rows(probs)
    flat = np.ascontiguousarray(targets).reshape(-1).astype(np.int64)
    n = max(int((flat >= 0).sum()), 1)
    dlogits = np.empty_like(rows)
    inv_n = rows.dtype.type(1.0 / n)
    if _parallel(rows.size):
        _cross_entropy_backward_parallel(rows, flat, inv_n, dlogits)
    else:
        _cross_entropy_backward_rows(rows, flat, inv_n, dlogits, 0, rows.shape[0])
    return dlogits.reshape(probs.shape)


# ----------------------------------------------------------------------------------------
# 7. The optimizer's update and the gradient norm, one pass over each parameter

@njit(cache=True, inline="always", error_model="numpy", fastmath=FASTMATH)
def _adamw_span(p, g, m, v, lr, b1, b2, eps, decay, m_scale, v_scale, start, stop):
    """m_scale, v_scale: the bias corrections 1 / (1 - b^t). All scalars in the data's
    type, so the loop stays in float32."""
    one = p.dtype.type(1)
    for i in range(start, stop):
        m[i] = b1 * m[i] + (one - b1) * g[i]
        v[i] = b2 * v[i] + (one - b2) * g[i] * g[i]
        p[i] -= lr * decay * p[i]
        p[i] -= lr * (m[i] * m_scale) / (np.sqrt(v[i] * v_scale) + eps)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, parallel=True)
def _adamw_parallel(p, g, m, v, lr, b1, b2, eps, decay, m_scale, v_scale):
    n = p.shape[0]
    n_spans = 64
    for span in prange(n_spans):
        _adamw_span(p, g, m, v, lr, b1, b2, eps, decay, m_scale, v_scale,
                    span * n // n_spans, (span + 1) * n // n_spans)


def adamw_update(p, g, m, v, lr, b1, b2, eps, weight_decay, t):
    """One AdamW step on one parameter, in place: m, v are the moment estimates, t the
    step count from 1; weight decay is applied to p as given (0 for vectors)."""
    if not (p.flags.c_contiguous and m.flags.c_contiguous and v.flags.c_contiguous):
        raise ValueError("adamw_update updates p, m and v in place: they must be C-contiguous")
    flat = [p.reshape(-1), np.ascontiguousarray(g).reshape(-1), m.reshape(-1), v.reshape(-1)]
    dtype = p.dtype.type
    args = (*flat, dtype(lr), dtype(b1), dtype(b2), dtype(eps), dtype(weight_decay),
            dtype(1.0 / (1 - b1 ** t)), dtype(1.0 / (1 - b2 ** t)))
    if _parallel(p.size):
        _adamw_parallel(*args)
    else:
        _adamw_span(*args, 0, p.size)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _sum_of_squares(x):
    total = 0.0
    for i in range(x.shape[0]):
        total += np.float64(x[i]) * np.float64(x[i])
    return total


def sum_of_squares(g) -> float:
    """sum(g^2) in float64, for the global gradient norm."""
    return float(_sum_of_squares(np.ascontiguousarray(g).reshape(-1)))
