"""The language corpus (Python's standard library, bytes, split by file), the bits-per-
byte arithmetic, the refusals of data that cannot teach, and `ablate --task text`."""
import json
import math
import os
import sysconfig
import zlib

import numpy as np
import pytest

from minplt import checkpoint, cli, corpus, data, language, model
from minplt import train as trainlib


def write_tree(root, files: dict) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def small_library(root, n: int = 40) -> None:
    """n modules of different text, a test folder, a site-packages and a non-.py file."""
    write_tree(root, {f"pkg{i % 3}/mod{i}.py": f"def f{i}(x):\n    return x * {i}  # é\n" * 6
                      for i in range(n)})
    write_tree(root, {"test/test_a.py": "SKIPPED = 1\n", "idlelib/idle_test/t.py": "S = 2\n",
                      "site-packages/pkg/x.py": "S = 3\n", "notes.txt": "not python\n"})


# ----------------------------------------------------------------------------------------
# The corpus

def test_files_are_sorted_and_skip_tests_and_site_packages(tmp_path):
    small_library(tmp_path)
    files = corpus.stdlib_files(tmp_path)
    assert files == sorted(files) and len(files) == 40
    assert not any(part in ("test", "idle_test", "site-packages")
                   for f in files for part in f.split("/"))
    assert all(f.endswith(".py") for f in files)


def test_the_split_is_by_file_deterministic_and_without_overlap(tmp_path):
    small_library(tmp_path)
    splits, info = corpus.read_split_bytes(tmp_path)
    again, _ = corpus.read_split_bytes(tmp_path)
    assert splits == again                                      # the same bytes every time
    files = corpus.stdlib_files(tmp_path)
    val = [f for f in files if corpus.split_of_file(f) == "val"]
    train = [f for f in files if corpus.split_of_file(f) == "train"]
    assert set(val).isdisjoint(train) and len(val) + len(train) == len(files)
    assert (info["files"], info["files_val"], info["files_train"]) == (40, len(val), len(train))
    # each split is its own files, whole, in sorted order: no file is in both
    assert splits["val"] == b"".join((tmp_path / f).read_bytes() for f in val)
    assert splits["train"] == b"".join((tmp_path / f).read_bytes() for f in train)
    # the hash is stable across processes and machines (crc32, not the salted hash())
    assert corpus.split_of_file("pkg0/mod0.py") == \
        ("val" if zlib.crc32(b"pkg0/mod0.py") % corpus.VAL_EVERY == 0 else "train")


def test_the_real_standard_library_splits_by_file():
    files = corpus.stdlib_files()
    assert len(files) > 100 and "os.py" in files
    assert not any(f.startswith("test/") for f in files)
    val = {f for f in files if corpus.split_of_file(f) == "val"}
    assert 0.05 < len(val) / len(files) < 0.2


def test_a_missing_standard_library_is_a_clear_error(tmp_path, monkeypatch):
    stripped = tmp_path / "lib" / "python3"          # only compiled files, as some ship it
    write_tree(stripped, {"__pycache__/os.cpython-311.pyc": "x", "os.pyc": "x"})
    with pytest.raises(FileNotFoundError, match="ships its standard library without the .py"):
        corpus.stdlib_files(stripped)
    monkeypatch.setattr(sysconfig, "get_paths", lambda: {"stdlib": str(tmp_path / "none")})
    data.cached_text_data.cache_clear()
    with pytest.raises(FileNotFoundError, match="'stdlib' corpus is unavailable"):
        data.make_data("stdlib")


def test_a_missing_standard_library_on_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sysconfig, "get_paths", lambda: {"stdlib": str(tmp_path)})
    assert cli.main(["train", "--data", "stdlib", "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "minplt train: error:" in err and "--data pydoc" in err and "Traceback" not in err


def test_byte_tokens_read_any_text():
    tok = corpus.ByteTokenizer()
    ids = tok.encode("é!\n")
    assert ids.tolist() == [195, 169, 33, 10] and ids.dtype == np.int64
    assert tok.decode(ids) == "é!\n"
    assert tok.decode([195]) == "\ufffd"                        # half a character
    assert data.tokenizer_from_dict(tok.to_dict()) == tok
    with pytest.raises(ValueError, match="ids 0..255"):
        tok.decode([256])


def test_a_dataset_from_a_library_and_its_checkpoint_record_python_and_files(tmp_path):
    lib = tmp_path / "lib"
    small_library(lib)
    ds = corpus.stdlib_dataset(block_size=16, root=lib)
    assert ds.vocab_size == 256 and ds.splits["train"].dtype == np.uint8
    x, y, mask = ds.get_batch("train", 4, np.random.default_rng(0))
    assert x.dtype == np.int64 and (x[:, 1:] == y[:, :-1]).all() and mask is None
    cfg = model.make_config("vanilla", preset="tiny", vocab_size=256, block_size=16)
    trainlib.train(cfg, ds, steps=2, batch_size=2, eval_every=2, eval_batches=1,
                   out_dir=str(tmp_path / "run"), log=lambda line: None)
    spec = checkpoint.load(str(tmp_path / "run" / "ckpt.npz")).meta["data"]
    assert spec["source"] == "stdlib" and spec["corpus"]["files"] == 40
    assert spec["corpus"]["python"] == ds.info["python"]


# ----------------------------------------------------------------------------------------
# Bits per byte

def test_bits_per_byte_of_a_hand_computed_case():
    # two predictions: the right byte has probability 1/2, then 1/4. The loss is
    # (ln 2 + ln 4) / 2 = 1.5 ln 2 nats per byte, i.e. 1.5 bits per byte.
    assert corpus.bits_per_byte(1.5 * math.log(2)) == pytest.approx(1.5)
    assert corpus.bits_per_byte(math.log(256)) == pytest.approx(8.0)   # uniform over bytes
    logits = np.log(np.array([[[0.5, 0.25, 0.25], [0.25, 0.25, 0.5]]]))   # (1,2,3)
    loss, _ = model.cross_entropy_forward(logits, np.array([[0, 1]]))
    assert corpus.bits_per_byte(loss) == pytest.approx(1.5)


def test_per_token_losses_average_to_the_models_loss():
    cfg = model.make_config("plt-2", preset="tiny", vocab_size=256, block_size=16)
    params = model.init_params(cfg, 0)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (3, 16)), rng.integers(0, 256, (3, 16))
    per_token = language.per_token_losses(params, cfg, x, y, batch=2)
    _, loss, _ = model.forward(params, cfg, x, y)
    assert per_token.shape == (3, 16) and per_token.mean() == pytest.approx(loss, rel=1e-5)


# ----------------------------------------------------------------------------------------
# Data that cannot teach

def test_a_text_of_one_symbol_is_refused():
    with pytest.raises(ValueError, match="single distinct symbol \\('a'\\).*nothing to learn"):
        data.TextDataset("a" * 1000, block_size=8)
    one_byte = {"train": np.full(100, 65, np.uint8), "val": np.full(50, 65, np.uint8)}
    with pytest.raises(ValueError, match="single distinct symbol"):
        data.TextDataset.from_splits(one_byte, 8, corpus.ByteTokenizer())


def test_a_text_shorter_than_one_batch_is_refused():
    ds = data.TextDataset("abcdefgh" * 30, block_size=8)          # 216 training characters
    ds.get_batch("train", 4, np.random.default_rng(0))          # 4 x 8 fits
    with pytest.raises(ValueError, match="fewer than one batch of 32 windows of 8"):
        ds.get_batch("train", 32, np.random.default_rng(0))


def test_a_file_of_one_symbol_is_refused_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "same.txt"
    path.write_text("z" * 5000)
    assert cli.main(["train", "--data", str(path), "--steps", "1"]) == 2
    assert "single distinct symbol ('z')" in capsys.readouterr().err


def test_a_file_shorter_than_one_batch_is_refused_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "short.txt"
    path.write_text("the quick brown fox jumps over the lazy dog\n" * 20)   # 880 characters
    assert cli.main(["train", "--data", str(path), "--steps", "1", "--batch-size", "32",
                     "--block-size", "64"]) == 2
    assert "fewer than one batch" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------
# Statistics and measures

def test_paired_difference_by_hand():
    d = language.paired_difference([1.0, 2.0, 3.0], [0.5, 1.0, 2.5])   # differences .5, 1, .5
    assert d["mean"] == pytest.approx(2 / 3)
    std = math.sqrt(((0.5 - 2 / 3) ** 2 * 2 + (1 - 2 / 3) ** 2) / 2)
    assert d["std"] == pytest.approx(std)
    half = 4.303 * std / math.sqrt(3)
    assert (d["low"], d["high"]) == (pytest.approx(2 / 3 - half), pytest.approx(2 / 3 + half))
    assert language.paired_difference([1.0], [0.0])["low"] is None
    with pytest.raises(ValueError, match="same seeds"):
        language.paired_difference([1.0, 2.0], [1.0])


@pytest.mark.parametrize("low, high, sign, expected", [
    (-0.2, -0.1, -1, "reproduced"), (0.1, 0.2, -1, "not reproduced"),
    (-0.1, 0.1, -1, "not separable"), (0.1, 0.2, +1, "reproduced"),
    (-0.1, 0.1, 0, "reproduced (the interval holds 0)"), (0.1, 0.2, 0, "not reproduced")])
def test_verdicts(low, high, sign, expected):
    assert language.verdict(dict(low=low, high=high), sign) == expected


def test_position_kinds():
    x = np.frombuffer(b"a\n (x_ +", dtype=np.uint8)[None].astype(np.int64)
    kinds = [language.POSITION_KINDS[k] for k in language.position_kinds(x)[0]]
    assert kinds == ["inside an identifier", "start of a line", "after whitespace",
                     "after an opening bracket", "inside an identifier",
                     "inside an identifier", "after whitespace", "other"]


def test_models_run_with_other_loop_counts():
    cfg = model.make_config("plt-2", preset="tiny", vocab_size=256, block_size=16)
    params = model.init_params(cfg, 0)
    x = np.random.default_rng(0).integers(0, 256, (2, 16))
    one = language.with_loops(cfg, 1)
    assert (one.n_loops, one.clp, one.gswa) == (1, False, False)
    assert language.with_loops(cfg, 4).n_loops == 4 and language.with_loops(cfg, 4).gswa
    plain = model.forward(params, one, x)[0]
    assert not np.allclose(plain, model.forward(params, cfg, x)[0])  # loops change it
    assert np.allclose(plain, model.forward(params, dataclasses_replace(cfg), x)[0])


def dataclasses_replace(cfg):
    """The vanilla model on the same weights, built by hand."""
    import dataclasses
    return dataclasses.replace(cfg, n_loops=1, clp=False, kv_share=False, gswa=False)


# ----------------------------------------------------------------------------------------
# The command

def test_ablate_text_runs_resumes_and_reports(tmp_path, capsys):
    out = tmp_path / "text"
    argv = ["ablate", "--task", "text", "--quick", "--steps", "4",
            "--variants", "vanilla,loop-2,loop+clp-2,plt-2", "--out", str(out)]
    assert cli.main(argv) == 0
    report = json.loads((out / "results.json").read_text())
    assert [r["variant"] for r in report["rows"]] == ["vanilla", "loop-2", "loop+clp-2", "plt-2"]
    assert report["corpus"]["python"] and report["corpus"]["files"] > 100
    assert {(d["a"], d["b"]) for d in report["differences"]} == {("loop-2", "vanilla"),
                                                                 ("loop+clp-2", "loop-2")}
    assert set(report["clp_cost"]["rows"]) == {"loop+clp-2", "plt-2"}
    assert set(report["test_time_loops"]["plt-2"]) == {"1", "2", "3", "4"}
    for name in ("results.md", "curves.png", "clp_cost.png", "test_time_loops.png"):
        assert (out / name).stat().st_size > 0
    assert (out / "plt-2-seed1" / "ckpt.npz").exists()
    assert "bits/byte" in (out / "results.md").read_text()
    # the models are kept: again without --resume is refused, with it nothing is retrained
    assert cli.main(argv) == 2
    assert "--resume" in capsys.readouterr().err
    assert cli.main(argv + ["--resume"]) == 0
    again = json.loads((out / "results.json").read_text())
    assert [r["bpb_per_seed"] for r in again["rows"]] == [r["bpb_per_seed"] for r in report["rows"]]


@pytest.mark.parametrize("argv, message", [
    (["--hops", "3"], "--hops applies to the synthetic tasks"),
    (["--no-thinking"], "--no-thinking applies to pointer chasing"),
    (["--seeds", "0"], "--seeds must be >= 1"),
    (["--variants", "vanilla,nope"], "unknown ablation rows"),
])
def test_ablate_text_refuses_bad_flags(argv, message, tmp_path, capsys):
    assert cli.main(["ablate", "--task", "text", "--quick", "--out", str(tmp_path / "o"),
                     *argv]) == 2
    assert message in capsys.readouterr().err


def test_text_is_for_ablate_only_and_resume_is_for_text(tmp_path, capsys):
    assert cli.main(["demo", "--quick", "--task", "text", "--out", str(tmp_path / "d")]) == 2
    assert "ablate --task text" in capsys.readouterr().err
    assert cli.main(["ablate", "--quick", "--resume", "--out", str(tmp_path / "a")]) == 2
    assert "--resume and --overwrite apply to --task text" in capsys.readouterr().err


def test_sample_from_a_byte_model(tmp_path, capsys):
    lib = tmp_path / "lib"
    small_library(lib)
    ds = corpus.stdlib_dataset(block_size=16, root=lib)
    cfg = model.make_config("plt-2", preset="tiny", vocab_size=256, block_size=16)
    trainlib.train(cfg, ds, steps=1, batch_size=2, eval_every=1, eval_batches=1,
                   out_dir=str(tmp_path / "run"), log=lambda line: None)
    path = str(tmp_path / "run" / "ckpt.npz")
    assert cli.main(["sample", path, "--tokens", "8", "--prompt", "def é"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("def é")
    assert cli.main(["sample", path, "--tokens", "4"]) == 0              # default prompt


# ----------------------------------------------------------------------------------------
# The committed results that lesson 06 loads

LESSON_RESULTS = os.path.join(os.path.dirname(__file__), os.pardir, "lessons", "results",
                              "06_language.json")


def committed_report() -> dict:
    with open(LESSON_RESULTS) as f:
        return json.load(f)


def test_the_committed_language_results_are_current_in_form():
    """The file was written by `ablate --task text` with the code's current settings,
    and holds every row, seed, difference and measurement the lesson reads."""
    import dataclasses
    from minplt import experiments as ex
    report = committed_report()
    assert report["settings"] == json.loads(json.dumps(dataclasses.asdict(language.TEXT)))
    assert [r["variant"] for r in report["rows"]] == list(ex.ROWS)
    assert report["seeds"] == list(language.TEXT.seeds)
    assert all(len(r["bpb_per_seed"]) == len(report["seeds"]) for r in report["rows"])
    assert [(d["a"], d["b"]) for d in report["differences"]] == language.DIFFERENCES
    for d in report["differences"]:                    # the verdict follows from the numbers
        assert d["verdict"] == language.verdict(d, language.ORDERINGS[(d["a"], d["b"])][1])
        bpb = {r["variant"]: r["bpb_per_seed"] for r in report["rows"]}
        assert d["mean"] == pytest.approx(language.paired_difference(bpb[d["a"]],
                                                                     bpb[d["b"]])["mean"])
    assert set(report["clp_cost"]["rows"]) == {"loop+clp-2", "plt-2"}
    for row in report["clp_cost"]["rows"].values():
        assert set(row["by_kind"]) == set(language.POSITION_KINDS)
        assert len(row["by_position"]) == report["corpus"]["block_size"]
    for r in report["rows"]:
        if r["n_loops"] > 1:
            assert set(report["test_time_loops"][r["variant"]]) == \
                {str(n) for n in range(1, r["n_loops"] + 3)}
    assert set(report["logs"]) == set(ex.ROWS)


def test_the_code_reproduces_the_committed_language_results():
    """Rerun the vanilla row with seed 0 up to its first logged step: the same loss."""
    report = committed_report()
    if report["corpus"]["python"] != corpus.platform.python_version():
        pytest.skip(f"the results were measured on Python {report['corpus']['python']}'s "
                    "standard library, another corpus than this Python's")
    assert report["corpus"]["files"] == len(corpus.stdlib_files())
    again = language.first_logged_loss(language.TEXT, "vanilla", 0)
    first = report["logs"]["vanilla"][0][0]
    assert again["step"] == first["step"]
    assert again["loss"] == pytest.approx(first["loss"], rel=1e-5)      # CPUs round otherwise


def test_a_checkpoint_of_the_library_is_rebuilt_and_checked_by_its_spec(tmp_path):
    lib = tmp_path / "lib"
    small_library(lib)
    ds = corpus.stdlib_dataset(block_size=16, root=lib)
    spec = data.data_spec(ds)
    assert spec["corpus"]["files"] == 40 and spec["source"] == "stdlib"
    rebuilt = data.data_from_spec({"kind": "text", "source": "stdlib", "block_size": 16})
    assert rebuilt.info["files"] == len(corpus.stdlib_files()) and rebuilt.block_size == 16
    # a run trained under another Python's library is refused, naming both versions
    then = dict(spec, sha256="0" * 64, corpus=dict(spec["corpus"], python="3.10.0", files=700))
    with pytest.raises(ValueError, match="Python 3.10.0, 700 files then; Python .*, 40 files now"):
        data.check_same_data("ckpt.npz", {"data": then, "tokenizer": {"kind": "byte"}}, ds, spec)
