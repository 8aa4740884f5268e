"""End-to-end runs of `ablate --quick` and `demo --quick`, and their argument errors.
The quick settings train for a few steps: they check the plumbing, not the numbers."""
import json

import pytest

from minplt import checkpoint, cli, demo, experiments, model


def test_ablate_quick_writes_every_row(tmp_path, capsys):
    out = tmp_path / "ablate"
    assert cli.main(["ablate", "--quick", "--out", str(out)]) == 0
    for name in ("results.md", "results.json", "accuracy_vs_latency.png", "latency.png",
                 "curves.png"):
        assert (out / name).stat().st_size > 0, name
    table = (out / "results.md").read_text()
    for name in experiments.ROWS:
        assert f"| {name} |" in table, name
    report = json.loads((out / "results.json").read_text())
    rows = {r["variant"]: r for r in report["rows"]}
    assert list(rows) == list(experiments.ROWS)
    assert all(len(r["accuracy_per_seed"]) == len(experiments.QUICK.seeds)
               for r in rows.values())
    # same shared stack: the same parameters but for the G-SWA gate; 2x layers for the reference
    assert rows["loop-2"]["params"] == rows["vanilla"]["params"] == rows["loop+clp-2"]["params"]
    assert rows["plt-2"]["params"] > rows["vanilla"]["params"]
    assert rows["vanilla-2x"]["params"] > 1.5 * rows["vanilla"]["params"]
    # KV bytes follow the spec's memory table: loops without sharing double the cache
    assert rows["loop-2"]["kv_bytes"] == 2 * rows["vanilla"]["kv_bytes"]
    assert rows["loop+clp+kvshare-2"]["kv_bytes"] == rows["vanilla"]["kv_bytes"]
    assert rows["plt-2"]["schedule"] == "parallel" and rows["loop-2"]["schedule"] == "sequential"
    assert "results.md" in capsys.readouterr().out


def test_demo_quick_trains_compares_and_answers(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for name in demo.VARIANTS:
        assert f"| {name} |" in printed
        assert checkpoint.load(str(out / name / "ckpt.npz")).config.variant == name
    assert "expected" in printed and str(out) in printed
    for name in ("schedule.png", "latency.png", "curves.png", "accuracy_vs_latency.png"):
        assert (out / name).stat().st_size > 0, name


@pytest.mark.parametrize("argv, message", [
    (["ablate", "--quick", "--variants", "vanilla,plt-9x"], "unknown ablation rows"),
    (["ablate", "--quick", "--seeds", "0"], "--seeds must be >= 1"),
    (["ablate", "--quick", "--steps", "0"], "steps must be an integer >= 1"),
    (["ablate", "--quick", "--task", "multihop", "--hops", "30"], "variables are needed"),
    (["ablate", "--quick", "--hops", "3"], "--hops applies to the multihop task only"),
    (["demo", "--quick", "--steps", "-5"], "steps must be an integer >= 1"),
])
def test_argument_errors_are_messages(argv, message, tmp_path, capsys):
    assert cli.main(argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
