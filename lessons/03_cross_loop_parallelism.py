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
# # 03 · Cross-loop parallelism: all loops of a token in one pass
#
# In a looped transformer, loop `l` at position `t` needs loop `l-1` at the **same**
# position, so the `L` loops of a new token run one after another (lesson 02).
# Cross-loop parallelism (CLP) moves that dependency **one position back**:
#
#     u^(1)_t = E_t
#     u^(l)_t = E_t + N(h^(l-1)_{t-1})        l = 2..L,   h_{-1} := 0
#
# Now the cells `(t, 1), (t, 2), ..., (t, L)` of the (token, loop) grid depend only on
# position `t-1`, not on each other, so one pass through the stack with `L` rows
# computes them all. The chain of one prediction runs along the **diagonal**: the
# state that predicts `x_{t+1}` began as token `x_{t-L+1}` in loop 1 and was refined
# by one loop per position. This notebook
#
# 1. draws both schedules on the grid;
# 2. checks the shift in the training forward;
# 3. steps through a PLT-3 decode one token at a time and shows, from `cache.trace` and
#    the cache itself, which cells each step computes and which cache entries it writes
#    and reads (a figure of every step, and a slider in JupyterLab);
# 4. measures that the parallel and sequential schedules give the same logits (and
#    the same as the training forward), and how long each takes per token.

# %%
from lesson_setup import FAST, M, data, decode_times, np, plt   # lessons/lesson_setup.py
from minplt import timing
from visualizations import schedule

# %% [markdown]
# ## The two schedules on the grid
#
# Position `t` runs across, loop `l` up. The number in a cell is the pass through the
# shared stack that computes it; arrows are what a loop's input depends on (attention
# to earlier positions is not drawn: every cell may read all earlier positions).
# Left, the looped transformer: vertical arrows, `L` passes per token. Right, PLT:
# diagonal arrows, one pass per token, computing a whole column.

# %%
schedule.plot_schedule(8, 3)

# %% [markdown]
# ## The shift, in the training forward
#
# In training the loops still run one after another over the whole sequence (the
# teacher-forced sequence is known in advance), so the shift is a slice:
# `shifted[:, 1:] = N(h^(l-1))[:, :-1]`. The forward's cache keeps each loop's input
# `u` and output `h`; measured on a PLT-3:

# %%
V = 40
cfg = M.make_config("plt", 3, "tiny", vocab_size=V, dtype="float64")
rng = np.random.default_rng(0)
params = {k: (v if v.ndim == 1 else rng.normal(0, 0.3, v.shape)) for k, v in M.init_params(cfg).items()}
seq = rng.integers(0, V, 12)
logits_fwd, _, fwd = M.forward(params, cfg, seq[None])
E = params["wte"][seq]                                                 # (T,C)
for l in (2, 3):
    u = fwd.loops[l - 1].u[0]                                     # input of loop l, (T,C)
    h_prev = fwd.loops[l - 2].h[0]                                # output of loop l-1, (T,C)
    Nh = M.rmsnorm_rows(h_prev, params["norm_f"], cfg.norm_eps)         # N(h^(l-1))
    print(f"loop {l}: max |u_t - E_t - N(h^({l-1})_(t-1))| for t >= 1: {np.abs(u[1:] - E[1:] - Nh[:-1]).max():.1e};"
          f"  at t = 0, u_0 = E_0: {np.abs(u[0] - E[0]).max():.1e}")


# %% [markdown]
# **The diagonal chain, measured.** Attention lets every cell read all earlier
# positions, which hides the hand-over between loops. Switch attention off (set every
# `wo` to 0, so each block is just its MLP) and what is left is the chain itself. Then
# change one token `x_s` and see which final outputs `h^(L)_t` move. In a PLT-3, `h^(3)_t`
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

cfg_loop = M.make_config("loop", 3, "tiny", vocab_size=V, dtype="float64")
fig, axes = plt.subplots(1, 2, figsize=(9, 4))
for ax, (name, c) in zip(axes, [("PLT-3 (CLP)", cfg), ("loop-3 (no CLP)", cfg_loop)]):
    p = {k: (params[k] if k in params else np.zeros(shape)) for k, shape in M.param_shapes(c).items()}
    dep = chain_dependence(c, p, seq)
    print(f"{name:16s} h^(3)_11 depends on tokens {np.flatnonzero(dep[11]).tolist()}; "
          f"tokens per output: {sorted(set(dep.sum(1).tolist()))}")
    ax.imshow(dep, cmap="Blues", vmin=0, vmax=1.4)
    ax.set(title=f"{name}, attention off", xlabel="changed token s", ylabel="output h^(3)_t")
plt.show()

# %% [markdown]
# ## Stepping through a decode
#
# `M.prefill` runs the training computation over the prompt (one pass per loop over
# all prompt positions) and keeps, besides the caches, the **carried states**
# `h^(l)_{P-1}`, `l = 1..L-1`: the states the next position's loops `2..L` start
# from. Then each `M.step(..., "parallel")` builds an `(L, C)` matrix of rows
#
#     row 1: E_t
#     row l: E_t + N(carried[l-1])           (= h^(l-1)_{t-1})
#
# runs it through the stack once, takes the logits from row `L`, and keeps rows
# `1..L-1` as the new carried states. `cache.trace` records the cells of every pass.
# Here is a PLT-3 decoding 5 tokens after a prompt of 3:

# %%
cfg32 = M.make_config("plt", 3, "tiny", vocab_size=V)
p32 = M.init_params(cfg32, seed=0)
P, n_new = 3, 5
prompt = np.array([5, 6, 7])
logits, cache = M.prefill(p32, cfg32, prompt, capacity=P + n_new)
print(f"prefill: {len(cache.trace)} passes; carried states {cache.carried.shape} = (L-1, B, C), B = 1 sequence")
token = int(np.argmax(logits))
for _ in range(n_new):
    carried_before = cache.carried.copy()
    logits = M.step(p32, cfg32, cache, token, "parallel")
    last = cache.trace[-1]
    print(f"step at t={last[0][0]}: one pass computes {last}; "
          f"carried states changed: {not np.allclose(carried_before, cache.carried)}")
    token = int(np.argmax(logits))
expected = schedule.expected_trace(P + n_new, 3, "parallel", prompt_len=P)
print("trace == schedule.expected_trace(..., 'parallel'):", cache.trace == expected)
print("passes per decoded token:", schedule.passes_per_token(cache.trace))

# %% [markdown]
# ### Step by step: cells computed, cache entries written and read
#
# `visualizations.stepper.DecodeStepper` runs the same decode (`M.prefill`, then
# `M.step`) and records every step as the model ran it. Each frame below shows the
# grid as computed so far, with this step's cells framed in black, and under it the
# cache: loop 1's full cache (one box per position, under the grid's columns), which
# loops 2 and 3 read too (KV sharing), and the window ring buffers of loops 2 and 3
# (`W = 4` slots, each labelled with the position it holds; lesson 04 is about them).
#
# * **orange**: written by this step: the entries of `cache` whose values changed;
# * **blue**: read by this step, *measured*: the stepper gives each entry other keys
#   and values in a copy of the cache, runs the step again and marks the entries whose
#   change changes its result (logits, carried states or the entries it writes).
#
# Every step writes position `t` of loop 1's cache and slot `t % W` of each ring, and
# reads all earlier positions of loop 1's cache but only the ring slots of the last
# `W - 1` positions: the slot it overwrites held position `t - W`, which has just left
# the window.

# %%
from visualizations.stepper import DecodeStepper

stepper = DecodeStepper(p32, cfg32, prompt, n_new)          # the decode above, step by step
print("frames' cells == cache.trace:", [c for f in stepper.frames for c in f.passes] == cache.trace, "\n")
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
print("...\ntrace == expected_trace(..., 'sequential'):",
      seq_cache.trace == schedule.expected_trace(P + n_new, 3, "sequential", prompt_len=P),
      "| passes per token:", schedule.passes_per_token(seq_cache.trace))

# %% [markdown]
# Stepped through, the sequential schedule computes the same column in three passes and
# writes and reads the same cache entries at every step as the parallel one:

# %%
tokens = [f.token for f in stepper.frames[1:]]               # feed the same tokens
seq_stepper = DecodeStepper(p32, cfg32, prompt, n_new, schedule="sequential", tokens=tokens)
same = all(a.written == b.written and a.read == b.read for a, b in zip(stepper.frames, seq_stepper.frames))
print("same entries written and read at every step:", same, "\n")
print(seq_stepper.describe(2))
seq_stepper.plot_steps([2], columns=1)

# %% [markdown]
# ## Both schedules give the same logits
#
# The parallel schedule is not an approximation: it computes exactly the cells the
# sequential one does, in a different order. We decode a whole sequence (from an
# empty cache, so position 0 uses `h := 0`) both ways and compare the logits with
# each other and with the training forward, in float64. Then greedy generation with
# each schedule, in float32:

# %%
T = len(seq)
results = {}
for name in ("parallel", "sequential"):
    cache = M.new_cache(cfg, capacity=T)
    results[name] = np.array([M.step(params, cfg, cache, int(tok), name) for tok in seq])
reference = logits_fwd[0]
print(f"max |parallel - sequential|       = {np.abs(results['parallel'] - results['sequential']).max():.1e}")
print(f"max |parallel - training forward| = {np.abs(results['parallel'] - reference).max():.1e}")
print(f"max |sequential - training forward| = {np.abs(results['sequential'] - reference).max():.1e}")

spread32 = {k: v.astype(np.float32) for k, v in params.items()}
cfg_f32 = M.make_config("plt", 3, "tiny", vocab_size=V)
gen = {name: M.generate(spread32, cfg_f32, seq[:4], 30, schedule=name) for name in ("parallel", "sequential")}
print("greedy tokens (parallel):  ", gen["parallel"])
print("greedy tokens (sequential):", gen["sequential"])
print("identical:", np.array_equal(gen["parallel"], gen["sequential"]))


# %% [markdown]
# ## What it costs
#
# Per token, the sequential schedule makes `L` passes with one row; the parallel one
# makes one pass with `L` rows. Measured on the `small` preset with the NumPy backend
# (ms per decode step, best of several interleaved runs):

# %%
n_steps, repeats = (10, 2) if FAST else (64, 5)
prompt = np.random.default_rng(1).integers(0, V, 32)
runs = {"vanilla": (M.make_config("vanilla", None, "small", vocab_size=V), "sequential")}
for L in (2, 3):
    for name in ("sequential", "parallel"):
        runs[f"plt-{L} {name}"] = (M.make_config("plt", L, "small", vocab_size=V), name)
params_of = {key: M.init_params(c) for key, (c, _) in runs.items()}
times = {key: [] for key in runs}
for _ in range(repeats):              # interleaved: every run sees the same machine load
    for key, (c, name) in runs.items():
        times[key] += decode_times(params_of[key], c, prompt, n_steps, name)
best = {key: 1e3 * min(t) for key, t in times.items()}
rows = list(best.items())
for name, ms in rows:
    print(f"{name:18s} {ms:6.2f} ms/token  x{ms / rows[0][1]:.2f} vanilla   "
          f"(best, range of {repeats} runs: {timing.summary(times[name])})")

# %% [markdown]
# ## Summary
#
# * CLP shifts the loop-to-loop dependency by one position: in the training forward
#   `u^(l)_t - E_t` equals `N(h^(l-1)_{t-1})` exactly, and `E_0` at `t = 0`.
# * So the `L` cells of a position are independent: the decode trace shows one pass per
#   token computing a whole column of the grid, against `L` passes with the
#   sequential schedule.
# * Both schedules give the same logits as each other and as the training forward
#   (float64 round-off), and the same greedy tokens.
# * With plain NumPy the parallel schedule already saves the per-pass overhead. How
#   close an `L`-row pass gets to a one-row pass depends on how the weights are read:
#   that is lesson 05.
