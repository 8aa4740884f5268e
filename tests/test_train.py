"""Tests of minplt/train.py: exact resume, checkpoints that survive failures, the NaN
stop, Ctrl-C, the logs, and the command line's error messages.

Every run here is a tiny PLT-2 on a short multihop task: a dozen steps take a second.
"""
import csv
import dataclasses
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from minplt import checkpoint, cli, data, model
from minplt import train as tr

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def train_command(argv) -> int:
    """`python -m minplt train ARGV`: the command line is the only entry point."""
    return cli.main(["train", *argv])


def small_task():
    return data.make_task("multihop", hops=2, distractors=1)      # T = 18, V = 40


def small_config(task, variant="plt-2"):
    return model.make_config(variant, preset="tiny", vocab_size=task.vocab_size,
                             block_size=max(task.block_size, 64))


def run_small(out_dir=None, steps=12, log=lambda line: None, **kwargs):
    task = small_task()
    settings = dict(steps=steps, batch_size=4, eval_every=4, eval_batches=1, log_every=2,
                    checkpoint_every=4, seed=3, out_dir=out_dir, log=log)
    settings.update(kwargs)
    return tr.train(small_config(task), task, **settings)


def interrupt_at(step):
    """A log callback that raises KeyboardInterrupt (as Ctrl-C would) at `step`."""
    def log(line):
        if line.startswith(f"step {step:>2}/"):
            raise KeyboardInterrupt
    return log


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ----------------------------------------------------------------------------------------
# Resuming

def test_resume_reproduces_the_uninterrupted_run_exactly(tmp_path):
    straight = run_small(tmp_path / "straight", steps=12)
    first = run_small(tmp_path / "resumed", steps=12, log=interrupt_at(6))
    assert first.interrupted and first.step == 6
    second = run_small(tmp_path / "resumed", steps=12, resume=True)
    assert second.step == 12 and not second.interrupted
    assert second.losses == straight.losses                      # bit for bit, every step
    for name in straight.params:
        assert np.array_equal(second.params[name], straight.params[name]), name
    # the logs agree too, apart from the wall-clock columns
    clock = ("tokens_per_s", "elapsed")
    strip = lambda rows: [{k: v for k, v in r.items() if k not in clock} for r in rows]
    assert strip(read_csv(tmp_path / "resumed" / "log.csv")) == \
        strip(read_csv(tmp_path / "straight" / "log.csv"))


def test_checkpoint_meta_rebuilds_tokenizer_and_data(tmp_path):
    run_small(tmp_path, steps=4)
    ckpt = checkpoint.load(str(tmp_path / "ckpt.npz"))
    task = small_task()
    assert data.CharTokenizer.from_dict(ckpt.meta["tokenizer"]) == task.tokenizer
    assert ckpt.meta["data"] == {"kind": "task", "name": "multihop", "kwargs": task.config()}
    assert data.data_from_spec(ckpt.meta["data"]).config() == task.config()
    assert ckpt.meta["step"] == 4 and ckpt.meta["variant"] == "plt-2"


def test_resume_refuses_a_different_model(tmp_path):
    run_small(tmp_path, steps=4)
    task = small_task()
    with pytest.raises(ValueError, match="another model"):
        tr.train(small_config(task, "loop-2"), task, steps=8, out_dir=tmp_path, resume=True,
                 log=lambda line: None)


# ----------------------------------------------------------------------------------------
# Checkpoints survive failures

def test_failed_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch):
    real_savez = np.savez
    calls = []

    def savez_that_dies(file, **arrays):
        """The second checkpoint write dies half-way, like a full disk or a kill."""
        calls.append(1)
        if len(calls) == 2:
            file.write(b"PK\x03\x04 half a zip file")
            raise OSError("simulated crash in the middle of writing")
        return real_savez(file, **arrays)

    monkeypatch.setattr(np, "savez", savez_that_dies)
    with pytest.raises(OSError, match="simulated crash"):
        run_small(tmp_path, steps=12)
    ckpt = checkpoint.load(str(tmp_path / "ckpt.npz"))     # still the step-4 one
    assert ckpt.meta["step"] == 4
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    real = model.loss_and_grads
    steps_seen = []

    def nan_at_step_6(params, cfg, x, y, backend):
        steps_seen.append(1)
        loss, grads = real(params, cfg, x, y, backend)
        return (float("nan") if len(steps_seen) == 6 else loss), grads

    monkeypatch.setattr(model, "loss_and_grads", nan_at_step_6)
    with pytest.raises(tr.DivergedError) as error:
        run_small(tmp_path, steps=12)
    message = str(error.value)
    assert "step 6" in message and "lower learning rate" in message
    assert "step 4" in message                                    # names the kept checkpoint
    assert checkpoint.load(str(tmp_path / "ckpt.npz")).meta["step"] == 4


def test_huge_learning_rate_exits_nonzero_with_a_message(tmp_path, capsys):
    code = train_command(["--data", "multihop", "--hops", "2", "--steps", "50", "--lr", "1e6",
                    "--batch-size", "4", "--warmup", "0", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert "diverged at step" in err and "lower learning rate" in err
    assert "Traceback" not in err


# ----------------------------------------------------------------------------------------
# Ctrl-C

def test_ctrl_c_saves_a_checkpoint_and_exits_130(tmp_path, monkeypatch, capsys):
    def ctrl_c(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(tr, "_eval_line", ctrl_c)                # Ctrl-C at the first eval
    code = train_command(["--data", "multihop", "--hops", "2", "--steps", "30", "--eval-every", "5",
                    "--batch-size", "4", "--out", str(tmp_path)])
    assert code == 130
    assert "checkpoint saved to" in capsys.readouterr().out
    assert checkpoint.load(str(tmp_path / "ckpt.npz")).meta["step"] == 5


def test_real_sigint_finishes_the_step_and_saves(tmp_path, ctrl_c):
    """A real Ctrl-C (SIGINT) to a training process: it saves and exits with 130."""
    cmd = [sys.executable, "-m", "minplt", "train", "--length", "4", "--steps", "100000",
           "--batch-size", "4", "--log-every", "1", "--eval-every", "1000000",
           "--checkpoint-every", "1000000", "--out", str(tmp_path)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 60
    while not (tmp_path / "log.csv").exists() and time.time() < deadline:
        time.sleep(0.1)
    out, err = ctrl_c(proc, timeout=60)
    assert proc.returncode == 130, err
    assert "checkpoint saved to" in out
    step = checkpoint.load(str(tmp_path / "ckpt.npz")).meta["step"]
    assert step >= 1
    assert len(read_csv(tmp_path / "log.csv")) == step               # one row per step


# ----------------------------------------------------------------------------------------
# Logs

def test_logs_have_the_documented_columns(tmp_path):
    result = run_small(tmp_path, steps=8)
    rows = read_csv(tmp_path / "log.csv")
    assert tuple(rows[0]) == tr.LOG_COLUMNS
    assert [int(r["step"]) for r in rows] == [2, 4, 6, 8]
    assert rows[0]["val_loss"] == "" and rows[1]["val_loss"] != ""   # empty = not measured
    assert json.loads((tmp_path / "log.json").read_text()) == result.rows
    assert 0.0 <= result.val_acc <= 1.0


def test_text_data_from_a_file(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 40)
    text = data.TextDataset(corpus.read_text(), block_size=16)
    cfg = model.make_config("plt-2", preset="tiny", vocab_size=text.vocab_size)
    result = tr.train(cfg, text, steps=4, batch_size=2, eval_every=2, eval_batches=1,
                      out_dir=tmp_path / "run", data_source=str(corpus), log=lambda s: None)
    assert result.val_acc is None and np.isfinite(result.val_loss)
    meta = checkpoint.load(str(tmp_path / "run" / "ckpt.npz")).meta
    assert meta["data"] == {"kind": "text", "source": str(corpus), "block_size": 16,
                            "sha256": data.data_spec(text)["sha256"]}


# ----------------------------------------------------------------------------------------
# The command line

def test_cli_trains_and_resumes_with_saved_arguments(tmp_path, capsys):
    args = ["--variant", "loop-2", "--length", "4", "--steps", "6", "--batch-size", "4",
            "--eval-every", "3", "--width", "16", "--out", str(tmp_path)]
    assert train_command(args) == 0
    # --resume alone brings back the variant, width and data; --steps extends the run
    assert train_command(["--out", str(tmp_path), "--resume", "--steps", "8"]) == 0
    out = capsys.readouterr().out
    assert "resuming from" in out and "done: 8 steps" in out
    assert train_command(["--out", str(tmp_path), "--resume"]) == 0         # nothing left to do
    assert "nothing new to save" in capsys.readouterr().out
    ckpt = checkpoint.load(str(tmp_path / "ckpt.npz"))
    assert ckpt.config.variant == "loop-2" and ckpt.config.n_embd == 16
    assert ckpt.meta["data"]["kwargs"]["length"] == 4


@pytest.mark.parametrize("argv, message", [
    (["--variant", "plt"], "unknown variant 'plt'"),
    (["--variant", "transformer-2"], "unknown variant"),
    (["--steps", "0"], "steps must be an integer >= 1"),
    (["--lr", "-1"], "argument --lr: must be a number > 0, got '-1'"),
    (["--data", "no/such/file.txt"], "does not exist"),
    (["--data", "parity", "--hops", "3"], "--hops applies to the multihop and pointer tasks only"),
    (["--length", "0"], "length must be"),
    (["--width", "30"], "must be divisible by"),
    (["--width", "20"], "must be even"),
    (["--resume"], "--resume needs --out"),
    (["--variant", "vanilla-2"], "family 'vanilla' has one loop"),
    (["--data", "pydoc", "--block-size", "0"], "--block-size must be >= 1"),
    (["--block-size", "16"], "the sort task's sequences have a fixed length: drop --block-size"),
    (["--grad-clip", "-1"], "argument --grad-clip: must be a number >= 0, got '-1'"),
    (["--weight-decay", "-0.1"], "argument --weight-decay: must be a number >= 0"),
    (["--variant", "loop-2", "--window", "4"], "--window sets the G-SWA window, and loop-2 has no G-SWA"),
    (["--seed", "-1"], "seed must be an integer >= 0"),
])
def test_cli_errors_are_messages_not_tracebacks(argv, message, capsys):
    try:                    # a flag's own type stops argparse at once, with exit status 2
        code = train_command(argv + ["--batch-size", "2"])
    except SystemExit as stop:
        code = stop.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_out_that_cannot_be_a_folder(tmp_path, read_only_folder, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    assert train_command(["--steps", "2", "--out", str(a_file)]) == 2
    err = capsys.readouterr().err
    assert f"--out {a_file} is an existing file, not a folder" in err and "Traceback" not in err
    assert a_file.read_text() == "keep me"
    read_only = read_only_folder()
    assert train_command(["--steps", "2", "--out", str(read_only / "run")]) == 2
    err = capsys.readouterr().err
    assert "read-only" in err and "Traceback" not in err


def test_settings_dataclass_checks_and_names():
    s = tr.TrainSettings(steps=5)
    assert s.replace(lr=1e-3).lr == 1e-3 and s.replace(lr=1e-3).steps == 5
    with pytest.raises(ValueError, match="unknown training setting.*colour; the settings are steps"):
        s.replace(colour=1)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        tr.TrainSettings(batch_size=2.5)
    with pytest.raises(ValueError, match="learning rate must be a positive number"):
        tr.TrainSettings(lr=float("nan"))
    parser = __import__("argparse").ArgumentParser()
    tr.add_arguments(parser)
    flags = {a.dest: a.option_strings for a in parser._actions}
    for name in tr.TrainSettings.fields():                      # one flag per field
        assert flags[name][0] == "--" + name.replace("_", "-")
    assert flags["threads"] == ["--threads", "--blas-threads"]  # the old name still works
    with pytest.raises(ValueError, match="backend must be 'numba' or 'numpy', got 'cuda'"):
        tr.TrainSettings(backend="cuda")
    assert flags["n_embd"] == ["--n-embd", "--width"]            # Config names, old aliases


def test_done_line_says_when_nothing_was_saved(capsys):
    assert train_command(["--length", "4", "--steps", "2", "--batch-size", "2"]) == 0
    assert "nothing saved (give --out DIR to keep the model)" in capsys.readouterr().out


def test_resume_without_a_checkpoint_is_a_clear_error(tmp_path, capsys):
    assert train_command(["--out", str(tmp_path / "empty"), "--resume"]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        run_small(tmp_path / "empty", resume=True)


def test_text_window_defaults_to_the_preset_s_block_size(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 80)
    for preset, T in (("tiny", 64), ("small", 256)):
        assert train_command(["--data", str(corpus), "--preset", preset, "--steps", "1",
                        "--batch-size", "1", "--eval-batches", "1"]) == 0
        assert f"(T={T}," in capsys.readouterr().out


def test_any_data_source_with_the_batch_interface_trains(tmp_path):
    """train() takes any object with get_batch, tokenizer and block_size (lesson 07's
    mixture of tasks), not only the built-in tasks and texts."""
    class Mixture:
        def __init__(self):
            self.inner = data.make_task("sort", length=3)
            self.tokenizer, self.block_size = self.inner.tokenizer, self.inner.block_size
            self.exact_match = self.inner.exact_match

        def get_batch(self, split, batch_size, rng):
            return self.inner.get_batch(split, batch_size, rng)

    cfg = model.make_config("plt-2", preset="tiny", vocab_size=Mixture().tokenizer.vocab_size)
    result = tr.train(cfg, Mixture(), steps=3, batch_size=2, eval_every=3, log=lambda line: None,
                      out_dir=str(tmp_path / "run"))
    assert result.step == 3
    meta = checkpoint.load(str(tmp_path / "run" / "ckpt.npz")).meta
    assert meta["data"] == {"kind": "custom", "name": "Mixture"}


def test_freed_memory_is_kept_unless_the_user_sets_malloc_variables(tmp_path):
    """glibc keeps training's freed arrays for reuse (parallel.keep_freed_memory), once
    per process; a MALLOC_* variable of the user's wins. Run in fresh processes."""
    import platform
    import subprocess
    import sys
    code = ("from minplt import parallel; a = parallel.keep_freed_memory(); "
            "print(a, parallel.keep_freed_memory() == a)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    run = lambda extra: subprocess.run([sys.executable, "-c", code], env={**env, **extra},
                                       capture_output=True, text=True, timeout=120).stdout.split()
    glibc = platform.libc_ver()[0] == "glibc"
    assert run({}) == [str(glibc), "True"]
    assert run({"MALLOC_ARENA_MAX": "2"}) == ["False", "True"]


def test_threads_limits_numba_and_restores_it():
    import numba
    from minplt import parallel
    before = numba.get_num_threads()
    with parallel.threads(1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == before


def test_durations_read_in_the_two_largest_units():
    assert [tr._duration(s) for s in (0, 42.4, 65, 3599, 3600, 7500, 86399)] == \
        ["0s", "42s", "1m05s", "59m59s", "1h00m", "2h05m", "23h59m"]
    assert tr._duration(86400) == "1d00h"
    assert tr._duration(3 * 86400 + 4 * 3600 + 59 * 60) == "3d04h"
    assert tr._duration(400 * 86400) == "400d00h"
    line = tr._progress_line(10, 10**9, 1.5, 1e-3, 1000.0, 10**9 / 10 * 2.0)
    assert line.endswith("ETA 2314d19h")          # never "3333333m20s"


def test_the_command_line_is_the_only_entry_point():
    """`python -m minplt.train` is not a command: train.py has no main() to import cli
    back (which made a circle of imports)."""
    assert not hasattr(tr, "main")


@pytest.mark.parametrize("flag, value, message", [
    ("--lr", "nan", "argument --lr: must be a finite number, got 'nan'"),
    ("--lr", "0", "argument --lr: must be a number > 0"),
    ("--weight-decay", "inf", "argument --weight-decay: must be a finite number"),
    ("--grad-clip", "-1", "argument --grad-clip: must be a number >= 0"),
])
def test_float_flags_refuse_nan_infinities_and_out_of_range(flag, value, message, capsys):
    with pytest.raises(SystemExit) as stop:
        train_command(["--steps", "1", flag, value])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
    float_fields = [f.name for f in dataclasses.fields(tr.TrainSettings) if f.type == "float"]
    assert sorted(float_fields) == sorted(tr.FLOAT_FLAGS)       # every float setting
