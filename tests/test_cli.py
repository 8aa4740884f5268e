"""The command line as a new user meets it: --help, sample from a checkpoint, and clear
one-line errors instead of tracebacks."""
import os
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
    for command in ("train", "sample", "inspect", "bench", "ablate", "demo"):
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


def test_sample_answers_pointer_questions_along_the_layout(tmp_path, capsys):
    """Pointer chasing asks several questions per line: sample feeds each question (and
    its fillers) and writes the model's answer after it, as the line was in training."""
    task = data.make_task("pointer", hops=2, min_hops=1, think=1, loss_on="answer")
    cfg = M.make_config("plt", 2, "tiny", vocab_size=task.vocab_size, block_size=task.block_size)
    path = tmp_path / "ckpt.npz"
    checkpoint.save(str(path), M.init_params(cfg, 0), cfg,
                    meta={"tokenizer": task.tokenizer.to_dict(),
                          "data": {"kind": "task", "name": "pointer", "kwargs": task.config()}})
    assert cli.main(["sample", str(path), "--num-samples", "2"]) == 0
    lines = [l for l in capsys.readouterr().out.splitlines() if "|" in l]
    assert len(lines) == 2
    for seed, line in enumerate(lines):
        prompt, expected = task.sample("val", np.random.default_rng(seed))
        answers = line.split("|")[1][2::3]                 # question, filler, answer, ...
        assert task.layout(prompt, answers)[0] == line and len(answers) == task.queries


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


@pytest.mark.parametrize("argv, message", [
    (["--tokens", "0"], "--tokens must be >= 1, got 0"),
    (["--num-samples", "0"], "--num-samples must be >= 1"),
    (["--prompt", "a=1;\udcff"], "--prompt is not valid UTF-8 text"),
    (["--prompt", ""], "--prompt is empty"),
    (["--tokens", "1000000000"], "would need a KV cache of"),
])
def test_sample_argument_errors(task_checkpoint, argv, message, capsys):
    assert cli.main(["sample", str(task_checkpoint), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_non_utf8_prompt_from_a_real_shell(task_checkpoint):
    result = subprocess.run([sys.executable, "-m", "minplt", "sample", str(task_checkpoint),
                             "--prompt", b"a=\xff"], capture_output=True, text=True,
                            timeout=300, env=dict(os.environ, LC_ALL="C.UTF-8"))
    assert result.returncode == 2
    assert "--prompt is not valid UTF-8 text" in result.stderr
    assert "Traceback" not in result.stderr


def test_num_samples(task_checkpoint, capsys):
    assert cli.main(["sample", str(task_checkpoint), "--num-samples", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("expected") == 3 and "sample 3 of 3 (seed 2)" in out


def test_default_prompt_works_on_a_corpus_without_line_breaks(tmp_path, capsys):
    text = data.TextDataset("abcab" * 40, block_size=8)             # no "\n", no " "
    cfg = M.make_config("plt-2", vocab_size=text.vocab_size)
    path = tmp_path / "text.npz"
    checkpoint.save(str(path), M.init_params(cfg, 0), cfg,
                    meta={"tokenizer": text.tokenizer.to_dict(),
                          "data": {"kind": "text", "source": "x.txt", "block_size": 8}})
    assert cli.main(["sample", str(path), "--tokens", "5", "--num-samples", "2",
                     "--temperature", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    samples = [line for line in lines[1:] if not line.startswith("---")]
    assert len(samples) == 2 and all(len(s) == 6 and s[0] == "a" for s in samples)


def test_numba_cache_is_one_place_however_minplt_starts(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    code = "import sys, os, minplt; print(os.environ['NUMBA_CACHE_DIR']); print(sys.prefix)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=120)
    cache, prefix = result.stdout.split()
    if sys.prefix != sys.base_prefix:                  # the project's .venv, as under make
        assert cache == os.path.join(prefix, "numba-cache")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=dict(env, NUMBA_CACHE_DIR=str(tmp_path)), timeout=120)
    assert result.stdout.split()[0] == str(tmp_path)  # an explicit setting wins
