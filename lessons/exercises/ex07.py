"""Checks for lesson 07's exercises (test-time compute on pointer chasing).

Each check computes its right answer itself, from minplt: the fillers a CLP row gets
(experiments.fillers_for), the task's own solver (data.PointerTask.solve), the family
of a one-loop config (model.Config.family) and the doubling bound.
"""
import dataclasses

import numpy as np

from exercises import call, check_choice, check_number, right, unanswered, wrong
from minplt import data, experiments, model


def check_fillers_needed(answer):
    """Exercise 1: filler positions before each answer for plt-3 on 3-hop questions."""
    # the project gives a CLP row with L loops L - 1 fillers; the diagonal argument says a
    # question of n hops needs n - 1: for plt-3 on 3 hops both give the same number
    expected = experiments.fillers_for("plt-3", experiments.SETTINGS)
    return check_number(answer, expected, "fillers before each answer of plt-3 at 3 hops",
                        hint="follow the diagonal: each position before the answer adds "
                             "one loop's look-up, and the question's own position does the "
                             "first hop")


def check_follow(follow):
    """Exercise 2: a function prompt -> answers, against data.PointerTask.solve."""
    if unanswered(follow, "your function follow"):
        return False
    rng = np.random.default_rng(7)
    for hops in (1, 2, 3):
        task = data.PointerTask(hops=hops, nodes=10, queries=5)
        for _ in range(20):
            prompt, expected = task.sample("val", rng)
            ok, got = call(follow, prompt)
            if not ok:
                return wrong(f"follow({prompt!r}) raised {got}")
            if got != expected:
                return wrong(f"follow({prompt!r}) gave {got!r}, expected {expected!r}",
                             "the number before ':' is the hops; each character of the "
                             "table is data.PointerTask.unpointer(c) = (source, target)")
    return right("follow answers 60 prompts of 1, 2 and 3 hops as PointerTask.solve does")


def check_one_loop(answer):
    """Exercise 3: the row whose function loop-2 with one loop computes."""
    one_loop = dataclasses.replace(model.make_config("loop-2"), n_loops=1)
    return check_choice(answer, one_loop.family, ["vanilla", "loop-2", "plt-2"],
                        "loop-2 run with one loop is",
                        "One pass of the same one-block stack: vanilla's architecture. Its "
                        "weights differ: loop-2's block learned to be run twice, so with "
                        "one loop its first pass is cut short where it expects a second.",
                        hint="what does model.Config call a config with n_loops = 1?")


def check_doubling(answer):
    """Exercise 4: the most hops 4 blocks reach by pointer doubling."""
    blocks = 4
    expected = sum(2 ** j for j in range(blocks))        # 1 + 2 + 4 + 8
    return check_number(answer, expected, f"hops reachable by {blocks} blocks with doubling",
                        hint="block 1 follows 1 pointer from the question; block j follows "
                             "a pointer of 2^(j-1) hops")
