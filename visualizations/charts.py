"""Charts of measured results: decode latency and KV memory from the benchmark JSON,
training curves, accuracy against latency, attention maps and G-SWA gates.

The benchmark JSON (written by the benchmark script) looks like

    {"machine": {"cpu", "threads", "numpy", "numba", "blas"}, "config": {...},
     "decode": [{"variant": "plt-2", "backend": "numba", "schedule": "parallel",
                 "ms_per_token": 1.2, "kv_bytes": 81920, "kv_bytes_formula": 81920}, ...],
     "train": [{"variant", "tokens_per_s"}], "ratios": {name: value}}

Missing keys are skipped, not errors.
"""

import csv
import json
import math
from pathlib import Path

import numpy as np

from .style import byte_unit, family_color, figure_and_axes, human_bytes, new_figure

COMBO_COLORS = ["#0072B2", "#56B4E9", "#D55E00", "#E69F00", "#009E73", "#CC79A7"]
BACKEND_COLORS = {"numpy": "#0072B2", "numba": "#D55E00"}
SCHEDULES = ["sequential", "parallel"]


def load_bench(bench):
    """The benchmark dict, from a dict or from the path of its JSON file."""
    if isinstance(bench, (str, Path)):
        return json.loads(Path(bench).read_text())
    return bench


def _machine_line(bench):
    machine = bench.get("machine", {})
    parts = [machine.get("cpu"), f"{machine['threads']} threads" if "threads" in machine else None,
             f"numpy {machine['numpy']}" if "numpy" in machine else None,
             f"numba {machine['numba']}" if machine.get("numba") else None]
    return ", ".join(p for p in parts if p)


def _variants_in_order(rows):
    """Variants in order of appearance, vanilla first."""
    names = list(dict.fromkeys(row["variant"] for row in rows))
    return sorted(names, key=lambda name: name != "vanilla")


def _combo(row):
    return (row.get("backend", "?"), row.get("schedule", "?"))


def _combo_order(combo):
    backend, schedule = combo
    backends = list(BACKEND_COLORS)
    return (backends.index(backend) if backend in backends else len(backends), backend,
            SCHEDULES.index(schedule) if schedule in SCHEDULES else len(SCHEDULES))


def _combo_style(combo):
    """Colour by backend; the sequential schedule is the pale hatched bar."""
    backend, schedule = combo
    color = BACKEND_COLORS.get(backend, "#009E73")
    if schedule == "parallel":
        return {"color": color}
    return {"facecolor": "white", "edgecolor": color, "hatch": "///", "linewidth": 1.2}


def _vanilla_ms(rows, backend):
    times = [row["ms_per_token"] for row in rows
             if row.get("variant") == "vanilla" and row.get("backend") == backend]
    return min(times) if times else None


# ---------------------------------------------------------------- benchmark charts

def plot_latency(bench, ax=None):
    """Decode latency (ms per token), grouped by variant, one bar per backend/schedule.

    Above each bar: its ratio to vanilla on the same backend. The PLT claim is that the
    parallel schedule of plt-L costs close to x1, where the sequential loop-L costs ~xL.
    """
    bench = load_bench(bench)
    rows = [row for row in bench.get("decode", []) if "ms_per_token" in row and "variant" in row]
    fig, ax = figure_and_axes(ax, (max(6.0, 1.3 * len({r["variant"] for r in rows}) + 3), 4))
    if not rows:
        return _empty(ax, "no decode rows in the benchmark")
    combos = sorted(dict.fromkeys(_combo(row) for row in rows), key=_combo_order)
    variants = _variants_in_order(rows)
    width = 0.8 / len(combos)
    for x, variant in enumerate(variants):
        present = sorted((r for r in rows if r["variant"] == variant),
                         key=lambda r: _combo_order(_combo(r)))
        for i, row in enumerate(present):  # bars of one variant side by side, centred
            combo = _combo(row)
            offset = (i - (len(present) - 1) / 2) * width
            spread = None
            if "ms_per_token_min" in row and "ms_per_token_max" in row:   # whiskers: min-max
                spread = [[row["ms_per_token"] - row["ms_per_token_min"]],
                          [row["ms_per_token_max"] - row["ms_per_token"]]]
            bar = ax.bar(x + offset, row["ms_per_token"], width * 0.92, yerr=spread,
                         capsize=2, error_kw={"elinewidth": 0.8}, **_combo_style(combo))[0]
            reference = _vanilla_ms(rows, combo[0])
            text = f"{row['ms_per_token']:.3g}"
            if reference and variant != "vanilla":
                text += f"\nx{row['ms_per_token'] / reference:.2f}"
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        xytext=(0, 2), textcoords="offset points", ha="center", va="bottom",
                        fontsize=7.5)
    for combo in combos:  # one legend entry per backend/schedule
        ax.bar([0], [0], 0, label=f"{combo[0]}, {combo[1]}", **_combo_style(combo))
    ax.set_xticks(range(len(variants)), variants)
    ax.set_ylabel("decode latency (ms per token)")
    ax.set_ylim(0, max(r.get("ms_per_token_max", r["ms_per_token"]) for r in rows) * 1.25)
    runs = bench.get("config", {}).get("repeats")
    ax.set_title("Decode latency (ratio to vanilla on the same backend)\n"
                 + _machine_line(bench), fontsize=10)
    ax.text(0.0, -0.16, f"Bars: median step over {runs or 'the'} runs; whiskers: fastest and slowest "
            "step. A ratio whose bars' whiskers overlap is within the run-to-run noise.",
            transform=ax.transAxes, fontsize=7.5, color="#555555", va="top")
    ax.legend(fontsize=8, title="backend, schedule", title_fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return fig


def plot_memory(bench, ax=None):
    """KV-cache bytes per variant as measured (bars) and from the model's memory table, docs/method.md §8 (black
    ticks); the label gives the ratio to vanilla."""
    bench = load_bench(bench)
    rows = [row for row in bench.get("decode", []) if "variant" in row
            and ("kv_bytes" in row or "kv_bytes_formula" in row)]
    fig, ax = figure_and_axes(ax, (max(5.0, 1.0 * len({r["variant"] for r in rows}) + 2.5), 4))
    if not rows:
        return _empty(ax, "no KV-cache sizes in the benchmark")
    variants = _variants_in_order(rows)
    first = {variant: next(r for r in rows if r["variant"] == variant) for variant in variants}
    measured = [first[v].get("kv_bytes", first[v].get("kv_bytes_formula")) for v in variants]
    formula = [first[v].get("kv_bytes_formula") for v in variants]
    vanilla = first["vanilla"].get("kv_bytes") if "vanilla" in first else None
    scale, unit = byte_unit(max(measured))
    bars = ax.bar(range(len(variants)), np.array(measured) / scale, 0.6,
                  color=[family_color(v) for v in variants])
    for x, value in enumerate(formula):
        if value is not None:
            ax.plot([x - 0.33, x + 0.33], [value / scale] * 2, color="black", linewidth=2)
    for bar, value in zip(bars, measured):
        text = human_bytes(value) + (f"\nx{value / vanilla:.2f}" if vanilla else "")
        ax.annotate(text, (bar.get_x() + bar.get_width() / 2, value / scale), xytext=(0, 3),
                    textcoords="offset points", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(variants)), variants)
    ax.set_ylim(0, max(measured) / scale * 1.3)
    ax.set_ylabel(f"KV cache per sequence ({unit})")
    ax.set_title("KV cache per sequence (bars: measured, line: formula)", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return fig


def _empty(ax, message):
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()
    return ax.figure


# ---------------------------------------------------------------- training curves

def read_log(log):
    """Rows of a training log: a list of dicts as is, or a CSV path with columns
    step,loss,val_loss,val_acc,lr,tokens_per_s,elapsed. Empty cells become NaN."""
    if not isinstance(log, (str, Path)):
        return list(log)
    with open(log, newline="") as f:
        return [{key: _number(value) for key, value in row.items()} for row in csv.DictReader(f)]


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


METRIC_LABELS = {"loss": "training loss", "val_loss": "validation loss",
                 "val_acc": "validation accuracy", "tokens_per_s": "tokens per second",
                 "lr": "learning rate"}


def plot_training_curves(logs, ax=None, metric="val_loss", x="step"):
    """One line per run: `metric` against `x` ('step' or 'elapsed' seconds). `logs`
    maps a run name to its rows (or to the path of its CSV log); rows without the
    metric are skipped."""
    fig, ax = figure_and_axes(ax, (6.5, 4))
    for name, log in logs.items():
        points = [(row.get(x), row.get(metric)) for row in read_log(log)]
        points = [(float(a), float(b)) for a, b in points if _present(a) and _present(b)]
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="o" if len(points) < 30 else None, markersize=3,
                    linewidth=1.8, color=family_color(name), label=name)
    lines = ax.get_lines()
    if len({line.get_color() for line in lines}) < len(lines):  # same family twice
        for i, line in enumerate(lines):          # a 7th run gets a new dash, not a clash
            line.set_color(COMBO_COLORS[i % len(COMBO_COLORS)])
            line.set_linestyle(["-", "--", ":"][(i // len(COMBO_COLORS)) % 3])
    ax.set_xlabel("step" if x == "step" else f"{x} (s)" if x == "elapsed" else x)
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    ax.set_title(f"{METRIC_LABELS.get(metric, metric)} per run", fontsize=10)
    ax.grid(alpha=0.3)
    if lines:
        ax.legend(fontsize=8)
    return fig


def _present(value):
    if value is None or value == "":
        return False
    try:
        return not math.isnan(float(value))
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------- batch sweep

def plot_batch_sweep(bench, gb_per_s=None, gflop_per_s=None):
    """Two panels against batch size (log scale): milliseconds per decode step and
    tokens per second, one line per variant, with each variant's roofline (the larger of
    read time and compute time) dotted. Where a variant's line leaves its roofline's flat
    part, its rows stopped being free.

    The roofline comes from the read bandwidth and FLOP rate the sweep measured in its
    own run, or from `gb_per_s` and `gflop_per_s` when given (a lesson passes the rates
    it measured and printed itself): each row's read and compute times are then rescaled
    to them, and the title gives the rates the lines were drawn with."""
    bench = load_bench(bench)
    sweep = bench.get("batch") or {}
    rows = sweep.get("rows", [])
    measured = (sweep.get("gb_per_s"), sweep.get("gflop_per_s"))
    rates = (gb_per_s or measured[0], gflop_per_s or measured[1])
    if (gb_per_s or gflop_per_s) and rows:
        if not (all(measured) and all("read_ms" in r and "compute_ms" in r for r in rows)):
            raise ValueError("plot_batch_sweep: to draw the roofline at other rates, the sweep "
                             "needs its own gb_per_s, gflop_per_s and each row's read_ms and "
                             "compute_ms (as bench.batch_section returns them)")
        rows = [dict(r, roofline_ms=max(r["read_ms"] * measured[0] / rates[0],
                                        r["compute_ms"] * measured[1] / rates[1])) for r in rows]
    fig = new_figure((11, 4.2))
    ax_ms, ax_tps = fig.subplots(1, 2)
    if not rows:
        _empty(ax_ms, "no batch sweep in the benchmark (run bench --batch 1,2,4,...)")
        _empty(ax_tps, "")
        return fig
    for variant in _variants_in_order(rows):
        mine = sorted((r for r in rows if r["variant"] == variant), key=lambda r: r["batch"])
        batches = [r["batch"] for r in mine]
        color = family_color(variant)
        style = "-" if not variant.startswith("loop") else "-."
        marker = {1: "o", 2: "o", 3: "^"}.get(_loops_of(variant), "s")    # loops apart
        ax_ms.plot(batches, [r["ms_per_step"] for r in mine], style, marker=marker,
                   color=color, label=variant)
        ax_ms.plot(batches, [r["roofline_ms"] for r in mine], ":", color=color, linewidth=1)
        ax_tps.plot(batches, [r["tokens_per_s"] for r in mine], style, marker=marker,
                    color=color, label=variant)
        ax_tps.plot(batches, [r["batch"] / r["roofline_ms"] * 1e3 for r in mine], ":",
                    color=color, linewidth=1)
    for ax, label in ((ax_ms, "ms per decode step"), (ax_tps, "tokens per second")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size (sequences decoded together)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
        ax.xaxis.set_major_formatter(_integer_format())
        ax.yaxis.set_major_formatter(_integer_format())
        ax.yaxis.set_minor_formatter(_integer_format(every=(2, 5)))
    ax_ms.legend(fontsize=8, title="measured (dotted: roofline)", title_fontsize=8)
    source = "the rates passed in" if gb_per_s or gflop_per_s else "measured in the same run"
    fig.suptitle("Decode cost against batch size, numba backend\n" + _machine_line(bench)
                 + f"; roofline at {rates[0] or 0:.1f} GB/s read, {rates[1] or 0:.0f} GFLOP/s, "
                 + source, fontsize=9.5)
    return fig


def _loops_of(variant):
    from minplt import model
    try:
        return model.parse_variant(variant)[1]
    except ValueError:
        return 1


def _integer_format(every=None):
    """Plain numbers on a log axis ('0.2', '3000'); with `every`, only the ticks whose
    leading digit is in it (minor ticks 2 and 5), so labels do not crowd."""
    from matplotlib.ticker import FuncFormatter

    def label(value, _):
        if every is not None and value > 0 and int(f"{value:.0e}"[0]) not in every:
            return ""
        return f"{value:g}"
    return FuncFormatter(label)


# ---------------------------------------------------------------- accuracy vs latency

def plot_accuracy_vs_latency(rows, ax=None):
    """Each variant as a point: decode latency (x) against accuracy (y, in %, as in the
    tables; rows give it as a fraction 0..1), with an error bar of one standard deviation
    when `accuracy_std` is given. Better models sit up and to the left."""
    fig, ax = figure_and_axes(ax, (6, 4.2))
    for row in rows:
        color = family_color(row["variant"])
        std = row.get("accuracy_std")
        ax.errorbar(row["ms_per_token"], 100 * row["accuracy"],
                    yerr=None if std is None else 100 * std,
                    fmt="o", markersize=7, capsize=4, color=color)
        ax.annotate(row["variant"], (row["ms_per_token"], 100 * row["accuracy"]), xytext=(7, 5),
                    textcoords="offset points", fontsize=9, color=color)
    ax.margins(x=0.2)
    ax.set_xlim(left=0)
    ax.set_ylim(0, 105)
    ax.set_xlabel("decode latency (ms per token)")
    ax.set_ylabel("exact answers (%)")
    ax.set_title("Accuracy against decode latency", fontsize=10)
    ax.grid(alpha=0.3)
    return fig


# ---------------------------------------------------------------- what the loops buy

def _depth_label(row):
    """'loop-3\n1 block x 3 loops' from a row of minplt.hops.summarize."""
    return (f"{row['row']}\n{row['n_layer']} block{'s' * (row['n_layer'] > 1)} x "
            f"{row['n_loops']} loop{'s' * (row['n_loops'] > 1)}")


def _depth_color(row):
    """Looped rows in the loop family's oranges, darker with more loops; plain stacks in
    greys, darker with more blocks."""
    if row["n_loops"] > 1:
        return ["#E69F00", "#D55E00", "#8B2500"][min(row["n_loops"], 4) - 2]
    return ["#9a9a9a", "#5a5a5a", "#1a1a1a"][min(row["n_layer"], 3) - 1]


def plot_accuracy_vs_hops(rows, chance=None, experiment="depth"):
    """The depth (or staircase) experiment of minplt.hops: a heat map of % answers right
    (mean over seeds, ± std written in each cell when there are several) for each model
    (rows) and number of hops (columns), beside the same numbers as curves with one-std
    error bars. `rows`
    are minplt.hops.summarize entries; those of another experiment are skipped."""
    rows = [r for r in rows if r["experiment"] == experiment]
    fig = new_figure((12, 0.55 * len(rows) + 2.6))
    if not rows:
        _empty(fig.add_subplot(), f"no {experiment} results")
        return fig
    heat_ax, line_ax = fig.subplots(1, 2, width_ratios=[1.1, 1])
    hops = rows[0]["hops"]
    grid = 100 * np.array([r["answers"] for r in rows])
    spread = 100 * np.array([r["answers_std"] for r in rows])
    image = heat_ax.imshow(grid, vmin=0, vmax=100, cmap="viridis", aspect="auto")
    for i in range(len(rows)):
        for j in range(len(hops)):
            text = f"{grid[i, j]:.0f}" + (f"\n± {spread[i, j]:.0f}" if rows[i]["seeds"] > 1 else "")
            heat_ax.text(j, i, text, ha="center", va="center", fontsize=8,
                         color="black" if grid[i, j] > 60 else "white")
    heat_ax.set_xticks(range(len(hops)), [str(k) for k in hops])
    heat_ax.set_yticks(range(len(rows)), [_depth_label(r) for r in rows], fontsize=8)
    heat_ax.set_xlabel("hops per question")
    seeds = rows[0]["seeds"]
    heat_ax.set_title("% answers right " + (f"(mean ± std over {seeds} seeds)" if seeds > 1
                                            else "(one seed)"), fontsize=10)
    fig.colorbar(image, ax=heat_ax, shrink=0.8)
    for r in rows:
        line_ax.errorbar(r["hops"], 100 * np.array(r["answers"]),
                         yerr=100 * np.array(r["answers_std"]), fmt="o-" if not r["row"].endswith("x") else "s--",
                         capsize=3, color=_depth_color(r), label=r["row"])
    if chance is not None:
        line_ax.axhline(100 * chance, color="grey", linestyle=":", label="guessing")
    line_ax.set_xticks(hops)
    line_ax.set_ylim(0, 105)
    line_ax.set(xlabel="hops per question", ylabel="answers right (%)")
    line_ax.set_title("Accuracy against hops" + (": solid looped, dashed plain stacks"
                                                 if experiment == "depth" else ""), fontsize=10)
    line_ax.grid(alpha=0.3)
    line_ax.legend(fontsize=8)
    what = ("one shared block looped L times vs plain stacks" if experiment == "depth" else
            "one shared block looped L times, trained with a curriculum")
    fig.suptitle(f"What the loops buy: pointer chasing, {what} ({seeds} seed"
                 f"{'s' * (seeds > 1)})", fontsize=11)
    return fig


def plot_thinking(rows):
    """The thinking experiment of minplt.hops: % answers right against the number of
    filler positions before each answer, one panel per number of hops, one line per
    model (one-std error bars over seeds, when there are several)."""
    thinking = [r for r in rows if r["experiment"] == "thinking"]
    hops = thinking[0]["hops"] if thinking else []
    fig = new_figure((4 * max(1, len(hops)), 3.6))
    if not thinking or not hops:
        _empty(fig.add_subplot(), "no thinking results")
        return fig
    axes = np.atleast_1d(fig.subplots(1, len(hops), sharey=True))
    names = list(dict.fromkeys(r["row"] for r in thinking))
    for ax, k in zip(axes, hops):
        j = thinking[0]["hops"].index(k)
        for name in names:
            line = sorted((r for r in thinking if r["row"] == name), key=lambda r: r["fillers"])
            ax.errorbar([r["fillers"] for r in line], [100 * r["answers"][j] for r in line],
                        yerr=[100 * r["answers_std"][j] for r in line], fmt="o-", capsize=3,
                        color=family_color(name), label=name)
        if k > 1:
            ax.axvline(k - 1, color="grey", linewidth=0.8, alpha=0.5)
        ax.set_xticks(sorted({r["fillers"] for r in thinking}))
        ax.set_ylim(0, 105)
        ax.set(xlabel="filler positions before each answer", title=f"{k} hop{'s' * (k > 1)} "
               f"(grey line: hops - 1 fillers)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("answers right (%)")
    axes[-1].legend(fontsize=8)
    fig.suptitle("Thinking positions: under CLP an answer's loops run along the diagonal,\n"
                 "so deeper questions need positions before the answer", fontsize=10)
    return fig


def plot_hops_curves(runs):
    """Validation accuracy (lines with every answer right, on the training mixture)
    against step for every run of minplt.hops (`runs`: its records), one panel per
    experiment, one colour per model, one line per seed: where and how suddenly each
    seed learns the next hop."""
    experiments = list(dict.fromkeys(r["experiment"] for r in runs))
    fig = new_figure((6.5 * max(1, len(experiments)), 3.8))
    if not runs:
        _empty(fig.add_subplot(), "no runs")
        return fig
    axes = np.atleast_1d(fig.subplots(1, len(experiments), sharey=True))
    for ax, experiment in zip(axes, experiments):
        chosen = [r for r in runs if r["experiment"] == experiment]
        labels = list(dict.fromkeys((r["row"], r["fillers"]) for r in chosen))
        palette = COMBO_COLORS + ["#7f7f7f", "#000000", "#8B2500"]
        for r in chosen:
            i = labels.index((r["row"], r["fillers"]))
            steps, accuracy = zip(*r["curve"]) if r["curve"] else ((), ())
            label = r["row"] + (f", {r['fillers']} filler(s)" if experiment == "thinking" else "")
            ax.plot(steps, 100 * np.array(accuracy), "-", color=palette[i % len(palette)],
                    alpha=0.8, label=label if r["seed"] == min(x["seed"] for x in chosen) else None)
        ax.set(xlabel="step", title=f"{experiment}: each line one seed")
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("lines with every answer right (%)")
    return fig


# ---------------------------------------------------------------- attention and gates

def plot_attention(maps, titles=None, cmap="viridis", labels=None):
    """Attention weights as heatmaps, one panel per map: query position down, key
    position across. A causal map is lower-triangular; a sliding window is a band.
    `labels` (one string per position, e.g. the characters) name the ticks."""
    maps = [np.asarray(m, dtype=float) for m in ([maps] if np.ndim(maps) == 2 else maps)]
    titles = titles or [f"map {i}" for i in range(len(maps))]
    n_cols = min(len(maps), 4)
    n_rows = math.ceil(len(maps) / n_cols)
    fig = new_figure((3.0 * n_cols + 0.8, 2.9 * n_rows))
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols, squeeze=False)).ravel()
    vmax = max(float(np.nanmax(m)) for m in maps)
    for ax, weights, title in zip(axes, maps, titles):
        image = ax.imshow(np.where(weights == 0, np.nan, weights), cmap=cmap, vmin=0,
                          vmax=vmax, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("key position")
        ax.set_ylabel("query position")
        n = weights.shape[-1]
        if labels is not None:                      # one tick per position, its token
            ax.set_xticks(range(n), [repr(c)[1:-1] or " " for c in labels[:n]], fontsize=7)
            ax.set_yticks(range(weights.shape[0]),
                          [repr(c)[1:-1] or " " for c in labels[:weights.shape[0]]], fontsize=7)
        else:                                       # whole positions only, never 2.5
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_facecolor("#f4f4f4")  # weight exactly 0 (masked) shows as light grey
    for ax in axes[len(maps):]:
        ax.set_axis_off()
    fig.colorbar(image, ax=axes[:len(maps)].tolist(), shrink=0.8, label="attention weight")
    return fig


def plot_gates(gates, ax=None, row_label="layer", col_label="head", title="G-SWA gate g"):
    """G-SWA gate values g as a heatmap: 1 means the global branch (loop 1's cache),
    0 the local sliding window. Rows are layers (or positions), columns heads."""
    gates = np.atleast_2d(np.asarray(gates, dtype=float))
    n_rows, n_cols = gates.shape
    fig, ax = figure_and_axes(ax, (min(max(1.2 + 0.6 * n_cols, 3.0), 9) + 1.2,
                                   min(1.0 + 0.35 * n_rows, 6)))
    image = ax.imshow(gates, cmap="RdBu_r", vmin=0, vmax=1, aspect="auto",
                      interpolation="nearest")
    if n_rows <= 16 and n_cols <= 16:
        for (i, j), value in np.ndenumerate(gates):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if abs(value - 0.5) > 0.3 else "black")
    if n_cols <= 24:
        ax.set_xticks(range(n_cols))
    if n_rows <= 24:
        ax.set_yticks(range(n_rows))
    ax.set_xlabel(col_label)
    ax.set_ylabel(row_label)
    ax.set_title(title, fontsize=10)
    ax.figure.colorbar(image, ax=ax, aspect=25, label="global (1) vs local (0)")
    return fig
