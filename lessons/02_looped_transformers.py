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
# A looped transformer applies the **same** stack of `NL` blocks `L` times:
# `h^(1) = S(E)`, `h^(2) = S(h^(1))`, ... It has the depth of an `L·NL`-layer model
# and the parameters of an `NL`-layer one. This notebook measures
#
# 1. the parameters: the same for every `L`;
# 2. that loop-2 *is* a `2·NL`-layer transformer whose layers `j` and `j+NL` share
#    weights (identical logits);
# 3. the price when decoding: **L sequential passes per token** (from the decode
#    trace, and in milliseconds) and an **L-fold KV cache** (in bytes): every loop has
#    its own keys and values.
#
# Lesson 03 removes the first cost, lesson 04 the second.

# %%
from lesson_setup import FAST, M, data, decode_times, np, plt   # lessons/lesson_setup.py
from minplt import timing
from visualizations import schedule

# %% [markdown]
# ## Parameters: the same for every L

# %%
V = 40
rows = [("vanilla", None, 2), ("loop", 2, 2), ("loop", 3, 2), ("loop", 4, 2),
        ("vanilla", None, 4), ("vanilla", None, 8)]
print(f"{'model':18s} {'NL':>3s} {'L':>3s} {'depth NL*L':>11s} {'parameters':>11s}")
for family, loops, n_layer in rows:
    cfg = M.make_config(family, loops, "tiny", vocab_size=V, n_layer=n_layer)
    n = M.count_params(M.init_params(cfg))
    print(f"{cfg.variant:18s} {n_layer:3d} {cfg.n_loops:3d} {n_layer * cfg.n_loops:11d} {n:11,}")

# %% [markdown]
# ## Loop-2 is a deeper model with tied weights
#
# Without cross-loop parallelism (the vanilla looped transformer), loop 2's input is
# loop 1's output at the same position, `u^(2)_t = h^(1)_t`. So loop-2 with `NL`
# blocks computes exactly what a plain `2·NL`-block transformer computes when block
# `j + NL` is a copy of block `j`. Measured in float64:

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
diff = np.abs(M.forward(p_loop, looped, tokens)[0] - M.forward(p_deep, deep, tokens)[0]).max()
print(f"loop-2 (NL={looped.n_layer}) vs vanilla (NL={deep.n_layer}, tied): max |logit difference| = {diff:.1e}")
print(f"parameters: {M.count_params(p_loop):,} (looped) vs {M.count_params(M.init_params(deep)):,} (untied deep model)")

# %% [markdown]
# ## Price 1: L passes per token
#
# Decoding a token with a looped model means running loop 1 on it, then loop 2 on
# loop 1's output, and so on: `L` passes through the stack, one after another, each
# reading every weight. The decode cache keeps a `trace` of which `(position, loop)`
# cells each pass computed. Here is loop-3 decoding 3 tokens after a prompt of 4:

# %%
cfg = M.make_config("loop", 3, "tiny", vocab_size=V)
params = M.init_params(cfg, seed=0)
new, cache = M.generate(params, cfg, np.array([1, 2, 3, 4]), 4, return_cache=True)
for i, cells in enumerate(cache.trace):
    kind = "prefill" if i < cfg.n_loops else "decode "
    print(f"pass {i + 1:2d} ({kind}): {schedule.describe_pass(cells)}")
print(f"\npasses per decoded token: {schedule.passes_per_token(cache.trace)}")
assert cache.trace == schedule.expected_trace(7, 3, "sequential", prompt_len=4)
fig, ax = plt.subplots(figsize=(6, 2.6))
schedule.draw_schedule(ax, 7, 3, clp=False, trace=cache.trace, prompt_len=4)
ax.set_title("loop-3: numbers are pass numbers; each decoded token takes 3 passes", fontsize=10)
plt.show()


# %% [markdown]
# In milliseconds: decode the same tokens with vanilla, loop-2, loop-3 and loop-4 on
# the `small` preset (C=128, NL=4), NumPy backend, one sequence. Each model decodes
# after the same prompt; we time the decode steps only (not the prefill), run the
# four models in turn several times and keep each one's best run (other programs on
# the machine can only add time).

# %%
n_steps, repeats = (10, 2) if FAST else (64, 5)
prompt = np.random.default_rng(0).integers(0, V, 32)
models = {}
for loops in (1, 2, 3, 4):
    cfg = M.make_config("vanilla" if loops == 1 else f"loop-{loops}", preset="small",
                        vocab_size=V)
    models[loops] = (cfg, M.init_params(cfg, seed=0))
times = {loops: [] for loops in models}
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
# caches, `cache.k.shape[0] == L`. The bytes above are exactly `L` times vanilla's,
# which is the memory table of docs/method.md §8, `L · N · c` with `c = 2 · NL · C · 4` bytes.

# %%
for loops in (2, 3, 4):
    cfg = M.make_config("loop", loops, "small", vocab_size=V)
    c = 2 * cfg.n_layer * cfg.n_embd * 4
    n = results[loops]["n"]
    print(f"loop-{loops}: cache.k holds {loops} full caches; measured {results[loops]['kv']:,} bytes, "
          f"L*N*c = {loops}*{n}*{c} = {loops * n * c:,}, formula {M.kv_cache_bytes_formula(cfg, n):,}")

# %% [markdown]
# ## Summary
#
# * Looping adds depth (`NL · L`) without adding parameters, and loop-2 is *exactly*
#   a `2·NL`-layer transformer with tied blocks (logit difference ~`1e-15`).
# * Decoding pays for the depth: the trace shows `L` passes per token, and each extra
#   loop adds the time of one more pass to every token (the parts of a step paid once,
#   such as the output head and Python's overhead, keep the total below `L ×`).
# * Memory pays too: `L` full KV caches, `L` times vanilla's bytes, as in the memory table (docs/method.md §8).
#
# The Parallel Loop Transformer keeps the depth and removes both costs: cross-loop
# parallelism turns `L` passes into one (lesson 03), and KV sharing with a gated
# sliding window brings the cache back to about vanilla's size (lesson 04).
