"""Tests of minplt/data.py: tokenizer, synthetic tasks, scoring, text corpora.

All offline: the one download is replaced by a fake urlopen.
"""

import io
import json
import urllib.error
import urllib.request

import numpy as np
import pytest

from minplt import data
from minplt.data import (IGNORE, PAD, AdditionTask, CharTokenizer, DownloadError, MultiHopTask,
                         ParityTask, SortTask, TASKS, TextDataset, exact_match, load_text,
                         make_task, split_of)

ALL_TASKS = sorted(TASKS)


# -----------------------------------------------------------------------------
# CharTokenizer


def test_tokenizer_sorts_chars_and_round_trips():
    tok = CharTokenizer("hello")
    assert tok.chars == "ehlo" and tok.vocab_size == 4
    ids = tok.encode("hole")
    assert ids.dtype == np.int64 and ids.tolist() == [1, 3, 2, 0]  # e=0 h=1 l=2 o=3
    assert tok.decode(ids) == "hole"
    assert tok.decode(ids.tolist()) == "hole"
    assert tok.encode("").shape == (0,) and tok.decode([]) == ""


def test_tokenizer_round_trip_on_unicode_text():
    text = "Naïve café — “quoted” ß\n\tend 日本"
    tok = CharTokenizer.from_text(text)
    assert tok.decode(tok.encode(text)) == text
    assert tok.vocab_size == len(set(text))


def test_tokenizer_to_dict_from_dict_is_json_round_trip():
    tok = CharTokenizer.from_text("the quick brown fox")
    again = CharTokenizer.from_dict(json.loads(json.dumps(tok.to_dict())))
    assert again == tok
    assert again.encode("fox").tolist() == tok.encode("fox").tolist()
    with pytest.raises(ValueError, match="not a CharTokenizer"):
        CharTokenizer.from_dict({"kind": "bpe"})


def test_tokenizer_unknown_character_message():
    tok = CharTokenizer("abc")
    with pytest.raises(ValueError) as err:
        tok.encode("abzcy")
    message = str(err.value)
    assert "'y'" in message and "'z'" in message  # names the characters
    assert "2 character(s) not in this tokenizer's vocabulary of 3" in message
    assert "from_text" in message  # says what to do


def test_tokenizer_out_of_range_id_message():
    tok = CharTokenizer("abc")
    with pytest.raises(ValueError, match=r"token id 3 is out of range for a vocabulary of 3 \(valid ids are 0..2\)"):
        tok.decode([0, 3])
    with pytest.raises(ValueError, match="-1 marks ignored targets"):
        tok.decode(np.array([1, -1]))


def test_tokenizer_rejects_empty_vocabulary():
    with pytest.raises(ValueError, match="at least one character"):
        CharTokenizer("")


# -----------------------------------------------------------------------------
# Tasks: known answers


def test_multihop_solve_on_hand_made_prompts():
    task = MultiHopTask()
    assert task.solve("a=7;b=a;c=b;c?") == "7"
    assert task.solve("c=b;k=3;b=a;q=k;a=7;z=q;c?") == "7"
    assert task.solve("c=b;k=3;b=a;q=k;a=7;z=q;z?") == "3"
    assert task.solve("x=4;x?") == "4"


@pytest.mark.parametrize("hops, distractors", [(1, 0), (2, 3), (3, 2), (5, 4)])
def test_multihop_examples_are_well_formed(hops, distractors):
    task = MultiHopTask(hops=hops, distractors=distractors)
    rng = np.random.default_rng(0)
    for _ in range(200):
        prompt, answer = task.example(rng)
        *bindings, question = prompt.rstrip("?").split(";")
        names = [b.split("=")[0] for b in bindings]
        assert len(bindings) == hops * (1 + distractors)
        assert len(set(names)) == len(names)  # every variable bound exactly once
        assert answer.isdigit() and len(answer) == 1
        assert task.solve(prompt) == answer
        # the answer really needs `hops` look-ups: count them
        value_of = dict(b.split("=") for b in bindings)
        name, steps = question, 0
        while not name.isdigit():
            name, steps = value_of[name], steps + 1
        assert steps == hops and name == answer
        assert len(prompt + answer) <= task.seq_len


def test_multihop_bindings_are_shuffled():
    # with the bindings in chain order, the defining "x=<digit>" of the asked chain would
    # come first every time; shuffled, it sits anywhere
    task = MultiHopTask(hops=3, distractors=2)
    rng = np.random.default_rng(1)
    positions = set()
    for _ in range(100):
        prompt, answer = task.example(rng)
        *bindings, question = prompt.rstrip("?").split(";")
        chain_start = [i for i, b in enumerate(bindings) if b[2:].isdigit()]
        positions.update(chain_start)
    assert len(positions) > 5


def test_addition_is_correct_over_many_examples():
    for digits, reverse in [(1, True), (3, True), (5, False), (25, True)]:
        task = AdditionTask(digits=digits, reverse_answer=reverse)
        rng = np.random.default_rng(digits)
        for _ in range(500):
            prompt, answer = task.example(rng)
            a, b = prompt.rstrip("=").split("+")
            assert len(a) == len(b) == digits and len(answer) == digits + 1
            total = int(answer[::-1] if reverse else answer)
            assert total == int(a) + int(b)
            assert task.solve(prompt) == answer


def test_addition_known_answers():
    task = AdditionTask(digits=3)
    assert task.solve("123+989=") == "2111"  # 1112, backwards
    assert task.solve("007+040=") == "7400"  # 0047, backwards
    assert AdditionTask(digits=3, reverse_answer=False).solve("123+989=") == "1112"


def test_parity_known_answers_and_examples():
    task = ParityTask(bits=5)
    assert task.solve("10110?") == "1"
    assert task.solve("10010?") == "0"
    assert task.solve("00000?") == "0"
    rng = np.random.default_rng(0)
    for _ in range(300):
        prompt, answer = task.example(rng)
        assert len(prompt) == 6 and prompt.endswith("?") and set(prompt[:-1]) <= {"0", "1"}
        assert answer == str(sum(map(int, prompt[:-1])) % 2)


def test_sort_known_answers_and_examples():
    task = SortTask(length=4)
    assert task.solve("dbca=") == "abcd"
    assert task.solve("baab=") == "aabb"
    rng = np.random.default_rng(0)
    for _ in range(300):
        prompt, answer = task.example(rng)
        letters = prompt.rstrip("=")
        assert len(letters) == 4 and answer == "".join(sorted(letters))


# -----------------------------------------------------------------------------
# Tasks: batches


@pytest.mark.parametrize("name", ALL_TASKS)
@pytest.mark.parametrize("loss_on", ["all", "answer"])
def test_batch_shapes_targets_and_answer_mask(name, loss_on):
    # seq_len longer than needed, so there is padding to check
    task = make_task(name, seq_len=make_task(name).seq_len + 3, loss_on=loss_on)
    B, T = 16, task.seq_len - 1
    x, y, answer_mask = task.get_batch("val", B, np.random.default_rng(0))
    assert x.shape == y.shape == answer_mask.shape == (B, T)
    assert x.dtype == y.dtype == np.int64 and answer_mask.dtype == bool
    assert task.block_size == T

    # get_batch draws its examples with task.sample, one row after another: the same
    # seed gives the same (prompt, answer) pairs, from which we build the rows by hand
    rng = np.random.default_rng(0)
    for b in range(B):
        prompt, answer = task.sample("val", rng)
        # the answer follows the prompt, except in tasks that interleave several
        # answers with their questions (PointerTask): layout() says where each one is
        text, positions = task.layout(prompt, answer)
        line = text + PAD * (task.seq_len - len(text))
        ids = task.tokenizer.encode(line)
        assert task.tokenizer.decode(x[b]) == line[:-1]  # x: the line without its last char
        for t in range(T):
            # the target of position t is character t+1 of the line
            is_answer = t + 1 in positions
            is_pad = t + 1 >= len(text)
            has_target = not is_pad and (loss_on == "all" or is_answer)
            assert y[b, t] == (ids[t + 1] if has_target else IGNORE), (b, t, line)
            assert answer_mask[b, t] == is_answer, (b, t, line)
        assert task.tokenizer.decode(y[b][answer_mask[b]]) == answer
        assert len(answer) == task.answer_len
    # y is x shifted by one wherever it has a target
    shifted = y[:, :-1] != IGNORE
    assert (y[:, :-1][shifted] == x[:, 1:][shifted]).all()


@pytest.mark.parametrize("name", ALL_TASKS)
def test_default_line_fills_seq_len(name):
    # at default settings every line is exactly seq_len long: no wasted padding
    task = make_task(name)
    x, y, answer_mask = task.get_batch("train", 8, np.random.default_rng(0))
    assert (y != IGNORE).all()
    assert answer_mask[:, -1].all()  # the last target is the answer's last character


@pytest.mark.parametrize("name", ALL_TASKS)
def test_train_and_val_never_share_a_prompt(name):
    task = make_task(name)
    rng = np.random.default_rng(0)
    train = {task.sample("train", rng)[0] for _ in range(2000)}
    val = {task.sample("val", rng)[0] for _ in range(500)}
    assert train.isdisjoint(val)
    assert all(split_of(p) == "train" for p in train) and all(split_of(p) == "val" for p in val)
    # get_batch honours the split too
    x, _, _ = task.get_batch("val", 64, rng)
    for row in x:
        line = task.tokenizer.decode(row)
        prompt = line[: max(line.rfind("?"), line.rfind("=")) + 1]  # every prompt ends in "?" or "="
        assert split_of(prompt) == "val", line


def test_split_of_is_a_stable_hash():
    # crc32, not Python's per-process salted hash(): the same on every machine and run
    assert split_of("a=7;b=a;c=b;c?") == split_of("a=7;b=a;c=b;c?")
    prompts = [f"{i}+{i}=" for i in range(5000)]
    fraction_val = np.mean([split_of(p) == "val" for p in prompts])
    assert 0.07 < fraction_val < 0.13


@pytest.mark.parametrize("name", ALL_TASKS)
def test_batches_are_deterministic_given_the_generator(name):
    task = make_task(name)
    a = task.get_batch("train", 8, np.random.default_rng(123))
    b = task.get_batch("train", 8, np.random.default_rng(123))
    for u, v in zip(a, b):
        assert (u == v).all()
    # saving and restoring the generator state resumes the same stream
    rng = np.random.default_rng(7)
    task.get_batch("train", 4, rng)
    state = rng.bit_generator.state
    first = task.get_batch("val", 4, rng)[0]
    rng.bit_generator.state = state
    assert (task.get_batch("val", 4, rng)[0] == first).all()
    # and a different seed gives different data
    c = task.get_batch("train", 8, np.random.default_rng(124))
    assert not (a[0] == c[0]).all()


def test_vocabulary_does_not_depend_on_seed_or_size():
    assert make_task("multihop", hops=1, distractors=0).tokenizer == make_task("multihop", hops=4).tokenizer
    assert make_task("addition", digits=1).tokenizer == make_task("addition", digits=6).tokenizer
    assert make_task("sort", length=2, n_symbols=3).tokenizer == make_task("sort").tokenizer


def test_default_sizes():
    # small enough for a tiny model on a CPU; the numbers quoted in the docstrings
    sizes = {name: (make_task(name).seq_len, make_task(name).vocab_size) for name in TASKS}
    assert sizes == {"multihop": (39, 40), "addition": (12, 13), "parity": (12, 4), "sort": (13, 28),
                     "pointer": (23, 285)}


def test_config_rebuilds_the_task():
    task = make_task("multihop", hops=2, distractors=1, seq_len=20, loss_on="answer")
    again = make_task(task.name, **task.config())
    assert again.config() == task.config()
    assert "MultiHopTask(hops=2" in repr(task)


# -----------------------------------------------------------------------------
# Scoring


def _one_hot_logits(targets, V):
    """(B,T) ids -> (B,T,V) logits whose argmax is that id (IGNORE -> id 0)."""
    logits = np.zeros(targets.shape + (V,))
    np.put_along_axis(logits, np.maximum(targets, 0)[..., None], 1.0, axis=-1)
    return logits


def test_exact_match_with_hand_made_logits():
    task = make_task("addition")
    x, y, answer_mask = task.get_batch("val", 4, np.random.default_rng(0))
    V = task.vocab_size
    logits = _one_hot_logits(y, V)
    assert task.exact_match(logits, y, answer_mask).tolist() == [True] * 4
    assert task.accuracy(logits, y, answer_mask) == 1.0

    # one answer position wrong in row 1 -> that row fails, the others still pass
    t = np.flatnonzero(answer_mask[1])[2]
    logits[1, t] = 0.0
    logits[1, t, (y[1, t] + 1) % V] = 1.0
    assert task.exact_match(logits, y, answer_mask).tolist() == [True, False, True, True]
    assert task.accuracy(logits, y, answer_mask) == 0.75

    # a wrong prediction outside the answer (in the prompt) does not count
    t = np.flatnonzero(~answer_mask[2])[0]
    logits[2, t] = 0.0
    logits[2, t, (y[2, t] + 1) % V] = 1.0
    assert task.exact_match(logits, y, answer_mask).tolist() == [True, False, True, True]


def test_exact_match_checks_shapes():
    with pytest.raises(ValueError, match=r"logits \(B,T,V\)"):
        exact_match(np.zeros((2, 3)), np.zeros((2, 3), int), np.zeros((2, 3), bool))


# -----------------------------------------------------------------------------
# Bad arguments


@pytest.mark.parametrize("name, kwargs, message", [
    ("multihop", {"hops": 0}, "hops must be >= 1, got 0"),
    ("multihop", {"distractors": -1}, "distractors must be >= 0"),
    ("multihop", {"hops": 5, "distractors": 5}, "30 variables are needed"),
    ("multihop", {"hops": 2.5}, "hops must be an integer"),
    ("addition", {"digits": 0}, "digits must be >= 1"),
    ("parity", {"bits": 0}, "bits must be >= 1"),
    ("sort", {"length": 0}, "length must be >= 1"),
    ("sort", {"n_symbols": 27}, "n_symbols must be between 2 and 26"),
    ("parity", {"seq_len": 5}, "seq_len=5 is too short"),
    ("parity", {"loss_on": "prompt"}, "loss_on must be 'all'"),
])
def test_bad_arguments_are_clear_value_errors(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_task(name, **kwargs)


def test_unknown_task_lists_the_valid_names():
    with pytest.raises(ValueError, match="unknown task 'copy'; valid names are: multihop, addition, parity, sort"):
        make_task("copy")


def test_bad_split_and_batch_size():
    task = make_task("parity")
    with pytest.raises(ValueError, match="split must be 'train' or 'val', got 'test'"):
        task.get_batch("test", 4, np.random.default_rng(0))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        task.get_batch("train", 0, np.random.default_rng(0))


def test_task_too_small_to_split_says_so():
    task = ParityTask(bits=1)  # two prompts, "0?" and "1?", neither in the val split
    assert {split_of("0?"), split_of("1?")} == {"train"}
    with pytest.raises(RuntimeError, match="too small to split"):
        task.sample("val", np.random.default_rng(0))


# -----------------------------------------------------------------------------
# Text corpora


def test_pydoc_corpus_is_built_in():
    text = load_text("pydoc")
    assert len(text) > 100_000 and "assert" in text
    assert load_text("pydoc") == text  # same text every time


def _fail_urlopen(*args, **kwargs):
    raise urllib.error.URLError("no network in this test")


def test_shakespeare_offline_message(monkeypatch, tmp_path):
    monkeypatch.setattr(urllib.request, "urlopen", _fail_urlopen)
    monkeypatch.setenv("MINPLT_CACHE", str(tmp_path))
    with pytest.raises(DownloadError) as err:
        load_text("shakespeare")
    assert isinstance(err.value, ConnectionError)
    message = str(err.value)
    assert "could not download" in message and "no network in this test" in message
    assert "opt-in" in message
    assert "--data pydoc" in message and "--data path/to/file.txt" in message
    assert list(tmp_path.iterdir()) == []  # nothing half-written left behind


def test_shakespeare_download_is_cached(monkeypatch, tmp_path):
    calls = []

    def fake_urlopen(url, timeout=None):
        calls.append((url, timeout))
        return io.BytesIO("First Citizen:\nBefore we proceed any further, hear me speak.\n".encode())

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    cache = tmp_path / "cache"
    text = load_text("shakespeare", cache_dir=cache)
    assert text.startswith("First Citizen:")
    assert calls == [(data.SHAKESPEARE_URL, 30.0)]  # with a timeout
    assert [p.name for p in cache.iterdir()] == [data.SHAKESPEARE_FILE]  # no temp file left

    # second call: read from the cache, the network is not touched
    monkeypatch.setattr(urllib.request, "urlopen", _fail_urlopen)
    assert load_text("shakespeare", cache_dir=cache) == text


def test_user_text_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("héllo wörld\n" * 50, encoding="utf-8")
    text = load_text(str(path))
    assert text == "héllo wörld\n" * 50


def test_missing_and_empty_files(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match=r"nope.txt' does not exist.*'pydoc'.*'shakespeare'.*UTF-8 text file"):
        load_text(str(missing))
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty.txt' is empty"):
        load_text(str(empty))
    with pytest.raises(FileNotFoundError, match="is a folder"):
        load_text(str(tmp_path))


def test_text_dataset_batches():
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))  # abc...zabc...
    ds = TextDataset(text, block_size=8, val_fraction=0.1)
    assert ds.vocab_size == 26 and ds.block_size == 8
    assert len(ds.splits["train"]) == 900 and len(ds.splits["val"]) == 100
    x, y, mask = ds.get_batch("train", 5, np.random.default_rng(0))
    assert x.shape == y.shape == (5, 8) and x.dtype == y.dtype == np.int64 and mask is None
    assert (x[:, 1:] == y[:, :-1]).all()  # y is x shifted by one
    assert ((y - x) % 26 == 1).all()  # in this text, every next character is the next letter
    # val windows come from the tail only
    xv, yv, _ = ds.get_batch("val", 50, np.random.default_rng(0))
    val_text = text[900:]
    for row_x, row_y in zip(xv, yv):
        window = ds.tokenizer.decode(np.append(row_x, row_y[-1]))
        assert window in val_text
    # deterministic given the generator
    assert (ds.get_batch("train", 5, np.random.default_rng(0))[0] == x).all()


def test_text_dataset_on_pydoc():
    ds = TextDataset(load_text("pydoc"), block_size=64)
    x, y, _ = ds.get_batch("val", 4, np.random.default_rng(0))
    assert x.shape == (4, 64) and (x[:, 1:] == y[:, :-1]).all()


def test_text_dataset_errors():
    with pytest.raises(ValueError, match="too short for block_size=64"):
        TextDataset("a short text", block_size=64)
    with pytest.raises(ValueError, match="cannot encode 1 character"):
        TextDataset("abcabc!" * 100, block_size=4, tokenizer=CharTokenizer("abc"))
    with pytest.raises(ValueError, match="val_fraction must be between 0 and 1"):
        TextDataset("abc" * 100, block_size=4, val_fraction=0.0)
