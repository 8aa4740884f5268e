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
# # 07 · Test-time compute: what the loops buy
#
# A looped model buys depth with compute instead of parameters: `L` passes of the same
# stack. PLT makes that compute cheap at decode time (one pass per token, lesson 03;
# about vanilla's cache, lesson 04). What is the depth worth? It depends on the problem:
# on a task that needs a chain of steps one after another, each pass can take one more
# step. This notebook measures that on **pointer chasing**, a task the toy models here
# do learn:
#
# 1. the task, and why one block follows one pointer;
# 2. depth: one shared block run once, looped 2 and 3 times, and plain stacks of 2 and 3
#    blocks, scored at each number of hops;
# 3. why two blocks already follow three pointers (pointer doubling);
# 4. the trained loop-3 model run with 1, 2, 3 and 4 loops;
# 5. thinking positions: under cross-loop parallelism an answer's loops run along the
#    diagonal, so deeper questions need positions before the answer;
# 6. what each loop costs: training time, decode time, cache, decode steps per answer.
#
# The code is `minplt.hops` (behind `python -m minplt hops`); the notebook calls its
# functions and prints their numbers. The full version trains eight models of 8000 steps,
# two at a time (several minutes on two cores); the quick version (`MINPLT_FAST=1`) trains
# for a few steps only: its accuracies mean nothing, it only checks that everything runs.

# %%
import dataclasses

from lesson_setup import FAST, M, ROOT, data, np, plt   # lessons/lesson_setup.py: MINPLT_FAST, plot style
from IPython.display import Image, display
from minplt import experiments, hops, parallel
from visualizations import charts

settings = (hops.QUICK if FAST else hops.SETTINGS).replace(seeds=(0,))   # one seed here
n_lines = hops.N_SCORED["quick" if FAST else "full"]    # lines scored per model and k
workers = 1 if FAST else parallel.default_workers()     # runs trained at a time
task = experiments.make_task(settings)
print(f"task: {experiments.describe_task(task)}; line length {task.seq_len}")
print(f"shared stack: width {settings.model.n_embd}, {settings.model.n_head} heads, MLP "
      f"{settings.model.d_ff}, {settings.model.n_layer} block")
print(f"training: {settings.train.steps} steps of {settings.train.batch_size} lines, lr "
      f"{settings.train.lr}, seed {settings.seeds[0]}; {workers} run(s) at a time; "
      f"{n_lines} lines scored per model and number of hops")

# %% [markdown]
# ## 1. The task
#
# Each letter points to one other letter, and following the pointers goes round all the
# letters once (a random cycle). The line gives the table of pointers, **one token per
# pointer** (one character stands for "x → y"), in random order, then questions: a
# letter, answered by the letter `k` pointers further on. `k:` at the start says how
# many. Training mixes lines of 1, 2 and 3 hops; the loss is on the answers only.

# %%
rng = np.random.default_rng(0)
prompt, answer = task.sample("val", rng)
line, answer_positions = task.layout(prompt, answer)
print(f"prompt:  {prompt}")
print(f"answer:  {answer}")
print(f"line:    {line}      (each answer right after its question; answers at "
      f"positions {answer_positions})")
head, questions = prompt.split("|")
n_hops, table = head.split(":")
arrows = [task.unpointer(c) for c in table]                  # 'Ĉ' -> ('a', 'c')
print("\nthe table:  " + "  ".join(f"{c}={x}→{y}" for c, (x, y) in zip(table, arrows)))
following = dict(arrows)
for q, a in zip(questions, answer):
    chain = [q]
    for _ in range(int(n_hops)):
        chain.append(following[chain[-1]])
    print(f"  {q}: {' → '.join(chain)}   (answer {a})")
assert task.solve(prompt) == answer

# %% [markdown]
# Why one block follows one pointer: to answer `d` with one hop, the question's position
# attends to the token whose pointer starts at `d`, and reads where it leads. That is
# one attention step. For a second hop it must look up the pointer that starts at
# *that* letter, which it only knows after the first look-up: a second attention step,
# which one block (one attention layer) does not have. So `k` hops, done one at a time,
# take `k` blocks one after another, which is what a deeper stack or more loops give.
# (Section 3 shows that a stack can do better than one hop per block.)
#
# A guesser that rules out the letters an answer cannot be (the question, its
# neighbours, the other answers of the line) scores about 18% per answer (measured in
# this project, `data.PointerTask`'s docstring); plain chance is 1/9.
#
# ## 2. Depth: one block, looped or stacked
#
# Five models of the same one-block stack, trained the same way on the mixture of 1..3
# hops and scored on lines of exactly `k` hops (`hops.score_by_hops`):
#
# | model | blocks × loops | parameters |
# |---|---|---|
# | vanilla | 1 × 1 | one block |
# | loop-2, loop-3 | 1 × 2, 1 × 3 | one block, looped (no CLP: loop `l` reads loop `l-1` at the same position) |
# | vanilla-2x, vanilla-3x | 2 × 1, 3 × 1 | plain stacks of 2 and 3 blocks: the looped models' compute with 2-3× the parameters |
#
# `hops.run_cells` trains such cells in worker processes and keeps only their scores.
# Sections 4 and 6 need the trained weights too, so here its two steps are called
# directly: `experiments.train_one` (what `run_cells` runs in each worker) through
# `parallel.map_runs`, then `hops.record` (the scores at every `k`, by
# `hops.score_by_hops`), which `hops.summarize` reads. The three models of section 5
# (thinking positions) train in the same pool, so the two cores stay busy.

# %%
CELLS = ([hops.Cell("depth", row, 0) for row in hops.DEPTH_ROWS]
         + [hops.Cell("thinking", "plt-3", 0), hops.Cell("thinking", "plt-3", 2),
            hops.Cell("thinking", "loop-3", 2)])
tasks = {cell: hops.cell_task(settings, cell) for cell in CELLS}   # fillers before each answer
jobs = [(cell.row, tasks[cell], settings, settings.seeds[0], None, False, False, False,
         cell.label) for cell in CELLS]
results = dict(zip(CELLS, parallel.map_runs(experiments.train_one, jobs, workers)))
records = [hops.record(cell, result, tasks[cell], settings.seeds[0], n_lines)
           for cell, result in results.items()]
rows = hops.summarize(records)
depth_rows = [r for r in rows if r["experiment"] == "depth"]
print(f"\ntrained {len(CELLS)} models in {sum(r.elapsed for r in results.values()):.0f} s "
      f"of training time in all")

# %%
display(charts.plot_accuracy_vs_hops(rows))
print(f"% of answers right (% of lines with all {task.queries} answers right):")
for r in depth_rows:
    print(f"  {r['row']:<11s} " + "   ".join(
        f"k={k}: {100 * a:5.1f} ({100 * l:5.1f})"
        for k, a, l in zip(r["hops"], r["answers"], r["lines"])))
print(f"\nRead from the numbers (solved: at least {100 * hops.SOLVED:.0f}% of answers right):")
for finding in hops.findings(depth_rows):
    print(f"  - {finding}")

# %% [markdown]
# One seed is one sample. In this project's runs the jump from one hop to two was
# abrupt, and the training step at which it came varied from seed to seed: a model that
# has not jumped by the end of its budget may be one seed away from it. The curves below
# show where it came in this run (validation accuracy: the fraction of the mixture's
# lines with every answer right, every 1000 steps). `python -m minplt hops` trains
# every cell with 3 seeds and writes the mean ± std over them, with the figures of this
# notebook (`out/hops/accuracy_vs_hops.png`, `thinking.png`).

# %%
charts.plot_training_curves({cell.row: results[cell].rows for cell in CELLS
                             if cell.experiment == "depth"}, metric="val_acc")

# %% [markdown]
# ## 3. Why two blocks already follow three pointers: pointer doubling
#
# One block follows one pointer from a *question*. But the pointer tokens can work too,
# and at the same time. Take two consecutive pointers `x → y` and `y → z`. One of the
# two tokens comes first in the line:
#
# - if `y → z` comes first, the token of `x → y` can attend back to it in the first
#   block and then hold the two-hop pointer `x ⇒ z`;
# - if `x → y` comes first, the token of `y → z` can attend back to it and hold "two
#   back from `z` is `x`", the same two-hop pointer stored at the other end.
#
# Either way, after one block every two-hop pointer is held somewhere. In the second
# block the question, which found its first pointer `q → r` in the first block, looks
# up the two-hop pointer from `r`: 1 + 2 = 3 hops with two blocks. With `L` blocks the
# jumps double each block, 1 + 2 + 4 + … = `2^L - 1` hops: the known result that `k`-hop
# look-ups need only depth logarithmic in `k` ("Transformers, Parallel Computation, and
# Logarithmic Depth", 2024). Whether training finds this is another matter. On the
# example line above (its own positions, where `k:` takes the first two):

# %%
position = {x: 2 + i for i, (x, _) in enumerate(arrows)}        # where x's pointer sits
for x, y in arrows[:4]:
    z = following[y]
    later, earlier = ((x, y), (y, z)) if position[y] < position[x] else ((y, z), (x, y))
    print(f"{x}⇒{z}: {later[0]}→{later[1]} (position {position[later[0]]}) attends back to "
          f"{earlier[0]}→{earlier[1]} (position {position[earlier[0]]})")
q = questions[0]
r = following[q]
t = following[following[r]]
print(f"\nquestion {q}, 3 hops: block 1 reads {q}→{r}; block 2 reads the two-hop "
      f"{r}⇒{t}; answer {t}, after two blocks")

# %% [markdown]
# How far do more loops reach? Trained on 1..4 hops from the first step, loop-3 and
# loop-4 did not get past one hop in 8000 steps: a deeper mixture is harder to learn.
# With a **curriculum** they do: `python -m minplt hops --experiment staircase` trains
# on 1..2 hops for the first third of 16,000 steps, 1..3 for the second, 1..4 for the
# last, with three seeds (14 minutes on two cores; too long to repeat here). Its figure:

# %%
Image(filename=str(ROOT / "visualizations" / "figures" / "staircase.png"))

# %% [markdown]
# One loop follows one hop; two loops reach three hops at 86% of the answers and four
# at 31%; three loops reach three hops at 99% and four at 83% (per seed 54, 96 and
# 100%). Accuracy against `k` moves with `L`: a staircase, though with the steps of
# doubling rather than one hop per loop (two loops already do most of three hops). A
# fourth loop did not add to a third here (72 ± 24% at four hops): the seeds spread
# widely at the deep end.
#
# ## 4. Other loop counts at test time
#
# loop-2, loop-3 and loop-4 of one block have the same parameters, so the trained loop-3
# model can be run with any number of loops by changing `n_loops` in its config. With one
# loop the model is a plain transformer, which `model.Config` knows from `n_loops = 1`
# (its `family` is then 'vanilla'); a config with one loop and a loop flag on (`clp`,
# `kv_share`, `gswa`) is refused, so `run_with` turns the flags off (loop-3 has none on).

# %%
looped = hops.Cell("depth", "loop-3", 0)
trained = results[looped]


def run_with(cfg, n_loops):
    """cfg with n_loops loops; one loop is the plain transformer (loop flags off)."""
    off = {} if n_loops > 1 else dict(clp=False, kv_share=False, gswa=False)
    return dataclasses.replace(cfg, n_loops=n_loops, **off)


loop_counts = (1, 2, 3, 4)
by_loops, best_loops = {}, {}
for n in loop_counts:
    cfg = run_with(trained.config, n)
    scores = hops.score_by_hops(trained.params, cfg, tasks[looped], n_lines)
    by_loops[n] = dict(hops=list(scores), answers=[a for a, _ in scores.values()])
ks = by_loops[3]["hops"]
print("loop-3 (trained with 3 loops) run with n loops: % of answers right")
print(f"  {'n':>2s}  {'family':8s} " + " ".join(f"{'k=' + str(k):>7s}" for k in ks)
      + "   solves up to")
for n in loop_counts:
    e = by_loops[n]
    print(f"  {n:2d}  {run_with(trained.config, n).family:8s} "
          + " ".join(f"{100 * a:7.1f}" for a in e["answers"]) + f"   {hops.solved_up_to(e)} hop(s)")
print()
for j, k in enumerate(ks):
    accuracy = {n: by_loops[n]["answers"][j] for n in loop_counts}
    best_loops[k] = [n for n in loop_counts if accuracy[n] == max(accuracy.values())]
    print(f"k={k}: best with {' or '.join(map(str, best_loops[k]))} "
          f"loop(s); 2 loops {100 * (accuracy[2] - accuracy[3]):+.1f} points and 4 loops "
          f"{100 * (accuracy[4] - accuracy[3]):+.1f} points against the 3 it was trained with")

# %% [markdown]
# How to read it: the block was trained to read its own output, at loops 2 and 3.
# Fewer loops cut a computation that was spread over three passes; whether that loses
# the deepest questions only, or more, is in the lines above. A fourth loop feeds the
# block an input it never saw in training; whether it helps, does nothing or hurts is
# printed too.
#
# ## 5. Thinking positions under CLP
#
# Under cross-loop parallelism loop `l` at position `t` reads loop `l-1` at `t-1`
# (docs/method.md §4). An answer is predicted at the position just before it: the
# question letter itself, or the last filler after it. Follow the residual stream back
# from that position's last loop: it runs down the diagonal, one position to the left
# per loop. With no fillers that position is the question, and the residual of its last
# loop comes from loop `L-1` of the position before, which knows nothing of the
# question: the question enters only as its token's embedding, and the last loop's
# attention follows one pointer from it. One hop. With fillers ('_' positions before
# each answer), the question's position looks up one pointer at loop 1 and hands the
# letter it found to the next position at loop 2, which looks up the next pointer, and
# so on along the diagonal: `k` hops need `k - 1` positions between question and answer
# (and `k` loops).
#
# Without CLP a filler does not help that way: the last filler's own token says
# nothing, so its first loop is spent fetching the question (or what the question's
# position found) from the positions before; a filler costs a step of depth.
#
# Three models trained with fillers, beside the loop-3 and plt-3 runs without them:
# plt-3 with 0 and 2 fillers, loop-3 (no CLP) with 0 (the run of section 2) and 2.
# `hops.summarize` puts the loop-3 run of section 2 into this experiment as its
# no-filler point.

# %%
thinking_rows = [r for r in rows if r["experiment"] == "thinking"]
display(charts.plot_thinking(rows))
for r in thinking_rows:
    print(f"  {r['row']:<7s} {r['fillers']} filler(s): " + "   ".join(
        f"k={k}: {100 * a:5.1f}%" for k, a in zip(r["hops"], r["answers"])))
print()
for r in thinking_rows:
    line = f"{r['row']} with {r['fillers']} filler(s): solves up to {hops.solved_up_to(r)} hop(s)"
    if r["row"] == "plt-3":
        line += f"; the diagonal reaches {min(r['fillers'] + 1, r['n_loops'], task.hops)}"
    print(line)
by = {(r["row"], r["fillers"]): r for r in thinking_rows}
for row in ("plt-3", "loop-3"):
    print(f"{row}, 2 fillers against none: " + ", ".join(
        f"k={k} {100 * (a - b):+.1f}" for k, a, b in
        zip(by[row, 2]["hops"], by[row, 2]["answers"], by[row, 0]["answers"])) + " points")

# %% [markdown]
# ## 6. What each loop costs
#
# For every model trained above: training time per step (each loop is a full pass over
# the line; the runs trained two at a time, on a machine that may have been busy),
# decode time per token (`experiments.decode_ms_per_token` with the fastest backend, the
# parallel schedule for CLP models), decode steps per answer (the question and its
# fillers each take one step before the answer comes out), and the KV cache of one
# line (`model.kv_cache_bytes_formula`, at the line's own length, fillers included).

# %%
backend, note = experiments.pick_backend("auto")
print(f"decode backend: {note}\n")
costs = {}
for cell, result in results.items():
    cell_task = tasks[cell]
    sample_line, positions = cell_task.layout(*cell_task.sample("val", np.random.default_rng(0)))
    prompt_ids = cell_task.tokenizer.encode(sample_line[:positions[0]])
    ms = experiments.decode_ms_per_token(result.params, result.config, prompt_ids,
                                         4 if FAST else 32, backend)
    costs[cell] = dict(train_ms=1000 * result.elapsed / result.step, decode_ms=ms,
                       steps=1 + cell.fillers, answer_ms=ms * (1 + cell.fillers),
                       kv=M.kv_cache_bytes_formula(result.config, cell_task.seq_len),
                       params=M.count_params(result.params))
print(f"{'model':26s} {'params':>7s} {'train ms/step':>13s} {'decode ms/token':>15s} "
      f"{'steps/answer':>12s} {'ms/answer':>9s} {'KV bytes/line':>13s}")
for cell, c in costs.items():
    print(f"{cell.label if cell.fillers else cell.row:26s} {c['params']:7,} {c['train_ms']:13.1f} "
          f"{c['decode_ms']:15.3f} {c['steps']:12d} {c['answer_ms']:9.3f} {c['kv']:13,}")
print(f"\n{experiments.LATENCY_NOTE}")

# %% [markdown]
# ## 7. Summary
#
# The lines below are printed from this run's numbers.

# %%
def cost(row, fillers=0, experiment=None):
    return next(c for cell, c in costs.items() if cell.row == row and cell.fillers == fillers
                and (experiment is None or cell.experiment == experiment))


print("Depth (section 2):")
for finding in hops.findings(depth_rows):
    print(f"  - {finding}")
print("Loops at test time (section 4): the trained loop-3 scores best with "
      + ", ".join(f"{' or '.join(map(str, n))} loop(s) at k={k}" for k, n in best_loops.items())
      + f"; with 4 loops it solves up to {hops.solved_up_to(by_loops[4])} hop(s), with 3 "
      f"up to {hops.solved_up_to(by_loops[3])}")
print("Thinking positions (section 5):")
for finding in hops.findings(thinking_rows):
    print(f"  - {finding}")
v, l3, p3 = cost("vanilla"), cost("loop-3", experiment="depth"), cost("plt-3", 2)
print(f"Costs (section 6): loop-3 decodes at x{l3['decode_ms'] / v['decode_ms']:.2f} vanilla's "
      f"time per token and plt-3 at x{cost('plt-3')['decode_ms'] / v['decode_ms']:.2f}; "
      f"an answer of plt-3 with 2 fillers takes {p3['steps']} steps, "
      f"{p3['answer_ms']:.3f} ms against loop-3's {l3['answer_ms']:.3f} ms in 1 step; "
      f"KV cache of one line: loop-3 x{l3['kv'] / v['kv']:.2f} vanilla, plt-3 with 2 "
      f"fillers x{p3['kv'] / v['kv']:.2f}")

# %% [markdown]
# What this lesson does not show from its own run, but states from measurements:
#
# * Two blocks reach three hops and not four (loop-2: 100 / 99.9 / 86.0 / 19.5 % at
#   `k` = 1..4, one seed, 8000 steps), as pointer doubling predicts; looped 3 and 4 times
#   on the same 1..4 mixture the block learned only one hop in that budget.
# * One seed is one sample: the two-hop jump comes at a step that varies between seeds.
#   `python -m minplt hops` repeats every cell with 3 seeds.
#
# What each extra loop costs is in section 6: a pass of the shared stack in training, a
# row of each decode pass (a pass of its own without CLP), and, without KV sharing, a
# cache of its own. Under CLP the depth of an answer runs through the positions before
# it, so the fillers that give it that depth are paid for in decode steps and cache.
