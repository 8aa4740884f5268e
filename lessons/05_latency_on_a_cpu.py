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
# The parallel schedule (lesson 03) replaces `L` one-row passes through the stack with
# one `L`-row pass. That only saves time if an `L`-row pass costs about what a
# one-row pass costs. It does when decoding is limited by **reading the weights**
# from memory rather than by arithmetic: every weight is loaded once and then used for
# `L` multiply-adds instead of one. This notebook measures, on this machine:
#
# 1. memory bandwidth and arithmetic speed, and what they predict for a decode step;
# 2. a product `(R, C) @ (C, N)` for `R = 1..8` rows, with NumPy's `@` (OpenBLAS)
#    and with `minplt.kernels.linear_rows`, a Numba kernel that streams each weight
#    once for all `R` rows;
# 3. decode ms/token of vanilla, loop-2 and PLT-2 on both backends
#    (`M.prefill(..., backend="numpy" | "numba")` picks the row operations every
#    later `M.step` uses).
#
# All timings are from the run that produced this notebook; they vary by machine and
# by load, so read the ratios, measured side by side, rather than the absolute values.

# %%
import os
import time

from lesson_setup import FAST, M, data, np, plt   # lessons/lesson_setup.py: MINPLT_FAST, plot style
from minplt import kernels, timing
from visualizations import charts

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
# ## Reading versus computing
#
# A decode step for one row multiplies a vector by every weight matrix: `2 C N`
# floating-point operations for `4 C N` bytes read (float32), **half an operation per
# byte**. A CPU core does tens of billions of operations per second but reads memory
# at only ~10-20 GB/s, so at one row it waits for memory. With `R` rows it does `R`
# times the arithmetic on the same bytes: the time should stay flat until the
# arithmetic catches up. Measured here: the bandwidth of summing a large array, and
# the arithmetic rate of a large matrix product.

# %%
from minplt import roofline                  # the two rates, as lesson 08 and the bench use them
n_bytes = (64 if FAST else 256) << 20                                 # far beyond the caches
bandwidth = 1e9 * roofline.measure_bandwidth(n_bytes)                 # bytes/s, best of 5 runs
flops = 1e9 * roofline.measure_flop_rate(1024)                        # FLOP/s, best of 5 runs
print(f"memory read bandwidth ~ {bandwidth / 1e9:5.1f} GB/s   (sum of a {n_bytes >> 20} MB array)")
print(f"arithmetic           ~ {flops / 1e9:5.1f} GFLOP/s (1024^3 matrix product, all threads)")
print(f"break-even: ~{flops / bandwidth * 4 / 2:.0f} rows per weight read before arithmetic dominates")

# %% [markdown]
# ## One product, R = 1..8 rows
#
# Weights the size of the `bench` preset's MLP matrices, `(1024, 2816)` (11.5 MB in
# float32), several of them so that together they do not fit in the caches, as in a
# real model. For each `R` we time one product per matrix with `x @ w` and with
# `kernels.linear_rows(x, w)` (interleaved, best of several repeats) and report ms per
# product and the ratio to `R = 1`.

# %%
rng = np.random.default_rng(0)
C, N = (1024, 1408) if FAST else (1024, 2816)
n_mats = 6 if FAST else 8
weights = [rng.standard_normal((C, N)).astype(np.float32) for _ in range(n_mats)]
print(f"{n_mats} matrices of {C}x{N}: {sum(w.nbytes for w in weights) >> 20} MB")
Rs = list(range(1, 9))
product_times = {"numpy @": {}, "numba linear_rows": {}}
for R in Rs:
    x = rng.standard_normal((R, C)).astype(np.float32)
    assert np.allclose(kernels.linear_rows(x, weights[0]), x @ weights[0], rtol=1e-3, atol=1e-3)
    for _ in range(3 if FAST else 7):                       # interleave the two, keep the best
        for name, fn in (("numpy @", lambda: [x @ w for w in weights]),
                         ("numba linear_rows", lambda: [kernels.linear_rows(x, w) for w in weights])):
            t = timing.best(fn, repeats=1) / n_mats
            product_times[name][R] = min(product_times[name].get(R, np.inf), t)
print(f"{'R':>2s} " + "".join(f"{name:>26s}" for name in product_times))
for R in Rs:
    print(f"{R:2d} " + "".join(f"{1e3 * product_times[n][R]:12.3f} ms  x{product_times[n][R] / product_times[n][1]:5.2f} R=1 " for n in product_times))
gbs = {n: C * N * 4 / product_times[n][1] / 1e9 for n in product_times}
print("\neffective bandwidth at R = 1: " + ", ".join(f"{n} {v:.1f} GB/s" for n, v in gbs.items()))

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for name, t in product_times.items():
    axes[0].plot(Rs, [1e3 * t[R] for R in Rs], "o-", label=name)
    axes[1].plot(Rs, [t[R] / t[1] for R in Rs], "o-", label=name)
axes[1].plot(Rs, Rs, ":", color="grey", label="R x (no reuse)")
axes[0].set(xlabel="rows R", ylabel="ms per product", title=f"(R,{C}) @ ({C},{N}), float32")
axes[1].set(xlabel="rows R", ylabel="time / time at R=1", title="cost of R rows relative to one")
for ax in axes:
    ax.grid(alpha=0.3); ax.legend(fontsize=8); ax.set_xticks(Rs)
plt.show()

# %% [markdown]
# OpenBLAS's `@` is built for large products; for a handful of rows it may switch to
# other code paths whose cost rises with `R` (and on one row it is a matrix-vector
# product). `linear_rows` is written for exactly this shape: each thread streams a
# contiguous block of weight rows and keeps the `R` partial sums in registers, so the
# weights are read once whatever `R` is (see the comments in `minplt/kernels.py`).
#
# ## Decode latency: vanilla, loop-2, PLT-2 on both backends
#
# Now whole decode steps, timed by `minplt.bench` (the code behind
# `python -m minplt bench`): the `bench` preset (C = 1024, F = 2816, 4 layers, about
# 200 MB of float32 weights; smaller in the quick version), a prefilled prompt, then
# `M.step` timed token by token (median). Loop-2 must use the sequential schedule (two
# passes per token); PLT-2 uses the parallel one (one pass with two rows) and is also
# timed sequentially for comparison. `weight GB/s` is the weight bytes a step reads
# divided by its time; `% 1-row` compares it with a bare one-row product over the same
# matrices, the best a memory-bound step can do.

# %%
import dataclasses

from minplt import bench
if FAST:
    small_model = dataclasses.replace(bench.BIG.config, n_embd=512, d_ff=1408, n_head=8, n_layer=2)
    size = bench.Size(small_model, prompt=32, new_tokens=6, repeats=1)
else:
    size = dataclasses.replace(bench.BIG, prompt=256, new_tokens=16, repeats=3)
c = size.config
print(f"model: width {c.n_embd}, F {c.d_ff}, {c.n_layer} layers, {c.n_head} heads, vocab "
      f"{c.vocab_size}; prompt {size.prompt}, {size.new_tokens} new tokens x {size.repeats} runs")
decode_rows, one_row = bench.decode_section(size, ["vanilla", "loop-2", "plt-2"], ["plt-2"],
                                             ["numpy", "numba"], seed=0, log=lambda line: None)
print(bench.decode_table(decode_rows, one_row, bench.ratios(decode_rows, one_row)))

# %%
shown = {"machine": {"cpu": info["cpu"], "threads": info["threads"], "numpy": info["numpy"], "numba": info["numba"]},
         "decode": [r for r in decode_rows if not (r["variant"] == "plt-2" and r["schedule"] == "sequential")]}
charts.plot_latency(shown)


# %% [markdown]
# ## What the numbers say
#
# The cell below reads the measurements above and states them as ratios.

# %%
def ms(variant, schedule_name, backend):
    return next(r["ms_per_token"] for r in decode_rows
                if r["variant"] == variant and r["schedule"] == schedule_name and r["backend"] == backend)
for backend in ("numpy", "numba"):
    v = ms("vanilla", "sequential", backend)
    print(f"{backend}: loop-2 costs x{ms('loop-2', 'sequential', backend) / v:.2f} vanilla, "
          f"PLT-2 parallel x{ms('plt-2', 'parallel', backend) / v:.2f}, "
          f"PLT-2 sequential x{ms('plt-2', 'sequential', backend) / v:.2f}")
for name, t in product_times.items():
    print(f"\n{name}: 2 rows cost x{t[2] / t[1]:.2f} one row, 4 rows x{t[4] / t[1]:.2f}, 8 rows x{t[8] / t[1]:.2f}")
for backend in ("numpy", "numba"):
    saving = 1 - ms("plt-2", "parallel", backend) / ms("loop-2", "sequential", backend)
    extra = ms("plt-2", "parallel", backend) / ms("vanilla", "sequential", backend) - 1
    print(f"\n{backend}: the second loop adds {100 * extra:.0f}% to vanilla's time per token with the parallel "
          f"schedule; PLT-2 is {100 * abs(saving):.0f}% {'faster' if saving >= 0 else 'slower'} than loop-2")
busy_end = busy_cores()
if busy_end is not None:
    print(f"\n(other programs kept {busy:.1f} cores busy before the measurements, {busy_end:.1f} after)")

# %% [markdown]
# ## Summary
#
# * One decode row does half a floating-point operation per byte of weights read; the
#   machine's bandwidth and arithmetic rate, measured above, put the break-even at a few
#   rows, so a decode step with one or two rows waits for the weights.
# * `kernels.linear_rows` is written to read each weight once for all rows, so its cost
#   for `R` rows should stay close to one row's; compare its ratio curve with that of
#   NumPy's `@` on the same matrices.
# * On the Numba path PLT-2's one pass with two rows should then cost close to vanilla's
#   one pass with one row, while loop-2's two passes cost about twice as much: the
#   paper's latency claim (47% below loop-2, at batch 32 on a GPU), here for one
#   sequence on a CPU. The ratios printed above are this run's; timings on a machine
#   busy with other work are noisier, so rerun the notebook on a quiet machine before
#   reading much into them.
