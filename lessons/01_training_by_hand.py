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
# *minplt lessons. The method: "Parallel Loop Transformer for Efficient Test-Time
# Computation Scaling" (arXiv 2510.24824, 2025). Symbols and code names:
# [the notation table](../docs/method.md#1-notation).*
#
# minplt has no autograd. Every layer is a pair `*_forward` / `*_backward`; the
# forward returns what the backward needs, and the backward restates the forward line
# it differentiates.
#
# **After this lesson you can**
# - check a hand-written backward pass entry by entry against central finite
#   differences, and read a relative error (`1e-9` is right, order 1 is a bug);
# - say which extra paths a gradient takes in a looped model with the cross-loop shift,
#   shared keys and values and a gate (defined in lessons 03 and 04);
# - write one optimisation step as four calls (forward + backward, clip, schedule, AdamW)
#   and say how far AdamW's first step moves a weight;
# - train a small character model with `minplt.train.train` and say what its samples do
#   and do not show.
#
# **Prerequisites:** lesson 00 (the block's tensors, `M.forward` and its cache, N(h)),
# the chain rule, what a gradient step is.
#
# **Time:** about 25 minutes to read and work through; running it takes about a minute
# on a 2-core CPU (full version; machines differ; the lecture version, MINPLT_LECTURE=1,
# trains half as many steps), seconds with MINPLT_FAST=1.

# %%
import re
import time

from lesson_setup import FAST, LECTURE, M, claim, data, must, np, plt, say   # lessons/lesson_setup.py
from minplt import train
from visualizations import charts

# %% [markdown]
# ## One block: forward, backward, finite differences
#
# Take the scalar `loss = sum(out * R)` of a block's output for a fixed random `R`.
# Then `d loss / d out = R`, which is what we hand to `block_backward`. It returns
# `d loss / d u` (the block's input) and adds the parameter gradients into `grads`.
# A central difference `(f(p + h) - f(p - h)) / 2h` estimates each of those numbers
# independently, with an error of order `h²` from the formula plus float64 round-off
# of order `1e-16 / h`. We check *every* entry. Parameters are drawn far from their
# initial values so that nothing is trivially zero (attention not uniform, norms not 1).

# %%
cfg = M.make_config("vanilla", preset="tiny", vocab_size=16, n_embd=8, n_head=2,
                    d_ff=12, dtype="float64")
rng = np.random.default_rng(0)
def spread_params(cfg, rng):
    """Random parameters away from the init: gains 1 +- 0.3, matrices normal with std 0.4."""
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
block_worst, n_entries = 0.0, 0
for name, array, analytic in rows:
    err = rel_error(numeric_grad(array), analytic)
    block_worst, n_entries = max(block_worst, err), n_entries + array.size
    print(f"{name:20s} {array.size:7d} {np.abs(analytic).max():11.4f} {err:11.2e}")
print(f"({time.perf_counter() - t0:.1f} s)")
must("every gradient entry of one block agrees with finite differences (rel. error < 1e-6)",
     block_worst < 1e-6, worst_relative_error=block_worst, entries=n_entries);

# %% [markdown]
# The worst relative error is printed above: far below `1e-6`. A wrong sign, a missing
# term or a transposed matrix shows up as an error of order 1. Try it: change a line of
# `block_backward` and run this cell again.
#
# ## The whole model, loops included
#
# The model this course builds up to is the Parallel Loop Transformer, PLT. A PLT-3
# applies the same stack of blocks 3 times (3 *loops*, which lesson 02 introduces) and
# adds three pieces that the later lessons define. Here we only need to know where a
# gradient flows through each:
#
# * **cross-loop parallelism (CLP, lesson 03)**: loop `l` at position `t` starts from
#   loop `l-1`'s output at the *previous* position, `u^(l)_t = E_t + N(h^(l-1)_{t-1})`,
#   where `N(h)` is RMSNorm with the final norm's gain `norm_f` (lesson 00). So the
#   gradient runs from `(t, l)` back to `(t-1, l-1)`. (Loops are numbered 1..L in
#   formulas and 0..L-1 in code, as in lesson 00.)
# * **shared keys and values (KV sharing, lesson 04)**: loops 2..L attend to **loop 1's
#   keys and values** instead of their own, so every later loop sends gradient into them.
# * **gated sliding-window attention (G-SWA, lesson 04)**: each later loop also attends
#   to its own last `W` positions, and a per-head gate
#   `g = sigmoid(a gate_w + gate_b)`, computed from the block's normed input `a`, mixes
#   that local result with the shared one; the gate's parameters `gate_w` (C, H) and
#   `gate_b` (H,) get gradient too.
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
print(f"{cfg3.variant}: clp={cfg3.clp}, kv_share={cfg3.kv_share}, gswa={cfg3.gswa}, W={cfg3.window}")
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
print("  (layers.1.* checked too)")
must(f"the gradients of a whole {cfg3.variant} agree with finite differences (rel. error < 1e-5)",
     worst < 1e-5, worst_relative_error=worst, tensors=len(params3));

# %% [markdown]
# ## The training loop, written out
#
# One optimisation step is four calls: forward + backward (`M.loss_and_grads`),
# clip the global gradient norm (`M.clip_grad_norm`), take the learning rate from the
# warm-up + cosine schedule (`M.lr_schedule`), and update with AdamW (`opt.step`).
# Here are the first steps on character-level text (Python's documentation, built in),
# with a tiny vanilla transformer. The loss starts near `ln V`, a uniform guess; in the
# warm-up the learning rate is still small, so five steps barely move it.

# %%
text = data.load_text("pydoc")
dataset = data.TextDataset(text, block_size=64)
cfg = M.make_config("vanilla", preset="tiny", vocab_size=dataset.vocab_size)
params = M.init_params(cfg, seed=0)
opt = M.AdamW(params, lr=3e-3, weight_decay=0.1)
rng = np.random.default_rng(0)
ln_v = float(np.log(cfg.vocab_size))
print(f"ln V = {ln_v:.3f}")
for step in range(5):
    x, y, _ = dataset.get_batch("train", 16, rng)
    loss, grads = M.loss_and_grads(params, cfg, x, y)       # forward + backward
    norm = M.clip_grad_norm(grads, 1.0)                     # global norm <= 1
    lr = M.lr_schedule(step, 3e-3, warmup=50, total=1000)   # warm-up, then cosine
    opt.step(params, grads, lr=lr)                          # AdamW, decay on matrices only
    print(f"step {step}: loss {loss:.3f}, gradient norm {norm:.3f}, lr {lr:.1e}")
    if step == 0:
        first_loss = loss
claim("the first loss is within 0.1 of ln V", abs(first_loss - ln_v) < 0.1,
      loss=first_loss, ln_V=ln_v);

# %% [markdown]
# `minplt.train.train` is this loop plus evaluation on held-out text, logging,
# checkpoints and resuming. A short run, then samples from the model before and after:
# greedy (always the most likely next character) and sampled at temperature 0.8 (drawn
# from the model's distribution, sharpened a little). To say what the samples show
# without reading them by eye, we measure two things on the generated characters (the
# prompt left out): the share of the sample's words of three or more letters that occur
# as words in the training text, and the share of its characters that are letters or
# spaces, against the same share in the text itself.

# %%
steps = 60 if FAST else 400 if LECTURE else 800     # the lecture version trains half as long
prompt = dataset.tokenizer.encode("The ")
n_sample = 200
text_words = set(re.findall(r"[A-Za-z]{3,}", text))
def known_words(sample):
    """(share of the sample's words of 3+ letters that are words of the training text, their number)"""
    words = re.findall(r"[A-Za-z]{3,}", sample)
    return (sum(w in text_words for w in words) / len(words) if words else 0.0), len(words)
def letter_share(s):
    return sum(ch.isalpha() or ch == " " for ch in s) / max(len(s), 1)

def samples(p):
    """The generated characters (without the prompt): greedy, and sampled at temperature 0.8."""
    greedy = dataset.tokenizer.decode(M.generate(p, cfg, prompt, n_sample))
    sampled = dataset.tokenizer.decode(M.generate(p, cfg, prompt, n_sample, temperature=0.8, seed=0))
    return greedy, sampled

before_greedy, before_sampled = samples(M.init_params(cfg, seed=0))
result = train.train(cfg, dataset, steps=steps, batch_size=16, lr=3e-3, warmup=20,
                     eval_every=max(steps // 8, 1), eval_batches=2, log_every=max(steps // 4, 1),
                     log=print)
after_greedy, after_sampled = samples(result.params)
for when, greedy, sampled in [("before training", before_greedy, before_sampled),
                              (f"after {steps} steps", after_greedy, after_sampled)]:
    print(f"\n{when}:\n  greedy:  {'The ' + greedy[:100]!r}\n  sampled: {'The ' + sampled[:100]!r}")
known_before, _ = known_words(before_sampled)
known_after, n_words = known_words(after_sampled)
letters_text, letters_after = letter_share(text), letter_share(after_sampled)
greedy_words = re.findall(r"[A-Za-z]+", after_greedy)
top_word = max(set(greedy_words), key=greedy_words.count) if greedy_words else ""
top_share = greedy_words.count(top_word) / len(greedy_words) if greedy_words else 0.0
print(f"\nsampled text: {known_before:.0%} of its words of 3+ letters are words of the training "
      f"text before training, {known_after:.0%} after ({n_words} words); letters or spaces: "
      f"{letters_after:.0%} of its characters (the training text: {letters_text:.0%})")
greedy_note = (f"greedy decoding repeats its most likely word ({top_share:.0%} of its words are "
               f"{top_word!r})" if greedy_words else "greedy decoding produced no word at all")
print(f"after training, {greedy_note}")
claim("training raises the share of known words in the sampled text",
      known_after > known_before, before=known_before, after=known_after)
claim("the sample's share of letters and spaces is within 10 points of the text's",
      abs(letters_after - letters_text) < 0.10, sample=letters_after, training_text=letters_text);

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
charts.plot_training_curves({"vanilla (tiny)": result.rows}, ax=axes[0], metric="loss")
charts.plot_training_curves({"vanilla (tiny)": result.rows}, ax=axes[1], metric="val_loss")
for ax in axes:
    ax.axhline(ln_v, color="grey", linestyle=":", label="ln V")
    ax.legend(fontsize=8)
plt.show()
first, last = result.losses[0], float(np.mean(result.losses[-10:]))
print(f"training loss: {first:.3f} at step 1, {last:.3f} averaged over the last 10 steps; "
      f"validation loss {result.val_loss:.3f}")
claim("the validation loss ends at least 1 below ln V", result.val_loss < ln_v - 1,
      val_loss=result.val_loss, ln_V=ln_v);

# %% [markdown]
# ## Exercises
#
# Three, from predicting to implementing. Worked solutions are in
# [solutions/ex01.py](solutions/ex01.py) (try first).
#
# **1. Predict the first loss.** A model over a vocabulary of `V = 50` tokens whose
# logits are all (nearly) equal: what is its mean cross-entropy? (The check builds such a
# model with `M.init_params` and measures it; within 2% is right.)

# %%
from exercises.ex01 import check_adam_first_step, check_fd_gradient, check_first_loss
my_first_loss = None          # replace None with your number, then run
check_first_loss(my_first_loss);

# %% [markdown]
# **2. Finite differences for one entry.** Write `my_fd(loss, array, index, h=1e-5)`:
# `loss()` is a function of no arguments that reads `array`; return the central
# difference estimate of `d loss / d array[index]`, and leave `array` as you found it.
# The check compares your estimate with `M.loss_and_grads` on a small float64 model.

# %%
def my_fd(loss, array, index, h=1e-5):
    ...                      # your code: nudge array[index] up and down, restore it

check_fd_gradient(None);      # replace None with my_fd, then run

# %% [markdown]
# **3. What a 10x learning rate does to AdamW's first step.** With `lr = 3e-2` (10x this
# lesson's) and no weight decay, by how much does AdamW's **first** step change an entry
# of `wq` whose gradient is far larger than Adam's `eps = 1e-8`? Predict a number; note
# that the gradient's size is not given. Then run the short training above with `lr=3e-2` and explain what moved in
# the loss curve: at initialisation the matrices' entries are about `0.02` in size.

# %%
my_first_step = None          # replace None with your number, then run
check_adam_first_step(my_first_step);

# %% [markdown]
# ## Summary
#
# Built from the values measured above (the samples and losses vary with the seed and
# the number of steps; the gradient checks do not).

# %%
sample_note = ("The other words are misspelled strings: a model this small, trained this briefly, "
               "has learned which characters and short words are frequent, not sentences."
               if known_after > known_before else
               "On this run training did not raise the share of real words: too few steps.")
say(f"""
* Each layer's backward restates its forward and is checked against central finite
  differences: all {n_entries:,} entries of one block agree to a relative error of at most
  {block_worst:.1e}.
* A whole {cfg3.variant} (the loops of lesson 02 with the cross-loop shift of lesson 03 and
  the shared keys and values and G-SWA gates of lesson 04) passes the same check, at most
  {worst:.1e} over sampled entries of all {len(params3)} tensors; `tests/test_model.py`
  runs this for every family.
* Training is four calls per step; `minplt.train.train` adds evaluation, logs and
  checkpoints. In {steps} steps the validation loss fell from about ln V = {ln_v:.2f} to
  {result.val_loss:.2f}.
* What the samples show: {greedy_note}; sampled at temperature 0.8,
  {known_after:.0%} of the words of three or more letters are words of the training text
  (before training: {known_before:.0%}), and {letters_after:.0%} of the characters are
  letters or spaces (the text: {letters_text:.0%}). {sample_note}
""")
