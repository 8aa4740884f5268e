"""Render the README figures that need no trained model.

    python -m visualizations.render_all [--bench out/bench/bench.json] [--out DIR]
    python -m visualizations.render_all --hops out/hops/results.json

Writes schedule.png, decode.gif, kv_layout.png and memory_growth.png into
visualizations/figures/ (the committed figures). The benchmark charts (latency.png,
memory.png) come from one machine's run, so they are drawn only from a benchmark JSON
named with --bench, into the folder of that JSON unless --out says otherwise. The
figures of `python -m minplt hops` (accuracy_vs_hops.png, thinking.png, hops_curves.png;
staircase.png and staircase_curves.png from `--experiment staircase`) are drawn from
its results.json named with --hops, into visualizations/figures/ unless --out says
otherwise: the README shows them.
"""

import argparse
from pathlib import Path

import matplotlib

FIGURES = Path(__file__).resolve().parent / "figures"
REPO = Path(__file__).resolve().parent.parent

# The example sizes of the figures: 8 positions and 3 loops fit one screen; the KV
# numbers are a small model, c = 2 (K and V) * 4 layers * 128 channels * 4 bytes.
N_POSITIONS, N_LOOPS, PROMPT_LEN = 8, 3, 3
KV_POSITIONS, WINDOW = 12, 4
BYTES_PER_POSITION = 2 * 4 * 128 * 4


def render_all(out=FIGURES, bench=None):
    """Render the model-free figures into `out`, and the benchmark charts too when a
    benchmark JSON is given; returns the paths written."""
    from . import kv_layout, schedule

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig, name):
        fig.savefig(out / name, dpi=120)
        written.append(out / name)

    save(schedule.plot_schedule(N_POSITIONS, N_LOOPS), "schedule.png")
    trace = schedule.expected_trace(N_POSITIONS, N_LOOPS, "parallel", PROMPT_LEN)
    written.append(schedule.animate_decode(trace, N_POSITIONS, N_LOOPS, clp=True,
                                           path=out / "decode.gif", fps=1.5, dpi=130,
                                           prompt_len=PROMPT_LEN))
    save(kv_layout.plot_kv_layout(KV_POSITIONS, N_LOOPS, WINDOW, BYTES_PER_POSITION),
         "kv_layout.png")
    save(kv_layout.plot_memory_growth(2, 256, BYTES_PER_POSITION, max_positions=4096),
         "memory_growth.png")
    if bench is not None:
        written += render_bench(bench, out)
    return written


def render_bench(bench, out):
    """latency.png, memory.png (and batch_sweep.png with a sweep) of one benchmark JSON."""
    from . import charts

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    data = charts.load_bench(bench)
    plots = [("latency.png", charts.plot_latency), ("memory.png", charts.plot_memory)]
    if data.get("batch"):
        plots.append(("batch_sweep.png", charts.plot_batch_sweep))
    for name, plot in plots:
        plot(data).savefig(out / name, dpi=120)
        written.append(out / name)
    return written


def render_hops(results, out):
    """From the results.json of minplt.hops, the figures of the experiments it holds:
    accuracy_vs_hops.png (depth), staircase.png, thinking.png, and the validation
    curves of every run (hops_curves.png; staircase_curves.png for a staircase run)."""
    import json

    from . import charts

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = json.loads(Path(results).read_text())
    experiments = {r["experiment"] for r in report["rows"]}
    figures = [(name, plot) for name, plot, experiment in (
        ("accuracy_vs_hops.png", charts.plot_accuracy_vs_hops, "depth"),
        ("staircase.png", lambda rows: charts.plot_accuracy_vs_hops(rows, experiment="staircase"),
         "staircase"),
        ("thinking.png", charts.plot_thinking, "thinking")) if experiment in experiments]
    written = []
    for name, plot in figures:
        plot(report["rows"]).savefig(out / name, dpi=120)
        written.append(out / name)
    curves = "staircase_curves.png" if experiments == {"staircase"} else "hops_curves.png"
    charts.plot_hops_curves(report["runs"]).savefig(out / curves, dpi=120)
    return written + [out / curves]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", default=None,
                        help="a benchmark JSON: draw only its charts (into its folder)")
    parser.add_argument("--out", default=None,
                        help="output folder (default visualizations/figures/, or the "
                             "folder of --bench)")
    parser.add_argument("--hops", default=None,
                        help="the results.json of `python -m minplt hops`: draw its two figures")
    args = parser.parse_args(argv)
    matplotlib.use("Agg")
    if args.hops is not None:
        if not Path(args.hops).exists():
            parser.error(f"no results at {args.hops}: run `python -m minplt hops` first")
        paths = render_hops(args.hops, args.out or FIGURES)
    elif args.bench is not None:
        bench = Path(args.bench)
        if not bench.exists():
            parser.error(f"no benchmark JSON at {bench}: run `python -m minplt bench` first")
        paths = render_bench(bench, args.out or bench.parent)
    else:
        paths = render_all(args.out or FIGURES)
    for path in paths:
        print(path)


if __name__ == "__main__":
    main()
