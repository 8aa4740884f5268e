"""The paper's Table 2 on language: `python -m minplt ablate --task text`.

The rows of experiments.ROWS (vanilla, loop-2, loop+clp-2, loop+clp+kvshare-2, plt-2,
plt-3, vanilla-2x) trained as byte-level language models on Python's standard library
(corpus.py), every row on the same batches for the same steps, three seeds, and
measured by validation loss in bits per byte. A loss is continuous and moves little
between seeds, where accuracy at a learning jump (pointer chasing) is noisy.

What it measures, all on the same fixed validation windows (evenly spaced over the
validation files, the same for every row and seed):

  * the table: bits per byte, mean ± std over seeds;
  * the paired differences (DIFFERENCES): row a - row b per seed, with a 95% confidence
    interval paired by seed (Student's t), and each of the paper's orderings
    (ORDERINGS) marked as reproduced, not reproduced, or not separable at this size;
  * what CLP costs (clp_cost): the per-token loss of loop+clp-2 and plt-2 minus
    loop-2's, by the kind of byte just read (POSITION_KINDS) and by position in the
    context;
  * test-time loops (test_time_loops): each looped model run with 1 to L+2 loops.

Reading order: the settings (TEXT, QUICK) -> run_text_ablation (trains through
experiments.train_rows, one run folder per row and seed, --resume continues) ->
per_token_losses -> paired_difference, the verdicts -> clp_cost, test_time_loops ->
the report (results.md, results.json, figures) -> the command line (run).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import statistics
import time

import numpy as np

from minplt import checkpoint, corpus, model, parallel
from minplt import experiments as ex
from minplt import train as trainlib

# The stack and budget, chosen by measurement: on this 2-core machine, under load, a
# training step of 16 x 128 bytes at width 64 with two blocks took 64 ms for vanilla and
# 132 ms for plt-2 (one thread each), and a first full run at that size (1,500 steps)
# was on course for more than three hours on the loaded machine. With windows of 64
# bytes and 1,000 steps the 21 runs took 32.6 minutes, two at a time, at a load average
# of 9-16 (docs/language.md). 1,000 steps of 16 x 64 bytes is 1 M bytes, a tenth of the
# training files: no byte is seen twice, so the validation loss measures how well a row
# learns from the same text, not how well it memorises it.
TEXT = ex.Settings(
    task=ex.TEXT_TASK, task_kwargs=dict(source=corpus.SOURCE, block_size=64),
    model=model.Config(n_embd=64, n_head=4, d_ff=176, n_layer=2, window=16, block_size=64),
    train=trainlib.TrainSettings(steps=1000, batch_size=16, lr=3e-3, warmup=100,
                                 eval_every=200, eval_batches=4),
    seeds=(0, 1, 2), checkpoints=5)
QUICK = TEXT.replace(
    task_kwargs=dict(source=corpus.SOURCE, block_size=32),
    model=model.Config(n_embd=32, n_head=4, d_ff=64, n_layer=1, window=4, block_size=32),
    train=TEXT.train.replace(steps=30, batch_size=8, warmup=5, eval_every=15, eval_batches=1),
    seeds=(0, 1), checkpoints=1)
EVAL_WINDOWS = {"full": 512, "quick": 8}     # validation windows of block_size bytes

# (a, b): the difference a - b that each of the paper's claims is about
DIFFERENCES = [("loop-2", "vanilla"), ("loop+clp-2", "loop-2"),
               ("loop+clp+kvshare-2", "loop+clp-2"), ("plt-2", "loop+clp+kvshare-2"),
               ("plt-2", "vanilla-2x"), ("plt-3", "plt-2")]

# The paper's orderings, one per difference: the claim, and the sign of a - b it makes
# (-1: a is better, lower loss; +1: a is worse; 0: about level, either sign).
ORDERINGS = {
    ("loop-2", "vanilla"): ("looping beats the plain model of the same size", -1),
    ("loop+clp-2", "loop-2"): ("CLP keeps the looped model's quality", 0),
    ("loop+clp+kvshare-2", "loop+clp-2"): ("sharing the first loop's KV costs a little", +1),
    ("plt-2", "loop+clp+kvshare-2"): ("G-SWA wins back what KV sharing cost", -1),
    ("plt-2", "vanilla-2x"): ("PLT-2 is about level with a plain model of twice the "
                              "parameters", 0),
    ("plt-3", "plt-2"): ("PLT-3 beats PLT-2", -1),
}

# Two-sided 95% quantiles of Student's t by degrees of freedom (n - 1 seeds).
T_95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228}


# ----------------------------------------------------------------------------------------
# Measuring: per-token losses on fixed validation windows

def validation_windows(data, n_windows: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y), each (n_windows, T): windows of the validation split at evenly spaced
    starts, the same for every model (no random draw)."""
    val, T = data.splits["val"], data.block_size
    starts = np.linspace(0, len(val) - T - 1, n_windows).astype(np.int64)   # (N,)
    index = starts[:, None] + np.arange(T)                                  # (N,T)
    return val[index].astype(np.int64), val[index + 1].astype(np.int64)


def per_token_losses(params, cfg: model.Config, x, y, batch: int = 32) -> np.ndarray:
    """(N,T) cross-entropy in nats of each prediction, y[n, t] given x[n, :t+1]."""
    out = np.empty(x.shape, dtype=np.float64)
    for i in range(0, len(x), batch):
        logits, _, _ = model.forward(params, cfg, x[i:i + batch], backend="numba")
        logits = logits.astype(np.float64)                                   # (b,T,V)
        top = logits.max(-1, keepdims=True)
        log_norm = np.log(np.exp(logits - top).sum(-1)) + top[..., 0]        # (b,T)
        picked = np.take_along_axis(logits, y[i:i + batch, :, None], -1)[..., 0]
        out[i:i + batch] = log_norm - picked
    return out


def with_loops(cfg: model.Config, n_loops: int) -> model.Config:
    """The same weights run with n_loops loops at inference (1: the stack once, a plain
    transformer: the loop flags need two loops or more). Every loop uses the same
    parameters, so nothing else changes."""
    if n_loops == 1:
        return dataclasses.replace(cfg, n_loops=1, clp=False, kv_share=False, gswa=False)
    return dataclasses.replace(cfg, n_loops=n_loops)


def first_logged_loss(s: ex.Settings, row: str, seed: int) -> dict:
    """Train `row` with `seed` as the ablation does, up to its first logged step only, and
    return that log row (step, loss, ...): a committed result is reproduced when its first
    logged loss comes out the same (training is deterministic for a seed)."""
    return ex.train_first_steps(row, ex.make_task(s, row), s, seed, steps=1)[0]


# ----------------------------------------------------------------------------------------
# Statistics: paired differences and the verdicts

def paired_difference(a: list[float], b: list[float]) -> dict:
    """a - b paired by seed: the mean, the std of the per-seed differences, and a 95%
    confidence interval for the mean (Student's t with n - 1 degrees of freedom; none
    for one seed)."""
    if len(a) != len(b) or not a:
        raise ValueError(f"paired values need the same seeds, got {len(a)} and {len(b)}")
    d = [x - y for x, y in zip(a, b)]
    mean = statistics.fmean(d)
    if len(d) < 2:
        return dict(mean=mean, std=0.0, low=None, high=None, per_seed=d)
    std = statistics.stdev(d)
    half = T_95.get(len(d) - 1, 1.96) * std / math.sqrt(len(d))
    return dict(mean=mean, std=std, low=mean - half, high=mean + half, per_seed=d)


def verdict(diff: dict, sign: int) -> str:
    """'reproduced', 'not reproduced' or 'not separable' for a claim that a - b has
    `sign` (-1 lower, +1 higher, 0 about level), from the confidence interval. A claim of
    'about level' is reproduced when the interval holds 0, which says the rows were not
    told apart, and a wide interval does easily: the verdict says so."""
    low, high = diff["low"], diff["high"]
    if low is None:
        return "not separable (one seed)"
    if sign == 0:
        return "reproduced (the interval holds 0)" if low <= 0 <= high else "not reproduced"
    if low <= 0 <= high:
        return "not separable"
    return "reproduced" if (high < 0) == (sign < 0) else "not reproduced"


# ----------------------------------------------------------------------------------------
# What CLP costs: per-token differences by kind of position and by position

POSITION_KINDS = ("start of a line", "after whitespace", "after an opening bracket",
                  "inside an identifier", "other")


def position_kinds(x: np.ndarray) -> np.ndarray:
    """(N,T) index into POSITION_KINDS of each prediction, by the byte just read (x):
    a line break (the next byte starts a line), a space or tab, one of ( [ {, a letter,
    digit or underscore (the next byte may continue an identifier), anything else."""
    kinds = np.full(x.shape, 4, dtype=np.int64)
    identifier = ((x >= ord("a")) & (x <= ord("z"))) | ((x >= ord("A")) & (x <= ord("Z"))) \
        | ((x >= ord("0")) & (x <= ord("9"))) | (x == ord("_"))
    kinds[identifier] = 3
    kinds[np.isin(x, [ord(c) for c in "([{"])] = 2
    kinds[np.isin(x, [ord(" "), ord("\t")])] = 1
    kinds[x == ord("\n")] = 0
    return kinds


def clp_cost(losses: dict, x: np.ndarray, base: str = "loop-2",
             rows=("loop+clp-2", "plt-2")) -> dict:
    """Per-token loss of each row minus `base`'s (bits per byte), over the seeds (the
    same windows), by kind of position and by position in the context. losses:
    row -> list over seeds of (N,T) nats."""
    kinds = position_kinds(x)
    share = {kind: float((kinds == i).mean()) for i, kind in enumerate(POSITION_KINDS)}
    out = {"base": base, "share": share, "rows": {}}
    for row in rows:
        if row not in losses or base not in losses:
            continue
        per_seed = [(a - b) / math.log(2) for a, b in zip(losses[row], losses[base])]
        d = np.mean(per_seed, axis=0)                                        # (N,T)
        by_kind = {}
        for i, kind in enumerate(POSITION_KINDS):
            mask = kinds == i
            seeds = [float(p[mask].mean()) for p in per_seed] if mask.any() else []
            by_kind[kind] = dict(mean=float(d[mask].mean()) if mask.any() else None,
                                 per_seed=seeds,
                                 base_bpb=float(np.mean([b[mask].mean() for b in
                                                         losses[base]]) / math.log(2))
                                 if mask.any() else None)
        out["rows"][row] = dict(mean=float(d.mean()), by_kind=by_kind,
                                by_position=[float(v) for v in d.mean(axis=0)],
                                by_position_per_seed=[[float(v) for v in p.mean(axis=0)]
                                                      for p in per_seed])
    return out


# ----------------------------------------------------------------------------------------
# The ablation

def evaluate_runs(runs: dict, data, n_windows: int, log=print) -> tuple[dict, dict, np.ndarray]:
    """On the fixed validation windows: bits per byte of every (row, seed) run; the
    per-token losses (nats) of every row, per seed; and test-time loops: bits per byte
    of each looped run with 1 .. L+2 loops. Returns (bpb, losses, x) with bpb[row] a
    list over seeds and losses[row] a list of (N,T) arrays; test-time loops in
    bpb['loops'][row][n] (a list over seeds)."""
    x, y = validation_windows(data, n_windows)
    bpb, losses, loops = {}, {}, {}
    with parallel.threads(1):
        for row, results in runs.items():
            losses[row] = [per_token_losses(r.params, r.config, x, y) for r in results]
            bpb[row] = [corpus.bits_per_byte(l.mean()) for l in losses[row]]
            cfg = results[0].config
            if cfg.n_loops > 1:
                loops[row] = {n: [corpus.bits_per_byte(per_token_losses(
                    r.params, with_loops(r.config, n), x, y).mean()) for r in results]
                    for n in range(1, cfg.n_loops + 3)}
            log(f"  evaluated {row}: {statistics.fmean(bpb[row]):.4f} bits/byte")
    return {"rows": bpb, "loops": loops}, losses, x


def run_text_ablation(s: ex.Settings, out_dir: str, names=None, resume: bool = False,
                      overwrite: bool = False, workers: int | None = None,
                      n_windows: int = EVAL_WINDOWS["full"], log=print) -> dict:
    """Train every row over every seed in out_dir/<row>-seed<seed> (resume: continue or
    reload what is there), measure them, write results.md, results.json and the
    figures. Returns the report (what results.json holds)."""
    names = list(names or ex.ROWS)
    unknown = [n for n in names if n not in ex.ROWS]
    if unknown:
        raise ValueError(f"unknown ablation rows {unknown}; choose from {', '.join(ex.ROWS)}")
    ex.check_run_folders(out_dir, names, s, resume, overwrite)
    os.makedirs(out_dir, exist_ok=True)
    data = ex.make_task(s)
    workers = parallel.default_workers() if workers is None else workers
    tokens = s.train.steps * s.train.batch_size * data.block_size
    log(f"language ablation: {len(names)} rows x {len(s.seeds)} seeds, {s.train.steps} steps "
        f"of {s.train.batch_size} x {data.block_size} bytes ({tokens:,} bytes per run) on "
        f"Python {data.info['python']}'s standard library ({data.info['files']} files: "
        f"{data.info['files_train']} train, {data.info['files_val']} validation), "
        f"{workers} run(s) at a time")
    start = time.perf_counter()
    # the costliest rows first (loops x layers), so that no long run is left alone at the end
    by_cost = sorted(names, key=lambda name: -ex.row_cost(name))
    trained = ex.train_rows(by_cost, s, s.seeds, out_dir=out_dir, progress=True,
                            resume=resume, overwrite=overwrite, workers=workers)
    runs = {name: [trained[(name, seed)] for seed in s.seeds] for name in names}
    train_seconds = time.perf_counter() - start
    measured, losses, x = evaluate_runs(runs, data, n_windows, log)
    report = make_report(s, data, runs, measured, losses, x, n_windows,
                         train_seconds, time.perf_counter() - start)
    checkpoint.atomic_write(os.path.join(out_dir, "results.json"), json.dumps(report, indent=1))
    np.savez_compressed(os.path.join(out_dir, "per_token.npz"), x=x,
                        **{f"{row}/seed{seed}": l.astype(np.float32)
                           for row in losses for seed, l in zip(s.seeds, losses[row])})
    checkpoint.atomic_write(os.path.join(out_dir, "lesson.json"),
                            json.dumps(lesson_summary(report), indent=1))
    figures = write_figures(report, out_dir)
    text = results_markdown(report)
    checkpoint.atomic_write(os.path.join(out_dir, "results.md"), text)
    log("\n" + text)
    log(f"wrote results.md, results.json, per_token.npz and "
        f"{', '.join(os.path.basename(p) for p in figures)} in {out_dir}")
    return report


def make_report(s, data, runs, measured, losses, x, n_windows, train_seconds,
                seconds) -> dict:
    """Everything results.json keeps: settings, corpus, rows, differences, verdicts,
    CLP cost, test-time loops, training curves."""
    rows = []
    for name, results in runs.items():
        cfg = results[0].config
        mean, std = ex.mean_std(measured["rows"][name])
        rows.append(dict(variant=name, family=cfg.family, n_loops=cfg.n_loops,
                         n_layer=cfg.n_layer, params=model.count_params(results[0].params),
                         bpb=mean, bpb_std=std, bpb_per_seed=measured["rows"][name],
                         train_seconds=sum(r.elapsed for r in results)))
    differences = []
    for a, b in DIFFERENCES:
        if a in runs and b in runs:
            d = paired_difference(measured["rows"][a], measured["rows"][b])
            claim, sign = ORDERINGS[(a, b)]
            differences.append(dict(a=a, b=b, claim=claim, sign=sign, **d,
                                    verdict=verdict(d, sign)))
    loops = {row: {str(n): dict(zip(("mean", "std"), ex.mean_std(v)), per_seed=v)
                   for n, v in by_n.items()} for row, by_n in measured["loops"].items()}
    return dict(
        settings=dataclasses.asdict(s), corpus=dict(data.info, source=data.source,
                                                    block_size=data.block_size),
        machine=ex.machine_line(), seeds=list(s.seeds), eval_windows=n_windows,
        eval_bytes=int(x.size), train_seconds=train_seconds, seconds=seconds, rows=rows,
        differences=differences, clp_cost=clp_cost(losses, x), test_time_loops=loops,
        logs={name: [r.rows for r in results] for name, results in runs.items()})


def lesson_summary(report: dict) -> dict:
    """The report without what only the figures of the command need: lesson 06 loads it
    (lessons/results/06_language.json). Curves keep step, loss and validation loss."""
    small = {k: v for k, v in report.items() if k != "logs"}
    small["clp_cost"] = dict(report["clp_cost"], rows={
        row: {k: v for k, v in r.items() if k != "by_position_per_seed"}
        for row, r in report["clp_cost"]["rows"].items()})
    small["logs"] = {row: [[{k: r[k] for k in ("step", "loss", "val_loss")} for r in log]
                           for log in logs] for row, logs in report["logs"].items()}
    return small


# ----------------------------------------------------------------------------------------
# The report

def table_markdown(report: dict) -> str:
    lines = ["| variant | params | loops x layers | val bits/byte (mean ± std) | per seed |",
             "|---|---:|---:|---:|---|"]
    for r in report["rows"]:
        seeds = ", ".join(f"{v:.4f}" for v in r["bpb_per_seed"])
        lines.append(f"| {r['variant']} | {r['params']:,} | {r['n_loops']} x {r['n_layer']} | "
                     f"{r['bpb']:.4f} ± {r['bpb_std']:.4f} | {seeds} |")
    return "\n".join(lines)


def differences_markdown(report: dict) -> str:
    lines = ["| difference (bits/byte) | mean | 95% CI (paired by seed) | the paper's claim | "
             "here |", "|---|---:|---|---|---|"]
    for d in report["differences"]:
        ci = "—" if d["low"] is None else f"[{d['low']:+.4f}, {d['high']:+.4f}]"
        lines.append(f"| {d['a']} − {d['b']} | {d['mean']:+.4f} | {ci} | {d['claim']} | "
                     f"{d['verdict']} |")
    return "\n".join(lines)


def clp_markdown(report: dict) -> str:
    cost = report["clp_cost"]
    if not cost["rows"]:
        return ""
    rows = list(cost["rows"])
    lines = [f"| byte just read | share | {cost['base']} bits/byte | "
             + " | ".join(f"{r} − {cost['base']}" for r in rows) + " |",
             "|---|---:|---:|" + "---:|" * len(rows)]
    for kind in POSITION_KINDS:
        first = cost["rows"][rows[0]]["by_kind"][kind]
        if first["mean"] is None:
            continue
        lines.append(f"| {kind} | {100 * cost['share'][kind]:.1f}% | {first['base_bpb']:.3f} | "
                     + " | ".join(f"{cost['rows'][r]['by_kind'][kind]['mean']:+.4f}"
                                  for r in rows) + " |")
    lines.append("| all | 100% | | " + " | ".join(f"{cost['rows'][r]['mean']:+.4f}"
                                               for r in rows) + " |")
    return "\n".join(lines)


def loops_markdown(report: dict) -> str:
    loops = report["test_time_loops"]
    if not loops:
        return ""
    most = max(len(v) for v in loops.values())
    lines = ["| trained as | " + " | ".join(f"{n} loop{'s' * (n > 1)}" for n in range(1, most + 1))
             + " |", "|---|" + "---:|" * most]
    for row, by_n in loops.items():
        cells = [f"{by_n[str(n)]['mean']:.3f}" if str(n) in by_n else "" for n in
                 range(1, most + 1)]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def results_markdown(report: dict) -> str:
    s, c = report["settings"], report["corpus"]
    m, t = s["model"], s["train"]
    seeds = ", ".join(str(x) for x in report["seeds"])
    return (f"**Ablation on language (PLT paper, Table 2, at toy scale)**\n\n"
            f"Corpus: Python {c['python']}'s standard library source, {c['files']} files "
            f"({c['files_train']} train, {c['files_val']} validation, split by file), "
            f"byte-level tokens. Model: width {m['n_embd']}, {m['n_head']} heads, "
            f"{m['n_layer']} layer(s) in the shared stack, MLP {m['d_ff']}, G-SWA window "
            f"{m['window']}, context {c['block_size']} bytes. Training: {t['steps']} steps of "
            f"{t['batch_size']} x {c['block_size']} bytes, lr {t['lr']}, warm-up "
            f"{t['warmup']}, seeds {seeds}. Validation: bits per byte on "
            f"{report['eval_windows']} fixed windows ({report['eval_bytes']:,} bytes) of "
            f"the validation files, the same for every row and seed. Machine: "
            f"{report['machine']}; total time {report['seconds'] / 60:.1f} min (training "
            f"{report['train_seconds'] / 60:.1f} min).\n\n"
            + table_markdown(report) + "\n\nPaired differences (row a − row b per seed; "
            "negative: a predicts better):\n\n" + differences_markdown(report)
            + ("\n\nWhat CLP costs, by the byte just read (per-token loss difference, "
               "bits per byte, mean over seeds):\n\n" + clp_markdown(report)
               if report["clp_cost"]["rows"] else "")
            + ("\n\nTest-time loops (bits per byte, mean over seeds; each model run with "
               "more or fewer loops than it was trained with):\n\n" + loops_markdown(report)
               if report["test_time_loops"] else "") + "\n")


def write_figures(report: dict, out_dir: str) -> list[str]:
    """curves.png, clp_cost.png and test_time_loops.png in out_dir (language_charts)."""
    import matplotlib
    matplotlib.use("Agg")
    from visualizations import language_charts as charts

    figures = {"curves.png": charts.plot_curves(report)}
    if report["clp_cost"]["rows"]:
        figures["clp_cost.png"] = charts.plot_clp_cost(report)
    if report["test_time_loops"]:
        figures["test_time_loops.png"] = charts.plot_test_time_loops(report)
    paths = []
    for name, fig in figures.items():
        paths.append(os.path.join(out_dir, name))
        fig.savefig(paths[-1], dpi=120, bbox_inches="tight")
    return paths


# ----------------------------------------------------------------------------------------
# The command line: python -m minplt ablate --task text (flags: experiments.add_arguments)

def settings_from_args(args) -> ex.Settings:
    """TEXT or QUICK with --seeds and --steps; the task flags do not apply to text."""
    for flag, value in (("--hops", args.hops), ("--length", args.length)):
        if value is not None:
            raise ValueError(f"{flag} applies to the synthetic tasks, not to --task text")
    if args.no_thinking:
        raise ValueError("--no-thinking applies to pointer chasing, not to --task text")
    s = QUICK if args.quick else TEXT
    if args.seeds is not None:
        if args.seeds < 1:
            raise ValueError(f"--seeds must be >= 1, got {args.seeds}")
        s = s.replace(seeds=tuple(range(args.seeds)))
    if args.steps is not None:
        s = s.replace(train=s.train.replace(steps=args.steps))
    return s


def run(args) -> int:
    s = settings_from_args(args)
    out = args.out or "out/ablate-text"
    names = [n.strip() for n in args.variants.split(",")] if args.variants else None
    try:
        run_text_ablation(s, out, names, resume=args.resume, overwrite=args.overwrite,
                          workers=ex.workers_from_args(args),
                          n_windows=EVAL_WINDOWS["quick" if args.quick else "full"])
    except KeyboardInterrupt:
        args.out = out
        return ex.interrupted("ablate", args)
    return 0
