"""Every lesson's exercises: each check accepts its worked solution and refuses a mistake.

`lessons/exercises/exNN.py` holds the `check_...` functions of lesson NN and
`lessons/solutions/exNN.py` their worked solutions, with the two tables SOLUTIONS (a right
answer for every check) and WRONG (a plausible wrong answer for every check). A check
that accepted anything would pass a learner who is wrong, so both are run.
"""
import importlib
import inspect
import re
import sys
from pathlib import Path

import pytest

LESSONS = Path(__file__).resolve().parent.parent / "lessons"
if str(LESSONS) not in sys.path:
    sys.path.insert(0, str(LESSONS))

SOURCES = sorted(LESSONS.glob("[0-9][0-9]_*.py"))
NUMBERS = [p.name[:2] for p in SOURCES]


def checks_of(number):
    module = importlib.import_module(f"exercises.ex{number}")
    return {name: fn for name, fn in inspect.getmembers(module, inspect.isfunction)
            if name.startswith("check_") and fn.__module__ == module.__name__}


def solutions_of(number):
    return importlib.import_module(f"solutions.ex{number}")


@pytest.mark.parametrize("number", NUMBERS)
def test_every_lesson_has_two_to_four_exercises(number):
    assert (LESSONS / "exercises" / f"ex{number}.py").exists(), (
        f"lesson {number} has no exercises/ex{number}.py with its checks")
    checks = checks_of(number)
    assert 2 <= len(checks) <= 4, f"lesson {number}: {len(checks)} checks, expected 2-4"
    source = next(p for p in SOURCES if p.name.startswith(number)).read_text()
    unused = [name for name in checks if not re.search(rf"\b{name}\(", source)]
    assert not unused, f"lesson {number} never calls {unused}"


@pytest.mark.parametrize("number", NUMBERS)
def test_solutions_pass_and_mistakes_fail(number, capsys):
    checks, solved = checks_of(number), solutions_of(number)
    assert set(solved.SOLUTIONS) == set(checks), (
        f"solutions/ex{number}.py answers {sorted(solved.SOLUTIONS)}, checks are {sorted(checks)}")
    assert set(solved.WRONG) == set(checks), (
        f"solutions/ex{number}.py has wrong answers for {sorted(solved.WRONG)}, checks are "
        f"{sorted(checks)}")
    for name, check in checks.items():
        assert check(solved.SOLUTIONS[name]) is True, (
            f"{name} refused its worked solution:\n{capsys.readouterr().out}")
        assert "✓ right" in capsys.readouterr().out
        assert check(solved.WRONG[name]) is False, f"{name} accepted a wrong answer"
        assert "✗ not yet" in capsys.readouterr().out
        assert check(None) is False, f"{name} accepted the unanswered placeholder"
        assert "not answered yet" in capsys.readouterr().out
