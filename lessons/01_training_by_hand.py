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
# # 01 · Training by hand: the backward pass, checked
#
# minplt has no autograd. Every layer is a pair `*_forward` / `*_backward`; the
# forward returns what the backward needs, and the backward restates the forward line
# it differentiates. This notebook
#
# 1. runs the backward pass of **one block** and checks every gradient against
#    **finite differences** in float64;
# 2. does the same for a whole **PLT-3** model, where gradients also flow through the
#    cross-loop shift and into loop 1's shared keys and values;
# 3. writes the training loop out by hand (forward, backward, clip, AdamW) and then
#    trains a small model on text with `minplt.train.train`, showing the loss fall
#    and the samples change.

# %%
import time

from lesson_setup import FAST, M, data, np, plt   # lessons/lesson_setup.py: MINPLT_FAST, plot style
from minplt import train
from visualizations import charts

# %% [markdown]
# ## One block: forward, backward, finite differences
#
# Take the scalar `loss = sum(out * R)` of a block's output for a fixed random `R`.
# Then `d loss / d out = R`, which is what we hand to `block_backward`. It returns
# `d loss / d u` (the block's input) and adds the parameter gradients into `grads`.
# A central difference `(f(p + h) - f(p - h)) / 2h` estimates each of those numbers
# independently, to about `h^2 ~ 1e-12` in float64. We check *every* entry.
# Parameters are drawn far from their initial values so that nothing is trivially
# zero (attention not uniform, norms not 1).

# %%
cfg = M.make_config("vanilla", preset="tiny", vocab_size=16, n_embd=8, n_head=2,
                    d_ff=12, dtype="float64")
rng = np.random.default_rng(0)
def spread_params(cfg, rng):
    """Random parameters away from the init: gains ~1 +- 0.3, matrices N(0, 0.4)."""
    return {name: (1 + 0.3 * rng.normal(size=shape) if len(shape) == 1 and "gate" not in name
                   else rng.normal(0, 0.4, shape))
            for name, shape in M.param_shapes(cfg).items()}
params = spread_params(cfg, rng)
B, T = 2, 6
u = rng.normal(size=(B, T, cfg.n_embd))
R = rng.normal(size=u.shape)                 # loss = sum(out * R)  =>  d loss / d out = R
cos, sin = M.rope_tables(cfg.head_size, T, cfg.rope_base)

def block_loss():
    out, _ = M.block_forward(params, cfg, 0, u, "own", None, cos, sin)
    return np.sum(out * R)

out, c = M.block_forward(params, cfg, 0, u, "own", None, cos, sin)
grads = {k: np.zeros_like(v) for k, v in params.items()}
du = M.block_backward(params, cfg, 0, R, c, grads, None, cos, sin)

def numeric_grad(array, h=1e-6):
    """Central differences of block_loss for every entry of `array` (changed in place, restored)."""
    g = np.zeros_like(array)
    for i in np.ndindex(array.shape):
        old = array[i]
        array[i] = old + h; up = block_loss()
        array[i] = old - h; down = block_loss()
        array[i] = old
        g[i] = (up - down) / (2 * h)
    return g

def rel_error(a, b):
    return np.abs(a - b).max() / max(np.abs(a).max(), np.abs(b).max())

t0 = time.perf_counter()
print(f"{'tensor':20s} {'entries':>7s} {'max |grad|':>11s} {'rel. error':>11s}")
rows = [("u (block input)", u, du)] + [(n, params[n], grads[n]) for n in params if n.startswith("layers.0.")]
for name, array, analytic in rows:
    numeric = numeric_grad(array)
    print(f"{name:20s} {array.size:7d} {np.abs(analytic).max():11.4f} {rel_error(numeric, analytic):11.2e}")
print(f"({time.perf_counter() - t0:.1f} s)")

# %% [markdown]
# Relative errors around `1e-9` or below: the backward is right to the precision
# finite differences can resolve. (A wrong sign, a missing term or a transposed
# matrix shows up as an error of order 1.) Try it: change a line of `block_backward`
# and run this cell again.
#
# ## The whole model, loops included
#
# In a PLT-3 (cross-loop parallelism, shared KV cache, gated sliding-window
# attention) the gradient takes paths a plain transformer does not have:
#
# * from loop `l` at position `t` back to loop `l-1` at position `t-1`, through the
#   shift `u^(l)_t = E_t + N(h^(l-1)_{t-1})`;
# * from every later loop into **loop 1's keys and values**, which they all read;
# * into the gate `g = sigmoid(a Wg + bg)` that mixes the global and local branches.
#
# `M.loss_and_grads` runs the forward and the backward; we check a few random entries
# of every parameter tensor, including the embedding rows that the batch uses.

# %%
cfg3 = M.make_config("plt", 3, "tiny", vocab_size=16, n_embd=8, n_head=2, d_ff=12,
                     window=3, dtype="float64")
params3 = spread_params(cfg3, np.random.default_rng(1))
rng = np.random.default_rng(2)
x = rng.integers(0, cfg3.vocab_size, (2, 7))          # T=7 > W=3: the window slides
y = rng.integers(0, cfg3.vocab_size, (2, 7))
loss, grads3 = M.loss_and_grads(params3, cfg3, x, y)
print(f"loss {loss:.4f}; checking {len(params3)} tensors")
h, worst = 1e-5, 0.0
for name, p in params3.items():
    if name == "wte":                                   # only rows of tokens in the batch get gradient
        candidates = [(int(t), j) for t in np.unique(x) for j in range(cfg3.n_embd)]
    else:
        candidates = list(np.ndindex(p.shape))
    picks = [candidates[i] for i in rng.choice(len(candidates), min(6, len(candidates)), replace=False)]
    numeric = []
    for i in picks:
        old = p[i]
        p[i] = old + h; up = M.forward(params3, cfg3, x, y)[1]
        p[i] = old - h; down = M.forward(params3, cfg3, x, y)[1]
        p[i] = old
        numeric.append((up - down) / (2 * h))
    analytic = np.array([grads3[name][i] for i in picks])
    err = rel_error(np.array(numeric), analytic)
    worst = max(worst, err)
    if not name.startswith("layers.1."):
        print(f"  {name:18s} rel. error {err:.1e}")
print(f"  (layers.1.* checked too)\nworst relative error over all {len(params3)} tensors: {worst:.1e}")

# %% [markdown]
# ## The training loop, written out
#
# One optimisation step is four calls: forward + backward (`M.loss_and_grads`),
# clip the global gradient norm (`M.clip_grad_norm`), take the learning rate from the
# warm-up + cosine schedule (`M.lr_schedule`), and update with AdamW (`opt.step`).
# Here are the first steps on character-level text (Python's documentation, built in),
# with a tiny vanilla transformer. The loss starts at `ln V`, a uniform guess.

# %%
text = data.load_text("pydoc")
dataset = data.TextDataset(text, block_size=64)
cfg = M.make_config("vanilla", preset="tiny", vocab_size=dataset.vocab_size)
params = M.init_params(cfg, seed=0)
opt = M.AdamW(params, lr=3e-3, weight_decay=0.1)
rng = np.random.default_rng(0)
print(f"ln V = {np.log(cfg.vocab_size):.3f}")
for step in range(5):
    x, y, _ = dataset.get_batch("train", 16, rng)
    loss, grads = M.loss_and_grads(params, cfg, x, y)       # forward + backward
    norm = M.clip_grad_norm(grads, 1.0)                     # global norm <= 1
    lr = M.lr_schedule(step, 3e-3, warmup=50, total=1000)   # warm-up, then cosine
    opt.step(params, grads, lr=lr)                          # AdamW, decay on matrices only
    print(f"step {step}: loss {loss:.3f}, gradient norm {norm:.3f}, lr {lr:.1e}")

# %% [markdown]
# `minplt.train.train` is this loop plus evaluation on held-out text, logging,
# checkpoints and resuming. A short run:

# %%
steps = 60 if FAST else 800
prompt = dataset.tokenizer.encode("The ")
before = dataset.tokenizer.decode(M.generate(M.init_params(cfg, seed=0), cfg, prompt, 60))
result = train.train(cfg, dataset, steps=steps, batch_size=16, lr=3e-3, warmup=20,
                     eval_every=max(steps // 8, 1), eval_batches=2, log_every=max(steps // 4, 1),
                     log=print)
after = dataset.tokenizer.decode(M.generate(result.params, cfg, prompt, 60))
print(f"\nbefore training: {'The ' + before!r}\nafter {steps} steps: {'The ' + after!r}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
charts.plot_training_curves({"vanilla (tiny)": result.rows}, ax=axes[0], metric="loss")
charts.plot_training_curves({"vanilla (tiny)": result.rows}, ax=axes[1], metric="val_loss")
for ax in axes:
    ax.axhline(np.log(cfg.vocab_size), color="grey", linestyle=":", label="ln V")
    ax.legend(fontsize=8)
plt.show()
first, last = result.losses[0], float(np.mean(result.losses[-10:]))
print(f"training loss: {first:.3f} at step 1, {last:.3f} averaged over the last 10 steps; "
      f"validation loss {result.val_loss:.3f}")

# %% [markdown]
# ## Summary
#
# * Each layer's backward restates its forward and is checked against finite
#   differences: every entry of one block agrees to about `1e-9` relative error.
# * The whole PLT-3, with the cross-loop shift, the shared KV cache and the G-SWA
#   gates, passes the same check; the tests in `tests/test_model.py` run this for
#   every family on every commit.
# * Training is four calls per step; `minplt.train.train` adds evaluation, logs and
#   checkpoints. The loss falls from `ln V`, and the samples turn from random
#   characters into something with the spacing and letters of English.
