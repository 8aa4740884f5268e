"""Tests of the pointer-chasing task (data.PointerTask): the reasoning task whose
difficulty is a number of hops, with several questions and answers per line.

What they pin down: the generator is deterministic; solve() and the generated answers
agree with answers worked out by hand; the line puts every answer right after its
question (and its thinking fillers), with a target and an answer-mask entry of its own;
a model that guesses scores near chance and one that knows the answers scores 100%.
"""

import string

import numpy as np
import pytest

from minplt import data
from minplt.data import IGNORE, PAD, PointerTask, answer_token_accuracy, exact_match, make_task

P = PointerTask.pointer  # P('a', 'c') is the one character for the pointer a -> c


def hand_made_prompt(hops: int, questions: str) -> str:
    """Five nodes on the cycle a -> c -> e -> b -> d -> a, table in a scrambled order."""
    table = P("e", "b") + P("a", "c") + P("d", "a") + P("c", "e") + P("b", "d")
    return f"{hops}:{table}|{questions}"


# -----------------------------------------------------------------------------
# Answers


@pytest.mark.parametrize("hops, questions, answer", [
    (1, "abe", "cdb"),      # one pointer each: a -> c, b -> d, e -> b
    (2, "abe", "ead"),      # a -> c -> e, b -> d -> a, e -> b -> d
    (3, "a", "b"),          # a -> c -> e -> b
    (4, "cd", "ab"),        # c -> e -> b -> d -> a, d -> a -> c -> e -> b
])
def test_solve_on_hand_made_prompts(hops, questions, answer):
    task = PointerTask(hops=4, nodes=5, queries=3)
    assert task.solve(hand_made_prompt(hops, questions)) == answer


def test_pointer_characters_round_trip_and_are_distinct():
    letters = string.ascii_lowercase[: PointerTask.MAX_NODES]
    chars = {P(x, y) for x in letters for y in letters}
    assert len(chars) == PointerTask.MAX_NODES ** 2
    assert all(PointerTask.unpointer(P(x, y)) == (x, y) for x in letters for y in letters)
    # no pointer character is also a letter, digit or separator of the task
    assert not chars & set(letters + string.digits + ":|_" + PAD)


@pytest.mark.parametrize("kwargs", [dict(), dict(nodes=5, queries=5, hops=4),
                                    dict(nodes=12, queries=3, hops=2, min_hops=1, think=2)])
def test_examples_are_well_formed_and_solved(kwargs):
    task = PointerTask(**kwargs)
    rng = np.random.default_rng(0)
    letters = string.ascii_lowercase[: task.nodes]
    seen_hops = set()
    for _ in range(200):
        prompt, answer = task.example(rng)
        assert task.solve(prompt) == answer
        head, questions = prompt.split("|")
        hops, table = head.split(":")
        seen_hops.add(int(hops))
        following = dict(PointerTask.unpointer(c) for c in table)
        # one pointer out of and one into every node ...
        assert sorted(following) == sorted(following.values()) == sorted(letters)
        # ... forming one cycle through all of them
        node, visited = "a", set()
        while node not in visited:
            visited.add(node)
            node = following[node]
        assert len(visited) == task.nodes
        # distinct questions, and (fewer hops than nodes) no answer is its own question
        assert len(set(questions)) == len(questions) == task.queries
        assert all(q != a for q, a in zip(questions, answer))
    assert seen_hops == set(range(task.min_hops, task.hops + 1))


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="nodes must be between 3 and 16"):
        PointerTask(nodes=17)
    with pytest.raises(ValueError, match="hops must be between 1 and 4"):
        PointerTask(nodes=5, hops=5, queries=2)
    with pytest.raises(ValueError, match="queries must be between 1 and 5"):
        PointerTask(nodes=5, queries=6)
    with pytest.raises(ValueError, match="min_hops must be between 1 and 2"):
        PointerTask(hops=2, min_hops=3)
    with pytest.raises(ValueError, match="think must be an integer"):
        PointerTask(think=1.5)


# -----------------------------------------------------------------------------
# The line: answers interleaved with their questions


def test_layout_puts_each_answer_after_its_question_and_fillers():
    task = PointerTask(hops=2, nodes=5, queries=3, think=2)
    prompt = hand_made_prompt(2, "abe")
    line, positions = task.layout(prompt, "ead")
    table = prompt.split("|")[0]
    assert line == table + "|a__eb__ae__d"
    assert [line[p] for p in positions] == list("ead")
    assert len(line) == task.seq_len  # the constructor's length is the real one


@pytest.mark.parametrize("loss_on", ["all", "answer"])
def test_batch_targets_and_answer_mask(loss_on):
    task = PointerTask(hops=3, min_hops=1, think=1, loss_on=loss_on, seq_len=PointerTask(think=1).seq_len + 2)
    x, y, answer_mask = task.get_batch("train", 8, np.random.default_rng(3))
    T = task.seq_len - 1
    assert x.shape == y.shape == answer_mask.shape == (8, T)
    rng = np.random.default_rng(3)  # get_batch draws with task.sample, row by row
    for b in range(8):
        prompt, answer = task.sample("train", rng)
        line, positions = task.layout(prompt, answer)
        assert task.tokenizer.decode(x[b]) == (line + PAD * (task.seq_len - len(line)))[:-1]
        targets = np.asarray(positions) - 1             # position t predicts character t+1
        assert np.flatnonzero(answer_mask[b]).tolist() == targets.tolist()
        assert task.tokenizer.decode(y[b][answer_mask[b]]) == answer
        has_target = np.zeros(T, dtype=bool)
        has_target[targets] = True
        if loss_on == "all":
            has_target[: len(line) - 1] = True
        assert ((y[b] != IGNORE) == has_target).all()
        assert (y[b, : T - 1][has_target[: T - 1]] == x[b, 1:][has_target[: T - 1]]).all()


def test_same_seed_same_batches_other_seed_other_batches():
    task = make_task("pointer", hops=3, min_hops=1, think=1)
    first = task.get_batch("train", 16, np.random.default_rng(7))
    again = make_task("pointer", **task.config()).get_batch("train", 16, np.random.default_rng(7))
    other = task.get_batch("train", 16, np.random.default_rng(8))
    for a, b in zip(first, again):
        assert np.array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


def test_registered_by_name_and_splits_are_disjoint():
    assert isinstance(make_task("pointer"), PointerTask)
    task = make_task("pointer", nodes=5, queries=2)
    rng = np.random.default_rng(0)
    train = {task.sample("train", rng)[0] for _ in range(1000)}
    val = {task.sample("val", rng)[0] for _ in range(300)}
    assert train and val and not train & val


# -----------------------------------------------------------------------------
# Scoring: chance and perfect models


def test_guessing_model_scores_near_chance_and_oracle_scores_100():
    task = PointerTask(hops=2, nodes=8, queries=4)
    x, y, answer_mask = task.get_batch("val", 512, np.random.default_rng(0))
    B, T, V = *x.shape, task.vocab_size
    rng = np.random.default_rng(1)

    # random logits over the node letters only: each answer is right with p = 1/8
    letters = task.tokenizer.encode(string.ascii_lowercase[: task.nodes])
    guess = np.full((B, T, V), -1e9)
    guess[:, :, letters] = rng.normal(size=(B, T, task.nodes))
    per_answer = answer_token_accuracy(guess, y, answer_mask)
    assert abs(per_answer - 1 / 8) < 0.03               # 2048 answers: std ~0.007
    assert task.accuracy(guess, y, answer_mask) < 0.01  # all 4 right: (1/8)**4

    # logits that put the answer first: every line exactly right
    oracle = rng.normal(size=(B, T, V))
    rows, cols = np.nonzero(y != IGNORE)
    oracle[rows, cols, y[rows, cols]] = 100.0
    assert task.accuracy(oracle, y, answer_mask) == 1.0
    assert answer_token_accuracy(oracle, y, answer_mask) == 1.0

    # one wrong answer in a line fails that line only, and one answer of 4 * B
    t = np.flatnonzero(answer_mask[5])[2]
    oracle[5, t, y[5, t]] = -100.0
    assert exact_match(oracle, y, answer_mask).sum() == B - 1
    assert answer_token_accuracy(oracle, y, answer_mask) == 1 - 1 / (4 * B)


def test_answer_token_accuracy_needs_answers():
    with pytest.raises(ValueError, match="at least one answer position"):
        answer_token_accuracy(np.zeros((1, 3, 4)), np.zeros((1, 3), int), np.zeros((1, 3), bool))


def test_gloss_writes_the_table_in_arrows():
    prompt = hand_made_prompt(2, "abe")
    assert PointerTask(nodes=5, queries=3).gloss(prompt) == "a->c b->d c->e d->a e->b"
