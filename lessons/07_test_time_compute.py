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
# # 07 · Test-time compute: accuracy against loops and difficulty
#
# A looped model buys depth with compute instead of parameters: `L` loops of the same
# stack. PLT makes that compute cheap at decode time (one pass per token, lesson 03;
# about vanilla's cache, lesson 04). So the question is how much accuracy each extra
# loop buys, and on which problems. This notebook trains models with `L = 1` (the
# plain transformer), 2, 3 and 4 loops of the **same one-block stack**, with the same
# data and steps, and measures accuracy against `L` and against the difficulty of the
# question:
#
# 1. on the **multi-hop** task, where difficulty is the number of hops: a question
#    needing `h` hops must follow `h` bindings one after another
#    (`a=7;b=a;c=b;c?` → `7` is three hops);
# 2. on **sorting**, where difficulty is the number of letters to sort: every output
#    letter depends on the whole input ("the smallest letter not yet written");
# 3. then runs each trained model with more or fewer loops than it was trained with,
#    and measures what each loop costs.
#
# The LoopCoder-v2 work found 2 loops best and 3-4 worse on code; the paper's PLT-3
# beat PLT-2 on its benchmarks. What happens at toy scale is measured below, and every
# conclusion is printed from the numbers of this run.

# %%
import dataclasses

from lesson_setup import FAST, M, data, np, plt   # lessons/lesson_setup.py: MINPLT_FAST, plot style
from minplt import train, experiments
from visualizations import charts


# %% [markdown]
# ## The protocol
#
# For each task, questions of several difficulties are mixed in one training stream
# (padded to the longest, so a batch can hold them all). The mixture is a small object
# with the interface `train.train` expects (`get_batch`, `tokenizer`, `block_size`,
# `exact_match`). Each model is then scored on held-out questions of each difficulty:
# exact-match accuracy, and the cross-entropy of the answer tokens, which moves before
# the accuracy does.

# %%
class Mixture:
    """Batches mixing the tasks of `tasks` (difficulty -> data.Task, all of one seq_len)."""
    def __init__(self, tasks, train_keys):
        self.tasks, self.keys = tasks, list(train_keys)
        first = tasks[self.keys[0]]
        self.tokenizer, self.block_size, self.exact_match = first.tokenizer, first.block_size, first.exact_match
    def get_batch(self, split, batch_size, rng):
        parts = [self.tasks[k].get_batch(split, 1, rng) for k in rng.choice(self.keys, batch_size)]
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))

LOOPS = (1, 2, 3, 4)
MODEL = dict(n_embd=32, n_layer=1, d_ff=64, window=4)        # the shared stack: one block
TRAIN = dict(batch_size=8, lr=3e-3, warmup=10) if FAST else dict(batch_size=32, lr=3e-3, warmup=100)
N_EVAL = 32 if FAST else 512

def train_loop_counts(mixture, steps):
    """Train L = 1..4 (vanilla, then PLT) on `mixture`; returns L -> train.TrainResult."""
    models = {}
    for L in LOOPS:
        cfg = M.make_config("vanilla" if L == 1 else f"plt-{L}", preset="tiny",
                            vocab_size=mixture.tokenizer.vocab_size,
                            block_size=max(mixture.block_size, 64), **MODEL)
        models[L] = train.train(cfg, mixture, steps=steps, eval_every=steps, eval_batches=1, seed=0,
                                log=lambda line: None, **TRAIN)
        print(f"  {cfg.variant:8s} {M.count_params(models[L].params):,} parameters, {steps} steps in "
              f"{models[L].elapsed:5.1f} s")
    return models

def evaluate(params, cfg, task, n=N_EVAL, seed=1):
    """(exact-match accuracy, mean cross-entropy of the answer tokens) on n validation questions."""
    x, y, mask = task.get_batch("val", n, np.random.default_rng(seed))
    logits = M.forward(params, cfg, x)[0]
    probs = M.softmax(logits[mask].astype(np.float64))                 # (answer tokens, V)
    return task.accuracy(logits, y, mask), float(-np.mean(np.log(probs[np.arange(len(probs)), y[mask]])))

def score_grid(models, tasks):
    """(accuracy, answer loss) for every (L, difficulty)."""
    return {(L, k): evaluate(models[L].params, models[L].config, tasks[k]) for L in models for k in tasks}

def report(scores, tasks, what, chance):
    """Print the table and, per difficulty, the gain of each extra loop against the noise."""
    noise = 100 * np.sqrt(0.25 / N_EVAL)                                # standard error near 50%
    print(f"accuracy % (answer loss)    " + "".join(f"{what} {k:<9}" for k in tasks))
    for L in LOOPS:
        name = "vanilla" if L == 1 else f"plt-{L}"
        print(f"{name:27s} " + "".join(f"{100 * scores[L, k][0]:5.1f} ({scores[L, k][1]:.2f}) " for k in tasks))
    print(f"chance: {chance}; one standard error of an accuracy on {N_EVAL} questions ~ {noise:.1f} points "
          "(evaluation noise only: another training seed moves a model by more, see lesson 06)\n")
    for k in tasks:
        gains = [100 * (scores[L, k][0] - scores[L - 1, k][0]) for L in LOOPS[1:]]
        useful = [L for L, g in zip(LOOPS[1:], gains) if g > 2 * np.sqrt(2) * noise]
        best = max(LOOPS, key=lambda L: scores[L, k][0])
        print(f"{what} {k}: gain of loop 2, 3, 4: " + ", ".join(f"{g:+5.1f}" for g in gains)
              + f" points; best L = {best}; loops whose gain exceeds the noise: {useful or 'none'}")

def plot_grid(scores, tasks, what, chance_acc, unseen=()):
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.5), layout="constrained")
    for k in tasks:
        style = "o--" if k in unseen else "o-"
        axes[0].plot(LOOPS, [100 * scores[L, k][0] for L in LOOPS], style, label=f"{what} {k}")
        axes[1].plot(LOOPS, [scores[L, k][1] for L in LOOPS], style, label=f"{what} {k}")
    for L in LOOPS:
        axes[2].plot(list(tasks), [100 * scores[L, k][0] for k in tasks], "o-",
                     label="vanilla" if L == 1 else f"plt-{L}")
    axes[0].axhline(chance_acc, color="grey", linestyle=":", label="chance")
    axes[2].axhline(chance_acc, color="grey", linestyle=":", label="chance")
    axes[0].set(xlabel="loops L", ylabel="accuracy (%)", xticks=LOOPS, title="accuracy against loops")
    axes[1].set(xlabel="loops L", ylabel="answer cross-entropy", xticks=LOOPS, title="answer loss (lower is better)")
    axes[2].set(xlabel=what, ylabel="accuracy (%)", xticks=list(tasks), title=f"accuracy against {what}")
    for ax in axes:
        ax.grid(alpha=0.3); ax.legend(fontsize=7)
    plt.show()


# %% [markdown]
# ## 1. Multi-hop: accuracy against loops and hops
#
# Two distractor chains in every question, so guessing the first digit of one of the
# three chains is right a third of the time. Trained on 1, 2 and 3 hops; 4 hops are
# never seen in training.

# %%
hop_counts, train_hops, distractors = ((1, 2, 3) if FAST else (1, 2, 3, 4)), (1, 2, 3), 2
longest = data.make_task("multihop", hops=max(train_hops), distractors=distractors).seq_len
train_tasks = {h: data.make_task("multihop", hops=h, distractors=distractors, seq_len=longest, loss_on="answer")
               for h in train_hops}                                  # padded to one length
hop_tasks = {h: data.make_task("multihop", hops=h, distractors=distractors, loss_on="answer")
             for h in hop_counts}                                    # for evaluation, unpadded
for h, task in hop_tasks.items():
    prompt, answer = task.sample("val", np.random.default_rng(0))
    print(f"{h} hop{'s' if h > 1 else ' '}: {prompt} -> {answer}")
hop_models = train_loop_counts(Mixture(train_tasks, train_hops), 30 if FAST else 1000)
hop_scores = score_grid(hop_models, hop_tasks)
report(hop_scores, hop_tasks, "hops", f"{100 / (1 + distractors):.1f}%")

# %%
plot_grid(hop_scores, hop_tasks, "hops", 100 / (1 + distractors), unseen=[h for h in hop_counts if h not in train_hops])
best = max(100 * a for a, _ in hop_scores.values())
print(f"best accuracy of any model on any number of hops: {best:.1f}% (chance {100 / (1 + distractors):.1f}%)")

# %% [markdown]
# If every model sits a few points above chance, none of them has learned to follow
# a binding at all in this budget: a one-block stack of width 32 needs far more than a
# few thousand steps to discover the look-up (the same finding made
# `minplt.experiments` move its default ablation to sorting). Extra loops cannot show
# their effect on a task nobody has learned. So the same protocol, on a task these
# models do learn.
#
# ## 2. Sorting: accuracy against loops and length
#
# Sort `n` letters (`dbca=` → `abcd`); the answer is all `n` letters, exactly right.
# Trained on a mixture of 4, 6, 8 and 10 letters.

# %%
lengths = (4, 6, 8) if FAST else (4, 6, 8, 10)
longest = data.make_task("sort", length=max(lengths)).seq_len
sort_tasks = {n: data.make_task("sort", length=n, seq_len=longest, loss_on="answer") for n in lengths}
for n, task in sort_tasks.items():
    prompt, answer = task.sample("val", np.random.default_rng(0))
    print(f"{n:2d} letters: {prompt} -> {answer}")
sort_models = train_loop_counts(Mixture(sort_tasks, lengths), 30 if FAST else 1500)
sort_scores = score_grid(sort_models, sort_tasks)
report(sort_scores, sort_tasks, "length", "~0% (every letter must be right)")

# %%
plot_grid(sort_scores, sort_tasks, "length", 0)

# %% [markdown]
# ## More loops at test time than in training?
#
# PLT-2, -3 and -4 have the same parameters, so each trained model can be run with any
# number of loops by changing `n_loops` in its config (`L = 1` drops the loop flags).
# A model trained with `L` loops has learned `L - 1` hand-overs; here is what running
# it with another number does, on the longest sorting task:

# %%
n_probe = max(lengths)
print(f"accuracy (%) sorting {n_probe} letters; rows: trained with, columns: run with")
print("                " + "".join(f"L={L:<6d}" for L in LOOPS))
for trained in LOOPS[1:]:
    cfg = sort_models[trained].config
    cells = []
    for run_L in LOOPS:
        run_cfg = (dataclasses.replace(cfg, n_loops=1, clp=False, kv_share=False, gswa=False)
                   if run_L == 1 else dataclasses.replace(cfg, n_loops=run_L))
        cells.append(100 * evaluate(sort_models[trained].params, run_cfg, sort_tasks[n_probe])[0])
    print(f"trained {cfg.variant:7s} " + "".join(f"{c:6.1f}  " for c in cells)
          + f"  best when run with L = {LOOPS[int(np.argmax(cells))]}")

# %% [markdown]
# ## What each loop costs
#
# Training time per step grows with `L` (in training every loop is a full pass over the
# sequence). Decoding with the parallel schedule on the Numba backend costs one pass
# with `L` rows per token, and the KV cache grows by only `(L-1) · W` positions.

# %%
backend, note = experiments.pick_backend("auto")
task = sort_tasks[max(lengths)]
prompt = task.tokenizer.encode(task.sample("val", np.random.default_rng(0))[0])
print(f"decode backend: {note}\n")
print(f"{'model':8s} {'train ms/step':>13s} {'decode ms/token':>15s} {'KV bytes @ 1024':>16s}")
for L in LOOPS:
    r = sort_models[L]
    ms = experiments.decode_ms_per_token(r.params, r.config, prompt, 8 if FAST else 32, backend)
    print(f"{r.config.variant:8s} {1e3 * r.elapsed / r.step:13.1f} {ms:15.3f} "
          f"{M.kv_cache_bytes_formula(r.config, 1024):16,}")

# %% [markdown]
# ## Summary
#
# * Each extra loop adds a pass of the shared stack in training, a row to each decode
#   pass and `W` positions of cache; no parameters (the table above).
# * Whether a loop helps depends on whether the task is learned at all. The printed
#   lines say, per difficulty, which extra loops gained more than the evaluation's
#   noise: on multi-hop at this size, read them against the best accuracy over chance;
#   on sorting, look at where the gains shrink below the noise as `L` grows, and at
#   whether longer inputs need more loops before that happens. That point is "where more
#   loops stop helping" for this model and budget.
# * The last table shows what running a model with a different number of loops than it
#   was trained with does: in PLT the number of loops is chosen when training.
# * These are toy models (one block, width 32, a few thousand steps, one seed); the
#   paper's gains were measured on models of billions of parameters.
