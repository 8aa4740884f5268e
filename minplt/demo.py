"""The first thing to run: `python -m minplt demo` (or `make demo`), a few minutes on
two CPU cores.

It trains three models with the same shared stack (the same parameters, give or take
the G-SWA gate) on a built-in task where one pass through the stack is too shallow.
By default that is pointer chasing (data.PointerTask): a table of pointers between
letters, one token each, then questions; the answer to a question is the letter one
or two pointers further on. One pass follows one pointer, so two-hop questions need
the second pass that the loops give:

    vanilla   the stack once
    loop-2    the stack twice, one loop after the other (twice the compute per token)
    plt-2     the stack twice with cross-loop parallelism, shared KV and G-SWA: both loops
              of a token run as one pass when decoding. Its second loop at a position
              reads the first loop of the position before, so it reads the line with one
              filler position before each answer (experiments.Settings.clp_thinking)

Then it prints a comparison (accuracy, validation loss, decode ms/token, KV-cache
bytes), lets each model answer a few unseen questions, and writes figures and
checkpoints into an output folder (default out/demo). Interrupted, it continues with
`--resume`, which also reuses the models of a finished demo (to see the comparison
again without training); `--overwrite` trains them again.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from minplt import checkpoint
from minplt import experiments as ex
from minplt.experiments import machine_line
from minplt import model, parallel

VARIANTS = ("vanilla", "loop-2", "plt-2")

# The ablation's task and budget (experiments.TASK_DEFAULTS), one seed: the looped
# models learn two hops in it (docs/findings.md has the figures).
DEMO = ex.SETTINGS.replace(seeds=(0,))
QUICK = ex.QUICK.replace(seeds=(0,), train=ex.QUICK.train.replace(eval_every=10))
EXAMPLES = {"demo": 5, "quick": 2}      # questions shown on which the models disagree

TASK_BLURBS = {
    "pointer": "each character after 'k:' is a pointer between two letters; answer each "
               "question letter with the letter k pointers on",
    "sort": "write the letters before '=' in alphabetical order",
    "multihop": "follow a chain of variable bindings back to its digit",
    "addition": "add two numbers, the sum written backwards",
    "parity": "answer 1 if the number of 1s is odd",
}


def train_models(s: ex.Settings, tasks: dict, out_dir: str, resume: bool = False,
                 overwrite: bool = False, workers: int | None = None) -> dict:
    """Train the three variants (seed s.seeds[0]) on their tasks (name -> the layout it
    reads: experiments.make_task(s, name)), one per core, printing progress as they go
    (each line names its model)."""
    for name in VARIANTS:
        cfg = ex.row_config(name, tasks[name], s)
        fillers = ex.fillers_for(name, s)
        print(f"{name}: {model.count_params(model.init_params(cfg)):,} parameters, "
              f"{cfg.n_layer} layer(s) x {cfg.n_loops} loop(s)"
              + (f", {fillers} filler position(s) before each answer" if fillers else ""))
    workers = parallel.default_workers() if workers is None else workers
    print(f"training them {min(workers, len(VARIANTS))} at a time\n", flush=True)
    trained = ex.train_rows(VARIANTS, s, s.seeds[:1], out_dir=out_dir, progress=True,
                            resume=resume, overwrite=overwrite, workers=workers, tasks=tasks)
    return {name: trained[(name, s.seeds[0])] for name in VARIANTS}


def show_examples(results: dict, task, tasks: dict, n: int, rng, tries: int = 100,
                  say=print) -> None:
    """Greedy answers of every model to `tries` unseen questions of `task`, decoded as one
    batch (experiments.greedy_answers, each model reading its own layout, tasks[name]);
    say how many each got right, and the first n on which the models do not all agree
    (where the differences show), or the first n questions if they agree on all."""
    questions = [task.sample("val", rng) for _ in range(tries)]
    answers = {name: ex.greedy_answers(r.params, r.config, tasks[name],
                                       [prompt for prompt, _ in questions])
               for name, r in results.items()}
    right = {name: [a == expected for a, (_, expected) in zip(answers[name], questions)]
             for name in results}
    split = [i for i in range(tries) if len({right[name][i] for name in results}) > 1]
    shown = (split or list(range(tries)))[:n]
    scores = ", ".join(f"{name} {sum(right[name])}" for name in results)
    say(f"\nGreedy answers to {tries} unseen questions. Right: {scores}. The models "
        f"disagree on {len(split)}; {'the first' if split else 'all agree; the first'} "
        f"{len(shown)}:")
    for i in shown:
        prompt, expected = questions[i]
        say(f"  {prompt}  expected {expected}")
        if hasattr(task, "gloss"):
            say(f"     ({task.gloss(prompt)})")
        say("     " + "   ".join(f"{name}: {answers[name][i]} "
                                  f"{'right' if right[name][i] else 'WRONG'}"
                                  for name in results))


def write_schedule_figure(results: dict, task, out_dir: str) -> str:
    """The (position, loop) grid of loop-2 (sequential) beside plt-2 (parallel), drawn
    from the traces the two models record while decoding a short prompt."""
    from visualizations.schedule import plot_schedule

    prompt = task.tokenizer.encode(task.sample("val", np.random.default_rng(1))[0])[:3]
    traces = {}
    for name in ("loop-2", "plt-2"):
        r = results[name]
        _, cache = model.generate(r.params, r.config, prompt, 6, return_cache=True)
        traces[name] = cache.trace
    fig = plot_schedule(int(cache.pos[0]), 2, trace_sequential=traces["loop-2"],
                        trace_parallel=traces["plt-2"], prompt_len=len(prompt))
    path = os.path.join(out_dir, "schedule.png")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return path


def run_demo(s: ex.Settings, out_dir: str, backend: str = "auto", examples: int = 5,
             resume: bool = False, overwrite: bool = False, workers: int | None = None) -> dict:
    """Train (or with resume: reuse and continue) the three models in out_dir/<variant>,
    compare them and write the figures. A folder that holds models needs resume or
    overwrite."""
    ex.check_run_folders(out_dir, VARIANTS, s, resume, overwrite)
    start = time.perf_counter()
    os.makedirs(out_dir, exist_ok=True)
    task = ex.make_task(s)                  # the questions; each model reads its layout:
    tasks = {name: ex.make_task(s, name) for name in VARIANTS}      # built once, passed on
    example = "".join(task.sample("train", np.random.default_rng(0)))
    print(f"minplt demo: vanilla vs loop-2 vs PLT-2 on {ex.describe_task(task)}: "
          f"{TASK_BLURBS[task.name]}, e.g. {example}\n{s.train.steps} training steps each.")
    results = train_models(s, tasks, out_dir, resume, overwrite, workers)

    backend, backend_note = ex.pick_backend(backend)
    prompt = task.tokenizer.encode(task.sample("val", np.random.default_rng(0))[0])
    rows = []
    for name, r in results.items():
        ms = ex.decode_ms_per_token(r.params, r.config, prompt, s.decode_tokens, backend)
        rows.append(ex.summarize(name, [r], r.config, ms, s.kv_length,
                                 ex.fillers_for(name, s)))
    report = []                       # what is printed from here on, also in results.md

    def say(text=""):
        print(text)
        report.append(text)
    say(f"\nResults: accuracy on {s.train.eval_batches * s.train.batch_size} unseen "
        f"lines (a line counts when all its answers are right); decode ms/token after a "
        f"{len(prompt)}-token prompt, backend {backend_note}; KV-cache bytes at "
        f"{s.kv_length} positions:\n")
    say(ex.markdown_table(rows, s.kv_length, spread=False))
    if any(row["fillers"] for row in rows):
        say("\n" + ex.FILLERS_NOTE)
    print("\nplt-2 decodes both loops of a token in one pass through the stack (parallel), "
          "loop-2 in two passes (sequential).\n" + ex.LATENCY_NOTE)
    show_examples(results, task, tasks, examples, np.random.default_rng(123), say=say)

    figures = ex.write_figures(out_dir, rows, {n: r.rows for n, r in results.items()}, backend)
    figures.append(write_schedule_figure(results, task, out_dir))
    say(f"\nDone in {(time.perf_counter() - start) / 60:.1f} min ({machine_line()}).")
    text = "\n".join(report).strip()
    head, found, examples = text.partition(":\n  ")        # the answers: a code block
    if found:
        done = examples.rindex("\n\nDone in")
        text = f"{head}:\n```\n  {examples[:done]}\n```{examples[done:]}"
    checkpoint.atomic_write(os.path.join(out_dir, "results.md"), text + "\n")
    print(f"Written to {out_dir}/:")
    print("  results.md (the table and answers above; `make readme` copies it into "
          "docs/findings.md)")
    for path in figures:
        print(f"  {os.path.basename(path)}")
    plt2 = os.path.join(out_dir, "plt-2", "ckpt.npz")
    print(f"  <variant>/ckpt.npz and log.csv; try: python -m minplt sample {plt2}\n"
          f"  or look at its attention: python -m minplt inspect {plt2}")
    return {"rows": rows, "figures": figures, "seconds": time.perf_counter() - start}


# ----------------------------------------------------------------------------------------
# The command line: python -m minplt demo

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    parser.add_argument("--quick", action="store_true",
                        help="a few seconds, for tests (the models learn nothing)")
    parser.add_argument("--steps", type=int, help=f"training steps per model "
                        f"(default {DEMO.train.steps})")
    parser.add_argument("--seed", type=int, default=0, help="seed of all three runs")
    ex.add_task_arguments(parser)
    parser.add_argument("--backend", choices=("auto", "numpy", "numba"), default="auto",
                        help="decode backend for the latency column (default: numba if it works)")
    ex.add_run_arguments(parser)
    ex.add_workers_argument(parser)


def run(args) -> int:
    s = ex.settings_from_args(args, (QUICK if args.quick else DEMO).replace(seeds=(args.seed,)))
    try:
        run_demo(s, args.out, args.backend, EXAMPLES["quick" if args.quick else "demo"],
                 resume=args.resume, overwrite=args.overwrite, workers=ex.workers_from_args(args))
    except KeyboardInterrupt:
        return ex.interrupted("demo", args)
    return 0

