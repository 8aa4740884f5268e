"""The paper's Table 2 ablation at toy scale: `python -m minplt ablate`.

Every row trains on the same data, for the same steps, from the same seeds, with the
same shared stack (so about the same parameter count), and differs only in how the
stack is looped (PLT_SPEC.md, "The three families, as flags"):

    vanilla             one pass through the stack
    loop-2              the stack twice, loop 2 reads loop 1 at the same position
    loop+clp-2          cross-loop parallelism: loop 2 reads loop 1 at the previous position
    loop+clp+kvshare-2  ... and loop 2 attends to loop 1's keys/values (no cache of its own)
    plt-2               ... plus gated sliding-window attention (G-SWA): PLT
    plt-3               PLT with three loops
    vanilla-2x          reference: twice the layers, no loops (loop-2's compute, 2x params)

For each row: parameters, validation loss and answer accuracy (mean and spread over
seeds), decode milliseconds per token (model.step after a prefill; the parallel schedule
for CLP models) and KV-cache bytes at a stated length (the spec's memory table).
Writes results.md, results.json and three figures into the output folder.

The helpers here (train_rows, decode_ms_per_token, the plots) are shared with demo.py.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

from minplt import data as datalib
from minplt import model
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

# Task arguments used for each task (the loss is on the answer only).
TASK_SETTINGS = {
    "sort": dict(length=10),
    "multihop": dict(hops=2, distractors=2),
    "addition": dict(digits=3),
    "parity": dict(bits=10),
}

# The default setting, chosen by measurement on a 2-core CPU: sorting 10 letters, which
# these models learn within the budget and where one pass through a one-layer stack is
# too shallow (the two-layer vanilla-2x row shows it). Measured first, with width 32, batch
# 32, loss on the answer, seed 0, 1500 steps unless noted (answer accuracy):
#   multihop, 1 hop, 1 distractor, 2 layers: vanilla 57% (50% = either digit by luck);
#       3000 steps at lr 1e-2: 53%; width 64: 54%; 10000 steps of batch 8: 56%;
#       20000 steps: 87% (the jump comes between steps 15000 and 17500)
#   multihop, 2 hops, 2 distractors, 2 layers: vanilla 37%, loop-2 41%, plt-2 44%
#       (33% = the right chain by luck)
#   multihop, 3 hops, 2 distractors, 2 layers: vanilla 43%, loop-2 41%, plt-2 40%
#   sort, 10 letters, 1 layer: vanilla 34%, loop-2 52%, plt-2 89%
# So within this budget no variant learns to follow even one binding (one answer token
# per example is a weak signal: it takes ~15000 steps), while sorting separates the
# variants clearly.
SETTINGS = dict(task="sort", task_kwargs=TASK_SETTINGS["sort"], width=32, heads=4, layers=1,
                ffn=64, window=4, steps=1500, batch_size=32, lr=3e-3, warmup=100,
                seeds=(0, 1, 2), eval_every=150, eval_batches=8, decode_tokens=32,
                kv_length=1024)
QUICK = dict(SETTINGS, task_kwargs=dict(length=4), steps=20, batch_size=8, seeds=(0, 1),
             eval_every=10, eval_batches=1, decode_tokens=4)


# ----------------------------------------------------------------------------------------
# Training a set of variants

def make_task(s: dict):
    """The task of the settings, with the loss on the answer only: that is what the
    accuracy measures (the prompts are random and cannot be predicted)."""
    return datalib.make_task(s["task"], loss_on="answer", **s["task_kwargs"])


def describe_task(task) -> str:
    """'sort (length=10, n_symbols=26)'."""
    args = ", ".join(f"{k}={v}" for k, v in task.config().items()
                     if k not in ("seq_len", "loss_on", "reverse_answer"))
    return f"{task.name} ({args})"


def row_config(name: str, task, s: dict) -> model.Config:
    variant, layer_multiplier = ROWS[name]
    return trainlib.build_config(variant, "tiny", task.vocab_size, task.block_size,
                                 width=s["width"], heads=s["heads"], ffn=s["ffn"],
                                 layers=s["layers"] * layer_multiplier, window=s["window"])


def train_rows(names, task, s: dict, seed: int, log=print, out_dir=None,
               progress: bool = False) -> dict:
    """Train each named row with one seed; returns name -> trainlib.TrainResult.
    With out_dir, each run keeps its checkpoint and log in out_dir/<name> (one seed)
    or out_dir/<name>-seed<seed>. With progress, print train()'s progress lines."""
    results = {}
    for name in names:
        cfg = row_config(name, task, s)
        run_dir = None
        if out_dir:
            run_dir = os.path.join(out_dir, name if len(s["seeds"]) == 1 else f"{name}-seed{seed}")
        start = time.perf_counter()
        result = trainlib.train(
            cfg, task, steps=s["steps"], batch_size=s["batch_size"], lr=s["lr"],
            warmup=min(s["warmup"], s["steps"] // 2), eval_every=s["eval_every"],
            eval_batches=s["eval_batches"], seed=seed, out_dir=run_dir,
            checkpoint_every=s["steps"], log_every=max(1, s["steps"] // 10),
            log=(lambda line: log("  " + line.strip())) if progress else (lambda line: None))
        if result.interrupted:          # Ctrl-C stops the whole experiment, not one run
            raise KeyboardInterrupt
        log(f"  {name:<20} seed {seed}: val acc {100 * result.val_acc:5.1f}%  val loss "
            f"{result.val_loss:.3f}  ({time.perf_counter() - start:.0f}s)")
        results[name] = result
    return results


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


def decode_ms_per_token(params, cfg: model.Config, prompt, n_tokens: int = 32,
                        backend: str = "numpy", repeats: int = 3) -> float:
    """Milliseconds per model.step after a prefill of `prompt`, best of `repeats` runs
    (other programs only ever add time). 'auto' schedule: parallel for CLP models."""
    best = float("inf")
    for _ in range(repeats):
        logits, cache = model.prefill(params, cfg, prompt, capacity=len(prompt) + n_tokens,
                                      backend=backend)
        token = int(np.argmax(logits))
        start = time.perf_counter()
        for _ in range(n_tokens):
            logits = model.step(params, cfg, cache, token, "auto")
            token = int(np.argmax(logits))
        best = min(best, (time.perf_counter() - start) / n_tokens)
    return 1000 * best


# Printed under every latency table: what these toy-size timings can and cannot show.
LATENCY_NOTE = ("At this toy width a decode step costs mostly Python and per-call overhead, "
                "not reading the weights, so these timings understate what the parallel "
                "schedule saves; `python -m minplt bench` measures decoding at a "
                "memory-bound size.")


def schedule_of(cfg: model.Config) -> str:
    return "parallel" if cfg.clp else "sequential"


# ----------------------------------------------------------------------------------------
# Summaries and output files

def mean_std(values) -> tuple[float, float]:
    values = [float(v) for v in values]
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarize(name, runs: list, cfg, ms_per_token, kv_length) -> dict:
    """One table row from the runs (one per seed) of a variant."""
    acc, acc_std = mean_std(r.val_acc for r in runs)
    loss, loss_std = mean_std(r.val_loss for r in runs)
    return dict(variant=name, family=cfg.family, n_loops=cfg.n_loops, n_layer=cfg.n_layer,
                params=model.count_params(runs[0].params), accuracy=acc, accuracy_std=acc_std,
                val_loss=loss, val_loss_std=loss_std, accuracy_per_seed=[r.val_acc for r in runs],
                val_loss_per_seed=[r.val_loss for r in runs], ms_per_token=ms_per_token,
                schedule=schedule_of(cfg), kv_bytes=model.kv_cache_bytes_formula(cfg, kv_length),
                train_seconds=sum(r.elapsed for r in runs))


def markdown_table(rows: list, kv_length: int, spread: bool = True) -> str:
    """The results as a markdown table; with spread, 'mean ± std' over seeds."""
    pm = (lambda mean, std, f: f"{mean:{f}} ± {std:{f}}") if spread else \
        (lambda mean, std, f: f"{mean:{f}}")
    lines = [f"| variant | params | val acc (%) | val loss | decode ms/token | schedule | "
             f"KV bytes @ {kv_length} |",
             "|---|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['params']:,} | "
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

def run_ablation(s: dict, out_dir: str, names=None, backend: str = "auto", log=print) -> dict:
    """Train every row over every seed, time decoding, write results.md/.json and figures."""
    names = list(names or ROWS)
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        raise ValueError(f"unknown ablation rows {unknown}; choose from {', '.join(ROWS)}")
    os.makedirs(out_dir, exist_ok=True)
    task = make_task(s)
    backend, backend_note = pick_backend(backend)
    log(f"ablation: {len(names)} variants x {len(s['seeds'])} seeds, {s['steps']} steps each, "
        f"on {describe_task(task)}; decode backend "
        f"{backend_note}")
    start = time.perf_counter()
    runs = {name: [] for name in names}
    for seed in s["seeds"]:
        for name, result in train_rows(names, task, s, seed, log).items():
            runs[name].append(result)

    prompt = task.tokenizer.encode(task.sample("val", np.random.default_rng(0))[0])
    rows = []
    for name in names:
        cfg = runs[name][0].config
        ms = decode_ms_per_token(runs[name][0].params, cfg, prompt, s["decode_tokens"], backend)
        rows.append(summarize(name, runs[name], cfg, ms, s["kv_length"]))
    elapsed = time.perf_counter() - start

    logs = {name: runs[name][0].rows for name in names}        # seed 0's training curves
    settings = {k: (list(v) if isinstance(v, tuple) else v) for k, v in s.items()}
    report = dict(settings=settings, task=dict(name=task.name, **task.config()),
                  backend=backend_note,
                  machine=machine_line(), seconds=elapsed, rows=rows,
                  logs={name: [r.rows for r in runs[name]] for name in names})
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(report, f, indent=1)
    text = results_markdown(rows, s, task, backend_note, elapsed)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(text)
    figures = write_figures(out_dir, rows, logs, backend)
    log("\n" + text)
    log(f"wrote {os.path.join(out_dir, 'results.md')}, results.json and "
        f"{', '.join(os.path.basename(p) for p in figures)} in {out_dir}")
    return report


def results_markdown(rows, s, task, backend_note, elapsed) -> str:
    seeds = ", ".join(str(x) for x in s["seeds"])
    return (f"# Ablation (PLT paper, Table 2, at toy scale)\n\n"
            f"Task: {describe_task(task)}, sequence length {task.block_size}; loss on the "
            f"answer only. Model: width "
            f"{s['width']}, {s['heads']} heads, {s['layers']} layer(s) in the shared stack, "
            f"MLP {s['ffn']}, window {s['window']}. Training: {s['steps']} steps of "
            f"{s['batch_size']} sequences, lr {s['lr']}, seeds {seeds} (mean ± std over "
            f"seeds). Accuracy: exact answers on {s['eval_batches'] * s['batch_size']} "
            f"validation prompts.\n\n"
            f"Decode: ms per token of model.step after a prefill, {s['decode_tokens']} tokens, "
            f"best of 3, backend {backend_note}; the parallel schedule for CLP models. "
            f"KV bytes: the spec's memory table at {s['kv_length']} positions (carried "
            f"states not included). Machine: {machine_line()}. Total time "
            f"{elapsed / 60:.1f} min.\n\n"
            + markdown_table(rows, s["kv_length"]) + "\n\n" + LATENCY_NOTE + "\n")


# ----------------------------------------------------------------------------------------
# The command line: python -m minplt ablate ...

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="out/ablate", help="output folder (default out/ablate)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test in under a minute (numbers mean nothing)")
    parser.add_argument("--variants", help=f"comma-separated subset of: {', '.join(ROWS)}")
    parser.add_argument("--seeds", type=int, help=f"number of seeds (default "
                        f"{len(SETTINGS['seeds'])})")
    parser.add_argument("--steps", type=int, help=f"training steps per run (default "
                        f"{SETTINGS['steps']})")
    add_task_arguments(parser)
    parser.add_argument("--backend", choices=("auto", "numpy", "numba"), default="auto",
                        help="decode backend for the latency column (default: numba if it works)")


def settings_from_args(args) -> dict:
    s = dict(QUICK if args.quick else SETTINGS)
    if args.seeds is not None:
        if args.seeds < 1:
            raise ValueError(f"--seeds must be >= 1, got {args.seeds}")
        s["seeds"] = tuple(range(args.seeds))
    if args.steps is not None:
        s["steps"] = args.steps
    s.update(task_from_args(args, s))
    check(s)
    return s


def add_task_arguments(parser) -> None:
    """--task, --hops, --length: shared with demo.py."""
    parser.add_argument("--task", choices=sorted(TASK_SETTINGS),
                        help=f"the task (default {SETTINGS['task']})")
    parser.add_argument("--hops", type=int, help="look-ups per question (multihop)")
    parser.add_argument("--length", type=int, help="letters to sort (sort)")


def task_from_args(args, s: dict) -> dict:
    """{'task': ..., 'task_kwargs': ...} from --task, --hops and --length."""
    task = args.task or s["task"]
    kwargs = dict(s["task_kwargs"] if task == s["task"] else TASK_SETTINGS[task])
    for flag, key, owner in (("hops", "hops", "multihop"), ("length", "length", "sort")):
        value = getattr(args, flag)
        if value is not None:
            if task != owner:
                raise ValueError(f"--{flag} applies to the {owner} task only, not to {task}")
            kwargs[key] = value
    return {"task": task, "task_kwargs": kwargs}


def check(s: dict) -> None:
    """A clear ValueError for settings no run can use (before any training starts)."""
    trainlib.check_settings(s["steps"], s["batch_size"], s["lr"], s["warmup"],
                            s["eval_every"], s["eval_batches"], 1, 1)
    make_task(s)                      # checks the task's arguments


def run(args) -> int:
    s = settings_from_args(args)
    names = [n.strip() for n in args.variants.split(",")] if args.variants else None
    run_ablation(s, args.out, names, args.backend)
    return 0


def main(argv=None) -> int:
    """`python -m minplt.experiments` is `python -m minplt ablate`."""
    from minplt import cli
    return cli.main(["ablate", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
