"""Run folders protect trained models, and resuming checks its data.

  * a folder that holds a checkpoint is refused unless --resume or --overwrite;
  * one run at a time: a second run on the same folder stops at once (two real processes);
  * after kill -9 at any point of a checkpoint write, the last good checkpoint loads, the
    next run removes the stale lock and the orphaned temporary files, and the resumed run
    ends bit for bit where an uninterrupted one does;
  * resuming on changed data is refused; the data's path works from any folder, or is
    given again with --data and checked against the checkpoint's fingerprint.

Training runs here are a tiny PLT-2 on sorting four letters: a dozen steps take a second.
"""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from minplt import checkpoint, cli
from minplt import train as tr


def train_cli(argv) -> int:
    """`python -m minplt train ARGV` (the command line is the one entry point)."""
    return cli.main(["train", *argv])

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--length", "4", "--batch-size", "4", "--eval-every", "4", "--log-every", "2",
        "--checkpoint-every", "4", "--seed", "3"]


def leftovers(folder):
    """Hidden files a run should not leave behind: temporary files and the lock."""
    return sorted(name for name in os.listdir(folder) if name.startswith("."))


def python(*args, **kwargs):
    return subprocess.Popen([sys.executable, *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def wait_for(condition, timeout=120):
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise TimeoutError("the training process did not get there in time")
        time.sleep(0.05)


# ----------------------------------------------------------------------------------------
# A trained model is never replaced by accident

def test_a_folder_with_a_checkpoint_needs_resume_or_overwrite(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert train_cli(TINY + ["--steps", "4", "--out", out]) == 0
    before = checkpoint.load(os.path.join(out, "ckpt.npz")).params
    capsys.readouterr()
    assert train_cli(TINY + ["--steps", "4", "--out", out]) == 2
    err = capsys.readouterr().err
    assert "already holds a trained model" in err and "--resume" in err and "--overwrite" in err
    after = checkpoint.load(os.path.join(out, "ckpt.npz")).params
    assert all(np.array_equal(before[k], after[k]) for k in before)      # untouched
    assert train_cli(TINY + ["--steps", "4", "--seed", "5", "--out", out, "--overwrite"]) == 0
    assert "--overwrite: starting a new run" in capsys.readouterr().out
    assert checkpoint.load(os.path.join(out, "ckpt.npz")).meta["seed"] == 5
    assert train_cli(TINY + ["--out", out, "--resume", "--overwrite"]) == 2
    assert "give one of them" in capsys.readouterr().err
    assert leftovers(out) == []


def test_the_library_refuses_too(tmp_path):
    from minplt import data, model
    task = data.make_task("sort", length=4)
    cfg = model.make_config("plt-2", vocab_size=task.vocab_size)

    def run(**kwargs):
        return tr.train(cfg, task, steps=2, batch_size=2, eval_every=2, eval_batches=1,
                        out_dir=tmp_path, log=lambda line: None, **kwargs)

    run()
    with pytest.raises(ValueError, match="already holds a trained model"):
        run()
    assert run(overwrite=True).step == 2


def test_a_second_run_on_a_locked_folder_stops_at_once(tmp_path):
    with checkpoint.RunFolder(str(tmp_path)):
        assert os.path.exists(tmp_path / checkpoint.LOCK_NAME)
        with pytest.raises(ValueError, match=f"in use by another run \\(pid {os.getpid()}\\)"):
            with checkpoint.RunFolder(str(tmp_path), overwrite=True):
                pass
    assert leftovers(tmp_path) == []                 # the lock goes with the run
    with checkpoint.RunFolder(str(tmp_path)):        # and the folder is free again
        pass


def test_two_real_processes_on_one_folder(tmp_path, ctrl_c):
    out = tmp_path / "run"
    first = python("-m", "minplt", "train", *TINY, "--steps", "100000", "--checkpoint-every",
                   "1000000", "--eval-every", "1000000", "--out", str(out))
    try:
        wait_for(lambda: (out / "log.csv").exists())
        second = subprocess.run([sys.executable, "-m", "minplt", "train", *TINY, "--steps",
                                 "4", "--out", str(out), "--overwrite"], cwd=REPO,
                                capture_output=True, text=True, timeout=120)
        assert first.poll() is None, "the first run must still be training"
        assert second.returncode == 2
        assert f"is in use by another run (pid {first.pid})" in second.stderr
        assert "Traceback" not in second.stderr
        out_first, err_first = ctrl_c(first)
    finally:
        if first.poll() is None:                # an assertion above failed
            first.kill()
    assert first.returncode == 130, err_first
    assert "continue with: python -m minplt train --out" in out_first
    assert checkpoint.load(str(out / "ckpt.npz")).meta["step"] >= 1
    assert leftovers(out) == []


# ----------------------------------------------------------------------------------------
# kill -9: fault injection during checkpoint writes

# Runs `python -m minplt train ARGS` but SIGKILLs itself during the Nth checkpoint write,
# at one of these points: half-way through writing the temporary file ("write"), before
# flushing it to disk ("fsync"), before renaming it over ckpt.npz ("replace"), or just
# after the rename ("after"; the log files are written next).
KILLER = r"""
import os, signal, sys
point, nth = sys.argv[1], int(sys.argv[2])
from minplt import checkpoint, train
writes = []
real_save, real_fdopen, real_fsync, real_replace = (checkpoint.save, os.fdopen, os.fsync,
                                                    os.replace)

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def active(here):
    return point == here and len(writes) == nth and writes[-1] == "open"

def save(*args, **kwargs):
    writes.append("open")
    real_save(*args, **kwargs)
    writes[-1] = "done"

class HalfWriter:
    def __init__(self, f):
        self.f = f
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return False
    def write(self, data):
        self.f.write(data[: len(data) // 2])
        self.f.flush()
        die()

def fdopen(fd, *args, **kwargs):
    f = real_fdopen(fd, *args, **kwargs)
    return HalfWriter(f) if active("write") else f

def fsync(fd):
    if active("fsync"):
        die()
    real_fsync(fd)

def replace(src, dst):
    if active("replace"):
        die()
    real_replace(src, dst)
    if active("after") and str(dst).endswith(".npz"):
        die()

checkpoint.save, os.fdopen, os.fsync, os.replace = save, fdopen, fsync, replace
from minplt import cli
sys.exit(cli.main(["train", *sys.argv[3:]]))
"""


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("straight")
    assert train_cli(TINY + ["--steps", "12", "--out", str(out)]) == 0
    return checkpoint.load(str(out / "ckpt.npz"))


@pytest.mark.parametrize("point, kept_step", [("write", 4), ("fsync", 4), ("replace", 4),
                                              ("after", 8)])
def test_kill_9_during_a_checkpoint_write(point, kept_step, tmp_path, straight_run, capsys):
    out = tmp_path / "run"
    killed = python("-c", KILLER, point, "2", *TINY, "--steps", "12", "--out", str(out))
    killed.communicate(timeout=300)
    assert killed.returncode == -signal.SIGKILL
    # the last good checkpoint loads; the killed write left its temporary file behind
    assert checkpoint.load(str(out / "ckpt.npz")).meta["step"] == kept_step
    assert checkpoint.LOCK_NAME in leftovers(out)                      # a stale lock
    if point in ("write", "fsync", "replace"):
        assert len(checkpoint.orphans(str(out))) == 1
    # the next run takes the stale lock, removes the orphan and ends as if never killed
    capsys.readouterr()
    assert train_cli(["--out", str(out), "--resume"]) == 0
    printed = capsys.readouterr().out
    assert f"resuming from {out / 'ckpt.npz'} at step {kept_step}" in printed
    if point in ("write", "fsync", "replace"):
        assert "removed 1 temporary file(s)" in printed
    assert leftovers(out) == []
    resumed = checkpoint.load(str(out / "ckpt.npz"))
    assert resumed.meta["step"] == 12
    for name, value in straight_run.params.items():
        assert np.array_equal(resumed.params[name], value), name            # bit for bit


def test_kill_9_from_outside_at_a_random_moment(tmp_path):
    """A real SIGKILL while checkpoints are written every step: whatever was being
    written, the checkpoint on disk loads and the next run cleans up."""
    out = tmp_path / "run"
    proc = python("-m", "minplt", "train", *TINY, "--steps", "100000", "--checkpoint-every",
                  "1", "--out", str(out))
    try:
        wait_for(lambda: (out / "ckpt.npz").exists())
        time.sleep(0.7)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    step = checkpoint.load(str(out / "ckpt.npz")).meta["step"]
    assert step >= 1
    assert train_cli(["--out", str(out), "--resume", "--steps", str(step + 2)]) == 0
    assert checkpoint.load(str(out / "ckpt.npz")).meta["step"] == step + 2
    assert leftovers(out) == []


# ----------------------------------------------------------------------------------------
# Resume checks its data

def write_corpus(path, text="the quick brown fox jumps over the lazy dog. " * 30):
    path.write_text(text)
    return path


TEXT = ["--block-size", "16", "--batch-size", "2", "--eval-every", "2", "--eval-batches",
        "1", "--log-every", "2"]


def test_resume_refuses_a_changed_text_file(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "corpus.txt")
    out = str(tmp_path / "run")
    assert train_cli(TEXT + ["--data", str(corpus), "--steps", "2", "--out", out]) == 0
    # the same characters in another order: the vocabulary is the same, the text is not
    corpus.write_text(corpus.read_text().replace("quick", "kciuq", 1))
    capsys.readouterr()
    assert train_cli(["--out", out, "--resume", "--steps", "4"]) == 2
    err = capsys.readouterr().err
    assert f"the text {corpus} changed since the checkpoint was written" in err
    assert "SHA-256" in err and "Traceback" not in err
    # one letter changes case, as a user might: a new character in the vocabulary
    write_corpus(corpus, ("the quick brown fox jumps over the lazy dog. " * 30).replace("t", "T", 1))
    assert train_cli(["--out", out, "--resume", "--steps", "4"]) == 2
    assert "changed since the checkpoint was written" in capsys.readouterr().err
    assert checkpoint.load(os.path.join(out, "ckpt.npz")).meta["step"] == 2   # kept as it was


def test_resume_refuses_a_changed_task(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert train_cli(TINY + ["--steps", "4", "--out", out]) == 0
    capsys.readouterr()
    assert train_cli(["--out", out, "--resume", "--steps", "8", "--length", "5"]) == 2
    err = capsys.readouterr().err
    assert "it was trained on the sort task (length=4" in err and "not on the sort task (length=5" in err


def test_resume_vocabulary_check_in_the_library(tmp_path):
    from minplt import data, model
    text = data.TextDataset("abcabcabc " * 20, block_size=8)
    cfg = model.make_config("plt-2", vocab_size=8)
    tr.train(cfg, text, steps=2, batch_size=2, eval_every=2, eval_batches=1, out_dir=tmp_path,
             log=lambda line: None)
    other = data.TextDataset("abdabdabd " * 20, block_size=8)     # the same token ids
    with pytest.raises(ValueError, match="vocabulary changed .*no longer there: 'c', new: 'd'"):
        tr.train(cfg, other, steps=4, batch_size=2, eval_every=2, eval_batches=1,
                 out_dir=tmp_path, resume=True, log=lambda line: None)


def test_the_stored_path_works_from_any_folder(tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    write_corpus(work / "corpus.txt")
    monkeypatch.chdir(work)
    assert train_cli(TEXT + ["--data", "corpus.txt", "--steps", "2", "--out", "run"]) == 0
    meta = checkpoint.load("run/ckpt.npz").meta
    assert meta["data"]["source"] == str(work / "corpus.txt")
    assert meta["run"]["data"] == str(work / "corpus.txt")
    monkeypatch.chdir(tmp_path)                                      # somewhere else
    assert train_cli(["--out", "work/run", "--resume", "--steps", "4"]) == 0
    assert "done: 4 steps" in capsys.readouterr().out


def test_data_given_again_on_resume_is_checked(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "corpus.txt")
    out = str(tmp_path / "run")
    assert train_cli(TEXT + ["--data", str(corpus), "--steps", "2", "--out", out]) == 0
    moved = tmp_path / "moved.txt"
    corpus.rename(moved)
    capsys.readouterr()
    assert train_cli(["--out", out, "--resume", "--steps", "4"]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "give its new place with --data PATH" in err
    other = write_corpus(tmp_path / "other.txt", "a different text, longer than a window. " * 30)
    assert train_cli(["--out", out, "--resume", "--steps", "4", "--data", str(other)]) == 2
    assert "changed since the checkpoint was written" in capsys.readouterr().err
    assert train_cli(["--out", out, "--resume", "--steps", "4", "--data", str(moved)]) == 0
    assert checkpoint.load(os.path.join(out, "ckpt.npz")).meta["step"] == 4
