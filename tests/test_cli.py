"""The command line as a new user meets it: --help, sample from a checkpoint, and clear
one-line errors instead of tracebacks."""
import subprocess
import sys

import numpy as np
import pytest

from minplt import checkpoint, cli, data
from minplt import model as M


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "minplt", *args], capture_output=True,
                          text=True, timeout=300)


def test_help_lists_every_command():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("train", "sample", "bench", "ablate", "demo"):
        assert command in result.stdout


@pytest.fixture
def task_checkpoint(tmp_path):
    task = data.make_task("multihop")
    cfg = M.make_config("plt", 2, "tiny", vocab_size=task.tokenizer.vocab_size,
                        block_size=task.seq_len)
    path = tmp_path / "ckpt.npz"
    checkpoint.save(str(path), M.init_params(cfg, 0), cfg,
                      meta={"tokenizer": task.tokenizer.to_dict(),
                            "data": {"kind": "task", "name": "multihop",
                                     "kwargs": task.config()}})
    return path


@pytest.mark.parametrize("schedule", ["parallel", "sequential"])
def test_sample_answers_a_task_prompt(task_checkpoint, capsys, schedule):
    assert cli.main(["sample", str(task_checkpoint), "--schedule", schedule]) == 0
    out = capsys.readouterr().out
    assert "plt-2" in out and "expected" in out


def test_both_schedules_print_the_same_text(task_checkpoint, capsys):
    cli.main(["sample", str(task_checkpoint), "--prompt", "a=1;b=a;", "--tokens", "12",
              "--schedule", "parallel"])
    parallel = capsys.readouterr().out.splitlines()[1:]
    cli.main(["sample", str(task_checkpoint), "--prompt", "a=1;b=a;", "--tokens", "12",
              "--schedule", "sequential"])
    assert capsys.readouterr().out.splitlines()[1:] == parallel


def test_sample_errors_are_one_clear_line(task_checkpoint, tmp_path, capsys):
    assert cli.main(["sample", str(tmp_path / "nope.npz")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["sample", str(task_checkpoint), "--prompt", "a=1;B=a"]) == 2
    err = capsys.readouterr().err
    assert "'B'" in err and "Traceback" not in err
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    assert cli.main(["sample", str(bad)]) == 2
    assert "truncated or corrupt" in capsys.readouterr().err
