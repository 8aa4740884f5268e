"""Tests of `python -m minplt hops` (minplt/hops.py): scoring at each depth, the
summary over seeds and what is read from it, and the command end to end."""
import dataclasses
import json
import string
from pathlib import Path

import numpy as np
import pytest

from minplt import experiments as ex
from minplt import hops, model
from minplt.data import PointerTask


def test_with_hops_fixes_the_depth_and_keeps_the_line_length():
    task = PointerTask(hops=3, min_hops=1, nodes=8, queries=3, think=1)
    for k in (1, 2, 3):
        at_k = task.with_hops(k)
        assert (at_k.hops, at_k.min_hops, at_k.seq_len, at_k.think) == (k, k, task.seq_len, 1)
        rng = np.random.default_rng(k)
        for _ in range(20):
            prompt, answer = at_k.sample("val", rng)
            assert prompt.startswith(f"{k}:") and at_k.solve(prompt) == answer


def oracle_forward(task, wrong_from_hops=None):
    """A stand-in for model.forward that reads each line and answers every question
    right (or, from `wrong_from_hops` hops on, answers with the question itself)."""
    letters = string.ascii_lowercase

    def forward(params, cfg, x, targets=None):
        B, T = x.shape
        logits = np.zeros((B, T, task.vocab_size))
        for b in range(B):
            text = task.tokenizer.decode(x[b])
            head, _ = text.split("|")
            k, table = int(head.split(":")[0]), head.split(":")[1]
            following = dict(task.unpointer(c) for c in table)
            start = len(head) + 1
            for j in range(task.queries):
                question = text[start + j * (2 + task.think)]
                answer = question
                if wrong_from_hops is None or k < wrong_from_hops:
                    for _ in range(k):
                        answer = following[answer]
                t = start + j * (2 + task.think) + task.think  # predicts the answer
                logits[b, t, task.tokenizer.encode(answer)[0]] = 10.0
        return logits, None, None
    return forward


def test_score_by_hops_gives_100_for_an_oracle_and_0_where_it_fails(monkeypatch):
    task = PointerTask(hops=3, min_hops=1, nodes=8, queries=3, think=1, loss_on="answer")
    monkeypatch.setattr(hops.model, "forward", oracle_forward(task))
    assert hops.score_by_hops(None, None, task, 32) == {1: (1.0, 1.0), 2: (1.0, 1.0), 3: (1.0, 1.0)}
    monkeypatch.setattr(hops.model, "forward", oracle_forward(task, wrong_from_hops=3))
    assert hops.score_by_hops(None, None, task, 32) == {1: (1.0, 1.0), 2: (1.0, 1.0), 3: (0.0, 0.0)}


def test_an_untrained_model_scores_near_guessing_at_every_depth():
    task = PointerTask(hops=2, min_hops=1, nodes=8, queries=4, loss_on="answer")
    cfg = model.Config(vocab_size=task.vocab_size, block_size=task.block_size, n_embd=16,
                       n_head=2, d_ff=16, n_layer=1)
    scores = hops.score_by_hops(model.init_params(cfg, seed=0), cfg, task, 64)
    assert set(scores) == {1, 2}
    for answers, lines in scores.values():
        assert 0 <= lines <= answers < 0.35      # one of 8 letters: ~12%


def record(row, seed, answers, experiment="depth", fillers=0):
    return dict(experiment=experiment, row=row, fillers=fillers, seed=seed, params=100,
                seconds=1.0, n_layer=1, n_loops=1, answers={str(k + 1): a for k, a in enumerate(answers)},
                lines={str(k + 1): a ** 5 for k, a in enumerate(answers)}, curve=[])


def test_summary_over_seeds_and_the_depth_each_model_solves():
    records = [record("vanilla", 0, [1.0, 0.2, 0.1]), record("vanilla", 1, [0.98, 0.3, 0.1]),
               record("loop-2", 0, [1.0, 0.95, 0.5]), record("loop-2", 1, [1.0, 0.97, 0.9]),
               record("plt-3", 0, [1.0, 0.5, 0.2], "thinking", 1)]
    rows = hops.summarize(records)
    by = {(r["row"], r["fillers"]): r for r in rows}
    assert by["vanilla", 0]["answers"] == pytest.approx([0.99, 0.25, 0.1])
    assert by["vanilla", 0]["answers_std"][0] == pytest.approx(np.std([1.0, 0.98], ddof=1))
    assert by["loop-2", 0]["seeds"] == 2 and by["plt-3", 1]["answers_std"] == [0, 0, 0]
    assert [hops.solved_up_to(by[key]) for key in by] == [1, 2, 1]
    # a gap at k=1 stops the count even if deeper hops are solved
    assert hops.solved_up_to(dict(hops=[1, 2], answers=[0.5, 1.0])) == 0
    lines = hops.findings(rows)
    assert "vanilla (1 block(s) x 1 loop(s)) solves up to 1 hop(s); 25.0% at 2 hop(s)" in lines
    assert "plt-3 with 1 filler(s) solves up to 1 hop(s); 50.0% at 2 hop(s)" in lines


def test_rows_of_plain_stacks_and_variants():
    assert ex.parse_row("vanilla-3x") == ("vanilla", 3)
    assert ex.parse_row("loop-3") == ("loop-3", 1)
    assert ex.parse_row("vanilla-2x") == ("vanilla", 2)
    task = PointerTask(loss_on="answer")
    cfg = ex.row_config("vanilla-3x", task, hops.SETTINGS)
    assert (cfg.n_layer, cfg.n_loops, cfg.n_embd) == (3, 1, 64)
    with pytest.raises(ValueError, match="unknown row 'loop-3y'"):
        ex.parse_row("loop-3y")


def test_hops_command_quick_writes_tables_and_figures(tmp_path, capsys):
    from minplt import cli
    out = tmp_path / "hops"
    assert cli.main(["hops", "--quick", "--out", str(out)]) == 0
    report = json.loads((out / "results.json").read_text())
    assert len(report["runs"]) == len(hops.cells())
    text = (out / "results.md").read_text()
    assert "**Depth: accuracy against hops**" in text and "**Thinking positions: filler" in text
    assert (out / "accuracy_vs_hops.png").stat().st_size > 0
    assert (out / "thinking.png").stat().st_size > 0
    # the README's copies are drawn from the same JSON
    from visualizations import render_all
    drawn = render_all.render_hops(out / "results.json", tmp_path / "figures")
    assert sorted(p.name for p in drawn) == ["accuracy_vs_hops.png", "hops_curves.png", "thinking.png"]
    assert (out / "curves.png").stat().st_size > 0


def test_hops_runs_keep_checkpoints_and_resume_reuses_them(tmp_path, capsys):
    from minplt import cli
    out = str(tmp_path / "hops")
    argv = ["hops", "--quick", "--experiment", "thinking", "--out", out]
    assert cli.main(argv) == 0
    first = json.loads((tmp_path / "hops" / "results.json").read_text())["runs"]
    assert (tmp_path / "hops" / "runs" / "plt-3+2-fillers" / "ckpt.npz").exists()
    # again without a flag: refused before any work
    assert cli.main(argv) == 2
    assert "already holds trained models" in capsys.readouterr().err
    # --resume reloads the finished runs: the same records
    assert cli.main(argv + ["--resume"]) == 0
    again = json.loads((tmp_path / "hops" / "results.json").read_text())["runs"]
    strip = lambda runs: [{k: v for k, v in r.items() if k != "seconds"} for r in runs]
    assert strip(again) == strip(first)


@pytest.mark.parametrize("argv, message", [
    (["--seeds", "0"], "--seeds must be >= 1"),
    (["--hops", "0"], "hops must be"),
])
def test_hops_command_bad_arguments_say_what_to_do(tmp_path, capsys, argv, message):
    from minplt import cli
    assert cli.main(["hops", "--quick", "--out", str(tmp_path / "h"), *argv]) != 0
    assert message in capsys.readouterr().err


def test_a_curriculum_raises_the_deepest_questions_stage_by_stage():
    task = PointerTask(hops=4, min_hops=1, nodes=8, queries=3, stages=(2, 3, 4))
    rng = np.random.default_rng(0)
    for step, deepest in ((0, 2), (2, 2), (3, 3), (5, 3), (6, 4), (8, 4)):
        stage = task.at_step(step, 9)                   # 9 steps: three stages of three
        assert (stage.hops, stage.min_hops, stage.seq_len) == (deepest, 1, task.seq_len)
        depths = {int(stage.sample("train", rng)[0].split(":")[0]) for _ in range(200)}
        assert depths == set(range(1, deepest + 1))
    assert PointerTask(hops=3).at_step(5, 9) is not None           # no stages: itself
    rebuilt = PointerTask(**{k: v for k, v in task.config().items()})
    assert rebuilt.stages == (2, 3, 4) and rebuilt.config() == task.config()


@pytest.mark.parametrize("stages, message", [
    ((3, 2, 4), "must rise to hops=4"),
    ((2, 3), "must rise to hops=4"),
    ((0, 4), "a curriculum stage"),
])
def test_curriculum_stages_that_do_not_rise_to_hops_are_refused(stages, message):
    with pytest.raises(ValueError, match=message):
        PointerTask(hops=4, min_hops=1, stages=stages)


def test_training_draws_each_step_from_the_curriculum():
    from minplt import train as trainlib

    class Recording(PointerTask):
        calls = []

        def at_step(self, step, total_steps):
            self.calls.append((step, total_steps))
            return super().at_step(step, total_steps)

    task = Recording(hops=2, min_hops=1, nodes=5, queries=2, stages=(1, 2), loss_on="answer")
    cfg = model.Config(vocab_size=task.vocab_size, block_size=task.block_size, n_embd=16,
                       n_head=2, d_ff=8, n_layer=1)
    trainlib.train(cfg, task, trainlib.TrainSettings(steps=4, batch_size=2, eval_every=4,
                                                     log_every=4), log=lambda line: None)
    assert Recording.calls == [(0, 4), (1, 4), (2, 4), (3, 4)]


def test_staircase_command_quick_writes_its_table_and_figure(tmp_path, capsys):
    from minplt import cli
    out = tmp_path / "stairs"
    assert cli.main(["hops", "--experiment", "staircase", "--quick", "--out", str(out)]) == 0
    report = json.loads((out / "results.json").read_text())
    assert [r["row"] for r in report["rows"]] == list(hops.STAIR_ROWS)
    assert report["task"]["stages"] == [2, 3]
    text = (out / "results.md").read_text()
    assert "**Staircase: 1..3 hops with a curriculum**" in text
    assert "with a curriculum (the deepest questions rise 2 -> 3" in text
    assert "loop-4 (1 block(s) x 4 loop(s), curriculum) solves up to" in text
    assert (out / "staircase.png").stat().st_size > 0
    from visualizations import render_all
    drawn = render_all.render_hops(out / "results.json", tmp_path / "figures")
    assert sorted(p.name for p in drawn) == ["staircase.png", "staircase_curves.png"]


def test_looped_against_stacked_names_each_count_and_which_is_worse():
    """The parameter counts follow their rows, and the difference is signed."""
    def row(name, params, answers):
        return dict(experiment="depth", row=name, fillers=0, seeds=1, params=params,
                    n_layer=1, n_loops=1, hops=[1, 2, 3], answers=answers)
    loop2 = row("loop-2", 56_128, [1.0, 1.0, 0.94])
    stack2 = row("vanilla-2x", 75_712, [1.0, 1.0, 0.90])
    lines = hops.findings([loop2, stack2])
    assert ("loop-2 (56,128 parameters) against vanilla-2x (75,712): loop-2 is 4.0 points "
            "per answer above it at 3 hop(s), the largest difference") in lines
    # worse at 2 hops by more than it is better at 3: 'below', at 2 hops
    loop3 = row("loop-3", 56_128, [1.0, 0.70, 0.95])
    stack3 = row("vanilla-3x", 95_296, [1.0, 0.95, 0.90])
    assert hops.compare(loop3, stack3) == (
        "loop-3 (56,128 parameters) against vanilla-3x (95,296): loop-3 is 25.0 points per "
        "answer below it at 2 hop(s), the largest difference")
    assert hops.compare(loop2, loop2).endswith("equal at every depth, to 0.1 point per answer")


# ----------------------------------------------------------------------------------------
# Lesson 07 loads lessons/results/07_hops.json, written by
#   python -m minplt hops --experiment lesson --out out/hops-lesson
# (its results.json). It must be current: made with the settings and cells the code
# defines now, summarized as summarize() does now, and reproducible by the code.

LESSON_JSON = Path(__file__).resolve().parent.parent / "lessons" / "results" / "07_hops.json"


def lesson_results():
    return json.loads(LESSON_JSON.read_text())


def test_lesson_results_are_current_in_form():
    report = lesson_results()
    s = hops.LESSON
    # how often a run saves a checkpoint does not change what it learns (a resumed run
    # repeats the uninterrupted one bit for bit): a file written before the setting
    # existed is still current
    current = json.loads(json.dumps(dataclasses.asdict(s)))
    recorded = {"checkpoints": current["checkpoints"], **report["settings"]}
    assert recorded == current, (
        "hops.LESSON changed since lessons/results/07_hops.json was written: rerun "
        "python -m minplt hops --experiment lesson and copy its results.json there")
    assert report["task"] == dict(name="pointer", **ex.make_task(s).config())
    cells = {(r["experiment"], r["row"], r["fillers"]) for r in report["runs"]}
    assert cells == set(hops.LESSON_CELLS)
    assert sorted((r["row"], r["fillers"], r["seed"]) for r in report["runs"]) == sorted(
        (row, fillers, seed) for _, row, fillers in hops.LESSON_CELLS for seed in s.seeds)
    for run in report["runs"]:
        assert set(run["answers"]) == {str(k) for k in range(1, s.task_kwargs["hops"] + 1)}
        assert [step for step, _ in run["curve"]] == list(range(
            s.train.eval_every, s.train.steps + 1, s.train.eval_every))
        assert [step for step, _ in run["first_losses"]] == list(range(
            hops.FIRST_EVERY, hops.FIRST_STEPS + 1, hops.FIRST_EVERY))
    assert report["rows"] == json.loads(json.dumps(hops.summarize(report["runs"])))


def test_lesson_results_are_what_the_code_gives():
    """The cheapest cell (vanilla), seed 0, trained for its first hundred steps: the losses
    its record kept. (Not the first evaluation at step 500: another CPU rounds otherwise,
    and by then the runs have parted; hops.first_losses says more.)"""
    recorded = next(r for r in lesson_results()["runs"]
                    if (r["row"], r["fillers"], r["seed"]) == ("vanilla", 0, 0))
    again = hops.first_losses(hops.Cell("depth", "vanilla", 0), hops.LESSON, 0)
    assert [step for step, _ in again] == [step for step, _ in recorded["first_losses"]]
    assert [loss for _, loss in again] == pytest.approx(
        [loss for _, loss in recorded["first_losses"]], rel=1e-5)


def test_first_losses_stop_after_the_first_steps():
    s = hops.QUICK.replace(train=hops.QUICK.train.replace(steps=200))
    losses = hops.first_losses(hops.Cell("depth", "vanilla", 0), s, 0)
    assert [step for step, _ in losses] == list(range(hops.FIRST_EVERY, hops.FIRST_STEPS + 1,
                                                      hops.FIRST_EVERY))
    assert all(np.isfinite(loss) and loss > 0 for _, loss in losses)
    s = hops.QUICK                                       # fewer steps than FIRST_STEPS
    assert [step for step, _ in hops.first_losses(hops.Cell("depth", "vanilla", 0), s, 0)] \
        == [s.train.steps]


def test_lesson_command_quick_trains_the_lesson_cells(tmp_path, capsys):
    from minplt import cli
    out = tmp_path / "lesson"
    assert cli.main(["hops", "--experiment", "lesson", "--quick", "--out", str(out)]) == 0
    report = json.loads((out / "results.json").read_text())
    assert sorted((r["experiment"], r["row"], r["fillers"]) for r in report["runs"]) == \
        sorted(hops.LESSON_CELLS)
    text = (out / "results.md").read_text()
    assert "scored on 16 lines" in text and "one seed" in text and "| 1 hop | 2 hops |" in text
    assert (out / "thinking.png").stat().st_size > 0
