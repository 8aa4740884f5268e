"""End-to-end runs of `ablate --quick` and `demo --quick`, and their argument errors.
The quick settings train for a few steps: they check the plumbing, not the numbers."""
import json
import os

import numpy as np
import pytest

from minplt import checkpoint, cli, data, demo, experiments, model
from minplt import train as trainlib


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
    block = rows["vanilla-2x"]["params"] - rows["vanilla"]["params"]   # one more block
    assert block == sum(v.size for k, v in model.init_params(
        experiments.row_config("vanilla", experiments.make_task(experiments.QUICK),
                               experiments.QUICK)).items() if k.startswith("layers.0."))
    # on pointer chasing a CLP row of L loops reads L-1 fillers before each answer, the others none
    assert {r["variant"]: r["fillers"] for r in rows.values()} == {
        "vanilla": 0, "loop-2": 0, "loop+clp-2": 1, "loop+clp+kvshare-2": 1, "plt-2": 1,
        "plt-3": 2, "vanilla-2x": 0}
    # KV bytes follow the memory table (docs/method.md §8): loops without sharing double the cache
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
    (["ablate", "--quick", "--task", "sort", "--hops", "3"],
     "--hops applies to the pointer and multihop tasks only"),
    (["ablate", "--quick", "--length", "5"], "--length applies to the sort task only"),
    (["ablate", "--quick", "--hops", "9"], "hops must be"),
    (["demo", "--quick", "--steps", "-5"], "steps must be an integer >= 1"),
    (["demo", "--quick", "--seed", "-1"], "seeds must be one or more integers >= 0"),
    (["demo", "--quick", "--resume", "--overwrite"], "give one of them"),
])
def test_argument_errors_are_messages(argv, message, tmp_path, capsys):
    assert cli.main(argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize("command", ["demo", "ablate"])
def test_out_an_existing_file_or_read_only(command, tmp_path, read_only_folder, capsys):
    a_file = tmp_path / "results"
    a_file.write_text("keep me")
    assert cli.main([command, "--quick", "--out", str(a_file)]) == 2
    err = capsys.readouterr().err
    assert "is an existing file, not a folder" in err and "Traceback" not in err
    read_only = read_only_folder()
    assert cli.main([command, "--quick", "--out", str(read_only / "out")]) == 2
    assert "read-only" in capsys.readouterr().err


def test_demo_ctrl_c_gives_advice_that_works(tmp_path, monkeypatch, capsys):
    out = str(tmp_path / "demo")
    real_eval_line, calls = trainlib._eval_line, []

    def ctrl_c_in_the_second_model(*args):
        calls.append(1)
        if len(calls) == 3:            # quick: two evaluations per model
            raise KeyboardInterrupt
        return real_eval_line(*args)

    monkeypatch.setattr(trainlib, "_eval_line", ctrl_c_in_the_second_model)
    assert cli.main(["demo", "--quick", "--out", out]) == 130
    err = capsys.readouterr().err
    advice = f"python -m minplt demo --quick --out {out} --resume"
    assert f"continue with: {advice}" in err
    assert checkpoint.load(os.path.join(out, "loop-2", "ckpt.npz")).meta["step"] == 10
    assert not os.path.exists(os.path.join(out, "plt-2"))
    monkeypatch.setattr(trainlib, "_eval_line", real_eval_line)
    assert cli.main(advice.split()[3:]) == 0                    # the advice, as typed
    printed = capsys.readouterr().out
    assert "already trained for 20 of 20 steps" in printed          # vanilla is reused
    assert "resuming from" in printed and "| plt-2 |" in printed
    for name in demo.VARIANTS:
        assert checkpoint.load(os.path.join(out, name, "ckpt.npz")).meta["step"] == 20
    # again without a flag: refused before any work; --overwrite trains again
    assert cli.main(["demo", "--quick", "--out", out]) == 2
    err = capsys.readouterr().err
    assert "already holds trained models" in err and "--resume" in err and "--overwrite" in err
    assert cli.main(["demo", "--quick", "--out", out, "--overwrite"]) == 0


def test_settings_are_instances():
    assert isinstance(demo.DEMO, experiments.Settings) and demo.DEMO.task == "pointer"
    assert demo.DEMO.train == experiments.SETTINGS.train and demo.DEMO.seeds == (0,)
    assert experiments.QUICK.train.steps == 20 and experiments.QUICK.seeds == (0, 1)
    cfg = experiments.row_config("vanilla-2x", experiments.make_task(experiments.SETTINGS),
                                 experiments.SETTINGS)
    assert (cfg.n_layer, cfg.n_loops, cfg.n_embd) == (2, 1, 64)
    assert set(experiments.TASK_DEFAULTS) == set(experiments.TASK_SETTINGS)
    with pytest.raises(ValueError, match="variables are needed"):
        experiments.SETTINGS.replace(task="multihop", task_kwargs=dict(hops=30))


def test_runs_in_worker_processes_give_the_serial_results(tmp_path):
    """The ablation's runs, one per worker process, give exactly the results of the same
    runs one after another in this process."""
    s = experiments.QUICK
    names = ["vanilla", "plt-2"]
    serial = experiments.train_rows(names, s, s.seeds, workers=1)
    parallel = experiments.train_rows(names, s, s.seeds, workers=2)
    assert serial.keys() == parallel.keys()
    for key in serial:
        assert serial[key].losses == parallel[key].losses, key
        for name, value in serial[key].params.items():
            assert np.array_equal(value, parallel[key].params[name]), (key, name)


# -----------------------------------------------------------------------------
# Tasks by row, settings by task, answers as a user gets them


def test_each_row_reads_its_layout_and_no_thinking_removes_the_fillers():
    s = experiments.SETTINGS.replace(task_kwargs=dict(hops=3, min_hops=1))
    assert experiments.make_task(s, "plt-3").think == 2      # L - 1
    assert experiments.make_task(s, "loop+clp-2").think == 1
    assert experiments.make_task(s, "loop-3").think == 0
    assert experiments.make_task(s, "vanilla-2x").think == 0
    assert experiments.make_task(s.replace(clp_thinking=False), "plt-3").think == 0
    sort = experiments.TASK_DEFAULTS["sort"]
    assert experiments.make_task(sort, "plt-2").config() == experiments.make_task(sort).config()


@pytest.mark.parametrize("argv, task, n_embd, steps, thinking", [
    ([], "pointer", 64, 6000, True),
    (["--task", "sort"], "sort", 32, 1500, True),
    (["--task", "sort", "--steps", "99"], "sort", 32, 99, True),
    (["--no-thinking", "--hops", "3"], "pointer", 64, 6000, False),
])
def test_task_flag_brings_that_tasks_stack_and_budget(argv, task, n_embd, steps, thinking):
    import argparse
    parser = argparse.ArgumentParser()
    experiments.add_arguments(parser)
    args = parser.parse_args(argv)
    s = experiments.settings_from_args(args, experiments.SETTINGS)
    assert (s.task, s.model.n_embd, s.train.steps, s.clp_thinking) == (task, n_embd, steps, thinking)
    if "--hops" in argv:
        assert s.task_kwargs["hops"] == 3


@pytest.mark.parametrize("variant, task_name, kwargs", [
    ("loop-2", "pointer", dict(hops=2, min_hops=1, nodes=6, queries=3)),
    ("plt-3", "pointer", dict(hops=3, min_hops=1, nodes=6, queries=3, think=2)),
    ("plt-2", "sort", dict(length=5)),
])
def test_greedy_answers_are_what_the_training_forward_predicts(variant, task_name, kwargs):
    """Decoding along the layout with the model's own answers written in gives, at every
    answer position, the argmax of the training forward over the finished line."""
    task = data.make_task(task_name, loss_on="answer", **kwargs)
    cfg = model.make_config(variant, preset="tiny", vocab_size=task.vocab_size,
                            block_size=task.block_size, dtype="float64")
    params = model.init_params(cfg, seed=3)
    rng = np.random.default_rng(0)
    prompts = [task.sample("val", rng)[0] for _ in range(6)]
    answers = experiments.greedy_answers(params, cfg, task, prompts)
    for prompt, answer in zip(prompts, answers):
        assert len(answer) == task.answer_len
        line, slots = task.layout(prompt, answer)
        ids = np.array([task.tokenizer.encode(line)])
        logits = model.forward(params, cfg, ids[:, :-1])[0][0]
        assert task.tokenizer.decode(logits[np.array(slots) - 1].argmax(-1)) == answer


def test_demo_builds_each_rows_task_once(tmp_path, monkeypatch):
    """Along `make demo`'s path the task of each row is built once and passed on (to
    training, to the greedy answers), not rebuilt from the settings at every step."""
    real_make_task, rows = experiments.make_task, []

    def counting(s, row=None):
        if row is not None:
            rows.append(row)
        return real_make_task(s, row)

    monkeypatch.setattr(experiments, "make_task", counting)
    assert cli.main(["demo", "--quick", "--out", str(tmp_path / "demo"), "--workers", "1"]) == 0
    assert sorted(rows) == sorted(demo.VARIANTS)


def test_the_command_line_is_the_only_entry_point():
    """No module of a command imports the command line back (cli -> experiments -> cli)."""
    import subprocess
    import sys
    assert not hasattr(experiments, "main") and not hasattr(demo, "main")
    code = ("import sys, minplt.experiments, minplt.demo, minplt.language; "
            "print('minplt.cli' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
