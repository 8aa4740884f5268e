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
# # 04 · KV sharing and gated sliding-window attention (G-SWA)
#
# *minplt lessons. The method: "Parallel Loop Transformer for Efficient Test-Time
# Computation Scaling" (arXiv 2510.24824, 2025). Symbols and code names:
# [the notation table](../docs/method.md#1-notation).*
#
# **After this lesson you can**
# - say which keys and values each loop of each family writes and reads, and compute
#   the KV cache bytes of a family from its flags;
# - find the ring-buffer slot of position `t` for a window `W`, and predict which slots a
#   decode step reads and which it overwrites;
# - read a decode step by step in a PLT-3: the shared cache and the window rings;
# - read the G-SWA gates of a trained PLT (here on the sort task) and say what a gate
#   near 1 or near 0 means.
#
# **Prerequisites:** lesson 02 (a looped model keeps a KV cache per loop: `L` times
# vanilla's memory), lesson 03 (CLP, the parallel schedule, the decode step-through);
# attention with a causal mask (lesson 00); NumPy.
#
# **Time:** about 30 minutes to read and work through; running it takes about 2 minutes
# on a 2-core CPU (full version, which trains a tiny PLT for 3000 steps; machines
# differ), about 1 minute for the lecture version (`MINPLT_LECTURE=1`, which trains
# fewer steps), seconds with `MINPLT_FAST=1`.
#
# Lesson 03 cut the passes per token from `L` to one. It did not make a token as cheap
# as vanilla's: its timing table put the parallel schedule between vanilla and the
# sequential schedule, by ratios that vary with the machine, its load and how NumPy
# multiplies a few rows (lesson 05 measures why). And every loop still keeps a full KV
# cache: `L` times vanilla's memory. PLT removes that in two steps:
#
# * **KV sharing**: loops `2..L` compute only queries and attend to **loop 1's** keys
#   and values. They store nothing: the cache is vanilla's size.
# * **G-SWA**: sharing loses each later loop's own view of the past, so loops `2..L`
#   add a **local** branch over their own last `W` keys and values (a ring buffer of
#   `W` slots), mixed with the global branch by a learned gate per head:
#
#       y = g · y_glob + (1 - g) · y_loc,     g = sigmoid(a gate_w + gate_b)
#
#   where `a` (C,) is the block's normed input at that position, `gate_w` (C, H) and
#   `gate_b` (H,) are one layer's gate parameters, and `g` (H,) holds one gate per head.
#
# With CLP, KV sharing and G-SWA together the family is `plt`.
#
# **Loops in prose and in code.** Loops are numbered `1..L` in the text, from 0 in the
# code: loop `l` is `fwd.loops[l-1]` in the training forward, and its full cache, when
# it has one, is `cache.k[l-1]` (with sharing only loop 1's, `cache.k[0]`, exists). The
# rings belong to loops `2..L`, so loop `l`'s ring is `cache.k_ring[l-2]`.
#
# This notebook shows what each loop reads and writes, measures the cache of every
# family against the model's memory table, watches the ring buffer fill and wrap, steps
# through a decode to see which cache entries each step writes and reads, and trains a
# tiny PLT-2 on the **sort task** (`hvayeiix=` → `aehiivxy`) to look at its learned
# gates and attention.

# %%
import time

from lesson_setup import FAST, LECTURE, M, claim, data, must, np, plt, say   # lessons/lesson_setup.py
from minplt import train
from visualizations import kv_layout, charts
from IPython.display import display

# %% [markdown]
# ## Who keeps which keys and values
#
# One row of boxes per loop; a filled box is a position whose keys and values that
# loop keeps (`T` = 12 positions, `L` = 3 loops, `W` = 4, `c` = bytes per position
# for the `small` preset: K and V, 4 layers, 128 channels, float32).

# %%
small = M.make_config("plt", 3, "small", vocab_size=40, window=4)
c = 2 * small.n_layer * small.n_embd * 4
kv_layout.plot_kv_layout(12, 3, 4, c)

# %% [markdown]
# ## The memory table, measured
#
# For every family of docs/method.md §3 with `L = 3`, prefill a prompt of `T` positions
# and count the bytes the decode cache holds (`M.kv_cache_bytes`), next to the model's
# formula (`M.kv_cache_bytes_formula`) and the ratio to vanilla. The carried states of
# CLP, `(L-1)` vectors of `C` values, are listed beside the cache, not in it.

# %%
V, L, W = 40, 3, 16
T = 64 if FAST else 200
prompt = np.random.default_rng(0).integers(0, V, T)
families = ["vanilla", "loop", "loop+clp", "loop+clp+kvshare", "plt", "loop+kvshare", "loop+kvshare+gswa"]
print(f"T = {T} positions, L = {L}, W = {W}, preset small\n")
print(f"{'family':18s} {'measured':>10s} {'formula':>10s}   {'':24s} {'x vanilla':>9s} {'carried':>8s}")
measured, formula = {}, {}
for family in families:
    cfg = M.make_config(family, None if family == "vanilla" else L, "small", vocab_size=V, window=W)
    _, cache = M.prefill(M.init_params(cfg), cfg, prompt)
    measured[family] = M.kv_cache_bytes(cfg, cache)
    formula[family] = M.kv_cache_bytes_formula(cfg, T)
    print(f"{family:18s} {measured[family]:10,} {formula[family]:10,}   {kv_layout.formula_text(family):24s} "
          f"{measured[family] / measured['vanilla']:9.3f} {M.carried_bytes(cfg, cache):8,}")
print()
must("the bytes every family's cache holds equal the memory table", measured == formula)
c_small = measured["vanilla"] // T                                     # bytes per position
must("c = 2 NL C bytes_per_value (K and V of every layer)", c_small == 2 * 4 * 128 * 4, c=c_small)
must("PLT holds T c + (L-1) min(T,W) c", measured["plt"] == (T + (L - 1) * min(T, W)) * c_small);

# %% [markdown]
# As the sequence grows, PLT's extra cost stays at `(L-1) · W · c`: a constant, so
# its ratio to vanilla tends to 1, while the looped model without sharing stays at `L`.

# %%
kv_layout.plot_memory_growth(L, W, 2 * small.n_layer * small.n_embd * 4, max_positions=1024)

# %% [markdown]
# ## The window ring buffer
#
# Loop `l >= 2` keeps its last `W` keys and values in `W` slots; position `t` goes to
# slot `t % W`, overwriting position `t - W`, which has just left the window. We decode
# a PLT-2 with `W = 4` one token at a time from an empty cache and, after each step,
# identify which position's key sits in each slot (by matching the slot against loop 2's
# keys from the training forward over the same tokens).

# %%
cfg = M.make_config("plt", 2, "tiny", vocab_size=V, window=4, dtype="float64")
rng = np.random.default_rng(1)
params = {k: (v if v.ndim == 1 else rng.normal(0, 0.3, v.shape)) for k, v in M.init_params(cfg).items()}
seq = rng.integers(0, V, 10)
loop2_keys = M.forward(params, cfg, seq[None])[2].loops[1].layers[0].k[0]   # loop 2, layer 0: (H,T,D)
cache = M.new_cache(cfg, capacity=len(seq))
print(f"ring buffer k_ring: {cache.k_ring.shape} = (L-1, NL, B, H, W, D)\n")
print("after t   slot 0  slot 1  slot 2  slot 3")
held = []                                        # held[t][slot]: the position in the slot, or None
for t, tok in enumerate(seq):
    M.step(params, cfg, cache, int(tok))
    slots = []
    for slot in range(cfg.window):
        key = cache.k_ring[0, 0, 0, :, slot]                          # loop 2's ring, layer 0: (H,D)
        match = [s for s in range(t + 1) if np.allclose(key, loop2_keys[:, s], atol=1e-12)]
        slots.append(match[0] if match else None)
    held.append(slots)
    print(f"{t:7d}   " + "  ".join(f"{'-' if s is None else f't={s}':>6s}" for s in slots))
W4 = cfg.window
want = [[max((p for p in range(t + 1) if p % W4 == slot), default=None) for slot in range(W4)]
        for t in range(len(seq))]
must("after step t, slot s holds the latest position p <= t with p % W = s", held == want);

# %% [markdown]
# The local branch of loop 2 thus sees at most `W` keys: in the training forward its
# attention map (`probs_loc`) is a band of width `W`, while the global branch
# (`probs`, over loop 1's keys) is the full causal triangle:

# %%
fwd = M.forward(params, cfg, seq[None])[2]
layer = fwd.loops[1].layers[0]                                         # loop 2, layer 0
seen_local, seen_global = (layer.probs_loc[0, 0] > 0).sum(-1), (layer.probs[0, 0] > 0).sum(-1)
print("keys seen by each query, local: ", seen_local)
print("keys seen by each query, global:", seen_global)
positions = np.arange(len(seq))
must("the local branch at t sees min(t+1, W) keys, the global one t+1",
     np.array_equal(seen_local, np.minimum(positions + 1, W4)) and np.array_equal(seen_global, positions + 1));

# %% [markdown]
# ## Step by step: which entries each step writes and reads
#
# The table above says where each position's keys sit; stepping through a decode with
# `visualizations.stepper.DecodeStepper` (as in lesson 03, which stepped through a
# `loop+clp-3` with a full cache per loop) also shows which entries a step *uses*. A
# PLT-3 with `W = 4` decodes 8 tokens after a prompt of 2 (`M.prefill`, then `M.step`).
# One row of boxes per cache: loop 1's full cache (one box per position), which every
# loop reads now, and the rings of loops 2 and 3 (one box per slot, labelled with the
# position it holds).
#
# * **orange**: written by the step: the entries whose values changed in `cache`;
# * **blue**: read by the step, measured: the entries whose keys and values, when
#   changed in a copy of the cache, change what the step produces (logits, carried
#   states, the entries it writes).
#
# What to look for: every step writes position `t` of loop 1's cache and slot `t % W`
# of each ring; it reads every earlier position of loop 1's cache (loop 1 directly,
# loops 2 and 3 through their global branch) but, of a ring, only the slots of the last
# `W - 1` positions. The slot it overwrites held position `t - W`, which has just left
# the window, so it is not read: from step 3 on, the ring is full and wraps.

# %%
from visualizations.stepper import DecodeStepper

cfg3 = M.make_config("plt", 3, "tiny", vocab_size=V, window=4)
stepper = DecodeStepper(M.init_params(cfg3, seed=0), cfg3, np.array([5, 6]), 8)
def plt_rule(t, L=3, W=4):
    """(written, read) entries of the step at position t in a PLT-L with window W."""
    rings = range(2, L + 1)
    written = {("cache", 1, t)} | {("ring", l, t % W) for l in rings}
    read = {("cache", 1, p) for p in range(t)} | {("ring", l, p % W) for l in rings
                                                  for p in range(max(0, t - W + 1), t)}
    return written, read
must("every step writes position t of loop 1's cache and slot t % W of each ring, and reads "
     "positions 0..t-1 of loop 1's cache and the ring slots of t-W+1..t-1",
     all((f.written, f.read) == plt_rule(f.position) for f in stepper.frames[1:]))
print()
for k in range(len(stepper.frames)):
    print(stepper.describe(k))
stepper.plot_steps(columns=2, grid=False)

# %% [markdown]
# The same steps with a slider, and the (token, loop) grid above the caches: in
# JupyterLab (`make lab`) run the cell and drag the slider, press play, or use the
# buttons. (Without a running kernel the cell shows a line of text instead; the figure
# above is the same steps.)

# %%
stepper.widget()

# %% [markdown]
# One step in three families with `L = 3` (decode step 4, position `t = 5`): the looped
# transformer keeps a full cache per loop and each loop writes and reads its own; with
# KV sharing only loop 1's cache exists and every loop reads it; PLT adds the rings.

# %%
fig, described = plt.figure(figsize=(7, 6.8), layout="constrained"), []
for sub, family in zip(fig.subfigures(3, 1, height_ratios=[2.4, 1.6, 2.4]), ["loop", "loop+clp+kvshare", "plt"]):
    c = M.make_config(family, 3, "tiny", vocab_size=V, window=4)
    one = DecodeStepper(M.init_params(c, seed=0), c, np.array([5, 6]), 8)
    described.append(c.variant + "\n" + one.describe(4).split("\n", 1)[1])
    one.draw(4, sub, grid=False)
    sub.axes[0].set_title(f"{c.variant}: decode step 4 (t = 5)", fontsize=9)
stepper.legend(fig)
print("\n\n".join(described))
plt.show()

# %% [markdown]
# ## A trained PLT: what do the gates learn?
#
# The gate starts at exactly 0.5 for every head and position (`gate_w = 0`,
# `gate_b = 0`). Train a tiny PLT-2 on the **sort task** (`hvayeiix=` → `aehiivxy`: a
# task a tiny model learns in a few thousand steps, so the gates and maps below are
# those of a model that works, as the accuracy printed below says; the full version
# trains 3000 steps, the lecture version 1500, the quick one 100) and read the gates from the training forward's saved activations:
# `gate = sigmoid(a gate_w + gate_b)`, shape `(B, T, H)`, for loop 2 in every layer. A
# gate near 1 means the head uses the global branch (loop 1's keys over the whole past);
# near 0, its own sliding window.

# %%
task = data.make_task("sort", length=8)
cfg = M.make_config("plt", 2, "tiny", vocab_size=task.vocab_size, block_size=task.block_size, window=4)
steps = 100 if FAST else 1500 if LECTURE else 3000
val = task.get_batch("val", 256, np.random.default_rng(7))

untrained = M.init_params(cfg, seed=0)
gates0 = np.stack([l.gate for l in M.forward(untrained, cfg, val[0])[2].loops[1].layers])
must("before training every gate is exactly 0.5", np.all(gates0 == 0.5),
     smallest=gates0.min(), largest=gates0.max())

t0 = time.perf_counter()
result = train.train(cfg, task, steps=steps, batch_size=32, lr=3e-3, warmup=50,
                     eval_every=max(steps // 5, 1), log_every=10 ** 9, log=print)
seconds = time.perf_counter() - t0
print(f"trained {steps} steps in {seconds:.0f} s (this machine, under its load)")
accuracy = 100 * result.val_acc
claim("the trained PLT-2 sorts at least 90% of the validation questions exactly right",
      accuracy >= 90, accuracy_percent=accuracy, steps=steps);

# %%
logits, _, fwd = M.forward(result.params, cfg, val[0], val[1])
gates = np.stack([l.gate for l in fwd.loops[1].layers])       # loop 2, every layer: (NL, B, T, H)
answer_pos = val[2]                                                    # (B,T) where answer letters are predicted
mean_all = gates.mean(axis=(1, 2))                                     # (NL, H)
mean_answer = gates[:, answer_pos].mean(axis=1)                        # (NL, H)
print("mean gate of loop 2, per layer (rows) and head (columns), all positions:\n", mean_all)
print("at the positions that predict the answer:\n", mean_answer)
spread = gates.std(axis=2).mean()
gate_answer, gate_other = gates[:, answer_pos].mean(), gates[:, ~answer_pos].mean()
claim("training moved the gates away from 0.5: they vary over positions", spread > 0.05,
      std_over_positions=spread)
claim("the positions that predict the answer lean more on the global branch than the others",
      gate_answer > gate_other, mean_gate_answer=gate_answer, mean_gate_other=gate_other)
fig, axes = plt.subplots(1, 2, figsize=(10, 2.8), layout="constrained")
charts.plot_gates(mean_all, ax=axes[0], title="mean gate, all positions")
charts.plot_gates(mean_answer, ax=axes[1], title="mean gate, answer positions")
plt.show()

# %% [markdown]
# The gate of one example, position by position (every layer, loop 2):

# %%
b = 0
text = task.tokenizer.decode(val[0][b])
fig, axes = plt.subplots(1, cfg.n_layer, figsize=(4.5 * cfg.n_layer, 6), layout="constrained")
for j, ax in enumerate(axes):
    charts.plot_gates(gates[j, b], ax=ax, row_label="position (character)", title=f"layer {j}")
    ax.set_yticks(range(len(text)), [f"{t} {ch}" for t, ch in enumerate(text)], fontsize=7)
plt.show()
print(text, "-> answer", task.tokenizer.decode(val[1][b][val[2][b]]),
      "| predicted", task.tokenizer.decode(logits[b].argmax(-1)[val[2][b]]))

# %% [markdown]
# And the attention maps of that example in the last layer: loop 1 over its own keys,
# then loop 2's global branch over **loop 1's** keys and its local window over its own.
# (Layers are counted from 0, as in the parameter names `layers.j.*`.)

# %%
j = cfg.n_layer - 1
for h in range(2):                                   # one figure per head: loop 1 | loop 2 global | loop 2 local
    maps = [fwd.loops[0].layers[j].probs[b, h],
            fwd.loops[1].layers[j].probs[b, h],
            fwd.loops[1].layers[j].probs_loc[b, h]]
    display(charts.plot_attention(maps, [f"layer {j}, head {h}: loop 1", "loop 2, global (loop 1's keys)",
                                         f"loop 2, local (own last W={cfg.window})"], labels=text))

# %% [markdown]
# ## Exercises
#
# Each check tells you whether your answer is right. Worked solutions:
# [solutions/ex04.py](solutions/ex04.py) (try first).
#
# **1. Implement the ring-buffer index.** Write `ring_slot(t, W)`: the slot of a ring of
# `W` slots that position `t` is written to. The check decodes a PLT-2 and compares
# your slot with the slot whose keys each step changed.

# %%
from exercises.ex04 import check_ring_slot
def ring_slot(t, W):
    ...                           # your code
check_ring_slot(None)             # replace None with ring_slot, then run

# %% [markdown]
# **2. Predict which slots a step reads.** Write `ring_reads(t, W)`: the positions whose
# ring slots (of loop 2) the decode step at position `t` reads, as a sorted list. Look
# at the step-through above before you answer: is the slot being overwritten read? Is
# position `t` itself in the list? (The stepper counts an entry the step writes as
# written, not as read.) The check measures the reads with `DecodeStepper`.

# %%
from exercises.ex04 import check_ring_reads
def ring_reads(t, W):
    ...                           # your code
check_ring_reads(None)            # replace None with ring_reads, then run

# %% [markdown]
# **3. The KV bytes of a new family.** Imagine a family where the odd loops `1, 3, 5, ...`
# keep their own full KV caches, and each even loop `2, 4, ...` reads the full cache of
# the loop just below it and keeps a G-SWA ring of its own last `W` positions. Write
# `alternating_bytes(L, T, W, c)`: the KV cache bytes of one sequence of `T` positions
# with `L` loops and `c` bytes per position (the carried states do not count). The
# check compares it with the pieces of `M.kv_cache_bytes_formula` for several `L`, `T`, `W`.

# %%
from exercises.ex04 import check_kv_bytes
def alternating_bytes(L, T, W, c):
    ...                           # your code
check_kv_bytes(None)              # replace None with alternating_bytes, then run

# %% [markdown]
# ## Summary
#
# * With KV sharing, loops `2..L` store no keys or values; G-SWA adds a ring buffer of
#   `W` positions per extra loop. The measured cache bytes equal the model's table for
#   every family (checked above): `loop` and `loop+clp` hold `L T c`, the sharing
#   families `T c`, and PLT `T c + (L-1) min(T, W) c`, whose ratio to vanilla tends to
#   1 as the sequence grows.
# * The ring buffer keeps exactly the last `W` positions, position `t` in slot `t % W`,
#   and the local attention map is a band of width `W`.
# * Stepped through, each decode step writes position `t` of loop 1's cache and slot
#   `t % W` of each ring, and reads every earlier position of loop 1's cache but only
#   the ring slots of the last `W - 1` positions (measured, not assumed); a looped model
#   without sharing writes and reads `L` full caches instead.
# * The gates start at exactly 0.5 and move during training, differently per layer, head
#   and position. What they learn is this run's, from a tiny model trained briefly on
#   the sort task:

# %%
say(f"* This run trained {steps} steps in {seconds:.0f} s to **{accuracy:.1f}%** of validation "
    f"questions exactly sorted. The mean gate of loop 2 was **{gate_answer:.2f}** at the "
    f"positions that predict the sorted answer and **{gate_other:.2f}** at the others (0.5 before "
    "training). "
    + ("The answer positions leaned more on the global branch, which fits the task: the next "
       "letter of the answer may sit anywhere in the question, visible only in loop 1's "
       "global cache, while the local window holds the last few characters."
       if gate_answer > gate_other else
       "On this run the answer positions did not lean more on the global branch than the "
       "others: a tiny model's gates vary with the seed and the steps trained.")
    + f" PLT-{L}'s cache at {T} positions was {measured['plt'] / measured['vanilla']:.3f}x "
    f"vanilla's, loop-{L}'s {measured['loop'] / measured['vanilla']:.0f}x.")
