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
# Before looping anything, the plain transformer that every later lesson loops.
# This notebook shows, with `minplt/model.py` open beside it:
#
# 1. **the forward pass**: token ids → embeddings → pre-norm blocks (RMSNorm,
#    attention with RoPE, SwiGLU MLP) → logits, and what each tensor's shape is;
# 2. **attention**: a causal softmax whose masked entries are *exactly* zero, and
#    rotary positions that make a query·key score depend only on the offset;
# 3. **the KV cache and decoding**: decoding one token at a time from a cache of
#    keys and values gives the training forward's logits, reads the weights once per
#    token, and grows by a fixed number of bytes per position.
#
# Everything is measured in the notebook; the numbers are printed next to the claims.

# %%
from lesson_setup import FAST, M, data, np, plt   # lessons/lesson_setup.py: MINPLT_FAST, plot style
from minplt import timing
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

# %%
sentence = "The loop runs the same stack again."
ids = tok.encode(sentence)
x, y = ids[None, :-1], ids[None, 1:]              # predict each next character
logits, loss, cache = M.forward(params, cfg, x, y)
layer0 = cache.loops[0].layers[0]
made_by = {
    "u": "block input: the token embeddings E = wte[idx]",
    "a": "a = RMSNorm(u; attn_norm)",
    "q": "q = RoPE(a @ wq), split into H heads of D",
    "k": "k = RoPE(a @ wk)",
    "v": "v = a @ wv",
    "probs": "softmax(q k^T / sqrt(D)), causal",
    "y": "y = probs @ v, heads merged",
    "u_mid": "u + y @ wo",
    "h1": "m @ w1 (m = RMSNorm(u_mid; mlp_norm))",
    "z": "z = silu(m w1) * (m w3)",
}
print(f"B={x.shape[0]}, T={x.shape[1]}, C={cfg.n_embd}, H={cfg.n_head}, "
      f"D={cfg.head_size}, F={cfg.d_ff}, V={cfg.vocab_size}\n")
for key, what in made_by.items():
    print(f"  {key:6s} {str(getattr(layer0, key).shape):16s} {what}")
print(f"\n  logits {logits.shape}: N(h) @ lm_head")
print(f"\nloss at initialisation: {loss:.3f}   vs ln(V) = {np.log(cfg.vocab_size):.3f} "
      "(a uniform guess over the vocabulary)")

# %% [markdown]
# RMSNorm rescales each position's vector to root-mean-square 1 (times the gain,
# which starts at 1):

# %%
a = layer0.a[0]                                   # (T,C)
rms = np.sqrt(np.mean(a ** 2, axis=-1))
print(f"RMS of the normed input at each position: min {rms.min():.6f}, max {rms.max():.6f}")
print(f"RMS of the raw embeddings: {np.sqrt(np.mean(layer0.u[0] ** 2)):.3f}")

# %% [markdown]
# ## Attention: causal, masked entries excluded
#
# Query `t` may look at keys `s <= t`. The mask is applied by setting the scores of
# the other keys to `-inf` before the softmax, so they get a weight of *exactly* 0,
# not "almost 0" (a large finite negative number leaves a little weight behind that a
# model can learn to exploit). At initialisation the weights are tiny, all scores are
# close to 0, and each query spreads its attention evenly over its past: weight
# `1/(t+1)` on each of the `t+1` keys.

# %%
probs = layer0.probs[0]                          # (H,T,T) for the one sequence
T = probs.shape[-1]
future = np.triu(np.ones((T, T), bool), k=1)        # key after query
print(f"rows sum to 1: max |sum - 1| = {np.abs(probs.sum(-1) - 1).max():.1e}")
print(f"weights on future keys: {np.count_nonzero(probs[:, future])} nonzero "
      f"of {probs[:, future].size} (max {probs[:, future].max()})")
uniform = np.tril(1.0 / np.arange(1, T + 1)[:, None] * np.ones((T, T)))
print(f"at init, max |probs - 1/(t+1)| = {np.abs(probs - uniform).max():.4f}")

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
# RoPE rotates each pair of channels of `q` and `k` by an angle proportional to the
# position. A rotation by `a` dotted with a rotation by `b` is a rotation by `b - a`,
# so the score of a query at `t` and a key at `s` depends on `t - s` only. Measured:
# the same query and key vectors placed at positions `(t, s)` and `(t + 40, s + 40)`.

# %%
D = cfg.head_size
cos, sin = M.rope_tables(D, 64, cfg.rope_base)
rng = np.random.default_rng(0)
qv, kv = rng.normal(size=D), rng.normal(size=D)
def score(t, s):
    return M.rope_forward(qv, cos[t], sin[t]) @ M.rope_forward(kv, cos[s], sin[s])
for t, s in [(5, 2), (45, 42), (20, 17), (9, 0), (49, 40)]:
    print(f"query at {t:2d}, key at {s:2d} (offset {t - s}): score {score(t, s):+.6f}")

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
diff = np.abs(np.array(decoded) - reference[P - 1:]).max()
print(f"\ncache arrays: k {kv.k.shape} = (caches, NL, B, H, capacity, D), B = 1 sequence")
print(f"max |decoded logits - forward logits| over {len(decoded)} positions: {diff:.2e}")

# %% [markdown]
# ## What the cache buys: time per token
#
# Greedy generation two ways, on the `small` preset (C=128, 4 layers): with the
# cache (`M.generate`: one row per new token) and without it (run `M.forward` over
# the whole prefix again for every token, then take the last position's logits).
# Both must produce the same tokens; the cost per token of the second grows with the
# length of the prefix.

# %%
big = M.make_config("vanilla", preset="small", vocab_size=tok.vocab_size)
big_params = M.init_params(big, seed=0)
prompt = tok.encode("Return the ")
n_new = 40 if FAST else 200

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

print("same tokens:", np.array_equal(with_cache, without_cache))
print(f"with the cache:    {1e3 * min(cache_times) / n_new:6.2f} ms per token (whole run, best of 3)")
print(f"without the cache: {1e3 * np.mean(per_token[:10]):6.2f} ms per token for the first 10, "
      f"{1e3 * np.mean(per_token[-10:]):6.2f} ms for the last 10 (each the best of 3)")

# the cached step alone, at the end of the sequence, each run from a fresh prefill
step_times = timing.repeat(lambda kv: M.step(big_params, big, kv, tokens[-1]), repeats=3,
                           setup=lambda: M.prefill(big_params, big, np.array(tokens[:-1]),
                                                   capacity=len(tokens))[1])
step_ms = 1e3 * min(step_times)
print(f"one cached step at the end: {timing.summary(step_times)} (best, range of 3 runs)")
fig, ax = plt.subplots()
ax.plot(len(prompt) + np.arange(n_new), 1e3 * np.array(per_token), label="forward over the prefix")
ax.axhline(step_ms, color="C1", label=f"one cached step ({step_ms:.2f} ms)")
ax.set_xlabel("prefix length"); ax.set_ylabel("ms per new token"); ax.legend(); ax.grid(alpha=0.3)
ax.set_title("Decoding with and without a KV cache (small preset, NumPy)")
plt.show()

# %% [markdown]
# ## Summary
#
# * A transformer here is a `Config` and a dict of arrays; the forward keeps every
#   intermediate, whose shapes follow the legend `B, T, C, H, D, F, V`.
# * Causal attention gives masked keys weight exactly 0; each row of weights sums to 1.
#   RoPE makes scores depend on the query–key offset only.
# * Decoding with a KV cache reproduces the training forward's logits (the printed
#   difference is float32 round-off) and costs one row per token instead of a whole
#   forward over the prefix; the cache grows by `2 · NL · C · 4` bytes per position.
#
# Next: the backward pass that trains all this (lesson 01), then what happens when the
# same stack is applied several times (lesson 02).
