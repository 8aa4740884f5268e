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
# # 03 · Cross-loop parallelism: one pass per token
#
# *minplt lessons. The method: "Parallel Loop Transformer for Efficient Test-Time
# Computation Scaling" (arXiv 2510.24824, 2025). Symbols and code names:
# [the notation table](../docs/method.md#1-notation).*
#
# **After this lesson you can**
# - write the cross-loop parallel (CLP) input of every loop, and check it in the
#   training forward's saved activations;
# - explain why the `L` loops of one token can then run as one pass of `L` rows, and
#   count the passes per token of each schedule from `cache.trace`;
# - read a decode step by step: which (token, loop) cells it computes, which cache
#   entries it writes and which it reads;
# - show that the parallel and sequential schedules compute the same logits, and say
#   what the parallel one costs per token on this machine and why that varies.
#
# **Prerequisites:** lesson 00 (RMSNorm, the KV cache, decoding with `M.prefill` and
# `M.step`), lesson 02 (a looped model runs its `L` loops one after another: `L` passes
# per token and a KV cache per loop); NumPy.
#
# **Time:** about 25 minutes to read and work through; running it takes about a minute
# on a 2-core CPU (full version; machines differ), seconds with `MINPLT_FAST=1`.
#
# In a looped transformer, loop `l` at position `t` needs loop `l-1` at the **same**
# position, so the `L` loops of a new token run one after another (lesson 02).
# Cross-loop parallelism (CLP) moves that dependency **one position back**:
#
#     u^(1)_t = E_t
#     u^(l)_t = E_t + N(h^(l-1)_{t-1})        l = 2..L,   h^(l-1)_{-1} := 0
#
# `E_t` is the embedding of token `x_t`, `u^(l)` what enters loop `l` and `h^(l)` what
# leaves it, and `N(h)` is RMSNorm with the gain of the final norm, `norm_f` (the same
# norm that precedes the head). Now the cells `(t, 1), (t, 2), ..., (t, L)` of the
# (token, loop) grid depend only on position `t-1`, not on each other, so one pass
# through the stack with `L` rows computes them all. The chain of one prediction runs
# along the **diagonal**: the state that predicts `x_{t+1}` began as token `x_{t-L+1}`
# in loop 1 and was refined by one loop per position.
#
# CLP is one of three changes the paper makes; the model with CLP alone is the family
# `loop+clp`. The other two, sharing loop 1's keys and values and a gated sliding window
# (G-SWA), are lesson 04's; with all three the family is `plt`. This lesson uses
# `loop+clp-3`, so every loop keeps its own full KV cache, as in lesson 02.
#
# **Loops in prose and in code.** Loops are numbered `1..L` in the text and the
# formulas, and from 0 in the code: loop `l` is `fwd.loops[l-1]` in the training
# forward, and `cache.k[l-1]` is its decode cache. The carried states are
# `cache.carried[i] = h^(i+1)_{t-1}` for `i = 0..L-2`, so loop `l >= 2` reads
# `cache.carried[l-2]`.
#
# This notebook draws both schedules on the grid, checks the shift in the training
# forward, steps through a `loop+clp-3` decode one token at a time, checks that the
# parallel and sequential schedules give the same logits, and measures what each costs.

# %%
from lesson_setup import FAST, LECTURE, M, claim, decode_times, must, np, plt, say   # lessons/lesson_setup.py
from minplt import timing
from visualizations import schedule

# %% [markdown]
# ## The two schedules on the grid
#
# Position `t` runs across, loop `l` up. The number in a cell is the pass through the
# shared stack that computes it; arrows are what a loop's input depends on (attention
# to earlier positions is not drawn: every cell may read all earlier positions).
# Left, the looped transformer: vertical arrows, `L` passes per token. Right, CLP:
# diagonal arrows, one pass per token, computing a whole column.

# %%
schedule.plot_schedule(8, 3)

# %% [markdown]
# ## The shift, in the training forward
#
# In training the loops still run one after another over the whole sequence (the
# teacher-forced sequence is known in advance), so the shift is a slice: in
# `M.forward`, `shifted[:, 1:] = N(h^(l-1))[:, :-1]` and `shifted[:, 0] = 0`. The
# forward keeps each loop's input `u` and output `h`; on a `loop+clp-3` in float64
# with random weights:

# %%
V = 40
cfg = M.make_config("loop+clp", 3, "tiny", vocab_size=V, dtype="float64")
rng = np.random.default_rng(0)
params = {k: (v if v.ndim == 1 else rng.normal(0, 0.3, v.shape)) for k, v in M.init_params(cfg).items()}
seq = rng.integers(0, V, 12)
logits_fwd, _, fwd = M.forward(params, cfg, seq[None])
E = params["wte"][seq]                                                 # (T,C)
for l in (2, 3):                                                       # loops, 1-based
    u = fwd.loops[l - 1].u[0]                                          # u^(l), (T,C)
    h_prev = fwd.loops[l - 2].h[0]                                     # h^(l-1), (T,C)
    Nh = M.rmsnorm_rows(h_prev, params["norm_f"], cfg.norm_eps)        # N(h^(l-1))
    shift_err = np.abs(u[1:] - E[1:] - Nh[:-1]).max()
    must(f"loop {l}: u^({l})_t = E_t + N(h^({l-1})_(t-1)) for t >= 1", shift_err < 1e-12,
         max_abs_error=shift_err)
    must(f"loop {l}: u^({l})_0 = E_0 (h_(-1) = 0)", np.array_equal(u[0], E[0]))


# %% [markdown]
# **The diagonal chain, measured.** Attention lets every cell read all earlier
# positions, which hides the hand-over between loops. Switch attention off (set every
# `wo` to 0, so each block is just its MLP) and what is left is the chain itself. Then
# change one token `x_s` and see which final outputs `h^(L)_t` move. With CLP, `h^(3)_t`
# should depend on exactly `x_{t-2}, x_{t-1}, x_t` (loop 1 at `t-2`, loop 2 at `t-1`,
# loop 3 at `t`); in a loop-3 without CLP, on `x_t` alone.

# %%
def chain_dependence(cfg, params, seq):
    """(T, T) bool: entry [t, s] is True when changing x_s changes h^(L)_t."""
    no_attention = {k: (np.zeros_like(v) if k.endswith(".wo") else v) for k, v in params.items()}
    base = M.forward(no_attention, cfg, seq[None])[2].loops[-1].h[0]
    depends = np.zeros((len(seq), len(seq)), bool)
    for s in range(len(seq)):
        changed = seq.copy(); changed[s] = (changed[s] + 1) % cfg.vocab_size
        h = M.forward(no_attention, cfg, changed[None])[2].loops[-1].h[0]
        depends[:, s] = np.abs(h - base).max(axis=-1) > 1e-12
    return depends

def band(T, width):
    """[t, s] True for t-width < s <= t: the tokens x_(t-width+1)..x_t."""
    t, s = np.indices((T, T))
    return (s <= t) & (s > t - width)

cfg_loop = M.make_config("loop", 3, "tiny", vocab_size=V, dtype="float64")
fig, axes = plt.subplots(1, 2, figsize=(9, 4))
chains = [("loop+clp-3 (CLP)", cfg, 3, "x_(t-2), x_(t-1), x_t"), ("loop-3 (no CLP)", cfg_loop, 1, "x_t")]
for ax, (name, c, width, tokens) in zip(axes, chains):
    dep = chain_dependence(c, params, seq)                             # the same weights
    print(f"{name:17s} h^(3)_11 depends on tokens {np.flatnonzero(dep[11]).tolist()}")
    must(f"{name}: at every t, h^(3)_t depends on exactly {tokens}",
         np.array_equal(dep, band(len(seq), width)))
    ax.imshow(dep, cmap="Blues", vmin=0, vmax=1.4)
    ax.set(title=f"{name}, attention off", xlabel="changed token s", ylabel="output h^(3)_t")
plt.show()

# %% [markdown]
# ## Stepping through a decode
#
# `M.prefill` runs the training computation over the prompt (one pass per loop over
# all prompt positions) and keeps, besides the caches, the **carried states**
# `h^(1)_{P-1}, ..., h^(L-1)_{P-1}` (`P` = prompt length): the states the next
# position's loops `2..L` start from. Then each `M.step(..., "parallel")` builds an
# `(L, C)` matrix of rows (rows numbered like the loops, `1..L`)
#
#     row 1: E_t
#     row l: E_t + N(h^(l-1)_{t-1})     = E_t + N(cache.carried[l-2])      l = 2..L
#
# runs it through the stack once, takes the logits from row `L`, and keeps rows
# `1..L-1` as the new carried states: `cache.carried[i] = h^(i+1)_t`. `cache.trace`
# records the cells of every pass. Here is a `loop+clp-3` decoding 5 tokens after a
# prompt of 3:

# %%
L = 3
cfg32 = M.make_config("loop+clp", L, "tiny", vocab_size=V)
p32 = M.init_params(cfg32, seed=0)
P, n_new = 3, 5
prompt = np.array([5, 6, 7])
logits, cache = M.prefill(p32, cfg32, prompt, capacity=P + n_new)
fwd32 = M.forward(p32, cfg32, prompt[None])[2]
print(f"prefill: {len(cache.trace)} passes; carried states {cache.carried.shape} = (L-1, B, C), B = 1 sequence")
must("after the prefill, cache.carried[i] = h^(i+1)_(P-1), i = 0..L-2",
     all(np.allclose(cache.carried[i, 0], fwd32.loops[i].h[0, P - 1]) for i in range(L - 1)))
token = int(np.argmax(logits))
for _ in range(n_new):
    logits = M.step(p32, cfg32, cache, token, "parallel")
    print(f"step at t={cache.trace[-1][0][0]}: one pass computes {cache.trace[-1]}")
    token = int(np.argmax(logits))
expected = schedule.expected_trace(P + n_new, L, "parallel", prompt_len=P)
must("the trace is the parallel schedule: a pass per loop over the prompt, then one pass "
     "of L cells per token", cache.trace == expected,
     passes_per_token=schedule.passes_per_token(cache.trace));

# %% [markdown]
# ### Step by step: cells computed, cache entries written and read
#
# `visualizations.stepper.DecodeStepper` runs the same decode (`M.prefill`, then
# `M.step`) and records every step as the model ran it. Each frame below shows the
# grid as computed so far, with this step's cells framed in black, and under it the
# caches: one row per loop (a `loop+clp` model keeps a full KV cache per loop), one box
# per position, under the grid's columns.
#
# * **orange**: written by this step: the entries of `cache` whose values changed;
# * **blue**: read by this step, *measured*: the stepper gives each entry other keys
#   and values in a copy of the cache, runs the step again and marks the entries whose
#   change changes its result (logits, carried states or the entries it writes).
#
# What to look for: the step at position `t` writes position `t` of every loop's cache
# and reads positions `0..t-1` of every loop's cache. (Position `t` is attended to as
# well: the pass writes it before it attends. It is drawn as written.) In the code
# (`M.stack_rows`), the row of loop `l` attends to loop `l`'s own cache; in lesson 04
# the loops will share one.

# %%
from visualizations.stepper import DecodeStepper

stepper = DecodeStepper(p32, cfg32, prompt, n_new)          # the decode above, step by step
must("the frames' cells are cache.trace", [c for f in stepper.frames for c in f.passes] == cache.trace)
rule = [({("cache", l, f.position) for l in range(1, L + 1)},
         {("cache", l, p) for l in range(1, L + 1) for p in range(f.position)}) for f in stepper.frames[1:]]
must("every step writes position t of each loop's cache and reads positions 0..t-1 of each",
     all((f.written, f.read) == r for f, r in zip(stepper.frames[1:], rule)))
print()
for k in range(len(stepper.frames)):
    print(stepper.describe(k))
stepper.plot_steps()

# %% [markdown]
# The same frames with a slider: in JupyterLab (`make lab`) run the cell, then drag the
# slider, press play, or step with the buttons. Each position of the slider redraws the
# frame from the recorded step. (Without a running kernel, for example on a page that
# only displays the notebook, the cell shows a line of text instead: the figure above
# is the same steps.)

# %%
stepper.widget()

# %% [markdown]
# A CLP model can also be decoded with the **sequential** schedule: the same cells,
# one loop per pass. Its trace has `L` passes per token:

# %%
_, seq_cache = M.generate(p32, cfg32, prompt, n_new + 1, schedule="sequential", return_cache=True)
for cells in seq_cache.trace[:P + 6]:
    print(schedule.describe_pass(cells))
print("...")
must("the trace is the sequential schedule: L passes of one cell per token",
     seq_cache.trace == schedule.expected_trace(P + n_new, L, "sequential", prompt_len=P),
     passes_per_token=schedule.passes_per_token(seq_cache.trace));

# %% [markdown]
# Stepped through, the sequential schedule computes the same column in `L` passes and
# writes and reads the same cache entries at every step as the parallel one:

# %%
tokens = [f.token for f in stepper.frames[1:]]               # feed the same tokens
seq_stepper = DecodeStepper(p32, cfg32, prompt, n_new, schedule="sequential", tokens=tokens)
must("same entries written and read at every step, in both schedules",
     all(a.written == b.written and a.read == b.read for a, b in zip(stepper.frames, seq_stepper.frames)))
print()
print(seq_stepper.describe(2))
seq_stepper.plot_steps([2], columns=1)

# %% [markdown]
# ## Both schedules give the same logits
#
# The parallel schedule is not an approximation: it computes exactly the cells the
# sequential one does, in a different order. We decode a whole sequence (from an
# empty cache, so position 0 uses `h := 0`) both ways and compare the logits with
# each other and with the training forward, in float64 (where the only differences
# are round-off, far below `1e-9`):

# %%
T = len(seq)
results = {}
for name in ("parallel", "sequential"):
    dec = M.new_cache(cfg, capacity=T)
    results[name] = np.array([M.step(params, cfg, dec, int(tok), name) for tok in seq])
reference = logits_fwd[0]
for a, b in [("parallel", "sequential"), ("parallel", "forward"), ("sequential", "forward")]:
    err = np.abs(results[a] - results.get(b, reference)).max()
    must(f"logits of {a} = logits of {b} (float64)", err < 1e-9, max_abs_error=err)

# %% [markdown]
# And greedy generation with each schedule, in float32, as a user would run it. Here
# the two schedules round differently (an `L`-row product may sum in another order
# than `L` one-row products), so a near tie between two tokens could in principle
# break differently: this is a measured claim, not a structural one.

# %%
params32 = {k: v.astype(np.float32) for k, v in params.items()}
cfg_f32 = M.make_config("loop+clp", 3, "tiny", vocab_size=V)
gen = {name: M.generate(params32, cfg_f32, seq[:4], 30, schedule=name) for name in ("parallel", "sequential")}
print("greedy tokens (parallel):  ", gen["parallel"])
print("greedy tokens (sequential):", gen["sequential"])
same_tokens = claim("both schedules generate the same 30 greedy tokens in float32",
                    np.array_equal(gen["parallel"], gen["sequential"]))


# %% [markdown]
# ## What it costs
#
# Per token, the sequential schedule makes `L` passes with one row; the parallel one
# makes one pass with `L` rows. Measured on the `small` preset with the NumPy backend
# (ms per decode step after a prompt of 32, best of several interleaved runs; the
# lecture and quick versions run fewer). The timings depend on the machine, on what
# else runs on it, and on how NumPy's `x @ w` handles a few rows: read them as this
# run's, not as constants.

# %%
n_steps, repeats = (10, 2) if FAST else (32, 3) if LECTURE else (64, 5)
prompt = np.random.default_rng(1).integers(0, V, 32)
runs = {"vanilla": (M.make_config("vanilla", None, "small", vocab_size=V), "sequential")}
for n in (2, 3):
    runs[f"loop-{n}"] = (M.make_config("loop", n, "small", vocab_size=V), "sequential")
    for name in ("sequential", "parallel"):
        runs[f"loop+clp-{n} {name}"] = (M.make_config("loop+clp", n, "small", vocab_size=V), name)
params_of = {key: M.init_params(c) for key, (c, _) in runs.items()}
times = {key: [] for key in runs}
for _ in range(repeats):              # interleaved: every run sees the same machine load
    for key, (c, name) in runs.items():
        times[key] += decode_times(params_of[key], c, prompt, n_steps, name)
best = {key: 1e3 * min(t) for key, t in times.items()}
ratio = {key: ms / best["vanilla"] for key, ms in best.items()}
for key, ms in best.items():
    print(f"{key:22s} {ms:6.2f} ms/token  x{ratio[key]:.2f} vanilla   "
          f"(best, range of {repeats} runs: {timing.summary(times[key])})")
print()
for n in (2, 3):
    par, seq_ = best[f"loop+clp-{n} parallel"], best[f"loop+clp-{n} sequential"]
    claim(f"loop+clp-{n}: the parallel schedule is faster per token than the sequential one",
          par < seq_, parallel_ms=par, sequential_ms=seq_)
    claim(f"loop+clp-{n}: the parallel schedule still costs more than vanilla (a pass of {n} "
          f"rows is not free with NumPy here)", par > best["vanilla"], x_vanilla=ratio[f"loop+clp-{n} parallel"])

# %%
say(f"On this run, one parallel pass of 2 rows took **{ratio['loop+clp-2 parallel']:.2f}x** "
    f"vanilla's time per token and one of 3 rows **{ratio['loop+clp-3 parallel']:.2f}x**, against "
    f"**{ratio['loop+clp-2 sequential']:.2f}x** and **{ratio['loop+clp-3 sequential']:.2f}x** for the "
    f"sequential schedule (loop-2 and loop-3: **{ratio['loop-2']:.2f}x**, **{ratio['loop-3']:.2f}x**). "
    "CLP removed the chain of passes, not the work: every weight is multiplied by `L` rows "
    "instead of one. How close an `L`-row pass gets to a one-row pass depends on how the "
    "weights are read from memory, which is lesson 05.")

# %% [markdown]
# ## Exercises
#
# Predict before you run; each check tells you whether your answer is right. Worked
# solutions: [solutions/ex03.py](solutions/ex03.py) (try first).
#
# **1. Predict, then run: passes in the trace.** A `loop+clp-4` model prefills a prompt
# of 5 tokens, then decodes 6 tokens. How many passes does `cache.trace` hold at the
# end with the parallel schedule, and how many with the sequential one? Answer as a
# pair `(parallel, sequential)`, then check it against the `expected_trace` cells above.

# %%
from exercises.ex03 import check_trace_passes
check_trace_passes(None)          # replace None with (parallel, sequential), then run

# %% [markdown]
# **2. Read the code: which carried state does loop `l` read?** In `M.step_sequential`,
# the loop index is 0-based. Write `carried_index(l)`: for loop `l` (1-based, as in the
# formulas, `l = 2..L`), the index `i` such that `cache.carried[i]` is the state loop
# `l` starts from, `h^(l-1)_{t-1}`.

# %%
from exercises.ex03 import check_carried_index
def carried_index(l):
    ...                           # your code
check_carried_index(None)         # replace None with carried_index, then run

# %% [markdown]
# **3. Change one thing: four loops.** In the chain cell above, `loop+clp-3`'s output
# `h^(3)_t` depended on tokens `t-2, t-1, t`. Predict the tokens that `h^(4)_t` of a
# `loop+clp-4` depends on, with attention off, as a list of offsets `s - t` (for
# `loop+clp-3` it was `[-2, -1, 0]`). Then change `3` to `4` in that cell and see.

# %%
from exercises.ex03 import check_chain_offsets
check_chain_offsets(None)         # replace None with your list of offsets, then run

# %% [markdown]
# **4. Implement the CLP shift.** Write `clp_inputs(E, h_prev, norm_f, eps)`: given the
# embeddings `E` (T, C) and loop `l-1`'s outputs `h_prev` (T, C) over a whole sequence,
# return loop `l`'s inputs `u^(l)` (T, C), exactly as the training forward builds them.
# The check compares your function with the forward's saved `u` on a random model.

# %%
from exercises.ex03 import check_clp_inputs
def clp_inputs(E, h_prev, norm_f, eps):
    ...                           # your code
check_clp_inputs(None)            # replace None with clp_inputs, then run

# %% [markdown]
# ## Summary
#
# * CLP shifts the loop-to-loop dependency by one position: in the training forward
#   `u^(l)_t - E_t` equals `N(h^(l-1)_{t-1})`, and `u^(l)_0 = E_0` (checked above).
#   With attention off, the final output at `t` depends on the last `L` tokens: the
#   diagonal chain.
# * So the `L` cells of a position are independent: the decode trace shows one pass per
#   token computing a whole column of the grid, against `L` passes with the
#   sequential schedule. Stepped through, both schedules write position `t` of each
#   loop's cache and read positions `0..t-1` of each: the same entries, in another order.
# * Both schedules give the training forward's logits, up to float64 round-off.
# * CLP removes the chain of passes, not the work, and not the `L` full KV caches:
#   lesson 04 removes those.
#
# What this run measured:

# %%
say(f"* In float32 the two schedules generated "
    f"{'the same' if same_tokens else '**different**'} 30 greedy tokens"
    + ("." if same_tokens else " (a near tie broke differently under another rounding)."))
say(f"* The parallel schedule took {ratio['loop+clp-2 parallel']:.2f}x (L = 2) and "
    f"{ratio['loop+clp-3 parallel']:.2f}x (L = 3) vanilla's time per token, the sequential one "
    f"{ratio['loop+clp-2 sequential']:.2f}x and {ratio['loop+clp-3 sequential']:.2f}x, with NumPy on "
    "this machine under its load at the time. What an `L`-row pass costs depends on how "
    "the weights are read, which lesson 05 measures.")
