"""Render the README figures that need no trained model.

    python -m visualizations.render_all [--bench out/bench/bench.json] [--out DIR]

Writes schedule.png, decode.gif, kv_layout.png and memory_growth.png into
visualizations/figures/, and latency.png and memory.png when a benchmark JSON exists.
"""

import argparse
from pathlib import Path

import matplotlib

FIGURES = Path(__file__).resolve().parent / "figures"
REPO = Path(__file__).resolve().parent.parent
DEFAULT_BENCH = Path("out/bench/bench.json")

# The example sizes of the figures: 8 positions and 3 loops fit one screen; the KV
# numbers are a small model, c = 2 (K and V) * 4 layers * 128 channels * 4 bytes.
N_POSITIONS, N_LOOPS, PROMPT_LEN = 8, 3, 3
KV_POSITIONS, WINDOW = 12, 4
BYTES_PER_POSITION = 2 * 4 * 128 * 4


def find_bench(path):
    """The benchmark JSON: `path` if given, else out/bench/bench.json from here or the repo."""
    if path is not None:
        return Path(path)
    for candidate in (DEFAULT_BENCH, REPO / DEFAULT_BENCH):
        if candidate.exists():
            return candidate
    return None


def render_all(out=FIGURES, bench=None):
    """Render every figure into `out`; returns the paths written."""
    from . import charts, kv_layout, schedule

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
    if bench is not None and Path(bench).exists():
        save(charts.plot_latency(bench), "latency.png")
        save(charts.plot_memory(bench), "memory.png")
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", default=None, help="benchmark JSON (default out/bench/bench.json)")
    parser.add_argument("--out", default=str(FIGURES), help="output folder")
    args = parser.parse_args(argv)
    matplotlib.use("Agg")
    bench = find_bench(args.bench)
    if args.bench is not None and not bench.exists():
        parser.error(f"no benchmark JSON at {bench}")
    for path in render_all(args.out, bench):
        print(path)
    if bench is None:
        print(f"(no {DEFAULT_BENCH}: latency.png and memory.png not rendered)")


if __name__ == "__main__":
    main()
