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
# - explain why `kernels.linear_rows` makes `R` rows cost little more than one while
#   NumPy's `@` does not, and what that does to PLT-2's decode step on each backend;
# - read a decode-latency table of vanilla, loop-2 and PLT-2, including why loop-2
#   comes out below twice vanilla.
#
# **Prerequisites:** lesson 02 (loop-L runs the shared stack L times per token),
# lesson 03 (the parallel schedule: one pass of L rows per token, `M.prefill` and
# `M.step`); NumPy; roughly what a CPU cache is.
#
# **Time:** about 20 minutes to read and work through; running it takes about 3
# minutes on a 2-core CPU (full version; machines and load differ), one to two minutes
# with MINPLT_LECTURE=1 (fewer repeats), seconds with MINPLT_FAST=1.
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
# 3. decode ms/token of vanilla, loop-2 and PLT-2 on both backends
#    (`M.prefill(..., backend="numpy" | "numba")` picks the row operations every
#    later `M.step` uses).
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
# product waits for memory, and extra rows ride on the same weight reads.
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
print(f"memory read bandwidth ~ {bandwidth / 1e9:5.1f} GB/s   (a sum, and a 1-row product, over "
      f"{work_bytes >> 20} MB)")
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
# `kernels.linear_rows(x, w)` (interleaved, best of several repeats) and report ms per
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

Rs = list(range(1, 9))
xs = {R: rng.standard_normal((R, C), dtype=np.float32) for R in Rs}
errors = [float(np.max(np.abs(kernels.linear_rows(xs[R], w0) - xs[R] @ w0))) for R in Rs]
must("linear_rows(x, w) equals x @ w for R = 1..8", max(errors) < 1e-3, max_abs_error=max(errors))
product_times = {"numpy @": {}, "numba linear_rows": {}}
start, repeats_done = time.perf_counter(), 0
while repeats_done < REPEATS and (repeats_done < 2 or time.perf_counter() - start < BUDGET_S):
    for R in Rs:                                  # every R once per repeat; interleave the two
        x = xs[R]
        for name, product in (("numpy @", np.matmul), ("numba linear_rows", kernels.linear_rows)):
            weights = [next(round_the_pool) for _ in range(per_timing)]
            t = timing.best(lambda: [product(x, w) for w in weights], repeats=1) / per_timing
            product_times[name][R] = min(product_times[name].get(R, np.inf), t)  # keep the best
    repeats_done += 1
print(f"best of {repeats_done} repeats in {time.perf_counter() - start:.0f} s (at most {REPEATS}; "
      f"no new repeat after {BUDGET_S} s, so that a loaded machine does not stall the lesson)")
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
# exactly this shape: each thread streams a contiguous block of weight rows and keeps
# the `R` partial sums in the fastest cache, so the weights are read once whatever `R`
# is (see the comments in `minplt/kernels.py`).
#
# ## 3. Decode latency: vanilla, loop-2, PLT-2 on both backends
#
# Now whole decode steps, timed by `minplt.bench` (the code behind
# `python -m minplt bench`): the `bench` preset (several hundred MB of float32
# weights per step, printed below; smaller in the quick version), a 256-token prompt
# prefilled, then `M.step` timed token by token (median). Loop-2 must use the
# sequential schedule (two passes per token); PLT-2 uses the parallel one (one pass
# with two rows) and is also timed sequentially for comparison. `weight GB/s` is the
# weight bytes a step reads divided by its time; `% 1-row` compares it with a bare
# one-row product over the same matrices, the best a memory-bound step can do.

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
# ## 4. What the numbers say
#
# The cell below reads the measurements above, checks the lesson's claims against
# them, and works out two things the table does not show directly: why PLT-2 on the
# NumPy backend can be *slower* than loop-2, and why loop-2 can cost less than twice
# vanilla.

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
# step has a part f that is not repeated per pass (head, embedding, Python, waking the
# threads after the pause between steps): vanilla = f + p, loop-2 = f + 2p.
v_nb, l_nb = ms("vanilla", "sequential", "numba"), ms("loop-2", "sequential", "numba")
per_pass, per_step = l_nb - v_nb, 2 * v_nb - l_nb
gbps = {name: row(name, "sequential", "numba")["weight_gb_per_s"] for name in ("vanilla", "loop-2")}
print(f"\nnumba: one more pass costs {per_pass:.2f} ms; the part of a step not repeated per pass "
      f"{per_step:.2f} ms")
print(f"numba: weight bandwidth of vanilla's step {gbps['vanilla']:.1f} GB/s, of loop-2's "
      f"{gbps['loop-2']:.1f} GB/s (1-row products alone: {one_row['numba_1row_gb_per_s']:.1f} GB/s)")
loop2_below_2 = claim("numba: loop-2 costs less than twice vanilla (part of a step is not "
                      "repeated per pass)", nb_r["loop2"] < 2, loop2_over_vanilla=nb_r["loop2"])
loop2_reads_faster = claim("numba: loop-2's step reads its weights faster than vanilla's (it "
                           "shares that part over two passes)", gbps["loop-2"] > gbps["vanilla"],
                           loop2_gb_per_s=gbps["loop-2"], vanilla_gb_per_s=gbps["vanilla"])
busy_end = busy_cores()
if busy_end is not None:
    print(f"\n(other programs kept {busy:.1f} cores busy before the measurements, {busy_end:.1f} after)")

# %% [markdown]
# Two things to take from this cell.
#
# **The backend decides whether PLT-2 pays off.** The model, its weights and its two
# rows per step are the same on both backends; only the row products differ. On the
# Numba backend a 2-row product costs little more than a 1-row one, so PLT-2's single
# 2-row pass costs about one of loop-2's two 1-row passes. On the NumPy backend, where
# a 2-row `@` costs more than two 1-row products (section 2 checks it on this run), one
# 2-row pass is dearer than two 1-row passes, and PLT-2 loses to loop-2 (the claim
# above checks that the product and the decode measurements agree in direction). The parallel schedule saves reads;
# a product that does not turn saved reads into saved time saves nothing.
#
# **Why loop-2 can cost less than twice vanilla.** Its extra pass can cost less than a
# whole vanilla step, because a step also pays for things that are not repeated per
# pass: the output head and the token's embedding, the Python between steps, and the
# first kernels after the pause between two steps, whose threads must be woken. Loop-2
# shares these over two passes, and then its weight bandwidth in the table is higher
# than vanilla's. The last two claims say whether that happened on this run; the cell
# splits this run's times into the two parts. How large the shared part is depends on
# the machine and its load (a burst of other work during one case can even make loop-2
# cost more than twice vanilla).

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
* On the Numba backend PLT-2's one 2-row pass cost x{nb_r['plt2']:.2f} vanilla per token
  and loop-2's two passes x{nb_r['loop2']:.2f}, so PLT-2 took {nb_r['plt2/loop2']:.2f} of
  loop-2's time (the paper reports 0.53 at batch 32 on GPUs; lesson 08 shows where the
  batch changes the picture). {'Loop-2 stayed below 2x: part of a step is not repeated per pass.' if loop2_below_2 else 'Loop-2 did not stay below 2x on this run (other programs can slow one case more than another).'}
* On the NumPy backend PLT-2 cost {ratio['numpy']['plt2/loop2']:.2f} of loop-2's time:
  {'slower than loop-2, because a 2-row `@` costs more than two 1-row products' if ratio['numpy']['plt2/loop2'] > 1 else 'not slower than loop-2 on this run'}. The
  parallel schedule saves time only with a product that turns saved reads into saved time.
* Timings vary with the machine and its load (other programs keep cores and memory busy);
  the claims above say which held on this run.
""")
