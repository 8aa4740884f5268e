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
# *minplt lessons. The method: "Parallel Loop Transformer for Efficient Test-Time
# Computation Scaling" (arXiv 2510.24824, 2025). Symbols and code names:
# [the notation table](../docs/method.md#1-notation).*
#
# **After this lesson you can**
# - count the bytes one decode step reads (weights once per pass, each sequence's KV
#   cache) and the FLOPs it does, for a family, a batch `B` and a context of `n_pos`
#   positions, and so compute its arithmetic intensity;
# - compute one point of the roofline, `max(bytes / bandwidth, FLOPs / FLOP rate)`, and
#   say whether the step is memory- or compute-bound;
# - predict from the machine's two rates at which batch PLT's extra rows stop being
#   free, and check the prediction against a measured batch sweep;
# - explain why the paper measures its latency at batch 32 on a GPU while a CPU reaches
#   the same point after a few sequences.
#
# **Prerequisites:** lesson 05 (decoding is bound by reading the weights; the break-even
# row count; `kernels.linear_rows`), lesson 04 (KV sharing and G-SWA: which caches each
# loop reads), lesson 03 (the parallel schedule: one pass of `L` rows per token).
#
# **Time:** about 20 minutes to read and work through; running it takes about 3-4
# minutes on a 2-core CPU (full version; machines and load differ: the batch sweep
# stops at a time budget), one to two minutes with MINPLT_LECTURE=1 (a shorter sweep),
# seconds with MINPLT_FAST=1.
#
# Lesson 05 showed that on a CPU a decode step with `L` rows can cost about what a
# step with one row costs: the step is limited by **reading the weights**, and the kernel
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
# at batch 32. Timings vary by machine and by load (other programs take cores and
# memory bandwidth): every timing claim prints whether it held on this run.

# %%
import dataclasses
import glob
import statistics
import time

from lesson_setup import FAST, LECTURE, M, claim, must, np, plt, say   # lessons/lesson_setup.py
from minplt import bench, kernels, roofline
from visualizations import charts

# %% [markdown]
# ## 1. Bytes and FLOPs of one step
#
# The benchmark's model (the `bench` preset, printed below). One step of `B` sequences
# with `n_pos` positions in their caches reads:
#
# - every weight matrix once per **pass** through the stack (one pass for the parallel
#   schedule, `L` for the sequential one), however many rows the pass has, and the
#   output head once;
# - each sequence's **KV cache**: loop 1's once per pass that reads it (the attention
#   kernel reads it once for all the rows on it), the own caches of loops without KV
#   sharing, and the G-SWA windows.
#
# And it computes two FLOPs per weight and row, plus attention over the cached keys
# (`q.k` and `p.v`: two FLOPs per key, value and channel).

# %%
n_pos = 1024                                               # positions in each cache
base = M.PRESETS["bench"]
print(f"bench preset: C {base.n_embd}, F {base.d_ff}, {base.n_layer} layers, {base.n_head} heads, "
      f"V {base.vocab_size}, window {base.window}; caches of {n_pos} positions")
variants = {"vanilla": "sequential", "loop-2": "sequential", "plt-2": "parallel",
            "plt-2 (sequential)": "sequential"}
intensity = {}
print(f"\n{'variant':20s}{'batch':>6s}{'weights MB':>12s}{'KV MB':>9s}{'GFLOP':>8s}{'FLOP/byte':>11s}")
for name, schedule in variants.items():
    cfg = M.make_config(name.split()[0], preset="bench")
    for batch in (1, 32):
        weights = roofline.weight_bytes_per_step(cfg, schedule)
        kv = batch * roofline.kv_bytes_read_per_sequence(cfg, n_pos, schedule)
        flops = roofline.flops_per_step(cfg, batch, n_pos, schedule)
        intensity[name, batch] = flops / (weights + kv)
        print(f"{name:20s}{batch:6d}{weights / 1e6:12.0f}{kv / 1e6:9.0f}{flops / 1e9:8.2f}"
              f"{intensity[name, batch]:11.2f}")

# %% [markdown]
# The counts are formulas, so they can be checked exactly against what the model holds:

# %%
van, loop2, plt2 = (M.make_config(v, preset="bench") for v in ("vanilla", "loop-2", "plt-2"))
C, F, V, NL = base.n_embd, base.d_ff, base.vocab_size, base.n_layer
stack_values, head_values = NL * (4 * C * C + 3 * C * F), C * V
params = M.init_params(plt2, seed=0)                      # every matrix a step can read
read_by_vanilla = [f"layers.{j}.{w}" for j in range(NL)
                   for w in ("wq", "wk", "wv", "wo", "w1", "w3", "w2")] + ["lm_head"]
must("vanilla's step reads every matrix of the model once: its weight bytes are theirs",
     roofline.weight_bytes_per_step(van, "sequential") == sum(params[k].nbytes for k in read_by_vanilla))
must("loop-2's sequential step reads the stack twice and the head once",
     roofline.weight_bytes_per_step(loop2, "sequential") == 4 * (2 * stack_values + head_values))
must("at n_pos = 0 a vanilla step does 2 FLOPs per weight and row",
     roofline.flops_per_step(van, 1, 0, "sequential") == 2 * (stack_values + head_values))
must("one sequence's KV cache read by vanilla is 2 NL C x 4 bytes per position",
     roofline.kv_bytes_read_per_sequence(van, n_pos, "sequential") == n_pos * 2 * NL * C * 4)
must("a step's bytes are the weights once plus B caches, its FLOPs B times one sequence's",
     all(roofline.bytes_per_step(plt2, B, n_pos, "parallel")
         == roofline.weight_bytes_per_step(plt2, "parallel")
         + B * roofline.kv_bytes_read_per_sequence(plt2, n_pos, "parallel")
         and roofline.flops_per_step(plt2, B, n_pos, "parallel")
         == B * roofline.flops_per_step(plt2, 1, n_pos, "parallel") for B in (1, 2, 32)));

# %%
kv_one = roofline.kv_bytes_read_per_sequence(van, n_pos, "sequential")
say(f"Read the last column, the step's **arithmetic intensity** (FLOPs per byte read). At "
    f"batch 1 vanilla and loop-2 do **{intensity['vanilla', 1]:.2f}** FLOP per byte (two FLOPs "
    f"per 4-byte weight), PLT-2 with its parallel schedule **{intensity['plt-2', 1]:.2f}**: it "
    f"does loop-2's arithmetic on about half of loop-2's bytes, since it reads the weights once "
    f"(loop-2 twice) and loop 1's cache once (loop-2 reads two caches). Either is far below what a "
    f"processor computes per byte it reads (section 2).\n\n"
    f"At batch 32 the weights are shared by 32 sequences, but each sequence brings its own "
    f"{n_pos}-position cache: **{kv_one / 1e6:.1f} MB** per sequence and cache here, so the "
    f"caches of 32 sequences outweigh the weights at this context length. The intensity stays low "
    f"(vanilla {intensity['vanilla', 32]:.2f}, PLT-2 {intensity['plt-2', 32]:.2f}), and it is the "
    f"caches, not the weights, that dominate. KV sharing is what halves PLT's cache reads.")

# %% [markdown]
# ## 2. This machine's two rates
#
# As in lesson 05, the bandwidth is measured on an array larger than the last-level
# cache the operating system reports (at least 256 MB, at most 1 GB), so that it is a
# memory bandwidth; the FLOP rate on a large matrix product.

# %%
def last_level_cache_bytes():
    """The largest CPU cache the operating system reports (Linux sysfs), or None."""
    sizes = [open(p).read().strip() for p in glob.glob("/sys/devices/system/cpu/cpu0/cache/index*/size")]
    return max((int(s.rstrip("KMG")) << {"K": 10, "M": 20, "G": 30}.get(s[-1], 0) for s in sizes),
               default=None)

llc = last_level_cache_bytes()
work_bytes = (32 << 20) if FAST else min(max(256 << 20, int(1.5 * (llc or 0))), 1 << 30)
gb_per_s = roofline.measure_bandwidth(n_bytes=work_bytes)
gflop_per_s = roofline.measure_flop_rate(size=256 if FAST else 1024)
balance = gflop_per_s / gb_per_s
info = kernels.backend_info()
print(f"{info['cpu']}, {info['threads']} threads; last-level cache reported: "
      + (f"{llc / 2**20:.0f} MB" if llc else "none"))
print(f"read bandwidth   {gb_per_s:7.1f} GB/s   (a sum, and a 1-row product, over {work_bytes >> 20} MB)")
print(f"FLOP rate        {gflop_per_s:7.1f} GFLOP/s (a {256 if FAST else 1024}^2 float32 product, BLAS)")
print(f"machine balance  {balance:7.1f} FLOP per byte read")

# %% [markdown]
# A step is compute-bound only where its intensity beats the machine balance. With
# float32 weights, each row adds 0.5 FLOP per weight byte, so from about
# `2 x balance` rows on the weights alone stop being the bottleneck (lesson 05's
# break-even), and the caches, read once per sequence, push that point further out:

# %%
crossover = {}
for name in ("vanilla", "loop-2", "plt-2", "plt-3"):
    cfg = M.make_config(name, preset="bench")
    schedule = "parallel" if cfg.clp else "sequential"
    for context in (16, 256, 1024):
        crossover[name, context] = roofline.crossover_batch(cfg, context, schedule, gb_per_s, gflop_per_s)
        batch = crossover[name, context]
        print(f"{name:8s} context {context:5d}: compute-bound from batch "
              f"{batch if batch is not None else 'never (each sequence adds more reading than arithmetic)'}")
say(f"The weights alone turn compute-bound at about **{2 * balance:.0f} rows** per pass on this "
    f"machine. PLT-2 brings 2 rows per sequence, so at a short context it turns compute-bound "
    f"after about half as many sequences as vanilla (here from batch {crossover['plt-2', 16]} "
    f"against {crossover['vanilla', 16]}); at a long context each sequence's cache reads keep "
    f"every step memory-bound for longer, or for ever.")

# %% [markdown]
# ## 3. The measurement: batched decoding against the roofline
#
# `minplt.model.step_batch` decodes `B` sequences in one step: the parallel schedule
# makes one pass of `B x L` rows, the sequential schedule `L` passes of `B` rows. The
# benchmark's session (`bench.Session`, the code behind `python -m minplt bench
# --batch ...`) prefills one prompt per variant, copies its cache to every sequence of
# a batch, and times the steps on the Numba backend, the variants interleaved so that a
# burst of other work slows them alike. The full run uses the benchmark's model with a
# 256-token prompt, 16 timed steps per run and two runs (the median step is kept); the
# lecture run one run of 12 steps; the quick run a tiny model. The session pauses before
# each round of cases, and the first steps after a pause are slow (see "Why batch 1"
# below), so each round starts with a throwaway case whose times are not reported (PLT-2
# with the sequential schedule, at the group's smallest batch). Batch sizes go in groups
# from small to large, and a group that would overrun the time budget is left out (and
# said so): on a loaded machine a large batch can take minutes. Each step's roofline is
# computed from section 2's rates, so every number here comes from one measurement.

# %%
variants_swept = ["vanilla", "loop-2", "plt-2"]
if FAST:
    size, groups, steps, budget_s = dataclasses.replace(bench.QUICK, repeats=1), [[1, 2, 4]], 1, 60
elif LECTURE:
    size, groups, steps, budget_s = bench.Size(base, 256, 12, 1), [[1, 2], [4], [8], [16]], 12, 40
else:
    size, groups, steps, budget_s = bench.Size(base, 256, 16, 2), [[1, 2], [4], [8], [16], [32]], 16, 180
session = bench.Session(size, variants_swept, seed=0, capacity=size.prompt + max(steps, 16) + 1)
rows, started, last = [], time.perf_counter(), None
for group in groups:
    elapsed = time.perf_counter() - started
    if last is not None:               # a step's cost grows at most linearly with the batch
        estimate = last[1] * sum(group) / sum(last[0])
        if elapsed + estimate > budget_s:
            print(f"batches {group} left out: about {estimate:.0f} s more would pass the "
                  f"{budget_s} s budget ({elapsed:.0f} s so far)")
            break
    throwaway = ("plt-2", "sequential", "numba", group[0])    # first after each pause: not reported
    cases = [(v, schedule, "numba", B) for B in group for v, schedule in bench.decode_cases(variants_swept, [])]
    times = session.time_cases([throwaway] + cases, steps, size.repeats, log=lambda line: None, quick=FAST)
    for variant, schedule, _, B in cases:
        seconds = times[variant, schedule, "numba", B]
        ms = 1e3 * statistics.median(seconds)
        point = roofline.predict_ms(session.configs[variant], B, size.prompt, schedule, gb_per_s, gflop_per_s)
        rows.append({"variant": variant, "schedule": schedule, "batch": B, "ms_per_step": ms,
                     "tokens_per_s": B / (ms / 1e3), **point})
    last = (group, time.perf_counter() - started - elapsed)
batches = sorted({r["batch"] for r in rows})
sweep = {"rows": rows, "gb_per_s": gb_per_s, "gflop_per_s": gflop_per_s}
print(f"sweep: batches {batches} x {len(variants_swept)} variants, {steps} steps per run, "
      f"{size.repeats} run(s), in {time.perf_counter() - started:.0f} s")

measured = {(r["variant"], r["batch"]): r["ms_per_step"] for r in rows}
roof = {(r["variant"], r["batch"]): r for r in rows}
print(f"\n{'variant':9s}{'batch':>6s}{'ms/step':>10s}{'tokens/s':>10s}{'roofline ms':>13s}{'bound':>9s}"
      f"{'measured/roofline':>19s}{'read+arith ms':>15s}{'measured/sum':>14s}")
for r in sorted(rows, key=lambda r: (r["batch"], variants_swept.index(r["variant"]))):
    print(f"{r['variant']:9s}{r['batch']:6d}{r['ms_per_step']:10.2f}{r['tokens_per_s']:10.0f}"
          f"{r['roofline_ms']:13.2f}{r['bound']:>9s}{r['ms_per_step'] / r['roofline_ms']:19.2f}"
          f"{r['no_overlap_ms']:15.2f}{r['ms_per_step'] / r['no_overlap_ms']:14.2f}")

# %%
charts.plot_batch_sweep({"batch": sweep, "machine": {"cpu": info["cpu"], "threads": info["threads"]}},
                        gb_per_s=gb_per_s, gflop_per_s=gflop_per_s)

# %% [markdown]
# The roofline predicts three things, which the cell below checks against the sweep:
#
# - **At batch 1**, PLT-2 costs about what vanilla costs and about half of loop-2: the
#   second row rides on the weight reads of the first.
# - **As the batch grows**, PLT-2's rows stop being free. While every variant is
#   memory-bound, PLT-2 / loop-2 stays near the ratio of their bytes (about one half);
#   once PLT-2 turns compute-bound, its `2 B` rows cost their arithmetic, and PLT-2 /
#   loop-2 climbs toward 1 (the same FLOPs), PLT-2 / vanilla toward 2.
# - **The measured points sit above the roofline**, which is a lower bound: a point
#   *below* it would mean the rates were measured too low. The roofline takes the
#   *larger* of the read time and the arithmetic time, as if the processor did all the
#   arithmetic while the weights stream in. The table's `read+arith` column is the
#   other extreme, their *sum*: the arithmetic waits for the reads and the reads for the
#   arithmetic. So the gap above the roofline has two parts: the share of the smaller
#   of the two that the kernels do not hide behind the larger, and whatever is neither
#   reading nor arithmetic at full speed (Python around the call, waking threads, a
#   kernel below the full bandwidth). The cell below checks whether the gap follows
#   that smaller part across the sweep. If it does, the kernels do not hide their
#   arithmetic behind their reads. On a CPU core streaming weights this is what
#   [docs/kernels.md](../docs/kernels.md) measured: the products' time was close to read
#   plus arithmetic, and software prefetching did not change it.
#
# A note on load: the compiled step runs its products and its attention as parallel
# loops (from `kernels.PARALLEL_MIN_VALUES` values on), and at the end of each loop the
# threads wait for each other. When other programs hold the cores, such a wait can last
# a scheduler time slice, and a step of some thirty loops gets many times slower. The
# cell below lists the points far above the roofline: on an idle machine there are
# none, and where there are, they measure the load, not the model.

# %%
ratio = {other: {B: measured["plt-2", B] / measured[other, B] for B in batches}
         for other in ("vanilla", "loop-2")}
predicted = {other: {B: roof["plt-2", B]["roofline_ms"] / roof[other, B]["roofline_ms"] for B in batches}
             for other in ("vanilla", "loop-2")}
for other in ("vanilla", "loop-2"):
    print(f"plt-2/{other:8s} measured " + "  ".join(f"B{B}: {ratio[other][B]:.2f}" for B in batches))
    print(f"{'':15s}roofline " + "  ".join(f"B{B}: {predicted[other][B]:.2f}" for B in batches))
big = batches[-1]
first_dear = next((B for B in batches if ratio["vanilla"][B] > 1.1), None)
first_dear_roof = next((B for B in batches if predicted["vanilla"][B] > 1.1), None)
plt2_bound_from = roofline.crossover_batch(session.configs["plt-2"], size.prompt, "parallel",
                                           gb_per_s, gflop_per_s)
print(f"plt-2 costs more than 1.1x vanilla from batch: measured {first_dear or 'not within the sweep'}, "
      f"roofline {first_dear_roof or 'not within the sweep'}")
print()
claim("at batch 1, PLT-2 costs at most 1.15x vanilla", ratio["vanilla"][1] <= 1.15,
      plt2_over_vanilla=ratio["vanilla"][1])
claim("at batch 1, PLT-2 costs at most 0.75x loop-2", ratio["loop-2"][1] <= 0.75,
      plt2_over_loop2=ratio["loop-2"][1])
rises = claim(f"PLT-2 / loop-2 is higher at batch {big} than at batch 1 (the rows stop being free)",
              ratio["loop-2"][big] > ratio["loop-2"][1],
              at_batch_1=ratio["loop-2"][1], at_largest=ratio["loop-2"][big])
claim("PLT-2 / loop-2 follows the roofline's within 0.3 at every batch",
      all(abs(ratio["loop-2"][B] - predicted["loop-2"][B]) <= 0.3 for B in batches),
      largest_gap=max(abs(ratio["loop-2"][B] - predicted["loop-2"][B]) for B in batches))
above = min(measured[k] / roof[k]["roofline_ms"] for k in measured)
claim("every measured step takes at least 0.9x its roofline (the roofline is a lower bound)",
      above >= 0.9, lowest_measured_over_roofline=above)
# The gap above the roofline against the part the roofline assumes hidden: the smaller
# of read and arithmetic (a correlation across the sweep's points; 1 = in step).
gap = np.array([measured[k] - roof[k]["roofline_ms"] for k in measured])
hidden = np.array([min(roof[k]["read_ms"], roof[k]["compute_ms"]) for k in measured])
follows = float(np.corrcoef(gap, hidden)[0, 1]) if len(gap) > 2 and gap.std() > 0 else float("nan")
over_sum = sorted(measured[k] / roof[k]["no_overlap_ms"] for k in measured)
print(f"measured / (read + arithmetic): {over_sum[0]:.2f} to {over_sum[-1]:.2f} "
      f"(measured / roofline: {above:.2f} to {max(measured[k] / roof[k]['roofline_ms'] for k in measured):.2f})")
no_overlap = claim("the gap above the roofline follows the smaller of read and arithmetic "
                   "(correlation at least 0.8): the arithmetic is not hidden behind the reads",
                   follows >= 0.8, correlation=follows)
far = sorted((k for k in measured if measured[k] > 5 * roof[k]["roofline_ms"]), key=lambda k: k[1])
print("more than 5x above the roofline: " + (", ".join(f"{v} at batch {B}" for v, B in far)
                                             or "none"))

# %% [markdown]
# ### Why batch 1 here need not match lesson 05
#
# Lesson 05 times the same model (same weights, prompt length, Numba backend and
# threads) for 16 steps per run. An earlier version of this lesson used the benchmark's
# batch section as it stands (`bench.batch_section`, which times `new_tokens // 4` steps
# per run), with 4 steps per run, and its vanilla at batch 1 came out much slower than
# lesson 05's (and slower than its own batches 2 and 4, which a steady step cannot be).
# The cause we found is in how the session runs its cases: before each round it pauses
# (so that the other backend's threads calm down), and vanilla at batch 1 is the first
# case after that pause, which follows the largest batch of the previous round. The
# first steps after a pause or after other work are slower than the following ones: the
# threads must be woken, the caches hold other data, and the processor may have lowered
# its clock. With 4 steps per run the median was mostly such first steps. On a quiet
# machine the effect is clear; on a loaded one other programs can hide it. This lesson's
# sweep therefore times 16 steps per run (12 in the lecture version) and starts every
# round with a throwaway case, so that no reported case comes first after the pause.
# The cell measures the effect: one vanilla run at batch 1 right after a pause, step by
# step (the claims say whether it showed on this run).

# %%
cache0, first = session.prefilled["vanilla"]                  # the sweep's session
vcfg = session.configs["vanilla"]
bench.decode_run(session.params, vcfg, cache0, first, 3, "sequential", "numba")    # compile, warm
time.sleep(0.5)                                                                     # the sweep's pause
step_s = bench.decode_run(session.params, vcfg, cache0, first, 16, "sequential", "numba")
print("vanilla, batch 1, step by step after a 0.5 s pause (ms): "
      + " ".join(f"{1e3 * s:.1f}" for s in step_s))
first4, steady = 1e3 * statistics.median(step_s[:4]), 1e3 * statistics.median(step_s[4:])
print(f"median of the first 4 steps {first4:.2f} ms, of the 12 after them {steady:.2f} ms; "
      f"the sweep's batch-1 vanilla {measured['vanilla', 1]:.2f} ms")
pause_slower = claim("the first 4 steps after a pause are slower than the steps after them",
                     first4 > steady, first4_ms=first4, steady_ms=steady)
claim(f"the sweep's batch-1 vanilla ({steps} steps per run) is within 1.3x of the steady step",
      measured["vanilla", 1] <= 1.3 * steady, sweep_ms=measured["vanilla", 1], steady_ms=steady);

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
# bytes halve in BF16; roofline.py counts float32, so instead of halving the bytes we
# double the bandwidth: time = (bytes / 2) / bw = bytes / (2 bw)
gpu_bw = 2 * H100_GB_PER_S
print(f"H100 balance: {H100_GFLOP_PER_S / H100_GB_PER_S:.0f} FLOP per byte "
      f"(this CPU: {balance:.1f})")
gpu = {}
for name in ("loop-2", "plt-2"):
    cfg = M.make_config(name, preset="bench")
    schedule = "parallel" if cfg.clp else "sequential"
    for context in (16, 1024):
        batch = roofline.crossover_batch(cfg, context, schedule, gpu_bw, H100_GFLOP_PER_S)
        gpu[name, context] = roofline.predict_ms(cfg, 32, context, schedule, gpu_bw, H100_GFLOP_PER_S)
        print(f"{name:7s} context {context:5d}: compute-bound from batch "
              f"{batch if batch is not None else 'never'}; at batch 32 "
              f"{1e3 * gpu[name, context]['roofline_ms']:.0f} us per step, {gpu[name, context]['bound']}-bound")
gpu_ratio = {context: gpu["plt-2", context]["roofline_ms"] / gpu["loop-2", context]["roofline_ms"]
             for context in (16, 1024)}
say(f"On the GPU, a step of this model stays bound by reading until batches of hundreds of "
    f"sequences: at batch 32 the 64 rows of PLT-2 still ride on one read of the weights, so the "
    f"roofline puts PLT-2 at **{gpu_ratio[16]:.2f}** of loop-2 at a 16-token context and "
    f"**{gpu_ratio[1024]:.2f}** at 1024 (the paper measured 0.53). On this CPU the weights alone "
    f"turn compute-bound after about {2 * balance:.0f} rows per pass, {balance:.0f} sequences of "
    f"PLT-2. Where the rows stop being free depends "
    f"on the machine's balance; that the parallel schedule reads the weights and loop 1's cache "
    f"once does not.")

# %% [markdown]
# ## Exercises
#
# Work them in order; each check tells you whether you are right. Worked solutions:
# [solutions/ex08.py](solutions/ex08.py) (try first).
#
# **1. One point of the roofline, by hand.** Implement `step_point(cfg, batch, n_pos)`
# for the families without sharing (vanilla, loop-L, sequential schedule): it returns
# `(bytes, flops)` of one step. Bytes: the stack's weights `(4 C^2 + 3 C F)` per layer,
# once per loop, plus the head `C V` once, plus each sequence's caches: `L` caches of
# `2 NL C` values per position. FLOPs: per sequence and loop, 2 per weight of the stack
# plus `4 NL C` per cached position (`q.k` and `p.v`), plus 2 per weight of the head
# once per sequence. float32 throughout. The check compares with `minplt.roofline` for
# vanilla, loop-2 and loop-3 at several batches and contexts.

# %%
from exercises.ex08 import check_step_point

def step_point(cfg, batch, n_pos):
    C, F, V, NL, L = cfg.n_embd, cfg.d_ff, cfg.vocab_size, cfg.n_layer, cfg.n_loops
    ...                         # your code: return (bytes, flops)

check_step_point(None)          # replace None with step_point, then run

# %% [markdown]
# **2. Memory- or compute-bound?** On a machine with 40 GB/s and 250 GFLOP/s, decode
# loop-2 (bench preset, sequential schedule) at batch 16 with 256 positions cached. Use
# your `step_point` (or `roofline.bytes_per_step` and `roofline.flops_per_step`): is
# the step `"memory"`- or `"compute"`-bound? Predict first from the balance, then compute.

# %%
from exercises.ex08 import check_bound
check_bound(None)               # replace None with "memory" or "compute", then run

# %% [markdown]
# **3. When do PLT's extra rows stop being free?** On the same machine (40 GB/s, 250
# GFLOP/s), from which batch on is PLT-2 (bench preset, parallel schedule, 256 positions)
# compute-bound? Work it out from the read and compute times' growth with `B` (the
# docstring of `roofline.crossover_batch` has the formula, but try without it), then
# change one thing: what happens at 1024 positions? (The check asks for the batch at 256.)

# %%
from exercises.ex08 import check_free_rows_batch
check_free_rows_batch(None)     # replace None with the batch, then run

# %% [markdown]
# ## Summary

# %%
say(f"""
* One decode step reads the weights once per pass and each sequence's caches, and does two
  FLOPs per weight and row plus its attention. At batch 1 that is {intensity['vanilla', 1]:.2f}
  FLOP per byte for vanilla and loop-2 and {intensity['plt-2', 1]:.2f} for PLT-2. This
  machine's balance was {balance:.1f} FLOP per byte ({gb_per_s:.1f} GB/s read,
  {gflop_per_s:.0f} GFLOP/s, measured on this run), {'so a batch-1 step waits for memory.' if balance > intensity['plt-2', 1] else 'which would make even batch 1 compute-bound: on this run the FLOP rate was measured far below what the processor can do (a loaded machine, or the quick version).'}
* The roofline, `max(bytes / bandwidth, FLOPs / FLOP rate)`, put PLT-2 at
  {predicted['loop-2'][1]:.2f} of loop-2 at batch 1 and {predicted['loop-2'][big]:.2f} at batch
  {big}; the sweep measured {ratio['loop-2'][1]:.2f} and {ratio['loop-2'][big]:.2f}. The
  roofline lets the ratio rise once PLT-2 turns compute-bound, from batch
  {plt2_bound_from or 'never'} here{'' if plt2_bound_from and plt2_bound_from <= big else ', beyond this sweep'}.
  {'The measured ratio rose with the batch' if rises else 'The measured ratio did not rise with the batch'}{' within the sweep, earlier than the roofline says: what the roofline leaves out (threads, Python, other programs) grows with the batch too.' if rises and not (plt2_bound_from and plt2_bound_from <= big) else '; the claims above say which predictions held on this run.'}
* PLT-2 cost more than 1.1x vanilla from batch {first_dear or 'beyond the sweep'} (the
  roofline says {first_dear_roof or 'beyond the sweep'}); with the sweep's {size.prompt}-token
  context the roofline makes it compute-bound from batch {plt2_bound_from or 'never'} on this machine.
* {f'The measured steps sat above the roofline (at least {above:.2f}x it), and {over_sum[0]:.2f}x to {over_sum[-1]:.2f}x the sum of read and arithmetic.' if above >= 0.9 else f'Some measured steps came out below the roofline ({above:.2f}x it): the rates of section 2 were measured too low on this run (a loaded machine), so the roofline is not a lower bound here.'}
  {f'The gap above the roofline followed the smaller of the two (correlation {follows:.2f}): the kernels did not hide their arithmetic behind their reads, and a roofline that adds the two describes them better than one that takes the larger.' if no_overlap else f'On this run the gap above the roofline did not follow the smaller of read and arithmetic (correlation {follows:.2f}): other costs, or other programs, set it.'}
  {'A batch-1 step timed right after a pause was slower than a steady one on this run, so short timing runs overstate it.' if pause_slower else 'On this run the first steps after a pause were not slower than the rest (other programs disturbed the timings more than the pause did).'}
* On a GPU the balance is hundreds of FLOPs per byte, so at batch 32 PLT-2's rows are still
  free: the roofline gives {gpu_ratio[16]:.2f} of loop-2, close to the paper's 0.53. Where the
  rows stop being free is the machine's balance; the reads PLT saves are the schedule's.
* Timings vary with the machine and its load; the claims above say which held on this run.
""")
