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
# # 08 · When are L rows free? The roofline of decoding
#
# Lesson 05 showed that on this CPU a decode step with `L` rows costs about what a step
# with one row costs: the step is limited by **reading the weights**, and the kernel
# reads each weight once for all rows. That cannot last forever. Decode `B` sequences
# at once and a PLT-L step has `B x L` rows: each weight read now feeds `B x L`
# multiply-adds, and at some batch the arithmetic takes longer than the reading. From
# there on every extra row costs its full price, and PLT's parallel schedule is no
# longer free.
#
# The **roofline** says where that happens:
#
#     time per step >= max(bytes read / bandwidth, FLOPs / FLOP rate)
#
# This lesson counts the bytes and FLOPs of one step (`minplt/roofline.py`), measures
# this machine's two rates, times real batched decoding against the roofline, and then
# does the same calculation for a GPU, to see why the paper's latency claims are made
# at batch 32.

# %%
import dataclasses

from lesson_setup import FAST, M, np, plt   # lessons/lesson_setup.py: MINPLT_FAST, plot style
from minplt import bench, kernels, roofline
from visualizations import charts

# %% [markdown]
# ## 1. Bytes and FLOPs of one step
#
# The benchmark's model: width 1024, 16 heads, SwiGLU width 2816, 4 layers, vocabulary
# 256, about 205 MB of float32 weights. One step of `B` sequences with `n` positions in
# their caches reads:
#
# - every weight matrix once per **pass** through the stack (one pass for the parallel
#   schedule, `L` for the sequential one), however many rows the pass has;
# - each sequence's **KV cache**: loop 1's once per pass that reads it (the attention
#   kernel reads it once for all the rows on it), the own caches of loops without KV
#   sharing, and the G-SWA windows.
#
# And it computes two FLOPs per weight and row, plus attention over the cached keys.

# %%
n = 1024                                                   # positions in each cache
base = M.PRESETS["bench"]
variants = {"vanilla": "sequential", "loop-2": "sequential", "plt-2": "parallel",
            "plt-2 (sequential)": "sequential"}
print(f"{'variant':20s}{'batch':>6s}{'weights MB':>12s}{'KV MB':>9s}{'GFLOP':>8s}{'FLOP/byte':>11s}")
for name, schedule in variants.items():
    cfg = M.make_config(name.split()[0], preset="bench")
    for batch in (1, 32):
        weights = roofline.weight_bytes_per_step(cfg, schedule)
        kv = batch * roofline.kv_bytes_read_per_sequence(cfg, n, schedule)
        flops = roofline.flops_per_step(cfg, batch, n, schedule)
        print(f"{name:20s}{batch:6d}{weights / 1e6:12.0f}{kv / 1e6:9.0f}{flops / 1e9:8.2f}"
              f"{flops / (weights + kv):11.2f}")

# %% [markdown]
# Read the last column, the step's **arithmetic intensity**. At batch 1 every variant
# does about half a FLOP per byte (two FLOPs per 4-byte weight): nothing like what a
# processor can compute per byte it reads. PLT-2 reads the weights once (loop-2 twice)
# and loop 1's cache once (loop-2 reads two caches), so it reads about half of loop-2's
# bytes while doing the same arithmetic.
#
# At batch 32 the weights are shared by 32 sequences, but each sequence brings its
# own 1024-position cache: 32 MB per sequence and cache here, more than the weights at
# this context length. The intensity stays low, and it is the cache, not the weights,
# that dominates. KV sharing is what halves PLT's cache reads.

# %% [markdown]
# ## 2. This machine's two rates

# %%
gb_per_s = roofline.measure_bandwidth(n_bytes=(32 if FAST else 256) << 20)
gflop_per_s = roofline.measure_flop_rate(size=256 if FAST else 1024)
info = kernels.backend_info()
print(f"{info['cpu']}, {info['threads']} threads")
print(f"read bandwidth   {gb_per_s:7.1f} GB/s   (a sum over a 256 MB array)")
print(f"FLOP rate        {gflop_per_s:7.1f} GFLOP/s (a 1024 x 1024 float32 product, BLAS)")
print(f"machine balance  {gflop_per_s / gb_per_s:7.1f} FLOP per byte read")

# %% [markdown]
# A step is compute-bound only where its intensity beats the machine balance. With
# float32 weights, each row adds 0.5 FLOP per weight byte, so from about
# `2 x balance` rows on the weights alone stop being the bottleneck, and the caches
# push that point further out:

# %%
for name in ("vanilla", "loop-2", "plt-2", "plt-3"):
    cfg = M.make_config(name, preset="bench")
    schedule = "parallel" if cfg.clp else "sequential"
    for context in (16, 256, 1024):
        batch = roofline.crossover_batch(cfg, context, schedule, gb_per_s, gflop_per_s)
        print(f"{name:8s} context {context:5d}: compute-bound from batch "
              f"{batch if batch is not None else 'never (each sequence adds more reading than arithmetic)'}")

# %% [markdown]
# ## 3. The measurement: batched decoding against the roofline
#
# `minplt.model.step_batch` decodes `B` sequences in one step: the parallel schedule
# makes one pass of `B x L` rows, the sequential schedule `L` passes of `B` rows. The
# benchmark's batch section times it for each batch size, with the prompt's cache
# copied to every sequence, and puts the roofline beside each measurement. (The full
# run uses the benchmark's model with a 256-token prompt; the quick run a tiny model.)

# %%
size = bench.Size(M.PRESETS["bench"], prompt=256, new_tokens=16, repeats=2)
batches = [1, 2, 4, 8, 16, 32]
if FAST:
    size, batches = dataclasses.replace(bench.QUICK, new_tokens=4), [1, 2, 4]
sweep = bench.batch_section(size, ["vanilla", "loop-2", "plt-2"], batches, seed=0,
                            log=lambda line: None, quick=FAST)
print(bench.batch_table(sweep))

# %%
charts.plot_batch_sweep({"batch": sweep, "machine": {"cpu": info["cpu"],
                                                     "threads": info["threads"]}})

# %% [markdown]
# Three things to read off the table and the chart:
#
# - **At batch 1**, PLT-2 costs about what vanilla costs and about half of loop-2: the
#   second row rides on the weight reads of the first.
# - **As the batch grows**, vanilla's time grows with its sequences' caches, loop-2's
#   twice as fast (two caches per sequence), PLT-2's like vanilla's (one shared cache
#   and a small window). PLT-2 / loop-2 stays near one half as long as reading sets
#   the time.
# - **The measured points sit above the roofline**, by a factor that shows what is not
#   memory traffic: Python between the kernels, thread wake-ups, and products that do
#   not reach the full bandwidth.

# %%
summary = sweep["summary"]
for name in ("plt-2/vanilla", "plt-2/loop-2"):
    print(f"{name:14s}" + "  ".join(f"B{b}: {v:.2f}" for b, v in summary[name].items()))
print("plt-2 costs more than 1.1x vanilla from batch:",
      summary["plt-2/vanilla above 1.1 from batch"] or "not within this sweep")

# %% [markdown]
# ## 4. What this means for the paper's GPU numbers (a calculation)
#
# The paper reports PLT-2 at 47% lower per-token latency than the vanilla loop-2 model
# at batch size 32, on GPUs. A GPU has far more arithmetic per byte than this CPU. Take
# the published figures of an NVIDIA H100 SXM: about 3.35 TB/s of HBM3 bandwidth and
# about 989 TFLOP/s of dense BF16 tensor-core arithmetic. Weights and caches in BF16
# take 2 bytes per value, half of float32. **The numbers below are a calculation from
# those two published rates and this lesson's byte and FLOP counts, not a measurement.**

# %%
H100_GB_PER_S, H100_GFLOP_PER_S = 3350.0, 989_000.0     # published peak figures
# bytes halve in BF16; roofline.py counts float32, so halve the bandwidth's denominator
# by doubling the bandwidth instead: time = (bytes / 2) / bw = bytes / (2 bw)
gpu_bw = 2 * H100_GB_PER_S
print(f"H100 balance: {H100_GFLOP_PER_S / H100_GB_PER_S:.0f} FLOP per byte "
      f"(this CPU: {gflop_per_s / gb_per_s:.1f})")
for name in ("loop-2", "plt-2"):
    cfg = M.make_config(name, preset="bench")
    schedule = "parallel" if cfg.clp else "sequential"
    for context in (16, 1024):
        batch = roofline.crossover_batch(cfg, context, schedule, gpu_bw, H100_GFLOP_PER_S)
        at_32 = roofline.predict_ms(cfg, 32, context, schedule, gpu_bw, H100_GFLOP_PER_S)
        print(f"{name:7s} context {context:5d}: compute-bound from batch "
              f"{batch if batch is not None else 'never'}; at batch 32 "
              f"{1e3 * at_32['roofline_ms']:.0f} us per step, {at_32['bound']}-bound")

# %% [markdown]
# On the GPU, a step of this model stays bound by reading until batches of hundreds of
# rows: at batch 32 the `2 x 32 = 64` rows of PLT-2 still ride on one read of the
# weights, so the roofline puts PLT-2 near one half of loop-2, the paper's 0.53. On
# this CPU the same point comes after a few tens of rows, and the KV cache, read once
# per sequence, dominates long before. Where the rows stop being free depends on the
# machine's balance; that the parallel schedule reads the weights and loop 1's cache
# once does not.
