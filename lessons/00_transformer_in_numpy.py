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
# # 00 · The transformer in NumPy
#
# *minplt lessons. The method: "Parallel Loop Transformer for Efficient Test-Time
# Computation Scaling" (arXiv 2510.24824, 2025). Symbols and code names:
# [the notation table](../docs/method.md#1-notation).*
#
# Before looping anything, the plain transformer that every later lesson loops, with
# `minplt/model.py` open beside it.
#
# **After this lesson you can**
# - name every tensor of a pre-norm block (RMSNorm, attention with RoPE, SwiGLU MLP)
#   with its shape in `B, T, C, H, D, F, V`;
# - explain why causal attention gives masked keys a weight of exactly 0, and why RoPE
#   makes a query·key score depend only on the offset between the two positions;
# - decode one token at a time from a KV cache, check that it reproduces the training
#   forward's logits, and predict the cache's bytes per position (`2 · NL · C · 4`).
#
# **Prerequisites:** NumPy (broadcasting, `@`, `reshape`), the idea of a softmax and of
# next-token prediction. No earlier lesson.
#
# **Time:** about 20 minutes to read and work through; running it takes under a minute on
# a 2-core CPU (full version; machines differ; the lecture version, MINPLT_LECTURE=1,
# times fewer tokens), seconds with MINPLT_FAST=1.

# %%
from lesson_setup import FAST, LECTURE, M, claim, data, must, np, plt, say   # lessons/lesson_setup.py
from minplt import parallel, timing

# %% [markdown]
# ## A model is a config and a dict of arrays
#
# `M.make_config(family, n_loops, preset)` builds a `Config`; the `vanilla` family
# is the plain transformer (one loop). Parameters are a flat dict `name -> array`,
# with the shapes listed at the top of `model.py`. The tokenizer is one token per
# character; here its vocabulary is the characters of Python's own documentation,
# the built-in text corpus (nothing is downloaded).

# %%
text = data.load_text("pydoc")
tok = data.CharTokenizer.from_text(text)
cfg = M.make_config("vanilla", preset="tiny", vocab_size=tok.vocab_size)
params = M.init_params(cfg, seed=0)
print(cfg)
print(f"\n{M.count_params(params):,} parameters; vocabulary of {tok.vocab_size} characters")
for name, p in params.items():
    if not name.startswith("layers.") or name.startswith("layers.0."):
        print(f"  {name:20s} {str(p.shape):12s} {p.size:>7,}")
print(f"  (layers.1.* has the same shapes as layers.0.*)")

# %% [markdown]
# ## The forward pass, tensor by tensor
#
# `M.forward(params, cfg, idx, targets)` returns the logits `(B,T,V)`, the mean
# cross-entropy and a cache holding every intermediate the backward pass needs
# (lesson 01). The cache is also the easiest way to *look* at a forward pass: here
# are the tensors of layer 0 for one sentence, with the line of `block_forward` that
# made each.
#
# The cache is indexed by loop, then layer: `cache.loops[0].layers[0]`. **Loops are
# numbered 1..L in prose and formulas, 0..L-1 in code**, so `cache.loops[0]` is loop 1
# (a plain transformer has only that one; lesson 02 adds more). The notation table says
# the same once for the whole course.
#
# The output head reads `N(h)`: **`N(h)` is RMSNorm with the final norm's gain
# `norm_f`**, applied to the residual stream `h` that leaves the last block.

# %%
sentence = "The loop runs the same stack again."
ids = tok.encode(sentence)
x, y = ids[None, :-1], ids[None, 1:]              # predict each next character
logits, loss, cache = M.forward(params, cfg, x, y)
layer0 = cache.loops[0].layers[0]                 # loop 1 (index 0), layer 0
made_by = {
    "u": "block input: the token embeddings E = wte[idx]",
    "a": "a = RMSNorm(u; attn_norm)",
    "q": "q = RoPE(a @ wq), split into H heads of D",
    "k": "k = RoPE(a @ wk)",
    "v": "v = a @ wv",
    "probs": "softmax(q k^T / sqrt(D)), causal",
    "y": "y = probs @ v, heads merged",
    "u_mid": "u + y @ wo",
    "m": "m = RMSNorm(u_mid; mlp_norm)",
    "z": "z = silu(m·w1) * (m·w3), the SwiGLU; block output u_mid + z @ w2",
}
print(f"B={x.shape[0]}, T={x.shape[1]}, C={cfg.n_embd}, H={cfg.n_head}, "
      f"D={cfg.head_size}, F={cfg.d_ff}, V={cfg.vocab_size}\n")
for key, what in made_by.items():
    print(f"  {key:6s} {str(getattr(layer0, key).shape):16s} {what}")
print(f"\n  logits {logits.shape}: N(h) @ lm_head, N(h) = RMSNorm(h; norm_f)")
ln_v = float(np.log(cfg.vocab_size))
print(f"\nloss at initialisation: {loss:.3f}   vs ln(V) = {ln_v:.3f} "
      "(a uniform guess over the vocabulary)")
claim("at initialisation the loss is within 0.1 of ln V (the logits are nearly equal)",
      abs(loss - ln_v) < 0.1, loss=loss, ln_V=ln_v);

# %% [markdown]
# RMSNorm rescales each position's vector to root-mean-square 1 (times the gain,
# which starts at 1; the `1e-6` inside the square root moves it a little):

# %%
a = layer0.a[0]                                   # (T,C)
rms = np.sqrt(np.mean(a ** 2, axis=-1))
print(f"RMS of the normed input at each position: min {rms.min():.6f}, max {rms.max():.6f}")
print(f"RMS of the raw embeddings: {np.sqrt(np.mean(layer0.u[0] ** 2)):.3f}")
must("RMSNorm makes every position's RMS 1 (gain 1 at init)", np.abs(rms - 1).max() < 1e-4,
     max_deviation=float(np.abs(rms - 1).max()));

# %% [markdown]
# ## Attention: causal, masked entries excluded
#
# Query `t` may look at keys `s <= t`. The mask sets the scores of the other keys to
# `-inf` before the softmax, so they get a weight of *exactly* 0 whatever the other
# scores are (docs/method.md §2). A finite stand-in such as `-1e4` gives 0 only when it
# dwarfs every score, and can leave a small weight behind when it does not. At
# initialisation the weights are tiny, all scores are close to 0, and each query spreads
# its attention almost evenly over its past: weight close to `1/(t+1)` on each of the
# `t+1` keys.

# %%
probs = layer0.probs[0]                          # (H,T,T) for the one sequence
T = probs.shape[-1]
future = np.triu(np.ones((T, T), bool), k=1)        # key after query
row_error = float(np.abs(probs.sum(-1) - 1).max())
n_future = int(np.count_nonzero(probs[:, future]))
uniform = np.tril(1.0 / np.arange(1, T + 1)[:, None] * np.ones((T, T)))
from_uniform = float(np.abs(probs - uniform).max())
must("every row of attention weights sums to 1 (float32)", row_error < 1e-5, max_error=row_error)
must("every weight on a future key is exactly 0", n_future == 0,
     nonzero=n_future, of=int(probs[:, future].size))
claim("at init each query attends almost evenly to its past (within 0.05 of 1/(t+1))",
      from_uniform < 0.05, max_difference=from_uniform);

# %% [markdown]
# Untrained attention is boring to look at, so here are the same maps after
# spreading the weights out (parameters drawn with a standard deviation of 0.3 instead
# of 0.02): each head now prefers some keys over others, and every map is still lower
# triangular. Query position runs down, key position across; grey is weight exactly 0.

# %%
from visualizations import charts
rng = np.random.default_rng(1)
spread = {k: (v if v.ndim == 1 else rng.normal(0, 0.3, v.shape).astype(v.dtype))
          for k, v in params.items()}
spread_probs = M.forward(spread, cfg, x)[2].loops[0].layers[0].probs[0]
charts.plot_attention(list(spread_probs), [f"layer 0, head {h}" for h in range(cfg.n_head)])

# %% [markdown]
# ## Rotary positions: scores depend on the offset
#
# RoPE cuts each head vector of size `D` into two halves and rotates pair `i` (entry
# `i` of the first half with entry `i` of the second) by the angle
# `theta_i(t) = t · base^(-2i/D)` of its position `t` (docs/method.md §2). A rotation by
# `a` dotted with a rotation by `b` is a rotation by `b - a`, so the score of a query at
# `t` and a key at `s` depends on `t - s` only. Measured: the same query and key vectors
# placed at positions with the same offset.

# %%
D = cfg.head_size
cos, sin = M.rope_tables(D, 64, cfg.rope_base)
rng = np.random.default_rng(0)
qv, kv_vec = rng.normal(size=D), rng.normal(size=D)
def score(t, s):
    return M.rope_forward(qv, cos[t], sin[t]) @ M.rope_forward(kv_vec, cos[s], sin[s])
pairs = [(5, 2), (45, 42), (20, 17), (9, 0), (49, 40)]
for t, s in pairs:
    print(f"query at {t:2d}, key at {s:2d} (offset {t - s}): score {score(t, s):+.6f}")
same_offset = max(abs(score(5, 2) - score(t, s)) for t, s in pairs if t - s == 3)
must("equal offsets give equal scores (float64)", same_offset < 1e-12, max_difference=same_offset)
claim("different offsets give different scores", abs(score(5, 2) - score(9, 0)) > 1e-6,
      offset_3=score(5, 2), offset_9=score(9, 0));

# %% [markdown]
# ## The KV cache: decoding one token at a time
#
# Generating text means predicting one token, appending it, predicting the next.
# Re-running the forward over the whole prefix for every new token would redo the
# work of all earlier positions. Their keys and values do not change (causal
# attention: a later token never changes an earlier position), so decoding keeps them
# in a **KV cache**: `M.prefill` runs the forward over the prompt and stores every
# layer's keys and values; `M.step` then runs *one row* (the new token) through the
# stack, appends its key and value to the cache, and attends over the cache.
#
# Each position stores a key and a value (2) of `C` numbers in each of `NL` layers, in
# float32 (4 bytes): `c = 2 · NL · C · 4` bytes per position.
#
# The claim to check: stepping through a sequence reproduces the training forward's
# logits at every position.

# %%
seq = tok.encode("def loop(x): return stack(stack(x))")
reference = M.forward(params, cfg, seq[None])[0][0]          # (T,V), the whole sequence at once
P = 6                                                       # prompt length
logits, kv = M.prefill(params, cfg, seq[:P], capacity=len(seq))
decoded = [logits]
bytes_per_position = 2 * cfg.n_layer * cfg.n_embd * 4       # K and V, all layers, float32
for t in range(P, len(seq)):
    decoded.append(M.step(params, cfg, kv, int(seq[t])))
    if t < P + 3 or t == len(seq) - 1:
        print(f"after token {t:2d}: cache holds {kv.pos[0]:2d} positions, "
              f"{M.kv_cache_bytes(cfg, kv):6,} bytes = {kv.pos[0]} x {bytes_per_position}")
diff = float(np.abs(np.array(decoded) - reference[P - 1:]).max())
print(f"\ncache arrays: k {kv.k.shape} = (caches, NL, B, H, capacity, D), B = 1 sequence")
must("the cache holds 2 · NL · C · 4 bytes per position",
     M.kv_cache_bytes(cfg, kv) == int(kv.pos[0]) * bytes_per_position,
     measured=M.kv_cache_bytes(cfg, kv), formula=int(kv.pos[0]) * bytes_per_position)
must("decoding from the cache gives the forward's logits (float32 round-off)", diff < 1e-5,
     max_abs_difference=diff, positions=len(decoded));

# %% [markdown]
# ## What the cache buys: time per token
#
# Greedy generation two ways, on the `small` preset: with the cache (`M.generate`: one
# row per new token) and without it (run `M.forward` over the whole prefix again for
# every token, then take the last position's logits). Both must produce the same
# tokens; the cost per token of the second grows with the length of the prefix.
# Timings vary with the machine and its load: each is the best of 3 runs (other programs
# can only add time), and the machine that ran this was shared. NumPy's products run on
# one thread here: at these sizes OpenBLAS's threads mostly wait for each other, and on a
# busy machine a product then waits for a thread to get a core (`minplt/parallel.py`).
# On a busy machine the curve below is jagged, and can jump: the longer a forward runs,
# the likelier other programs interrupt it in all 3 runs. Its trend is the point: the work
# of a forward over the prefix grows with the prefix, a cached step's does not.

# %%
big = M.make_config("vanilla", preset="small", vocab_size=tok.vocab_size)
big_params = M.init_params(big, seed=0)
print(f"small preset: C={big.n_embd}, NL={big.n_layer}, H={big.n_head}, F={big.d_ff}")
prompt = tok.encode("Return the ")
n_new = 40 if FAST else 60 if LECTURE else 120          # the lecture version: fewer tokens

with parallel.threads(1):      # one BLAS thread: see the note above
    with_cache = M.generate(big_params, big, prompt, n_new)
    cache_times = timing.repeat(lambda: M.generate(big_params, big, prompt, n_new), repeats=3)

    without_cache, per_token = [], []
    tokens = list(prompt)
    for _ in range(n_new):
        prefix = np.array(tokens)[None]
        logits = M.forward(big_params, big, prefix)[0][0, -1]
        per_token.append(timing.best(lambda: M.forward(big_params, big, prefix), repeats=3))
        tokens.append(int(np.argmax(logits)))
        without_cache.append(tokens[-1])

    must("generating with and without the cache gives the same tokens",
         np.array_equal(with_cache, without_cache), tokens=n_new)
    cached_ms = 1e3 * min(cache_times) / n_new
    first_ms, last_ms = 1e3 * np.mean(per_token[:10]), 1e3 * np.mean(per_token[-10:])
    print(f"with the cache:    {cached_ms:6.2f} ms per token (the whole M.generate call of {n_new} "
          "tokens, prefill and bookkeeping included, divided by the tokens; best of 3)")
    print(f"without the cache: {first_ms:6.2f} ms per token for the first 10, "
          f"{last_ms:6.2f} ms for the last 10 (each the best of 3)")

    # the cached step alone, at the end of the sequence, each run from a fresh prefill
    step_times = timing.repeat(lambda kv: M.step(big_params, big, kv, tokens[-1]), repeats=3,
                               setup=lambda: M.prefill(big_params, big, np.array(tokens[:-1]),
                                                       capacity=len(tokens))[1])
step_ms = 1e3 * min(step_times)
print(f"one cached step at the end: {timing.summary(step_times)} (best, range of 3 runs)")
claim("the forward over the prefix costs more per token at the end than at the start",
      last_ms > first_ms, first_10_ms=first_ms, last_10_ms=last_ms)
claim("at the end, one cached step is cheaper than a forward over the prefix",
      step_ms < last_ms, step_ms=step_ms, forward_ms=last_ms)
fig, ax = plt.subplots()
ax.plot(len(prompt) + np.arange(n_new), 1e3 * np.array(per_token), label="forward over the prefix")
ax.axhline(step_ms, color="C1", label=f"one cached step ({step_ms:.2f} ms)")
ax.set_xlabel("prefix length"); ax.set_ylabel("ms per new token"); ax.legend(); ax.grid(alpha=0.3)
ax.set_title("Decoding with and without a KV cache (small preset, NumPy)")
plt.show()

# %% [markdown]
# ## Exercises
#
# Three, from predicting to implementing. Each check tells you whether your answer is
# right; worked solutions are in [solutions/ex00.py](solutions/ex00.py) (try first).
#
# **1. Predict the cache's size.** How many bytes of keys and values does the KV cache of
# the `small` preset (`C = 128`, `NL = 4`, float32) hold after **100 positions** of one
# sequence? Work it out from `c = 2 · NL · C · 4`, then check.

# %%
from exercises.ex00 import check_causal_softmax, check_kv_bytes, check_rope_pair
my_bytes = None          # replace None with your number, then run the cell
check_kv_bytes(my_bytes);

# %% [markdown]
# **2. Causal softmax with exact zeros.** Write `my_causal_softmax(scores)`: `scores` is
# a `(T, T)` array (query down, key across); return the attention weights, each row a
# softmax over the keys `s <= t` only, and *exactly* 0 on every future key. The check
# also gives it very large scores, so subtract each row's maximum before `np.exp`.

# %%
def my_causal_softmax(scores):
    ...                      # your code: mask the future with -inf, subtract the row max, exp, normalise

check_causal_softmax(None);   # replace None with my_causal_softmax, then run

# %% [markdown]
# **3. Rotate one RoPE pair.** Write `my_rope_pair(x1, x2, t, i, D, base=10000.0)`: it
# returns the pair `(y1, y2)` that RoPE makes of entry `i` of the first half (`x1`) and
# entry `i` of the second half (`x2`) of a head vector at position `t`. The check
# compares it with `M.rope_forward`. Then explain in one sentence why pair `0` turns
# fastest as `t` grows.

# %%
def my_rope_pair(x1, x2, t, i, D, base=10000.0):
    ...                      # your code: the angle theta_i(t), then a 2-D rotation

check_rope_pair(None);        # replace None with my_rope_pair, then run

# %% [markdown]
# ## Summary
#
# Built from the values measured above (timings are from this run, on a shared 2-core
# machine; other machines and loads give other milliseconds, not another ordering
# unless the load changed in the middle of the run).

# %%
say(f"""
* A transformer here is a `Config` and a dict of arrays ({M.count_params(params):,}
  parameters for the `tiny` preset); the forward keeps every intermediate, whose shapes
  follow the legend `B, T, C, H, D, F, V`. Loops are 1..L in prose, 0..L-1 in code.
* Causal attention gives future keys weight exactly 0 ({n_future} nonzero weights on
  future keys); each row of weights sums to 1. RoPE makes a score depend on the
  query–key offset only (equal offsets differed by {same_offset:.1e}).
* Decoding with a KV cache reproduced the training forward's logits to {diff:.1e}
  (float32 round-off) and cost one row per token: at a prefix of {len(tokens) - 1}
  tokens, one cached step took {step_ms:.2f} ms against {last_ms:.2f} ms for a forward over
  the prefix. The cache grows by `2 · NL · C · 4` = {bytes_per_position:,} bytes per
  position for the `tiny` preset.

Next: the backward pass that trains all this (lesson 01), then what happens when the
same stack is applied several times (lesson 02).
""")
