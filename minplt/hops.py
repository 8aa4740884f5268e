"""What the loops buy: `python -m minplt hops`.

On pointer chasing (data.PointerTask: each question is a letter, its answer the letter
that many pointers further on, and one token holds one pointer, so one attention step
follows one pointer), this trains one shared one-block stack in several ways and scores
every model at each number of hops. The experiments (--experiment):

  depth      vanilla (the block once), loop-2 and loop-3 (the block looped), and plain
             stacks of 2 and 3 blocks (vanilla-2x, vanilla-3x: the looped models'
             compute with 2-3x the parameters), trained on a mixture of 1..K hops
             -> accuracy_vs_hops.png: accuracy against hops for each model
  thinking   loop-3, loop+clp+kvshare-3 and plt-3 with 0, 1 or 2 filler positions
             ('thinking' tokens) before each answer. Under cross-loop parallelism
             loop l of a position reads loop l-1 of the position before (docs/method.md
             §4), so the depth that reaches an answer is spread over the positions
             before it: a question of n hops should need n-1 fillers. Without CLP a
             filler is no help: the answer position must first fetch the question
             from the position before, which costs a step of depth. (loop-3 with no
             fillers is the run of the depth experiment.)
             -> thinking.png
  staircase  vanilla and the block looped 2, 3 and 4 times on 1..4 hops, trained with a
             curriculum (the deepest questions rise 2 -> 3 -> 4 over the steps) and twice
             the steps: how far the loops reach. (--experiment staircase; its own
             folder, out/hops-staircase)
             -> staircase.png
  lesson     the class-sized experiment of lesson 07 (its own folder, out/hops-lesson):
             vanilla and loop-2 (depth), plt-2 with 0 and 1 filler (thinking), on 1..2
             hops, a short budget; each row shows its effect in every seed.
             -> accuracy_vs_hops.png, thinking.png

Every cell trains with several seeds (default 3), one run per core in worker
processes, each keeping its checkpoint in <out>/runs/: after a Ctrl-C, --resume
continues where the runs stopped (and reloads the finished ones). results.md gives
mean ± std over seeds, results.json every run. The README gives the run times of the
full runs on two cores; --seeds 1 takes a third of that; --quick seconds.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

import numpy as np

from minplt import checkpoint, model, parallel
from minplt import data as datalib
from minplt import experiments as ex
from minplt import train as trainlib

DEPTH_ROWS = ("vanilla", "loop-2", "loop-3", "vanilla-2x", "vanilla-3x")
STAIR_ROWS = ("vanilla", "loop-2", "loop-3", "loop-4")
THINK_ROWS = ("loop-3", "loop+clp+kvshare-3", "plt-3")
FILLERS = (0, 1, 2)
SOLVED = 0.9            # a depth counts as solved from this accuracy per answer

# The stack and budget chosen by measurement (README Findings): width 64 with a narrow
# MLP learns the look-ups within 8000 steps of lr 1e-2, where the wider default MLP
# learns slower; 10 letters and 5 questions per line give 5 answers to learn from.
SETTINGS = ex.Settings(
    task="pointer", task_kwargs=dict(hops=3, min_hops=1, nodes=10, queries=5, think=0),
    model=model.Config(n_embd=64, n_head=4, d_ff=16, n_layer=1, window=4, block_size=64),
    train=trainlib.TrainSettings(steps=8000, batch_size=32, lr=1e-2, warmup=200,
                                 eval_every=1000, eval_batches=4),
    seeds=(0, 1, 2))
QUICK = SETTINGS.replace(
    task_kwargs=dict(hops=2, min_hops=1, nodes=5, queries=2, think=0), seeds=(0,),
    train=SETTINGS.train.replace(steps=10, batch_size=8, eval_every=5, eval_batches=1))
# The staircase: 1..4 hops. Trained on all four from the start, loop-3 and loop-4
# learned one hop in 8000 steps; with the deepest questions added stage by stage, and
# twice the steps, loop-3 answered 99% at 3 hops and 83% at 4 (README, What the loops
# buy).
STAIRCASE = SETTINGS.replace(
    task_kwargs=dict(hops=4, min_hops=1, nodes=10, queries=5, think=0, stages=(2, 3, 4)),
    train=SETTINGS.train.replace(steps=16000, eval_every=2000))
QUICK_STAIRCASE = QUICK.replace(task_kwargs={**QUICK.task_kwargs, "hops": 3, "stages": (2, 3)})
# Lesson 07's experiment: the smallest that shows the three effects in every seed
# (vanilla stops at one hop, loop-2 takes two, plt-2 takes two only with a filler).
# The training of the ablation and the demo on pointer chasing (experiments.TASK_DEFAULTS):
# with 4000 steps plt-2 with a filler learned the second hop in one seed of three
# (docs/reliability.md). lessons/results/07_hops.json is its results.json.
LESSON = SETTINGS.replace(
    task_kwargs=dict(hops=2, min_hops=1, nodes=10, queries=5, think=0),
    train=trainlib.TrainSettings(steps=6000, batch_size=32, lr=1e-2, warmup=200,
                                 eval_every=500, eval_batches=4))
QUICK_LESSON = QUICK
LESSON_CELLS = (("depth", "vanilla", 0), ("depth", "loop-2", 0), ("thinking", "plt-2", 0),
                ("thinking", "plt-2", 1))
N_SCORED = {"full": 512, "quick": 16}       # lines scored per model and hop count


@dataclasses.dataclass(frozen=True)
class Cell:
    """One trained model: an experiment, a row and a number of fillers."""
    experiment: str     # 'depth' or 'thinking'
    row: str            # an experiments row name: 'loop-3', 'vanilla-2x', 'plt-3'
    fillers: int        # thinking positions before each answer

    @property
    def label(self) -> str:
        return self.row if self.experiment == "depth" else f"{self.row}, {self.fillers} filler(s)"

    @property
    def folder(self) -> str:
        """Its run folders' name: the row, with '+N-fillers' when it has fillers."""
        return self.row if not self.fillers else f"{self.row}+{self.fillers}-fillers"


def cells(depth_rows=DEPTH_ROWS, think_rows=THINK_ROWS, fillers=FILLERS,
          stair_rows=()) -> list[Cell]:
    """The models to train; a thinking row with no fillers that is also a depth row is
    trained once (summarize() shows it in both experiments)."""
    return ([Cell("depth", row, 0) for row in depth_rows]
            + [Cell("staircase", row, 0) for row in stair_rows]
            + [Cell("thinking", row, n) for row in think_rows for n in fillers
               if n > 0 or row not in depth_rows])


def score_by_hops(params, cfg: model.Config, task, n_lines: int, seed: int = 0) -> dict:
    """hops -> (fraction of answers right, fraction of lines with every answer right) on
    n_lines validation lines of exactly that many hops, for 1..task.hops."""
    scores = {}
    for k in range(1, task.hops + 1):
        at_k = task.with_hops(k)
        x, y, mask = at_k.get_batch("val", n_lines, np.random.default_rng([seed, k]))
        logits = model.forward(params, cfg, x)[0]
        scores[k] = (datalib.answer_token_accuracy(logits, y, mask),
                     float(at_k.exact_match(logits, y, mask).mean()))
    return scores


def cell_task(s: ex.Settings, cell: Cell):
    """The task of the settings with the cell's filler positions before each answer."""
    return ex.make_task(s.replace(task_kwargs={**s.task_kwargs, "think": cell.fillers}))


def train_and_score(cell: Cell, task, s: ex.Settings, seed: int, n_lines: int,
                    out_dir: str | None = None, resume: bool = False,
                    overwrite: bool = False) -> dict | None:
    """Train one cell with one seed (in a worker) and score it at every depth; a small
    JSON-ready record, or None after a Ctrl-C. With out_dir the run keeps its checkpoint
    in out_dir/<cell.folder>-seed<seed>, and resume reloads or continues it."""
    result = ex.train_one(cell.row, task, s, seed, out_dir, resume=resume, overwrite=overwrite,
                          label=cell.label, folder=cell.folder)
    if result is None:
        return None
    return dict(record(cell, result, task, seed, n_lines),
                first_losses=first_losses(cell, s, seed))


def record(cell: Cell, result, task, seed: int, n_lines: int) -> dict:
    """What is kept of a trained run (a train.TrainResult): its scores at every depth."""
    per_k = score_by_hops(result.params, result.config, task, n_lines)
    return dict(experiment=cell.experiment, row=cell.row, fillers=cell.fillers, seed=seed,
                params=model.count_params(result.params), seconds=result.elapsed,
                n_layer=result.config.n_layer, n_loops=result.config.n_loops,
                answers={k: a for k, (a, _) in per_k.items()},
                lines={k: l for k, (_, l) in per_k.items()},
                curve=[(r["step"], r["val_acc"]) for r in result.rows if r.get("val_acc") is not None])


# How many steps first_losses trains, and how often it logs the loss.
FIRST_STEPS, FIRST_EVERY = 100, 20


def first_losses(cell: Cell, s: ex.Settings, seed: int) -> list:
    """Train one cell with one seed as run_cells does (the full run's settings and
    learning-rate schedule), but only for its first FIRST_STEPS steps: [[step, loss], ...]
    every FIRST_EVERY steps. Each run's record keeps them, so that a committed results.json
    can be checked against the code in seconds. Why not the first evaluation: two CPUs
    round differently, and the difference grows with training. In the first hundred steps
    the losses of the NumPy and the Numba layers agree to about 1e-6; at step 500, in the
    middle of the jump, one machine had 7% of lines right where another had 22%."""
    steps = min(FIRST_STEPS, s.train.steps)
    rows = ex.train_first_steps(cell.row, cell_task(s, cell), s, seed, steps, FIRST_EVERY)
    return [[r["step"], r["loss"]] for r in rows
            if r["step"] % FIRST_EVERY == 0 or r["step"] == steps]


def run_cells(s: ex.Settings, chosen: list[Cell], n_lines: int, workers: int,
              out_dir: str | None = None, resume: bool = False,
              overwrite: bool = False) -> list[dict]:
    """Every cell with every seed, `workers` at a time; the records in a fixed order.
    With out_dir every run keeps its checkpoint there (train_and_score)."""
    jobs = []
    for cell in chosen:
        jobs += [(cell, cell_task(s, cell), s, seed, n_lines, out_dir, resume, overwrite)
                 for seed in s.seeds]
    records = parallel.map_runs(train_and_score, jobs, workers)
    if any(r is None for r in records):
        raise KeyboardInterrupt
    return records


def summarize(records: list[dict], think_rows=THINK_ROWS) -> list[dict]:
    """One row per (experiment, row, fillers): mean and std over seeds at every depth. A
    depth run of a thinking row counts in the thinking experiment too (no fillers)."""
    groups: dict = {}
    for r in records:
        groups.setdefault((r["experiment"], r["row"], r["fillers"]), []).append(r)
    thinking = {row for experiment, row, _ in groups if experiment == "thinking"}
    for (experiment, row, fillers), runs in list(groups.items()):
        if experiment == "depth" and row in think_rows and row in thinking:
            groups.setdefault(("thinking", row, 0), runs)
    rows = []
    for (experiment, row, fillers), runs in groups.items():
        ks = sorted(runs[0]["answers"], key=int)
        entry = dict(experiment=experiment, row=row, fillers=fillers, seeds=len(runs),
                     params=runs[0]["params"], n_layer=runs[0]["n_layer"],
                     n_loops=runs[0]["n_loops"], hops=[int(k) for k in ks],
                     seconds=float(np.mean([r["seconds"] for r in runs])))
        for what in ("answers", "lines"):
            values = np.array([[r[what][k] for k in ks] for r in runs])
            entry[what] = values.mean(0).tolist()
            entry[what + "_std"] = (values.std(0, ddof=1) if len(runs) > 1
                                    else np.zeros(len(ks))).tolist()
            entry[what + "_per_seed"] = values.tolist()
        rows.append(entry)
    order = {row: i for i, row in enumerate(dict.fromkeys(r["row"] for r in records))}
    experiments = ("depth", "staircase", "thinking")
    return sorted(rows, key=lambda r: (experiments.index(r["experiment"]), order[r["row"]],
                                       r["fillers"]))


def solved_up_to(entry: dict) -> int:
    """The largest n such that every depth up to n hops is solved (mean accuracy per answer
    >= SOLVED); 0 when not even one hop is."""
    depth = 0
    for k, accuracy in zip(entry["hops"], entry["answers"]):
        if accuracy < SOLVED:
            break
        depth = k
    return depth


def _next_depth(entry: dict) -> str:
    """'; 89% at 3 hops' after a 'solves up to 2' (nothing when every depth is solved)."""
    depth = solved_up_to(entry)
    if depth >= len(entry["hops"]):
        return ""
    return f"; {100 * entry['answers'][depth]:.1f}% at {entry['hops'][depth]} hop(s)"


def findings(rows: list[dict]) -> list[str]:
    """The statements the run supports, worked out from its numbers."""
    by = {(r["row"], r["fillers"]): r for r in rows}
    lines = []
    for r in rows:
        if r["experiment"] in ("depth", "staircase"):
            lines.append(f"{r['row']} ({r['n_layer']} block(s) x {r['n_loops']} loop(s)"
                         + (", curriculum" if r["experiment"] == "staircase" else "")
                         + f") solves up to {solved_up_to(r)} hop(s){_next_depth(r)}")
    for looped, plain in (("loop-2", "vanilla-2x"), ("loop-3", "vanilla-3x")):
        if (looped, 0) in by and (plain, 0) in by:
            lines.append(compare(by[looped, 0], by[plain, 0]))
    for r in rows:
        if r["experiment"] == "thinking":
            lines.append(f"{r['row']} with {r['fillers']} filler(s) solves up to "
                         f"{solved_up_to(r)} hop(s){_next_depth(r)}")
    return lines


def compare(a: dict, b: dict) -> str:
    """Row a against row b, each with its own parameter count, at the depth where they
    differ most, signed: 'loop-2 (56,128 parameters) against vanilla-2x (75,712): loop-2
    is 3.3 points per answer above it at 3 hops'."""
    diffs = [x - y for x, y in zip(a["answers"], b["answers"])]
    j = max(range(len(diffs)), key=lambda i: abs(diffs[i]))
    head = (f"{a['row']} ({a['params']:,} parameters) against {b['row']} "
            f"({b['params']:,}): ")
    if round(100 * diffs[j], 1) == 0:
        return head + "equal at every depth, to 0.1 point per answer"
    side = "above" if diffs[j] > 0 else "below"
    return (head + f"{a['row']} is {100 * abs(diffs[j]):.1f} points per answer {side} it "
            f"at {a['hops'][j]} hop(s), the largest difference")


def _cell(mean, std, seeds) -> str:
    return f"{100 * mean:.0f} ± {100 * std:.0f}" if seeds > 1 else f"{100 * mean:.0f}"


def results_markdown(rows, s: ex.Settings, task, elapsed: float,
                     n_lines: int = N_SCORED["full"]) -> str:
    m, t = s.model, s.train
    ks = rows[0]["hops"]
    head = " | ".join(f"{k} hop{'s' * (k > 1)}" for k in ks)
    text = [f"**What the loops buy: pointer chasing**\n",
            f"Task: {ex.describe_task(task)}; trained on a mixture of "
            f"{task.min_hops}..{task.hops} hops"
            + (f" with a curriculum (the deepest questions rise "
               f"{' -> '.join(map(str, task.stages))} over the steps, in equal parts)"
               if task.stages else "")
            + f", scored on {n_lines} lines "
            f"of each depth. Model: width {m.n_embd}, {m.n_head} heads, MLP {m.d_ff}, one "
            f"block in the shared stack. Training: {t.steps} steps of {t.batch_size} lines, "
            f"lr {t.lr}, seed{'s' * (len(s.seeds) > 1)} {', '.join(map(str, s.seeds))}. Cells: "
            f"% of answers right, "
            + ("mean ± std over seeds" if len(s.seeds) > 1 else "one seed")
            + f" (% of lines with all {task.queries} answers right in "
            f"results.json). {ex.machine_line()}; {elapsed / 60:.1f} min.\n"]
    for experiment, title in (("depth", "Depth: accuracy against hops"),
                              ("staircase", f"Staircase: 1..{ks[-1]} hops with a curriculum"),
                              ("thinking", "Thinking positions: filler tokens before each answer")):
        chosen = [r for r in rows if r["experiment"] == experiment]
        if not chosen:
            continue
        text += [f"**{title}**\n", f"| model | blocks x loops | fillers | params | {head} |",
                 "|---|---|---:|---:|" + "---:|" * len(ks)]
        for r in chosen:
            text.append(f"| {r['row']} | {r['n_layer']} x {r['n_loops']} | {r['fillers']} | "
                        f"{r['params']:,} | " + " | ".join(
                            _cell(a, sd, r["seeds"]) for a, sd in zip(r["answers"], r["answers_std"]))
                        + " |")
        text.append("")
    text += ["Read from the numbers (solved: at least "
             f"{100 * SOLVED:.0f}% of answers right, mean over seeds):\n"]
    text += [f"- {line}" for line in findings(rows)]
    return "\n".join(text) + "\n"


def write_figures(out_dir: str, rows: list[dict], runs: list[dict]) -> list[str]:
    """accuracy_vs_hops.png, staircase.png, thinking.png (the experiments that ran) and
    curves.png."""
    import matplotlib
    matplotlib.use("Agg")             # files only, no window
    from visualizations import charts

    paths = [os.path.join(out_dir, "curves.png")]
    charts.plot_hops_curves(runs).savefig(paths[0], dpi=120)
    for name, plot, experiment in (
            ("accuracy_vs_hops.png", charts.plot_accuracy_vs_hops, "depth"),
            ("staircase.png", lambda r: charts.plot_accuracy_vs_hops(r, experiment="staircase"),
             "staircase"),
            ("thinking.png", charts.plot_thinking, "thinking")):
        if any(r["experiment"] == experiment for r in rows):
            paths.append(os.path.join(out_dir, name))
            plot(rows).savefig(paths[-1], dpi=120)
    return paths


def run_hops(s: ex.Settings, out_dir: str, chosen: list[Cell], n_lines: int,
             workers: int, resume: bool = False, overwrite: bool = False) -> dict:
    """Train and score every cell, each run keeping its checkpoint in out_dir/runs/ (a
    folder holding them needs resume, which reloads or continues them, or overwrite);
    write results.md, results.json and the figures into out_dir."""
    runs_dir = os.path.join(out_dir, "runs")
    ex.check_run_folders(runs_dir, [c.folder for c in chosen], s, resume, overwrite)
    os.makedirs(out_dir, exist_ok=True)
    task = ex.make_task(s)
    print(f"hops: {len(chosen)} models x {len(s.seeds)} seed(s), {s.train.steps} steps each, "
          f"on {ex.describe_task(task)}, {workers} at a time", flush=True)
    start = time.perf_counter()
    records = run_cells(s, chosen, n_lines, workers, runs_dir, resume, overwrite)
    elapsed = time.perf_counter() - start
    rows = summarize(records)
    report = dict(settings=dataclasses.asdict(s), task=dict(name=task.name, **task.config()),
                  machine=ex.machine_line(), seconds=elapsed, rows=rows, runs=records)
    checkpoint.atomic_write(os.path.join(out_dir, "results.json"), json.dumps(report, indent=1))
    text = results_markdown(rows, s, task, elapsed, n_lines)
    checkpoint.atomic_write(os.path.join(out_dir, "results.md"), text)
    figures = write_figures(out_dir, rows, records)
    print("\n" + text)
    print(f"wrote results.md, results.json and {', '.join(map(os.path.basename, figures))} "
          f"in {out_dir}")
    return report


# ----------------------------------------------------------------------------------------
# The command line: python -m minplt hops

# Each experiment that runs on its own: (settings, quick settings, default folder, cells).
ALONE = {
    "staircase": (lambda: STAIRCASE, lambda: QUICK_STAIRCASE, "out/hops-staircase",
                  lambda: cells((), (), (), STAIR_ROWS)),
    "lesson": (lambda: LESSON, lambda: QUICK_LESSON, "out/hops-lesson",
               lambda: [Cell(*c) for c in LESSON_CELLS]),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="output folder (default out/hops; for the staircase "
                        "out/hops-staircase, for the lesson out/hops-lesson)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test in seconds (the models learn nothing)")
    parser.add_argument("--experiment", choices=("all", "depth", "thinking", *ALONE),
                        default="all", help="run one experiment (default: depth and "
                        "thinking; the staircase runs on its own, about an hour; lesson: "
                        "lesson 07's, a few minutes)")
    parser.add_argument("--seeds", type=int, help=f"seeds per model (default {len(SETTINGS.seeds)})")
    parser.add_argument("--steps", type=int, help=f"training steps per model "
                        f"(default {SETTINGS.train.steps}; staircase {STAIRCASE.train.steps}, "
                        f"lesson {LESSON.train.steps})")
    parser.add_argument("--hops", type=int, help=f"the deepest questions trained and scored "
                        f"(default {SETTINGS.task_kwargs['hops']})")
    ex.add_run_arguments(parser)
    ex.add_workers_argument(parser)


def run(args) -> int:
    staircase = args.experiment == "staircase"
    if args.experiment in ALONE:
        full, quick, out, chosen = ALONE[args.experiment]
        s, chosen = (quick() if args.quick else full()), chosen()
    else:
        s, out = (QUICK if args.quick else SETTINGS), "out/hops"
        chosen = [c for c in cells() if args.experiment in ("all", c.experiment)]
    out = args.out or out
    changes = {}
    if args.seeds is not None:
        if args.seeds < 1:
            raise ValueError(f"--seeds must be >= 1, got {args.seeds}")
        changes["seeds"] = tuple(range(args.seeds))
    if args.steps is not None:
        changes["train"] = s.train.replace(steps=args.steps)
    if args.hops is not None:
        changes["task_kwargs"] = {**s.task_kwargs, "hops": args.hops}
        if staircase:                 # stages 2, 3, ... up to the deepest
            changes["task_kwargs"]["stages"] = tuple(range(min(2, args.hops), args.hops + 1))
    s = s.replace(**changes)          # Settings checks the task's arguments
    try:
        run_hops(s, out, chosen, N_SCORED["quick" if args.quick else "full"],
                 ex.workers_from_args(args), args.resume, args.overwrite)
    except KeyboardInterrupt:
        return ex.interrupted("hops", args)
    return 0

