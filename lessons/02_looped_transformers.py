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
# # 02 · Looped transformers: depth without parameters, and its price
#
# *minplt lessons. The method: "Parallel Loop Transformer for Efficient Test-Time
# Computation Scaling" (arXiv 2510.24824, 2025). Symbols and code names:
# [the notation table](../docs/method.md#1-notation).*
#
# A looped transformer applies the **same** stack of `NL` blocks `L` times:
# `h^(1) = S(E)`, `h^(2) = S(h^(1))`, ..., where `S` is the stack and `h^(l)` the
# residual stream leaving loop `l`. It has the depth of an `L·NL`-layer model and the
# parameters of an `NL`-layer one. Why loop at all: a looped model can spend more
# computation per token without more parameters, and on reasoning tasks looping a small
# stack can match a deeper model ("Reasoning with Latent Thoughts: On the Power of Looped
# Transformers", arXiv 2502.17416, 2025; lesson 07 measures this on pointer chasing).
#
# **After this lesson you can**
# - predict the parameter count of loop-`L` for any `L` (that of its stack, once);
# - show that loop-2 *is* a `2·NL`-layer transformer whose blocks `j` and `j+NL` share
#   weights, by comparing logits;
# - count the passes through the stack that decoding a token costs (`L`) and read it from
#   a decode trace, and measure what that does to milliseconds per token;
# - compute the KV cache of loop-`L` in bytes (`L` full caches) and check it against the
#   memory table of docs/method.md §8.
#
# **Prerequisites:** lesson 00 (the block, the KV cache and its `2 · NL · C · 4` bytes per
# position, prefill and step); lesson 01 is not needed here.
#
# **Time:** about 20 minutes to read and work through; running it takes under a minute on
# a 2-core CPU (full version; machines differ; the lecture version, MINPLT_LECTURE=1,
# times fewer runs), seconds with MINPLT_FAST=1.

# %%
from lesson_setup import FAST, LECTURE, M, claim, data, decode_times, must, np, plt, say   # lessons/lesson_setup.py
from minplt import parallel, timing
from visualizations import schedule

# %% [markdown]
# ## Parameters: the same for every L

# %%
V = 40
rows = [("vanilla", None, 2), ("loop", 2, 2), ("loop", 3, 2), ("loop", 4, 2),
        ("vanilla", None, 4), ("vanilla", None, 8)]
counts = {}
print(f"{'model':18s} {'NL':>3s} {'L':>3s} {'depth NL*L':>11s} {'parameters':>11s}")
for family, loops, n_layer in rows:
    cfg = M.make_config(family, loops, "tiny", vocab_size=V, n_layer=n_layer)
    n = M.count_params(M.init_params(cfg))
    counts[(cfg.variant, n_layer)] = n
    print(f"{cfg.variant:18s} {n_layer:3d} {cfg.n_loops:3d} {n_layer * cfg.n_loops:11d} {n:11,}")
must("loop-2, loop-3 and loop-4 have exactly vanilla's parameters (NL = 2)",
     {counts[(f"loop-{l}", 2)] for l in (2, 3, 4)} == {counts[("vanilla", 2)]},
     vanilla=counts[("vanilla", 2)], loop_4=counts[("loop-4", 2)]);

# %% [markdown]
# ## Loop-2 is a deeper model with tied weights
#
# Without cross-loop parallelism (the vanilla looped transformer), loop 2's input is
# loop 1's output at the same position, `u^(2)_t = h^(1)_t`. So loop-2 with `NL`
# blocks computes exactly what a plain `2·NL`-block transformer computes when block
# `j + NL` is a copy of block `j`. (Lesson 03's cross-loop parallelism changes exactly
# this input.) Measured in float64:

# %%
looped = M.make_config("loop", 2, "tiny", vocab_size=V, dtype="float64")
deep = M.make_config("vanilla", None, "tiny", vocab_size=V, n_layer=2 * looped.n_layer, dtype="float64")
p_loop = M.init_params(looped, seed=3)
p_deep = dict(p_loop)
for j in range(looped.n_layer):                     # block j + NL := block j
    for name in M.param_shapes(looped):
        if name.startswith(f"layers.{j}."):
            p_deep[name.replace(f"layers.{j}.", f"layers.{j + looped.n_layer}.")] = p_loop[name]
tokens = np.random.default_rng(0).integers(0, V, (2, 30))
tied_diff = float(np.abs(M.forward(p_loop, looped, tokens)[0] - M.forward(p_deep, deep, tokens)[0]).max())
print(f"loop-2 (NL={looped.n_layer}) vs vanilla (NL={deep.n_layer}, tied): "
      f"max |logit difference| = {tied_diff:.1e}")
print(f"parameters: {M.count_params(p_loop):,} (looped) vs {M.count_params(M.init_params(deep)):,} "
      "(untied deep model)")
must("loop-2 gives the tied deep model's logits", tied_diff < 1e-12, max_abs_difference=tied_diff)
say("The two models run the same operations on the same numbers in the same order, so "
    + ("the logits are not just close but **bitwise equal** (difference 0.0 on this run)."
       if tied_diff == 0 else f"the logits agree to float64 round-off ({tied_diff:.1e} on this run)."))

# %% [markdown]
# ## Price 1: L passes per token
#
# Decoding a token with a looped model means running loop 1 on it, then loop 2 on
# loop 1's output, and so on: `L` passes through the stack, one after another, each
# reading every weight. The decode cache keeps a `trace` of which `(position, loop)`
# cells each pass computed; the trace, like the prose, numbers loops from 1 (in the
# cache's arrays loop `l` is index `l-1`, as lesson 00 said). Here is loop-3 generating
# 4 tokens after a prompt of 4: the prefill's passes give the first new token, and the
# 3 that follow are decoded one by one.

# %%
cfg = M.make_config("loop", 3, "tiny", vocab_size=V)
params = M.init_params(cfg, seed=0)
new, cache = M.generate(params, cfg, np.array([1, 2, 3, 4]), 4, return_cache=True)
for i, cells in enumerate(cache.trace):
    kind = "prefill" if i < cfg.n_loops else "decode "
    print(f"pass {i + 1:2d} ({kind}): {schedule.describe_pass(cells)}")
per_token = schedule.passes_per_token(cache.trace)
print(f"\npasses per decoded token: {per_token}")
must("the trace is the sequential schedule: L passes per decoded token",
     cache.trace == schedule.expected_trace(7, 3, "sequential", prompt_len=4) and per_token == 3,
     passes_per_token=per_token, L=cfg.n_loops)
fig, ax = plt.subplots(figsize=(6, 2.6))
schedule.draw_schedule(ax, 7, 3, clp=False, trace=cache.trace, prompt_len=4)
ax.set_title("loop-3: numbers are pass numbers; each decoded token takes 3 passes", fontsize=10)
plt.show()


# %% [markdown]
# In milliseconds: decode the same tokens with vanilla, loop-2, loop-3 and loop-4 on
# the `small` preset, NumPy backend, one sequence. Each model decodes after the same
# prompt; we time the decode steps only (not the prefill), run the four models in turn
# several times and keep each one's best run (other programs on the machine can only add
# time). NumPy's products run on one thread, as in lesson 00. Timings vary with the
# machine and its load; the ratios to vanilla vary less.

# %%
n_steps, repeats = (10, 2) if FAST else (64, 3) if LECTURE else (64, 5)
prompt = np.random.default_rng(0).integers(0, V, 32)
models = {}
for loops in (1, 2, 3, 4):
    cfg = M.make_config("vanilla" if loops == 1 else f"loop-{loops}", preset="small",
                        vocab_size=V)
    models[loops] = (cfg, M.init_params(cfg, seed=0))
print(f"small preset: C={cfg.n_embd}, NL={cfg.n_layer}; {n_steps} decode steps, "
      f"best of {repeats} runs")
times = {loops: [] for loops in models}
with parallel.threads(1):      # one BLAS thread: see the note above
    for _ in range(repeats):              # interleaved: every model sees the same machine load
        for loops, (cfg, params) in models.items():
            times[loops] += decode_times(params, cfg, prompt, n_steps)
results = {}
for loops, (cfg, params) in models.items():
    _, cache = M.generate(params, cfg, prompt, n_steps + 1, return_cache=True)   # the cache after n_steps steps
    results[loops] = dict(variant=cfg.variant, ms=1e3 * min(times[loops]), kv=M.kv_cache_bytes(cfg, cache),
                          passes=schedule.passes_per_token(cache.trace), n=int(cache.pos[0]),
                          spread=timing.summary(times[loops]))
base = results[1]
print(f"{'model':9s} {'passes/token':>12s} {'ms/token':>9s} {'x vanilla':>9s} {'KV bytes':>10s} {'x vanilla':>9s}"
      f"   best (range) of {repeats} runs")
for loops, r in results.items():
    print(f"{r['variant']:9s} {r['passes']:12d} {r['ms']:9.2f} {r['ms'] / base['ms']:9.2f} "
          f"{r['kv']:10,} {r['kv'] / base['kv']:9.2f}   {r['spread']}")
print(f"(KV bytes after {base['n']} positions)")
ratios = {loops: r["ms"] / base["ms"] for loops, r in results.items()}
between = {}
for loops in (2, 3, 4):
    between[loops] = claim(f"loop-{loops} costs about {loops}x vanilla per token "
                           f"(between {0.75 * loops:g}x and {1.1 * loops:g}x)",
                           0.75 * loops <= ratios[loops] <= 1.1 * loops, ratio=ratios[loops])

# %%
Ls = np.array(list(results))
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
best_ms = np.array([results[l]["ms"] for l in Ls])
slowest_ms = np.array([1e3 * max(times[l]) for l in Ls])
axes[0].errorbar(Ls, best_ms, yerr=[np.zeros(len(Ls)), slowest_ms - best_ms], fmt="o-", capsize=3,
                 label=f"measured: best of {repeats} (bar: up to the slowest)")
axes[0].plot(Ls, Ls * base["ms"], ":", color="grey", label="L x vanilla")
axes[0].set(xlabel="loops L", ylabel="ms per token", title="decode latency (small preset, NumPy)")
axes[1].bar(Ls, [results[l]["kv"] / 1024 for l in Ls], color="C3")
axes[1].plot(Ls, Ls * base["kv"] / 1024, "k_", markersize=30, label="L x vanilla")
axes[1].set(xlabel="loops L", ylabel="KiB", title=f"KV cache after {base['n']} positions")
for ax in axes:
    ax.set_xticks(Ls); ax.grid(alpha=0.3); ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## Price 2: an L-fold KV cache
#
# Loop `l` attends over *its own* keys and values (computed from its own input), so
# each loop keeps a full cache: the decode cache of a loop-`L` model has `L` full
# caches, `cache.k.shape[0] == L`, and loop `l`'s is `cache.k[l-1]`. With `n_pos`
# positions and `c = 2 · NL · C · 4` bytes per position (lesson 00), that is
# `L · n_pos · c` bytes: the memory table of docs/method.md §8.

# %%
for loops in (2, 3, 4):
    cfg = M.make_config("loop", loops, "small", vocab_size=V)
    c = 2 * cfg.n_layer * cfg.n_embd * 4
    n_pos = results[loops]["n"]
    print(f"loop-{loops}: measured {results[loops]['kv']:,} bytes, "
          f"L*n_pos*c = {loops}*{n_pos}*{c} = {loops * n_pos * c:,}, "
          f"formula {M.kv_cache_bytes_formula(cfg, n_pos):,}")
    must(f"loop-{loops}'s cache holds L · n_pos · c bytes, L times vanilla's",
         results[loops]["kv"] == loops * n_pos * c == M.kv_cache_bytes_formula(cfg, n_pos)
         == loops * base["kv"], measured=results[loops]["kv"], formula=loops * n_pos * c)

# %% [markdown]
# ## Exercises
#
# Three, from predicting to implementing. Worked solutions are in
# [solutions/ex02.py](solutions/ex02.py) (try first).
#
# **1. Predict the parameters.** How many parameters does a loop-6 model of the `tiny`
# preset with `V = 40` (as in the table above, `NL = 2`) have? Predict, then check.

# %%
from exercises.ex02 import check_loop_kv_bytes, check_loop_params, check_passes
my_params = None          # replace None with your number, then run
check_loop_params(my_params);

# %% [markdown]
# **2. Count the passes.** A loop-4 model generates **10** new tokens after a prompt of
# **6** tokens with `M.generate`. How many passes through the stack does its trace record,
# prefill included? (Look at the trace above: which pass gives the first new token?)

# %%
my_passes = None          # replace None with your number, then run
check_passes(my_passes);

# %% [markdown]
# **3. The KV bytes of loop-L.** Write `my_kv_bytes(cfg, n_pos)`: the bytes of keys and
# values that a decode cache holds after `n_pos` positions of one sequence, for a
# `vanilla` or `loop` config (`cfg.n_loops`, `cfg.n_layer`, `cfg.n_embd`, and
# `cfg.dtype`, which may be float32 or float64: `np.dtype(cfg.dtype).itemsize` is its
# bytes per number). The check compares it with caches that `M.generate` filled.

# %%
def my_kv_bytes(cfg, n_pos):
    ...                      # your code

check_loop_kv_bytes(None);    # replace None with my_kv_bytes, then run

# %% [markdown]
# ## Summary
#
# Built from the values measured above (the milliseconds vary with the machine and its
# load; the parameters, passes and bytes do not).

# %%
why_ratios = ("Each extra loop added about one vanilla step's time: the passes through the "
              "stack are most of a step (the parts paid once per token, the output head and "
              "Python's overhead, are small at this size)."
              if all(between.values()) else
              "Not every ratio fell within 0.75 `L` to 1.1 `L` on this run: the machine's load "
              "changed while the models were timed (comparing their best runs limits this "
              "but does not remove it).")
vanilla_params = counts[("vanilla", 2)]
say(f"""
* Looping adds depth (`NL · L`) without adding parameters ({vanilla_params:,} for
  vanilla and for loop-2, 3 and 4 alike), and loop-2 is *exactly* a `2·NL`-layer
  transformer with tied blocks (largest logit difference {tied_diff:.1e}).
* Decoding pays for the depth: the trace shows `L` passes per token. On this run loop-2,
  3 and 4 took {ratios[2]:.2f}x, {ratios[3]:.2f}x and {ratios[4]:.2f}x vanilla's time per
  token. {why_ratios}
* Memory pays too: `L` full KV caches, `L · n_pos · c` bytes, `L` times vanilla's (the
  memory table, docs/method.md §8).

The Parallel Loop Transformer keeps the depth and removes both costs: cross-loop
parallelism turns `L` passes into one (lesson 03), and KV sharing with a gated
sliding window brings the cache back to about vanilla's size (lesson 04).
""")
