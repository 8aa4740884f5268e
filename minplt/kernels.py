"""Numba kernels for the decode hot path: the row operations of one decode pass.
(The training step's kernels are in train_kernels.py.)

Every public kernel here has the name and arguments of its plain NumPy version in
`model.py` section 6 (the row operations of one decode pass), its reference and test
oracle:

    linear_rows(x, w)                        (R,C) @ (C,N) -> (R,N), w read once for all R rows
    rmsnorm_rows(x, g, eps)                  (R,C) -> (R,C)
    rope_rows(x, cos, sin)                   (R,H,D), cos/sin (R, D/2) -> (R,H,D)
    swiglu_rows(a, b)                        silu(a) * b, (R,F)
    attention_over_cache(q, k, v, n, scale)  q (B,R,H,D), k/v (B,H,cap,D), n (B,) -> (B,R,H,D)

`model.get_ops("numba")` picks them up by name. Why they exist (docs/method.md §7): a
parallel-schedule decode step multiplies L rows with every weight matrix. Decoding is
limited by how fast the weights can be read, so L rows should cost about what one row
costs. OpenBLAS's product of a few rows with a large matrix costs several times its
1-row product (`python -m minplt bench` prints the table for your machine);
`linear_rows` below reads each weight once and keeps the R partial sums in L1.

Parallel kernels have a serial twin with the same body (`*_serial`), which the tests
compare them with; parallel loops write disjoint memory, or per-thread partial sums
that a serial loop adds up. Small products run the serial twin (see
PARALLEL_MIN_VALUES). Everything also runs as plain Python under NUMBA_DISABLE_JIT=1
(slowly: the tests use tiny shapes then).

Threads: Numba runs its parallel loops on OpenMP threads (`numba.get_num_threads()`).
At the end of every parallel loop they wait for each other. GNU OpenMP spins a long
while before it sleeps: fastest on an idle machine, but when other busy processes hold
the cores a wait can last a scheduler time slice, and a decode step of ~30 parallel
loops gets tens of times slower. Sleeping at once (OMP_WAIT_POLICY=PASSIVE) is safe but
makes every wake-up slow. So minplt/__init__.py sets GOMP_SPINCOUNT=1000, a short spin,
unless you set GOMP_SPINCOUNT or OMP_WAIT_POLICY yourself; `backend_info()` reports
the policy in force, and `minplt bench` prints it with the load average.

Not here, on purpose (docs/performance.md has the measurements):
- fused kernels (rmsnorm into the next product, q/k/v in one call): a decode step is
  bound by reading the weights, and fusing saves only the call and thread start-up of
  each product, a small part of a step at the bench size;
- training kernels: they are in train_kernels.py (the softmaxes, norms, RoPE, SwiGLU
  and AdamW of a training step, which reuses this file's float32 exp).

Contents:
    1. Settings            3. rmsnorm_rows, rope_rows, swiglu_rows
    2. linear_rows         4. attention_over_cache
                           5. backend_info, warmup
"""
from __future__ import annotations

import math
import os
import platform
import time

import numba
import numpy as np
from numba import njit, prange

# ----------------------------------------------------------------------------------------
# 1. Settings

# Fast-math flags: allow reassociation (so sums vectorize into SIMD partial sums),
# contraction into FMA, reciprocal and approximate functions. Not 'nnan'/'ninf': the
# kernels must still handle inf the way NumPy does (e.g. exp overflow in silu).
FASTMATH = {"reassoc", "contract", "nsz", "arcp", "afn"}

JIT_DISABLED = bool(numba.config.DISABLE_JIT)           # NUMBA_DISABLE_JIT=1: plain Python

# Below this many values read (weights, or cached keys and values), a kernel runs on one
# thread: waking the other threads costs more than it saves, and on a busy machine a
# parallel region waits for every thread to get a core. The serial twin then runs.
PARALLEL_MIN_VALUES = 1 << 18

# From this many rows on, linear_rows hands the product to BLAS. Below it, the kernel's
# one pass over the weights wins; above it, its R partial-sum rows no longer stay in the
# fastest cache and BLAS's blocking wins. `python -m minplt bench` prints both for
# R = 1..128 on the machine it runs on (docs/performance.md's bench block has the table: the
# kernel won up to 4-6 rows there, BLAS from 8).
BLAS_MIN_ROWS = 8


# ----------------------------------------------------------------------------------------
# 2. linear_rows: out = x @ w for R = 1..8 rows, reading each weight once.
#
# The weights w (C,N) are the big operand (4 MB - 12 MB per matrix at the bench config);
# x (R,C) and out (R,N) are small. Each thread takes a contiguous block of rows of w
# (c0..c1) and streams through it, four rows of w at a time:
#
#     part[r, :] += x[r,c] w[c,:] + x[r,c+1] w[c+1,:] + x[r,c+2] w[c+2,:] + x[r,c+3] w[c+3,:]
#
# for up to three rows r at once: one load of w[c:c+4, j] from memory feeds 4 x 3
# multiply-adds, and the partial sums part[r, j] (in L1) are loaded and stored once per
# four rows of w instead of once per row. Then the threads' partial sums are added up.
# Contiguous blocks keep the memory access a few forward streams, which the hardware prefetcher follows at full bandwidth.
#
# The _rowsK helpers are that line written out for K = 3, 2, 1 rows: Numba has no
# register arrays, so the row values x[r, c..] are named scalars that stay in registers.
# (Four rows at once run out of registers and are slower than 2 + 2.) They index the
# 2-D arrays directly, w[c, j], rather than through a row view w[c]: making a view costs
# more than a short inner loop does. (Eight rows of w at a time for one or two rows of
# x measured no faster.)

@njit(cache=True, fastmath=FASTMATH)
def _rows3(x, r, c, w, out, N):
    """Three rows of x, four rows of w."""
    a0, a1, a2, a3 = x[r, c], x[r, c + 1], x[r, c + 2], x[r, c + 3]
    b0, b1, b2, b3 = x[r + 1, c], x[r + 1, c + 1], x[r + 1, c + 2], x[r + 1, c + 3]
    d0, d1, d2, d3 = x[r + 2, c], x[r + 2, c + 1], x[r + 2, c + 2], x[r + 2, c + 3]
    for j in range(N):
        v0, v1, v2, v3 = w[c, j], w[c + 1, j], w[c + 2, j], w[c + 3, j]
        out[r, j] += (a0 * v0 + a1 * v1) + (a2 * v2 + a3 * v3)
        out[r + 1, j] += (b0 * v0 + b1 * v1) + (b2 * v2 + b3 * v3)
        out[r + 2, j] += (d0 * v0 + d1 * v1) + (d2 * v2 + d3 * v3)


@njit(cache=True, fastmath=FASTMATH)
def _rows2(x, r, c, w, out, N):
    """Two rows of x, four rows of w."""
    a0, a1, a2, a3 = x[r, c], x[r, c + 1], x[r, c + 2], x[r, c + 3]
    b0, b1, b2, b3 = x[r + 1, c], x[r + 1, c + 1], x[r + 1, c + 2], x[r + 1, c + 3]
    for j in range(N):
        v0, v1, v2, v3 = w[c, j], w[c + 1, j], w[c + 2, j], w[c + 3, j]
        out[r, j] += (a0 * v0 + a1 * v1) + (a2 * v2 + a3 * v3)
        out[r + 1, j] += (b0 * v0 + b1 * v1) + (b2 * v2 + b3 * v3)


@njit(cache=True, fastmath=FASTMATH)
def _rows1(x, r, c, w, out, N):
    """One row of x, four rows of w."""
    a0, a1, a2, a3 = x[r, c], x[r, c + 1], x[r, c + 2], x[r, c + 3]
    for j in range(N):
        out[r, j] += (a0 * w[c, j] + a1 * w[c + 1, j]) + (a2 * w[c + 2, j] + a3 * w[c + 3, j])


@njit(cache=True, fastmath=FASTMATH)
def _accumulate_rows(x, w, part, c0, c1):
    """part[:, :N] += x[:, c0:c1] @ w[c0:c1, :], reading w[c0:c1] once, in order."""
    R = x.shape[0]
    N = w.shape[1]
    c = c0
    while c + 4 <= c1:
        r = 0                           # rows in groups of 3, then a pair or a single
        while R - r >= 5 or R - r == 3:
            _rows3(x, r, c, w, part, N)
            r += 3
        if R - r == 4:
            _rows2(x, r, c, w, part, N)
            r += 2
        if R - r == 2:
            _rows2(x, r, c, w, part, N)
        elif R - r == 1:
            _rows1(x, r, c, w, part, N)
        c += 4
    while c < c1:                       # the last C % 4 rows of w, one at a time
        for r in range(R):
            xv = x[r, c]
            for j in range(N):
                part[r, j] += xv * w[c, j]
        c += 1


@njit(cache=True)
def _padded_width(N, itemsize):
    """Row length for the partial sums: N or a little more, so that consecutive rows
    start 1088 bytes apart modulo 4 KB. With N = 1024 floats the rows would sit at the
    same offset of their 4 KB pages, and the CPU stalls a load behind an earlier store
    whose address looks the same in its low 12 bits ("4K aliasing"): R = 3 then ran at
    half speed. (A 64-byte shift is not enough: the loop itself moves 64 bytes a step.)"""
    page, shift = 4096 // itemsize, 1088 // itemsize
    return N + (shift - N) % page


@njit(cache=True)
def _row_blocks(C, n_blocks):
    """Starts of n_blocks contiguous blocks of the rows 0..C (and C at the end), at
    multiples of 4, so every block but the last has no leftover rows."""
    size = ((C + n_blocks - 1) // n_blocks + 3) // 4 * 4
    starts = np.empty(n_blocks + 1, np.int64)
    for b in range(n_blocks + 1):
        starts[b] = min(b * size, C)
    return starts


@njit(cache=True, fastmath=FASTMATH, parallel=True)
def _linear_rows_parallel(x, w, out, n_threads):
    """out = x @ w with the rows of w split into one contiguous block per thread."""
    R, C = x.shape
    N = w.shape[1]
    n_blocks = max(1, min(n_threads, C // 64))           # one block of rows per thread
    starts = _row_blocks(C, n_blocks)
    part = np.zeros((n_blocks, R, _padded_width(N, out.itemsize)), out.dtype)  # per block
    for b in prange(n_blocks):
        _accumulate_rows(x, w, part[b], starts[b], starts[b + 1])
    for r in range(R):                                    # add them up (R x N: small)
        for j in range(N):
            out[r, j] = part[0, r, j]
        for b in range(1, n_blocks):
            for j in range(N):
                out[r, j] += part[b, r, j]
    return out


@njit(cache=True, fastmath=FASTMATH)
def _linear_rows_serial(x, w, out):
    """out = x @ w on one thread: the same loops, one block."""
    R, N = out.shape
    part = np.zeros((R, _padded_width(N, out.itemsize)), out.dtype)
    _accumulate_rows(x, w, part, 0, x.shape[1])
    for r in range(R):
        for j in range(N):
            out[r, j] = part[r, j]
    return out


def linear_rows(x, w):
    """(R,C) @ (C,N) -> (R,N), reading each weight once for all R rows (parallel).
    From BLAS_MIN_ROWS rows on, BLAS's blocked product is the faster one: the step has
    turned from reading weights into arithmetic. A thin Python entry point: Numba code
    that asks for the thread count cannot be cached (the query is a ctypes call), so the
    count is asked here and passed in."""
    if x.shape[0] >= BLAS_MIN_ROWS:
        return x @ w
    out = np.empty((x.shape[0], w.shape[1]), x.dtype)
    if w.size < PARALLEL_MIN_VALUES:
        return _linear_rows_serial(x, w, out)
    return _linear_rows_parallel(x, w, out, numba.get_num_threads())


@njit(cache=True, fastmath=FASTMATH)
def linear_rows_serial(x, w):
    """The serial twin of linear_rows (one thread), for tests and the benchmark."""
    out = np.empty((x.shape[0], w.shape[1]), x.dtype)
    return _linear_rows_serial(x, w, out)


# ----------------------------------------------------------------------------------------
# 2b. Packed products: x (R,C) @ w for R = 1..32 rows, w packed once, transposed.
#
# linear_rows above streams through whole rows of w (N values each) and keeps R rows
# of N partial sums in memory. Each row of w read adds into all of them, so the partial
# sums are loaded and stored again for every few rows of w: from 4 rows on they no
# longer fit the fastest cache, and even where they do, that traffic, not the memory,
# sets the pace (docs/kernels.md has the measurements).
#
# Packed, w (C,N) is stored transposed, wt (N,C): the C weights of output column n are
# one contiguous row, wt[n]. Then out[r, n] = x[r] . wt[n] is a dot product of two
# contiguous rows, and a dot product's sum is a scalar that the compiler keeps in vector
# registers (fastmath lets it split the sum into SIMD partial sums). The loop takes four
# columns and two rows of x at a time: eight sums, one load of wt[n..n+3, c] feeding two
# rows, one load of x[r..r+1, c] feeding four columns -- the tile of _head_scores below,
# with wt in the place of the keys. More rows take turns over the same four rows of wt,
# which are then in the first-level cache (4 x C floats: 16 KB at C = 1024). The threads
# split the columns into contiguous blocks: each reads one forward stream of wt and
# writes its own outputs, with no partial sums to add up.
# `python -m minplt bench` prints this against numpy's `@` and linear_rows for R = 1..128.


def pack_columns(w):
    """(C,N) -> (N,C), contiguous: row n holds the C weights of output column n."""
    return np.ascontiguousarray(np.asarray(w).T)


@njit(cache=True, fastmath=FASTMATH)
def _columns_block(x, wt, out, n0, n1, zero):
    """out[:, n0:n1] = x @ wt[n0:n1].T, x (R,C), wt (N,C). `zero` is a 0 of the data's
    type (a literal 0.0 would make the sums float64 and halve the vector width)."""
    R, C = x.shape
    n = n0
    while n + 4 <= n1:
        r = 0
        while r + 2 <= R:                        # two rows of x x four columns
            a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = zero
            for c in range(C):
                w0, w1, w2, w3 = wt[n, c], wt[n + 1, c], wt[n + 2, c], wt[n + 3, c]
                xa, xb = x[r, c], x[r + 1, c]
                a0 += xa * w0
                a1 += xa * w1
                a2 += xa * w2
                a3 += xa * w3
                b0 += xb * w0
                b1 += xb * w1
                b2 += xb * w2
                b3 += xb * w3
            out[r, n], out[r, n + 1], out[r, n + 2], out[r, n + 3] = a0, a1, a2, a3
            out[r + 1, n], out[r + 1, n + 1], out[r + 1, n + 2], out[r + 1, n + 3] = \
                b0, b1, b2, b3
            r += 2
        if r < R:                                # the last row when R is odd
            a0 = a1 = a2 = a3 = zero
            for c in range(C):
                xa = x[r, c]
                a0 += xa * wt[n, c]
                a1 += xa * wt[n + 1, c]
                a2 += xa * wt[n + 2, c]
                a3 += xa * wt[n + 3, c]
            out[r, n], out[r, n + 1], out[r, n + 2], out[r, n + 3] = a0, a1, a2, a3
        n += 4
    while n < n1:                                # the last columns, fewer than four
        for r in range(R):
            a0 = zero
            for c in range(C):
                a0 += x[r, c] * wt[n, c]
            out[r, n] = a0
        n += 1


@njit(cache=True, fastmath=FASTMATH, parallel=True)
def _linear_packed_parallel(x, wt, out, n_threads):
    """The columns split into n_threads contiguous blocks (multiples of four), one per
    thread."""
    N = wt.shape[0]
    zero = np.zeros(1, out.dtype)[0]
    for t in prange(n_threads):
        n0 = t * N // n_threads // 4 * 4
        n1 = N if t == n_threads - 1 else (t + 1) * N // n_threads // 4 * 4
        _columns_block(x, wt, out, n0, n1, zero)
    return out


@njit(cache=True, fastmath=FASTMATH)
def linear_packed(x, wt, out, n_threads):
    """out (R,N) = x (R,C) @ w, w packed by pack_columns into wt (N,C); parallel over
    columns when w is large enough (PARALLEL_MIN_VALUES) and n_threads > 1, else one
    thread. Callable from compiled code (the decode step): the caller passes the thread
    count."""
    if n_threads > 1 and wt.size >= PARALLEL_MIN_VALUES and x.shape[0] > 0:
        return _linear_packed_parallel(x, wt, out, n_threads)
    _columns_block(x, wt, out, 0, wt.shape[0], np.zeros(1, out.dtype)[0])
    return out


def linear_rows_packed(x, wt, n_threads=None):
    """(R,C) @ w -> (R,N) with w packed by pack_columns into wt (N,C): the product the
    compiled decode step uses (decode_step.py), for tests and the benchmark."""
    out = np.empty((x.shape[0], wt.shape[0]), x.dtype)
    return linear_packed(x, wt, out, numba.get_num_threads() if n_threads is None else n_threads)


# ----------------------------------------------------------------------------------------
# 3. Row-wise element operations. Cheap (R x C values); kernels so that a decode step
# does not leave the compiled code for a chain of small NumPy calls.

@njit(cache=True, fastmath=FASTMATH)
def rmsnorm_rows(x, g, eps):
    """(R,C) -> (R,C): x / sqrt(mean(x^2) + eps) * g for each row."""
    R, C = x.shape
    out = np.empty((R, C), x.dtype)
    for r in range(R):
        ss = 0.0                                   # float64 sum of squares
        for c in range(C):
            ss += x[r, c] * x[r, c]
        rstd = 1.0 / np.sqrt(ss / C + eps)
        for c in range(C):
            out[r, c] = x[r, c] * rstd * g[c]
    return out


@njit(cache=True, fastmath=FASTMATH)
def rope_rows(x, cos, sin):
    """(R,H,D) rotated, row r by its own position's angles cos[r], sin[r] (R, D/2),
    'rotate-half' convention as in model.rope_forward: (x1, x2) -> (x1 cos - x2 sin,
    x1 sin + x2 cos), halves of D."""
    R, H, D = x.shape
    half = D // 2
    out = np.empty((R, H, D), x.dtype)
    for r in range(R):
        for h in range(H):
            for i in range(half):
                x1, x2 = x[r, h, i], x[r, h, half + i]
                out[r, h, i] = x1 * cos[r, i] - x2 * sin[r, i]
                out[r, h, half + i] = x1 * sin[r, i] + x2 * cos[r, i]
    return out


@njit(cache=True, fastmath=FASTMATH)
def swiglu_rows(a, b):
    """silu(a) * b = a * sigmoid(a) * b, (R,F)."""
    R, F = a.shape
    out = np.empty((R, F), a.dtype)
    for r in range(R):
        for f in range(F):
            out[r, f] = a[r, f] / (1.0 + np.exp(-a[r, f])) * b[r, f]
    return out


# ----------------------------------------------------------------------------------------
# 4. attention_over_cache: R query rows over the first n cached positions of every head.
#
# Per head, three steps that each read their data once for all R rows:
#   scores = q k^T * scale   one pass over the n keys, four keys and two query rows at a
#                            time: eight dot products share their loads (float32
#                            accumulators, so they vectorize 16 wide);
#   probs  = softmax(scores) per row, over s < n only (exp vectorized, see _exp_float32);
#   out    = probs v         one pass over the n values, four at a time (as linear_rows).
# Positions n.. of the cache are never read. Heads are independent: the parallel loop
# runs over heads, and each head writes only its own scratch rows and outputs.

@njit(cache=True, fastmath=FASTMATH)
def _head_scores(q, k, n, scale, h, scores, zero):
    """scores[r, s] = q[r,h] . k[h,s] * scale for s < n. `zero` is a 0 of the data's
    type (a literal 0.0 would make the sums float64 and halve the vector width)."""
    R, D = q.shape[0], q.shape[2]
    s = 0
    while s + 4 <= n:
        r = 0
        while r + 2 <= R:                        # two query rows x four keys
            a0 = a1 = a2 = a3 = b0 = b1 = b2 = b3 = zero
            for d in range(D):
                k0, k1, k2, k3 = k[h, s, d], k[h, s + 1, d], k[h, s + 2, d], k[h, s + 3, d]
                qa, qb = q[r, h, d], q[r + 1, h, d]
                a0 += qa * k0
                a1 += qa * k1
                a2 += qa * k2
                a3 += qa * k3
                b0 += qb * k0
                b1 += qb * k1
                b2 += qb * k2
                b3 += qb * k3
            scores[r, s], scores[r, s + 1] = a0 * scale, a1 * scale
            scores[r, s + 2], scores[r, s + 3] = a2 * scale, a3 * scale
            scores[r + 1, s], scores[r + 1, s + 1] = b0 * scale, b1 * scale
            scores[r + 1, s + 2], scores[r + 1, s + 3] = b2 * scale, b3 * scale
            r += 2
        if r < R:                                # the last row when R is odd
            a0 = a1 = a2 = a3 = zero
            for d in range(D):
                qa = q[r, h, d]
                a0 += qa * k[h, s, d]
                a1 += qa * k[h, s + 1, d]
                a2 += qa * k[h, s + 2, d]
                a3 += qa * k[h, s + 3, d]
            scores[r, s], scores[r, s + 1] = a0 * scale, a1 * scale
            scores[r, s + 2], scores[r, s + 3] = a2 * scale, a3 * scale
        s += 4
    while s < n:                                 # the last n % 4 keys
        for r in range(R):
            a0 = zero
            for d in range(D):
                a0 += q[r, h, d] * k[h, s, d]
            scores[r, s] = a0 * scale
        s += 1


# exp for float32, as a polynomial the compiler can vectorize. Numba calls the C
# library's expf once per value (it has no vector exp unless Intel's SVML is installed),
# and that made the softmax as slow as the two passes over the keys and values.
#     e^x = 2^k e^f, k = round(x / ln 2) an integer, f = x - k ln 2 with |f| <= ln(2)/2;
#     k ln 2 is subtracted in two parts (Cody and Waite), LN2_HI with few enough bits that
#     k * LN2_HI is exact, then LN2_LO, so f keeps float32 precision even for x = -80;
#     e^f by its Taylor series to degree 6 (relative error < 2e-7 for |f| <= 0.35);
#     2^k is the float32 whose exponent bits are k + 127, written as an integer.
# x is clamped at -126 ln 2 (so 2^k stays a normal float32): weights below e^-87 come
# out 1.2e-38 instead of ~0, nothing beside the row maximum's weight of 1. Compiled
# without reassociation, which could merge the two parts of k ln 2 back into one.
LOG2E = np.float32(1.4426950408889634)
LN2_HI, LN2_LO = np.float32(0.693359375), np.float32(-2.12194440e-4)
X_LOWEST, HALF = np.float32(-126.0 * math.log(2.0)), np.float32(0.5)
EXP_COEFFS = tuple(np.float32(1.0 / math.factorial(i)) for i in range(7))


@njit(cache=True, fastmath={"contract", "nsz"})
def _exp_float32(row, n, m, bits):
    """row[s] = exp(row[s] - m) for s < n, float32; bits (>= n int32) is scratch."""
    c0, c1, c2, c3, c4, c5, c6 = EXP_COEFFS
    for s in range(n):
        x = max(row[s] - m, X_LOWEST)
        k = np.floor(x * LOG2E + HALF)
        f = (x - k * LN2_HI) - k * LN2_LO
        row[s] = c0 + f * (c1 + f * (c2 + f * (c3 + f * (c4 + f * (c5 + f * c6)))))
        bits[s] = (np.int32(k) + 127) << 23
    two_to_k = bits.view(np.float32)
    for s in range(n):
        row[s] *= two_to_k[s]


@njit(cache=True, fastmath=FASTMATH)
def _softmax_rows(scores, n, bits):
    """Softmax of scores[r, :n] in place, subtracting each row's maximum first."""
    for r in range(scores.shape[0]):
        row = scores[r]
        m = row[0]
        for s in range(1, n):
            m = max(m, row[s])
        if row.itemsize == 4:
            _exp_float32(row, n, m, bits)
        else:                                    # float64: the library exp
            for s in range(n):
                row[s] = np.exp(row[s] - m)
        total = 0.0
        for s in range(n):
            total += row[s]
        inv = 1.0 / total
        for s in range(n):
            row[s] *= inv


@njit(cache=True, fastmath=FASTMATH)
def _head_values(probs, v, n, h, acc):
    """acc[r, :] = sum over s < n of probs[r, s] v[h, s, :]."""
    R, D = acc.shape
    for r in range(R):
        for d in range(D):
            acc[r, d] = 0.0
    s = 0
    while s + 4 <= n:
        for r in range(R):
            p0, p1, p2, p3 = probs[r, s], probs[r, s + 1], probs[r, s + 2], probs[r, s + 3]
            for d in range(D):
                acc[r, d] += (p0 * v[h, s, d] + p1 * v[h, s + 1, d]) \
                    + (p2 * v[h, s + 2, d] + p3 * v[h, s + 3, d])
        s += 4
    while s < n:
        for r in range(R):
            p0 = probs[r, s]
            for d in range(D):
                acc[r, d] += p0 * v[h, s, d]
        s += 1


@njit(cache=True, fastmath=FASTMATH)
def _attend_head(q, k, v, n, scale, h, scores, bits, acc, out):
    """Head h of attention_over_cache; scores (R, >=n), bits (>=n) and acc (R,D) are
    this head's scratch."""
    zero = np.zeros(1, q.dtype)[0]
    _head_scores(q, k, n, scale, h, scores, zero)
    _softmax_rows(scores, n, bits)
    _head_values(scores, v, n, h, acc)
    for r in range(q.shape[0]):
        for d in range(q.shape[2]):
            out[r, h, d] = acc[r, d]


@njit(cache=True, fastmath=FASTMATH, parallel=True)
def _attention_parallel(q, k, v, n, scale, out):
    """Parallel over (sequence, head) pairs; each pair has its own scratch rows."""
    B, R, H, D = q.shape
    longest = max(1, n.max())
    scores = np.empty((B * H, R, longest), q.dtype)
    bits = np.empty((B * H, longest), np.int32)
    acc = np.empty((B * H, R, D), q.dtype)
    for bh in prange(B * H):
        b, h = bh // H, bh % H
        _attend_head(q[b], k[b], v[b], n[b], scale, h, scores[bh], bits[bh], acc[bh], out[b])
    return out


@njit(cache=True, fastmath=FASTMATH)
def _attention_serial(q, k, v, n, scale, out):
    B, R, H, D = q.shape
    longest = max(1, n.max())
    scores = np.empty((R, longest), q.dtype)
    bits = np.empty(longest, np.int32)
    acc = np.empty((R, D), q.dtype)
    for b in range(B):
        for h in range(H):
            _attend_head(q[b], k[b], v[b], n[b], scale, h, scores, bits, acc, out[b])
    return out


def attention_over_cache(q, k, v, n, scale):
    """Each sequence's R query rows over its first n[b] cached keys/values of every head
    (parallel over sequences and heads). q (B,R,H,D), k/v (B,H,cap,D), n (B,) ->
    (B,R,H,D). Entries n[b].. are never read; each sequence's cache is read once for all
    its rows."""
    out = np.empty(q.shape, q.dtype)
    n = np.asarray(n, np.int64)
    if 2 * q.shape[2] * int(n.sum()) * q.shape[3] < PARALLEL_MIN_VALUES:
        return _attention_serial(q, k, v, n, scale, out)
    return _attention_parallel(q, k, v, n, scale, out)


@njit(cache=True, fastmath=FASTMATH)
def attention_over_cache_serial(q, k, v, n, scale):
    """The serial twin of attention_over_cache."""
    out = np.empty(q.shape, q.dtype)
    return _attention_serial(q, k, v, n, scale, out)


# ----------------------------------------------------------------------------------------
# 5. backend_info, warmup

KERNELS = ("linear_rows", "rmsnorm_rows", "rope_rows", "attention_over_cache", "swiglu_rows",
           "linear_rows_packed")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _blas_name() -> str:
    """The BLAS numpy was built against, e.g. 'scipy-openblas 0.3.31 (Haswell kernels)'."""
    try:
        import contextlib
        import io
        import warnings
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        name = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
        detail = blas.get("openblas configuration", "")
        return f"{name} ({detail})" if detail else name
    except Exception:                                   # older numpy: no mode='dicts'
        return "unknown"


def backend_info() -> dict:
    """What runs the decode kernels: backends, Numba version and threads, BLAS, CPU."""
    return {
        "backends": ["numpy", "numba"],
        "numba": numba.__version__,
        "numpy": np.__version__,
        "threads": numba.get_num_threads(),
        "threading_layer": _threading_layer(),
        "jit_disabled": JIT_DISABLED,
        "decode_step": "plain Python (NUMBA_DISABLE_JIT=1)" if JIT_DISABLED
        else "compiled, one call per step",
        "blas": _blas_name(),
        "cpu": _cpu_model(),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default (spinning)")
        + (f", GOMP_SPINCOUNT={os.environ['GOMP_SPINCOUNT']}"
           if "GOMP_SPINCOUNT" in os.environ else ""),
    }


def _threading_layer() -> str:
    try:
        return numba.threading_layer()
    except ValueError:                                  # no parallel kernel has run yet
        return "not started"


def warmup(dtype="float32") -> float:
    """Compile (or load from Numba's cache) every kernel for `dtype`, serial and parallel
    versions, and the compiled decode step (decode_step.py), by calling each once on tiny
    inputs in the layouts a decode step passes.
    Returns the seconds it took: the compile time on a first run, much less once cached."""
    dtype = np.dtype(dtype)
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 8)).astype(dtype)
    w = rng.standard_normal((8, 12)).astype(dtype)
    _linear_rows_parallel(x, w, np.empty((2, 12), dtype), numba.get_num_threads())
    linear_rows(x, w)
    linear_rows_serial(x, w)
    rmsnorm_rows(x, np.ones(8, dtype), 1e-6)
    swiglu_rows(x, x)
    q = rng.standard_normal((2, 2, 4)).astype(dtype)
    rope_rows(q, np.ones((2, 2), dtype), np.zeros((2, 2), dtype))
    cache = rng.standard_normal((1, 2, 2, 2, 5, 4)).astype(dtype)    # like cache.k
    qb, n = q[None], np.array([3], np.int64)                          # (B,R,H,D), (B,)
    _attention_parallel(qb, cache[0, 0], cache[0, 1], n, 0.5, np.empty_like(qb))
    attention_over_cache(qb, cache[0, 0], cache[0, 1], n, 0.5)
    attention_over_cache_serial(qb, cache[0, 0], cache[0, 1], n, 0.5)
    wt = pack_columns(w)
    _linear_packed_parallel(x, wt, np.empty((2, 12), dtype), numba.get_num_threads())
    linear_rows_packed(x, wt)
    from minplt import decode_step                     # the compiled step (imports model)
    decode_step.warmup(dtype)
    return time.perf_counter() - start
