"""The plotting code: exact schedules and byte counts, and every figure renders.

The schedule tests pin down what the figures claim: with CLP each token costs one pass
and its loops depend diagonally on the previous position; without CLP, L passes and
vertical dependencies. The model's own decode trace is tested against `expected_trace`
in the model tests.
"""

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from visualizations import charts, kv_layout, render_all, run_notebooks, schedule

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(fig, path, min_kb=5):
    """`fig` saves as a PNG file of at least `min_kb` KB (i.e. something was drawn)."""
    fig.savefig(path)
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > min_kb * 1024, f"{path.name} is only {len(data)} bytes"


# ---------------------------------------------------------------- traces

def test_expected_trace_parallel_and_sequential():
    assert schedule.expected_trace(2, 3, "parallel") == [
        [(0, 1), (0, 2), (0, 3)],
        [(1, 1), (1, 2), (1, 3)],
    ]
    assert schedule.expected_trace(2, 3, "sequential") == [
        [(0, 1)], [(0, 2)], [(0, 3)],
        [(1, 1)], [(1, 2)], [(1, 3)],
    ]


def test_expected_trace_with_prompt():
    prefill = [[(0, 1), (1, 1), (2, 1)], [(0, 2), (1, 2), (2, 2)]]
    assert schedule.expected_trace(5, 2, "parallel", prompt_len=3) == prefill + [
        [(3, 1), (3, 2)], [(4, 1), (4, 2)]]
    assert schedule.expected_trace(5, 2, "sequential", prompt_len=3) == prefill + [
        [(3, 1)], [(3, 2)], [(4, 1)], [(4, 2)]]
    # the brief's example: PLT-3 decoding positions 5 and 6 after a prompt of 5
    assert schedule.expected_trace(7, 3, "parallel", prompt_len=5)[-2:] == [
        [(5, 1), (5, 2), (5, 3)], [(6, 1), (6, 2), (6, 3)]]
    assert schedule.expected_trace(3, 2, "parallel", prompt_len=3) == [
        [(0, 1), (1, 1), (2, 1)], [(0, 2), (1, 2), (2, 2)]]


def test_expected_trace_rejects_bad_arguments():
    with pytest.raises(ValueError):
        schedule.expected_trace(4, 2, "diagonal")
    with pytest.raises(ValueError):
        schedule.expected_trace(4, 2, "parallel", prompt_len=5)


def test_passes_per_token():
    assert schedule.passes_per_token(schedule.expected_trace(6, 3, "sequential", 2)) == 3
    assert schedule.passes_per_token(schedule.expected_trace(6, 3, "parallel", 2)) == 1


def test_describe_pass():
    assert schedule.describe_pass([(6, 1), (6, 2), (6, 3)]) == "t=6, loops 1-3"
    assert schedule.describe_pass([(6, 2)]) == "t=6, loop 2"
    assert schedule.describe_pass([(0, 1), (1, 1), (2, 1)]) == "t=0..2, loop 1"


# ---------------------------------------------------------------- dependencies

def test_dependencies_clp_are_diagonal():
    edges = schedule.dependencies(4, 3, clp=True)
    assert all(t1 == t0 + 1 and l1 == l0 + 1 for (t0, l0), (t1, l1) in edges)
    assert len(edges) == 3 * 2  # positions 1..3, loops 2..3
    assert ((0, 1), (1, 2)) in edges and ((2, 2), (3, 3)) in edges
    assert not any(t1 == 0 for _, (t1, _) in edges)  # position 0 gets h := 0


def test_dependencies_without_clp_are_vertical():
    edges = schedule.dependencies(4, 3, clp=False)
    assert all(t1 == t0 and l1 == l0 + 1 for (t0, l0), (t1, l1) in edges)
    assert sorted(edges) == sorted(((t, l - 1), (t, l)) for t in range(4) for l in (2, 3))


def test_vanilla_has_no_dependencies():
    assert schedule.dependencies(5, 1, clp=True) == []
    assert schedule.dependencies(5, 1, clp=False) == []


# ---------------------------------------------------------------- draw_schedule

@pytest.mark.parametrize("name, clp", [("parallel", True), ("sequential", False)])
def test_draw_schedule_returns_the_cells_of_the_trace(name, clp):
    trace = schedule.expected_trace(5, 3, name, prompt_len=2)
    ax = Figure().add_subplot()
    drawn = schedule.draw_schedule(ax, 5, 3, clp, trace, prompt_len=2)
    assert drawn == {cell: i for i, cells in enumerate(trace) for cell in cells}
    gids = {patch.get_gid() for patch in ax.patches}
    assert {f"cell-{t}-{l}" for t in range(5) for l in (1, 2, 3)} <= gids


def test_draw_schedule_upto_pass_and_highlight():
    trace = schedule.expected_trace(4, 2, "sequential")
    ax = Figure().add_subplot()
    drawn = schedule.draw_schedule(ax, 4, 2, False, trace, upto_pass=2, highlight_pass=2)
    assert drawn == {(0, 1): 0, (0, 2): 1, (1, 1): 2}
    cell = {patch.get_gid(): patch for patch in ax.patches}
    assert cell["cell-1-1"].get_linewidth() > cell["cell-0-1"].get_linewidth()  # highlighted
    assert cell["cell-3-2"].get_facecolor()[:3] == (1.0, 1.0, 1.0)  # not computed yet


def test_draw_schedule_with_an_arbitrary_trace():
    # what a model's trace might look like; the drawing reports it as given
    trace = [[(0, 1)], [(1, 1), (0, 2)], [(1, 2)]]
    drawn = schedule.draw_schedule(Figure().add_subplot(), 2, 2, True, trace)
    assert drawn == {(0, 1): 0, (1, 1): 1, (0, 2): 1, (1, 2): 2}


def test_draw_schedule_rejects_cells_outside_the_grid_or_repeated():
    with pytest.raises(ValueError, match="outside"):
        schedule.draw_schedule(Figure().add_subplot(), 2, 2, True, [[(2, 1)]])
    with pytest.raises(ValueError, match="twice"):
        schedule.draw_schedule(Figure().add_subplot(), 2, 2, True, [[(0, 1)], [(0, 1)]])


def test_plot_schedule_draws_the_given_traces(tmp_path):
    seq = schedule.expected_trace(6, 2, "sequential")
    par = schedule.expected_trace(6, 2, "parallel")
    fig = schedule.plot_schedule(6, 2, trace_sequential=seq, trace_parallel=par)
    left, right = fig.axes
    assert "2 passes per token" in left.get_title()
    assert "1 pass per token" in right.get_title()
    assert_png(fig, tmp_path / "schedule.png")


def test_animate_decode_writes_one_frame_per_pass(tmp_path):
    trace = schedule.expected_trace(4, 2, "parallel", prompt_len=2)
    path = schedule.animate_decode(trace, 4, 2, True, tmp_path / "decode.gif", prompt_len=2)
    assert path.read_bytes()[:6] == b"GIF89a"
    with Image.open(path) as gif:
        assert gif.n_frames == len(trace) == 4


def test_animate_sequential_decode(tmp_path):
    trace = schedule.expected_trace(3, 2, "sequential")
    path = schedule.animate_decode(trace, 3, 2, False, tmp_path / "seq.gif", fps=4)
    with Image.open(path) as gif:
        assert gif.n_frames == 6


# ---------------------------------------------------------------- KV cache

def test_kv_bytes_formula_matches_the_spec_table():
    # N = 10 positions, L = 3 loops, W = 4, c = 100 bytes per position
    expected = {
        "vanilla": 10 * 100,                         # N c
        "loop": 3 * 10 * 100,                        # L N c
        "loop+clp": 3 * 10 * 100,
        "loop+clp+kvshare": 10 * 100,                # N c
        "loop+kvshare": 10 * 100,
        "plt": 10 * 100 + 2 * 4 * 100,               # N c + (L-1) min(N,W) c = 1800
        "loop+kvshare+gswa": 1800,
    }
    for family, value in expected.items():
        assert kv_layout.kv_bytes_formula(family, 10, 3, 4, 100) == value, family
    # shorter than the window: the ring buffers hold only N entries
    assert kv_layout.kv_bytes_formula("plt", 3, 3, 4, 100) == 3 * 100 + 2 * 3 * 100


def test_kv_layout_boxes_add_up_to_the_models_table():
    """The diagram's kept boxes (one per position and loop that keeps keys and values)
    times c must equal the model's byte count for every family it draws."""
    for family in ("vanilla", "loop", "loop+clp+kvshare", "plt"):
        for n in (3, 10):
            rows = kv_layout._family_rows(family, n, 3, 4)
            kept = sum(len(positions) for positions, _ in rows)
            assert kept * 100 == kv_layout.kv_bytes_formula(family, n, 3, 4, 100), (family, n)


def test_kv_bytes_formula_errors():
    with pytest.raises(ValueError, match="unknown family"):
        kv_layout.kv_bytes_formula("plt-2", 10, 2, 4, 100)
    with pytest.raises(ValueError, match="window"):
        kv_layout.kv_bytes_formula("plt", 10, 2, None, 100)


def test_kv_layout_figures_render(tmp_path):
    assert_png(kv_layout.plot_kv_layout(10, 3, 4, 4096), tmp_path / "kv.png")
    assert_png(kv_layout.plot_memory_growth(2, 64, 4096, max_positions=512),
               tmp_path / "growth.png")


# ---------------------------------------------------------------- charts

BENCH = {
    "machine": {"cpu": "test cpu", "threads": 2, "numpy": "2", "numba": "0.6", "blas": "x"},
    "config": {},
    "decode": [
        {"variant": "vanilla", "backend": "numpy", "schedule": "sequential",
         "ms_per_token": 1.0, "kv_bytes": 4096, "kv_bytes_formula": 4096},
        {"variant": "loop-2", "backend": "numpy", "schedule": "sequential",
         "ms_per_token": 2.0, "kv_bytes": 8192, "kv_bytes_formula": 8192},
        {"variant": "plt-2", "backend": "numpy", "schedule": "parallel",
         "ms_per_token": 1.1, "kv_bytes": 5120, "kv_bytes_formula": 5120},
        {"variant": "plt-2", "backend": "numba", "schedule": "parallel",
         "ms_per_token": 0.6},
    ],
    "train": [{"variant": "plt-2", "tokens_per_s": 1000.0}],
    "ratios": {"plt2_vs_vanilla": 1.1},
}


def test_benchmark_charts_render_from_dict_and_path(tmp_path):
    assert_png(charts.plot_latency(BENCH), tmp_path / "latency.png")
    bench_path = tmp_path / "bench.json"
    bench_path.write_text(json.dumps(BENCH))
    assert_png(charts.plot_memory(str(bench_path)), tmp_path / "memory.png")


def test_latency_annotates_the_ratio_to_vanilla():
    ax = Figure().add_subplot()
    charts.plot_latency(BENCH, ax=ax)
    texts = " ".join(text.get_text() for text in ax.texts)
    assert "x2.00" in texts and "x1.10" in texts


def test_benchmark_charts_survive_missing_keys(tmp_path):
    assert_png(charts.plot_latency({}), tmp_path / "empty.png", min_kb=1)
    sparse = {"decode": [{"variant": "vanilla", "ms_per_token": 1.0},
                         {"variant": "plt-2", "ms_per_token": 1.2, "kv_bytes_formula": 10}]}
    assert_png(charts.plot_latency(sparse), tmp_path / "sparse_latency.png")
    assert_png(charts.plot_memory(sparse), tmp_path / "sparse_memory.png", min_kb=3)


def test_training_curves_from_rows_and_csv(tmp_path):
    csv_path = tmp_path / "plt.csv"
    csv_path.write_text("step,loss,val_loss,val_acc,lr,tokens_per_s,elapsed\n"
                        "0,4.0,4.1,,0.001,,0.5\n"
                        "10,3.0,,,0.001,900,1.0\n"
                        "20,2.5,2.6,0.4,0.001,950,1.5\n")
    rows = [{"step": s, "val_loss": 4.0 - 0.05 * s} for s in range(0, 30, 10)]
    ax = Figure().add_subplot()
    fig = charts.plot_training_curves({"vanilla": rows, "plt-2": csv_path}, ax=ax)
    plt_line = [line for line in ax.get_lines() if line.get_label() == "plt-2"][0]
    assert list(plt_line.get_xdata()) == [0.0, 20.0]  # the row without val_loss is skipped
    assert_png(fig, tmp_path / "curves.png")
    assert_png(charts.plot_training_curves({"plt-2": str(csv_path)}, metric="loss",
                                           x="elapsed"), tmp_path / "loss.png")


def test_accuracy_vs_latency_renders(tmp_path):
    rows = [{"variant": "vanilla", "accuracy": 0.6, "ms_per_token": 1.0, "accuracy_std": 0.01},
            {"variant": "loop-2", "accuracy": 0.65, "ms_per_token": 2.0},
            {"variant": "plt-2", "accuracy": 0.64, "ms_per_token": 1.1, "accuracy_std": 0.02}]
    assert_png(charts.plot_accuracy_vs_latency(rows), tmp_path / "acc.png")


def test_attention_and_gates_render(tmp_path):
    rng = np.random.default_rng(0)
    causal = np.tril(rng.uniform(size=(8, 8)))
    causal /= causal.sum(axis=1, keepdims=True)
    window = np.triu(causal, -3)  # a sliding window of 4 keys: a band
    fig = charts.plot_attention([causal, window], titles=["loop 1 (causal)", "loop 2 local"])
    assert_png(fig, tmp_path / "attention.png")
    assert_png(charts.plot_attention(causal), tmp_path / "one_map.png")
    ax = Figure().add_subplot()
    fig = charts.plot_gates(rng.uniform(size=(3, 4)), ax=ax)
    assert fig.axes[-1].get_ylabel() == "global (1) vs local (0)"  # the colorbar
    assert_png(fig, tmp_path / "gates.png")
    assert_png(charts.plot_gates(rng.uniform(size=(40, 4)), row_label="position"),
               tmp_path / "gates_positions.png")


# ---------------------------------------------------------------- scripts

def test_render_all_writes_every_figure(tmp_path):
    bench_path = tmp_path / "bench.json"
    bench_path.write_text(json.dumps(BENCH))
    written = render_all.render_all(tmp_path / "figures", bench=bench_path)
    names = {path.name for path in written}
    assert names == {"schedule.png", "decode.gif", "kv_layout.png", "memory_growth.png",
                     "latency.png", "memory.png"}
    assert all(path.stat().st_size > 5 * 1024 for path in written)


def test_run_notebooks_reports_a_failure(tmp_path, capsys):
    # a missing file fails before any kernel starts; notebooks run in their own suite
    assert run_notebooks.main([str(tmp_path / "missing.ipynb")]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_accuracy_is_plotted_in_percent_from_zero():
    rows = [{"variant": "vanilla", "accuracy": 0.6, "ms_per_token": 1.0, "accuracy_std": 0.01},
            {"variant": "plt-2", "accuracy": 0.95, "ms_per_token": 1.1}]
    ax = charts.plot_accuracy_vs_latency(rows).axes[0]
    assert ax.get_ylim() == (0, 105) and ax.get_xlim()[0] == 0
    ys = sorted(float(line.get_ydata()[0]) for line in ax.lines if len(line.get_ydata()))
    assert 60.0 in ys and 95.0 in ys                         # %, as in the tables


def test_attention_ticks_name_the_tokens():
    fig = charts.plot_attention([np.tril(np.ones((3, 3))) / 3], labels="ab\n")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "\\n"]


def test_latency_bars_show_the_spread():
    bench = {"decode": [
        {"variant": "vanilla", "backend": "numba", "schedule": "sequential",
         "ms_per_token": 1.0, "ms_per_token_min": 0.9, "ms_per_token_max": 1.6},
        {"variant": "plt-2", "backend": "numba", "schedule": "parallel",
         "ms_per_token": 1.1, "ms_per_token_min": 1.0, "ms_per_token_max": 1.3}],
        "config": {"repeats": 3}}
    ax = charts.plot_latency(bench).axes[0]
    caps = [line for line in ax.lines if len(line.get_ydata())]
    tops = sorted(round(float(y), 6) for line in caps for y in line.get_ydata())
    assert 1.6 in tops and 0.9 in tops                      # whiskers from min to max
    assert any("whiskers" in t.get_text() for t in ax.texts)


def test_make_figures_writes_only_the_committed_figures(tmp_path):
    """`make figures` must leave no untracked file: without a benchmark JSON it writes
    exactly the figures the repository holds."""
    written = {p.name for p in render_all.render_all(tmp_path)}
    committed = {p.name for p in render_all.FIGURES.iterdir() if not p.name.startswith(".")}
    assert written <= committed, written - committed


def test_batch_sweep_chart_draws_each_variant_and_its_roofline(tmp_path):
    rows = [{"variant": v, "batch": b, "ms_per_step": m * b ** 0.5, "tokens_per_s": b / (m * b ** 0.5) * 1e3,
             "roofline_ms": m * 0.8} for v, m in (("vanilla", 2.0), ("plt-2", 2.1), ("loop-2", 4.0))
            for b in (1, 2, 4)]
    fig = charts.plot_batch_sweep({"batch": {"rows": rows, "gb_per_s": 20.0, "gflop_per_s": 90.0}})
    ax_ms, ax_tps = fig.axes[:2]
    assert len(ax_ms.lines) == 6 and len(ax_tps.lines) == 6     # measured + roofline each
    assert list(ax_ms.lines[0].get_xdata()) == [1, 2, 4]
    assert_png(fig, tmp_path / "sweep.png")
    assert_png(charts.plot_batch_sweep({}), tmp_path / "empty.png")   # no sweep: a message


def test_batch_sweep_draws_the_roofline_at_the_rates_passed_in():
    """A lesson measures its own rates: the title must give them and the dotted lines must
    be the roofline at those rates, not at the sweep's (issue 16: they differed)."""
    rows = [{"variant": "vanilla", "batch": b, "ms_per_step": 10.0 * b, "tokens_per_s": 100.0,
             "read_ms": 4.0 + b, "compute_ms": 1.0 * b, "roofline_ms": max(4.0 + b, 1.0 * b)}
            for b in (1, 8)]
    sweep = {"batch": {"rows": rows, "gb_per_s": 20.0, "gflop_per_s": 90.0}}
    fig = charts.plot_batch_sweep(sweep, gb_per_s=40.0, gflop_per_s=30.0)
    roof = fig.axes[0].lines[1]                  # dotted roofline of the only variant
    # read halves (twice the bandwidth), compute triples (a third of the FLOP rate)
    assert list(roof.get_ydata()) == [max(2.5, 3.0), max(6.0, 24.0)]
    title = fig._suptitle.get_text()
    assert "40.0 GB/s" in title and "30 GFLOP/s" in title and "passed in" in title
    own = charts.plot_batch_sweep(sweep)._suptitle.get_text()
    assert "20.0 GB/s" in own and "90 GFLOP/s" in own and "same run" in own
    with pytest.raises(ValueError, match="read_ms"):
        charts.plot_batch_sweep({"batch": {"rows": [{"variant": "vanilla", "batch": 1,
                                                     "ms_per_step": 1.0, "tokens_per_s": 1.0,
                                                     "roofline_ms": 1.0}],
                                           "gb_per_s": 20.0, "gflop_per_s": 90.0}}, gb_per_s=30.0)
