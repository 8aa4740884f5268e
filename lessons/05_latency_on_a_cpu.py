# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -jupytext.text_representation
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Latency on a CPU: why L rows cost about one
#
# *minplt lessons. The method: "Parallel Loop Transformer for Efficient Test-Time
# Computation Scaling" (arXiv 2510.24824, 2025). Symbols and code names:
# [the notation table](../docs/method.md#1-notation).*
#
# **After this lesson you can**
# - predict how long one read of a weight matrix takes from its bytes and the memory
#   bandwidth, and from how many rows `R` the arithmetic of a product, not the reading,
#   sets its time;
# - measure a bandwidth honestly (data larger than the caches) and tell a measurement
#   that read memory from one that was partly served by a cache;
# - explain why `R` rows are not free in a naive product (one row at a time, NumPy's
#   `@`, a kernel whose partial sums travel through the caches), and how weights
#   packed once and a tiled loop make them nearly free;
# - say what that does to PLT-2's decode step on each backend;
# - read a decode-latency table of vanilla, loop-2 and PLT-2, and split a step's time
#   into the part repeated per pass and the part that is not.
#
# **Prerequisites:** lesson 02 (loop-L runs the shared stack L times per token),
# lesson 03 (the parallel schedule: one pass of L rows per token, `M.prefill` and
# `M.step`); NumPy; roughly what a CPU cache is.
#
# **Time:** about 25 minutes to read and work through; running it takes half a minute
# (idle) to two minutes (loaded by other programs) on a 2-core CPU (full version;
# machines differ), at most about a minute with MINPLT_LECTURE=1 (fewer repeats),
# seconds with MINPLT_FAST=1.
#
# The parallel schedule (lesson 03) replaces `L` one-row passes through the stack with
# one `L`-row pass. That only saves time if an `L`-row pass costs about what a one-row
# pass costs. It does when decoding is limited by **reading the weights** from memory
# rather than by arithmetic: every weight is loaded once and then used for `L`
# multiply-adds instead of one. This notebook measures, on this machine:
#
# 1. memory bandwidth and arithmetic speed, and what they predict for one product;
# 2. a product `(R, C) @ (C, F)` for `R = 1..8` rows, with NumPy's `@` (OpenBLAS)
#    and with `minplt.kernels.linear_rows`, a Numba kernel that streams each weight
#    once for all `R` rows;
# 3. why `R` rows still cost more than one in those products, and the packed, tiled
#    product that the Numba backend's decode step uses, for `R = 1..32`;
# 4. decode ms/token of vanilla, loop-2 and PLT-2 on both backends
#    (`M.prefill(..., backend="numpy" | "numba")` picks how every later `M.step` runs).
#
# All timings are from the run that produced this notebook. They vary by machine (its
# memory system, its caches, its BLAS) and by load (other programs take cores and
# memory bandwidth), so every timing claim below prints whether it held on this run,
# and the ratios, measured side by side, matter more than the absolute values.

# %%
import glob
import itertools
import math
import os
import time

from lesson_setup import FAST, LECTURE, M, claim, must, np, plt, say   # lessons/lesson_setup.py
from minplt import kernels, roofline, timing
from visualizations import charts

REPEATS = 3 if FAST or LECTURE else 7          # repeats of each product timing (best kept)
BUDGET_S = 20 if FAST or LECTURE else 60        # ... but no new repeat after this many seconds
if LECTURE:
    print(f"lecture version: {REPEATS} repeats per product and one decode run of 8 steps per "
          "case instead of 7 and 3 of 16: the same measurements, noisier")

# %%
compile_s = kernels.warmup()              # compile the kernels, or load them from Numba's cache
info = kernels.backend_info()
print(f"Numba kernels ready in {compile_s:.1f} s (first run compiles; later runs load the cache)")
for key in ("cpu", "threads", "threading_layer", "numba", "numpy", "blas"):
    print(f"  {key:16s} {info[key]}")

def busy_cores(seconds=1.0):
    """Cores kept busy by other programs while this notebook sleeps (Linux /proc/stat; else None)."""
    def snapshot():
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:]]
        return sum(ticks), ticks[3] + ticks[4]                  # all ticks, idle + iowait ticks
    try:
        total0, idle0 = snapshot(); time.sleep(seconds); total1, idle1 = snapshot()
    except OSError:
        return None
    return os.cpu_count() * (1 - (idle1 - idle0) / max(total1 - total0, 1))

busy = busy_cores()
if busy is not None:
    print(f"\nother programs keep {busy:.1f} of {os.cpu_count()} cores busy")
    if busy > 0.3:
        print("  threads that must wait for a busy core make the timings below slower and noisier: "
              "rerun on a quiet machine")


# %% [markdown]
# ## 1. Reading versus computing
#
# A product of `R` rows with a float32 weight matrix `(C, F)` reads the matrix once,
# `4 C F` bytes, and does `2 R C F` floating-point operations (a multiply and an add
# per weight and row). With one row that is **half an operation per byte**. So:
#
#     read time    = 4 C F / bandwidth
#     compute time = 2 R C F / FLOP rate
#
# The read time does not depend on `R`; the compute time grows with it. They are
# equal at the **break-even** row count `R* = 2 x FLOP rate / bandwidth`. Below it the
# product waits for memory, and extra rows ride on the same weight reads. That is the
# ideal: it assumes the processor does the arithmetic while the weights stream in.
# Section 3 measures how close a kernel comes, and lesson 08 how far whole steps are from
# it (on a CPU core the two times add up more than they overlap).
#
# A bandwidth is only a memory bandwidth if the data comes from memory. Data that fits
# in the CPU's last-level cache is read much faster the second time, so every array
# timed in this lesson is larger than the last-level cache the operating system reports
# (at least 256 MB; at most 1 GB, which a cache shared by a whole server can exceed:
# then the check in section 2 says whether the data still came from memory).

# %%
def last_level_cache_bytes():
    """The largest CPU cache the operating system reports (Linux sysfs), or None."""
    sizes = []
    for path in glob.glob("/sys/devices/system/cpu/cpu0/cache/index*/size"):
        text = open(path).read().strip()
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        sizes.append(int(text.rstrip("KMG")) * scale)
    return max(sizes, default=None)

llc = last_level_cache_bytes()
if FAST:
    work_bytes = 64 << 20                                   # quick version: small, maybe cached
else:
    work_bytes = min(max(256 << 20, int(1.5 * (llc or 0))), 1 << 30)
print(f"last-level cache reported: {llc / 2**20:.0f} MB" if llc else "last-level cache: not reported")
print(f"every timed array below: {work_bytes >> 20} MB in total")

bandwidth = 1e9 * roofline.measure_bandwidth(work_bytes)              # bytes/s, best of 5 runs
flops = 1e9 * roofline.measure_flop_rate(1024)                        # FLOP/s, best of 5 runs
break_even = 2 * flops / bandwidth
print(f"memory read bandwidth ~ {bandwidth / 1e9:5.1f} GB/s   (the best of a sum and of 1-row "
      f"products over {work_bytes >> 20} MB)")
print(f"arithmetic           ~ {flops / 1e9:5.1f} GFLOP/s (1024^3 matrix product, all threads)")
print(f"break-even R* = 2 x FLOP rate / bandwidth = {break_even:.1f} rows")

# %%
C, F = M.PRESETS["bench"].n_embd, M.PRESETS["bench"].d_ff      # an MLP matrix of the bench model
if FAST:
    F //= 2
predicted_read_ms = 4 * C * F / bandwidth * 1e3
say(f"This machine reads memory at **{bandwidth / 1e9:.1f} GB/s** and computes "
    f"**{flops / 1e9:.0f} GFLOP/s**, so a float32 product waits for its weights until "
    f"about **{break_even:.0f} rows**. One read of a `({C}, {F})` matrix "
    f"({4 * C * F / 1e6:.1f} MB) should take **{predicted_read_ms:.2f} ms**; its one-row "
    f"arithmetic {2 * C * F / flops * 1e3:.3f} ms.")

# %% [markdown]
# ## 2. One product, R = 1..8 rows
#
# Weights the shape of the `bench` preset's MLP matrices, `(C, F)`: a pool of copies
# that fills the working set above. Each timing multiplies the next few matrices of the
# pool, going round it, so a matrix is used again only after the whole pool (larger
# than the last-level cache) has been read since: every product reads its matrix from
# memory, as a decode step does. For each `R` we time `x @ w` and
# `kernels.linear_rows(x, w)` (taking turns, best of several repeats) and report ms per
# product and the ratio to `R = 1`. From `kernels.BLAS_MIN_ROWS` rows on, `linear_rows`
# hands the product to BLAS (marked in the table): its own loop is written for fewer.
#
# The check: a 1-row product that reads its matrix from memory cannot beat the read
# bandwidth. The bandwidth is measured once more after the products (other programs
# may have slowed the first measurement) and the better of the two is the reference.

# %%
rng = np.random.default_rng(0)
w0 = rng.standard_normal((C, F), dtype=np.float32)
must("a (C, F) float32 matrix holds 4 C F bytes", w0.nbytes == 4 * C * F, bytes=w0.nbytes)
pool = [w0.copy() for _ in range(max(2, math.ceil(work_bytes / w0.nbytes)))]
per_timing = min(len(pool) // 2, 8)                    # matrices multiplied per timing
print(f"a pool of {len(pool)} matrices of {C}x{F} ({sum(w.nbytes for w in pool) >> 20} MB); "
      f"each timing takes the next {per_timing}")
round_the_pool = itertools.cycle(pool)

def time_products(impls, xs):
    """Best seconds per product of each of impls {name: (matrices, product(x, w))} at each
    R of xs {R: x}. Every R once per repeat (the 1-row products, the shortest, three times:
    a burst of other work spoils a larger share of them), the products in a new order each
    time (one product's threads, still spinning, slow the next); each timing multiplies
    the next per_timing matrices of its pool, so they come from memory. At most REPEATS
    repeats, and no new one after BUDGET_S seconds, so that a loaded machine does not
    stall the lesson."""
    best = {name: {} for name in impls}
    start, repeats_done = time.perf_counter(), 0
    while repeats_done < REPEATS and (repeats_done < 2 or time.perf_counter() - start < BUDGET_S):
        for R, x in xs.items():
            for _ in range(3 if R == 1 else 1):
                for name in rng.permutation(list(impls)):
                    matrices, product = impls[name]
                    weights = [next(matrices) for _ in range(per_timing)]
                    t = timing.best(lambda: [product(x, w) for w in weights], repeats=1) / per_timing
                    best[name][R] = min(best[name].get(R, np.inf), t)
        repeats_done += 1
    print(f"best of {repeats_done} repeats in {time.perf_counter() - start:.0f} s (at most "
          f"{REPEATS}; no new repeat after {BUDGET_S} s)")
    return best

Rs = list(range(1, 9))
xs = {R: rng.standard_normal((R, C), dtype=np.float32) for R in Rs}
errors = [float(np.max(np.abs(kernels.linear_rows(xs[R], w0) - xs[R] @ w0))) for R in Rs]
must("linear_rows(x, w) equals x @ w for R = 1..8", max(errors) < 1e-3, max_abs_error=max(errors))
product_times = time_products({"numpy @": (round_the_pool, np.matmul),
                               "numba linear_rows": (round_the_pool, kernels.linear_rows)}, xs)
print(f"\n{'R':>2s} " + "".join(f"{name:>28s}" for name in product_times))
for R in Rs:
    blas = "(BLAS)" if R >= kernels.BLAS_MIN_ROWS else "      "
    print(f"{R:2d} " + "".join(f"{1e3 * product_times[n][R]:12.3f} ms  x{product_times[n][R] / product_times[n][1]:5.2f} R=1 "
                               for n in product_times) + blas)
gbs = {n: 4 * C * F / product_times[n][1] / 1e9 for n in product_times}
again = 1e9 * roofline.measure_bandwidth(work_bytes)     # other programs may have slowed the first
print(f"\nread bandwidth measured again: {again / 1e9:.1f} GB/s (before: {bandwidth / 1e9:.1f}); "
      "the better of the two is kept")
best_bandwidth = max(bandwidth, again)
print("bandwidth reached at R = 1: " + ", ".join(f"{n} {v:.1f} GB/s" for n, v in gbs.items())
      + f"  (read bandwidth: {best_bandwidth / 1e9:.1f} GB/s)")
honest = claim("the 1-row products read from memory: neither beats the measured read bandwidth "
               "by more than 10%", max(gbs.values()) <= 1.1 * best_bandwidth / 1e9,
               best_product_gb_per_s=max(gbs.values()), bandwidth_gb_per_s=best_bandwidth / 1e9)
if not honest:
    print("  so part of the weights came from a cache (or the bandwidth measurement was slowed "
          "by other programs): read the R = 1 times as a lower bound of the memory cost")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for name, t in product_times.items():
    axes[0].plot(Rs, [1e3 * t[R] for R in Rs], "o-", label=name)
    axes[1].plot(Rs, [t[R] / t[1] for R in Rs], "o-", label=name)
axes[0].axhline(predicted_read_ms, ls="--", color="grey", label="read time predicted")
axes[1].plot(Rs, Rs, ":", color="grey", label="R x (no reuse)")
axes[0].set(xlabel="rows R", ylabel="ms per product", title=f"(R,{C}) @ ({C},{F}), float32")
axes[1].set(xlabel="rows R", ylabel="time / time at R=1", title="cost of R rows relative to one")
for ax in axes:
    ax.grid(alpha=0.3); ax.legend(fontsize=8); ax.set_xticks(Rs)
plt.show()

# %%
nb, npy = product_times["numba linear_rows"], product_times["numpy @"]
claim("linear_rows: 2 rows cost at most 1.5x one row", nb[2] / nb[1] <= 1.5, ratio=nb[2] / nb[1])
claim("linear_rows: 4 rows cost at most half of four 1-row products", nb[4] / nb[1] <= 2,
      ratio=nb[4] / nb[1])
numpy_2_rows_dear = claim("NumPy's @: 2 rows cost more than two 1-row products",
                          npy[2] / npy[1] > 2, ratio=npy[2] / npy[1])

# %% [markdown]
# OpenBLAS's `@` is built for large products. On one row it runs a matrix-vector
# product, which streams the weights once. From two rows on it runs its matrix-matrix
# code, built for large products: it typically copies blocks of the weight matrix into
# a packed buffer and shares the work out among its threads before it multiplies, work
# that a large product spreads over many rows and a product of two rows does not (and
# its threads suffer most when other programs hold the cores). `linear_rows` is written for
# exactly this shape: each thread streams a contiguous block of weight rows once for all
# `R` rows, so the weights come from memory once whatever `R` is. Section 3 shows why
# that is not yet enough, and what is.
#
# ## 3. Packing and tiling: `R` rows on one read of the weights
#
# Section 1 says what `R` rows should cost: one read of the weights, until the
# arithmetic catches up at the break-even `R*`. A product that misses this is doing
# extra work that a read of the weights does not need. Three naive ways to multiply `R`
# rows do, each in its own way:
#
# - **Row by row**, `x[r] @ w` for each row: every row reads all of `w` again, so `R`
#   rows cost `R` reads. (When `w` fits in a cache, the later reads come from there and
#   cost less than the first, but each is still a whole pass over `4 C F` bytes.)
# - **NumPy's `@` on `R` rows** (OpenBLAS's general product): built for large products,
#   it copies blocks of `w` into a buffer laid out for its inner loop on every call,
#   a second pass over the weights that a handful of rows cannot pay back.
# - **`kernels.linear_rows`** (section 2) reads `w` once, one row of `w` after another,
#   and keeps `R` rows of `F` partial sums. Those outgrow the first-level cache after a
#   few rows (the cell below prints where), and from then on the partial sums travel to
#   and from a slower cache for every few rows of `w`: the product slows with `R` long
#   before the arithmetic would limit it.
#
# **Packing: each output column's weights in one piece.** Copy `w` once, when the
# weights are loaded, transposed (`kernels.pack_columns(w)`, shape `(F, C)`): row `n` of
# the packed matrix `wt` holds the `C` weights of output column `n`, one after another.
#
#     w (C, F), row-major                  packed: wt (F, C) = w transposed
#
#              col 0  col 1  col 2 ...     wt[0]: w[0,0], w[1,0], ..., w[C-1,0]   (column 0)
#     row 0     [ a     b      c    ...]   wt[1]: w[0,1], w[1,1], ..., w[C-1,1]   (column 1)
#     row 1     [ a     b      c    ...]   ...
#     ...                                  wt[F-1]: column F-1; the rows one forward stream
#
# Then `out[r, n] = x[r] . wt[n]` is a dot product of two contiguous rows, and a dot
# product adds into one number, which the compiler keeps in a vector register for the
# whole row: nothing goes back to memory until the sum is done. (`linear_rows` adds
# every row of `w` into `F` partial sums that live in memory, loaded and stored again for
# every few rows of `w`: that traffic is what slows it.) The threads take contiguous
# blocks of columns: each reads one forward stream of `wt` and writes its own outputs.
#
# **Tiling: every weight loaded is used by two rows, every value of `x` by four
# columns.** The loop takes four columns and two rows of `x` at a time, eight dot
# products side by side; at each `c`, four weights and two values of `x` are loaded and
# feed 8 multiply-adds into 8 sums held in registers:
#
#                 wt[n,c]  wt[n+1,c]  wt[n+2,c]  wt[n+3,c]    <- 4 weights, loaded once
#     x[r,   c] ->   *         *          *          *        -> sums a0 a1 a2 a3
#     x[r+1, c] ->   *         *          *          *        -> sums b0 b1 b2 b3
#
# With more rows, the pairs take turns over the same four rows of `wt` (4 x C values,
# 16 KB at C = 1024), which by then are in the first-level cache: every weight comes
# from memory once, whatever `R` is. It is the tile of minplt's attention kernel
# (`kernels._head_scores`), with the weights in the place of the keys. `docs/kernels.md`
# describes the design and what was measured when it was built.
#
# The Numba backend's decode step (section 4) packs every weight matrix of the model
# once, at a cache's first step, and multiplies with `kernels.linear_packed`. Here we
# call its entry point for tests, `kernels.linear_rows_packed(x, wt)`, on a pool of
# packed copies as large as section 2's, so that every product reads its weights from
# memory, and time it against the two naive products for `R = 1, 2, 4, 8, 16, 32`.
# The table gives each time in ms and in reads of the weights (the fastest one read of
# the matrix seen on this run), beside the least time section 1 predicts,
# max(one read, arithmetic). Other programs on the machine slow some timings more than
# others; the claims after the figure print their numbers when they do not hold.

# %%
def l1_data_cache_bytes():
    """The first-level data cache the operating system reports (Linux sysfs), or None."""
    for index in sorted(glob.glob("/sys/devices/system/cpu/cpu0/cache/index*")):
        try:
            level, kind = (open(f"{index}/{f}").read().strip() for f in ("level", "type"))
            text = open(f"{index}/size").read().strip()
        except OSError:
            continue
        if level == "1" and kind in ("Data", "Unified"):
            return int(text.rstrip("KMG")) * {"K": 1 << 10, "M": 1 << 20}.get(text[-1:], 1)
    return None

wt0 = kernels.pack_columns(w0)
must("pack_columns: row n of the packed matrix holds column n of w, contiguous",
     wt0.shape == (F, C) and wt0.flags.c_contiguous and np.array_equal(wt0, w0.T),
     shape=wt0.shape)
packed_Rs = [1, 2, 4, 8, 16, 32]
packed_xs = {R: rng.standard_normal((R, C), dtype=np.float32) for R in packed_Rs}
errors = [float(np.max(np.abs(kernels.linear_rows_packed(packed_xs[R], wt0) - packed_xs[R] @ w0)))
          for R in packed_Rs]
must("linear_rows_packed(x, pack_columns(w)) equals x @ w to float32 rounding, R = 1..32",
     max(errors) < 1e-3, max_abs_error=max(errors))
l1 = l1_data_cache_bytes()
print(f"first-level data cache reported: {l1 >> 10} KB" if l1 else "first-level data cache: not reported")
print(f"partial sums of linear_rows: R x {4 * F / 1024:.1f} KB (R rows of F = {F} floats)"
      + (f": past the first-level cache from R = {l1 // (4 * F) + 1}" if l1 else ""))
print(f"the packed product: 8 sums in registers per tile of 2 rows x 4 columns; the four "
      f"rows of wt in use: {4 * 4 * C >> 10} KB")
packed_pool = [wt0.copy() for _ in pool]                 # as large as section 2's pool
print(f"a pool of {len(packed_pool)} packed matrices ({sum(w.nbytes for w in packed_pool) >> 20} MB)")

# %%
round_the_packed = itertools.cycle(packed_pool)
packed_impls = {"row by row": (round_the_pool, lambda x, w: np.stack([x_r @ w for x_r in x])),
                "numpy @": (round_the_pool, np.matmul),
                "packed": (round_the_packed, kernels.linear_rows_packed)}
packed_times = time_products(packed_impls, packed_xs)       # as in section 2
# One read of the matrix: the fastest this run read it once, by the bandwidth of
# section 1-2 or by any 1-row product (section 2's pool may sit partly in a cache).
one_row_times = [t[1] for t in (*product_times.values(), *packed_times.values())]
one_read = min(4 * C * F / best_bandwidth, *one_row_times)
arithmetic = {R: 2 * R * C * F / flops for R in packed_Rs}          # at section 1's FLOP rate
floor = {R: max(one_read, arithmetic[R]) for R in packed_Rs}
print(f"one read of the {C}x{F} matrix: {1e3 * one_read:.3f} ms (the fastest on this run: "
      f"{1e3 * 4 * C * F / best_bandwidth:.3f} ms at {best_bandwidth / 1e9:.1f} GB/s, the best "
      f"1-row product {1e3 * min(one_row_times):.3f} ms)\n")
print(f"{'R':>3s}" + "".join(f"{name:>24s}" for name in packed_impls) + f"{'max(read, arithmetic)':>24s}"
      + f"{'packed / its R=1':>18s}")
for R in packed_Rs:
    print(f"{R:3d}" + "".join(f"{1e3 * packed_times[n][R]:10.3f} ms  x{packed_times[n][R] / one_read:5.1f} read"
                             for n in packed_impls)
          + f"{1e3 * floor[R]:10.3f} ms  x{floor[R] / one_read:5.1f} read"
          + f"{packed_times['packed'][R] / packed_times['packed'][1]:17.2f}x")

# %%
from matplotlib.ticker import FormatStrFormatter

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
for name, t in packed_times.items():
    axes[0].plot(packed_Rs, [1e3 * t[R] for R in packed_Rs], "o-", label=name)
    axes[1].plot(packed_Rs, [t[R] / one_read for R in packed_Rs], "o-", label=name)
axes[0].plot(packed_Rs, [1e3 * floor[R] for R in packed_Rs], "--", color="grey",
             label="max(one read, arithmetic)")
axes[1].plot(packed_Rs, [floor[R] / one_read for R in packed_Rs], "--", color="grey",
             label="max(one read, arithmetic)")
axes[1].plot(packed_Rs, packed_Rs, ":", color="grey", label="R reads")
axes[0].set(xlabel="rows R", ylabel="ms per product", yscale="log",
            title=f"(R,{C}) @ ({C},{F}), float32, from memory")
axes[1].set(xlabel="rows R", ylabel="time / one read of w", yscale="log",
            title="cost of R rows in reads of the weights")
for ax in axes:
    ax.set_xscale("log", base=2); ax.set_xticks(packed_Rs, [str(R) for R in packed_Rs])
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax.tick_params(axis="y", which="minor", labelsize=7)
    ax.grid(alpha=0.3, which="both"); ax.legend(fontsize=8)
plt.show()

# %%
pk, rbr, mm = packed_times["packed"], packed_times["row by row"], packed_times["numpy @"]
claim("packed: 8 rows cost at most 2.5x its one row", pk[8] / pk[1] <= 2.5, ratio=pk[8] / pk[1])
claim("packed: 32 rows cost at most 8x its one row (32 separate rows: 32x)", pk[32] / pk[1] <= 8,
      ratio=pk[32] / pk[1])
claim("packed is faster than NumPy's @ at R = 2 and 4, and at most 1.1x it at R = 8",
      pk[2] < mm[2] and pk[4] < mm[4] and pk[8] <= 1.1 * mm[8],
      **{f"packed_over_numpy_R{R}": pk[R] / mm[R] for R in (2, 4, 8)})
claim("row by row: 32 rows cost at least 8x one row (each row reads all of w again)",
      rbr[32] / rbr[1] >= 8, ratio=rbr[32] / rbr[1])
del packed_pool, round_the_packed, packed_impls              # free the packed copies
row_by_row_ahead = [R for R in packed_Rs if rbr[R] < pk[R]]
upto = next((R for R in packed_Rs if R not in row_by_row_ahead), None)      # first R it lost
slow_one_row = pk[1] > 1.2 * min(nb[1], mm[1])
say(f"""On this run:

- **`R` rows against one.** The packed product's 8 rows cost **x{pk[8] / pk[1]:.2f}** its one
  row and its 32 rows **x{pk[32] / pk[1]:.2f}**; row by row, 8 rows cost x{rbr[8] / rbr[1]:.2f}
  and 32 rows x{rbr[32] / rbr[1]:.2f}. NumPy's `@` took {mm[2] / pk[2]:.1f}, {mm[4] / pk[4]:.1f}
  and {mm[8] / pk[8]:.1f} times as long as the packed product at 2, 4 and 8 rows.
- **In reads of the weights** the packed product went from x{pk[1] / one_read:.1f} at one row
  to x{pk[32] / one_read:.1f} at 32, against x{floor[32] / one_read:.1f} for max(read,
  arithmetic) at section 1's FLOP rate.
- **One row.** The packed product's took {1e3 * pk[1]:.2f} ms, `linear_rows`'s
  {1e3 * nb[1]:.2f} ms (section 2) and `@`'s {1e3 * mm[1]:.2f} ms{'' if not slow_one_row else
  ': a product whose one row is slow looks good in ratios to that one row, which is why '
  'the table also gives every time in reads of the weights'}.{'' if not row_by_row_ahead or
  row_by_row_ahead[0] != 1 else f' Row by row, whose rows are OpenBLAS one-row products, was '
  f'the faster below R = {upto}.' if upto else ' Row by row, whose rows are OpenBLAS one-row '
  'products, was the faster at every R.'}
- **32 rows.** The packed product did {2 * 32 * C * F / pk[32] / 1e9:.0f} GFLOP/s against
  {flops / 1e9:.0f} GFLOP/s for section 1's BLAS product{', so there its own arithmetic, not the '
  'read, set its time' if pk[32] > 2 * one_read else ''}{f"; NumPy's `@`, whose blocked product "
  f"pays back its copy of the weights over many rows, was the faster ({1e3 * mm[32]:.2f} ms "
  f"against {1e3 * pk[32]:.2f} ms)" if mm[32] < pk[32] else ''}.
""")

# %% [markdown]
# ## 4. Decode latency: vanilla, loop-2, PLT-2 on both backends
#
# Now whole decode steps, timed by `minplt.bench` (the code behind
# `python -m minplt bench`): the `bench` preset (several hundred MB of float32
# weights per step, printed below; smaller in the quick version), a 256-token prompt
# prefilled, then `M.step` timed token by token (median). Loop-2 must use the
# sequential schedule (two passes per token); PLT-2 uses the parallel one (one pass
# with two rows) and is also timed sequentially for comparison. `weight GB/s` is the
# weight bytes a step reads divided by its time; `% 1-row` compares it with a bare
# one-row product over the same matrices (`@` for NumPy, section 3's packed product
# for Numba: the product the compiled step runs), about the best a memory-bound step can
# do.
#
# The two backends run the same model and the same schedules in different ways:
#
# - **numpy**: `model.py`'s readable definition of a step, one NumPy call per
#   operation (each product an `@`, as in sections 2 and 3);
# - **numba**: the whole step, every layer of every loop, all its rows, the attention
#   of every family and the output head, is **one compiled call**
#   (`minplt/decode_step.py`), whose products are section 3's packed ones. The weights
#   are packed once, at a cache's first step, and kept with the cache; the Python around
#   the call only checks the tokens and that the packed weights still match the
#   parameters. `tests/test_decode_step.py` checks that it gives the NumPy step's logits.

# %%
import dataclasses

from minplt import bench
if FAST:
    small_model = dataclasses.replace(bench.BIG.config, n_embd=512, d_ff=1408, n_head=8, n_layer=2)
    size = bench.Size(small_model, prompt=32, new_tokens=6, repeats=1)
else:
    size = dataclasses.replace(bench.BIG, prompt=256, new_tokens=8 if LECTURE else 16,
                               repeats=1 if LECTURE else 3)
c = size.config
print(f"model: C {c.n_embd}, F {c.d_ff}, {c.n_layer} layers, {c.n_head} heads, vocab "
      f"{c.vocab_size}; prompt {size.prompt}, {size.new_tokens} new tokens x {size.repeats} runs")
decode_rows, one_row = bench.decode_section(size, ["vanilla", "loop-2", "plt-2"], ["plt-2"],
                                             ["numpy", "numba"], seed=0, log=lambda line: None)
print(bench.decode_table(decode_rows, one_row, bench.ratios(decode_rows, one_row)))

# %%
def row(variant, schedule_name, backend):
    return next(r for r in decode_rows
                if r["variant"] == variant and r["schedule"] == schedule_name and r["backend"] == backend)

def ms(variant, schedule_name, backend):
    return row(variant, schedule_name, backend)["ms_per_token"]

must("every KV cache holds the bytes of the memory table (docs/method.md §8)",
     all(r["kv_bytes"] == r["kv_bytes_formula"] for r in decode_rows))
vanilla_mb = row("vanilla", "sequential", "numba")["weight_bytes_per_token"] / 1e6
loop2_mb = row("loop-2", "sequential", "numba")["weight_bytes_per_token"] / 1e6
plt2_mb = row("plt-2", "parallel", "numba")["weight_bytes_per_token"] / 1e6
head_mb = 4 * c.n_embd * c.vocab_size / 1e6
must("loop-2's step reads the stack twice (its weight bytes are twice vanilla's, less one head)",
     math.isclose(loop2_mb, 2 * vanilla_mb - head_mb), vanilla_MB=vanilla_mb, loop2_MB=loop2_mb)
must("PLT-2's parallel step reads the stack once (vanilla's bytes plus the small G-SWA gate)",
     vanilla_mb < plt2_mb < 1.01 * vanilla_mb, vanilla_MB=vanilla_mb, plt2_MB=plt2_mb);

# %%
shown = {"machine": {"cpu": info["cpu"], "threads": info["threads"], "numpy": info["numpy"], "numba": info["numba"]},
         "decode": [r for r in decode_rows if not (r["variant"] == "plt-2" and r["schedule"] == "sequential")],
         "config": {"repeats": size.repeats}}
charts.plot_latency(shown)


# %% [markdown]
# ## 5. What the numbers say
#
# The cell below reads the measurements above, checks the lesson's claims against
# them, and works out two things the table does not show directly: why PLT-2 on the
# NumPy backend can be *slower* than loop-2, and how a Numba step splits into the part
# repeated per pass and the part that is not.

# %%
ratio = {}
for backend in ("numpy", "numba"):
    v = ms("vanilla", "sequential", backend)
    ratio[backend] = {"loop2": ms("loop-2", "sequential", backend) / v,
                      "plt2": ms("plt-2", "parallel", backend) / v,
                      "plt2_seq": ms("plt-2", "sequential", backend) / v}
    ratio[backend]["plt2/loop2"] = ratio[backend]["plt2"] / ratio[backend]["loop2"]
    print(f"{backend}: loop-2 x{ratio[backend]['loop2']:.2f} vanilla, PLT-2 parallel "
          f"x{ratio[backend]['plt2']:.2f}, PLT-2 sequential x{ratio[backend]['plt2_seq']:.2f}; "
          f"PLT-2 / loop-2 = {ratio[backend]['plt2/loop2']:.2f}")
print()
nb_r = ratio["numba"]
claim("numba: PLT-2's parallel step costs at most 1.15x vanilla's", nb_r["plt2"] <= 1.15,
      plt2_over_vanilla=nb_r["plt2"])
claim("numba: PLT-2's parallel step costs at most 0.75x loop-2's", nb_r["plt2/loop2"] <= 0.75,
      plt2_over_loop2=nb_r["plt2/loop2"])
agree = claim("on NumPy, PLT-2 is slower than loop-2 exactly when a 2-row @ costs more than two "
              "1-row ones", (ratio["numpy"]["plt2/loop2"] > 1) == (npy[2] / npy[1] > 2),
              numpy_plt2_over_loop2=ratio["numpy"]["plt2/loop2"], numpy_2row_over_1row=npy[2] / npy[1])

# Loop-2's step = vanilla's step + one more pass. If both passes cost the same p and the
# step has a part f that is not repeated per pass (head, embedding, the Python around the
# compiled call, waking the threads after the pause between steps): vanilla = f + p, loop-2 = f + 2p.
v_nb, l_nb = ms("vanilla", "sequential", "numba"), ms("loop-2", "sequential", "numba")
per_pass, per_step = l_nb - v_nb, 2 * v_nb - l_nb
gbps = {name: row(name, "sequential", "numba")["weight_gb_per_s"] for name in ("vanilla", "loop-2")}
print(f"\nnumba: one more pass costs {per_pass:.2f} ms; the part of a step not repeated per pass "
      f"{per_step:.2f} ms")
print(f"numba: weight bandwidth of vanilla's step {gbps['vanilla']:.1f} GB/s, of loop-2's "
      f"{gbps['loop-2']:.1f} GB/s (1-row products alone: {one_row['numba_1row_gb_per_s']:.1f} GB/s)")
loop2_two_passes = claim("numba: loop-2 costs about twice vanilla (1.8x to 2.2x): its two passes "
                         "are nearly all of its step", 1.8 <= nb_r["loop2"] <= 2.2,
                         loop2_over_vanilla=nb_r["loop2"])

# The compiled step against NumPy's, read with section 3's products of 1 and 2 rows.
v_np, p_nb, p_np = ms("vanilla", "sequential", "numpy"), ms("plt-2", "parallel", "numba"), \
    ms("plt-2", "parallel", "numpy")
say(f"**The compiled step on this run.** Vanilla's step took **{v_nb:.1f} ms** on Numba and "
    f"{v_np:.1f} ms on NumPy. A vanilla step is almost all one-row products, and at one row "
    f"section 3 measured NumPy's `@` at {1e3 * mm[1]:.2f} ms and the packed product at "
    f"{1e3 * pk[1]:.2f} ms" + ((": OpenBLAS's one-row product read the weights faster, and the "
    "NumPy backend's vanilla step came within 10% of the compiled one or beat it" if v_np <= 1.1 * v_nb
    else ": OpenBLAS's one-row product read the weights faster, yet the compiled step was faster "
    "by more than 10% on this run: a step is more than its products, and the NumPy step makes "
    "one Python-level call per operation")
    if mm[1] < pk[1] else ": the packed product was the faster one on this run")
    + f". PLT-2's parallel step took "
    f"**{p_nb:.1f} ms** on Numba and {p_np:.1f} ms on NumPy"
    + (" (Numba the faster)" if p_nb < p_np else " (Numba not the faster on this run)")
    + f": its products have two rows, which cost x{pk[2] / pk[1]:.2f} one row with the packed "
    f"product in section 3 and x{mm[2] / mm[1]:.2f} with NumPy's `@`. The part of a Numba step "
    f"not repeated per pass came out at {per_step:.2f} ms of {v_nb:.1f} ({per_step / v_nb:.0%}): "
    + ("with the whole step one compiled call, little besides the passes is left, so loop-2 "
       "costs close to twice vanilla." if 0 <= per_step <= 0.15 * v_nb else
       "negative, which only a disturbance of one case by other programs can give." if per_step < 0
       else "a sizeable part, or one case disturbed by other programs more than the other."))
busy_end = busy_cores()
if busy_end is not None:
    print(f"\n(other programs kept {busy:.1f} cores busy before the measurements, {busy_end:.1f} after)")

# %% [markdown]
# Two things to take from this cell.
#
# **The backend decides whether PLT-2 pays off.** The model, its weights and its two
# rows per step are the same on both backends; what differs is how a step runs, above
# all its products. The Numba backend's compiled step runs section 3's packed products,
# where 2 rows cost little more than one, so PLT-2's single 2-row pass costs about one
# of loop-2's two 1-row passes. On the NumPy backend, where
# a 2-row `@` costs more than two 1-row products (section 2 checks it on this run),
# PLT-2's one 2-row pass pays more for its products than loop-2's two 1-row passes, but
# pays only once for the rest of a pass, which on NumPy is one Python-level call per
# operation. Which of the two wins on NumPy depends on that split: the claim above checks
# whether the products alone predicted the direction on this run. The parallel schedule
# saves reads; a product that does not turn saved reads into saved time saves nothing.
#
# **How a step splits.** Loop-2's step is vanilla's plus one more pass. A step also
# pays for things that are not repeated per pass: the output head and the token's
# embedding, the Python around each step's compiled call (its checks of the tokens and
# of the packed weights), and the first products after the pause between two steps,
# whose threads must be woken. Loop-2 shares these over its two passes: where they are
# large, loop-2 costs clearly less than twice vanilla and reads its weights faster. With the whole step one compiled
# call and a small vocabulary, they are small, and loop-2 costs about twice vanilla;
# the cell splits this run's times into the two parts. The split is the difference of
# two noisy times: a burst of other work during one case moves it, and can even make
# it negative.

# %% [markdown]
# ## Exercises
#
# Work them in order; each check tells you whether you are right. Worked solutions:
# [solutions/ex05.py](solutions/ex05.py) (try first).
#
# **1. Predict the time of one weight read.** A machine reads memory at 20 GB/s (1 GB =
# 10^9 bytes). How many milliseconds does one read of a float32 `(1024, 2816)` matrix
# take? Compute it by hand, then compare with your machine's prediction in section 1.

# %%
from exercises.ex05 import check_read_ms
check_read_ms(None)          # replace None with your number of milliseconds, then run

# %% [markdown]
# **2. The break-even row count.** A machine reads 25 GB/s and computes 300 GFLOP/s.
# At how many rows `R` does a float32 product's arithmetic take exactly as long as
# reading its weights? Then change one thing: with bfloat16 weights (2 bytes each,
# same FLOP rate), does the break-even move up or down? (The check asks for the float32
# number; the solution discusses bfloat16.)

# %%
from exercises.ex05 import check_break_even
check_break_even(None)       # replace None with R, then run

# %% [markdown]
# **3. The weight bytes of a decode step.** Implement `weight_read_ms(cfg, schedule,
# gb_per_s)`: the milliseconds one batch-1 decode step needs just to read its weights
# at `gb_per_s`. Every pass through the stack reads `wq, wk, wv, wo` `(C, C)`, `w1,
# w3` `(C, F)` and `w2` `(F, C)` of every layer (ignore the small G-SWA gate); the
# sequential schedule makes `L = cfg.n_loops` passes, the parallel one pass; the output
# head `lm_head` `(C, V)` is read once per step. Use `cfg.n_embd, cfg.d_ff,
# cfg.n_layer, cfg.vocab_size`. The check compares your function with
# `minplt.roofline` for vanilla, loop-2, PLT-2 and PLT-3.

# %%
from exercises.ex05 import check_weight_read_ms

def weight_read_ms(cfg, schedule, gb_per_s):
    ...                      # your code: bytes of one step's weights / bandwidth, in ms

check_weight_read_ms(None)   # replace None with weight_read_ms, then run

# %% [markdown]
# **4. Predict the time of `R` rows from one weight read.** Implement `product_ms(R, C,
# F, gb_per_s, gflop_per_s)`: the least time in ms that a float32 product `(R, C) @ (C,
# F)` can take on a machine that reads `gb_per_s` and computes `gflop_per_s`, for a
# kernel that reads every weight once and computes on one block of weights while the
# next streams in (so reading and arithmetic overlap). The check tries several `R` and machines.
# When it passes, the cell prints your prediction for this machine (section 1's
# bandwidth and FLOP rate) beside section 3's packed product: at which `R` is the
# packed product closest to the bound, and where does it fall furthest behind?

# %%
from exercises.ex05 import check_product_ms

def product_ms(R, C, F, gb_per_s, gflop_per_s):
    ...                      # your code: the larger of one read of w and the arithmetic

if check_product_ms(None):   # replace None with product_ms, then run
    for R in packed_Rs:
        print(f"R = {R:2d}: predicted {product_ms(R, C, F, best_bandwidth / 1e9, flops / 1e9):7.3f} ms, "
              f"packed product measured {1e3 * pk[R]:7.3f} ms")

# %% [markdown]
# ## Summary

# %%
say(f"""
* A product reads its weights once and does `2 R` FLOPs per weight, half an operation per
  byte at one row. This machine read **{bandwidth / 1e9:.1f} GB/s** and computed
  **{flops / 1e9:.0f} GFLOP/s** on this run, which puts the break-even at about
  **{break_even:.0f} rows**{': a decode step with one or two rows waits for its weights' if break_even > 2 else ''}.
* A bandwidth measured on data that fits in a cache is not a memory bandwidth: the
  arrays here were {work_bytes >> 20} MB, {'larger' if llc and work_bytes > llc else 'not larger'} than the last-level cache reported, and
  the 1-row products reached {max(gbs.values()):.1f} GB/s against {best_bandwidth / 1e9:.1f}
  GB/s measured ({'consistent: they read from memory' if honest else 'above it: partly cached, or the measurement was disturbed'}).
* `kernels.linear_rows` reads each weight once for all rows; on this run 2 rows cost
  x{nb[2] / nb[1]:.2f} one row and 4 rows x{nb[4] / nb[1]:.2f} (the claims in section 2 say
  whether that was close to one row's cost). NumPy's `@` cost x{npy[2] / npy[1]:.2f} for 2
  rows and x{npy[4] / npy[1]:.2f} for 4.
* Row by row, `R` rows read the weights `R` times (32 rows cost x{rbr[32] / rbr[1]:.1f} one row
  on this run). With the weights packed once, transposed, and a loop that uses every
  loaded weight for two rows and every value of `x` for four columns, with its sums in
  registers, `R` rows share one read of the weights and what grows with `R` is the
  arithmetic: x{pk[8] / pk[1]:.2f} one row at 8 rows, x{pk[32] / pk[1]:.2f} at 32.
* On the Numba backend PLT-2's one 2-row pass cost x{nb_r['plt2']:.2f} vanilla per token
  and loop-2's two passes x{nb_r['loop2']:.2f}, so PLT-2 took {nb_r['plt2/loop2']:.2f} of
  loop-2's time (the paper reports 0.53 at batch 32 on GPUs; lesson 08 shows where the
  batch changes the picture). {'Loop-2 cost about two passes: little of a compiled step is outside the passes.' if loop2_two_passes else 'Loop-2 was further from 2x than two passes would make it (other programs can slow one case more than another).'}
* On the NumPy backend PLT-2 cost {ratio['numpy']['plt2/loop2']:.2f} of loop-2's time:
  {'slower than loop-2, because a 2-row `@` costs more than two 1-row products' if ratio['numpy']['plt2/loop2'] > 1 else 'not slower than loop-2 on this run'}. The
  parallel schedule saves time only with a product that turns saved reads into saved time.
* Timings vary with the machine and its load (other programs keep cores and memory busy);
  the claims above say which held on this run.
""")
