"""`python -m minplt bench --quick`: it runs, and its JSON has the documented schema.
Benchmarks are not tests: nothing here looks at how long anything took."""
import json
import math

import pytest

from minplt import bench

MACHINE_KEYS = {"cpu": str, "threads": int, "numpy": str, "numba": str, "blas": str,
                "python": str}
DECODE_KEYS = {"variant": str, "backend": str, "schedule": str, "ms_per_token": float,
               "kv_bytes": int, "kv_bytes_formula": int, "weight_gb_per_s": float}


@pytest.fixture(scope="module")
def quick_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    assert bench.main(["--quick", "--out", str(out)]) == 0
    return json.loads(out.read_text())


def check_decode_rows(rows, variants):
    assert rows, "no decode rows"
    for row in rows:
        for key, kind in DECODE_KEYS.items():
            assert isinstance(row[key], kind), (key, row)
        assert row["backend"] in ("numpy", "numba")
        assert row["schedule"] in ("parallel", "sequential")
        assert row["ms_per_token"] > 0 and math.isfinite(row["ms_per_token"])
        assert row["weight_gb_per_s"] > 0
        assert row["kv_bytes"] > 0
        assert row["kv_bytes"] == row["kv_bytes_formula"], row
    seen = {(r["variant"], r["backend"], r["schedule"]) for r in rows}
    for variant in variants:
        schedule = "parallel" if variant.startswith("plt") else "sequential"
        for backend in ("numpy", "numba"):
            assert (variant, backend, schedule) in seen
    assert ("plt-2", "numba", "sequential") in seen       # plt-2, sequential schedule too


def test_quick_bench_json_has_every_key(quick_result):
    result = quick_result
    for key in ("machine", "config", "decode", "small", "train", "bandwidth", "ratios"):
        assert key in result, key
    for key, kind in MACHINE_KEYS.items():
        assert isinstance(result["machine"][key], kind), key
    assert result["machine"]["threads"] >= 1
    variants = ["vanilla", "loop-2", "loop-3", "plt-2", "plt-3"]
    check_decode_rows(result["decode"], variants)
    check_decode_rows(result["small"]["decode"], variants)
    for key in ("numba_1row_gb_per_s", "numpy_1row_gb_per_s"):
        assert result["bandwidth"][key] > 0
    assert [r["variant"] for r in result["train"]] == ["vanilla", "loop-2", "plt-2"]
    for r in result["train"]:             # the reference and the kernels, 1 thread at least
        assert {"numpy 1t", "numba 1t"} <= set(r["tokens_per_s"])
        assert all(v > 0 for v in r["tokens_per_s"].values())
    assert result["ratios"] and all(v > 0 and math.isfinite(v) for v in result["ratios"].values())
    for name in ("numba: plt-2/vanilla", "numba: loop-2/vanilla", "numba: plt-2/loop-2",
                 "numba: plt-2 sequential/parallel", "numba/numpy: plt-2 parallel",
                 "small numba: plt-2/vanilla"):
        assert name in result["ratios"], name
    demo = {(r["variant"], r["backend"]) for r in result["demo_size"]}
    assert demo == {(v, b) for v in bench.DEMO_VARIANTS for b in ("numpy", "numba")}
    assert all(r["us_per_step"] > 0 and r["n_embd"] == 64 for r in result["demo_size"])
    assert {r["impl"] for r in result["kernels"]} == {"numpy", "rows", "packed"}


def test_quick_bench_reports_the_targets_met_or_missed(quick_result):
    """Every target has its value, its goal and whether it was met; the batch-1 ones and
    the demo-size ones are there."""
    items = quick_result["targets"]
    for t in items:
        assert set(t) == {"name", "value", "goal", "met"} and isinstance(t["met"], bool)
        op, goal = t["goal"].split()
        assert t["met"] == (t["value"] <= float(goal) if op == "<=" else t["value"] >= float(goal))
    names = {t["name"] for t in items}
    assert {"plt-2/vanilla", "plt-3/vanilla", "plt-2/loop-2", "demo size: plt-2/loop-2",
            "demo size: plt-2/vanilla"} <= names


def test_quick_bench_kv_bytes_follow_the_memory_table(quick_result):
    """PLT-2's cache is vanilla's plus one window; loop-2 doubles it (docs/method.md §8)."""
    kv = {r["variant"]: r["kv_bytes"] for r in quick_result["decode"]}
    config = quick_result["config"]
    cfg = bench.decode_config("plt-2", bench.QUICK, config["prompt"] + config["new_tokens"])
    per_position = 2 * cfg.n_layer * cfg.n_embd * 4
    window = min(config["prompt"], cfg.window)
    assert kv["loop-2"] == 2 * kv["vanilla"]
    assert kv["plt-2"] == kv["vanilla"] + window * per_position
    assert kv["plt-3"] == kv["vanilla"] + 2 * window * per_position


def test_bench_through_the_cli(tmp_path):
    from minplt import cli
    out = tmp_path / "b.json"
    assert cli.main(["bench", "--quick", "--variants", "vanilla,plt-2", "--backends", "numba",
                     "--no-small", "--no-train", "--no-kernels", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert {r["variant"] for r in result["decode"]} == {"vanilla", "plt-2"}
    assert result["small"]["decode"] == [] and result["train"] == []


def test_bench_rejects_unknown_names_clearly(tmp_path, capsys):
    assert bench.main(["--quick", "--variants", "plt-two", "--out", str(tmp_path / "x.json")]) == 2
    assert "plt-two" in capsys.readouterr().err
    assert bench.main(["--quick", "--backends", "cuda", "--out", str(tmp_path / "x.json")]) == 2
    assert "cuda" in capsys.readouterr().err


def test_bench_rejects_a_bad_size_before_any_work(tmp_path, capsys, monkeypatch):
    """A width the heads do not divide fails at once, before compiling or timing."""
    monkeypatch.setattr(bench, "machine_info", lambda *a: pytest.fail("compiled first"))
    assert bench.main(["--n-embd", "30", "--n-head", "4", "--out", str(tmp_path / "x.json")]) == 2
    assert "must be divisible by config.n_head (4)" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_bench_rejects_an_unwritable_output_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(bench, "machine_info", lambda *a: pytest.fail("measured first"))
    assert bench.main(["--quick", "--out", str(tmp_path)]) == 2            # a folder
    assert "is a folder" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert bench.main(["--quick", "--out", str(blocker / "b.json")]) == 2  # under a file
    assert "is an existing file, not a folder" in capsys.readouterr().err


def test_quick_batch_sweep_has_the_roofline(tmp_path):
    out = tmp_path / "b.json"
    assert bench.main(["--quick", "--batch", "1,3", "--variants", "vanilla,loop-2,plt-2",
                       "--backends", "numba", "--no-small", "--no-train", "--no-kernels",
                       "--no-demo-size", "--out", str(out)]) == 0
    sweep = json.loads(out.read_text())["batch"]
    assert sweep["gb_per_s"] > 0 and sweep["gflop_per_s"] > 0
    seen = {(r["variant"], r["batch"]) for r in sweep["rows"]}
    assert seen == {(v, b) for v in ("vanilla", "loop-2", "plt-2") for b in (1, 3)}
    for r in sweep["rows"]:
        assert r["roofline_ms"] == max(r["read_ms"], r["compute_ms"]) > 0
        assert r["tokens_per_s"] == pytest.approx(r["batch"] / (r["ms_per_step"] / 1e3))
    assert set(sweep["summary"]["plt-2/loop-2"]) == {"1", "3"} or \
        set(sweep["summary"]["plt-2/loop-2"]) == {1, 3}
    names = {t["name"] for t in json.loads(out.read_text())["targets"]}
    assert {"plt-2/vanilla at batch 1", "plt-2/vanilla at batch 3"} <= names
    assert any(n.startswith("loop-2 measured/roofline") for n in names)


def test_per_call_calls_until_the_time_is_up_and_at_least_once():
    from minplt import timing
    calls = []
    assert timing.per_call(lambda: calls.append(1), 0.0) > 0 and len(calls) == 1
    calls.clear()
    seconds = timing.per_call(lambda: calls.append(1), 0.02)
    assert len(calls) > 1 and seconds * len(calls) >= 0.02
