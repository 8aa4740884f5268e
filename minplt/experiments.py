"""The paper's Table 2 ablation at toy scale: `python -m minplt ablate`.

Every row trains on the same data, for the same steps, from the same seeds, with the
same shared stack (so about the same parameter count), and differs only in how the
stack is looped (docs/method.md §3):

    vanilla             one pass through the stack
    loop-2              the stack twice, loop 2 reads loop 1 at the same position
    loop+clp-2          cross-loop parallelism: loop 2 reads loop 1 at the previous position
    loop+clp+kvshare-2  ... and loop 2 attends to loop 1's keys/values (no cache of its own)
    plt-2               ... plus gated sliding-window attention (G-SWA): PLT
    plt-3               PLT with three loops
    vanilla-2x          reference: twice the layers, no loops (loop-2's compute, 2x params)

For each row: parameters, validation loss and answer accuracy (mean and spread over
seeds), decode milliseconds per token (model.step after a prefill; the parallel schedule
for CLP models) and KV-cache bytes at a stated length (docs/method.md §8).
Writes results.md, results.json and three figures into the output folder.

`--task text` trains the same rows as language models (language.py, docs/language.md).
The helpers here (train_rows, decode_ms_per_token, the plots) are shared with demo.py
and language.py.
Independent runs train in worker processes, one per core (parallel.map_runs).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shlex
import statistics
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from minplt import checkpoint
from minplt import data as datalib
from minplt import model, parallel, timing
from minplt import train as trainlib

# name in the table -> (variant, layer multiplier)
ROWS = {
    "vanilla": ("vanilla", 1),
    "loop-2": ("loop-2", 1),
    "loop+clp-2": ("loop+clp-2", 1),
    "loop+clp+kvshare-2": ("loop+clp+kvshare-2", 1),
    "plt-2": ("plt-2", 1),
    "plt-3": ("plt-3", 1),
    "vanilla-2x": ("vanilla", 2),
}

TEXT_TASK = "text"      # the language ablation's data (language.py): a corpus, not a task

# Task arguments used for each task (the loss is on the answer only).
TASK_SETTINGS = {
    "pointer": dict(hops=2, min_hops=1),
    "sort": dict(length=10),
    "multihop": dict(hops=2, distractors=2),
    "addition": dict(digits=3),
    "parity": dict(bits=10),
}

@dataclass(frozen=True)
class Settings:
    """One ablation (or demo): the task, the shared stack every row loops, how each row
    is trained, the seeds, and what is measured afterwards."""
    task: str = "sort"                                         # a data.TASKS name
    task_kwargs: dict = field(default_factory=lambda: dict(TASK_SETTINGS["sort"]))
    # the shared stack; each row sets its loop count and flags (vocab_size and
    # block_size come from the task, block_size at least this one)
    model: model.Config = field(default_factory=lambda: model.Config(
        n_embd=32, n_head=4, d_ff=64, n_layer=1, window=4, block_size=64))
    train: trainlib.TrainSettings = trainlib.TrainSettings(
        steps=1500, batch_size=32, lr=3e-3, warmup=100, eval_every=150, eval_batches=8)
    seeds: tuple = (0, 1, 2)        # one run per row and seed (train.seed is replaced)
    # On pointer chasing a CLP row with L loops gets L-1 filler positions before each
    # answer: under CLP the loops of an answer run along the diagonal, through the
    # positions before it, and with L-1 fillers the diagonal starts at the question
    # (docs/method.md §4, §9). Without CLP a filler only costs a step of depth.
    # `python -m minplt hops` measures both.
    clp_thinking: bool = True
    checkpoints: int = 1            # checkpoints per run (the last at the end): more for
                                    # long runs, so that a killed one loses little
    decode_tokens: int = 32         # tokens timed per decode measurement
    kv_length: int = 1024           # positions at which KV-cache bytes are stated

    def __post_init__(self):
        if not self.seeds or any(isinstance(x, bool) or not isinstance(x, int) or x < 0
                                 for x in self.seeds):
            raise ValueError(f"seeds must be one or more integers >= 0, got {self.seeds!r}")
        for name in ("decode_tokens", "kv_length", "checkpoints"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        make_task(self)                   # checks the task's arguments

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)


def make_task(s: Settings, row: str | None = None):
    """The task of the settings, with the loss on the answer only: that is what the
    accuracy measures (the prompts are random and cannot be predicted). With a row
    name, the layout that row trains on (Settings.clp_thinking). The task 'text' is a
    text corpus (language.py: task_kwargs source and block_size), read once per process."""
    if s.task == TEXT_TASK:
        return datalib.cached_text_data(**s.task_kwargs)
    task = datalib.make_task(s.task, loss_on="answer", **s.task_kwargs)
    fillers = 0 if row is None else fillers_for(row, s)
    if fillers:
        task = datalib.make_task(s.task, loss_on="answer",
                                 **{**s.task_kwargs, "think": task.think + fillers})
    return task


def fillers_for(row: str, s: Settings) -> int:
    """Filler positions added before each answer for `row` (Settings.clp_thinking)."""
    looped = model.make_config(parse_row(row)[0])
    if s.task != "pointer" or not s.clp_thinking or not looped.clp:
        return 0
    return looped.n_loops - 1


# The stack and budget of each task, chosen by measurement (docs/findings.md).
# Pointer chasing is the default: one block follows one pointer, so questions of two
# hops need a second pass, which the loops give; a width-64 stack with a narrow MLP
# learns it in a few thousand steps. Sorting was the default before; one pass through
# the stack is too shallow for it as well, but it needs no chain of steps.
TASK_DEFAULTS = {
    "pointer": Settings(
        task="pointer", task_kwargs=dict(TASK_SETTINGS["pointer"]),
        model=model.Config(n_embd=64, n_head=4, d_ff=16, n_layer=1, window=4, block_size=64),
        train=trainlib.TrainSettings(steps=6000, batch_size=32, lr=1e-2, warmup=200,
                                     eval_every=600, eval_batches=8)),
    **{task: Settings(task=task, task_kwargs=dict(kwargs))
       for task, kwargs in TASK_SETTINGS.items() if task != "pointer"},
}
SETTINGS = TASK_DEFAULTS["pointer"]
QUICK = SETTINGS.replace(task_kwargs=dict(hops=2, min_hops=1, nodes=5, queries=2),
                         seeds=(0, 1), decode_tokens=4,
                         train=SETTINGS.train.replace(steps=20, batch_size=8, warmup=5,
                                                      eval_every=10, eval_batches=1))


# ----------------------------------------------------------------------------------------
# Training a set of variants

def describe_task(task) -> str:
    """'sort (length=10, n_symbols=26)'."""
    args = ", ".join(f"{k}={v}" for k, v in task.config().items()
                     if k not in ("seq_len", "loss_on", "reverse_answer"))
    return f"{task.name} ({args})"


def parse_row(name: str) -> tuple[str, int]:
    """A row name -> (variant, layer multiplier): a ROWS name, a variant ('loop-3'), or a
    variant with its stack repeated ('vanilla-3x': a plain stack of 3 blocks)."""
    if name in ROWS:
        return ROWS[name]
    base, _, times = name.rpartition("-")
    if base and times[:-1].isdigit() and times.endswith("x") and int(times[:-1]) >= 1:
        variant, multiplier = base, int(times[:-1])
    else:
        variant, multiplier = name, 1
    try:
        model.make_config(variant)
    except ValueError as err:
        raise ValueError(f"unknown row {name!r}: {err}; or one of {', '.join(ROWS)}") from None
    return variant, multiplier


def row_config(name: str, task, s: Settings) -> model.Config:
    """The shared stack s.model, looped as the row's variant, sized for `task` (the
    row's own: make_task(s, name))."""
    variant, layer_multiplier = parse_row(name)
    looped = model.make_config(variant)                 # the variant's loop count and flags
    return dataclasses.replace(s.model, n_loops=looped.n_loops, clp=looped.clp,
                               kv_share=looped.kv_share, gswa=looped.gswa,
                               n_layer=s.model.n_layer * layer_multiplier,
                               vocab_size=task.vocab_size,
                               block_size=max(task.block_size, s.model.block_size))


def row_cost(name: str) -> int:
    """Passes through a block per token: loops x layer multiplier (the order of training)."""
    variant, layer_multiplier = parse_row(name)
    return model.make_config(variant).n_loops * layer_multiplier


def run_folder(out_dir: str, name: str, s: Settings, seed: int) -> str:
    """out_dir/<name> (one seed) or out_dir/<name>-seed<seed>."""
    return os.path.join(out_dir, name if len(s.seeds) == 1 else f"{name}-seed{seed}")


def check_run_folders(out_dir: str, names, s: Settings, resume: bool, overwrite: bool) -> None:
    """Before any training: --out can be written, and holds no trained model that this
    run would replace unless --resume (reuse and continue it) or --overwrite."""
    checkpoint.check_out_folder(out_dir)
    if resume and overwrite:
        raise ValueError("--resume reuses the models in --out and --overwrite replaces "
                         "them: give one of them")
    if resume or overwrite:
        return
    trained = [os.path.relpath(os.path.join(run_folder(out_dir, name, s, seed),
                                            checkpoint.CHECKPOINT_NAME), out_dir)
               for seed in s.seeds for name in names
               if os.path.exists(os.path.join(run_folder(out_dir, name, s, seed),
                                              checkpoint.CHECKPOINT_NAME))]
    if trained:
        raise ValueError(f"{out_dir} already holds trained models ({', '.join(trained[:3])}"
                         f"{', ...' if len(trained) > 3 else ''}): pass --resume to reuse "
                         "and continue them, --overwrite to train again, or choose another "
                         "--out")


def run_settings(s: Settings, seed: int) -> trainlib.TrainSettings:
    """How each run of the settings trains: s.train with the run's seed, ten progress
    lines and s.checkpoints checkpoints."""
    return s.train.replace(seed=seed, warmup=min(s.train.warmup, s.train.steps // 2),
                           checkpoint_every=max(1, s.train.steps // s.checkpoints),
                           log_every=max(1, s.train.steps // 10))


def train_one(name: str, task, s: Settings, seed: int, out_dir=None, progress: bool = False,
              resume: bool = False, overwrite: bool = False, label: str | None = None,
              folder: str | None = None):
    """Train one row with one seed (in this process or a worker: parallel.map_runs);
    returns its trainlib.TrainResult. With out_dir the run keeps its checkpoint and log
    in run_folder(...); resume continues (or just reloads, when finished) a run found
    there, overwrite replaces it. Lines are printed prefixed with the run's name.
    Returns None, having saved what it could, when a Ctrl-C stopped the run (or came
    before it started). `label` names the run in what is printed and `folder` its run
    folder (both default to name)."""
    settings = run_settings(s, seed)
    if parallel.stopped():              # after a Ctrl-C: do not start another run
        return None
    cfg = row_config(name, task, s)
    run_dir = run_folder(out_dir, folder or name, s, seed) if out_dir else None
    found = bool(run_dir) and os.path.exists(os.path.join(run_dir, checkpoint.CHECKPOINT_NAME))
    start = time.perf_counter()
    result = trainlib.train(
        cfg, task, settings, out_dir=run_dir, resume=resume and found, overwrite=overwrite,
        log=(lambda line: print(f"  [{label or name}] {line.strip()}", flush=True)) if progress
        else (lambda line: None))
    if result.interrupted:              # Ctrl-C stops the whole experiment, not one run
        parallel.stop()
        return None
    accuracy = "" if result.val_acc is None else f"val acc {100 * result.val_acc:5.1f}%  "
    print(f"  {label or name:<20} seed {seed}: {accuracy}val loss {result.val_loss:.3f}  "
          f"({time.perf_counter() - start:.0f}s)", flush=True)
    return dataclasses.replace(result, data=None)       # the task is the caller's already


def train_first_steps(name: str, task, s: Settings, seed: int, steps: int,
                      log_every: int | None = None) -> list[dict]:
    """Train row `name` with `seed` as train_one does (run_settings: the full run's
    learning-rate schedule), but stop after the first progress line at or past `steps`
    (log_every, if given, replaces the run's): the log rows so far. How a committed result
    is checked against the code in seconds (training is deterministic for a seed)."""
    settings = run_settings(s, seed)
    if log_every is not None:
        settings = settings.replace(log_every=log_every)

    def stop(line):
        if line.startswith("step") and int(line.split()[1].split("/")[0]) >= steps:
            raise KeyboardInterrupt   # as a Ctrl-C would: the step is done, train() returns
    return trainlib.train(row_config(name, task, s), task, settings, log=stop).rows


def train_rows(names, s: Settings, seeds, out_dir=None, progress: bool = False,
               resume: bool = False, overwrite: bool = False, workers: int = 1,
               tasks: dict | None = None) -> dict:
    """Train every named row (on its task: tasks[name] if given, else make_task(s, name))
    with every seed, `workers` runs at a time (one per core with
    parallel.default_workers()); returns (name, seed) -> trainlib.TrainResult, the same
    results whatever the number of workers."""
    tasks = tasks or {name: make_task(s, name) for name in names}
    jobs = [(name, tasks[name], s, seed, out_dir, progress, resume, overwrite)
            for seed in seeds for name in names]
    results = parallel.map_runs(train_one, jobs, workers)
    if any(result is None for result in results):     # Ctrl-C: the runs so far are saved
        raise KeyboardInterrupt
    return {(job[0], job[3]): result for job, result in zip(jobs, results)}


def add_workers_argument(parser) -> None:
    parser.add_argument("--workers", type=int, default=None,
                        help="runs trained at a time, each in its own process (default: one "
                             "per core, or 1 with --quick, where starting a process costs "
                             "more than it saves; the results do not depend on it)")


def workers_from_args(args) -> int:
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    if args.workers is not None:
        return args.workers
    return 1 if args.quick else parallel.default_workers()


def add_run_arguments(parser) -> None:
    """--resume and --overwrite of a command whose runs keep checkpoints (demo.py)."""
    parser.add_argument("--resume", action="store_true",
                        help="reuse the models in --out: finished runs are loaded, "
                             "interrupted ones continue, missing ones are trained")
    parser.add_argument("--overwrite", action="store_true",
                        help="train again in an --out that holds models, replacing them")


def interrupted(command: str, args) -> int:
    """After Ctrl-C in `demo`: say how to continue (true advice: the finished runs and the
    interrupted one are saved, and --resume picks them up). Returns 130."""
    argv = [a for a in getattr(args, "argv", []) if a not in ("--resume", "--overwrite")]
    again = " ".join(shlex.quote(a) for a in ["python", "-m", "minplt", *argv, "--resume"])
    print(f"\n{command} interrupted: the runs so far are saved in {args.out}; continue "
          f"with: {again}", file=sys.stderr)
    return 130


# ----------------------------------------------------------------------------------------
# Decode latency and KV memory

def pick_backend(requested: str = "auto") -> tuple[str, str]:
    """('numba' or 'numpy', why). 'auto' uses the Numba kernels when they import and run."""
    if requested == "numpy":
        return "numpy", "numpy (as requested)"
    try:
        from minplt import kernels
        kernels.warmup()
        return "numba", f"numba ({kernels.backend_info()['threads']} threads)"
    except Exception as e:           # numba missing or broken: say so, use NumPy
        if requested == "numba":
            raise ValueError(f"the numba backend is not available: {e}") from None
        return "numpy", f"numpy (numba unavailable: {type(e).__name__})"


def decode_times(params, cfg: model.Config, prompt, n_tokens: int = 32, schedule="auto",
                 repeats: int = 1, backend: str = "numpy") -> list[float]:
    """Seconds per decode step (the mean over n_tokens greedy model.step calls), one
    value per repeat, each run from a fresh prefill of `prompt` that is not timed."""
    def prefilled():
        logits, cache = model.prefill(params, cfg, prompt, capacity=len(prompt) + n_tokens,
                                      backend=backend)
        return int(np.argmax(logits)), cache

    def decode(state):
        token, cache = state
        for _ in range(n_tokens):
            token = int(np.argmax(model.step(params, cfg, cache, token, schedule)))

    return [seconds / n_tokens for seconds in timing.repeat(decode, repeats, setup=prefilled)]


def decode_ms_per_token(params, cfg: model.Config, prompt, n_tokens: int = 32,
                        backend: str = "numpy", repeats: int = 3) -> float:
    """Milliseconds per model.step after a prefill of `prompt`, the best of `repeats`
    runs (timing.repeat says why the best). 'auto' schedule: parallel for CLP models."""
    return 1000 * min(decode_times(params, cfg, prompt, n_tokens, "auto", repeats, backend))


# Printed under every latency table: what these toy-size timings can and cannot show.
def greedy_answers(params, cfg: model.Config, task, prompts: list[str],
                   backend: str = "numpy", schedule: str = "auto") -> list[str]:
    """The answers a user gets: each prompt laid out as in training (task.layout: on
    pointer chasing each answer follows its question and fillers), with the model's own
    greedy letters written into the answer positions and everything else fed as given,
    all prompts decoded together (model.prefill_batch, then one step_batch per position).
    Prompts must share their answer positions (true of every built-in task at fixed
    arguments)."""
    laid_out = [task.layout(prompt, task.alphabet[0] * task.answer_len) for prompt in prompts]
    slots = laid_out[0][1]
    if any(positions != slots for _, positions in laid_out):
        raise ValueError("greedy_answers needs prompts whose answers sit at the same positions")
    lines = np.array([task.tokenizer.encode(line[: slots[-1] + 1]) for line, _ in laid_out])
    logits, cache = model.prefill_batch(params, cfg, list(lines[:, : slots[0]]),
                                        capacity=slots[-1] + 1, backend=backend)
    for t in range(slots[0], slots[-1] + 1):
        if t in slots:
            lines[:, t] = logits.argmax(-1)
        if t < slots[-1]:
            logits = model.step_batch(params, cfg, cache, lines[:, t], schedule)
    return [task.tokenizer.decode(row[slots]) for row in lines]


LATENCY_NOTE = ("At this toy width a decode step costs mostly Python and per-call overhead, "
                "not reading the weights, so these timings understate what the parallel "
                "schedule saves; `python -m minplt bench` measures decoding at a "
                "memory-bound size.")


FILLERS_NOTE = ("Fillers: the CLP rows read the line with that many filler positions "
                "before each answer (Settings.clp_thinking; `--no-thinking` removes them): "
                "under CLP the loops of an answer run along the diagonal through the "
                "positions before it. Each filler is one more decode step per answer.")


def schedule_of(cfg: model.Config) -> str:
    return "parallel" if cfg.clp else "sequential"


# ----------------------------------------------------------------------------------------
# Summaries and output files

def mean_std(values) -> tuple[float, float]:
    values = [float(v) for v in values]
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarize(name, runs: list, cfg, ms_per_token, kv_length, fillers: int = 0) -> dict:
    """One table row from the runs (one per seed) of a variant; `fillers`: the thinking
    positions it had before each answer."""
    acc, acc_std = mean_std(r.val_acc for r in runs)
    loss, loss_std = mean_std(r.val_loss for r in runs)
    return dict(variant=name, family=cfg.family, n_loops=cfg.n_loops, n_layer=cfg.n_layer,
                params=model.count_params(runs[0].params), accuracy=acc, accuracy_std=acc_std,
                val_loss=loss, val_loss_std=loss_std, accuracy_per_seed=[r.val_acc for r in runs],
                val_loss_per_seed=[r.val_loss for r in runs], ms_per_token=ms_per_token,
                schedule=schedule_of(cfg), kv_bytes=model.kv_cache_bytes_formula(cfg, kv_length),
                train_seconds=sum(r.elapsed for r in runs), fillers=fillers)


def markdown_table(rows: list, kv_length: int, spread: bool = True) -> str:
    """The results as a markdown table; with spread, 'mean ± std' over seeds."""
    pm = (lambda mean, std, f: f"{mean:{f}} ± {std:{f}}") if spread else \
        (lambda mean, std, f: f"{mean:{f}}")
    fillers = any(r.get("fillers") for r in rows)       # a column only when some have them
    lines = [f"| variant | params |{' fillers |' * fillers} val acc (%) | val loss | "
             f"decode ms/token | schedule | KV bytes @ {kv_length} |",
             f"|---|---:|{'---:|' * fillers}---:|---:|---:|---|---:|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['params']:,} | "
                     + (f"{r.get('fillers', 0)} | " if fillers else "") +
                     f"{pm(100 * r['accuracy'], 100 * r['accuracy_std'], '.1f')} | "
                     f"{pm(r['val_loss'], r['val_loss_std'], '.3f')} | "
                     f"{r['ms_per_token']:.3f} | {r['schedule']} | {r['kv_bytes']:,} |")
    return "\n".join(lines)


def machine_line() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_figures(out_dir: str, rows: list, logs: dict, backend: str) -> list[str]:
    """accuracy_vs_latency.png, latency.png and curves.png (training loss and validation
    accuracy against step) in out_dir, drawn by visualizations.charts. Returns the paths."""
    import matplotlib
    matplotlib.use("Agg")             # files only, no window
    from visualizations import charts
    from visualizations.style import new_figure

    points = [{k: r[k] for k in ("variant", "accuracy", "accuracy_std", "ms_per_token")}
              for r in rows]
    bench = {"machine": {"cpu": machine_line()},
             "decode": [dict(variant=r["variant"], backend=backend, schedule=r["schedule"],
                             ms_per_token=r["ms_per_token"]) for r in rows]}
    curves = new_figure((11, 4))
    loss_ax, acc_ax = curves.subplots(1, 2)
    charts.plot_training_curves(logs, ax=loss_ax, metric="loss")
    charts.plot_training_curves(logs, ax=acc_ax, metric="val_acc")
    figures = {"accuracy_vs_latency.png": charts.plot_accuracy_vs_latency(points),
               "latency.png": charts.plot_latency(bench),
               "curves.png": curves}
    paths = []
    for name, fig in figures.items():
        paths.append(os.path.join(out_dir, name))
        fig.savefig(paths[-1], dpi=120)
    return paths


# ----------------------------------------------------------------------------------------
# The ablation

def run_ablation(s: Settings, out_dir: str, names=None, backend: str = "auto",
                 log=print, workers: int | None = None) -> dict:
    """Train every row over every seed, time decoding, write results.md/.json and figures
    (no checkpoints: the models are not kept)."""
    names = list(names or ROWS)
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        raise ValueError(f"unknown ablation rows {unknown}; choose from {', '.join(ROWS)}")
    checkpoint.check_out_folder(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    task = make_task(s)
    backend, backend_note = pick_backend(backend)
    workers = parallel.default_workers() if workers is None else workers
    log(f"ablation: {len(names)} variants x {len(s.seeds)} seeds, {s.train.steps} steps each, "
        f"on {describe_task(task)}, {workers} run(s) at a time; decode backend {backend_note}")
    start = time.perf_counter()
    trained = train_rows(names, s, s.seeds, workers=workers)
    runs = {name: [trained[(name, seed)] for seed in s.seeds] for name in names}

    prompt = task.tokenizer.encode(task.sample("val", np.random.default_rng(0))[0])
    rows = []
    for name in names:
        cfg = runs[name][0].config
        ms = decode_ms_per_token(runs[name][0].params, cfg, prompt, s.decode_tokens, backend)
        rows.append(summarize(name, runs[name], cfg, ms, s.kv_length, fillers_for(name, s)))
    elapsed = time.perf_counter() - start

    logs = {name: runs[name][0].rows for name in names}        # seed 0's training curves
    report = dict(settings=dataclasses.asdict(s), task=dict(name=task.name, **task.config()),
                  backend=backend_note, machine=machine_line(), seconds=elapsed, rows=rows,
                  logs={name: [r.rows for r in runs[name]] for name in names})
    checkpoint.atomic_write(os.path.join(out_dir, "results.json"), json.dumps(report, indent=1))
    text = results_markdown(rows, s, task, backend_note, elapsed)
    checkpoint.atomic_write(os.path.join(out_dir, "results.md"), text)
    figures = write_figures(out_dir, rows, logs, backend)
    log("\n" + text)
    log(f"wrote {os.path.join(out_dir, 'results.md')}, results.json and "
        f"{', '.join(os.path.basename(p) for p in figures)} in {out_dir}")
    return report


def results_markdown(rows, s: Settings, task, backend_note, elapsed) -> str:
    seeds = ", ".join(str(x) for x in s.seeds)
    m, t = s.model, s.train
    return (f"**Ablation (PLT paper, Table 2, at toy scale)**\n\n"
            f"Task: {describe_task(task)}, sequence length {task.block_size}; loss on the "
            f"answer only. Model: width {m.n_embd}, {m.n_head} heads, {m.n_layer} layer(s) in "
            f"the shared stack, MLP {m.d_ff}, window {m.window}. Training: {t.steps} steps of "
            f"{t.batch_size} sequences, lr {t.lr}, seeds {seeds} (mean ± std over "
            f"seeds). Accuracy: exact answers on {t.eval_batches * t.batch_size} "
            f"validation prompts (a prompt counts when all its answers are right).\n\n"
            f"Decode: ms per token of model.step after a prefill, {s.decode_tokens} tokens, "
            f"best of 3, backend {backend_note}; the parallel schedule for CLP models. "
            f"KV bytes: the memory table of docs/method.md §8 at {s.kv_length} positions "
            f"(carried states not included). Machine: {machine_line()}. Total time "
            f"{elapsed / 60:.1f} min.\n\n"
            + (FILLERS_NOTE + "\n\n" if any(r.get("fillers") for r in rows) else "")
            + markdown_table(rows, s.kv_length) + "\n\n" + LATENCY_NOTE + "\n")


# ----------------------------------------------------------------------------------------
# The command line: python -m minplt ablate ...

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="output folder (default out/ablate, or out/ablate-text "
                        "for --task text)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test in under a minute (numbers mean nothing)")
    parser.add_argument("--variants", help=f"comma-separated subset of: {', '.join(ROWS)}")
    parser.add_argument("--seeds", type=int, help=f"number of seeds (default "
                        f"{len(SETTINGS.seeds)})")
    parser.add_argument("--steps", type=int, help=f"training steps per run (default "
                        f"{SETTINGS.train.steps})")
    add_task_arguments(parser)
    add_workers_argument(parser)
    parser.add_argument("--backend", choices=("auto", "numpy", "numba"), default="auto",
                        help="decode backend for the latency column (default: numba if it works)")
    add_run_arguments(parser)


def settings_from_args(args, s: Settings) -> Settings:
    """`s` with --task (the stack and budget of that task: TASK_DEFAULTS, except with
    --quick), --hops, --length, --no-thinking, --seeds and --steps applied (and checked)."""
    changes = task_from_args(args, s)
    if changes["task"] != s.task and not args.quick:
        base = TASK_DEFAULTS[changes["task"]]
        changes.update(model=base.model, train=base.train)
    if args.no_thinking:
        changes["clp_thinking"] = False
    if getattr(args, "seeds", None) is not None:
        if args.seeds < 1:
            raise ValueError(f"--seeds must be >= 1, got {args.seeds}")
        changes["seeds"] = tuple(range(args.seeds))
    if args.steps is not None:
        changes["train"] = changes.get("train", s.train).replace(steps=args.steps)
    return s.replace(**changes)


def add_task_arguments(parser) -> None:
    """--task, --hops, --length: shared with demo.py."""
    parser.add_argument("--task", choices=sorted(TASK_SETTINGS) + [TEXT_TASK],
                        help=f"the task (default {SETTINGS.task}; text: language modelling "
                             f"on Python's standard library, `ablate` only)")
    parser.add_argument("--hops", type=int,
                        help="the deepest questions: pointers to follow (pointer) or look-ups (multihop)")
    parser.add_argument("--length", type=int, help="letters to sort (sort)")
    parser.add_argument("--no-thinking", action="store_true",
                        help="pointer: no filler positions for the CLP rows (by default each gets "
                             "L-1 before every answer, L its loops, which CLP needs; see docs/findings.md)")


def task_from_args(args, s: Settings) -> dict:
    """{'task': ..., 'task_kwargs': ...} from --task, --hops and --length."""
    task = args.task or s.task
    if task == TEXT_TASK and task != s.task:
        raise ValueError("--task text is the language ablation: `python -m minplt ablate "
                         "--task text`")
    kwargs = dict(s.task_kwargs if task == s.task else TASK_SETTINGS[task])
    for flag, owners in (("hops", ("pointer", "multihop")), ("length", ("sort",))):
        value = getattr(args, flag)
        if value is not None:
            if task not in owners:
                raise ValueError(f"--{flag} applies to the {' and '.join(owners)} task"
                                 f"{'s' * (len(owners) > 1)} only, not to {task}")
            kwargs[flag] = value
    return {"task": task, "task_kwargs": kwargs}


def run(args) -> int:
    if args.task == TEXT_TASK:
        from minplt import language
        return language.run(args)
    if args.resume or args.overwrite:
        raise ValueError("--resume and --overwrite apply to --task text, whose runs keep "
                         "their checkpoints; the task ablation keeps no models")
    s = settings_from_args(args, QUICK if args.quick else SETTINGS)
    names = [n.strip() for n in args.variants.split(",")] if args.variants else None
    run_ablation(s, args.out or "out/ablate", names, args.backend, workers=workers_from_args(args))
    return 0

