"""Figures of the language ablation (minplt/language.py), drawn from its results.json:

    report = json.load(open("out/ablate-text/results.json"))
    plot_curves(report)            # validation bits per byte against step, every row
    plot_clp_cost(report)          # what CLP costs, by kind of position and by position
    plot_test_time_loops(report)   # bits per byte against loops at inference

`python -m visualizations.language_charts results.json` writes the three as
visualizations/figures/language_*.png (the committed figures).
"""
from __future__ import annotations

import json
import math
import os
import sys

import numpy as np

from visualizations.style import family_color, new_figure

FIGURES = os.path.join(os.path.dirname(__file__), "figures")
LN2 = math.log(2)


def plot_curves(report):
    """Validation loss (bits per byte) against step for every row, mean over seeds, with
    the training loss of seed 0 faint behind it."""
    fig = new_figure((7, 4))
    ax = fig.add_subplot()
    for row, seeds in report["logs"].items():
        evals = [[(r["step"], r["val_loss"]) for r in log if r.get("val_loss") is not None]
                 for log in seeds]
        steps = [s for s, _ in evals[0]]
        n = min(len(e) for e in evals)
        mean = np.mean([[v for _, v in e[:n]] for e in evals], axis=0) / LN2
        dashed = "--" if row.endswith("2x") else "-"
        ax.plot(steps[:n], mean, dashed, marker="o", ms=3, color=family_color(row), label=row)
    ax.set_xlabel("training step")
    ax.set_ylabel("validation loss (bits per byte)")
    ax.set_title("Language ablation: validation loss while training (mean over seeds)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def plot_clp_cost(report):
    """Left: the per-token loss difference to loop-2 by kind of position (the byte just
    read), one bar per seed-mean with the seeds as dots. Right: the same by position in
    the context (log scale of positions)."""
    cost = report["clp_cost"]
    rows = list(cost["rows"])
    kinds = [k for k in cost["share"] if cost["share"][k] > 0]
    fig = new_figure((12, 4.2))
    by_kind, by_position = fig.subplots(1, 2)
    width = 0.8 / max(1, len(rows))
    for i, row in enumerate(rows):
        xs = np.arange(len(kinds)) + (i - (len(rows) - 1) / 2) * width
        values = [cost["rows"][row]["by_kind"][k]["mean"] for k in kinds]
        by_kind.bar(xs, values, width, color=family_color(row), label=f"{row} − {cost['base']}")
        for x, k in zip(xs, kinds):
            seeds = cost["rows"][row]["by_kind"][k]["per_seed"]
            by_kind.plot([x] * len(seeds), seeds, "k.", ms=4)
    by_kind.axhline(0, color="k", lw=0.8)
    labels = [k.replace("after ", "after\n").replace("inside ", "inside\n")
              + f"\n({100 * cost['share'][k]:.0f}% of bytes)" for k in kinds]
    by_kind.set_xticks(np.arange(len(kinds)), labels, fontsize=7)
    by_kind.set_ylabel(f"loss − {cost['base']}'s (bits per byte)")
    by_kind.set_title("By the byte just read (dots: seeds)")
    by_kind.legend(fontsize=8)
    for i, row in enumerate(rows):
        d = np.asarray(cost["rows"][row]["by_position"])
        positions = np.arange(1, len(d) + 1)
        by_position.plot(positions, d, color=family_color(row), lw=0.7, alpha=0.3)
        # the mean over bins that double in width: 1, 2, 3-4, 5-8, ...
        edges = [1, 2, 3] + [2 ** k + 1 for k in range(2, int(np.log2(len(d))) + 1)]
        edges = sorted(set(e for e in edges if e <= len(d))) + [len(d) + 1]
        centres = [np.sqrt(a * (b - 1)) for a, b in zip(edges, edges[1:])]
        means = [d[a - 1:b - 1].mean() for a, b in zip(edges, edges[1:])]
        by_position.plot(centres, means, marker="o", color=family_color(row),
                         ls="-" if i == 0 else "--",
                         label=f"{row} − {cost['base']} (mean over bins 1, 2, 3-4, 5-8, ...)")
    by_position.axhline(0, color="k", lw=0.8)
    by_position.set_xscale("log")
    by_position.set_xlabel("position in the context (1 = first byte)")
    by_position.set_ylabel("loss difference (bits per byte)")
    by_position.set_title("By position in the context")
    by_position.legend(fontsize=8)
    fig.suptitle("What CLP costs on language: per-token loss against loop-2's")
    return fig


def plot_test_time_loops(report):
    """Validation bits per byte against the loops run at inference, one line per trained
    model (mean over seeds, the seeds' spread as error bars); a ring marks the loops it
    was trained with."""
    fig = new_figure((7, 4.2))
    ax = fig.add_subplot()
    trained = {r["variant"]: r["n_loops"] for r in report["rows"]}
    for row, by_n in report["test_time_loops"].items():
        ns = sorted(int(n) for n in by_n)
        mean = [by_n[str(n)]["mean"] for n in ns]
        std = [by_n[str(n)]["std"] for n in ns]
        style = {"loop-2": "-", "loop+clp-2": ":", "loop+clp+kvshare-2": "-.", "plt-2": "-"}
        ax.errorbar(ns, mean, yerr=std, marker="s" if row == "plt-3" else "o", ms=4, capsize=3,
                    color=family_color(row), label=row, ls=style.get(row, "--"))
        L = trained[row]
        ax.plot([L], [by_n[str(L)]["mean"]], "o", ms=12, mfc="none", color=family_color(row))
    ax.set_xlabel("loops at inference")
    ax.set_ylabel("validation loss (bits per byte)")
    ax.set_xticks(sorted({int(n) for v in report["test_time_loops"].values() for n in v}))
    ax.set_title("Test-time loops on language (ring: the loops it was trained with)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def write_committed(report, folder=FIGURES) -> list[str]:
    """language_curves.png, language_clp_cost.png, language_test_time_loops.png."""
    paths = []
    for name, plot in (("curves", plot_curves), ("clp_cost", plot_clp_cost),
                       ("test_time_loops", plot_test_time_loops)):
        paths.append(os.path.join(folder, f"language_{name}.png"))
        plot(report).savefig(paths[-1], dpi=110, bbox_inches="tight")
    return paths


if __name__ == "__main__":
    with open(sys.argv[1] if len(sys.argv) > 1 else "out/ablate-text/results.json") as f:
        for path in write_committed(json.load(f)):
            print(path)
